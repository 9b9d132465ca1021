# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ldcbook)
#     language: python
#     name: python3
# ---

# %% [markdown]
# (chap-own-model)=
# # Certify your own model
#
# The certificates of this book ({ref}`chap-dpa-optimal`) ask nothing of the base
# learner: Deep Partition Aggregation {cite:p}`levine2021dpa` and Finite Aggregation
# {cite:p}`wang2022fa` only need every base model to depend on its own part of the
# training set, and Run-Off Election {cite:p}`rezaei2023roe` only needs its scores.
# So any learner can be the base learner of an ensemble whose predictions are
# certified against some number of poisoned training samples. This appendix shows the
# three ways the `ldcbook` package offers, on the
# handwritten digits that ship with scikit-learn:
#
# 1. a **scikit-learn classifier** on HOG features {cite:p}`dalal2005hog`, through
#    `ldcbook.PartitionClassifier`;
# 2. a **custom torch module** trained from the command line on one's own data file,
#    `python -m ldcbook train --data FILE.npz --learner package.module:factory`;
# 3. a **stored run predicted on new inputs**, `python -m ldcbook predict RUN --input
#    FILE.npz`.
#
# Before that, two questions that decide whether a certificate holds at all: what
# exactly is hashed to split the data, and which feature maps may sit in front of the
# learner.
#
# ```{admonition} What runs here
# :class: note
# Everything runs on the 1,797 digits of scikit-learn (8 × 8 pixels), on a CPU, in
# well under two minutes at every scale; nothing is downloaded. Scores that come out
# of floating-point training may differ in their last digits from one CPU to another,
# so their cells are checked by assertions with margins; everything else (hashes,
# partition sizes, bitwise equalities) is exact.
# ```

# %% tags=["remove-cell"]
# Opened from a launch button (Colab, Binder) without the book's package: install it.
try:
    import ldcbook  # noqa: F401
except ImportError:
    import subprocess
    import sys

    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet",
                           "ldcbook[book] @ git+https://github.com/ldcbook/ldcbook"])

# %% tags=["remove-cell"]
import hashlib
import json
import tempfile
import time
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import numpy as np
from myst_nb import glue
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ldcbook import PartitionClassifier, data, own, store
from ldcbook.certify import certified_accuracy, median_radius
from ldcbook.cli import main
from ldcbook.config import seed_everything
from ldcbook.experiments import certify_scores
from ldcbook.partition import assign, sample_keys, sha256_keys

seed_everything(2022)
START = time.perf_counter()
WORK = Path(tempfile.mkdtemp(prefix="ldcbook-own-"))  # run directories and data files
K = 10  # partitions in every example


def cli(*argv: str) -> str:
    """Run ``python -m ldcbook ARGV`` in this process; return what it printed."""
    buffer = StringIO()
    with redirect_stdout(buffer):
        status = main([str(a) for a in argv])
    assert status == 0, buffer.getvalue()
    return buffer.getvalue()


# %% [markdown]
# The data: uint8 images of shape $(1, 8, 8)$, split into training and test sets by a
# content hash (`ldcbook.data.load("digits")`).

# %%
digits = data.as_arrays(data.load("digits"))
x_train, y_train = digits.x_train, digits.y_train
x_test, y_test = digits.x_test, digits.y_test
print(f"{len(y_train)} training and {len(y_test)} test images of shape "
      f"{digits.sample_shape}, dtype {x_train.dtype}, {digits.num_classes} classes")

# %% [markdown]
# ## What is hashed
#
# ```{prf:definition} Partition key
# :label: def-partition-key
#
# The key of a training sample $x$ is computed from $x$ alone, never from its label
# or its position in the training set. Two keys are offered:
#
# * **pixel sum** (the paper's, for `uint8` samples): $h(x) = \sum_j x_j$, the exact
#   integer sum of all the sample's values, every channel included;
# * **SHA-256** (for samples of any numeric dtype and shape): $h(x)$ is the SHA-256
#   digest, read as a big-endian integer, of the message
#   `header + bytes(x)`, where `bytes(x)` is the sample in C order with
#   little-endian values and `header` is the ASCII text of its dtype and shape, such
#   as `<f4(6,)` or `|u1(1, 8, 8)`.
#
# Model $i$ of DPA with $k$ partitions trains on the samples with
# $h(x) \bmod k = i$; in FA with spread $d$ the bucket $h(x) \bmod kd$ feeds $d$
# models. Inside its partition, model $i$ sees its samples in the order of their
# bytes, then their labels.
# ```
#
# The label is left out of the key on purpose: the papers' threat model lets the
# attacker insert and remove whole labelled samples, and a sample re-labelled is one
# removal plus one insertion. The dtype and shape are in the header so that the key
# is a function of the sample, not only of its bytes: the same bytes read as another
# dtype or another shape are another sample. The cell below computes one key of each
# kind by hand, compares it with the package, and checks that reshuffling the
# training set moves no sample to another partition.

# %%
x0 = x_train[0]
by_hand_sum = int(x0.astype(np.int64).sum())
message = f"{x0.dtype.str}{x0.shape}".encode() + np.ascontiguousarray(x0).tobytes()
by_hand_sha = int.from_bytes(hashlib.sha256(message).digest(), "big") % K
print(f"header {message[:12]!r}, pixel sum {by_hand_sum}, SHA-256 key mod {K}: "
      f"{by_hand_sha}")
assert sample_keys(x_train[:1], "pixel_sum", K)[0] == by_hand_sum % K
assert sha256_keys(x_train[:1], K)[0] == by_hand_sha
perm = np.random.default_rng(0).permutation(len(x_train))  # a reshuffled file
assert np.array_equal(sample_keys(x_train[perm], "sha256", K),
                      sample_keys(x_train, "sha256", K)[perm])

# %% [markdown]
# Both keys spread the digits about evenly over the partitions. The pixel sum is what
# the paper uses (and it refines: the partitions for $2k$ split those for $k$);
# SHA-256 should behave like a uniform draw whatever the data, so its partition sizes
# should be close to multinomial, with a standard deviation of about $\sqrt{N/k}$:

# %%
sizes = {h: np.bincount(sample_keys(x_train, h, K), minlength=K)
         for h in ("pixel_sum", "sha256")}
for h, s in sizes.items():
    print(f"{h:>9}: sizes {s.tolist()}, sd {s.std():.1f}")
assert all(s.sum() == len(y_train) for s in sizes.values())
glue("n_train", len(y_train), display=False)
glue("k_own", K, display=False)
glue("sd_uniform", float(np.sqrt(len(y_train) / K * (1 - 1 / K))), display=False)
glue("sd_sha", float(sizes["sha256"].std()), display=False)

# %% [markdown]
# With $N =$ {glue:text}`n_train` and $k$ = {glue:text}`k_own` a uniform draw gives
# partition sizes with a standard deviation of {glue:text}`sd_uniform:.1f` samples;
# the SHA-256 partitions here have {glue:text}`sd_sha:.1f`.
#
# ## Which feature maps keep the certificate
#
# A learner often works on features rather than raw samples: HOG, or the embedding of
# a frozen encoder, as in the self-supervised variant of DPA. Whether the certificate
# survives depends only on where the feature map came from.
#
# ```{prf:proposition} Fixed feature maps
# :label: prop-fixed-features
#
# Let $\varphi$ be a function of one sample that is fixed before the training set
# $D$ is seen (it does not depend on $D$), and let base model $i$ be
# $f_i = A(\{(\varphi(x), y) : (x, y) \in D_i\})$, where $D_i$ is its partition. Then
# $f_i$ depends on $D_i$ alone, and the DPA, FA and ROE certificates hold for the
# ensemble of the $f_i$ unchanged. If instead $\varphi = \varphi_D$ is fitted on the
# whole of $D$ (a scaler, a PCA, an encoder fine-tuned on $D$), one poisoned sample
# can change $\varphi_D$ and with it every base model, and the certificate is void.
# ```
#
# *Proof.* The certificates count how many partitions an attack can reach: one
# inserted or removed sample changes one $D_i$ (DPA) or $d$ of them (FA), and every
# other model, a function of its own $D_j$, is untouched. With $\varphi$ fixed,
# $f_j$ is still a function of $D_j$ alone. With $\varphi_D$, $f_j$ is a function of
# $D_j$ and of $\varphi_D$, which the attacker reaches through any partition. $\square$
#
# The cell below inserts one sample and counts the partitions whose feature vectors
# change: with HOG (fixed) only the one that received the sample; with features
# standardised by the mean and deviation of the whole training set, every partition.

# %%
new = np.clip(x_train[:1].astype(int) + 3, 0, 255).astype(np.uint8)  # one poison
x_poisoned = np.concatenate([x_train, new])
key_poison = int(sample_keys(new, "pixel_sum", K)[0])


def changed_partitions(features):
    """The partitions whose samples' features change, and the one the poison joins."""
    f0, f1 = features(x_train), features(x_poisoned)[:-1]
    parts = assign(sample_keys(x_train, "pixel_sum", K), K)
    return [i for i, p in enumerate(parts) if not np.array_equal(f0[p], f1[p])] + [
        key_poison]


def fitted_on_all(x):
    flat = x.reshape(len(x), -1).astype(np.float64)
    return (flat - flat.mean(axis=0)) / (flat.std(axis=0) + 1e-9)


hog_changed = sorted(set(changed_partitions(lambda x: own.apply_features(x, "hog"))))
fitted_changed = sorted(set(changed_partitions(fitted_on_all)))
print(f"the poison falls in partition {key_poison}; partitions changed with HOG: "
      f"{hog_changed}, with a whole-set scaler: {fitted_changed}")
assert hog_changed == [key_poison] and len(fitted_changed) == K
glue("n_fitted_changed", len(fitted_changed), display=False)

# %% [markdown]
# One inserted digit reaches all {glue:text}`n_fitted_changed` partitions through a
# whole-set scaler. That is why `ldcbook` standardises each base model's inputs by
# the statistics of its *own* partition, and why a scaler belongs *inside* the base
# estimator of `PartitionClassifier` (fitted per partition), never in front of it.
#
# ## Way 1: a scikit-learn classifier on HOG features
#
# `PartitionClassifier` wraps any scikit-learn classifier: it hashes, partitions,
# fits one clone per partition (a scaler inside the pipeline is fitted per partition
# too) and certifies. HOG is a fixed feature map, so it may sit in front
# ({prf:ref}`prop-fixed-features`); its features are float, hence the SHA-256 key
# (hashing the features of a sample is hashing a fixed function of the sample).

# %% tags=["nbval-ignore-output"]
f_train, f_test = own.apply_features(x_train, "hog"), own.apply_features(x_test, "hog")
base = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=500))
clf = PartitionClassifier(base, k=K, hash="sha256", random_state=0)
clf.fit(f_train, y_train)
pred1, radius1 = clf.certify(f_test)
acc1 = certified_accuracy(pred1, radius1, y_test, [0, 2, 4])
print(f"{f_train.shape[1]} HOG features; partition sizes "
      f"{clf.partition_sizes_.tolist()}")
print(f"clean accuracy {np.mean(pred1 == y_test):.3f}, median certified radius "
      f"{median_radius(pred1, radius1, y_test)}, certified accuracy at 0/2/4: "
      f"{np.round(acc1, 3).tolist()}")

# %% [markdown]
# The certified radius counts insertions plus removals; a prediction certified at
# radius $r$ survives any $r$ of them (changing a sample costs 2). Two checks: the
# partition sizes are those of the SHA-256 key of the features, and the clean
# accuracy is well above chance, with at least half of the test digits classified
# correctly and certified against a few insertions or removals (the median radius).

# %%
assert np.array_equal(clf.partition_sizes_,
                      np.bincount(sha256_keys(f_train, K), minlength=K))
assert np.mean(pred1 == y_test) > 0.75 and median_radius(pred1, radius1, y_test) >= 2
glue("acc_sklearn", float(np.mean(pred1 == y_test)), display=False)

# %% [markdown]
# ## Way 2: a custom torch module from the command line
#
# One's own data go into a `.npz` file with four arrays, `x_train`, `y_train`,
# `x_test` and `y_test` (samples of any shape, `uint8` or float; integer labels from
# 0). One's own learner is any importable function `factory(input_shape,
# num_classes)` that returns a fresh `torch.nn.Module`; the package ships two small
# ones in `ldcbook.examples`. Here: `tiny_cnn` (two convolutions and a linear layer)
# on the digits, saved as a data file.

# %%
data_file = WORK / "digits.npz"
np.savez(data_file, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
run_dir = WORK / "tiny-cnn"
printed = cli("train", "--data", data_file, "--k", K, "--learner",
              "ldcbook.examples:tiny_cnn", "--epochs", 10, "--batch-size", 16,
              "--lr", 0.05, "--chunk", 5, "--out", run_dir, "--no-progress")
print(printed.replace(str(WORK), "WORK"))

# %% [markdown]
# Each base model is built by the factory under a seed of its own (run seed and model
# id), trained on its partition in content order, standardised by its partition's
# statistics, and stored: its test scores *and* its weights, both checksummed, beside
# a manifest that records the factory's import path and a SHA-256 of its module's
# source (a resume with a changed factory is refused). `tiny_cnn` is a plain
# `nn.Sequential` of layers the training engine can stack, so its models were trained
# *in groups*, as the built-in learners of {ref}`chap-dpa-experiments` are: model $i$
# in group $\lfloor i/G \rfloor$ at slot $i \bmod G$, every step one computation of
# fixed shape over the whole group, padding and idle models masked, so that which
# models share a computation, and where, depends on model ids and the configuration
# alone (here $G$ =
# {glue:text}`group_size`: one group); dropout masks are drawn for each model from a
# generator of its own. A factory the engine cannot stack (`BatchNorm1d`, other
# layers, a `forward` of its own) is trained one model at a time, and
# `--one-at-a-time` asks for that path anyway; the run's configuration records the
# path and $G$:

# %%
run = store.RunDir.open(run_dir)
spec = run.config
print(json.dumps({key: spec[key] for key in ("dataset", "k", "hash", "learner",
                                             "learner_sha256", "train")}, indent=1))
weights = sorted(p.name for p in run_dir.glob("weights_*.npz"))
print(weights, "hold", sorted(run.load_weights(0))[:3], "...")
assert spec["learner_sha256"] == own.resolve("ldcbook.examples:tiny_cnn")[1]
assert run.has_weights() and len(weights) == 2  # two chunks of five models
assert own.training_path(spec) == "grouped" and spec["train"]["group_size"] == K
glue("group_size", spec["train"]["group_size"], display=False)

# %% [markdown]
# The two paths draw the same initial weights, batches and shuffles; only the order of
# floating-point operations differs. Trained one at a time, the same
# {glue:text}`k_own` models cast the same votes as the grouped ones on a fraction {glue:text}`path_votes:.4f` of the
# (model, test digit) pairs, and their scores differ from the grouped ones by at most
# {glue:text}`path_diff:.1e`:

# %% tags=["nbval-ignore-output"]
single_dir = WORK / "tiny-cnn-one-at-a-time"
cli("train", "--data", data_file, "--k", K, "--learner", "ldcbook.examples:tiny_cnn",
    "--epochs", 10, "--batch-size", 16, "--lr", 0.05, "--one-at-a-time", "--out",
    single_dir, "--no-progress")
single = store.RunDir.open(single_dir)
path_diff = float(np.abs(single.load_scores() - run.load_scores()).max())
print(f"one at a time: {single.config['train']}; largest score difference "
      f"{path_diff:.1e}")

# %% tags=["nbval-ignore-output"]
assert own.training_path(single.config) == "one at a time"
path_votes = float((single.load_scores().argmax(-1)
                    == run.load_scores().argmax(-1)).mean())
assert path_votes >= 0.99 and 0 <= path_diff < 1e-2
glue("path_diff", path_diff, display=False)
glue("path_votes", path_votes, display=False)

# %% [markdown]
# `certify` then works from the run directory alone (the test labels are stored in
# it):

# %% tags=["nbval-ignore-output"]
print(cli("certify", run_dir, "--attack-sizes", "0,2,4,6").replace(str(WORK), "WORK"))
result = json.loads(cli("certify", run_dir, "--json"))

# %%
assert result["clean_accuracy"] > 0.7 and result["median_radius"] >= 2
glue("acc_cnn", result["clean_accuracy"], display=False)
glue("median_cnn", result["median_radius"], display=False)

# %% [markdown]
# The CNN's ensemble reaches a clean accuracy of {glue:text}`acc_cnn:.2f` with a
# median certified radius of {glue:text}`median_cnn`; the scikit-learn ensemble of
# way 1 reached {glue:text}`acc_sklearn:.2f`.
#
# **A killed run resumes inside its chunk.** After every finished epoch the group in
# training is checkpointed atomically: its stacked weights, BatchNorm averages and
# SGD momenta, and every member's shuffle and dropout generators (one model at a
# time, the model's
# weights, momentum and both of its random generators: the shuffles, and torch's
# global generator that dropout draws from). The Python API behind `train` is
# `ldcbook.own.train_own`; its hook `on_epoch` lets us stop a run after the second
# epoch of model 7, in its second chunk, and start it again. The second chunk trains
# models 5 to 9 together (their group's other members, models 0 to 4, hold their
# slots with no samples), so the resumed run goes on from epoch 3 of models 5 to 9,
# and ends with the bits of the uninterrupted one:

# %%
class Killed(Exception):
    """Stands for a killed process."""


def kill_at(model_id, epochs_done):
    if (model_id, epochs_done) == (7, 2):
        raise Killed


own_data = data.load_arrays(data_file)
killed = WORK / "killed"
try:
    own.train_own(killed, own_data, spec, chunk=5, on_epoch=kill_at)
except Killed:
    print("stopped; models finished:", store.RunDir.open(killed).finished().tolist())
log = []
resumed = own.train_own(killed, own_data, spec, chunk=5,
                        on_epoch=lambda i, e: log.append((i, e)))
print("resumed at (model, epoch):", log[:5])
assert log[:5] == [(i, 3) for i in range(5, 10)]
assert np.array_equal(resumed.load_scores(), run.load_scores())
assert all(np.array_equal(resumed.load_weights(i)[name], run.load_weights(i)[name])
           for i in range(K) for name in run.load_weights(i))

# %% [markdown]
# ## Way 3: a stored run, predicted on new inputs
#
# The stored models answer new inputs: `predict` runs each base model with its own
# normalisation statistics and certifies each prediction. The new inputs here are
# the first twenty test digits, shifted one pixel to the right (the last column
# wrapping round to the first), in a file with the array `x` (and, optionally,
# labels `y`):

# %% tags=["nbval-ignore-output"]
shifted = np.roll(x_test[:20], 1, axis=3)
new_file = WORK / "new.npz"
np.savez(new_file, x=shifted, y=y_test[:20])
print(cli("predict", run_dir, "--input", new_file, "--out", WORK / "pred.npz")
      .replace(str(WORK), "WORK"))
with np.load(WORK / "pred.npz") as npz:
    pred3, radius3 = npz["prediction"], npz["radius"]
scores20 = own.predict_scores(run_dir, x_test[:20])
_, radius_unshifted = certify_scores(scores20, spec, "dpa")
print(f"mean certified radius of these digits: {radius_unshifted.mean():.1f} "
      f"unshifted, {radius3.mean():.1f} shifted")
assert radius3.mean() < radius_unshifted.mean()

# %% [markdown]
# The base models were trained on unshifted digits only, and it shows: their votes
# split more, so the certified radii shrink on average. For the run's own test set
# the stored models give back
# exactly the scores stored during training (the same code, in passes of the same
# fixed size), so a prediction made later is certified by the same numbers:

# %%
again = own.predict_scores(run_dir, x_test)
assert np.array_equal(again, run.load_scores())
assert pred3.shape == radius3.shape == (20,)

# %% [markdown]
# The built-in learners of {ref}`chap-dpa-experiments` keep their models the same way
# (`python -m ldcbook train --dataset digits --learner cnn ...`), and `predict`
# reads them too; there the models were trained in groups, so their scores on the
# stored test set may differ from the stored ones by floating-point rounding. They also
# resume inside a chunk: at the end of an epoch, once a minute at most
# (`--checkpoint-every`), the whole chunk's state (the stacked parameters, BatchNorm
# running averages, momenta and every model's generator) is checkpointed in the run
# directory, and a resumed run ends with the same bits. Both are checked by the
# package's tests (`tests/test_own.py`: `predict` on a stored MLP run, and runs of
# the CNN and the MLP stopped inside a chunk and resumed), not in this chapter.
#
# ````{admonition} The three ways from a fresh clone
# :class: tip
# ```bash
# git clone https://github.com/ldcbook/ldcbook && cd ldcbook
# python -m pip install -e ".[train]"
# # the data files: the digits, and twenty shifted test digits
# python -c "import numpy as np; from ldcbook import data; \
#   d = data.as_arrays(data.load('digits')); \
#   np.savez('digits.npz', x_train=d.x_train, y_train=d.y_train, \
#            x_test=d.x_test, y_test=d.y_test); \
#   np.savez('new.npz', x=np.roll(d.x_test[:20], 1, axis=3))"
# # 1. scikit-learn: in Python
# python -c "from ldcbook import PartitionClassifier, data, own; \
#   from sklearn.linear_model import LogisticRegression as LR; \
#   d = data.as_arrays(data.load('digits')); f = own.apply_features(d.x_train, 'hog'); \
#   c = PartitionClassifier(LR(max_iter=500), k=10).fit(f, d.y_train); \
#   print(c.certify(own.apply_features(d.x_test, 'hog'))[1][:10])"
# # 2. a torch module of one's own, on one's own data file
# python -m ldcbook train --data digits.npz --k 10 \
#   --learner ldcbook.examples:tiny_cnn --epochs 10 --out runs/tiny-cnn
# python -m ldcbook certify runs/tiny-cnn
# # 3. the stored models on new inputs
# python -m ldcbook predict runs/tiny-cnn --input new.npz --out pred.npz
# ```
# These are the appendix's calls in short form, with the package's defaults where
# the cells above set their own options (the cells ran them through
# `ldcbook.cli.main`, in the same process). The package's tests run every line after
# the install in a fresh clone of the repository.
# ````

# %% tags=["nbval-ignore-output"]
elapsed = time.perf_counter() - START
print(f"this appendix ran in {elapsed:.0f} s")
