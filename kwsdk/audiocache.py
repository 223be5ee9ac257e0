"""Decoding many audio files once, on every core, into compact int16 storage.

A data set is decoded to int16 (exact for 16-bit sources: the float audio
kwsdk works with is int16 / 32768) and, with a cache folder, written once to
a raw sample file that later runs read clip by clip (`pread`): memory then
stays small at any data size, and a warm start reads no audio file. Without
a cache folder the int16 samples stay in memory.

The cache is keyed by every file's relative path, size and modification
time, the sample rate, the decoder (libsndfile's version) and CACHE_VERSION:
a changed file or decoder makes a new entry. An entry is a sample file and
an index (paths, reasons, offsets) written after it, both atomically: a
partial write is never read. Device-safe: no torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from kwsdk.audio import AudioError, decode_audio, from_pcm16, to_pcm16
from kwsdk.fileio import atomic_write, atomic_write_text, progress_bar

CACHE_VERSION = 3  # bump when decoding or the format changes (2: FLAC and OGG; 3: int16 sample files)
PARALLEL_MIN_FILES = 2000  # below this, starting worker processes costs more than it saves
CHUNK_FILES = 64  # files per task sent to a worker


class PcmFile:
    """A raw int16 sample file, read by position (safe across threads and forks)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def read(self, start: int, stop: int) -> np.ndarray:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        data = os.pread(self._fd, 2 * (stop - start), 2 * start)
        if len(data) != 2 * (stop - start):
            raise OSError(f"{self.path}: cache file shorter than its index")
        return np.frombuffer(data, np.int16)

    def __del__(self):
        if self._fd is not None:
            os.close(self._fd)


@dataclass(frozen=True)
class Pcm:
    """One recording's samples: int16 in memory or in a PcmFile, or float32
    in memory (audio made in kwsdk, e.g. silence cut from noise)."""

    source: np.ndarray | PcmFile
    start: int
    stop: int

    @staticmethod
    def of(samples: np.ndarray) -> Pcm:
        return Pcm(samples, 0, len(samples))

    def __len__(self) -> int:
        return self.stop - self.start

    def float32(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Samples [start, stop) of the recording as float32 in [-1, 1]."""
        stop = len(self) if stop is None else min(stop, len(self))
        start = min(max(start, 0), stop)
        if isinstance(self.source, PcmFile):
            return from_pcm16(self.source.read(self.start + start, self.start + stop))
        x = self.source[self.start + start : self.start + stop]
        return x if x.dtype == np.float32 else from_pcm16(x)


def samples(x: np.ndarray | Pcm) -> np.ndarray:
    """Float32 audio of an array or a Pcm."""
    return x.float32() if isinstance(x, Pcm) else x


Result = Pcm | str  # the decoded audio, or the reason it could not be used


def decode_files(root: Path, jobs: list[tuple[str, float]], sample_rate: int, progress: bool,
                 cache_dir: Path | None, workers: int | None = None) -> dict[str, Result]:
    """Decode every (path relative to root, min_seconds) job: relative path ->
    Pcm, or the reason the file is unusable. workers: processes (default:
    every core the process may use, for PARALLEL_MIN_FILES files or more)."""
    if cache_dir is None:
        return {rel: r if isinstance(r, str) else Pcm.of(r)
                for rel, r in _decode_all(root, jobs, sample_rate, progress, workers)}
    key = hashlib.sha1(json.dumps([CACHE_VERSION, sf.__libsndfile_version__, sample_rate, jobs]).encode())
    for rel, _ in jobs:
        try:
            st = os.stat(root / rel)
            key.update(f"{st.st_size} {st.st_mtime_ns}\n".encode())
        except OSError:
            key.update(b"unreadable\n")  # decoding will report the reason
    base = Path(cache_dir) / f"audio-{key.hexdigest()[:24]}"
    index, pcm = base.with_suffix(".json"), base.with_suffix(".pcm")
    rels = [rel for rel, _ in jobs]
    results = _load(index, pcm, rels)
    if results is None:
        _write(index, pcm, _decode_all(root, jobs, sample_rate, progress, workers))
        results = _load(index, pcm, rels)
        if results is None:
            raise OSError(f"{index}: the cache just written cannot be read back")
    return results


def _decode_all(root: Path, jobs: list[tuple[str, float]], sample_rate: int, progress: bool,
                workers: int | None) -> Iterator[tuple[str, np.ndarray | str]]:
    """(relative path, int16 samples or reason) for every job, in order."""
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if len(jobs) >= PARALLEL_MIN_FILES else 1
    chunks = [[(str(root), rel, m, sample_rate) for rel, m in jobs[i : i + CHUNK_FILES]]
              for i in range(0, len(jobs), CHUNK_FILES)]
    # fork: spawn would re-run the caller's main script. The workers only
    # use libsndfile and numpy, so torch's threads in the parent are harmless.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) if workers > 1 else None
    with progress_bar(total=len(jobs), enabled=progress, desc="decoding", unit="file") as bar, \
            pool or contextlib.nullcontext():
        for part in (pool.map if pool else map)(_decode_chunk, chunks):
            bar.update(len(part))
            yield from part


def _decode_chunk(chunk: list[tuple[str, str, float, int]]) -> list[tuple[str, np.ndarray | str]]:
    out: list[tuple[str, np.ndarray | str]] = []
    for root, rel, min_seconds, sample_rate in chunk:
        try:
            data = (Path(root) / rel).read_bytes()
            out.append((rel, to_pcm16(decode_audio(data, sample_rate, min_seconds, Path(rel).suffix))))
        except OSError as e:
            out.append((rel, f"unreadable: {e.strerror or e}"))
        except AudioError as e:
            out.append((rel, str(e)))
    return out


def _write(index: Path, pcm: Path, results: Iterator[tuple[str, np.ndarray | str]]) -> None:
    """The samples as they arrive (never all in memory), then the index."""
    paths, errors, offsets = [], [], [0]

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            for rel, r in results:
                paths.append(rel)
                errors.append(r if isinstance(r, str) else "")
                if not isinstance(r, str):
                    f.write(r.tobytes())
                offsets.append(offsets[-1] + (0 if isinstance(r, str) else len(r)))

    atomic_write(pcm, write)
    atomic_write_text(index, json.dumps({"version": CACHE_VERSION, "paths": paths, "errors": errors,
                                         "offsets": offsets}))


def _load(index: Path, pcm: Path, rels: list[str]) -> dict[str, Result] | None:
    """The cached results, or None when the entry is missing, corrupt or for other files."""
    try:
        meta = json.loads(index.read_text())
        paths, errors, offsets = meta["paths"], meta["errors"], meta["offsets"]
        size = pcm.stat().st_size
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if (meta.get("version") != CACHE_VERSION or paths != rels or len(errors) != len(rels)
            or len(offsets) != len(rels) + 1 or size != 2 * offsets[-1]):
        return None
    f = PcmFile(pcm)
    return {rel: err if err else Pcm(f, offsets[i], offsets[i + 1])
            for i, (rel, err) in enumerate(zip(rels, errors))}
