"""Generate the integer frontend's C sources from a FeatureConfig.

All tables and constants come from the stage references in kwsdk.frontend,
so the C and the Python reference share one definition.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from kwsdk.codegen import c_array, c_int, inputs_hash, render
from kwsdk.config import FeatureConfig, VadConfig
from kwsdk.frontend import dct, fft, log, spectrum, vad
from kwsdk.frontend.integer import IntegerFrontend

FIRST_POS_END = 255  # end mark before the first-stage positions (DSP loop); positions are below it
MEL_END = 255  # end mark of the mel segment counts (DSP path)
LDRD_MAX_OFFSET = 1020  # Thumb-2 LDRD/STRD immediate offsets: the DSP FFT stages address b, d from a, c

FRONTEND_SOURCES = ["kws_fft_q31.c", "kws_spectrum_u64.c", "kws_mel_q15.c", "kws_log_s16.c", "kws_frontend.c",
                    "kws_vad.h", "kws_vad.c"]


def first_stage_segments(window_size: int, nfft: int) -> list[dict]:
    """Runs of first-stage butterflies n with the same inputs present: the
    first `live` inputs q (samples 2n + q nfft / r1 and the next) lie inside
    the window, input `live` has only its real sample inside when `half`, the
    rest are the zero padding."""
    m = nfft // 2
    r1 = fft.first_radix(m)
    stride = nfft // r1
    runs: list[dict] = []
    for n in range(m // r1):
        first = [2 * n + q * stride for q in range(r1)]
        live = sum(f + 1 < window_size for f in first)
        half = live < r1 and first[live] + 1 == window_size
        if runs and (runs[-1]["live"], runs[-1]["half"]) == (live, half):
            runs[-1]["hi"] = n + 1
        else:
            runs.append(dict(lo=n, hi=n + 1, live=live, half=half))
    return runs


def frontend_context(fe: IntegerFrontend) -> dict:
    c = fe.cfg
    m = c.nfft // 2
    r1 = fft.first_radix(m)
    seg = fe.mel_segments
    t = fe.log_tables
    pos = fft.first_stage_pos(m)
    stages = [dict(length=n, name=f"kws_fft_twiddle_{n}",
                   table=c_array("int32_t", f"kws_fft_twiddle_{n}", fft.stage_twiddles(n), 6),
                   dsp=8 * n <= LDRD_MAX_OFFSET, off=8 * n, off_after=8 * n - 8, group_words=8 * n,
                   c_words=4 * n, end_words=2 * n)
              for n in fft.stage_lengths(m)]
    idx_shift = 31 - log.LOG2_TABLE_BITS
    # The DSP first stage takes the run of radix-4 butterflies with all four
    # inputs inside the window (it starts at n = 0, where its countdown ends)
    # and uint8 positions.
    first_segs = [dict(seg, dsp=r1 == 4 and seg["live"] == 4 and not seg["half"] and m // r1 <= FIRST_POS_END
                       and seg["lo"] == 0, last_sample=2 * (seg["hi"] - 1), pos_end=seg["hi"] + 1)
                  for seg in first_stage_segments(c.window_size, c.nfft)]
    mel_dsp = bool(seg.counts.max() < MEL_END)  # the DSP loop reads byte counts up to an end mark
    ctx = dict(
        preset=c.preset, sample_rate=c.sample_rate, window_size=c.window_size, hop_size=c.hop_size,
        nfft=c.nfft, n_bins=m + 1, fft_m=m, n_mels=c.n_mels, n_features=c.n_features, n_mfcc=c.n_mfcc,
        frac_bits=fe.frac_bits, feature_frac_bits=log.FEATURE_FRAC_BITS, window=c.window,
        spectrum=c.spectrum, log_offset=c.log_offset,
        window_table=c_array("int16_t", "kws_window_q15_table", fe.window_q15),
        radices=", ".join(str(r) for r in [r1] + [4] * len(stages)), first_radix=r1, first_words=2 * r1,
        first_pos=c_array("uint16_t" if m // r1 > FIRST_POS_END else "uint8_t", "kws_fft_first_pos",
                          np.concatenate([[FIRST_POS_END], pos]), 16), first_pos_end=FIRST_POS_END,
        first_inputs=[dict(name="abcd"[q], offset=q * (c.nfft // r1), byte_offset=2 * q * (c.nfft // r1) + 4)
                      for q in range(r1)],
        first_segments=first_segs, stages=stages,
        dsp_stages=[st for st in stages if st["dsp"]], all_stages_dsp=all(st["dsp"] for st in stages),
        fft_scale_bits=(m.bit_length() - 1) - (r1.bit_length() - 1),
        split_twiddle=c_array("int32_t", "kws_split_twiddle", fe.split_twiddles, 6),
        exp_bias_spectrum=spectrum.exponent_bias(c.spectrum, c.nfft), exp_bias=fe.exp_bias,
        mel_first_bin=int(seg.starts[np.argmax(seg.counts > 0)]), mel_bits=seg.mel_bits,
        mel_dsp=mel_dsp, mel_end=MEL_END,
        mel_counts=c_array("uint8_t" if mel_dsp else "uint16_t", "kws_mel_count",
                           np.append(seg.counts, MEL_END) if mel_dsp else seg.counts, 16),
        mel_weights=c_array("uint32_t", "kws_mel_weight_q15", np.stack([seg.rise, seg.fall], axis=1), 12),
        log2_table=c_array("int32_t", "kws_log2_q24", t.log2_q24, 6), grid_bits=t.grid_bits,
        ln2_q31=c_int(t.ln2_q31), offset_mant=c_int(t.offset_mant, "int64_t"), offset_shift=t.offset_shift,
        index_shift=idx_shift, index_mask=c_int((1 << log.LOG2_TABLE_BITS) - 1, "uint32_t"),
        interp_shift=idx_shift - log.INTERP_BITS, interp_mask=c_int((1 << log.INTERP_BITS) - 1, "uint32_t"),
        interp_bits=log.INTERP_BITS, log2_one=c_int(1 << log.LOG2_FRAC_BITS),
        out_shift=31 + log.LOG2_FRAC_BITS - log.FEATURE_FRAC_BITS,
    )
    if c.n_mfcc:
        ctx.update(dct_table=c_array("int16_t", "kws_dct_q15_table", fe.dct_q15, 10),
                   guard_bits=dct.dct_guard_bits(c.n_mels), dct_out_shift=15 + dct.dct_guard_bits(c.n_mels))
    return ctx


def vad_context(v: vad.IntVad) -> dict:
    nz = np.nonzero(v.weights_q15)[0]
    first, last = int(nz[0]), int(nz[-1])
    return dict(
        level_frac_bits=vad.LEVEL_FRAC_BITS, level_bits=vad.LEVEL_BITS,
        level_top=c_int((1 << vad.LEVEL_BITS) - 1, "uint64_t"), vad_first=first, vad_count=last - first + 1,
        vad_weights=c_array("uint32_t", "kws_vad_weight_q15", v.weights_q15[first : last + 1], 10),
        level_threshold=c_int(v.level_threshold, "int64_t"),
        a_up=v.a_up, a_down=v.a_down, a_att=v.a_att, large_input=v.large_input,
        threshold_up=v.threshold_up, threshold_down=v.threshold_down, hold_frames=v.rule.hold,
    )


def generate_frontend(cfg: FeatureConfig, vad_cfg: VadConfig | None = None) -> dict[str, str]:
    """File name -> C source text for the frontend and VAD of `cfg`."""
    vad_cfg = vad_cfg or VadConfig()
    fe = IntegerFrontend(cfg)
    ctx = {**frontend_context(fe), **vad_context(vad.IntVad(vad_cfg, cfg))}
    source = f"FeatureConfig {inputs_hash(asdict(cfg))}, VadConfig {inputs_hash(asdict(vad_cfg))} (preset {cfg.preset})"
    files = {
        "kws_fixedpoint.h": render("kws_fixedpoint.h.j2", source),
        "kws_frontend.h": render("kws_frontend.h.j2", source, **ctx),
    }
    names = FRONTEND_SOURCES + (["kws_dct_q15.c"] if cfg.n_mfcc else [])
    for name in names:
        files[name] = render(name + ".j2", source, **ctx)
    return files
