"""Which models share a kernel call, in which slot, at which step: the engine's schedule.

A certificate computed from an ensemble is a proof only if base model ``i`` is a
deterministic function of partition ``i`` alone (``ALGORITHMS.md``, "Training many
base models at once"). When models share kernel calls, a kernel may round a model's
numbers differently according to its position in the call or the shapes of the call
(seen: ``torch.baddbmm`` on AVX-512 CPUs when a model's output block is not 64-byte
aligned). So the schedule here is built from model ids and the run's configuration
only, and never from another partition's size or contents:

* **Groups by id.** Model ``i`` of a run of ``M`` models belongs to group
  ``i // G`` and sits at slot ``i % G`` of every kernel call of that group, where
  ``G`` is the configuration's group size (:func:`ldcbook.ensemble.resolve_group_size`).
  Group ``q`` holds the models ``qG, ..., min(qG + G, M) - 1``. Chunks, shards and a
  retraining of a few models run the same groups; models of a group that are not
  being trained occupy their slots with an empty partition.
* **Fixed shapes.** Every training step of a group is one call over all its slots,
  ``batch_size`` rows each. A model's ``q``-th sample of an epoch sits at step
  ``q // B``, row ``q % B``: its ``ceil(n_i / B)`` steps come first and its last,
  partial batch is padded to ``B`` rows; padding rows are masked out of the
  BatchNorm statistics and the loss. At the steps after its last one, while other
  models of the group still train, the model is *masked*: it computes like the others,
  and its parameters, momentum and BatchNorm running averages are then put back
  unchanged (copied back, or selected with ``torch.where``). Models are never
  reordered or regrouped, and every step runs the same operators.
* **Fixed evaluation shapes.** Test images go through each group in passes of
  ``eval_batch_size``, the last pass padded to that size.

What a model takes part in is thus the same whatever the other partitions hold:
the steps where it is active are its own ``(epoch, step)`` pairs, each a call with
the same members, slot and shapes. :func:`record_calls` records this (the test of
``ALGORITHMS.md`` that does not depend on the hardware): every kernel call the
engine makes inside a group step, with the group's members, each model's slot and
activity, and the aten operators with their shapes, strides and dtypes.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ldcbook._checks import check_int


@dataclass(frozen=True)
class GroupLayout:
    """The groups of a run: model ``i`` in group ``i // group_size``, slot ``i % G``.

    Parameters
    ----------
    num_models : int
        Models of the run (``k`` for DPA, ``k*d`` for FA).
    group_size : int
        ``G``, models per kernel call.
    """

    num_models: int
    group_size: int

    def __post_init__(self) -> None:
        check_int("num_models", self.num_models, min_value=1)
        check_int("group_size", self.group_size, min_value=1)

    @property
    def num_groups(self) -> int:
        """Number of groups, ``ceil(num_models / group_size)``."""
        return -(-self.num_models // self.group_size)

    def group(self, model_id: int) -> int:
        """The group of ``model_id``."""
        return int(model_id) // self.group_size

    def slot(self, model_id: int) -> int:
        """The slot of ``model_id`` in every kernel call of its group."""
        return int(model_id) % self.group_size

    def members(self, group: int) -> np.ndarray:
        """Model ids of group ``group``, in slot order."""
        lo = int(group) * self.group_size
        return np.arange(lo, min(lo + self.group_size, self.num_models), dtype=np.int64)

    def cover(self, model_ids: Sequence[int]) -> list[int]:
        """The groups holding ``model_ids``, in increasing order."""
        return sorted({self.group(i) for i in model_ids})


class StepPlan:
    """Where each sample of each member goes in one epoch's ``(S, M, B)`` tables.

    ``M`` member slots (the members of the groups being run, in id order) with
    partition sizes ``sizes`` (0 for a member that is not trained now) and batch size
    ``B``. Member ``m``'s ``q``-th sample of an epoch (in its own shuffled order) is at
    step ``q // B``, row ``q % B``; ``S`` is the largest number of steps. Entries
    without a sample are padding. Each group runs the steps
    ``0 .. steps_of_group - 1``, and member ``m`` is active at step ``t`` when
    ``t < steps[m]``.

    Parameters
    ----------
    sizes : numpy.ndarray
        int64 ``(M,)`` partition sizes.
    batch_size : int
        ``B``.
    group_slices : list of slice
        The members of each group (contiguous ranges of ``range(M)``).
    join_single : bool
        A last batch of one sample joins the batch before it (as
        :func:`ldcbook.own.train_model` batches), so that BatchNorm always sees two
        rows: the tables are then ``B + 1`` rows wide (a model's last step may hold
        ``B + 1`` samples; the extra row is padding at every other step). The width
        is fixed by ``B`` alone, whatever the partitions.
    """

    def __init__(
        self, sizes: np.ndarray, batch_size: int, group_slices: list[slice],
        join_single: bool = False,
    ) -> None:
        b = batch_size
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.batch_size = b
        self.group_slices = group_slices
        self.steps = -(-self.sizes // b)  # ceil(n / B); 0 for an empty partition
        width = b
        if join_single:
            # the last batch holds n - (steps - 1) B samples; one alone joins the
            # batch before it
            last = self.sizes - (self.steps - 1) * b
            self.steps = self.steps - ((last == 1) & (self.steps >= 2))
            width = b + 1
        self.rows = width
        self.num_steps = int(self.steps.max()) if len(self.steps) else 0  # S
        self.group_steps = [
            int(self.steps[sl].max()) if sl.stop > sl.start else 0
            for sl in group_slices
        ]
        m = len(self.sizes)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        member = np.repeat(np.arange(m), self.sizes)
        q = np.arange(len(member)) - np.repeat(self.starts, self.sizes)
        step = q // b
        if join_single:
            step = np.minimum(step, self.steps[member] - 1)
        self.table_shape = (self.num_steps, m, width)
        self.table_pos = torch.as_tensor((step * m + member) * width + q - step * b)
        valid = torch.zeros(self.table_shape, dtype=torch.bool)
        valid.view(-1)[self.table_pos] = True
        self.valid = valid
        # (S, M): whether a member has a batch at a step
        self.active = torch.as_tensor(
            np.arange(self.num_steps)[:, None] < self.steps[None, :]
        )


# --------------------------------------------------------------------------------------
# Recording the kernel calls
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One group call of the engine, as seen by one model.

    Attributes
    ----------
    phase : str
        ``"train"`` or ``"eval"``.
    epoch : int
        The epoch (training) or ``-1``.
    step : int
        The step of the epoch, or the index of the evaluation pass.
    members : tuple of int
        Model ids occupying the call's slots, in slot order.
    slot : int
        The model's slot.
    ops : str
        SHA-256 of the sequence of aten operators of the call that compute (views
        are left out), each with the shapes, strides, dtypes and the 64-byte
        alignment of its tensor arguments, and its integer arguments.
    """

    phase: str
    epoch: int
    step: int
    members: tuple[int, ...]
    slot: int
    ops: str


@dataclass
class CallLog:
    """The kernel calls recorded by :func:`record_calls`, per model.

    Attributes
    ----------
    calls : dict
        Model id -> list of the :class:`Call` in which that model is active, in the
        order they ran.
    masked : dict
        Model id -> number of training calls in which the model sat masked.
    """

    calls: dict[int, list[Call]] = field(default_factory=dict)
    masked: dict[int, int] = field(default_factory=dict)

    def of(self, model_id: int) -> list[Call]:
        """The calls in which ``model_id`` was active."""
        return self.calls.get(int(model_id), [])


class _OpTrace(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.digest = hashlib.sha256()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore
        kwargs = kwargs or {}
        if func.is_view:  # metadata only: what it makes is seen where it is used
            return func(*args, **kwargs)
        sig = [str(func)]
        for a in torch.utils._pytree.tree_leaves((args, kwargs)):
            if isinstance(a, torch.Tensor):
                # shape, strides, dtype and the data's alignment, which kernels can
                # use to pick a vectorised path
                sig.append(f"{tuple(a.shape)}{tuple(a.stride())}{a.dtype}"
                           f"@{a.data_ptr() % 64}")
            elif isinstance(a, (bool, int)):  # dimensions, sizes, flags
                sig.append(repr(a))
            elif isinstance(a, float):  # learning rates and the like: values vary
                sig.append("float")
        self.digest.update("|".join(sig).encode())
        return func(*args, **kwargs)


_LOG: CallLog | None = None


@contextlib.contextmanager
def record_calls() -> Iterator[CallLog]:
    """Record every group call the engine makes while the block runs.

    Slow (every aten operator is intercepted): for tests on tiny runs.

    Yields
    ------
    CallLog
    """
    global _LOG
    if _LOG is not None:
        raise RuntimeError("record_calls blocks cannot be nested")
    _LOG = CallLog()
    try:
        yield _LOG
    finally:
        _LOG = None


@contextlib.contextmanager
def group_call(
    phase: str, epoch: int, step: int, members: np.ndarray, active: Any
) -> Iterator[None]:
    """Wrap one group call of the engine; records it inside :func:`record_calls`.

    ``members`` are the model ids in slot order, ``active`` a bool per slot (a
    tensor or array), ``None`` for all active.
    """
    log = _LOG
    if log is None:
        yield
        return
    trace = _OpTrace()
    with trace:
        yield
    ops = trace.digest.hexdigest()
    ids = tuple(int(i) for i in members)
    flags = [True] * len(ids) if active is None else [bool(a) for a in active]
    for slot, (i, on) in enumerate(zip(ids, flags)):
        if on:
            log.calls.setdefault(i, []).append(
                Call(phase, int(epoch), int(step), ids, slot, ops)
            )
        else:
            log.masked[i] = log.masked.get(i, 0) + 1


__all__ = [
    "Call",
    "CallLog",
    "GroupLayout",
    "StepPlan",
    "group_call",
    "record_calls",
]
