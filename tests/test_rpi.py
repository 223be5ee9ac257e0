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
