"""Cortex-M builds: compiler flags per core, the test firmware (library +
stdio test driver + targets/mcu startup and linker script) and the
QEMU command that runs it with semihosting.

The library is compiled with the same strict warnings as on the host; the
firmware links newlib-nano with semihosting stdio (rdimon) for the driver's
file access. Cores without a QEMU board build but cannot be run here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from kwsdk.config import ConfigError
from kwsdk.codegen.hostbuild import STRICT_CFLAGS, BuildError, nm_sizes, run_tool
from kwsdk.shipped import shipped_dir

CC = "arm-none-eabi-gcc"
DRIVER_MAX_CHUNK = 4096  # samples per call the test driver (kws_main.c) buffers, where a board does not lower it
CMDLINE_MAX = 511  # characters of the command line the test firmware's startup code takes


@dataclass(frozen=True)
class Part:
    """A small, common microcontroller with the core: what kwsdk report measures the library against."""

    name: str
    flash: int  # bytes
    ram: int


@dataclass(frozen=True)
class Cpu:
    name: str
    flags: tuple[str, ...]
    board: str | None  # QEMU machine, or None when QEMU has none for this core
    unicorn_model: str  # unicorn.arm_const CPU model for instruction counting
    dsp: bool  # has the DSP extension: the generated C stores weights for SXTB16/SMLAD
    part: Part  # the core's smallest common part (report: flash and RAM left on it)
    ld: str = "mps2.ld"  # linker script of the test firmware (targets/mcu), for the board's memory
    max_chunk: int = DRIVER_MAX_CHUNK  # the test driver's KWS_MAIN_MAX_CHUNK: what the board's RAM allows
    # The test firmware's RAM beside .data and .bss (sections.ld). Measured with the default model (2 x 128 GRU)
    # under kwsdk verify: peak stack 696 B on the micro:bit, 604-680 B on the mps2 boards; heap 872 B (newlib's
    # FILE blocks for the driver's two files; its stdio buffers are static).
    stack_reserve: int = 2048
    heap_min: int = 1024


CPUS = {c.name: c for c in [
    # QEMU's micro:bit and unicorn have a Cortex-M0: the same ARMv6-M instruction set.
    Cpu("cortex-m0plus", ("-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"), "microbit",
        "UC_CPU_ARM_CORTEX_M0", False, Part("STM32G031K6", 32 << 10, 8 << 10), "microbit.ld", 1024),
    Cpu("cortex-m3", ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"), "mps2-an385", "UC_CPU_ARM_CORTEX_M3",
        False, Part("STM32F103C8", 64 << 10, 20 << 10)),
    Cpu("cortex-m4", ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"), "mps2-an386",
        "UC_CPU_ARM_CORTEX_M4", True, Part("STM32F401CC", 256 << 10, 64 << 10)),
    Cpu("cortex-m7", ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"), "mps2-an500",
        "UC_CPU_ARM_CORTEX_M7", True, Part("STM32F722RE", 512 << 10, 256 << 10)),
    Cpu("cortex-m33", ("-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"), None,
        "UC_CPU_ARM_CORTEX_M33", True, Part("STM32L552CE", 512 << 10, 256 << 10)),
]}


def get_cpu(name: str) -> Cpu:
    if name not in CPUS:
        raise ConfigError(f"unknown cpu {name!r}; choose from {', '.join(CPUS)}")
    return CPUS[name]


def support_dir() -> Path:
    """targets/mcu: startup code and linker scripts (also in an installed wheel)."""
    return shipped_dir("targets/mcu")


def _objects(sources: list[Path], prefix: Path, cpu: str, opt: str, defines: Iterable[str] = (),
             include_from: Iterable[Path] = ()) -> list[str]:
    """Compile the C sources for the core with the library's strict warnings,
    headers from the sources' folders (and those of `include_from`); object
    files are named `prefix`.<stem>.o."""
    if shutil.which(CC) is None:
        raise BuildError(f"{CC} not found (install gcc-arm-none-eabi and libnewlib-arm-none-eabi)")
    c = get_cpu(cpu)
    incs = sorted({f"-I{Path(s).parent}" for s in [*sources, *include_from]})
    defs = [f"-D{d}" for d in defines]
    objs = []
    for src in [s for s in sources if str(s).endswith(".c")]:
        obj = prefix.parent / f"{prefix.name}.{Path(src).stem}.o"
        run_tool([CC, *c.flags, *STRICT_CFLAGS, opt, *defs, "-ffunction-sections", "-fdata-sections", *incs,
              "-c", str(src), "-o", str(obj)])
        objs.append(str(obj))
    return objs


def build_firmware(sources: Iterable[Path], out: Path, cpu: str, opt: str = "-O2", bare: bool = False,
                   defines: Iterable[str] = ()) -> Path:
    """Link the library, a driver and the startup code into an ELF: with
    semihosting stdio for QEMU, or `bare` (no stdio, KWS_BARE) for counting
    instructions in an emulator without semihosting file access. The link
    reserves the core's stack and heap (sections.ld); a firmware whose RAM
    does not fit is a ConfigError that names the sizes."""
    c = get_cpu(cpu)
    objs = _objects([*sources, support_dir() / "startup.c"], out, cpu, opt,
                    [*defines, f"KWS_MAIN_MAX_CHUNK={c.max_chunk}", f"KWS_CMDLINE_MAX={CMDLINE_MAX}u",
                     *(["KWS_BARE"] if bare else [])])
    specs = ["--specs=nano.specs"] + ([] if bare else ["--specs=rdimon.specs"])
    # The bare build runs in unicorn, not on a board: the large memory of mps2.ld.
    ld = "mps2.ld" if bare else c.ld
    mapfile = Path(f"{out}.map")
    try:
        run_tool([CC, *c.flags, "-nostartfiles", *specs, "-Wl,--gc-sections", f"-Wl,-Map={mapfile}",
                  f"-Wl,--defsym=__kws_stack_reserve={c.stack_reserve},--defsym=__kws_heap_min={c.heap_min}",
                  f"-L{support_dir()}", "-T", str(support_dir() / ld), *objs, "-o", str(out)])
    except BuildError as e:
        if "kwsdk: RAM overflow" not in str(e):
            raise
        m = firmware_memory(mapfile)
        raise ConfigError(
            f"{out.name}: the {cpu} test firmware needs {m['needed']:,} B of RAM but {ld} has {m['ram']:,} B: "
            f".data + .bss {m['static']:,} (.data {m['data']:,}, .bss {m['bss']:,}) + heap {m['heap_min']:,} + "
            f"stack reserve {m['stack_reserve']:,} B ({m['needed'] - m['ram']:,} B over; a smaller model fits, or a "
            "core on a board with more RAM)") from None
    return out


def firmware_memory(mapfile: Path) -> dict:
    """RAM of a linked (or refused) firmware from its linker map: the RAM
    region, .data and .bss (`static`: both with their alignment, up to the
    heap's start) and the heap and stack the link reserved (sections.ld)."""
    text = mapfile.read_text()
    origin, ram = (int(v, 16) for v in re.search(r"^RAM\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)", text, re.M).groups())
    sections = {name: int(v, 16) for name, v in re.findall(r"^\.(data|bss)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)", text, re.M)}
    symbols = {name: int(v, 16) for v, name in re.findall(r"^\s+(0x[0-9a-f]+)\s+(\w+) = ", text, re.M)}
    m = {"ram": ram, "data": sections["data"], "bss": sections["bss"], "static": symbols["__heap_start"] - origin,
         "heap_min": symbols["__kws_heap_min"], "stack_reserve": symbols["__kws_stack_reserve"]}
    m["needed"] = m["static"] + m["heap_min"] + m["stack_reserve"]
    return m


def qemu_command(cpu: str, elf: Path, args: list[str]) -> list[str]:
    """The command that runs `elf` with argv [elf, *args] on the core's QEMU board."""
    c = get_cpu(cpu)
    if c.board is None:
        raise ConfigError(f"QEMU has no board for {cpu}: it can be built but not run here")
    parts = [elf.name, *map(str, args)]
    if any("," in p or " " in p for p in parts):
        raise ConfigError(f"semihosting arguments cannot hold commas or spaces: {parts}")
    if len(" ".join(parts)) > CMDLINE_MAX:
        raise ConfigError(f"semihosting command line over {CMDLINE_MAX} characters: {' '.join(parts)}")
    return ["qemu-system-arm", "-M", c.board, "-nographic", "-monitor", "none", "-serial", "none",
            "-semihosting-config", "enable=on,target=native," + ",".join(f"arg={p}" for p in parts),
            "-kernel", str(elf)]


def footprint(sources: Iterable[Path], cpu: str, work: Path, opt: str = "-Os") -> dict:
    """Flash and RAM of the library alone (pass only its sources) for a core: `size` of its objects
    (flash = text, which holds code and const tables, + data; static RAM =
    data + bss) and sizeof(kws_t) as the target's compiler lays it out."""
    sources = list(sources)
    objs = _objects(sources, work / f"lib{opt}", cpu, opt)
    probe = work / "sizeof_probe.c"
    probe.write_text('#include "kws.h"\nchar kws_sizeof_probe[sizeof(kws_t)];\n')
    probe_obj = _objects([probe], work / "probe", cpu, opt, include_from=sources)[0]
    out = subprocess.run(["arm-none-eabi-size", "-B", "-t", *objs], capture_output=True, text=True, check=True)
    text, data, bss = map(int, out.stdout.strip().splitlines()[-1].split()[:3])
    state = nm_sizes(Path(probe_obj), "arm-none-eabi-nm")["kws_sizeof_probe"][1]
    return {"cpu": cpu, "opt": opt, "flash_bytes": text + data, "static_ram_bytes": data + bss,
            "state_bytes": state}
