"""Two worlds, one boundary: what runs on a device (the daemon with both
backends, detector, pipeline, frontend, integer model, export loading,
audio, data fetching) imports neither torch nor a training module; and the
import graph of kwsdk/ has no cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNTIME = ["kwsdk.daemon", "kwsdk.daemon.backends", "kwsdk.daemon.sources", "kwsdk.daemon.subscribers",
           "kwsdk.detector", "kwsdk.pipeline", "kwsdk.audio", "kwsdk.audiocache", "kwsdk.streams",
           "kwsdk.shipped", "kwsdk.fixedpoint", "kwsdk.config",
           "kwsdk.fetch", "kwsdk.negatives", "kwsdk.data", "kwsdk.tflite.runtime", "kwsdk.frontend.integer",
           "kwsdk.frontend.features", "kwsdk.frontend.vad", "kwsdk.qmodel.model", "kwsdk.qmodel.rnn",
           "kwsdk.qmodel.linear", "kwsdk.qmodel.act", "kwsdk.qmodel.softmax"]
TRAINING = ["torch", "kwsdk.train", "kwsdk.evaluate", "kwsdk.models", "kwsdk.quantize", "kwsdk.onnx_export",
            "kwsdk.augment", "kwsdk.synth"]

BLOCK = """
import importlib, sys
BLOCKED = {blocked!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{{name}} is blocked: a runtime module may not import it")
sys.meta_path.insert(0, Block())
for m in {modules!r}:
    importlib.import_module(m)
from kwsdk.daemon.backends import load_model  # both backends: the library and the .tflite one
print("PASS")
"""


def test_runtime_modules_import_without_torch_or_training_code():
    p = subprocess.run([sys.executable, "-c", BLOCK.format(blocked=TRAINING, modules=RUNTIME)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "PASS" in p.stdout, p.stderr[-2000:]


def test_the_block_catches_a_training_import():
    """The check fails when a runtime module does pull training code in."""
    p = subprocess.run([sys.executable, "-c", BLOCK.format(blocked=TRAINING, modules=["kwsdk.train"])],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "is blocked" in p.stderr


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the kwsdk modules it imports, deferred imports inside
    functions included (a cycle through a deferred import is still a cycle)."""
    mods = {}
    for p in root.rglob("*.py"):
        rel = p.relative_to(root.parent).with_suffix("")
        mods[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = p

    def module(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, p in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Import):
                deps |= {module(a.name) for a in node.names if a.name.startswith("kwsdk")}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("kwsdk"):
                # `from pkg import sub` runs pkg's __init__ as well as sub
                deps |= {module(node.module)} | {f"{node.module}.{a.name}" for a in node.names
                                                 if f"{node.module}.{a.name}" in mods}
        graph[name] = deps - {name, None}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle's modules (strongly connected components of two or more)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_import_graph_has_no_cycles():
    graph = import_graph(REPO / "kwsdk")
    assert len(graph) > 40 and "kwsdk.verify.harness" in graph["kwsdk.verify"]
    assert cycles(graph) == []


def test_cycle_finder_finds_a_deferred_import_cycle(tmp_path: Path):
    pkg = tmp_path / "kwsdk"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from kwsdk.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    import kwsdk.c\n")
    (pkg / "c.py").write_text("from kwsdk import a\n")
    assert cycles(import_graph(pkg)) == [["kwsdk.a", "kwsdk.c", "kwsdk.sub.b"]]


def test_cycle_finder_counts_a_package_init(tmp_path: Path):
    """`from kwsdk.sub import e` runs kwsdk/sub/__init__.py: a cycle through it counts."""
    pkg = tmp_path / "kwsdk"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("def f():\n    from kwsdk import d\n")
    (pkg / "sub" / "e.py").write_text("")
    (pkg / "d.py").write_text("from kwsdk.sub import e\n")
    assert cycles(import_graph(pkg)) == [["kwsdk.d", "kwsdk.sub"]]
