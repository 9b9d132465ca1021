"""Evaluate trained base models: test scores in fixed shapes, votes and accuracy.

:func:`predict_scores` returns logits of shape ``(n_test, models, C)`` in model-id
order, ready for :mod:`ldcbook.certify`. Every forward pass has the same shape: each
group of the run (:mod:`ldcbook.ensemble.schedule`) sees the test images in passes of
``eval_batch_size``, the last pass padded to that size, so a model's scores depend on
neither the other partitions nor the number of test images' remainder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ldcbook._checks import check_array, check_int
from ldcbook.certify import count_votes, votes_from_scores
from ldcbook.ensemble.recipes import TrainConfig
from ldcbook.ensemble.schedule import group_call
from ldcbook.ensemble.training import (
    EnsembleState,
    _autocast,
    _resolve_device,
    normalise,
    numerics,
    train_ensemble,
)


def _passes(x_test: torch.Tensor, batch_size: int) -> list[tuple[int, torch.Tensor]]:
    """``(start, images)`` of each pass; the last one zero-padded to ``batch_size``."""
    out = []
    for s in range(0, len(x_test), batch_size):
        xb = x_test[s : s + batch_size]
        if len(xb) < batch_size:
            pad = torch.zeros((batch_size - len(xb), *xb.shape[1:]), dtype=xb.dtype)
            xb = torch.cat([xb, pad])
        out.append((s, xb))
    return out


def predict_scores(
    state: EnsembleState, x_test: torch.Tensor, batch_size: int | None = None
) -> np.ndarray:
    """Logits of every model on every test image, in evaluation mode.

    Each model normalises the test images with its own partition's statistics and
    uses its own BatchNorm running averages. Every pass has the shape
    ``(batch_size, group members, ...)`` (the last pass padded). Serves
    :mod:`ldcbook.certify` through the CLI and the chapters.

    Parameters
    ----------
    state : EnsembleState
        From :func:`ldcbook.ensemble.train_ensemble` or
        :func:`ldcbook.ensemble.train_one_at_a_time`.
    x_test : torch.Tensor
        uint8 ``(n_test, C, H, W)`` images.
    batch_size : int, optional
        Test images per pass; default ``state.config.eval_batch_size``. Part of the
        shapes: scores for two batch sizes agree up to rounding.

    Returns
    -------
    numpy.ndarray
        float32 of shape ``(n_test, len(state.model_ids), num_classes)``, columns in
        the order of ``state.model_ids``.
    """
    if not isinstance(state, EnsembleState):
        raise TypeError(f"state must be an EnsembleState, got {type(state).__name__}")
    if not (
        isinstance(x_test, torch.Tensor) and x_test.dtype == torch.uint8
        and x_test.ndim == 4
    ):
        raise TypeError("x_test must be a uint8 tensor (n_test, C, H, W)")
    if x_test.shape[1] != state.mean.shape[1]:
        raise ValueError(
            f"x_test must have {state.mean.shape[1]} channels, got {x_test.shape[1]}"
        )
    config = state.config
    batch_size = config.eval_batch_size if batch_size is None else check_int(
        "batch_size", batch_size, min_value=1
    )
    device = _resolve_device(config)
    n_test = len(x_test)
    passes = _passes(x_test.cpu(), batch_size)
    with torch.inference_mode(), numerics(device, config):
        if state.modules is not None:
            return _predict_modules(state, passes, n_test, device)
        return _predict_groups(state, passes, n_test, device)


def _predict_modules(
    state: EnsembleState,
    passes: list[tuple[int, torch.Tensor]],
    n_test: int,
    device: torch.device,
) -> np.ndarray:
    config = state.config
    assert state.modules is not None
    out = torch.empty((n_test, len(state.model_ids), state.num_classes))
    channels_last = device.type == "cuda" and config.channels_last
    for j, model in enumerate(state.modules):
        model.to(device).eval()
        mean, std = state.mean[j].to(device), state.std[j].to(device)
        for s, xb in passes:
            x = normalise(xb.to(device), mean, std)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with _autocast(device, config):
                logits = model(x).float().cpu()
            rows = min(len(xb), n_test - s)
            out[s : s + rows, j] = logits[:rows]
    return out.numpy()


def _predict_groups(
    state: EnsembleState,
    passes: list[tuple[int, torch.Tensor]],
    n_test: int,
    device: torch.device,
) -> np.ndarray:
    config = state.config
    assert state.nets is not None and state.groups is not None
    c = state.mean.shape[1]
    out = torch.empty((n_test, len(state.model_ids), state.num_classes))
    placed = [state.locate(int(i)) for i in state.model_ids]  # (net, slot) per column
    for q, (net, members) in enumerate(zip(state.nets, state.groups)):
        net.to(device)
        cols = [j for j, (net_q, _) in enumerate(placed) if net_q == q]
        slots = [placed[j][1] for j in cols]
        # statistics of every member (those not trained: the empty partition's)
        mean, std = torch.zeros((len(members), c)), torch.ones((len(members), c))
        mean[slots], std[slots] = state.mean[cols], state.std[cols]
        mean, std = mean.to(device), std.to(device)
        for p, (s, xb) in enumerate(passes):
            xb = xb.to(device)
            rows = min(len(xb), n_test - s)
            if net.input_layout == "grouped":
                xg = normalise(xb[:, None], mean, std)  # (B, g, C, H, W)
            else:
                xg = normalise(xb[None], mean[:, None], std[:, None])  # (g, B, ...)
            with group_call("eval", -1, p, members, np.isin(members, state.model_ids)):
                with _autocast(device, config):
                    logits = net.forward(xg, None, channels_last=config.channels_last)
            block = logits.float().transpose(0, 1)[:rows, slots].cpu()
            out[s : s + rows, cols] = block
    return out.numpy()


def fit_scores(
    dataset: Any,
    parts: Sequence[Any],
    model_ids: Sequence[int],
    config: TrainConfig,
    progress: bool = False,
) -> np.ndarray:
    """Train the models ``model_ids`` together and return their test logits.

    ``predict_scores(train_ensemble(...), dataset.x_test)``: the ``train_fn`` of
    :func:`ldcbook.store.run_training`.

    Returns
    -------
    numpy.ndarray
        float32 ``(n_test, len(model_ids), num_classes)``, columns in ``model_ids``
        order.
    """
    state = train_ensemble(dataset, parts, model_ids, config, progress=progress)
    return predict_scores(state, dataset.x_test)


def votes(scores: np.ndarray) -> np.ndarray:
    """Each model's vote: the smallest class with the largest score (DPA's votes).

    A row whose scores are all equal is an abstention (⊥, ``-1``): the zero rows
    stored for an empty rNN ball, or a network whose logits are all equal. The DPA
    and FA certificates do not count it, nor either round of ROE: this is
    :func:`ldcbook.certify.votes_from_scores`, the one vote rule of the package.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(n_test, models, C)``.

    Returns
    -------
    numpy.ndarray
        int64 ``(n_test, models)``, ``-1`` for an abstention.
    """
    return votes_from_scores(scores)


def accuracy(scores: np.ndarray, labels: Any) -> tuple[float, np.ndarray]:
    """Plurality-vote accuracy of the ensemble and the accuracy of each model.

    The ensemble predicts the smallest class with the most votes (DPA's rule,
    ``ALGORITHMS.md``); used by the benchmark and the experiment chapters.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(n_test, models, C)``.
    labels : array_like of int
        ``(n_test,)``.

    Returns
    -------
    ensemble : float
    per_model : numpy.ndarray
        ``(models,)``.
    """
    scores = check_array("scores", scores, ndim=3, kind="f", finite=False)
    if isinstance(labels, torch.Tensor):
        labels = labels.cpu().numpy()
    labels = check_array("labels", np.asarray(labels), ndim=1, kind="i")
    if len(labels) != scores.shape[0]:
        raise ValueError(
            f"labels must have {scores.shape[0]} entries, got {len(labels)}"
        )
    v = votes(scores)
    counts = count_votes(v, scores.shape[2])  # abstentions do not vote
    pred = np.argmax(counts, axis=1)
    return float(np.mean(pred == labels)), np.mean(v == labels[:, None], axis=0)


__all__ = ["accuracy", "fit_scores", "predict_scores", "votes"]
