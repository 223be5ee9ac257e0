"""Atomic file writes (outputs appear whole or not at all), the cache
folder, and progress bars."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

from tqdm import tqdm

PROGRESS_DELAY_S = 2.0  # a bar appears only for work that takes longer: one bar per step that takes seconds


def progress_bar(iterable=None, enabled: bool = True, **kw) -> tqdm:
    """A tqdm bar on stderr, shown once the work has taken PROGRESS_DELAY_S."""
    return tqdm(iterable, disable=not enabled, delay=PROGRESS_DELAY_S, file=sys.stderr, **kw)


def default_cache_dir() -> Path:
    """Where kwsdk caches decoded audio, features and host builds."""
    return Path(os.environ.get("KWSDK_CACHE", Path.home() / ".cache" / "kwsdk"))


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp_path) then rename tmp_path over path (same folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda p: p.write_bytes(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text))


def atomic_make_dir(path: Path, fill: Callable[[Path], None]) -> Path:
    """Create folder `path` whole: fill a temporary sibling, then rename it.
    If another process got there first, its folder is kept."""
    path = Path(path)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        fill(tmp)
        os.rename(tmp, path)
    except OSError:
        if not path.exists():
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def atomic_write_npz(path: Path, arrays: dict) -> None:
    """np.savez of `arrays` to `path`, atomically."""
    import numpy as np

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(Path(path), write)
