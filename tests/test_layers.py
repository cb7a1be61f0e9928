"""The structure holds: no import cycle between files or packages, imports only go down.

Every module of ``ppgan_fom`` and ``faceutils`` (and the scripts in ``applications/``) is
parsed, and every import it makes, at module level or inside a function, is checked
against :data:`LAYERS`, the layer list of docs/architecture.md: a module may import its
own unit and units of its own or lower layers, never a higher one; and neither the
modules nor the units (packages and top-level modules) may import each other in a loop.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Set

REPO = Path(__file__).resolve().parents[1]

#: Units from the bottom layer up. A unit is a module or a package (every module below it).
LAYERS: List[List[str]] = [
    # 0: errors, shared types, runtime (device, threads), dependency checks, safe checkpoint
    #    reading, atomic file helpers, progress bars, static graphs on Paddle Inference
    ["ppgan_fom.errors", "ppgan_fom.types", "ppgan_fom.fsutil", "ppgan_fom.runtime",
     "ppgan_fom.deps", "ppgan_fom.checkpoint", "ppgan_fom.progress", "ppgan_fom.version",
     "ppgan_fom.logs", "ppgan_fom.static_graphs"],
    # 1: geometry (no Paddle), media IO, configs and options, weights registry, audio DSP,
    #    scene cuts
    ["ppgan_fom.geometry", "ppgan_fom.media", "ppgan_fom.config", "ppgan_fom.options",
     "ppgan_fom.download", "ppgan_fom.weights", "ppgan_fom.scenecut", "ppgan_fom.voice"],
    # 2: networks, detection, tracking
    ["ppgan_fom.modules", "ppgan_fom.motion", "ppgan_fom.model", "ppgan_fom.engine",
     "ppgan_fom.enhance", "faceutils", "ppgan_fom.tracking"],
    # 3: pipelines: animate a photo, anonymize a video, train, convert checkpoints
    ["ppgan_fom.animator", "ppgan_fom.driving", "ppgan_fom.pipeline", "ppgan_fom.predictor",
     "ppgan_fom.predictor_paddlegan",
     "ppgan_fom.anonymize", "ppgan_fom.training", "ppgan_fom.convert", "ppgan_fom.scale"],
    # 4: command lines, web app, package faces
    ["ppgan_fom.cli", "ppgan_fom.app", "faceutils.__main__", "faceutils.convert_tflite",
     "ppgan_fom.convert.__main__", "applications", "ppgan_fom.__init__"],
]

PACKAGES = ("ppgan_fom", "faceutils")


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts)


def _all_modules() -> Dict[str, Path]:
    mods = {}
    for pkg in (*PACKAGES, "applications"):
        for path in sorted((REPO / pkg).rglob("*.py")):
            mods[_module_name(path)] = path
    return mods


def _resolve(module: str, node: ast.ImportFrom, is_pkg: bool) -> str:
    base = module.split(".")
    base = base if is_pkg else base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path, known: Set[str]) -> Set[str]:
    """Project modules imported anywhere in ``path`` (``from x import y`` counts as ``x.y``
    when that is a module, else ``x``)."""
    is_pkg = path.name == "__init__.py"
    name = module[: -len(".__init__")] if is_pkg else module
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, node, is_pkg) if node.level else (node.module or "")
            subs = [f"{base}.{a.name}" for a in node.names]
            # ``from pkg import module`` imports the module; ``from pkg import name``, pkg
            targets = subs if all(t in known or f"{t}.__init__" in known for t in subs) \
                else subs + [base]
        for t in targets:
            if t.split(".")[0] not in PACKAGES:
                continue
            for cand in (t, f"{t}.__init__"):
                if cand in known:
                    out.add(cand)
                    break
    out.discard(module)
    return out


def _unit_of(module: str) -> str:
    best = ""
    for layer in LAYERS:
        for unit in layer:
            if (module == unit or module.startswith(unit + ".")) and len(unit) > len(best):
                best = unit
    assert best, f"{module} is in no unit of LAYERS: add it to the layer list"
    return best


LAYER_OF = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _graph():
    mods = _all_modules()
    known = set(mods)
    return mods, {m: _imports(m, p, known) for m, p in mods.items()}


def _cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_is_in_a_layer():
    mods, _ = _graph()
    for m in mods:
        _unit_of(m)


def test_no_import_goes_up():
    _, graph = _graph()
    upward = []
    for m, deps in graph.items():
        um = _unit_of(m)
        for d in deps:
            ud = _unit_of(d)
            if ud != um and LAYER_OF[ud] > LAYER_OF[um]:
                upward.append(f"{m} (layer {LAYER_OF[um]}) imports {d} (layer {LAYER_OF[ud]})")
    assert not upward, "\n".join(sorted(upward))


def test_no_import_cycle_between_files():
    _, graph = _graph()
    assert _cycles(graph) == []


def test_no_import_cycle_between_units():
    _, graph = _graph()
    units: Dict[str, Set[str]] = defaultdict(set)
    for m, deps in graph.items():
        for d in deps:
            if _unit_of(d) != _unit_of(m):
                units[_unit_of(m)].add(_unit_of(d))
    assert _cycles(units) == []


def test_no_module_imports_a_command_line():
    _, graph = _graph()
    cli_units = {"ppgan_fom.cli", "faceutils.__main__", "ppgan_fom.convert.__main__",
                 "applications"}
    bad = [f"{m} imports {d}" for m, deps in graph.items() for d in deps
           if _unit_of(d) in cli_units and _unit_of(m) not in cli_units]
    assert not bad, bad


def test_the_check_sees_a_planted_cycle_and_an_upward_import():
    """The checks themselves: a made-up graph with a loop and an upward import fails."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert LAYER_OF[_unit_of("ppgan_fom.cli.demo")] > LAYER_OF[_unit_of("ppgan_fom.errors")]
