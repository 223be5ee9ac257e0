"""kwsdk's voice activity detector against webrtcvad and a clean-speech reference.

For --clips speech clips of --data (keyword and _unknown_ folders, evenly
spaced through the path-sorted list) it builds, per SNR, one utterance: --pad
(0.5 s) of background noise, the clip mixed with noise, --pad of noise. The noise is
one _background_noise_ file (file and start chosen by a seeded rng per clip,
the same segment at every SNR), scaled so that speech power / noise power is
the SNR; speech power is the clip's mean power over its truth frames (below).
Detectors, all on the same 20 ms frames: kwsdk's integer VAD (IntegerFrontend
+ IntVad, default preset, VadConfig defaults, and hysteresis 0.1 s and 0.2 s),
its float reference (FloatVad), FloatVad with other level weights instead
of kwsdk's flat 300-3400 Hz band (ELL's: C-message gain at channel
i * 4000 / N Hz; and the C-message gain at each channel's true centre) and
webrtcvad modes 1-3. Frontend frame t ends at sample 320 (t + 1); webrtcvad
frame t is samples [320 t, 320 (t + 1)). Every detector starts from a reset
state on each utterance; frames in the first --warmup-ms are not scored
(webrtcvad reports speech on its first 4-5 frames whatever the input).

Truth: frame t is speech when the clean clip's energy in samples
[320 t, 320 (t + 1)) of the utterance is within 30 dB of its loudest frame's.

Per SNR and detector: fraction of frames equal to each webrtcvad mode's and to
the truth; speech onset and offset error (first and last active frame against
the reference's; median and 90th percentile of |error| in ms, over clips where
both find speech) against webrtcvad --ref-mode and against the truth, and the
number of clips left out because one of the two (or both) finds no speech.

    .venv/bin/python benchmarks/vad_vs_webrtc.py [--data DIR] [--clips N] [--snr 0 10 20] [--pad S] [--json]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np
import webrtcvad

from _common import add_data_arg, load_data, print_table, speech_clips
from kwsdk.config import VadConfig, feature_preset
from kwsdk.frontend.features import Frontend
from kwsdk.codegen.cfrontend import HostIntegerFrontend
from kwsdk.audio import to_pcm16
from kwsdk.frontend.vad import FloatVad, IntVad, channel_centres

TRUTH_DB = 30.0
HYSTERESIS = (0.0, 0.1, 0.2)
WEBRTC_MODES = (1, 2, 3)
MIN_FLOAT_INT_AGREEMENT = 0.99  # the integer VAD is meant to track its float reference


# C-message weighting (IEEE 743), dB at Hz; -60 dB outside the table.
C_MESSAGE = [(60, -55.7), (100, -42.5), (200, -25.1), (300, -16.3), (400, -11.2), (500, -7.7),
             (600, -5.0), (700, -2.8), (800, -1.3), (900, -0.3), (1000, 0.0), (1200, -0.4),
             (1300, -0.7), (1500, -1.2), (1800, -1.3), (2000, -1.1), (2500, -1.1), (2800, -2.0),
             (3000, -3.0), (3300, -5.2), (3500, -7.1), (4000, -14.6), (4500, -22.3), (5000, -28.7)]


def c_message_weights(cfg, freqs: np.ndarray) -> np.ndarray:
    """C-message gains at freqs (power or amplitude, as the spectrum), normalised to sum 1."""
    f, db = np.array(C_MESSAGE).T
    inside = (freqs >= f[0]) & (freqs <= f[-1])
    gain_db = np.where(inside, np.interp(np.log(np.maximum(freqs, 1.0)), np.log(f), db), -60.0)
    w = 10.0 ** (gain_db / (10.0 if cfg.spectrum == "power" else 20.0))
    return w / w.sum()


def alternative_weights(cfg) -> dict[str, np.ndarray]:
    """The level weightings kwsdk's telephone-band choice is compared with:
    ELL's (C-message at i * 4000 / N Hz) and C-message at the true centres."""
    return {"ELL weights h=0": c_message_weights(cfg, np.arange(cfg.n_mels) * 4000.0 / cfg.n_mels),
            "C-msg centres h=0": c_message_weights(cfg, channel_centres(cfg))}


def frame_energy(x: np.ndarray, hop: int) -> np.ndarray:
    """Sum of squares per hop-sized frame; a partial last frame is zero-padded."""
    n = -(-len(x) // hop) * hop
    return np.square(np.pad(np.asarray(x, np.float64), (0, n - len(x)))).reshape(-1, hop).sum(axis=1)


class Detectors:
    """Every detector, run on one utterance from freshly reset states."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.int_fe, self.float_fe = HostIntegerFrontend(cfg), Frontend(cfg)
        self.int_vads = {h: IntVad(replace(VadConfig(), hysteresis=h), cfg) for h in HYSTERESIS}
        self.float_vads = {h: FloatVad(replace(VadConfig(), hysteresis=h), cfg) for h in HYSTERESIS}
        self.alternatives = {}
        for name, w in alternative_weights(cfg).items():
            self.alternatives[name] = FloatVad(VadConfig(), cfg)
            self.alternatives[name].p.weights = w  # everything else as kwsdk's float VAD

    def run(self, pcm: np.ndarray) -> tuple[dict[str, np.ndarray], dict[float, np.ndarray]]:
        """(rows of the report, {hysteresis: float VAD output}) for int16 `pcm`."""
        hop = self.cfg.hop_size
        frames = self.int_fe.analyze(pcm)
        mel = self.float_fe.mel_energies(pcm / 32768.0)  # the same samples the integer frontend sees
        out, floats = {}, {}
        for h, v in self.int_vads.items():
            v.reset()
            out[f"kwsdk int h={h:g}"] = v.run(frames.mel, frames.mel_exp)
        for h, v in self.float_vads.items():
            v.reset()
            floats[h] = v.run(mel)
        out["kwsdk float h=0"] = floats[0.0]
        for name, v in self.alternatives.items():
            v.reset()
            out[name] = v.run(mel)
        t = len(pcm) // hop
        raw = pcm[: t * hop].astype("<i2")
        for mode in WEBRTC_MODES:
            w = webrtcvad.Vad(mode)
            out[f"webrtc {mode}"] = np.array([w.is_speech(raw[i * hop : (i + 1) * hop].tobytes(), self.cfg.sample_rate)
                                              for i in range(t)], np.int8)
        return out, floats


def utterance(clip: np.ndarray, noise: list[np.ndarray], rng: np.random.Generator, snrs, hop: int, pad: int):
    """({snr: int16 utterance}, truth per frame), or None for a silent clip."""
    e = frame_energy(clip, hop)
    if e.max() <= 0:
        return None
    active = e >= e.max() * 10.0 ** (-TRUTH_DB / 10)
    speech_power = e[active].sum() / (active.sum() * hop)
    n = pad + len(clip) + pad
    src = noise[rng.integers(len(noise))]
    start = rng.integers(max(1, len(src) - n + 1))
    seg = np.resize(src[start : start + n].astype(np.float64), n)  # np.resize cycles a short file
    noise_power = np.mean(seg**2)
    clean = np.zeros(n)
    clean[pad : pad + len(clip)] = clip
    truth = np.zeros(n // hop, bool)
    truth[pad // hop : pad // hop + len(active)] = active  # pad is a whole number of frames
    out = {snr: to_pcm16(clean + seg * np.sqrt(speech_power / (noise_power * 10 ** (snr / 10)))) for snr in snrs}
    return out, truth[: n // hop]


def bounds(v: np.ndarray) -> tuple[int, int] | None:
    on = np.flatnonzero(v)
    return (int(on[0]), int(on[-1])) if len(on) else None


def timing(dets: list[np.ndarray], refs: list[np.ndarray], frame_ms: float) -> dict:
    """Onset and offset |error| statistics over the clips where both find speech."""
    errs, none = [], 0
    for d, r in zip(dets, refs):
        bd, br = bounds(d), bounds(r)
        if bd is None or br is None:
            none += 1
        else:
            errs.append((abs(bd[0] - br[0]) * frame_ms, abs(bd[1] - br[1]) * frame_ms))
    stats = {"no_speech": none}
    for i, edge in enumerate(("onset", "offset")):
        e = np.array([x[i] for x in errs])
        stats[edge] = ({"median_ms": float(np.median(e)), "p90_ms": float(np.percentile(e, 90))}
                       if len(e) else None)
    return stats


def agreement(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean(np.concatenate(a) == np.concatenate(b)))


def fmt_edge(s) -> str:
    return "-" if s is None else f"{s['median_ms']:.0f}/{s['p90_ms']:.0f}"


def main() -> None:
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[:4]))
    add_data_arg(p)
    p.add_argument("--clips", type=int, default=400, help="speech clips (default 400)")
    p.add_argument("--snr", type=float, nargs="+", default=[0.0, 10.0, 20.0], help="SNRs in dB (default 0 10 20)")
    p.add_argument("--ref-mode", type=int, choices=WEBRTC_MODES, default=2,
                   help="webrtcvad mode that onset and offset errors are measured against (default 2)")
    p.add_argument("--pad", type=float, default=0.5,
                   help="seconds of noise before and after each clip (default 0.5; rounded to whole frames)")
    p.add_argument("--warmup-ms", type=float, default=200.0,
                   help="frames starting in the first W ms of an utterance are not scored (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise choice (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    args = p.parse_args()

    cfg = feature_preset("default")
    hop, sr = cfg.hop_size, cfg.sample_rate
    frame_ms = 1000.0 * hop / sr
    if frame_ms not in (10.0, 20.0, 30.0):
        p.error(f"webrtcvad takes 10, 20 or 30 ms frames; the frontend's hop is {frame_ms:g} ms")
    pad = int(round(args.pad * sr / hop)) * hop  # whole frames, so clip frames line up with the truth
    skip = int(np.ceil(args.warmup_ms / frame_ms))
    if skip * hop > pad:
        p.error("--warmup-ms must not be longer than --pad")
    ds = load_data(p, args.data, sr)
    if not ds.noise:
        p.error(f"{args.data}: no _background_noise_ recordings")
    clips = speech_clips(ds, args.clips)
    det = Detectors(cfg)
    truth, outs, floats = [], {s: [] for s in args.snr}, {s: [] for s in args.snr}
    skipped = 0
    for i, c in enumerate(clips):
        u = utterance(c.audio, ds.noise, np.random.default_rng([args.seed, i]), args.snr, hop, pad)
        if u is None:
            skipped += 1
            continue
        pcm, tr = u
        truth.append(tr[skip:])
        for s in args.snr:
            o, f = det.run(pcm[s])
            outs[s].append({k: v[skip:] for k, v in o.items()})
            floats[s].append({k: v[skip:] for k, v in f.items()})

    ref = f"webrtc {args.ref_mode}"
    results = {}
    for s in args.snr:
        names = list(outs[s][0])
        col = {n: [o[n] for o in outs[s]] for n in names}
        results[s] = {
            "float_vs_int": {f"h={h:g}": agreement([f[h] for f in floats[s]], col[f"kwsdk int h={h:g}"])
                             for h in HYSTERESIS},
            "detectors": {n: {"agree": {**{f"webrtc {m}": agreement(col[n], col[f"webrtc {m}"])
                                           for m in WEBRTC_MODES}, "truth": agreement(col[n], truth)},
                              "vs_" + ref.replace(" ", ""): timing(col[n], col[ref], frame_ms),
                              "vs_truth": timing(col[n], truth, frame_ms)} for n in names},
        }

    n_frames = sum(len(t) for t in truth)
    truth_def = (f"frame t (samples [{hop} t, {hop} (t+1))) is speech when the clean clip's energy in it "
                 f"is within {TRUTH_DB:g} dB of its loudest frame's")
    if args.json:
        print(json.dumps({"data": str(args.data), "clips": len(truth), "silent_clips_skipped": skipped,
                          "frames_per_snr": n_frames, "frame_ms": frame_ms, "pad_s": pad / sr,
                          "warmup_frames_unscored": skip, "ref_mode": args.ref_mode,
                          "seed": args.seed, "truth": truth_def, "results": {f"{s:g}": r for s, r in results.items()}}))
        return
    speech = sum(int(t.sum()) for t in truth)
    print(f"data: {args.data}; {len(truth)} clips ({skipped} silent skipped), each as {pad / sr:g} s noise + clip + "
          f"{pad / sr:g} s noise; {n_frames:,} frames of {frame_ms:g} ms scored per SNR (the first {skip} of each "
          f"utterance are not), {100 * speech / n_frames:.1f}% speech by the truth")
    print(f"truth: {truth_def}")
    print(f"agreement: fraction of frames equal; onset/offset: median/p90 of |error| in ms against webrtc "
          f"mode {args.ref_mode} (w{args.ref_mode}) or the truth; none: clips left out, one side finding no speech")
    v = f"vs_webrtc{args.ref_mode}"
    for s, r in results.items():
        fi = r["float_vs_int"]
        ok = min(fi.values()) >= MIN_FLOAT_INT_AGREEMENT
        print(f"\nSNR {s:g} dB. Float vs integer VAD agreement: "
              + ", ".join(f"{100 * a:.2f}% ({h})" for h, a in fi.items())
              + f" ({'all' if ok else 'NOT all'} >= {100 * MIN_FLOAT_INT_AGREEMENT:g}%)")
        rows = []
        for n, d in r["detectors"].items():
            a = d["agree"]
            rows.append([n, *(f"{100 * a[f'webrtc {m}']:.1f}" for m in WEBRTC_MODES), f"{100 * a['truth']:.1f}",
                         fmt_edge(d[v]["onset"]), fmt_edge(d[v]["offset"]), d[v]["no_speech"],
                         fmt_edge(d["vs_truth"]["onset"]), fmt_edge(d["vs_truth"]["offset"]),
                         d["vs_truth"]["no_speech"]])
        w = f"w{args.ref_mode}"
        print_table(["detector", "% w1", "% w2", "% w3", "% truth", f"onset {w}", f"offset {w}", f"none {w}",
                     "onset truth", "offset truth", "none truth"], rows)


if __name__ == "__main__":
    main()
