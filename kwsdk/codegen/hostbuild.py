"""Build generated C on the host: a ctypes shared library (strict warnings)
and standalone executables (optionally under AddressSanitizer and UBSan,
which cannot be loaded into an uninstrumented Python, so they run as
subprocesses)."""

from __future__ import annotations

import ctypes
import os
import subprocess
from pathlib import Path
from typing import Iterable, Mapping

from kwsdk.config import ConfigError
from kwsdk.fileio import atomic_write_text

STRICT_CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Wconversion", "-Werror"]
SANITIZE_CFLAGS = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                   "-fno-omit-frame-pointer"]


class BuildError(RuntimeError):
    pass


EXPORT_META = "kws_meta.json"  # written last into every export folder


def check_export_out(out: Path) -> None:
    """`out` may be new, empty or an earlier export: never someone's other folder."""
    if out.exists() and any(out.iterdir()) and not (out / EXPORT_META).exists():
        raise ConfigError(f"{out}: exists and is not a kwsdk export folder; choose an empty or new folder")


def compiler() -> str:
    return os.environ.get("CC", "gcc")


def write_sources(files: Mapping[str, str], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)  # names may hold a sub-folder
        atomic_write_text(out_dir / name, text)
        paths.append(out_dir / name)
    return paths


def run_tool(cmd: list[str]) -> None:
    """Run a compiler or linker; BuildError with its output if it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)}\n{proc.stdout}{proc.stderr}")


def _compile(cmd: list[str], out: Path) -> None:
    """Run the compiler with output to a temporary name, then rename: a
    library that a process has loaded is never overwritten in place."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        run_tool([*cmd, "-o", str(tmp)])
    except BuildError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)


def _c_sources(sources: Iterable[Path]) -> list[str]:
    return [str(s) for s in sources if str(s).endswith(".c")]


def build_shared(sources: Iterable[Path], out: Path, opt: str = "-O2", cc: str | None = None,
                 arch_flags: Iterable[str] = ()) -> Path:
    """Compile C sources into a shared library (for ctypes on the host, or
    with `cc` and `arch_flags` a cross-compiled one)."""
    sources = list(sources)
    incs = sorted({f"-I{Path(s).parent}" for s in sources})
    _compile([cc or compiler(), *arch_flags, *STRICT_CFLAGS, opt, "-fPIC", "-shared", *incs, *_c_sources(sources)],
             Path(out))
    return out


def build_executable(sources: Iterable[Path], out: Path, sanitize: bool = False, opt: str = "-O2",
                     cc: str | None = None, arch_flags: Iterable[str] = ()) -> Path:
    sources = list(sources)
    incs = sorted({f"-I{Path(s).parent}" for s in sources})
    flags = SANITIZE_CFLAGS if sanitize else [opt]
    _compile([cc or compiler(), *arch_flags, *STRICT_CFLAGS, *flags, *incs, *_c_sources(sources)], Path(out))
    return out


def run_passing(cmd: list[str], name: str, timeout: float) -> subprocess.CompletedProcess:
    """Run a test program (natively or under an emulator): it must exit 0
    and print a PASS line, so a crash or fault is never taken for success."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{name}: timed out after {timeout:.0f} s") from None
    if proc.returncode != 0 or "PASS" not in proc.stdout:
        raise RuntimeError(f"{name} failed (exit {proc.returncode}): {(proc.stdout + proc.stderr)[-2000:]}")
    return proc


def load(lib: Path) -> ctypes.CDLL:
    return ctypes.CDLL(str(Path(lib).resolve()))


def nm_sizes(binary: Path, nm: str = "nm") -> dict[str, tuple[str, int]]:
    """name -> (nm type letter, bytes) for the binary's sized symbols, static ones included."""
    out = subprocess.run([nm, "--size-sort", "-S", str(binary)], capture_output=True, text=True, check=True).stdout
    return {p[3]: (p[2], int(p[1], 16)) for p in (line.split() for line in out.splitlines()) if len(p) == 4}
