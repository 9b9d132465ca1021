"""Regenerate executed notebooks from their py:percent sources, deterministically.

Usage: ``python tools/execute_notebooks.py book/01_lethal_dose.py [...]``

Each source is read with jupytext, executed in a fresh ``python3`` kernel with
``book/`` as working directory, and written to the paired ``.ipynb``. To keep the
committed notebooks stable (running this twice on an unchanged tree changes no file):

- cell ids are derived from the cell's position;
- per-cell execution timestamps are not recorded;
- widget model ids (random UUIDs) are replaced by ids derived from their order;
- kernel metadata that names this machine is normalised.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

TIMEOUT_S = 600
UUID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


def _stable_widget_ids(nb: nbformat.NotebookNode) -> str:
    """Serialise ``nb`` with widget model ids that do not depend on chance.

    Widget models get random ids, and the kernel reports their state in no fixed order.
    The ids are renamed by a walk of the widget graph: first the views shown in cell
    outputs, in cell order, then the models each one references, field by field in
    sorted order; models reached by no walk are ordered by their id-free content.
    """
    state = (
        nb.metadata.get("widgets", {})
        .get("application/vnd.jupyter.widget-state+json", {})
        .get("state", {})
    )
    queue = [
        key
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        for key in UUID.findall(json.dumps(out.get("data", {}), sort_keys=True))
    ]
    order: list[str] = []
    while queue:
        key = queue.pop(0)
        if key in order:
            continue
        order.append(key)
        fields = state.get(key, {}).get("state", {})
        for field in sorted(fields):
            queue.extend(UUID.findall(json.dumps(fields[field], sort_keys=True)))
    order += sorted(
        set(state) - set(order),
        key=lambda k: UUID.sub("", json.dumps(state[k], sort_keys=True)),
    )
    mapping = {
        key: hashlib.sha256(f"ldcbook-widget-{i}".encode()).hexdigest()[:32]
        for i, key in enumerate(order)
    }
    renamed = UUID.sub(lambda m: mapping.get(m.group(0), m.group(0)), nbformat.writes(nb))
    # Write again so that the widget state is sorted by the new ids.
    return nbformat.writes(nbformat.reads(renamed, as_version=4))


def execute(source: Path) -> Path:
    """Execute one chapter source and write its notebook; return the notebook path."""
    if source.suffix != ".py" or not source.is_file():
        raise SystemExit(f"error: {source} is not a chapter source (book/NN_name.py)")
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ldcbook)",
        "language": "python",
        "name": "python3",
    }
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"
        if cell.cell_type == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    client = NotebookClient(
        nb,
        timeout=TIMEOUT_S,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(source.parent)}},
    )
    client.execute()
    target = source.with_suffix(".ipynb")
    text = _stable_widget_ids(nb)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", type=Path, help="chapter sources (.py)")
    args = parser.parse_args(argv)
    for source in args.sources:
        start = time.perf_counter()
        target = execute(source)
        print(f"{target}: executed in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
