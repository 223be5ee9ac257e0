"""Raspberry Pi builds: cross compilers and flags for the 64-bit OS
(aarch64: Pi 3, 4 and 5) and the 32-bit OS (armhf, ARMv7 with NEON: Pi 2 and
later), the user-mode QEMU command that runs a cross-built program
against the cross sysroot on this host (no binfmt needed), and a bare
AArch64 build (no OS, no libc) for counting instructions in an emulator."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from kwsdk.config import ConfigError
from kwsdk.codegen.hostbuild import STRICT_CFLAGS, BuildError, run_tool
from kwsdk.shipped import shipped_dir


@dataclass(frozen=True)
class Arch:
    name: str
    cc: str
    flags: tuple[str, ...]
    sysroot: str
    qemu: str
    package: str  # the Debian package of the cross compiler


ARCHES = {a.name: a for a in [
    Arch("aarch64", "aarch64-linux-gnu-gcc", ("-march=armv8-a", "-mtune=cortex-a72"), "/usr/aarch64-linux-gnu",
         "qemu-aarch64", "gcc-aarch64-linux-gnu"),
    Arch("armhf", "arm-linux-gnueabihf-gcc", ("-march=armv7-a", "-mfpu=neon-vfpv4", "-mfloat-abi=hard",
                                              "-mtune=cortex-a7"), "/usr/arm-linux-gnueabihf", "qemu-arm",
          "gcc-arm-linux-gnueabihf"),
]}


def get_arch(name: str) -> Arch:
    if name not in ARCHES:
        raise ConfigError(f"unknown Raspberry Pi architecture {name!r}; choose from {', '.join(ARCHES)}")
    arch = ARCHES[name]
    if shutil.which(arch.cc) is None:
        raise BuildError(f"{arch.cc} not found (install {arch.package})")
    return arch


def qemu_command(arch: str, exe: Path, args: list[str]) -> list[str]:
    a = ARCHES[arch]
    return [a.qemu, "-L", a.sysroot, str(exe), *map(str, args)]


def build_bare_a64(sources: list[Path], out: Path, opt: str = "-O2", defines: tuple[str, ...] = ()) -> Path:
    """Link the library and a driver (with the library's strict warnings)
    with targets/rpi/bare_a64.c into a static AArch64 ELF that needs
    no OS: the input of kwsdk.verify.report's instruction counts."""
    a = get_arch("aarch64")
    start = shipped_dir("targets/rpi") / "bare_a64.c"
    base = [a.cc, *a.flags, opt, "-ffreestanding", "-fno-pie", "-ffunction-sections", "-fdata-sections"]
    incs = sorted({f"-I{Path(s).parent}" for s in sources})
    objs = []
    jobs = [(src, [*STRICT_CFLAGS, *(f"-D{d}" for d in defines), *incs]) for src in sources if src.suffix == ".c"]
    jobs.append((start, ["-fno-tree-loop-distribute-patterns"]))  # its loops must not call themselves
    for src, extra in jobs:
        obj = out.parent / f"{out.name}.{src.stem}.o"
        run_tool([*base, *extra, "-c", str(src), "-o", str(obj)])
        objs.append(str(obj))
    run_tool([a.cc, *a.flags, "-nostdlib", "-static", "-no-pie", "-Wl,--gc-sections", "-e", "_start", *objs,
          "-lgcc", "-o", str(out)])
    return out
