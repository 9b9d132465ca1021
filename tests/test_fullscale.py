"""End to end: the full-scale branches of the experiment chapters, shrunk.

The full scale of Chapters 7, 8 and 9 (CIFAR-10 and GTSRB, Network-in-Network base
learners, AutoAugment, FA, certification, attacks, figures) is meant for GPUs and
hours of training. These tests execute the chapters' very sources with ``LDCBOOK_SCALE=full``
and ``LDCBOOK_SHRINK=1`` (one epoch, a few small models, a few hundred test points:
``ldcbook.experiments.shrink_grid``) on tiny CIFAR-10 and GTSRB files written in their
real on-disk formats (``tests/real_formats.py``), so that nothing after the training
can crash a full-scale run. The committed notebooks are not touched: the executed
copies go to a temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from real_formats import many_gtsrb_images, write_cifar10, write_gtsrb

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
TESTS = Path(__file__).resolve().parent
CELL_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """CIFAR-10 (40 training, 30 test images) and GTSRB (43, 30) in real formats."""
    root = tmp_path_factory.mktemp("data")
    write_cifar10(root, per_batch=8, n_test=30, seed=7)
    train, test = many_gtsrb_images(n_train=43, n_test=30, seed=8)
    write_gtsrb(root, "original", train, test)
    return root


def _execute(
    chapter: str, data: Path, out: Path, env: dict[str, str]
) -> nbformat.NotebookNode:
    """Execute ``book/<chapter>.py`` in a fresh kernel; write it under ``out``."""
    nb = jupytext.read(BOOK / f"{chapter}.py")
    # torchvision checks the CIFAR-10 files against the official md5 sums: in the
    # kernel, register those of the tiny files first (a cell of this test only)
    setup = (f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
             "from real_formats import register_cifar10\n"
             f"register_cifar10({str(data / 'cifar-10-batches-py')!r})")
    nb.cells.insert(0, nbformat.v4.new_code_cell(setup))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # the kernel inherits the environment of this process
    try:
        client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                resources={"metadata": {"path": str(BOOK)}})
        try:
            client.execute()
        finally:
            nbformat.write(nb, out / f"{chapter}.ipynb")
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb


def _figures(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in out.get("data", {}) for cell in nb.cells
               if cell.cell_type == "code" for out in cell.outputs)


CASES = [
    pytest.param("07_dpa_experiments", "cifar10", id="ch07-cifar10"),
    pytest.param("07_dpa_experiments", "gtsrb", id="ch07-gtsrb"),
    pytest.param("08_nearest_neighbours", "cifar10", id="ch08-cifar10"),
    pytest.param("09_attacks", "cifar10", id="ch09-cifar10"),
]


@pytest.mark.parametrize("chapter, dataset", CASES)
def test_full_scale_branch_runs_to_the_end(chapter, dataset, data_dir, tmp_path):
    env = {"LDCBOOK_SCALE": "full", "LDCBOOK_SHRINK": "1",
           "LDCBOOK_DATA": str(data_dir), "LDCBOOK_FULL_DATASET": dataset,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                       os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    nb = _execute(chapter, data_dir, tmp_path, env)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code)  # every cell ran
    assert not any(out.get("output_type") == "error" for cell in code
                   for out in cell.outputs)
    assert _figures(nb) >= 3
    if chapter.startswith("07"):
        text = "".join(out.get("text", "") for cell in code for out in cell.outputs)
        assert f"dataset = {dataset}, learner = nin" in text  # the full branch ran
        # the SLURM commands of the paper's grid, both halves
        for policy in ("autoaugment-cifar10", "autoaugment-imagenet",
                       "autoaugment-svhn"):
            assert f"--augment {policy}" in text
        assert "--dataset gtsrb --k 300" in text and "--dataset cifar10 --k 500" in text
    if chapter.startswith("09"):
        text = "".join(out.get("text", "") for cell in code for out in cell.outputs)
        assert "scale = full, dataset = cifar10, k = 12" in text  # the full branch, shrunk
        assert "0 predictions changed" in text  # the certificates held
