"""AutoAugment throughput: in the training process against worker processes.

The LDC augmented learners apply torchvision's AutoAugment to every training image at
every step, one image at a time (batching images of several models into one kernel
call would make an image's rounding depend on its companions). This benchmark prints,
in one run:

1. images per second of :func:`ldcbook.augment.auto_augment` in this process, and of
   :class:`ldcbook.augment.AutoAugmentPool` with 1..W workers, with the rate per
   worker core and the ratio to the in-process rate (same images, same seeds, checked
   equal);
2. the wall time of one epoch of :func:`ldcbook.ensemble.train_ensemble` with
   AutoAugment (MNIST-5k, k = 50, small CNN), augmenting in the training process
   against in workers, where the next step's images are augmented while the current
   one trains.

    python bench/augment.py                 # CIFAR-shaped images, W = cores
    python bench/augment.py --workers 1,2 --images 2000
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from ldcbook import augment as aug
from ldcbook import data, partition
from ldcbook.ensemble import preset, train_ensemble


def rate(fn, n: int) -> tuple[float, torch.Tensor]:
    fn()  # warm-up (worker start, caches)
    t = time.perf_counter()
    out = fn()
    return n / (time.perf_counter() - t), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1600)
    parser.add_argument("--workers", default=None,
                        help="comma-separated worker counts (default 1..cores)")
    parser.add_argument("--kind", default="autoaugment-cifar10")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cores = os.cpu_count() or 1
    workers = ([int(w) for w in args.workers.split(",")] if args.workers
               else list(range(1, cores + 1)))
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8, generator=g)
    seeds = torch.randint(0, aug.SEED_BOUND, (args.images,), generator=g)
    base, ref = rate(lambda: aug.auto_augment(x, args.kind, seeds), args.images)
    print(f"{args.kind}, {args.images} images 3x32x32, {cores} cores")
    print(f"{'workers':>7} {'images/s':>9} {'per core':>9} {'ratio':>6}")
    print(f"{'in-proc':>7} {base:>9.0f} {base:>9.0f} {1.0:>6.2f}")
    for w in workers:
        with aug.AutoAugmentPool(args.kind, w) as pool:
            r, out = rate(lambda: pool.submit(x, seeds).result(), args.images)
        assert torch.equal(out, ref)  # the same images, whatever the split
        print(f"{w:>7} {r:>9.0f} {r / w:>9.0f} {r / base:>6.2f}")
    ds = data.load("mnist5k")
    parts = partition.partitions(ds, 50)
    cfg = preset("ldc", "mnist5k", "cnn", scale="default", epochs=args.epochs,
                 device="cpu")
    print(f"\ntraining: mnist5k, k = 50, cnn, {cfg.augment}, {args.epochs} epoch(s)")
    times = {}
    for w in (0, max(1, cores - 1)):
        run = cfg.replace(augment_workers=w)
        t = time.perf_counter()
        train_ensemble(ds, parts, range(50), run, progress=False)
        times[w] = time.perf_counter() - t
        print(f"augment_workers = {w}: {times[w]:.1f} s")
    w = max(times)
    print(f"ratio {times[0] / times[w]:.2f} (training process + {w} worker(s))")


if __name__ == "__main__":
    main()
