r"""Own learners (``train --learner M:F``): trained in groups against one at a time.

Trains the same run twice with :func:`ldcbook.own.train_own`, once on the grouped path
(:func:`ldcbook.own.train_group`: the members of a group stacked in a
:class:`ldcbook.models.GroupedNet`, the engine's schedule) and once with
``OwnConfig(one_at_a_time=True)`` (:func:`ldcbook.own.train_model`: the factory's own
module and :class:`torch.optim.SGD`, one model after another), and prints both wall
times (the whole ``train_own``: training, scoring the test set, storing scores and
weights), their ratio, both ensembles' accuracies, how often their votes agree and the
largest difference of their scores. Both paths draw the same initial weights, batches
and shuffles, so they differ only by floating-point rounding. Run it pinned to one
core, on a quiet machine:

    taskset -c 1 python bench/own.py                       # digits, k = 50, tiny_cnn
    taskset -c 1 python bench/own.py --repeats 2 \
        --learners ldcbook.examples:tiny_cnn,ldcbook.examples:small_mlp
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ldcbook import data, own


def _vote_accuracy(scores: np.ndarray, y: np.ndarray, num_classes: int) -> float:
    votes = scores.argmax(-1)  # (n, models)
    counts = np.stack([(votes == c).sum(1) for c in range(num_classes)], axis=1)
    return float((counts.argmax(1) == y).mean())  # ties to the smaller label


def bench(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    arrays = data.as_arrays(data.load(args.dataset))
    affinity = (sorted(os.sched_getaffinity(0))
                if hasattr(os, "sched_getaffinity") else [])
    print(f"{args.dataset}: {len(arrays.y_train)} training / {len(arrays.y_test)} test "
          f"samples, k = {args.k}, {args.epochs} epochs, batch {args.batch_size}, "
          f"{args.threads} thread(s), cores {affinity}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} "
          f"cores, torch {torch.__version__}, load average "
          f"{os.getloadavg()[0]:.2f} at start")
    print(f"{'learner':28} {'G':>3} {'one-at-a-time s':>16} {'grouped s':>10} "
          f"{'ratio':>6} {'acc one':>8} {'acc grp':>8} {'votes same':>10} "
          f"{'max |ds|':>9}")
    for learner in args.learners.split(","):
        times: dict[bool, list[float]] = {True: [], False: []}
        result: dict[bool, np.ndarray] = {}
        group_size = None
        for _ in range(args.repeats):
            for one in (True, False):
                config = own.OwnConfig(epochs=args.epochs, batch_size=args.batch_size,
                                       lr=args.lr, one_at_a_time=one)
                spec = own.own_spec(arrays, args.k, learner=learner, config=config)
                if not one:
                    if own.training_path(spec) != "grouped":
                        raise SystemExit(f"{learner} cannot be grouped: "
                                         f"{own.grouped_reason(spec, arrays)}")
                    group_size = spec["train"]["group_size"]
                with tempfile.TemporaryDirectory() as tmp:
                    start = time.perf_counter()
                    run = own.train_own(Path(tmp) / "run", arrays, spec)
                    times[one].append(time.perf_counter() - start)
                    result[one] = run.load_scores()
        t1, tg = min(times[True]), min(times[False])
        acc1 = _vote_accuracy(result[True], arrays.y_test, arrays.num_classes)
        accg = _vote_accuracy(result[False], arrays.y_test, arrays.num_classes)
        same = float((result[True].argmax(-1) == result[False].argmax(-1)).mean())
        diff = float(np.abs(result[True] - result[False]).max())
        print(f"{learner:28} {group_size:>3} {t1:>16.2f} {tg:>10.2f} {t1 / tg:>6.2f} "
              f"{acc1:>8.4f} {accg:>8.4f} {same:>10.4f} {diff:>9.2e}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end; times are the best of "
          f"{args.repeats}; ratio = one-at-a-time / grouped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--learners", default="ldcbook.examples:tiny_cnn")
    bench(parser.parse_args())


if __name__ == "__main__":
    main()
