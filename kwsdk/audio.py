"""WAV reading and writing with explicit, one-line failure reasons.

Decoding is done by libsndfile (via soundfile), but the RIFF chunk headers
are checked here first: libsndfile silently returns the partial data of a
truncated file, and a dataset loader must report such a file instead.
Device-safe: numpy, scipy and soundfile only.
"""

from __future__ import annotations

import io
import struct
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from kwsdk.fileio import atomic_write

MIN_SECONDS = 0.1


class AudioError(Exception):
    """A file is not usable audio; the message is a short reason."""


def read_wav(path: str | Path, sample_rate: int = 16000, min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """Read a WAV file as float32 mono in [-1, 1] at `sample_rate`."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise AudioError(f"unreadable: {e.strerror or e}") from None
    return decode_wav(data, sample_rate, min_seconds)


def decode_wav(data: bytes, sample_rate: int = 16000, min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """Decode the bytes of a WAV file; see read_wav."""
    _check_riff(data)
    try:
        x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError) as e:
        raise AudioError(f"unreadable: {_one_line(e)}") from None
    if len(x) == 0:
        raise AudioError("empty (no audio data)")
    if not np.isfinite(x).all():
        raise AudioError("invalid samples (NaN or infinite)")
    seconds = len(x) / sr
    if seconds < min_seconds:
        raise AudioError(f"too short ({seconds:.3g} s < {min_seconds:g} s)")
    y = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    if sr != sample_rate:
        g = gcd(sr, sample_rate)
        y = resample_poly(y, sample_rate // g, sr // g)
    # Float WAVs may exceed full scale and the resampler's filter can ring
    # slightly past it; callers rely on [-1, 1].
    return np.ascontiguousarray(np.clip(y, -1.0, 1.0), dtype=np.float32)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = 16000) -> None:
    """Write 16-bit PCM (samples clipped to [-1, 1]), atomically."""
    pcm = np.round(np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0) * 32767).astype(np.int16)
    # The temporary file's suffix is not .wav, so the format is named explicitly.
    atomic_write(Path(path), lambda p: sf.write(p, pcm, sample_rate, format="WAV", subtype="PCM_16"))


def _check_riff(data: bytes) -> None:
    """Raise AudioError unless `data` is RIFF/WAVE with a complete data chunk."""
    if not data:
        raise AudioError("empty (0-byte file)")
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise AudioError("not a wav file")
    pos, ds64_data_size = 12, None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"ds64" and body + 16 <= len(data):
            # RF64: the real 64-bit data size follows the 64-bit RIFF size.
            (ds64_data_size,) = struct.unpack_from("<Q", data, body + 8)
        if chunk_id == b"data":
            if size == 0xFFFFFFFF and ds64_data_size is not None:
                size = ds64_data_size
            have = len(data) - body
            if size > have:
                raise AudioError(f"truncated (header says {size} data bytes, file has {have})")
            if size == 0:
                raise AudioError("empty (no audio data)")
            return
        pos = body + size + (size & 1)  # chunks are padded to an even length
    raise AudioError("truncated (file ends before the data chunk)")


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split()) or type(e).__name__
