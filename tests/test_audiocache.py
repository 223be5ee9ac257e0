"""kwsdk.audiocache: int16 storage, the on-disk cache (keys, atomic writes,
corrupt entries) and parallel decoding."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import kwsdk.audiocache
from kwsdk.audiocache import Pcm, PcmFile, decode_files

SR = 16000


def corpus(root: Path, n: int = 12) -> list[tuple[str, float]]:
    """n 16-bit wavs of different lengths, one FLAC, one bad file; the jobs."""
    rng = np.random.default_rng(0)
    jobs = []
    for i in range(n):
        rel = f"w{i % 3}/c{i}.wav" if i else "w0/c0.flac"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, rng.integers(-32768, 32768, SR // 2 + 100 * i).astype(np.int16), SR,
                 subtype="PCM_16")
        jobs.append((rel, 0.1))
    (root / "w1" / "bad.wav").write_bytes(b"RIFF")
    jobs.append(("w1/bad.wav", 0.1))
    return jobs


def as_arrays(results: dict) -> dict:
    return {rel: r if isinstance(r, str) else r.float32() for rel, r in results.items()}


def test_int16_storage_is_exact_and_read_by_range(tmp_path: Path):
    jobs = corpus(tmp_path)
    mem = decode_files(tmp_path, jobs, SR, False, None)
    disk = decode_files(tmp_path, jobs, SR, False, tmp_path / "cache")
    assert mem["w1/bad.wav"] == disk["w1/bad.wav"] == "not a wav file"
    for rel, _ in jobs[:-1]:
        want = sf.read(tmp_path / rel, dtype="float32")[0]
        assert mem[rel].source.dtype == np.int16 and isinstance(disk[rel].source, PcmFile)
        np.testing.assert_array_equal(mem[rel].float32(), want)
        np.testing.assert_array_equal(disk[rel].float32(), want)
        np.testing.assert_array_equal(disk[rel].float32(100, 300), want[100:300])
        assert len(disk[rel]) == len(want) and len(disk[rel].float32(len(want) - 5, len(want) + 50)) == 5
    f = Pcm.of(np.ones(10, np.float32))  # float audio made in kwsdk stays as it is
    assert f.float32().dtype == np.float32 and f.float32(8).tolist() == [1.0, 1.0]


def test_cache_is_keyed_by_file_and_decoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    jobs = corpus(tmp_path)
    cache = tmp_path / "cache"
    first = as_arrays(decode_files(tmp_path, jobs, SR, False, cache))
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".pcm"]

    def must_not_decode(*a, **k):
        raise AssertionError("cache miss")

    with monkeypatch.context() as m:
        m.setattr(kwsdk.audiocache, "decode_audio", must_not_decode)
        hit = as_arrays(decode_files(tmp_path, jobs, SR, False, cache))
    assert hit.keys() == first.keys() and all(np.array_equal(hit[k], first[k]) for k in first)

    # Same size, new content: the modification time makes a new entry.
    x = np.zeros(SR // 2 + 200, np.int16)
    sf.write(tmp_path / "w2/c2.wav", x, SR, subtype="PCM_16")
    os.utime(tmp_path / "w2/c2.wav", ns=(1, 1))
    changed = decode_files(tmp_path, jobs, SR, False, cache)
    assert not changed["w2/c2.wav"].float32().any() and len(list(cache.glob("*.json"))) == 2

    monkeypatch.setattr(kwsdk.audiocache, "CACHE_VERSION", kwsdk.audiocache.CACHE_VERSION + 1)  # a new decoder
    decode_files(tmp_path, jobs, SR, False, cache)
    assert len(list(cache.glob("*.json"))) == 3


@pytest.mark.parametrize("damage", ["index", "samples"])
def test_damaged_entry_is_decoded_again(tmp_path: Path, damage: str):
    jobs = corpus(tmp_path)
    cache = tmp_path / "cache"
    first = as_arrays(decode_files(tmp_path, jobs, SR, False, cache))
    if damage == "index":
        next(cache.glob("*.json")).write_text('{"version": 3, "paths": [')
    else:
        pcm = next(cache.glob("*.pcm"))
        pcm.write_bytes(pcm.read_bytes()[:-2])
    again = as_arrays(decode_files(tmp_path, jobs, SR, False, cache))
    assert all(np.array_equal(again[k], first[k]) for k in first)


def test_interrupted_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    jobs = corpus(tmp_path)
    cache = tmp_path / "cache"
    calls = []

    def decode_then_fail(data, *a):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(data, *a)

    real = kwsdk.audiocache.decode_audio
    monkeypatch.setattr(kwsdk.audiocache, "decode_audio", decode_then_fail)
    with pytest.raises(KeyboardInterrupt):
        decode_files(tmp_path, jobs, SR, False, cache)
    assert list(cache.iterdir()) == []  # samples written so far are removed, no index: never read


def test_parallel_decoding_equals_serial(tmp_path: Path):
    jobs = corpus(tmp_path, 140)  # more than two chunks
    serial = decode_files(tmp_path, jobs, SR, False, None, workers=1)
    parallel = decode_files(tmp_path, jobs, SR, False, tmp_path / "cache", workers=2)
    assert list(parallel) == [rel for rel, _ in jobs]
    for rel in serial:
        if isinstance(serial[rel], str):
            assert parallel[rel] == serial[rel]
        else:
            np.testing.assert_array_equal(parallel[rel].float32(), serial[rel].float32())
