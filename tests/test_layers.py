"""The package's layers: each module imports only its own layer and those before it.

config -> theory, certify (numpy, scipy, sympy; never torch) -> data, partition,
classifier, models, augment, neighbours -> ensemble -> store -> the experiment drivers
-> cli. Imports inside functions count too, and the package has no import cycle.

One explicit exception, the facade: the package root ``ldcbook/__init__.py`` (layer 0)
may re-export public names of the modules in ``LAZY_REEXPORTS``, importing them only
inside its module-level ``__getattr__`` (PEP 562), i.e. on first access, never when
``ldcbook`` itself is imported.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ldcbook"
LAYERS = {
    "ldcbook": 0, "ldcbook._checks": 0, "ldcbook.config": 0,
    "ldcbook.theory": 1, "ldcbook.certify": 1,
    "ldcbook.data": 2, "ldcbook.partition": 2, "ldcbook.classifier": 2,
    "ldcbook.models": 2,
    "ldcbook.augment": 2, "ldcbook.neighbors": 2, "ldcbook.neighbor_experiments": 2,
    "ldcbook.examples": 2,
    "ldcbook.ensemble": 3,
    "ldcbook.store": 4,
    "ldcbook.experiments": 5, "ldcbook.attacks": 5, "ldcbook.attack_experiments": 5,
    "ldcbook.own": 5,
    "ldcbook.cli": 6, "ldcbook.__main__": 6,
}
MODULES = sorted(PACKAGE.rglob("*.py"))
ROOT = PACKAGE / "__init__.py"
LAZY_REEXPORTS = {"ldcbook.classifier"}  # ldcbook.PartitionClassifier


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(name: str) -> int:
    while name not in LAYERS:
        if "." not in name:
            raise KeyError(name)
        name = name.rsplit(".", 1)[0]
    return LAYERS[name]


def imports(path: Path, *, lazy: bool = True) -> set[str]:
    """Modules imported anywhere in ``path``; ``lazy=False`` leaves out the imports
    inside the package root's module-level ``__getattr__`` (the facade)."""
    tree = ast.parse(path.read_text())
    if not lazy and path == ROOT:
        tree.body = [n for n in tree.body if not _is_module_getattr(n)]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _is_module_getattr(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef) and node.name == "__getattr__"


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_module_imports_only_earlier_layers(path):
    own = layer(module_name(path))
    for name in imports(path, lazy=False):
        if name.split(".")[0] == "ldcbook" and name != "ldcbook":
            assert layer(name) <= own, f"{module_name(path)} (layer {own}) imports {name}"


@pytest.mark.parametrize("path", [p for p in MODULES if layer(module_name(p)) == 1],
                         ids=module_name)
def test_theory_and_certificates_never_import_torch(path):
    assert not {n for n in imports(path) if n.split(".")[0] in ("torch", "torchvision")}


def test_package_root_reexports_later_layers_only_lazily():
    lazy = {n for n in imports(ROOT) - imports(ROOT, lazy=False)
            if n.startswith("ldcbook.")}
    assert lazy <= LAZY_REEXPORTS, f"ldcbook/__init__.py lazily imports {lazy}"
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, ldcbook; print(sorted(sys.modules))"],
        capture_output=True, text=True, check=True, cwd=PACKAGE.parent,
    ).stdout
    for name in LAZY_REEXPORTS | {"sklearn"}:
        assert f"'{name}'" not in loaded, f"import ldcbook loads {name}"


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
