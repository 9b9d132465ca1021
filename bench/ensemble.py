"""Batched ensemble training against one model at a time.

CPU (default): trains the same base models for the same epochs on the same partitions
twice, with :func:`ldcbook.ensemble.train_ensemble` (the models batched in the groups
of :mod:`ldcbook.ensemble.schedule`: fixed slots, padded and masked batches) and with :func:`ldcbook.ensemble.train_one_at_a_time` (standard
modules and ``torch.optim.SGD``, one model after another, as the reference code does),
and prints both times, their ratio, both ensembles' accuracies and how often their
votes agree. Both use the same seeds, shuffles and augmentations, so the ensembles
differ only by floating-point rounding. Targets on the book's 2-core machine
(MNIST-5k, k = 50): at least 2x for the small CNN and 4x for the MLP, accuracies equal
within 0.5 points.

    python bench/ensemble.py                      # MNIST-5k, k = 50, CNN and MLP
    python bench/ensemble.py --epochs 10 --threads 1,2 --repeats 2

GPU (``--device cuda``): Network-in-Network on random CIFAR-shaped data (3x32x32,
10 classes), k = 50 and 250, one epoch batched and a few models one at a time; prints
images per second and the fraction of the GPU's measured matmul peak in the chosen
precision (``--precision``, default tf32 as the full-scale schedules).
``--tiny`` shrinks everything so that the same code path runs on a CPU in seconds.

    python bench/ensemble.py --device cuda
    python bench/ensemble.py --device cpu --gpu-bench --tiny   # smoke check
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import Any

import numpy as np
import torch

from ldcbook import data, partition
from ldcbook.ensemble import (
    GroupLayout,
    TrainConfig,
    accuracy,
    predict_scores,
    preset,
    resolve_group_size,
    train_ensemble,
    train_one_at_a_time,
    votes,
)
from ldcbook.models import build_model


def _timed(fn: Any) -> tuple[Any, float, float]:
    """Run ``fn``; return its result, wall seconds and process CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _masked_share(config: TrainConfig, ds: Any, sizes: list[int]) -> tuple[int, float]:
    """Group size, and the share of slot-steps in which a model is masked."""
    g = resolve_group_size(config, tuple(ds.x_train.shape[1:]), len(sizes), "cpu")
    layout = GroupLayout(len(sizes), g)
    steps = -(-np.asarray(sizes) // config.batch_size)
    run = sum(int(steps[m].max()) * len(m)
              for m in map(layout.members, range(layout.num_groups)))
    return g, 1 - steps.sum() / run


def cpu_bench(args: argparse.Namespace) -> None:
    ds = data.load(args.dataset)
    parts = partition.partitions(ds, args.k)
    sizes = [len(p) for p in parts]
    ids = list(range(args.k))
    print(f"{args.dataset}: {len(ds.y_train)} training / {len(ds.y_test)} test images, "
          f"k = {args.k} partitions of {min(sizes)}..{max(sizes)} samples")
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, torch {torch.__version__}")
    header = (f"{'learner':7} {'thr':>3} {'epochs':>6} {'lr':>5} "
              f"{'one-at-a-time s':>16} {'batched s':>10} {'ratio':>6} "
              f"{'(cpu-time ratio)':>16} {'acc 1-by-1':>10} {'acc batched':>11} "
              f"{'votes agree':>11} "
              f"{'max |dlogit|':>12} {'G':>3} {'masked':>6}")
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for learner in args.learners:
            config = preset("baseline", args.dataset, learner, scale="default",
                            seed=args.seed, epochs=args.epochs, device="cpu")
            if args.augment:
                config = config.replace(augment=args.augment)
            warm = config.replace(epochs=1)  # one-time costs (imports, allocator)
            train_one_at_a_time(ds, parts, ids[:2], warm, progress=False)
            train_ensemble(ds, parts, ids[:2], warm, progress=False)
            t_ref = c_ref = t_bat = c_bat = float("inf")
            for _ in range(args.repeats):  # interleaved; the fastest of each counts
                ref, t, c = _timed(lambda: train_one_at_a_time(
                    ds, parts, ids, config, progress=args.progress))
                t_ref, c_ref = min(t_ref, t), min(c_ref, c)
                bat, t, c = _timed(lambda: train_ensemble(
                    ds, parts, ids, config, progress=args.progress))
                t_bat, c_bat = min(t_bat, t), min(c_bat, c)
            group, masked = _masked_share(config, ds, sizes)
            s_ref = predict_scores(ref, ds.x_test)
            s_bat = predict_scores(bat, ds.x_test)
            a_ref, _ = accuracy(s_ref, ds.y_test)
            a_bat, _ = accuracy(s_bat, ds.y_test)
            agree = float(np.mean(votes(s_ref) == votes(s_bat)))
            row = (f"{learner:7} {threads:>3} {config.epochs:>6} {config.lr:>5.3g} "
                   f"{t_ref:>16.2f} {t_bat:>10.2f} {t_ref / t_bat:>6.2f} "
                   f"{c_ref / c_bat:>16.2f} {a_ref:>10.4f} {a_bat:>11.4f} "
                   f"{agree:>11.4f} "
                   f"{float(np.abs(s_ref - s_bat).max()):>12.2e} "
                   f"{group:>3} {masked:>6.1%}")
            rows.append(row)
            print(row if len(rows) > 1 else header + "\n" + row, flush=True)
    print("\n(G = models per kernel call; masked = share of the slot-steps of the "
          "batched run in which a model sat masked, the cost of fixed groups)")
    print("(ratio = one-at-a-time wall time / batched wall time; cpu-time ratio the "
          f"same in process CPU time; batch {config.batch_size}, augment "
          f"{config.augment}, SGD Nesterov 0.9, lr x {config.gamma} after "
          f"{', '.join(f'{m:.0%}' for m in config.milestones)} of the epochs)")


# --------------------------------------------------------------------------------------
# GPU: NiN on CIFAR-shaped data
# --------------------------------------------------------------------------------------


def _nin_flops_per_image() -> float:
    """Training FLOPs of one NiN image: 3 x 2 x multiply-adds of the forward pass."""
    model = build_model("nin", 3, 10, 32)
    macs = 0
    x = torch.zeros(1, 3, 32, 32)
    with torch.no_grad():
        for layer in model:
            y = layer(x)
            if isinstance(layer, torch.nn.Conv2d):
                k = layer.kernel_size[0] * layer.kernel_size[1]
                macs += y.numel() * layer.in_channels * k
            elif isinstance(layer, torch.nn.Linear):
                macs += layer.in_features * layer.out_features
            x = y
    return 3 * 2 * macs


def _peak_tflops(device: torch.device, tiny: bool, precision: str) -> float:
    n = 256 if tiny else 8192
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    if device.type == "cuda":
        torch.backends.cuda.matmul.fp32_precision = (
            "tf32" if precision == "tf32" else "ieee")
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    reps = 3 if tiny else 20
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e12


class _RandomImages:
    """CIFAR-shaped random uint8 images, with what :mod:`ldcbook.ensemble` reads."""

    def __init__(self, n: int, n_test: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x_train = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8,
                                     generator=g)
        self.y_train = torch.randint(0, 10, (n,), generator=g)
        self.x_test = torch.randint(0, 256, (n_test, 3, 32, 32), dtype=torch.uint8,
                                    generator=g)
        self.y_test = torch.randint(0, 10, (n_test,), generator=g)
        self.num_classes = 10
        self.train_keys = partition.pixel_sums(self.x_train)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def gpu_bench(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    tiny = args.tiny
    precision = args.precision if device.type == "cuda" else "fp32"
    n = 128 if tiny else 50_000
    ks = [4] if tiny else args.gpu_k
    ds = _RandomImages(n, 16 if tiny else 1000, args.seed)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    peak = _peak_tflops(device, tiny, precision)
    flops = _nin_flops_per_image()
    print(f"device: {name}; measured peak {precision} "
          f"matmul {peak:.1f} TFLOP/s; NiN training ~{flops / 1e9:.2f} GFLOP per image")
    print(f"{'k':>5} {'batch':>5} {'chunk':>5} {'batched img/s':>14} "
          f"{'1-by-1 img/s':>13} {'ratio':>6} {'batched % peak':>14}")
    for k in ks:
        parts = partition.partitions(ds, k)
        for batch in args.gpu_batch:
            config = TrainConfig(model="nin", epochs=1, batch_size=batch, lr=0.005,
                                 augment="cropflip", seed=args.seed, device=str(device),
                                 eval_batch_size=256, precision=precision)
            chunk = min(k, args.gpu_chunk or k)
            ids = list(range(chunk))
            images = sum(len(parts[i]) for i in ids)
            # warm-up (cuDNN autotuning, allocator), then one timed epoch
            train_ensemble(ds, parts, ids[: min(2, chunk)], config, progress=False)
            _sync(device)
            t = time.perf_counter()
            train_ensemble(ds, parts, ids, config, progress=args.progress)
            _sync(device)
            batched = images / (time.perf_counter() - t)
            m = min(args.gpu_reference_models, chunk)
            ref_images = sum(len(parts[i]) for i in ids[:m])
            train_one_at_a_time(ds, parts, ids[:1], config, progress=False)
            _sync(device)
            t = time.perf_counter()
            train_one_at_a_time(ds, parts, ids[:m], config, progress=False)
            _sync(device)
            single = ref_images / (time.perf_counter() - t)
            print(f"{k:>5} {batch:>5} {chunk:>5} {batched:>14.0f} {single:>13.0f} "
                  f"{batched / single:>6.1f} "
                  f"{100 * batched * flops / 1e12 / peak:>13.1f}%",
                  flush=True)
    print("(one-at-a-time rate measured on the first "
          f"{args.gpu_reference_models} models; images/s counts the training "
          "images of one epoch, augmentation included)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", default="mnist5k", choices=data.DATASETS,
                        help="CPU bench dataset (default mnist5k)")
    parser.add_argument("--k", type=int, default=50, help="partitions (default 50)")
    parser.add_argument("--epochs", type=int, default=30,
                        help="epochs per model (default 30, the default-scale preset)")
    parser.add_argument("--learners", default="cnn,mlp",
                        help="comma-separated CPU learners (default cnn,mlp)")
    parser.add_argument("--augment", default=None, help="override the augmentation")
    parser.add_argument("--threads", default="1",
                        help="comma-separated torch thread counts (default 1)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="time each trainer this many times, keep the fastest "
                             "(the machine may be shared; default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu",
                        help="cpu: the CPU bench; cuda: the NiN GPU bench")
    parser.add_argument("--gpu-bench", action="store_true",
                        help="run the NiN bench even on the CPU (use with --tiny)")
    parser.add_argument("--tiny", action="store_true",
                        help="GPU bench at tiny sizes (a smoke check for a CPU)")
    parser.add_argument("--gpu-k", default="50,250", help="GPU bench k values")
    parser.add_argument("--precision", default="tf32", choices=("fp32", "tf32", "bf16"),
                        help="GPU bench precision (default tf32)")
    parser.add_argument("--gpu-batch", default="16,128", help="GPU bench batch sizes")
    parser.add_argument("--gpu-chunk", type=int, default=None,
                        help="models per batched computation on the GPU (default all)")
    parser.add_argument("--gpu-reference-models", type=int, default=3,
                        help="models trained one at a time to measure that rate")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    args = parser.parse_args(argv)
    args.learners = [s for s in args.learners.split(",") if s]
    args.threads = [int(s) for s in args.threads.split(",") if s]
    args.gpu_k = [int(s) for s in args.gpu_k.split(",") if s]
    args.gpu_batch = [int(s) for s in args.gpu_batch.split(",") if s]
    if args.tiny:
        args.gpu_batch = [8]
        args.gpu_reference_models = 2
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here "
                     "(use --gpu-bench --tiny on a CPU)")
    if args.device.startswith("cuda") or args.gpu_bench:
        if not args.device.startswith("cuda"):
            torch.set_num_threads(int(args.threads[0]))
        gpu_bench(args)
    else:
        cpu_bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
