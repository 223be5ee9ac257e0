"""`kwsdk report --run RUN --target cortex-m4`: what the device library
costs on a Cortex-M core (or, with --target rpi-aarch64, the instructions
of the Raspberry Pi's 64-bit build, run bare in unicorn's AArch64 mode).

- Flash and static RAM of the library alone (arm-none-eabi-size of its
  objects, -Os and -O2) and sizeof(kws_t) as the core's compiler lays it out.
- Exact instruction counts: a bare firmware (no stdio) runs kws_process over
  2 s of real speech from the shipped sample in the unicorn emulator; every
  executed instruction is counted (per translated block, Thumb-2 lengths
  decoded from the code, IT instructions included, which the emulator folds
  into their successors) and attributed to the part that runs: frontend,
  VAD, model, detector (kws.c announces the part when built with KWS_BENCH;
  a block that changes the part is counted to the part it started in).
- Peak stack: RAM below the initial stack pointer is painted before the run
  and the deepest overwritten word found after it.
- What is left of flash and RAM on the core's smallest common part
  (kwsdk.mcu.Cpu.part, e.g. an 8 KB STM32G031 for the M0+); negative: it
  does not fit there.
- Duty cycle at a stated clock, assuming one instruction per cycle: an
  estimate, labelled as one.
"""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import numpy as np

from kwsdk import mcu
from kwsdk.audio import read_audio
from kwsdk.codegen import c_array, render
from kwsdk.config import ConfigError
from kwsdk.export import library_sources, load_quantized
from kwsdk.audio import clip_pcm16
from kwsdk.codegen.hostbuild import write_sources
from kwsdk.pipeline import PipelineOptions

PARTS = {1: "frontend", 2: "vad", 3: "model", 4: "detector", 0: "other"}
BENCH_WORDS = ("yes", "no")  # one clip each from the shipped sample, 1 s apiece
CHUNK = 160  # samples per kws_process call, as a 10 ms audio driver would deliver
PAINT_BYTES = 256 * 1024
PAINT = 0xA5
RAM, FLASH, SCS = 0x20000000, 0x00000000, 0xE0000000
MEM_BYTES = 4 << 20
SYS_EXIT, ADP_APPLICATION_EXIT = 0x18, 0x20026


def bench_pcm(sample_rate: int) -> tuple[np.ndarray, str]:
    from kwsdk.demo import sample_data_dir

    root = sample_data_dir()
    parts, names = [], []
    for w in BENCH_WORDS:
        f = sorted((root / w).glob("*.wav"))[0]
        parts.append(clip_pcm16(read_audio(f, sample_rate), sample_rate))
        names.append(f"{w}/{f.name}")
    return np.concatenate(parts), ", ".join(names)


def _thumb_count(code: bytes) -> int:
    """Instructions in a block of Thumb-2 code: halfwords starting 0b11101,
    0b11110 or 0b11111 open 32-bit instructions."""
    n = i = 0
    while i < len(code):
        h = code[i] | (code[i + 1] << 8)
        i += 4 if (h >> 11) in (0x1D, 0x1E, 0x1F) else 2
        n += 1
    return n


def _load_elf(uc, data: bytes, map_pages: bool = False) -> int:
    """Write the PT_LOAD segments of a 32- or 64-bit little-endian ELF at their
    physical addresses (flash for a firmware), first mapping their pages
    (code, data and bss) with `map_pages`; returns the entry point."""
    if data[4] == 2:  # ELFCLASS64
        entry, phoff = struct.unpack_from("<QQ", data, 24)
        phentsize, phnum = struct.unpack_from("<HH", data, 54)
        fields = [struct.unpack_from("<II6Q", data, phoff + i * phentsize) for i in range(phnum)]
        segments = [(f[0], f[2], f[4], f[5], f[6]) for f in fields]  # type, offset, paddr, filesz, memsz
    else:
        entry, = struct.unpack_from("<I", data, 24)
        phoff, = struct.unpack_from("<I", data, 28)
        phentsize, phnum = struct.unpack_from("<HH", data, 42)
        fields = [struct.unpack_from("<8I", data, phoff + i * phentsize) for i in range(phnum)]
        segments = [(f[0], f[1], f[3], f[4], f[5]) for f in fields]
    for p_type, off, paddr, filesz, memsz in segments:
        if p_type != 1:  # PT_LOAD only
            continue
        if map_pages:
            lo, hi = paddr & ~0xFFF, (paddr + memsz + 0xFFF) & ~0xFFF
            uc.mem_map(lo, hi - lo)
        if filesz:
            uc.mem_write(paddr, data[off : off + filesz])
    return entry


def _symbol(elf: Path, name: str, nm: str = "arm-none-eabi-nm") -> int:
    import subprocess

    out = subprocess.run([nm, str(elf)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise RuntimeError(f"{elf}: no symbol {name}")


def _unicorn():
    try:
        import unicorn
    except ImportError:
        raise ConfigError("instruction counts need the unicorn package: pip install 'kwsdk[mcu]'") from None
    return unicorn


def _run_counted(uc, start: int, sp: int, phase_addr: int, length, exit_status, max_instructions: int) -> dict:
    """Run from `start` with the stack painted below `sp`, counting each
    executed block's instructions (`length(code)`) to the part announced in
    kws_bench_phase; `exit_status(uc)` reads the exit call's status (None:
    not an exit). Returns instructions per part and the peak stack."""
    unicorn = _unicorn()
    uc.mem_write(sp - PAINT_BYTES, bytes([PAINT]) * PAINT_BYTES)
    counts = dict.fromkeys(PARTS, 0)
    part, sizes, done, last = [0], {}, {}, [0, 0]

    def on_block(uc, addr, size, _):
        n = sizes.get(addr)
        if n is None:
            n = sizes[addr] = length(bytes(uc.mem_read(addr, size)))
        counts[part[0]] += n
        last[:] = [addr, n]

    def on_write(uc, access, addr, size, value, _):
        part[0] = value if value in PARTS else 0

    def on_intr(uc, intno, _):
        done["status"] = exit_status(uc)
        # The block was counted whole; what follows the exit call in it never ran.
        pc = done["status"][1]
        counts[part[0]] -= last[1] - length(bytes(uc.mem_read(last[0], pc - last[0])))
        uc.emu_stop()

    uc.hook_add(unicorn.UC_HOOK_BLOCK, on_block)
    uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, on_write, begin=phase_addr, end=phase_addr + 3)
    uc.hook_add(unicorn.UC_HOOK_INTR, on_intr)
    uc.emu_start(start, 0xFFFFFFFF, count=max_instructions)
    painted = bytes(uc.mem_read(sp - PAINT_BYTES, PAINT_BYTES))
    untouched = len(painted) - len(painted.lstrip(bytes([PAINT])))
    return {"instructions": {PARTS[k]: v for k, v in counts.items()}, "stack_bytes": PAINT_BYTES - untouched,
            "exit": done.get("status", (None,))[0]}


def count_instructions(elf: Path, cpu: str, max_instructions: int = 2_000_000_000) -> dict:
    """Run the bare firmware in unicorn: instructions per part, peak stack, exit status."""
    unicorn = _unicorn()
    from unicorn import arm_const

    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(getattr(arm_const, mcu.get_cpu(cpu).unicorn_model))
    for base in (FLASH, RAM, SCS):  # SCS: the startup code enables the FPU there
        uc.mem_map(base, MEM_BYTES)
    _load_elf(uc, elf.read_bytes())
    sp, pc = struct.unpack("<II", bytes(uc.mem_read(0, 8)))
    uc.reg_write(arm_const.UC_ARM_REG_SP, sp)

    def exit_status(uc):  # bkpt 0xab: the semihosting exit (or a fault's message); ends after the 2-byte bkpt
        op, arg = uc.reg_read(arm_const.UC_ARM_REG_R0), uc.reg_read(arm_const.UC_ARM_REG_R1)
        ok = op == SYS_EXIT and arg == ADP_APPLICATION_EXIT
        return ok, (uc.reg_read(arm_const.UC_ARM_REG_PC) & ~1) + 2

    run = _run_counted(uc, pc | 1, sp, _symbol(elf, "kws_bench_phase"), _thumb_count, exit_status,
                       max_instructions)
    if not run.pop("exit"):
        raise RuntimeError(f"{cpu}: bench firmware did not exit cleanly")
    return run


def part_line(part: dict) -> str:
    """What is left of the report's `part` (flash and RAM), as one line."""
    left = [f"{what} {n:,} B" if n >= 0 else f"{what} {-n:,} B short (does not fit)"
            for what, n in (("flash", part["flash_left_bytes"]), ("RAM", part["ram_left_bytes"]))]
    return (f"left on {part['name']} ({part['flash_bytes'] >> 10} KB flash, {part['ram_bytes'] >> 10} KB RAM): "
            + ", ".join(left))


A64_STACK_TOP = 0x80000000


def count_instructions_a64(elf: Path, max_instructions: int = 4_000_000_000) -> dict:
    """The bare AArch64 build (kwsdk.rpi.build_bare_a64) in unicorn: every
    instruction is 4 bytes; `svc #0` with x0 = main's status ends the run."""
    unicorn = _unicorn()
    from unicorn import arm64_const

    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    entry = _load_elf(uc, elf.read_bytes(), map_pages=True)
    uc.mem_map(A64_STACK_TOP - MEM_BYTES, MEM_BYTES)
    uc.reg_write(arm64_const.UC_ARM64_REG_SP, A64_STACK_TOP)
    uc.reg_write(arm64_const.UC_ARM64_REG_CPACR_EL1, 3 << 20)  # FP/SIMD on, as an OS leaves it

    def exit_status(uc):  # the PC has already moved past the svc
        return uc.reg_read(arm64_const.UC_ARM64_REG_X0) == 0, uc.reg_read(arm64_const.UC_ARM64_REG_PC)

    run = _run_counted(uc, entry, A64_STACK_TOP, _symbol(elf, "kws_bench_phase", "aarch64-linux-gnu-nm"),
                       lambda code: len(code) // 4, exit_status, max_instructions)
    if not run.pop("exit"):
        raise RuntimeError("aarch64: bench program did not exit cleanly")
    return run


A64 = "rpi-aarch64"  # the Raspberry Pi 64-bit build, counted bare in unicorn (no flash/RAM figures)


def report(run_dir: Path, cpu: str, opt: str = "-O2", clock_hz: float = 64e6,
           options: PipelineOptions | None = None, wide: bool = False) -> dict:
    """`cpu`: a Cortex-M core, or "rpi-aarch64" (instructions and stack only);
    `wide`: see kwsdk.export.library_sources."""
    from kwsdk import rpi

    options = options or PipelineOptions()
    a64 = cpu == A64
    cfg, q = load_quantized(run_dir)
    files, meta = library_sources(run_dir, options, cpu=None if a64 else cpu, wide=wide)
    pcm, source = bench_pcm(cfg.features.sample_rate)
    seconds = len(pcm) / cfg.features.sample_rate
    n_frames = len(pcm) // cfg.features.hop_size
    bench = {"kws_bench.c": render("kws_bench.c.j2", "kws_bench.c.j2", n_samples=len(pcm), n_frames=n_frames,
                                   chunk=CHUNK, pcm_source=source,
                                   pcm_array=c_array("int16_t", "kws_bench_pcm", pcm, 16))}
    with tempfile.TemporaryDirectory() as tmp:
        src = write_sources(files, Path(tmp) / "src")
        firmware = src + write_sources(bench, Path(tmp) / "src")
        if a64:
            sizes = []
            run = count_instructions_a64(rpi.build_bare_a64(firmware, Path(tmp) / "kws_bench_a64", opt,
                                                            ("KWS_BENCH",)))
        else:
            sizes = [mcu.footprint(src, cpu, Path(tmp), o) for o in ("-Os", "-O2")]
            elf = mcu.build_firmware(firmware, Path(tmp) / "kws_bench.elf", cpu, opt, bare=True,
                                     defines=["KWS_BENCH"])
            run = count_instructions(elf, cpu)
    macs = q.macs_per_frame()
    per_s = {k: v / seconds for k, v in run["instructions"].items()}
    total = sum(per_s.values())
    res = {"target": cpu, "opt": opt, "weight_layout": meta["weight_layout"], "audio": source, "seconds": seconds,
           "stack_bytes": run["stack_bytes"]}
    if not a64:
        flash = next(s for s in sizes if s["opt"] == opt) if opt in ("-Os", "-O2") else sizes[0]
        ram = flash["static_ram_bytes"] + flash["state_bytes"] + run["stack_bytes"]
        part = mcu.get_cpu(cpu).part
        res.update(flash_bytes=flash["flash_bytes"], ram_bytes=ram, state_bytes=flash["state_bytes"], sizes=sizes,
                   part={"name": part.name, "flash_bytes": part.flash, "ram_bytes": part.ram,
                         "flash_left_bytes": part.flash - flash["flash_bytes"], "ram_left_bytes": part.ram - ram})
    return {
        **res, "instructions_per_second": total,
        "split": {k: per_s[k] for k in ("frontend", "vad", "model", "detector", "other")},
        "frontend_vad_detector_per_second": per_s["frontend"] + per_s["vad"] + per_s["detector"],
        "macs_per_second": macs * cfg.features.frames_per_second,
        "instructions_per_mac_model": per_s["model"] / (macs * cfg.features.frames_per_second),
        "clock_hz": clock_hz, "duty_cycle_estimate": total / clock_hz,
    }
