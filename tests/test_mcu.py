"""Cortex-M: the library and test firmware build for every supported core
with the library's strict warnings; the emulated runs (QEMU mps2 boards,
semihosting) verify bit-exact against the integer reference; a fault is
reported as a failure, never as a pass."""

from __future__ import annotations

import json
import subprocess

import pytest

from kwsdk.codegen.library import driver_source
from kwsdk.export import library_sources
from kwsdk.hostbuild import write_sources
from kwsdk.mcu import CPUS, build_firmware, qemu_command, support_dir
from kwsdk.pipeline import PipelineOptions
from tests.helpers import kwsdk, verify_json


@pytest.mark.parametrize("cpu", sorted(CPUS))
def test_firmware_builds_for_every_core(cpu, qrun, tmp_path):
    files, _ = library_sources(qrun, PipelineOptions())
    files["kws_main.c"] = driver_source("gru")
    elf = build_firmware(write_sources(files, tmp_path / "src"), tmp_path / "kws_main.elf", cpu)
    head = subprocess.run(["arm-none-eabi-readelf", "-h", str(elf)], capture_output=True, text=True).stdout
    assert "ARM" in head and "EXEC" in head


@pytest.mark.parametrize("cpu", ["cortex-m3", "cortex-m4", "cortex-m7"])
def test_emulated_verify(cpu, qrun):
    r = verify_json(qrun, "--target", cpu, "--split", "val")
    assert r["target"] == cpu and r["c_mismatches"] == 0 and r["events_identical"] and r["n_events"] > 3


def test_fault_is_a_failure(tmp_path):
    src = tmp_path / "fault.c"
    src.write_text("int main(void);\nint main(void)\n{\n    return *(volatile int *)0xF0000000u;\n}\n")
    elf = build_firmware([src], tmp_path / "fault.elf", "cortex-m4")
    p = subprocess.run(["timeout", "60", *qemu_command("cortex-m4", elf, [])], capture_output=True, text=True)
    assert p.returncode != 0 and "FAULT" in p.stdout + p.stderr and "PASS" not in p.stdout


def test_support_files_are_shipped():
    assert (support_dir() / "startup.c").is_file() and (support_dir() / "mps2.ld").is_file()


@pytest.mark.parametrize("cpu", ["cortex-m0plus", "cortex-m4"])
def test_mcu_export_builds_with_make_and_cmake(cpu, qrun, tmp_path):
    out = tmp_path / "exp"
    res = json.loads(kwsdk("export", "--run", qrun, "--out", out, "--target", "mcu", "--cpu", cpu, "--json").stdout)
    sizes = {m["opt"]: m for m in res["mcu"]}
    assert set(sizes) == {"-Os", "-O2"} and sizes["-Os"]["flash_bytes"] > res["weight_bytes"]
    assert sizes["-Os"]["static_ram_bytes"] == 0  # all state lives in the caller's kws_t
    subprocess.run(["make", "-s", "-C", str(out)], check=True, capture_output=True)
    lib = subprocess.run(["arm-none-eabi-objdump", "-f", str(out / "libkws.a")], capture_output=True, text=True)
    assert "elf32-littlearm" in lib.stdout
    subprocess.run(["cmake", "-S", str(out), "-B", str(tmp_path / "b"), "-DCMAKE_BUILD_TYPE=MinSizeRel",
                    f"-DCMAKE_TOOLCHAIN_FILE={out / 'toolchain-arm-none-eabi.cmake'}"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(tmp_path / "b")], check=True, capture_output=True)
    bad = kwsdk("export", "--run", qrun, "--out", tmp_path / "x", "--cpu", cpu, check=False)
    assert bad.returncode == 2 and "--cpu goes with --target mcu" in bad.stderr
