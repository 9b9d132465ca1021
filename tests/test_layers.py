"""The package's layers: each module imports only its own layer and those before it.

config -> theory, certify (numpy, scipy, sympy; never torch) -> data, partition,
models, augment, neighbours -> ensemble -> store -> the experiment drivers -> cli.
Imports inside functions count too, and the package has no import cycle.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ldcbook"
LAYERS = {
    "ldcbook": 0, "ldcbook._checks": 0, "ldcbook.config": 0,
    "ldcbook.theory": 1, "ldcbook.certify": 1,
    "ldcbook.data": 2, "ldcbook.partition": 2, "ldcbook.models": 2,
    "ldcbook.augment": 2, "ldcbook.neighbors": 2, "ldcbook.neighbor_experiments": 2,
    "ldcbook.ensemble": 3,
    "ldcbook.store": 4,
    "ldcbook.experiments": 5,
    "ldcbook.cli": 6, "ldcbook.__main__": 6,
}
MODULES = sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(name: str) -> int:
    while name not in LAYERS:
        if "." not in name:
            raise KeyError(name)
        name = name.rsplit(".", 1)[0]
    return LAYERS[name]


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_module_imports_only_earlier_layers(path):
    own = layer(module_name(path))
    for name in imports(path):
        if name.split(".")[0] == "ldcbook" and name != "ldcbook":
            assert layer(name) <= own, f"{module_name(path)} (layer {own}) imports {name}"


@pytest.mark.parametrize("path", [p for p in MODULES if layer(module_name(p)) == 1],
                         ids=module_name)
def test_theory_and_certificates_never_import_torch(path):
    assert not {n for n in imports(path) if n.split(".")[0] in ("torch", "torchvision")}


def test_every_module_has_a_layer():
    for path in MODULES:
        layer(module_name(path))


def test_no_import_cycles():
    graph = {}
    for path in MODULES:
        name = module_name(path)
        graph[name] = {n for n in imports(path)
                       if n.startswith("ldcbook.") and n != name}
    state = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", " -> ".join(trail + [node])
        state[node] = "open"
        for dep in graph.get(node, ()):
            visit(dep, trail + [node])
        state[node] = "done"

    for node in graph:
        visit(node, [])
