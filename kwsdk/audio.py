"""Audio file reading and writing with explicit, one-line failure reasons.

WAV, FLAC and OGG (Vorbis) are read, at any length from MIN_SECONDS up,
decoded by libsndfile (via soundfile). A WAV's RIFF chunk headers are
checked here first: libsndfile silently returns the partial data of a
truncated WAV, and a dataset loader must report such a file instead
(libsndfile itself fails on a truncated FLAC or OGG; a decoded length short
of the header's is reported too). Device-safe: numpy, scipy and soundfile only.
"""

from __future__ import annotations

import io
import re
import struct
from math import gcd
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from kwsdk.fileio import atomic_write

MIN_SECONDS = 0.1
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
_MAGIC = {".wav": (b"RIFF", b"RF64"), ".flac": (b"fLaC",), ".ogg": (b"OggS",)}


class AudioError(Exception):
    """A file is not usable audio; the message is a short reason."""


def is_audio_file(path: Path) -> bool:
    """A file that kwsdk reads as audio: by its suffix (.wav, .flac, .ogg)."""
    return path.suffix.lower() in AUDIO_SUFFIXES and path.is_file()


def audio_files(root: Path, skip: str) -> list[Path]:
    """Every audio file below `root`, sorted, but for those in folders named `skip`."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if is_audio_file(p) and skip not in p.relative_to(root).parts)


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] (int16 / 32768) back to int16, exactly."""
    return np.clip(np.round(np.asarray(audio, np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def clip_pcm16(audio: np.ndarray, length: int) -> np.ndarray:
    """Float audio cut or zero-padded to `length` samples, as int16."""
    x = np.zeros(length, np.float64)
    x[: min(length, len(audio))] = audio[:length]
    return to_pcm16(x)


def from_pcm16(pcm: np.ndarray) -> np.ndarray:
    """int16 samples as float32 in [-1, 1): int16 / 32768, the inverse of to_pcm16."""
    return pcm.astype(np.float32) * np.float32(1 / 32768)


def read_audio(path: str | Path, sample_rate: int = 16000, min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """Read an audio file as float32 mono in [-1, 1] at `sample_rate`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise AudioError(f"unreadable: {e.strerror or e}") from None
    return decode_audio(data, sample_rate, min_seconds, path.suffix)


def _check_container(data: bytes, suffix: str, total: int | None = None, tail: bytes | None = None) -> None:
    """The file's first bytes are what its suffix says, a WAV is whole and
    an OGG ends with its last page. `data` may be the file's first bytes when
    `total` gives its size and `tail` its last OGG_PAGE_MAX bytes."""
    suffix = suffix.lower()
    if suffix not in _MAGIC:
        raise AudioError(f"not an audio file (kwsdk reads {', '.join(AUDIO_SUFFIXES)})")
    if suffix == ".wav":
        _check_riff(data, total)
    elif not data:
        raise AudioError("empty (0-byte file)")
    elif not data.startswith(_MAGIC[suffix]):
        raise AudioError(f"not a {suffix[1:]} file")
    elif suffix == ".ogg":
        _check_ogg_end(data[-OGG_PAGE_MAX:] if tail is None else tail)


def _check_ogg_end(tail: bytes) -> None:
    """An OGG file's last bytes (at least its last page, at most 65,307 B)
    must be a whole page that ends the stream: libsndfile decodes an OGG
    cut between pages without a word."""
    start = tail.rfind(b"OggS")
    if start < 0 or start + 27 > len(tail):
        raise AudioError("truncated (no whole last OGG page)")
    n_seg = tail[start + 26]
    body = sum(tail[start + 27 : start + 27 + n_seg])
    if start + 27 + n_seg + body != len(tail) or not tail[start + 5] & 0x04:
        raise AudioError("truncated (the OGG stream does not end with its last page)")


def decode_audio(data: bytes, sample_rate: int = 16000, min_seconds: float = MIN_SECONDS,
                 suffix: str = ".wav") -> np.ndarray:
    """Decode the bytes of an audio file of the format `suffix` names; see read_audio."""
    _check_container(data, suffix)
    try:
        f = sf.SoundFile(io.BytesIO(data))
        with f:
            x = f.read(dtype="float32", always_2d=True)
            sr, expected = f.samplerate, f.frames
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError) as e:
        raise AudioError(f"unreadable: {_one_line(e)}") from None
    if len(x) == 0:
        raise AudioError("empty (no audio data)")
    if len(x) < expected:
        raise AudioError(f"truncated (header says {expected} samples, decoded {len(x)})")
    if not np.isfinite(x).all():
        raise AudioError("invalid samples (NaN or infinite)")
    seconds = len(x) / sr
    if seconds < min_seconds:
        raise AudioError(f"too short ({seconds:.3g} s < {min_seconds:g} s)")
    y = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    if sr != sample_rate:
        from scipy.signal import resample_poly  # 70 MB and 0.7 s of imports: only when resampling

        g = gcd(sr, sample_rate)
        y = resample_poly(y, sample_rate // g, sr // g)
    # Float WAVs may exceed full scale and the resampler's filter can ring
    # slightly past it; callers rely on [-1, 1].
    return np.ascontiguousarray(np.clip(y, -1.0, 1.0), dtype=np.float32)


HEADER_BYTES = 1 << 20  # enough for the chunks before a wav's data chunk
OGG_PAGE_MAX = 65_307  # bytes: 27 + 255 segment sizes + 255 x 255 body


def audio_blocks(path: str | Path, sample_rate: int, block: int) -> Iterator[np.ndarray]:
    """An audio file as float32 mono blocks of `block` samples at `sample_rate`,
    decoded block by block so that memory stays small however long the
    file. A file at another rate is decoded whole and resampled. Errors
    (AudioError) name the file; they are raised before the first block."""
    path = Path(path)
    try:
        size = path.stat().st_size
        tail = None
        with open(path, "rb") as f:
            head = f.read(HEADER_BYTES)
            if path.suffix.lower() == ".ogg":
                f.seek(max(0, size - OGG_PAGE_MAX))
                tail = f.read()
        _check_container(head, path.suffix, size, tail)
        info = sf.info(str(path))
    except OSError as e:
        raise AudioError(f"{path}: unreadable: {e.strerror or e}") from None
    except AudioError as e:
        raise AudioError(f"{path}: {e}") from None
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError) as e:
        raise AudioError(f"{path}: unreadable: {_one_line(e)}") from None
    return _audio_blocks(path, sample_rate, block, info.samplerate)


def _audio_blocks(path: Path, sample_rate: int, block: int, file_rate: int) -> Iterator[np.ndarray]:
    if file_rate != sample_rate:
        try:
            y = read_audio(path, sample_rate)
        except AudioError as e:
            raise AudioError(f"{path}: {e}") from None
        yield from (y[i : i + block] for i in range(0, len(y), block))
        return
    try:
        with sf.SoundFile(str(path)) as f:
            for x in f.blocks(blocksize=block, dtype="float32", always_2d=True):
                y = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
                yield np.clip(np.nan_to_num(y), -1.0, 1.0)
    except (sf.SoundFileError, RuntimeError) as e:  # a FLAC or OGG cut short shows only when decoded
        raise AudioError(f"{path}: unreadable: {_one_line(e)}") from None


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = 16000) -> None:
    """Write 16-bit PCM (samples clipped to [-1, 1]), atomically."""
    pcm = np.round(np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0) * 32767).astype(np.int16)
    # The temporary file's suffix is not .wav, so the format is named explicitly.
    atomic_write(Path(path), lambda p: sf.write(p, pcm, sample_rate, format="WAV", subtype="PCM_16"))


def _check_riff(data: bytes, total: int | None = None) -> None:
    """Raise AudioError unless `data` is RIFF/WAVE with a complete data chunk.
    `data` may be the file's first bytes when `total` gives its size."""
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
            have = (len(data) if total is None else total) - body
            if size > have:
                raise AudioError(f"truncated (header says {size} data bytes, file has {have})")
            if size == 0:
                raise AudioError("empty (no audio data)")
            return
        pos = body + size + (size & 1)  # chunks are padded to an even length
    raise AudioError("truncated (file ends before the data chunk)")


def _one_line(e: Exception) -> str:
    # libsndfile names the stream it was given ("Error opening <_io.BytesIO object at 0x...>: "), not the file.
    text = re.sub(r"Error opening <[^>]*>: ", "", str(e))
    return " ".join(text.split()) or type(e).__name__
