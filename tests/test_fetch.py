"""`kwsdk data fetch` offline: small archives served on 127.0.0.1 by a server
this test starts (with range requests, and a first response it cuts off),
and every bad case leaving nothing behind."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import random
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from kwsdk.fetch import FETCHED, Archive, FetchError, fetch


def tarball(members: list[tuple[str, bytes | None, str]]) -> bytes:
    """A .tar.gz of (name, content, link target): content None makes a symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content, link in members:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


WAV = b"RIFF" + random.Random(0).randbytes(6000)  # incompressible: the archive is as large
GOOD = tarball([("yes/a_nohash_0.wav", WAV, ""), ("no/b_nohash_0.wav", WAV[:3000], ""),
                ("LICENSE", b"CC BY 4.0\n", ""), ("yes/latest", None, "a_nohash_0.wav")])


def spec(data: bytes, name="sc.tar.gz") -> Archive:
    return Archive(name, "http://unused.invalid/" + name, len(data), hashlib.sha256(data).hexdigest())


class Server:
    """Serves `files` (name -> bytes); honours `Range: bytes=N-`; cuts the
    first response of a name in `cut_once` after that many bytes."""

    def __init__(self, files: dict[str, bytes], cut_once: dict[str, int] | None = None):
        self.files, self.cut, self.ranges = files, dict(cut_once or {}), []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                data = outer.files.get(self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if "Range" in self.headers:
                    start = int(self.headers["Range"].split("=")[1].rstrip("-"))
                    outer.ranges.append(start)
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                cut = outer.cut.pop(self.path.lstrip("/"), None)
                self.wfile.write(data[start:cut] if cut else data[start:])
                if cut:
                    self.close_connection = True

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() and not p.is_symlink() else b""
            for p in sorted(folder.rglob("*"))}


def test_fetch_checks_unpacks_and_is_a_no_op_the_second_time(tmp_path):
    out = tmp_path / "data" / "sc"
    with Server({"sc.tar.gz": GOOD}) as srv:
        r = fetch(spec(GOOD), out, srv.url + "sc.tar.gz", progress=False, log=lambda m: None)
        assert r["fetched"] and r["members"] == 3
        assert (out / "yes" / "a_nohash_0.wav").read_bytes() == WAV
        assert os.readlink(out / "yes" / "latest") == "a_nohash_0.wav"
        before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
        again = fetch(spec(GOOD), out, srv.url + "sc.tar.gz", progress=False, log=lambda m: None)
    assert not again["fetched"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    # Only the data set is left: no download, no temporary folder.
    assert sorted(p.name for p in out.parent.iterdir()) == ["sc"] and (out / FETCHED).exists()


def test_a_cut_off_download_is_resumed_with_a_range_request(tmp_path):
    out = tmp_path / "sc"
    with Server({"sc.tar.gz": GOOD}, cut_once={"sc.tar.gz": 1000}) as srv:
        with pytest.raises(FetchError, match="1,000 of"):
            fetch(spec(GOOD), out, srv.url + "sc.tar.gz", progress=False, log=lambda m: None)
        assert (tmp_path / "sc.download").stat().st_size == 1000 and not out.exists()
        fetch(spec(GOOD), out, srv.url + "sc.tar.gz", progress=False, log=lambda m: None)
        assert srv.ranges == [1000]
    assert (out / "no" / "b_nohash_0.wav").exists()


def test_a_local_file_is_fetched_like_a_url(tmp_path):
    src = tmp_path / "mirror" / "sc.tar.gz"
    src.parent.mkdir()
    src.write_bytes(GOOD)
    fetch(spec(GOOD), tmp_path / "a", str(src), progress=False, log=lambda m: None)
    fetch(spec(GOOD), tmp_path / "b", src.as_uri(), progress=False, log=lambda m: None)
    a, b = listing(tmp_path / "a"), listing(tmp_path / "b")
    assert a.pop(FETCHED) != b.pop(FETCHED) and a == b  # the same files; each says where it came from
    assert src.read_bytes() == GOOD  # the user's file is only read


@pytest.mark.parametrize("case", ["wrong checksum", "corrupt", "truncated", "traversal", "absolute",
                                  "symlink out", "symlink absolute"])
def test_bad_archives_are_one_line_errors_that_leave_nothing(case, tmp_path):
    data, archive = GOOD, None
    if case == "wrong checksum":
        archive = Archive("sc.tar.gz", "", len(GOOD), "0" * 64)
    elif case == "corrupt":
        data = GOOD[:2000] + bytes(b ^ 0xFF for b in GOOD[2000:2100]) + GOOD[2100:]
    elif case == "truncated":
        data = GOOD[: len(GOOD) // 2]
    else:
        bad = {"traversal": ("../evil.txt", b"x", ""), "absolute": (str(tmp_path / "evil.txt"), b"x", ""),
               "symlink out": ("yes/evil", None, "../../../evil.txt"),
               "symlink absolute": ("evil", None, "/etc/passwd")}[case]
        data = tarball([("yes/a_nohash_0.wav", b"RIFF", ""), bad])
    archive = archive or spec(data)
    (tmp_path / "keep.txt").write_text("a user's file")
    before = listing(tmp_path)
    with Server({"sc.tar.gz": data}) as srv:
        with pytest.raises(FetchError) as e:
            fetch(archive, tmp_path / "sc", srv.url + "sc.tar.gz", progress=False, log=lambda m: None)
    assert "\n" not in str(e.value) and "sc.download" in str(e.value)
    assert listing(tmp_path) == before


def test_an_occupied_folder_is_refused(tmp_path):
    out = tmp_path / "sc"
    out.mkdir()
    (out / "mine.wav").write_bytes(b"data")
    with pytest.raises(FetchError, match="not empty"):
        fetch(spec(GOOD), out, "unused", progress=False, log=lambda m: None)
    assert listing(out) == {"mine.wav": b"data"}


def test_cli_names_the_file_and_the_reason(tmp_path):
    """The real Speech Commands entry, pointed at an archive that is not it."""
    src = tmp_path / "fake.tar.gz"
    src.write_bytes(GOOD)
    p = subprocess.run([sys.executable, "-m", "kwsdk.cli", "data", "fetch", "speech-commands", "--out",
                        str(tmp_path / "sc"), "--quiet"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "KWSDK_DATA_URL": str(src)})
    assert p.returncode == 2
    assert p.stderr.startswith("kwsdk: error: ") and p.stderr.count("\n") == 1
    assert "speech_commands_v0.02.tar.gz" in p.stderr and "2,428,923,189" in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["fake.tar.gz"]
