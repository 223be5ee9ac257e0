"""Generate the integer frontend's C sources from a FeatureConfig.

All tables and constants come from the stage references in kwsdk.frontend,
so the C and the Python reference share one definition.
"""

from __future__ import annotations

from dataclasses import asdict

from kwsdk.codegen import c_array, c_int, inputs_hash, render
from kwsdk.config import FeatureConfig, VadConfig
from kwsdk.frontend import dct, log, mel, spectrum, vad, window
from kwsdk.frontend.integer import IntegerFrontend

FRONTEND_SOURCES = ["kws_window_q15.c", "kws_rfft_q31.c", "kws_spectrum_u64.c", "kws_mel_q15.c",
                    "kws_log_s16.c", "kws_frontend.c", "kws_vad.h", "kws_vad.c"]


def frontend_context(fe: IntegerFrontend) -> dict:
    c = fe.cfg
    starts, counts, flat = mel.sparse_weights(fe.mel_q15)
    t = fe.log_tables
    sp_shift = log.Q16 - log.SOFTPLUS_STEP_BITS
    low = 31 - log.LOG2_TABLE_BITS
    ctx = dict(
        preset=c.preset, sample_rate=c.sample_rate, window_size=c.window_size, hop_size=c.hop_size,
        nfft=c.nfft, n_bins=c.nfft // 2 + 1, n_mels=c.n_mels, n_features=c.n_features, n_mfcc=c.n_mfcc,
        frac_bits=fe.frac_bits, feature_frac_bits=log.FEATURE_FRAC_BITS, window=c.window,
        spectrum=c.spectrum, log_offset=c.log_offset,
        window_table=c_array("int16_t", "kws_window_q15_table", fe.window_q15),
        norm_bits=window.NORM_BITS,
        twiddle_re=c_array("int32_t", "kws_fft_twiddle_re", fe.twiddle[0], 6),
        twiddle_im=c_array("int32_t", "kws_fft_twiddle_im", fe.twiddle[1], 6),
        bitrev=c_array("uint16_t", "kws_fft_bitrev", fe.bitrev, 16),
        power_bits=fe.power_bits, exp_bias=spectrum.exponent_bias(c.spectrum, c.nfft),
        starts=c_array("uint16_t", "kws_mel_start", starts, 16),
        counts=c_array("uint16_t", "kws_mel_count", counts, 16),
        mel_weights=c_array("uint16_t", "kws_mel_weight_q15", flat, 12),
        weight_frac_bits=mel.WEIGHT_FRAC_BITS,
        log2_table=c_array("int32_t", "kws_log2_q30", t["log2_q30"], 6),
        softplus_table=c_array("int32_t", "kws_softplus_q16", t["softplus_q16"], 8),
        log2_offset_q16=c_int(t["log2_offset_q16"]), ln2_q31=c_int(t["ln2_q31"]),
        log2_low_bits=low, log2_low_mask=c_int((1 << low) - 1), log2_frac_bits=log.LOG2_FRAC_BITS,
        softplus_shift=sp_shift, softplus_mask=c_int((1 << sp_shift) - 1),
        softplus_last=len(t["softplus_q16"]) - 1, softplus_range=log.SOFTPLUS_RANGE,
        out_shift=31 + log.Q16 - log.FEATURE_FRAC_BITS,
    )
    if c.n_mfcc:
        ctx.update(dct_table=c_array("int16_t", "kws_dct_q15_table", fe.dct_q15, 10),
                   guard_bits=dct.dct_guard_bits(c.n_mels), dct_out_shift=15 + dct.dct_guard_bits(c.n_mels))
    return ctx


def vad_context(v: vad.IntVad) -> dict:
    return dict(
        level_frac_bits=vad.LEVEL_FRAC_BITS, level_bits=vad.LEVEL_BITS,
        level_top=c_int((1 << vad.LEVEL_BITS) - 1, "uint64_t"),
        vad_weights=c_array("int32_t", "kws_vad_weight_q15", v.weights_q15, 10),
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
