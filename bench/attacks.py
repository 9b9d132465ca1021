r"""Retraining attacked models (Chapter 9): what each of the engine's savings buys.

Three comparisons, each measured in this one run on MNIST-5k with the small CNN of the
book's default scale:

1. **Evaluation passes.** Scoring a trained k = 200 ensemble on the 1,000 test images
   in passes of 1,000 (a group of 20 CNNs makes 0.5 GB activation tensors) against
   passes of 100, the CPU scales' setting; the scores are compared bit for bit.
2. **Evaluating only the attacked rows.** ``retrain_attacks`` on 40 one-model attacks
   at k = 200, scoring every test image against scoring only the 40 attacked points
   (same trained models; the votes are compared).
3. **Packing claims, not attacks.** FA (k = 50, d = 2): for 20 points, the attacks on
   the ``r`` and ``r + 1`` heaviest buckets, retrained once with claims packed per model
   id (identical claims trained once, the library's way) and once with whole attacks
   packed (an attack waits for a pass where all its models are free; written here).

Run it on a quiet machine:

    python bench/attacks.py            # about three minutes on one core
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from ldcbook import attack_experiments as ae
from ldcbook import experiments as ex
from ldcbook.attacks import near_copies, pack_passes, reached_models, retrain_attacks
from ldcbook.certify import fa, fa_shifts, votes_from_scores
from ldcbook.data import load
from ldcbook.ensemble import TrainConfig, fit_scores, predict_scores, train_ensemble
from ldcbook.partition import partitions


def _timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _config(k: int, d: int = 1) -> TrainConfig:
    spec = ex.experiment_spec("mnist5k", k, d, "cnn", schedule="baseline",
                              scale="default")
    return TrainConfig.from_dict(spec["train"])


def evaluation_passes(ds) -> None:  # type: ignore[no-untyped-def]
    k = 200
    cfg = _config(k)
    state = train_ensemble(ds, partitions(ds, k), range(k), cfg, progress=False)
    big, t_big = _timed(lambda: predict_scores(state, ds.x_test, batch_size=1000))
    small, t_small = _timed(lambda: predict_scores(state, ds.x_test, batch_size=100))
    print(f"1. k = {k}, 1,000 test images: passes of 1,000 {t_big:.2f} s, of 100 "
          f"{t_small:.2f} s, ratio {t_big / t_small:.2f}; scores bit for bit the same: "
          f"{np.array_equal(big, small)}")


def attacked_rows(ds) -> None:  # type: ignore[no-untyped-def]
    k = 200
    cfg = _config(k)
    parts = partitions(ds, k)
    points = np.arange(40)
    attacks = [near_copies(ds.x_test[t].numpy(), 0, [int(t) * 5 % k], k) for t in points]
    every, t_every = _timed(lambda: retrain_attacks(ds, parts, cfg, attacks))
    rows, t_rows = _timed(lambda: retrain_attacks(ds, parts, cfg, attacks, rows=points))
    same = all((a.scores[points].argmax(-1) == b.scores.argmax(-1)).all()
               for a, b in zip(every, rows))
    print(f"2. k = {k}, 40 one-model attacks: scoring every test image {t_every:.2f} s, "
          f"the 40 attacked points {t_rows:.2f} s, ratio {t_every / t_rows:.2f}; "
          f"same votes: {same}")


def _fa_jobs(ds, k: int, d: int, n_points: int):  # type: ignore[no-untyped-def]
    cfg = _config(k, d)
    shifts = fa_shifts(k, d)
    clean = fit_scores(ds, partitions(ds, k, d, shifts), range(k * d), cfg)
    radius = fa(votes_from_scores(clean), 10, d, shifts)[1]
    cand = np.flatnonzero(radius >= 1)
    pts = cand[np.argsort(radius[cand], kind="stable")][:n_points]
    return cfg, shifts, clean, pts


def packing(ds) -> None:  # type: ignore[no-untyped-def]
    k, d = 50, 2
    cfg, shifts, clean, pts = _fa_jobs(ds, k, d, 20)
    _, t_claims = _timed(lambda: ae.fa_attack_points(ds, cfg, clean, pts, k, d, shifts,
                                                     extras=(0, 1)))
    # the same attacks, packed whole: one retrain_attacks call per pass of attacks
    load_ = np.zeros(k * d, np.int64)
    feeds = (np.arange(k * d)[:, None] + shifts[None, :]) % (k * d)
    jobs = []
    for t, v in zip(pts.tolist(), votes_from_scores(clean[pts])):
        _, r, c, order = ae.fa_plan(v, 10, k, d, shifts, load_)
        jobs += [near_copies(ds.x_test[t], c, order[: r + e], k * d) for e in (0, 1)]
        np.add.at(load_, feeds[order[: r + 1]].ravel(), 1)
    parts = partitions(ds, k, d, shifts)
    passes = pack_passes([reached_models(j, ds, k, d, shifts) for j in jobs])

    def whole() -> None:
        for group in passes:
            retrain_attacks(ds, parts, cfg, [jobs[a] for a in group], rows=pts,
                            partition_fn=lambda x: partitions(x, k, d, shifts))

    _, t_whole = _timed(whole)
    print(f"3. FA k = {k}, d = {d}, 20 points, attacks on r and r + 1 buckets: claims "
          f"packed {t_claims:.2f} s, whole attacks packed ({len(passes)} passes) "
          f"{t_whole:.2f} s, ratio {t_whole / t_claims:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} "
          f"cores, torch {torch.__version__}, {args.threads} thread(s), load average "
          f"{os.getloadavg()[0]:.2f} at start")
    ds = load("mnist5k")
    evaluation_passes(ds)
    attacked_rows(ds)
    packing(ds)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
