"""AutoAugment throughput: the per-image loop of before against the batched path.

The LDC augmented learners apply torchvision's AutoAugment to every training image at
every step. This benchmark prints, in one run, on CIFAR-shaped uint8 images:

1. images per second per core of the former implementation (torchvision's
   ``AutoAugment`` called on one image at a time, torch's global generator seeded with
   the image's seed: reproduced here as ``per_image``) and of
   :func:`ldcbook.augment.auto_augment` (choices drawn from each image's seed, images
   grouped by operation, one batched call per group), for each policy, with their
   ratio. Rates are measured on this process's CPU time with one thread (best of
   ``--repeat``), so that other load on the machine inflates neither; the wall-clock
   rate is printed beside them;
2. :class:`ldcbook.augment.AutoAugmentPool` with 1..W worker processes (wall clock;
   the same images as in-process, checked equal);
3. the wall time of one epoch of :func:`ldcbook.ensemble.train_ensemble` with
   AutoAugment (MNIST-5k, k = 50, small CNN), augmenting in the training process
   against in workers (``--epochs 0`` skips it).

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

KINDS = ("autoaugment-cifar10", "autoaugment-imagenet", "autoaugment-svhn")


def per_image(x: torch.Tensor, kind: str, seeds: torch.Tensor) -> torch.Tensor:
    """The former implementation: torchvision's AutoAugment image by image."""
    transform = aug._auto_augment_transform(kind)
    out = torch.empty_like(x)
    with torch.random.fork_rng(devices=[]):
        for n, seed in enumerate(seeds.tolist()):
            torch.default_generator.manual_seed(int(seed))
            out[n] = transform(x[n])
    return out


def rates(fn, n: int, repeat: int) -> tuple[float, float, torch.Tensor]:
    """Best images/s on this process's CPU time and on the wall clock."""
    out = fn()  # warm-up (caches, worker start)
    cpu = wall = 0.0
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        out = fn()
        cpu = max(cpu, n / (time.process_time() - c))
        wall = max(wall, n / (time.perf_counter() - w))
    return cpu, wall, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1600)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", default=None,
                        help="comma-separated worker counts (default 1..cores)")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cores = os.cpu_count() or 1
    workers = ([int(w) for w in args.workers.split(",")] if args.workers
               else list(range(1, cores + 1)))
    g = torch.Generator().manual_seed(0)
    n = args.images
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    seeds = torch.randint(0, aug.SEED_BOUND, (n,), generator=g)
    print(f"{n} images 3x32x32, one thread, {cores} cores, load average "
          f"{os.getloadavg()[0]:.2f}; images/s per core (CPU time) and wall clock")
    print(f"{'policy':<21} {'before':>8} {'batched':>8} {'ratio':>6} "
          f"{'before':>8} {'batched':>8} (wall)")
    for kind in KINDS:
        old_cpu, old_wall, _ = rates(lambda: per_image(x, kind, seeds), n, args.repeat)
        new_cpu, new_wall, _ = rates(lambda: aug.auto_augment(x, kind, seeds), n,
                                     args.repeat)
        print(f"{kind:<21} {old_cpu:>8.0f} {new_cpu:>8.0f} {new_cpu / old_cpu:>6.2f} "
              f"{old_wall:>8.0f} {new_wall:>8.0f}")
    kind = KINDS[0]
    ref = aug.auto_augment(x, kind, seeds)
    print(f"\nworkers ({kind}, wall clock)")
    print(f"{'workers':>7} {'images/s':>9} {'per core':>9}")
    for w in workers:
        with aug.AutoAugmentPool(kind, w) as pool:
            _, r, out = rates(lambda: pool.submit(x, seeds).result(), n, args.repeat)
        assert torch.equal(out, ref)  # the same images, whatever the split
        print(f"{w:>7} {r:>9.0f} {r / w:>9.0f}")
    if args.epochs <= 0:
        return
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
