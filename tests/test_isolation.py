"""Base model i depends on partition i alone: by construction, and bit for bit.

Two tests of the rule of ALGORITHMS.md ("Training many base models at once"):

* **The schedule** (holds on every machine): for each model, the sequence of kernel
  calls it is active in — phase, epoch, step, the group's members, its slot, and the
  aten operators of the call with their shapes, strides and dtypes — is identical when
  any other partition gains or loses samples, including changes of its number of steps
  and of its last batch's size, for DPA and FA, the CNN, the MLP and a tiny NiN, with
  crops and AutoAugment; and it does not depend on how the models are chunked.
* **The bits** (this machine's kernels): changing one partition changes only its own
  model's scores, with odd batch sizes, an odd number of test points, 10 and 43
  classes, one and two threads; run again in a subprocess under
  ``ATEN_CPU_CAPABILITY=default``, a second family of kernels.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from default_kernels import rerun_with_default_kernels

from ldcbook.certify import fa_shifts
from ldcbook.data import load
from ldcbook.ensemble import TrainConfig, fit_scores, record_calls
from ldcbook.partition import partitions

M = 6  # models per run: DPA with k = 6, or FA with k = 3, d = 2
J = 2  # the partition that changes


@pytest.fixture(scope="module")
def digits():
    return load("digits")  # 1438 training and 359 test images (an odd number)


def with_43_classes(ds):
    """The digits relabelled into 43 classes (GTSRB's count), deterministically."""
    def relabel(y):
        return (y * 4 + torch.arange(len(y)) % 4) % 43

    return dataclasses.replace(ds, y_train=relabel(ds.y_train),
                               y_test=relabel(ds.y_test), num_classes=43)


def run_parts(ds, method):
    if method == "dpa":
        return partitions(ds, M)
    return partitions(ds, 3, 2, fa_shifts(3, 2))


def changes(parts):
    """Ways partition J can change, each moving its step count or last-batch size."""
    p = parts[J]
    other = parts[(J + 1) % M]
    return {
        "gains samples": np.sort(np.concatenate([p, other[:23]])),  # more steps
        "loses samples": p[11:],                                     # fewer, other last
        "loses one": p[1:],                                          # last batch - 1
        "empty": p[:0],                                              # no steps at all
    }


def config(model, augment, batch_size, **kw):
    fields = dict(model=model, epochs=2, batch_size=batch_size, lr=0.05,
                  augment=augment, seed=5, device="cpu", group_size=4,
                  eval_batch_size=64)
    fields.update(kw)
    return TrainConfig(**fields)


def recorded(ds, parts, cfg, chunks=(range(M),)):
    with record_calls() as log:
        for ids in chunks:
            fit_scores(ds, parts, ids, cfg)
    return log


# ------------------------------------------------------------------ the schedule

SCHEDULE_CASES = [
    ("dpa", "cnn", "cropflip", 7, 1),
    ("fa", "cnn", "autoaugment-svhn", 5, 1),
    ("dpa", "mlp", "crop", 5, 2),
    ("fa", "mlp", "none", 16, 2),
    ("dpa", "nin", "crop", 9, 1),
]


@pytest.mark.parametrize("method,model,augment,batch,epochs", SCHEDULE_CASES)
def test_kernel_calls_of_a_model_do_not_depend_on_other_partitions(
    digits, method, model, augment, batch, epochs
):
    ds = digits
    parts = run_parts(ds, method)
    if model == "nin":  # a tiny NiN: a few samples per partition
        parts = [p[: 10 + 3 * i] for i, p in enumerate(parts)]
    cfg = config(model, augment, batch, epochs=epochs)
    base = recorded(ds, parts, cfg)
    for i in range(M):  # every model trains and is evaluated in its own slot
        assert base.of(i) and {c.slot for c in base.of(i)} == {i % 4}
    # unequal partitions: some models sat masked in some calls
    assert sum(base.masked.values()) > 0
    for name, new_part in changes(parts).items():
        changed = list(parts)
        changed[J] = new_part
        log = recorded(ds, changed, cfg)
        for i in range(M):
            if i != J:
                assert log.of(i) == base.of(i), f"{name}: model {i}'s calls changed"
        # the check can fail: the changed model's own calls change with its steps
        steps = [-(-len(p) // batch) for p in (parts[J], new_part)]
        assert (log.of(J) != base.of(J)) == (steps[0] != steps[1]), name


def test_kernel_calls_do_not_depend_on_chunking(digits):
    parts = run_parts(digits, "dpa")
    cfg = config("cnn", "crop", 7, epochs=1)
    whole = recorded(digits, parts, cfg)
    for chunks in ([[0, 1, 2], [3, 4, 5]], [[5], [2, 0], [1, 3, 4]]):
        log = recorded(digits, parts, cfg, chunks)
        for i in range(M):
            assert log.of(i) == whole.of(i)


def test_group_members_and_slots_come_from_model_ids(digits):
    parts = run_parts(digits, "dpa")
    log = recorded(digits, parts, config("mlp", "crop", 7, epochs=1))
    for i in range(M):
        members = {c.members for c in log.of(i)}
        assert members == {(0, 1, 2, 3)} if i < 4 else members == {(4, 5)}


# ------------------------------------------------------------------ the bits

BIT_CASES = [
    ("dpa", "cnn", "cropflip", 7, 10, 1),
    ("dpa", "mlp", "crop", 5, 43, 2),
    ("fa", "cnn", "none", 16, 43, 2),
    ("fa", "mlp", "flip", 9, 10, 1),
]


@pytest.mark.parametrize("method,model,augment,batch,classes,threads", BIT_CASES)
def test_bits_changing_one_partition_changes_only_its_model(
    digits, method, model, augment, batch, classes, threads
):
    ds = digits if classes == 10 else with_43_classes(digits)
    assert len(ds.y_test) % 2 == 1
    parts = run_parts(ds, method)
    cfg = config(model, augment, batch)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        base = fit_scores(ds, parts, range(M), cfg)
        for name, new_part in changes(parts).items():
            changed = list(parts)
            changed[J] = new_part
            new = fit_scores(ds, changed, range(M), cfg)
            moved = [i for i in range(M) if not np.array_equal(new[:, i], base[:, i])]
            assert moved == [J], name
    finally:
        torch.set_num_threads(saved)


def test_bits_also_hold_with_the_default_kernels():
    """The bit-level tests again, in a process whose kernels are torch's portable
    ("default", no AVX) family."""
    rerun_with_default_kernels(
        f"{__file__}::test_bits_changing_one_partition_changes_only_its_model",
        len(BIT_CASES))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["fp32", "tf32"])
def test_bits_on_cuda(digits, precision):
    """On a GPU, with deterministic algorithms: the same isolation, bit for bit."""
    parts = run_parts(digits, "dpa")
    cfg = config("cnn", "cropflip", 7, device="cuda", precision=precision)
    base = fit_scores(digits, parts, range(M), cfg)
    assert np.array_equal(base, fit_scores(digits, parts, range(M), cfg))
    for name, new_part in changes(parts).items():
        changed = list(parts)
        changed[J] = new_part
        new = fit_scores(digits, changed, range(M), cfg)
        moved = [i for i in range(M) if not np.array_equal(new[:, i], base[:, i])]
        assert moved == [J], name
