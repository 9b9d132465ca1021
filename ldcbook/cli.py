"""Command-line interface: train base models, certify, attack and plot a run, merge shards.

``python -m ldcbook train``
    Partition a dataset by the DPA/FA hash, train every base model (all of a chunk as
    one batched computation, :mod:`ldcbook.ensemble`) and store their test scores in a
    run directory (:mod:`ldcbook.store`). A killed run resumes where it stopped;
    ``--shard i/n`` trains only every n-th chunk, so that n processes or machines (a
    SLURM job array, say) share one run; ``merge`` then joins their directories.
``python -m ldcbook train --data FILE.npz --learner package.module:factory``
    The same for one's own data (arrays ``x_train``, ``y_train``, ``x_test``,
    ``y_test``; any sample shape, uint8 or float) and one's own torch learner,
    optionally behind a fixed feature map (``--features hog|package.module:function``),
    partitioned by ``--hash pixel_sum|sha256`` (:mod:`ldcbook.own`). A killed run
    resumes from the last finished epoch.
``python -m ldcbook predict RUN --input FILE.npz``
    Predictions and certificates of a finished run's stored models for new inputs.
``python -m ldcbook certify RUN --method dpa|fa|roe``
    Print the certified accuracy of a finished run (book chapter on DPA, FA and ROE).
``python -m ldcbook plot RUN --out fig.png``
    Plot certified accuracy against attack size.
``python -m ldcbook attack RUN --method near-copies|relabel|removal --budget B``
    Poison a finished DPA or FA run for real (:mod:`ldcbook.attacks`): each test point
    gets its own attack of size at most ``B``, only the models it reaches are retrained,
    and the attacked predictions and certificates are written into ``RUN/attacks/``.
``python -m ldcbook merge DEST SRC...``
    Merge the run directories of shards into one.

Every option is explained by ``--help``; a bad option prints a one-line error and
exits with status 2, a failure while running (missing data, a run of another
configuration) prints a one-line error and exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ldcbook.config import PRECISIONS, SCALES
from ldcbook.experiments import (
    DATASETS,
    LEARNER_CHOICES,
    METHODS,
    NEURAL_LEARNERS,
    certify_scores,
    cli_args,
    experiment_spec,
    fit_and_keep,
    prepare_spec,
    rnn_features,
    rnn_train_fn,
)

AUTO_EMPTY = 0.1
"""``--radius auto``: the target fraction of empty rNN balls."""
AUTO_QUERIES = 1000
"""``--radius auto``: training points measured to each partition."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (usage goes to ``--help``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(convert: Any, accept: Any, expected: str) -> Any:
    """An argparse type: ``convert(text)``, kept only if ``accept(value)``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_nonnegative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _number(float, lambda v: 0 < v < float("inf"), "a positive number")


def _radius(text: str) -> float | str:
    if text == "auto":
        return text
    return _positive_float(text)


def _shard(text: str) -> tuple[int, int]:
    parts = text.split("/")
    try:
        i, n = int(parts[0]), int(parts[1])
        if len(parts) != 2:
            raise ValueError
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"expected i/n such as 0/4, got {text!r}")
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"expected 0 <= i < n in i/n, got {text!r}")
    return i, n


def _attack_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 0,5,10, got {text!r}"
        )
    if not sizes or min(sizes) < 0:
        raise argparse.ArgumentTypeError(f"expected integers >= 0, got {text!r}")
    return sizes


def _learner(text: str) -> str:
    if text in LEARNER_CHOICES or (text.count(":") == 1 and all(text.split(":"))):
        return text
    raise argparse.ArgumentTypeError(
        f"expected one of {', '.join(LEARNER_CHOICES)} or package.module:factory, "
        f"got {text!r}"
    )


def _features(text: str) -> str:
    if text in ("hog", "pixels") or (text.count(":") == 1 and all(text.split(":"))):
        return text
    raise argparse.ArgumentTypeError(
        f"expected hog, pixels or package.module:function, got {text!r}"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m ldcbook``."""
    from ldcbook.augment import AUGMENTATIONS

    parser = _Parser(
        prog="python -m ldcbook",
        description=(
            "Train the base models of a DPA/FA run, certify and plot it, merge shards. "
            "Run 'python -m ldcbook COMMAND --help' for the options of a command."
        ),
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    commands.required = True

    train = commands.add_parser(
        "train",
        help="train the base models of a run and store their test scores",
        description=(
            "Partition the training set by the DPA hash (pixel sum mod k, or mod k*d\n"
            "for FA), train one base model per partition (a chunk of models at a time\n"
            "as one batched computation) and store their test scores in --out.\n"
            "Running the same command again resumes an interrupted run.\n"
            "With --data FILE.npz and --learner package.module:factory: one's own\n"
            "data and torch module, partitioned by --hash (pixel_sum or sha256)."
        ),
        epilog=(
            "examples:\n"
            "  python -m ldcbook train --dataset mnist5k --k 50 --learner cnn "
            "--out runs/mnist5k-k50\n"
            "  # 8 shards of a SLURM job array, then one merge:\n"
            "  python -m ldcbook train --dataset cifar10 --k 250 --learner nin "
            "--scale full \\\n"
            "      --chunk 50 --shard $SLURM_ARRAY_TASK_ID/8 "
            "--out runs/c250-$SLURM_ARRAY_TASK_ID\n"
            "  python -m ldcbook merge runs/c250 runs/c250-*\n"
            "  # one's own data file and torch module, then new inputs:\n"
            "  python -m ldcbook train --data my.npz --k 20 "
            "--learner ldcbook.examples:small_mlp --out runs/mine\n"
            "  python -m ldcbook predict runs/mine --input new.npz --out pred.npz"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--dataset", choices=DATASETS, default=None,
                       help="the dataset (digits and mnist5k ship with the packages; "
                            "the others are read from --data-root)")
    train.add_argument("--data", type=Path, default=None, metavar="FILE.npz",
                       help="instead of --dataset: one's own data, a .npz with arrays "
                            "x_train, y_train, x_test, y_test (samples of any shape, "
                            "uint8 or float; integer labels from 0; optional scalar "
                            "num_classes); needs --learner package.module:factory")
    train.add_argument("--hash", choices=("pixel_sum", "sha256"), default=None,
                       help="partition key of a sample (never of its label): "
                            "pixel_sum, the integer sum of its uint8 values (the "
                            "paper's), or sha256 of its bytes (little-endian, C order, "
                            "after a dtype/shape header), for any data; default "
                            "pixel_sum for uint8 data, sha256 for float data. With "
                            "built-in learners only pixel_sum")
    train.add_argument("--k", required=True, type=_positive_int,
                       help="number of partitions (DPA), or k of FA")
    train.add_argument("--d", type=_positive_int, default=1,
                       help="FA spread: k*d buckets, each model trained on d of them "
                            "(default 1: DPA)")
    train.add_argument("--learner", required=True, type=_learner,
                       metavar="{" + ",".join(LEARNER_CHOICES) + "} or MODULE:FACTORY",
                       help="base learner: small CNN, MLP, Network-in-Network, "
                            "radius nearest neighbours (rnn, on HOG features), or "
                            "one's own: an importable factory(input_shape, "
                            "num_classes) returning a torch.nn.Module (e.g. "
                            "ldcbook.examples:small_mlp), trained in groups of "
                            "models when its layers allow it, else one model at a "
                            "time, with the factory's path and source hash recorded")
    train.add_argument("--schedule", choices=("baseline", "ldc"), default="baseline",
                       help="training schedule: the paper's baseline (crop/flip) or "
                            "the LDC augmented learners (AutoAugment); default "
                            "baseline")
    train.add_argument("--augment", choices=AUGMENTATIONS, default=None, metavar="AUG",
                       help="augmentation, one of " + ", ".join(AUGMENTATIONS)
                            + "; default: that of the schedule and dataset")
    train.add_argument("--scale", choices=SCALES, default=None,
                       help="smoke (seconds), default (CPU) or full (the paper's "
                            "epochs); default: $LDCBOOK_SCALE, else default")
    train.add_argument("--epochs", type=_positive_int, default=None,
                       help="epochs per model (overrides the scale's)")
    train.add_argument("--batch-size", type=_positive_int, default=None,
                       help="batch size per model (overrides the scale's)")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="initial learning rate (overrides the scale's)")
    train.add_argument("--seed", type=_nonnegative_int, default=0,
                       help="run seed; model i draws from (seed, i) (default 0)")
    train.add_argument("--radius", type=_radius, default=None,
                       help="rnn: l1 ball radius, or 'auto': the radius at which 10%% "
                            "of the balls are empty, read off the training set once "
                            "(the rule of the book's nearest-neighbour chapter; "
                            "recorded in the run). Default 20 with HOG features, the "
                            "paper's value for CIFAR-10, 100 with pixels")
    train.add_argument("--features", type=_features, default=None,
                       metavar="{hog,pixels} or MODULE:FUNCTION",
                       help="rnn and one's own learners: HOG features (9 "
                            "orientations, 8x8-pixel cells, 3x3 blocks; cells of a "
                            "quarter of the side for images under 24 pixels; the "
                            "default of rnn), raw pixels in [0, 1] (the default of "
                            "one's own learners), or an importable fixed function of "
                            "the raw samples (own learners). A feature map keeps the "
                            "certificate only if it is not fitted on the training set "
                            "being certified")
    train.add_argument("--out", required=True, type=Path,
                       help="the run directory (created, or resumed if it exists)")
    train.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N",
                       help="train only chunks c with c %% N == I (default 0/1: all)")
    train.add_argument("--chunk", type=_positive_int, default=None, metavar="C",
                       help="models trained per chunk (stored when it finishes; "
                            "default: all k*d); best a multiple of the group size")
    train.add_argument("--group-size", type=_positive_int, default=None,
                       help="models that share a kernel call: model i trains in group "
                            "i // G (default: from the learner, image size, batch size "
                            "and device kind; recorded in the run, and kept when it "
                            "resumes)")
    train.add_argument("--one-at-a-time", action="store_true",
                       help="package.module:factory learners: train one model at a "
                            "time even when the learner could be trained in groups "
                            "(recorded in the run; the two paths agree up to "
                            "floating-point rounding)")
    train.add_argument("--precision", choices=PRECISIONS, default=None,
                       help="fp32, tf32 (float32 with TF32 products on CUDA) or bf16 "
                            "(CUDA autocast); default: the schedule's (fp32 on the "
                            "CPU scales, tf32 at full scale)")
    train.add_argument("--deterministic", action=argparse.BooleanOptionalAction,
                       default=None,
                       help="on CUDA, deterministic algorithms only (default: on; "
                            "--no-deterministic allows faster nondeterministic "
                            "kernels, and runs are then not reproducible bit for bit); "
                            "the CPU kernels used are deterministic anyway")
    train.add_argument("--device", default=None,
                       help="cpu, cuda or cuda:N (default: cuda when available)")
    train.add_argument("--augment-workers", type=_nonnegative_int, default=0,
                       metavar="W",
                       help="AutoAugment in W worker processes, overlapped with "
                            "training (default 0: in the training process); the "
                            "results do not depend on it")
    train.add_argument("--checkpoint-every", type=_number(
                           float, lambda v: 0 <= v < float("inf"), "seconds >= 0"),
                       default=60.0, metavar="SECONDS",
                       help="cnn/mlp/nin: checkpoint a chunk in training at the end of "
                            "an epoch once SECONDS have passed since the last "
                            "checkpoint (default 60; 0: every epoch); a killed run "
                            "resumes from there, bit for bit. Own learners checkpoint "
                            "every epoch")
    train.add_argument("--threads", type=_positive_int, default=None,
                       help="torch CPU threads (default: torch's choice; 1 is best "
                            "when several processes share the machine)")
    train.add_argument("--data-root", type=Path, default=None,
                       help="data directory (default: $LDCBOOK_DATA, else "
                            "~/.cache/ldcbook/data)")
    train.add_argument("--download", action="store_true",
                       help="let torchvision download a missing dataset")
    train.add_argument("--no-progress", action="store_true",
                       help="hide the progress bars")

    certify = commands.add_parser(
        "certify",
        help="print certified accuracies of a finished run",
        description=(
            "Certify a finished run: each test point's prediction and certified radius "
            "(attack size = insertions plus removals), then the certified accuracy at "
            "several attack sizes and the median radius."
        ),
    )
    certify.add_argument("run", type=Path, help="the run directory")
    certify.add_argument("--method", choices=METHODS, default="dpa",
                         help="dpa (plurality vote), fa (Finite Aggregation, for d > 1 "
                              "runs) or roe (Run-Off Election; needs score vectors); "
                              "default dpa")
    certify.add_argument("--attack-sizes", type=_attack_sizes, default=None,
                         metavar="B1,B2,...",
                         help="attack sizes to report (default: eleven from 0 to the "
                              "largest radius)")
    certify.add_argument("--json", action="store_true",
                         help="print the result as JSON instead of a table")
    certify.add_argument("--data-root", type=Path, default=None,
                         help="data directory, to read the test labels")

    predict = commands.add_parser(
        "predict",
        help="predictions and certificates of a run's stored models on new inputs",
        description=(
            "Run the stored base models of a finished run (own learners, or built-in "
            "neural learners) on new inputs and certify each prediction."
        ),
    )
    predict.add_argument("run", type=Path, help="the run directory")
    predict.add_argument("--input", required=True, type=Path, metavar="FILE.npz",
                         help="a .npz with the inputs 'x' (or 'x_test'), of the run's "
                              "sample shape and dtype, and optionally labels 'y'")
    predict.add_argument("--method", choices=METHODS, default=None,
                         help="dpa, fa or roe (default dpa, fa for d > 1)")
    predict.add_argument("--out", type=Path, default=None, metavar="FILE.npz",
                         help="write the arrays prediction and radius here")
    predict.add_argument("--json", action="store_true",
                         help="print the result as JSON")

    plot = commands.add_parser(
        "plot",
        help="plot certified accuracy against attack size",
        description="Plot certified accuracy against attack size for some methods.",
    )
    plot.add_argument("run", type=Path, help="the run directory")
    plot.add_argument("--out", required=True, type=Path, help="the image file to write")
    plot.add_argument("--method", choices=METHODS, action="append", default=None,
                      help="a method to plot; repeat for several (default: dpa, plus "
                           "fa for d > 1, plus roe for neural learners)")
    plot.add_argument("--data-root", type=Path, default=None,
                      help="data directory, to read the test labels")

    merge = commands.add_parser(
        "merge",
        help="merge the run directories of shards",
        description=(
            "Copy the verified score chunks of several run directories of the same "
            "experiment (e.g. one per --shard) into DEST."
        ),
    )
    merge.add_argument("dest", type=Path, help="the merged run directory")
    merge.add_argument("sources", type=Path, nargs="+",
                       help="the shard run directories")
    _add_attack_parser(commands)
    return parser


# --------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import torch

    from ldcbook import data, partition, store
    from ldcbook.certify import fa_shifts
    from ldcbook.config import scale as current_scale
    from ldcbook.ensemble import TrainConfig

    if (args.dataset is None) == (args.data is None):
        parser.error("give exactly one of --dataset and --data")
    own = ":" in args.learner
    if args.data is not None and not own:
        parser.error("--data needs --learner package.module:factory (e.g. "
                     "ldcbook.examples:small_mlp); the built-in learners train on "
                     "--dataset")
    if own:
        return _train_own(args, parser)
    if args.one_at_a_time:
        parser.error("--one-at-a-time applies to package.module:factory learners")
    if args.hash == "sha256":
        parser.error("--hash sha256 applies to --learner package.module:factory runs; "
                     "the built-in learners use the paper's pixel_sum")
    if args.features is not None and (
        args.learner != "rnn" or args.features not in ("hog", "pixels")
    ):
        parser.error("--features applies to --learner rnn (hog or pixels) and to "
                     "package.module:factory learners")
    args.features = args.features or "hog"
    if args.device is not None:
        try:
            dev = torch.device(args.device)
        except RuntimeError:
            parser.error(f"argument --device: not a torch device: {args.device!r}")
        if dev.type == "cuda" and not torch.cuda.is_available():
            parser.error("argument --device: CUDA is not available on this machine")
    if args.learner == "rnn":
        nn_options = (args.augment, args.epochs, args.batch_size, args.lr,
                      args.group_size, args.precision, args.deterministic)
        if args.schedule != "baseline" or any(v is not None for v in nn_options):
            parser.error("--schedule/--augment/--epochs/--batch-size/--lr/--group-size/"
                         "--precision/--deterministic do not apply to --learner rnn")
    elif args.radius is not None:
        parser.error("--radius applies to --learner rnn only")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    scale = args.scale or current_scale()
    dataset = data.load(args.dataset, root=args.data_root, download=args.download)
    progress = not args.no_progress
    if args.learner == "rnn":
        radius = args.radius if args.radius is not None else (
            20.0 if args.features == "hog" else 100.0)
        shifts = [0] if args.d == 1 else [int(s) for s in fa_shifts(args.k, args.d)]
        rnn: dict[str, Any] = {"features": args.features}
        feats = None
        if radius == "auto":
            from ldcbook.neighbor_experiments import ball_radius

            feats = rnn_features(dataset.x_train, args.features)
            parts = partition.partitions(dataset, args.k, args.d, shifts)
            radius = ball_radius(feats, parts, empty=AUTO_EMPTY, queries=AUTO_QUERIES,
                                 seed=args.seed)
            rnn["radius_rule"] = {"empty": AUTO_EMPTY, "queries": AUTO_QUERIES}
        rnn["radius"] = radius
        spec: dict[str, Any] = {
            "dataset": args.dataset, "k": args.k, "d": args.d, "shifts": shifts,
            "learner": args.learner, "seed": args.seed, "scale": scale, "rnn": rnn,
        }
        train_fn = rnn_train_fn(dataset, args.features, radius, feats)
    else:
        # The same spec the experiment chapter builds, so either resumes the other's run.
        spec = experiment_spec(
            args.dataset, args.k, args.d, args.learner, args.schedule, scale, args.seed,
            augment=args.augment, epochs=args.epochs, batch_size=args.batch_size,
            lr=args.lr, group_size=args.group_size, precision=args.precision,
            deterministic=args.deterministic,
        )
        # the groups (which models share a kernel call) are part of the run: a new
        # run records them, a resumed one keeps those it recorded
        spec = prepare_spec(args.out, spec, dataset, args.device)
        runtime = TrainConfig.from_dict(spec["train"]).replace(
            device=args.device, augment_workers=args.augment_workers
        )

        train_fn = fit_and_keep(runtime, progress, args.out,
                                checkpoint_every=args.checkpoint_every)

    parts = partition.partitions(dataset, args.k, args.d, spec["shifts"])
    chunk = args.chunk or len(parts)
    run = store.run_training(args.out, dataset, parts, spec, chunk_size=chunk,
                             shard=args.shard, train_fn=train_fn, progress=progress)
    if args.learner != "rnn":
        from ldcbook.own import clear_checkpoints

        clear_checkpoints(run)
    done = len(run.finished())
    print(f"{run.path}: {done} of {run.num_models} models finished"
          + ("" if done < run.num_models else
             f"; certify with: python -m ldcbook certify {run.path} --method "
             + ("fa" if args.d > 1 else "dpa")))
    return 0


def _train_own(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``train --learner package.module:factory``: :mod:`ldcbook.own`."""
    import torch

    from ldcbook import data
    from ldcbook.own import (
        OwnConfig,
        grouped_reason,
        own_spec,
        partition_sizes,
        train_own,
        training_path,
    )

    builtin_only = {"--schedule": args.schedule != "baseline",
                    "--augment": args.augment,
                    "--precision": args.precision,
                    "--deterministic": args.deterministic, "--radius": args.radius,
                    "--augment-workers": args.augment_workers,
                    "--scale": args.scale}
    given = [name for name, value in builtin_only.items() if value]
    if given:
        parser.error(f"{'/'.join(given)} do not apply to a package.module:factory "
                     "learner (trained on the CPU with its own schedule)")
    if args.device not in (None, "cpu"):
        parser.error("argument --device: package.module:factory learners train on "
                     "the CPU")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    keys = None
    if args.data is not None:
        arrays = data.load_arrays(args.data)
    else:
        dataset = data.load(args.dataset, root=args.data_root, download=args.download)
        arrays = data.as_arrays(dataset)
        if args.hash in (None, "pixel_sum"):
            keys = dataset.train_keys  # the pixel sums of the original images
    features = None if args.features == "pixels" else args.features
    defaults = OwnConfig()
    config = OwnConfig(
        epochs=args.epochs or defaults.epochs,
        batch_size=args.batch_size or defaults.batch_size,
        lr=args.lr or defaults.lr,
        one_at_a_time=args.one_at_a_time,
        group_size=args.group_size,
    )
    if args.one_at_a_time and args.group_size is not None:
        parser.error("--group-size and --one-at-a-time exclude each other")
    spec = own_spec(arrays, args.k, args.d, learner=args.learner, features=features,
                    hash=args.hash, seed=args.seed, config=config)
    sizes = partition_sizes(spec, arrays, keys)
    print(f"{arrays.name}: {len(arrays.y_train)} training samples of shape "
          f"{arrays.sample_shape} ({arrays.x_train.dtype}), hash {spec['hash']}: "
          f"partition sizes min {sizes.min()}, median {int(np.median(sizes))}, "
          f"max {sizes.max()}" + (f", {int((sizes == 0).sum())} empty"
                                  if (sizes == 0).any() else ""))
    print(f"{args.learner}: " + (
        f"trained in groups of {spec['train']['group_size']} models"
        if training_path(spec) == "grouped" else
        "trained one model at a time ("
        + (grouped_reason(spec, arrays) or "--one-at-a-time") + ")"))
    run = train_own(args.out, arrays, spec, chunk=args.chunk, shard=args.shard,
                    keys=keys, progress=not args.no_progress)
    done = len(run.finished())
    print(f"{run.path}: {done} of {run.num_models} models finished"
          + ("" if done < run.num_models else
             f"; certify with: python -m ldcbook certify {run.path} --method "
             + ("fa" if args.d > 1 else "dpa")))
    return 0


# --------------------------------------------------------------------------------------
# certify, plot, merge
# --------------------------------------------------------------------------------------


def _open_run(
    path: Path, data_root: Path | None
) -> tuple[Any, dict[str, Any], np.ndarray, np.ndarray]:
    """The run, its experiment spec, its scores and the test labels (data verified)."""
    from ldcbook import data, store

    run = store.RunDir.open(path)
    spec = run.config
    for key in ("dataset", "k", "d", "shifts", "learner"):
        if key not in spec:
            raise ValueError(f"{path} was not written by 'python -m ldcbook train' "
                             f"(its configuration lacks {key!r})")
    try:
        scores = run.load_scores()
    except ValueError as err:
        raise ValueError(f"{str(err).split(';')[0]}; {_recompute_hint(spec, path)}") from err
    stored = run.load_arrays("test_labels")
    if stored is not None:  # runs of ldcbook.own keep their test labels
        labels = stored["y_test"]
        if labels.shape != (run.n_test,):
            raise ValueError(
                f"{path}: its stored test labels have shape {labels.shape}"
            )
        return run, spec, scores, labels
    dataset = data.load(spec["dataset"], root=data_root)
    if store.data_hash(dataset) != run.manifest["data_hash"]:
        raise ValueError(f"the {spec['dataset']} data found differ from those {path} "
                         "was trained on (data hash mismatch)")
    return run, spec, scores, dataset.y_test.numpy()


def _default_sizes(radius: np.ndarray) -> list[int]:
    top = int(radius.max()) if radius.size else 0
    return sorted({int(round(v)) for v in np.linspace(0, max(top, 1), 11)})


def _recompute_hint(spec: dict[str, Any], path: Path) -> str:
    """How a command-line user recomputes missing or damaged scores of a run."""
    if spec.get("learner") in NEURAL_LEARNERS and "train" in spec and (
        "schedule" in spec
    ):
        command = shlex.join(["python", "-m", "ldcbook", *cli_args(spec, path)])
        return f"recompute them with: {command}"
    return ("recompute them by running 'python -m ldcbook train' again with the "
            f"options that made {path} (it trains only what is missing)")


def _median_or_none(median: int) -> int | None:
    """``None`` where fewer than half the test points are certified (radius -1)."""
    return None if median < 0 else median


def _certify(args: argparse.Namespace) -> int:
    from ldcbook.certify import certified_accuracy, median_radius

    run, spec, scores, labels = _open_run(args.run, args.data_root)
    pred, radius = certify_scores(scores, spec, args.method)
    sizes = args.attack_sizes or _default_sizes(radius)
    acc = certified_accuracy(pred, radius, labels, sizes)
    result = {
        "run": str(run.path),
        "dataset": spec["dataset"],
        "k": spec["k"],
        "d": spec["d"],
        "learner": spec["learner"],
        "method": args.method,
        "clean_accuracy": float(np.mean(pred == labels)),
        "median_radius": _median_or_none(median_radius(pred, radius, labels)),
        "attack_sizes": sizes,
        "certified_accuracy": [float(a) for a in np.atleast_1d(acc)],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"run {result['run']}: {spec['dataset']}, k = {spec['k']}, d = {spec['d']}, "
          f"{spec['learner']}, {scores.shape[1]} models, {len(labels)} test points")
    median = result["median_radius"]
    print(f"method {args.method}: clean accuracy {result['clean_accuracy']:.4f}, "
          "median certified radius "
          + ("none (fewer than half the test points are certified)" if median is None
             else str(median)))
    print("attack size  certified accuracy")
    for b, a in zip(sizes, result["certified_accuracy"]):
        print(f"{b:>11d}  {a:.4f}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from ldcbook import store
    from ldcbook.certify import certified_accuracy, median_radius
    from ldcbook.own import load_inputs, predict_scores, save_result

    run = store.RunDir.open(args.run)
    spec = run.config
    x, y = load_inputs(args.input)
    method = args.method or ("dpa" if int(spec["d"]) == 1 else "fa")
    scores = predict_scores(run.path, x)
    pred, radius = certify_scores(scores, spec, method)
    if args.out is not None:
        save_result(args.out, prediction=pred, radius=radius)
    result: dict[str, Any] = {
        "run": str(run.path), "input": str(args.input), "method": method,
        "n": int(len(x)), "models": int(run.num_models),
        "prediction": pred.tolist() if args.json else None,
        "radius": radius.tolist() if args.json else None,
    }
    if y is not None:
        sizes = _default_sizes(radius)
        result["clean_accuracy"] = float(np.mean(pred == y))
        result["median_radius"] = _median_or_none(median_radius(pred, radius, y))
        result["attack_sizes"] = sizes
        result["certified_accuracy"] = [
            float(a) for a in np.atleast_1d(certified_accuracy(pred, radius, y, sizes))]
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"run {run.path}: {len(x)} inputs, {run.num_models} models, method {method}")
    shown = min(len(x), 10)
    print("input  prediction  certified radius")
    for j in range(shown):
        print(f"{j:>5d}  {int(pred[j]):>10d}  {int(radius[j]):>16d}")
    if shown < len(x):
        print(f"  ... {len(x) - shown} more" + (f" (all in {args.out})" if args.out
                                                 else "; --out FILE.npz keeps them"))
    if y is not None:
        median = result["median_radius"]
        print(f"clean accuracy {result['clean_accuracy']:.4f}, median certified radius "
              + ("none" if median is None else str(median)))
    return 0


def _plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from ldcbook.certify import certified_accuracy

    run, spec, scores, labels = _open_run(args.run, args.data_root)
    methods = args.method or ["dpa" if spec["d"] == 1 else "fa"]
    if not args.method and spec["learner"] != "rnn":
        methods.append("roe")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for method in dict.fromkeys(methods):
        pred, radius = certify_scores(scores, spec, method)
        sizes = np.arange(0, max(int(radius.max()) + 2, 2))
        acc = certified_accuracy(pred, radius, labels, sizes)
        ax.step(sizes, acc, where="post", label=method.upper())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("attack size (poisoned samples: insertions + removals)")
    ax.set_ylabel("certified accuracy")
    ax.set_ylim(0, 1)
    ax.legend(title=f"{spec['dataset']}, k = {spec['k']}, d = {spec['d']}")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=150)
    plt.close(fig)
    print(f"wrote {args.out}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from ldcbook import store

    run = store.merge(args.dest, [str(s) for s in args.sources])
    print(f"{run.path}: {len(run.finished())} of {run.num_models} models")
    return 0


# --------------------------------------------------------------------------------------
# attack
# --------------------------------------------------------------------------------------


def _points(text: str) -> tuple[int, int]:
    """``A:B``: the test indices ``range(A, B)``."""
    try:
        a, b = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A:B such as 0:200, got {text!r}")
    if not 0 <= a < b:
        raise argparse.ArgumentTypeError(f"expected 0 <= A < B in A:B, got {text!r}")
    return a, b


def _add_attack_parser(commands: Any) -> None:
    from ldcbook.attack_experiments import FAMILIES

    attack = commands.add_parser(
        "attack",
        help="poison a stored DPA or FA run for real and re-certify the attacked "
             "points",
        description=(
            "Attack each test point of a finished DPA run with its own attack of the\n"
            "given family and budget (insertions + removals), aimed at its runner-up\n"
            "class in its most vulnerable partitions; retrain only the affected base\n"
            "models (packed into shared passes) and re-certify. On an FA run (near-\n"
            "copies only) the copies go into the point's heaviest buckets, those the\n"
            "FA certificate's worst case corrupts. Results go to\n"
            "RUN/attacks/METHOD-bBUDGET/shard-I-of-N.npz (checksummed in a .json)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    attack.add_argument("run", type=Path, help="the run directory (from train)")
    attack.add_argument("--method", required=True, choices=FAMILIES,
                        help="the attack family")
    attack.add_argument("--budget", required=True, type=_nonnegative_int,
                        help="attack size per point (insertions + removals)")
    attack.add_argument("--points", type=_points, default=None, metavar="A:B",
                        help="test indices A..B-1 to attack (default: all)")
    attack.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N",
                        help="attack only every N-th point, starting at I")
    attack.add_argument("--device", default=None,
                        help="training device (default: CUDA when available)")
    attack.add_argument("--threads", type=_positive_int, default=None,
                        help="torch CPU threads")
    attack.add_argument("--data-root", type=Path, default=None, help="data directory")


def _attack(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import io

    import torch

    from ldcbook import data, partition, store
    from ldcbook.attack_experiments import attack_points, fa_attack_points
    from ldcbook.ensemble import TrainConfig

    if args.device is not None and args.device.startswith("cuda") and (
            not torch.cuda.is_available()):
        parser.error("argument --device: CUDA is not available on this machine")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    run, spec, scores, _ = _open_run(args.run, args.data_root)
    k, d = int(spec["k"]), int(spec["d"])
    if spec["learner"] not in NEURAL_LEARNERS:
        raise ValueError("attack needs a DPA or FA run of a neural learner")
    if d > 1 and args.method != "near-copies":
        raise ValueError("on an FA run (d > 1) attack takes --method near-copies "
                         "(one near-copy in each of the heaviest buckets)")
    dataset = data.load(spec["dataset"], root=args.data_root)
    parts = partition.partitions(dataset, spec["k"], spec["d"], spec["shifts"])
    config = TrainConfig.from_dict(spec["train"]).replace(device=args.device)
    a, b = args.points or (0, len(scores))
    if b > len(scores):
        raise ValueError(f"--points must lie in 0:{len(scores)}")
    i, n = args.shard
    points = np.arange(a, b)[i::n]
    if d == 1:
        out = attack_points(dataset, parts, config, scores, points, args.method,
                            args.budget)
    else:  # FA: the budget's heaviest buckets of each point (attack_experiments)
        out = fa_attack_points(dataset, config, scores, points, k, d, spec["shifts"],
                               budget=args.budget)
        out = {name: v[:, 0] if v.ndim == 2 else v for name, v in out.items()}
    buf = io.BytesIO()
    np.savez(buf, **out)
    payload = buf.getvalue()
    folder = run.path / "attacks" / f"{args.method}-b{args.budget}"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"shard-{i}-of-{n}"
    changed = out["attacked_prediction"] != out["prediction"]
    violations = int((changed & (out["radius"] >= args.budget)).sum())
    summary = {
        "method": args.method, "budget": args.budget, "points": [int(a), int(b)],
        "shard": [i, n], "attacked": len(points), "changed": int(changed.sum()),
        "violations": violations, "file": f"{name}.npz",
        "sha256": store._sha256(payload),
    }
    store.atomic_write_bytes(folder / f"{name}.npz", payload)
    store.atomic_write_bytes(folder / f"{name}.json",
                             (json.dumps(summary, indent=2) + "\n").encode())
    print(json.dumps(summary))
    return 0 if violations == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m ldcbook`` and the ``ldcbook`` script.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 1 on a failure while running; bad options
        exit with status 2 (through :class:`SystemExit`).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return _train(args, parser)
        if args.command == "certify":
            return _certify(args)
        if args.command == "plot":
            return _plot(args)
        if args.command == "predict":
            return _predict(args)
        if args.command == "attack":
            return _attack(args, parser)
        return _merge(args)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, OSError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"{parser.prog} {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
