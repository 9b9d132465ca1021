"""Measure the seed-to-seed spread of Chapter 7's training results.

Numbers that come out of floating-point training differ in their last digits from
one CPU to another, so the regression baseline does not compare them digit by digit
(README, "make test"). Chapter 7 instead asserts each of its key numbers against the
mean over training seeds, within a tolerance taken from the spread over seeds: this
script trains the chapter's default-scale runs (MNIST-5k, small CNN, DPA with every k
of the chapter, with random crops and without augmentation) with several seeds other
than the chapter's own (seed 0), so that the chapter's run is compared with runs it is
not part of, and writes, for each number, its mean, standard deviation and the values,
to ``book/reference/07_seed_spread.json``. ``KS`` and ``LEARNERS`` below must match
the chapter's default-scale settings.

    .venv/bin/python tools/seed_spread.py            # seeds 1..6, about 10 minutes

Run it again whenever the engine or the chapter's schedule changes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from ldcbook import experiments as ex
from ldcbook.data import load

KS = [5, 10, 25, 50, 100, 200]
LEARNERS = {"crop": {}, "none": {"augment": "none"}}
OUT = Path(__file__).resolve().parents[1] / "book" / "reference" / "07_seed_spread.json"


def measure(seed: int, root: Path) -> dict[str, float]:
    ds = load("mnist5k")
    labels = ds.y_test.numpy()
    out = {}
    for name, overrides in LEARNERS.items():
        for k in KS:
            spec = ex.experiment_spec("mnist5k", k, 1, "cnn", "baseline", "default",
                                      seed, **overrides)
            run = ex.train_run(root, ds, spec)
            for quantity, value in ex.dpa_summary(run, labels).items():
                out[f"{name}/k={k}/{quantity}"] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=6, help="number of seeds (6)")
    parser.add_argument("--first-seed", type=int, default=1,
                        help="first seed (1: the chapter trains with seed 0)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    values: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="ldcbook-spread-") as tmp:
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        for seed in seeds:
            for key, v in measure(seed, Path(tmp)).items():
                values.setdefault(key, []).append(v)
            print(f"seed {seed} done", flush=True)
    table = {key: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)),
                   "values": v} for key, v in values.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"what": "Chapter 7, default scale: MNIST-5k, cnn, baseline schedule, "
                      "DPA; mean and standard deviation over training seeds",
              "seeds": seeds, "torch": torch.__version__,
              "cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "numbers": table}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    for key, row in table.items():
        print(f"{key:34s} {row['mean']:8.4f} ± {row['std']:.4f}")


if __name__ == "__main__":
    main()
