"""`kwsdk data fetch`: download a public data set, check it, unpack it safely.

The archive is downloaded beside the output folder (OUT.download), resumed
with an HTTP range request (or a seek, for a local file) when a previous
run was cut off, and checked against the size and SHA-256 kept here before
anything is unpacked. It is unpacked into a temporary folder beside OUT
and renamed to OUT only when every member is out: a truncated or corrupt
archive leaves no half-unpacked folder, and no member may land outside
OUT (absolute names, `..`, links that point out, devices). OUT then holds
FETCHED (what was fetched, and its checksum), so running again is a no-op;
the download is deleted once unpacked.

--url (or $KWSDK_DATA_URL) points at a mirror, a file:// URL or a local
path; the size and checksum are checked all the same. Device-safe: the
standard library and tqdm only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


from kwsdk.fileio import atomic_write_text, progress_bar

FETCHED = ".kwsdk-fetched.json"
URL_ENV = "KWSDK_DATA_URL"
BLOCK = 1 << 20
# Python's own member filter where it has one (3.11.4+), behind kwsdk's checks.
SAFE = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


class FetchError(Exception):
    """A download, check or unpacking failed; the message names the file and the reason."""


@dataclass(frozen=True)
class Archive:
    name: str
    url: str
    size: int  # bytes
    sha256: str


# Google's Speech Commands (Warden 2018, CC BY 4.0); checksums as published
# with torchaudio's and TensorFlow Datasets' loaders.
ARCHIVES = {
    ("speech-commands", "0.02"): Archive(
        "speech_commands_v0.02.tar.gz", "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
        2_428_923_189, "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58"),
    ("speech-commands", "0.01"): Archive(
        "speech_commands_v0.01.tar.gz", "http://download.tensorflow.org/data/speech_commands_v0.01.tar.gz",
        1_488_293_908, "743935421bb51cccdb6bdd152e04c5c70274e935c82119ad7faeec31780d811d"),
}


def archive_for(dataset: str, version: str) -> Archive:
    try:
        return ARCHIVES[(dataset, version)]
    except KeyError:
        known = ", ".join(f"{d} {v}" for d, v in sorted(ARCHIVES))
        raise FetchError(f"no data set {dataset!r} version {version!r}; kwsdk knows: {known}") from None


def fetch(archive: Archive, out: Path, url: str | None = None, progress: bool = True, log=print) -> dict:
    """Download, check and unpack `archive` into `out` (see the module
    docstring); returns what FETCHED records, with "fetched": False when
    `out` already held it."""
    out = Path(out)
    url = url or os.environ.get(URL_ENV) or archive.url
    marker = out / FETCHED
    if marker.exists():
        done = json.loads(marker.read_text())
        if done.get("sha256") == archive.sha256:
            log(f"{out}: already holds {archive.name}; nothing to do")
            return {**done, "fetched": False}
        raise FetchError(f"{out}: holds another fetched archive ({done.get('archive')}); choose another --out")
    if out.exists() and any(out.iterdir()):
        raise FetchError(f"{out}: exists and is not empty; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".download")
    download(url, part, archive.name, archive.size, progress, log)
    check(part, archive, progress)
    n = unpack(part, out, progress)
    info = {"archive": archive.name, "url": url, "size": archive.size, "sha256": archive.sha256, "members": n}
    atomic_write_text(marker, json.dumps(info, indent=2) + "\n")
    part.unlink()
    log(f"{out}: {n:,} files from {archive.name}")
    return {**info, "fetched": True}


def _open(url: str, start: int):
    """(stream, bytes already there that it continues from, the whole file's
    size if known): a local path or file:// URL is seeked; an HTTP server is
    asked for the rest with a range request, and one that ignores it starts
    again from 0."""
    local = url[len("file://"):] if url.startswith("file://") else url if "://" not in url else None
    if local is not None:
        try:
            f = open(local, "rb")
        except OSError as e:
            raise FetchError(f"{local}: cannot read ({e.strerror})") from None
        f.seek(start)
        return f, start, os.fstat(f.fileno()).st_size
    req = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        resp = urllib.request.urlopen(req, timeout=60)
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # nothing left to send
            return None, start, None
        raise FetchError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise FetchError(f"{url}: cannot download ({getattr(e, 'reason', e)})") from None
    start = start if resp.status == 206 else 0
    length = resp.headers.get("Content-Length")
    return resp, start, start + int(length) if length else None


def download(url: str, part: Path, name: str, size: int, progress: bool, log) -> None:
    """Bring `part` to `size` bytes from `url`, continuing what is there."""
    have = part.stat().st_size if part.exists() else 0
    if have > size:  # not a prefix of this archive
        part.unlink()
        have = 0
    if have == size:
        return
    if have:
        log(f"resuming {part.name} at {have:,} of {size:,} bytes")
    stream, start, total = _open(url, have)
    if stream is None:
        return
    if total is not None and total != size:
        stream.close()
        raise FetchError(f"{url}: {total:,} bytes, but {name} has {size:,}: not that archive")
    with stream, open(part, "r+b" if start else "wb") as f, \
            progress_bar(None, progress, total=size, initial=start, unit="B", unit_scale=True, desc="download") as bar:
        f.seek(start)
        f.truncate()
        try:
            while block := stream.read(BLOCK):
                f.write(block)
                bar.update(len(block))
        except OSError as e:  # a dropped connection: what arrived stays for the next run
            raise FetchError(f"{url}: download cut off at {f.tell():,} of {size:,} bytes ({e}); "
                             "run again to resume") from None
    got = part.stat().st_size
    if got < size:
        raise FetchError(f"{url}: download ended at {got:,} of {size:,} bytes; run again to resume")


def check(part: Path, archive: Archive, progress: bool) -> None:
    """Size and SHA-256; a file that fails is deleted (it cannot be resumed)."""
    got = part.stat().st_size
    h = hashlib.sha256()
    with open(part, "rb") as f, progress_bar(None, progress, total=got, unit="B", unit_scale=True,
                                             desc="checksum") as bar:
        while block := f.read(BLOCK):
            h.update(block)
            bar.update(len(block))
    if got != archive.size or h.hexdigest() != archive.sha256:
        part.unlink()
        raise FetchError(f"{part}: not {archive.name} ({got:,} bytes, SHA-256 {h.hexdigest()}; expected "
                         f"{archive.size:,} bytes, SHA-256 {archive.sha256}); deleted it")


def _member_problem(m: tarfile.TarInfo) -> str | None:
    """Why a member may not be unpacked (None: it may)."""
    name = PurePosixPath(m.name)
    if name.is_absolute() or ".." in name.parts:
        return "its path leaves the output folder"
    if m.issym() or m.islnk():
        # A link's target, from the member's folder (symlink) or the root (hard link).
        target = PurePosixPath(m.linkname)
        base = name.parent if m.issym() else PurePosixPath()
        if target.is_absolute() or _escapes(base / target):
            return f"it links outside the output folder ({m.linkname})"
    elif not (m.isfile() or m.isdir()):
        return "it is a device, fifo or other special file"
    return None


def _escapes(path: PurePosixPath) -> bool:
    depth = 0
    for p in path.parts:
        depth += -1 if p == ".." else 0 if p == "." else 1
        if depth < 0:
            return True
    return False


def unpack(part: Path, out: Path, progress: bool) -> int:
    """Every member into a temporary folder beside `out`, then renamed to it;
    returns the number of files."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        n = 0
        with tarfile.open(part, "r:*") as tar, progress_bar(None, progress, unit=" files", desc="unpack") as bar:
            for m in tar:
                problem = _member_problem(m)
                if problem:
                    part.unlink()
                    raise FetchError(f"{part}: member {m.name!r} refused: {problem}; deleted the archive")
                tar.extract(m, tmp, set_attrs=False, **SAFE)
                n += m.isfile()
                bar.update(1)
            while tar.fileobj.read(BLOCK):  # to the end, where gzip's CRC is checked
                pass
        if out.exists():
            out.rmdir()  # empty (checked by fetch)
        os.replace(tmp, out)
        return n
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        part.unlink()
        raise FetchError(f"{part}: corrupt or truncated archive ({e}); deleted it") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
