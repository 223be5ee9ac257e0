"""Cortex-M: the library and test firmware build for every supported core
with the library's strict warnings; the emulated runs (QEMU mps2 boards and micro:bit,
semihosting) verify bit-exact against the integer reference; a fault is
reported as a failure, never as a pass."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from kwsdk.codegen.library import driver_source
from kwsdk.config import ConfigError
from kwsdk.export import library_sources
from kwsdk.codegen.hostbuild import run_passing, write_sources
from kwsdk.mcu import CPUS, build_firmware, qemu_command, support_dir
from kwsdk.pipeline import PipelineOptions
from tests.conftest import C_DIR
from tests.helpers import kwsdk, verify_json

# Every test here builds firmware and runs it under QEMU, or trains a model: the full tier only.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("cpu", sorted(CPUS))
def test_firmware_builds_for_every_core(cpu, qrun, tmp_path):
    files, _ = library_sources(qrun, PipelineOptions())
    files["kws_main.c"] = driver_source("gru")
    elf = build_firmware(write_sources(files, tmp_path / "src"), tmp_path / "kws_main.elf", cpu)
    head = subprocess.run(["arm-none-eabi-readelf", "-h", str(elf)], capture_output=True, text=True).stdout
    assert "ARM" in head and "EXEC" in head


@pytest.mark.parametrize("cpu, wide", [("cortex-m4", False), ("cortex-m4", True), ("cortex-m0plus", False)],
                         ids=["m4", "m4-wide", "m0plus"])
@pytest.mark.parametrize("opt", ["-O0", "-Os"])
def test_asm_kernels_build_at_every_optimization_level(cpu, wide, opt, qrun, tmp_path):
    """The inline assembly of the DSP path (both weight storages) and of
    ARMv6-M keeps its accumulators in registers: GCC must still find them
    without optimization and when optimizing for size (the report builds -O2).
    (The wide storage's loops build only when optimizing: at -O0 its portable
    C runs; test_linear_kernel_equals_reference runs the assembly.)"""
    files, _ = library_sources(qrun, PipelineOptions(), cpu=cpu, wide=wide)
    files["kws_main.c"] = driver_source("gru")
    build_firmware(write_sources(files, tmp_path / "src"), tmp_path / "kws_main.elf", cpu, opt)


@pytest.mark.parametrize("cpu, extra", [(c, ()) for c in ("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7")]
                         + [("cortex-m4", ("--wide-weights",))], ids=["m0plus", "m3", "m4", "m7", "m4-wide"])
def test_emulated_verify(cpu, extra, qrun):
    r = verify_json(qrun, "--target", cpu, "--split", "val", *extra)
    assert r["target"] == cpu and r["c_mismatches"] == 0 and r["events_identical"] and r["n_events"] > 3
    assert r["weight_layout"] == ("wide" if extra else "pairs" if cpu in ("cortex-m4", "cortex-m7") else "col8")


def test_default_model_footprint_verifies_on_m0plus(tmp_path):
    """The default model's RAM (2 x 128 GRU, default frontend and detector:
    9.5 KB of kws_t) with the test driver fills most of the micro:bit's
    16 KB: its verify must stay bit-exact, on clips and on the stream (the
    driver's stdio buffer on the heap once met the stack: one record in
    eight was overwritten)."""
    from kwsdk.config import DetectorConfig, ModelConfig, RunConfig
    from tests.helpers import LOW, SAMPLE, TINY

    cfg = {k: v for k, v in TINY.items() if k != "model"}  # the default model, a short training
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    run = tmp_path / "run"
    kwsdk("train", "--data", SAMPLE, "--out", run, "--config", tmp_path / "cfg.json", "--quiet",
          "--cache-dir", tmp_path / "cache")
    saved = RunConfig.load(run / "config.json")
    assert saved.model == ModelConfig() and saved.features == RunConfig().features
    # The default smoothing (its history is part of kws_t), a threshold low enough to fire.
    (run / "detector.json").write_text(json.dumps({**LOW, "smooth_frames": DetectorConfig().smooth_frames}))
    kwsdk("quantize", "--run", run, "--data", SAMPLE, "--quiet", "--cache-dir", tmp_path / "cache")
    r = verify_json(run, "--target", "cortex-m0plus", "--split", "val")
    assert r["c_mismatches"] == 0 and r["first_difference"] is None, r["first_difference"]
    assert r["events_identical"] and r["n_events"] > 3
    m = r["firmware_memory"]
    assert 0 < m["stack_peak_bytes"] < m["stack_reserve_bytes"] == 2048 and 0 < m["heap_bytes"] <= 1024
    assert m["static_bytes"] + m["heap_reserve_bytes"] + 2048 + m["spare_bytes"] == m["ram_bytes"] == 16384
    assert m["static_bytes"] > 12_000 and m["spare_bytes"] >= 0  # kws_t alone is 9.5 KB


@pytest.mark.parametrize("cpu, defines", [("cortex-m4", ()), ("cortex-m4", ("KWS_NO_DSP",)), ("cortex-m3", ())],
                         ids=["m4-dsp", "m4-portable", "m3"])
def test_frontend_driver_equals_reference(cpu, defines, frontend_configs, signals, tmp_path):
    """The frontend's asm loops on a DSP core (and the portable C there and on
    an M3) against the reference, streamed, on every test signal: full-scale
    squares and clipping take the FFT to its bounds. A radix-2 first stage
    (nfft 256) and an odd window cover the other code paths."""
    import dataclasses

    import numpy as np

    from kwsdk.config import VadConfig, feature_preset
    from kwsdk.codegen.cfrontend import parse_driver_output, write_frontend_sources
    from kwsdk.frontend.integer import IntegerFrontend
    from kwsdk.frontend.vad import IntVad

    pcm = np.concatenate([signals[k][:4000] for k in ("square", "clipped", "random", "tiny", "speech", "silence")])
    cfgs = dict(frontend_configs, odd=dataclasses.replace(feature_preset("default"), nfft=256, window_size=255,
                                                          hop_size=128, n_mels=20))
    for name, cfg in cfgs.items():
        ref = IntegerFrontend(cfg).analyze(pcm)
        ref_vad = IntVad(VadConfig(), cfg).run(ref.mel, ref.mel_exp)
        elf = build_firmware(write_frontend_sources(cfg, tmp_path / name, driver=True), tmp_path / f"{name}.elf", cpu,
                             defines=defines)
        (tmp_path / "in.pcm").write_bytes(pcm.astype("<i2").tobytes())
        run_passing(qemu_command(cpu, elf, [str(tmp_path / "in.pcm"), str(tmp_path / "out.bin"), "333"]), name, 300)
        got = parse_driver_output(cfg, (tmp_path / "out.bin").read_bytes())
        assert len(got.features) == len(ref.features) > 40, name
        np.testing.assert_array_equal(got.features, ref.features, err_msg=name)
        np.testing.assert_array_equal(got.mel, ref.mel, err_msg=name)
        np.testing.assert_array_equal(got.mel_exp, ref.mel_exp, err_msg=name)
        np.testing.assert_array_equal(got.vad, ref_vad, err_msg=name)


# A bus fault (nothing is mapped there on the mps2 boards; the micro:bit reads
# it as 0) and an unaligned word load (a fault on ARMv6-M).
@pytest.mark.parametrize("cpu, address", [("cortex-m0plus", "0x20000001u"), ("cortex-m4", "0xF0000000u")])
def test_fault_is_a_failure(cpu, address, tmp_path):
    elf = _main_firmware(tmp_path, cpu, "mcu_fault", [f"FAULT_ADDRESS={address}"])
    p = subprocess.run(["timeout", "60", *qemu_command(cpu, elf, [])], capture_output=True, text=True)
    assert p.returncode != 0 and "FAULT" in p.stdout + p.stderr and "PASS" not in p.stdout


def _main_firmware(tmp_path, cpu: str, name: str, defines=()):
    """A firmware whose whole program is tests/c/NAME.c (C defining main)."""
    return build_firmware([C_DIR / f"{name}.c"], tmp_path / f"{name}.elf", cpu, defines=defines)


def test_ram_overflow_is_a_link_error(tmp_path):
    """.data + .bss + the heap and stack reserves must fit the board's RAM:
    the link refuses, naming the sizes (the micro:bit has 16 KB)."""
    _main_firmware(tmp_path, "cortex-m0plus", "mcu_ram", ["BIG_BYTES=12000"])
    with pytest.raises(ConfigError, match="RAM") as e:
        _main_firmware(tmp_path, "cortex-m0plus", "mcu_ram", ["BIG_BYTES=15000"])
    m = re.search(r"needs ([\d,]+) B of RAM but microbit.ld has 16,384 B: \.data \+ \.bss ([\d,]+) \(\.data ([\d,]+), "
                  r"\.bss ([\d,]+)\) \+ heap 1,024 \+ stack reserve 2,048 B \(([\d,]+) B over;", str(e.value))
    assert m, str(e.value)
    needed, static, data, bss, over = (int(g.replace(",", "")) for g in m.groups())
    assert bss >= 15000 and data + bss <= static < data + bss + 8
    assert needed == static + 1024 + 2048 and over == needed - 16384 > 0


@pytest.mark.parametrize("cpu", ["cortex-m0plus", "cortex-m4"])
def test_heap_stops_at_the_stack_reserve(cpu, tmp_path):
    """malloc takes memory up to the bottom of the stack's reserve, then
    returns NULL instead of growing into the stack (newlib's own _sbrk only
    checks against the current stack pointer)."""
    elf = _main_firmware(tmp_path, cpu, "mcu_heap")
    out = run_passing(qemu_command(cpu, elf, []), "heap", 60).stdout
    assert int(re.search(r"PASS blocks=(\d+)", out).group(1)) > (10 if cpu == "cortex-m0plus" else 50_000)


@pytest.mark.parametrize("cpu", ["cortex-m0plus", "cortex-m4"])
@pytest.mark.parametrize("frame, ok", [(1024, True), (2040, False)])
def test_stack_beyond_its_reserve_is_a_failure(cpu, frame, ok, tmp_path):
    """The startup code paints the stack's reserve (2,048 B) and checks at exit:
    a run whose stack reached the reserve's bottom guard fails, even though
    main printed PASS and returned 0; one inside it passes and reports its peak."""
    elf = _main_firmware(tmp_path, cpu, "mcu_stack", [f"FRAME_BYTES={frame}"])
    p = subprocess.run(["timeout", "60", *qemu_command(cpu, elf, [])], capture_output=True, text=True)
    peak = int(re.search(r"peak=(\d+) reserve=2048", p.stdout + p.stderr).group(1))
    assert peak >= frame
    if ok:
        assert p.returncode == 0 and "STACK peak=" in p.stdout + p.stderr and peak < 2048 - 32
    else:
        assert p.returncode != 0 and "FAIL: stack overflow" in p.stdout + p.stderr


def test_longest_command_line_reaches_main(tmp_path):
    """A command line of exactly CMDLINE_MAX characters arrives whole (QEMU
    counts the terminating NUL in the buffer's size)."""
    from kwsdk.mcu import CMDLINE_MAX

    arg = "a" * (CMDLINE_MAX - len("mcu_cmdline.elf "))
    elf = _main_firmware(tmp_path, "cortex-m0plus", "mcu_cmdline", [f"ARG_LEN={len(arg)}u"])
    run_passing(qemu_command("cortex-m0plus", elf, [arg]), "command line", 60)


def test_support_files_are_shipped():
    assert all((support_dir() / f).is_file() for f in ("startup.c", "sections.ld", "mps2.ld", "microbit.ld"))


@pytest.mark.parametrize("cpu", ["cortex-m0plus", "cortex-m4"])
def test_mcu_export_builds_with_make_and_cmake(cpu, qrun, tmp_path):
    out = tmp_path / "exp"
    res = json.loads(kwsdk("export", "--run", qrun, "--out", out, "--target", "mcu", "--cpu", cpu, "--json").stdout)
    sizes = {m["opt"]: m for m in res["mcu"]}
    assert set(sizes) == {"-Os", "-O2"} and sizes["-Os"]["flash_bytes"] > res["weight_bytes"]
    assert sizes["-Os"]["static_ram_bytes"] == 0  # all state lives in the caller's kws_t
    subprocess.run(["make", "-s", "-C", str(out)], check=True, capture_output=True)
    lib = subprocess.run(["arm-none-eabi-objdump", "-f", str(out / "libkws.a")], capture_output=True, text=True)
    assert "elf32-littlearm" in lib.stdout
    subprocess.run(["cmake", "-S", str(out), "-B", str(tmp_path / "b"), "-DCMAKE_BUILD_TYPE=MinSizeRel",
                    f"-DCMAKE_TOOLCHAIN_FILE={out / 'toolchain-arm-none-eabi.cmake'}"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(tmp_path / "b")], check=True, capture_output=True)
    bad = kwsdk("export", "--run", qrun, "--out", tmp_path / "x", "--cpu", cpu, check=False)
    assert bad.returncode == 2 and "--cpu goes with --target mcu" in bad.stderr


@pytest.mark.parametrize("cpu", ["cortex-m0plus", "cortex-m4"])
def test_report(cpu, qrun):
    r = json.loads(kwsdk("report", "--run", qrun, "--target", cpu, "--json").stdout)
    assert r["target"] == cpu and r["seconds"] == 2.0
    assert r["split"]["frontend"] > 0 and r["split"]["model"] > 0 and r["split"]["detector"] > 0
    assert abs(sum(r["split"].values()) - r["instructions_per_second"]) < 1
    assert 100 < r["stack_bytes"] < 16384 and r["ram_bytes"] == r["state_bytes"] + r["stack_bytes"]
    p = r["part"]
    assert p["name"] == CPUS[cpu].part.name and p["ram_left_bytes"] == p["ram_bytes"] - r["ram_bytes"]
    assert p["flash_left_bytes"] == p["flash_bytes"] - r["flash_bytes"]
    assert r["flash_bytes"] > 10_000 and 0 < r["duty_cycle_estimate"]


def test_part_line_says_what_is_left_or_short():
    from kwsdk.verify.report import part_line

    part = {"name": "STM32G031K6", "flash_bytes": 32768, "ram_bytes": 8192, "flash_left_bytes": 1017,
            "ram_left_bytes": -2104}
    assert part_line(part) == ("left on STM32G031K6 (32 KB flash, 8 KB RAM): flash 1,017 B, "
                               "RAM 2,104 B short (does not fit)")


def test_wide_weights_trade_flash_for_instructions(qrun):
    """--wide-weights on a DSP core: the same model in fewer instructions and
    more flash (exact counts, not timings)."""
    base, wide = (json.loads(kwsdk("report", "--run", qrun, "--target", "cortex-m7", "--json", *extra).stdout)
                  for extra in ((), ("--wide-weights",)))
    assert (base["weight_layout"], wide["weight_layout"]) == ("pairs", "wide")
    assert wide["split"]["model"] < base["split"]["model"]
    assert wide["split"]["frontend"] == base["split"]["frontend"]
    assert wide["flash_bytes"] > base["flash_bytes"]


def test_block_counting_is_exact(tmp_path):
    """Every translated block's decoded instruction count equals what objdump
    lists in that address range (IT and condition-failed instructions
    included: they are instructions the core issues)."""
    import re
    import struct

    import unicorn
    from unicorn import arm_const

    from kwsdk.verify.report import FLASH, MEM_BYTES, RAM, SCS, _load_elf, _thumb_count, count_instructions

    src = tmp_path / "loop.c"
    src.write_text("#include <stdint.h>\nvolatile uint32_t kws_bench_phase;\nint main(int argc, char **argv);\n"
                   "int main(int argc, char **argv)\n{\n    (void)argc;\n    (void)argv;\n    uint64_t s = 1u;\n"
                   "    for (uint32_t i = 0; i < 3000u; i++) {\n        kws_bench_phase = i % 5u;\n"
                   "        s = s * 2654435761u + i / 3u;\n    }\n    return s == 0u;\n}\n")
    elf = build_firmware([src], tmp_path / "loop.elf", "cortex-m4", bare=True)
    dump = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True).stdout
    starts = sorted(int(m.group(1), 16) for m in re.finditer(r"^\s+([0-9a-f]+):\s+[0-9a-f]{4}(?: [0-9a-f]{4})?\s+\S",
                                                              dump, re.M))
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(arm_const.UC_CPU_ARM_CORTEX_M4)
    for base in (FLASH, RAM, SCS):
        uc.mem_map(base, MEM_BYTES)
    _load_elf(uc, elf.read_bytes())
    sp, pc = struct.unpack("<II", bytes(uc.mem_read(0, 8)))
    uc.reg_write(arm_const.UC_ARM_REG_SP, sp)
    blocks = set()
    uc.hook_add(unicorn.UC_HOOK_BLOCK, lambda u, a, s, d: blocks.add((a, s)))
    uc.hook_add(unicorn.UC_HOOK_INTR, lambda u, i, d: u.emu_stop())
    uc.emu_start(pc | 1, 0xFFFFFFFF, count=10_000_000)
    assert len(blocks) > 10
    for a, s in blocks:
        assert _thumb_count(bytes(uc.mem_read(a, s))) == sum(a <= x < a + s for x in starts), hex(a)
    assert sum(count_instructions(elf, "cortex-m4")["instructions"].values()) > 30_000


@pytest.mark.parametrize("wide", [False, True], ids=["int8", "wide"])
@pytest.mark.parametrize("defines", [(), ("KWS_NO_DSP",)], ids=["dsp", "portable"])
def test_dsp_and_portable_paths_are_bit_identical(defines, wide, qrun, sample_clips, tmp_path):
    """The same core (M4) with and without the DSP-extension code, for both
    storages of the weights: all equal the reference."""
    import numpy as np

    from kwsdk.config import DetectorConfig, RunConfig
    from kwsdk.pipeline import IntPipeline
    from kwsdk.qmodel.model import QuantModel
    from kwsdk.verify.harness import Target, describe_difference, record_mismatches, run_driver, trace_dtype
    from tests.helpers import LOW

    files, _ = library_sources(qrun, PipelineOptions(), wide=wide)
    assert ('Storage ("wide"' in files["kws_linear.c"]) == wide
    files["kws_main.c"] = driver_source("gru")
    target = Target("cortex-m4", cpu="cortex-m4", defines=defines)
    exe = target.build(write_sources(files, tmp_path / "src"), tmp_path / "kws_main.elf")
    cfg = RunConfig.load(qrun / "config.json")
    q = QuantModel.load(qrun / "quant" / "model_q.npz")
    pipe = IntPipeline(cfg.features, cfg.vad, q, DetectorConfig(**LOW))
    records = [pcm for name, pcm in sample_clips if not name.startswith("_")][::25]
    out, _ = run_driver(target, exe, records, 333, trace_dtype(q.n_features, q.n_classes, len(pipe.state_vector())))
    first = record_mismatches(out, pipe, records)[1]
    assert first is None, describe_difference(first)
    assert np.abs(out["posteriors"]).sum() > 0


@pytest.mark.parametrize("cpu, defines", [("cortex-m4", ()), ("cortex-m4", ("KWS_NO_DSP",)), ("cortex-m3", ()),
                                          ("cortex-m0plus", ())], ids=["m4-dsp", "m4-portable", "m3", "m0plus"])
def test_cell_helpers_equal_reference(cpu, defines, qrun, tmp_path):
    """The recurrent cell's helpers on the core, against the Python reference:
    every activation input over each table's range and beyond (the DSP path
    interpolates with one unaligned LDR and an SMLAD), the rounded q15
    product at its bounds (SMMULR), the 16-bit saturation (SSAT) and the
    high word of 32 x 32 products (SMMUL/SMMLS, 16-bit halves on ARMv6-M)."""
    import numpy as np

    from kwsdk.fixedpoint import rshift_round, saturate
    from kwsdk.qmodel.act import ACT_TABLES, act_q15

    rng = np.random.default_rng(0)
    ops, a, b, want = [], [], [], []
    for k, t in enumerate(ACT_TABLES):
        x = np.arange(max(t.x_lo, 0) - 300 if t.name == "expneg" else t.x_lo - 300, t.x_hi + 300, dtype=np.int64)
        x = x[x >= 0] if t.name == "expneg" else x
        ops.append(np.full(len(x), k)), a.append(x), b.append(np.zeros(len(x), np.int64)), want.append(act_q15(x, t))
    qa = np.concatenate([[0, 1, 16384, 32767, 32767, 32767], rng.integers(0, 32768, 5000)])
    qb = np.concatenate([[2**30 - 1, -2**30, -2**30, 2**30 - 1, -2**30, -1], rng.integers(-2**30, 2**30, 5000)])
    ops.append(np.full(len(qa), 3)), a.append(qa), b.append(qb), want.append(rshift_round(qa * qb, 15))
    sx = np.concatenate([[-2**31, 2**31 - 1, -32769, -32768, 32767, 32768], rng.integers(-2**31, 2**31, 5000)])
    ops.append(np.full(len(sx), 4)), a.append(sx), b.append(np.zeros(len(sx), np.int64)), want.append(saturate(sx, 16))
    edge = np.array([-2**31, -2**31 + 1, -65536, -65535, -32768, -1, 0, 1, 32767, 65535, 65536, 2**31 - 1])
    ma = np.concatenate([np.repeat(edge, len(edge)), rng.integers(-2**31, 2**31, 5000)])
    mb = np.concatenate([np.tile(edge, len(edge)), rng.integers(-2**31, 2**31, 5000)])
    for op, ref in ((5, (ma * mb) >> 32), (6, (-(ma * mb)) >> 32), (7, (ma * mb) >> 32)):
        ops.append(np.full(len(ma), op)), a.append(ma), b.append(mb), want.append(ref)
    vec = np.stack([np.concatenate(ops), np.concatenate(a), np.concatenate(b)], axis=1).astype("<i4")
    files, _ = library_sources(qrun, PipelineOptions(), cpu=cpu)
    files["kws_main.c"] = (C_DIR / "mcu_fixedpoint_test.c").read_text()
    elf = build_firmware(write_sources(files, tmp_path / "src"), tmp_path / "helpers.elf", cpu, defines=defines)
    (tmp_path / "in.bin").write_bytes(vec.tobytes())
    run_passing(qemu_command(cpu, elf, [str(tmp_path / "in.bin"), str(tmp_path / "out.bin")]), "helpers", 300)
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), "<i4")
    np.testing.assert_array_equal(got, np.concatenate(want))


@pytest.mark.parametrize("wide", [False, True], ids=["int8", "wide"])
@pytest.mark.parametrize("defines", [(), ("KWS_NO_DSP",)], ids=["dsp", "portable"])
def test_linear_kernel_equals_reference(defines, wide, qrun, tmp_path):
    """The matrix kernel's DSP-extension assembly (and the portable C) on the
    emulated M4, for both storages, on tests.helpers.linear_cases: every
    count of columns before the 32-column passes, padded blocks, both
    requantizations, saturation."""
    import numpy as np

    from kwsdk.codegen.model import linear_arrays
    from tests.helpers import linear_cases

    layout = "wide" if wide else "pairs"
    stream, want = [], []
    for _, lin, x in linear_cases(layout, 8):
        stream.append(np.array(lin.w.shape))
        for v in linear_arrays(lin, layout).values():
            flat = np.zeros(0) if v is None else np.asarray(v).ravel()
            stream += [np.array([-1 if v is None else len(flat)]), flat]
        stream.append(x)
        want.append(lin(x[None])[0])
    # uint32 weight words and int32 values alike: their low 32 bits
    (tmp_path / "in.bin").write_bytes((np.concatenate(stream).astype(np.int64) & 0xFFFFFFFF).astype("<u4").tobytes())
    files, _ = library_sources(qrun, PipelineOptions(), cpu="cortex-m4", wide=wide)
    files["kws_main.c"] = (C_DIR / "mcu_linear_test.c").read_text()
    elf = build_firmware(write_sources(files, tmp_path / "src"), tmp_path / "linear.elf", "cortex-m4",
                         defines=defines)
    run_passing(qemu_command("cortex-m4", elf, [str(tmp_path / "in.bin"), str(tmp_path / "out.bin")]), "linear", 300)
    np.testing.assert_array_equal(np.frombuffer((tmp_path / "out.bin").read_bytes(), "<i4"), np.concatenate(want))


def test_wide_weights_accept_misaligned_features(qrun, tmp_path):
    """The wide kernel loads its input with LDRD, which faults unless the
    address is a multiple of 4: kws_model_step copies a caller's misaligned
    features first (on the emulated M4, which enforces the alignment)."""

    files, _ = library_sources(qrun, PipelineOptions(), cpu="cortex-m4", wide=True)
    files["kws_main.c"] = (C_DIR / "mcu_misaligned_test.c").read_text()
    elf = build_firmware(write_sources(files, tmp_path / "src"), tmp_path / "misaligned.elf", "cortex-m4")
    run_passing(qemu_command("cortex-m4", elf, []), "misaligned features", 120)


def test_tiny_preset_fits_32k_flash_and_8k_ram(tmp_path):
    """The tiny model preset's whole device library (frontend, VAD, model,
    detector) fits a 32 KB flash / 8 KB RAM Cortex-M at -Os (M0+ builds the
    largest code); on a Cortex-M4 its flash fits at -O2 too."""
    from tests.helpers import SAMPLE, tiny_config

    run = tmp_path / "tiny"
    kwsdk("train", "--data", SAMPLE, "--out", run, "--config", tiny_config(tmp_path), "--model-preset", "tiny",
          "--epochs", "1", "--quiet", "--cache-dir", tmp_path / "cache")
    kwsdk("quantize", "--run", run, "--data", SAMPLE, "--quiet", "--cache-dir", tmp_path / "cache")
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["model"]["hidden"], cfg["model"]["layers"], cfg["augment"]["time_mask_max"],
            cfg["augment"]["freq_mask_max"], cfg["train"]["epochs"], cfg["train"]["lr"]) == (48, 1, 0, 0, 1, 0.01)
    # (--epochs wins over the preset's)
    for cpu in ("cortex-m0plus", "cortex-m4"):
        r = json.loads(kwsdk("report", "--run", run, "--target", cpu, "--opt=-Os", "--json").stdout)
        assert r["flash_bytes"] <= 32 * 1024 and r["ram_bytes"] <= 8 * 1024, r
    assert next(s for s in r["sizes"] if s["opt"] == "-O2")["flash_bytes"] <= 32 * 1024
