"""Every chapter source book/NN_name.py and its executed notebook hold the same cells."""

from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "book").glob("[0-9][0-9]_*.py"))


def cells(notebook):
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


def test_there_are_chapters():
    assert SOURCES, "no chapter sources found under book/"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_source_and_notebook_hold_the_same_cells(source):
    notebook = source.with_suffix(".ipynb")
    assert notebook.exists(), f"{notebook.name} is missing: run `make notebook NB={source}`"
    assert cells(jupytext.read(source)) == cells(jupytext.read(notebook)), (
        f"{notebook.name} is out of date: run `make notebook NB=book/{source.name}`"
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_notebook_is_executed_without_errors(source):
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), "not executed"
    for cell in code:
        for out in cell.outputs:
            assert out.output_type != "error", f"{source.name}: {out.get('ename')}"


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    listed = {f"book/{p.stem}" for p in SOURCES}
    missing = {name for name in listed if name not in toc}
    assert not missing, f"chapters missing from _toc.yml: {sorted(missing)}"
    assert yaml.safe_load(toc)["root"] == "book/intro"
