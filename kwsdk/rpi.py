"""Raspberry Pi builds: cross compilers and flags for the 64-bit OS
(aarch64: Pi 3, 4 and 5) and the 32-bit OS (armhf, ARMv7 with NEON: Pi 2 and
later), and the user-mode QEMU command that runs a cross-built program
against the cross sysroot on this host (no binfmt needed)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from kwsdk.config import ConfigError
from kwsdk.hostbuild import BuildError


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
