"""Raspberry Pi targets: the library and driver cross-built for the 64-bit
(aarch64) and 32-bit (armhf) OS, run under user-mode QEMU, verified
bit-exact against the integer reference with events firing."""

from __future__ import annotations

import json

import pytest

from kwsdk.rpi import ARCHES, qemu_command
from tests.helpers import kwsdk, verify_json


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


def test_report_aarch64(qrun):
    """Instruction counts of the Pi's 64-bit build, run bare in unicorn."""
    r = json.loads(kwsdk("report", "--run", qrun, "--target", "rpi-aarch64", "--json").stdout)
    assert r["target"] == "rpi-aarch64" and "flash_bytes" not in r
    assert r["split"]["frontend"] > 0 and r["split"]["model"] > 0 and r["split"]["detector"] > 0
    assert abs(sum(r["split"].values()) - r["instructions_per_second"]) < 1
    assert 0.5 < r["instructions_per_mac_model"] < 20 and 100 < r["stack_bytes"] < 16384


def test_aarch64_counts_are_exact_and_attributed(tmp_path):
    """A loop of n iterations: the count grows by the same amount for every
    extra n, and the part written to kws_bench_phase gets the loop's work."""
    from kwsdk.verify.report import count_instructions_a64
    from kwsdk.rpi import build_bare_a64

    def counts(n: int) -> dict:
        src = tmp_path / f"loop{n}.c"
        src.write_text("#include <stdint.h>\nvolatile uint32_t kws_bench_phase;\nint main(int argc, char **argv);\n"
                       "int main(int argc, char **argv)\n{\n    (void)argc;\n    (void)argv;\n    uint64_t s = 1u;\n"
                       f"    kws_bench_phase = 3u;\n    for (uint32_t i = 0; i < {n}u; i++) {{\n"
                       "        s = s * 2654435761u + i / 3u;\n    }\n    kws_bench_phase = 0u;\n"
                       "    return s == 0u;\n}\n")
        return count_instructions_a64(build_bare_a64([src], tmp_path / f"loop{n}", "-O1"))["instructions"]

    c1, c2, c3 = counts(1000), counts(2000), counts(3000)
    step = c2["model"] - c1["model"]
    assert step >= 3000 and c3["model"] - c2["model"] == step  # >= 3 instructions per iteration
    assert c1["frontend"] == c2["frontend"] == 0 and c1["other"] == c2["other"] > 0
