"""Raspberry Pi targets: the library and driver cross-built for the 64-bit
(aarch64) and 32-bit (armhf) OS, run under user-mode QEMU, verified
bit-exact against the integer reference with events firing."""

from __future__ import annotations

import pytest

from kwsdk.rpi import ARCHES, qemu_command
from tests.helpers import verify_json


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_emulated_verify(arch, qrun):
    r = verify_json(qrun, "--target", f"rpi-{arch}", "--split", "val")
    assert r["target"] == f"rpi-{arch}" and r["c_mismatches"] == 0 and r["events_identical"]
    assert r["n_events"] > 3 and r["agreement"] >= 0.9


def test_qemu_command_uses_the_cross_sysroot(tmp_path):
    cmd = qemu_command("aarch64", tmp_path / "x", ["a", "b"])
    assert cmd[:3] == ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"] and cmd[-2:] == ["a", "b"]


@pytest.mark.parametrize("arch,machine", [("aarch64", 183), ("armhf", 40)])  # ELF e_machine
def test_rpi_export_cross_builds(arch, machine, qrun, tmp_path):
    import json
    import subprocess

    from tests.helpers import kwsdk

    out = tmp_path / "exp"
    kwsdk("export", "--run", qrun, "--out", out, "--target", "rpi", "--arch", arch)
    head = (out / "libkws.so").read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == machine
    assert json.loads((out / "kws_meta.json").read_text())["arch"] == arch
    subprocess.run(["make", "-s", "-C", str(out), "libkws.a"], check=True, capture_output=True)
    native = tmp_path / "native"
    kwsdk("export", "--run", qrun, "--out", native, "--target", "rpi", "--native")
    assert "-mcpu=native" in (native / "Makefile").read_text() and not (native / "libkws.so").exists()
    bad = kwsdk("export", "--run", qrun, "--out", tmp_path / "x", "--target", "rpi", check=False)
    assert bad.returncode == 2 and "--arch" in bad.stderr
