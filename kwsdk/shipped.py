"""The C side that ships with kwsdk. In a checkout, `codegen/templates/`
(Jinja2 C templates) and `targets/` (Cortex-M startup and linker scripts,
Raspberry Pi service files) sit at the top level beside `kwsdk/`; a wheel
carries them inside the package at the same relative paths (mapped by
pyproject.toml at build time). Device-safe: no torch."""

from __future__ import annotations

from pathlib import Path


def shipped_dir(rel: str) -> Path:
    """The folder `rel` (e.g. "targets/mcu"): inside the installed package,
    else at the checkout's top level (an editable install)."""
    pkg = Path(__file__).resolve().parent
    for d in (pkg / rel, pkg.parent / rel):
        if d.is_dir():
            return d
    raise FileNotFoundError(f"kwsdk's {rel} folder is in neither {pkg / rel} nor {pkg.parent / rel}: reinstall kwsdk")
