"""Tests for ldcbook.classifier: any scikit-learn classifier as a DPA/FA/ROE defence.

scikit-learn's own estimator checks; the hash and the partitions against brute force;
isolation (changing one partition retrains only its model); FA with d = 1 equals DPA;
the certificates equal ldcbook.certify run on the base models' own votes and scores;
soundness by refitting after every poisoning of up to two samples; error messages.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

import ldcbook
from ldcbook.certify import count_votes, dpa, fa, fa_shifts, roe
from ldcbook.classifier import PartitionClassifier, sha256_keys


class Recorder(ClassifierMixin, BaseEstimator):
    """A base learner that remembers what it was trained on; always votes its last
    class; no scores (so ROE must refuse it)."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        self.X_seen_ = np.array(X, copy=True)
        self.y_seen_ = np.array(y, copy=True)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[-1])


def _blobs(n: int, num_classes: int = 3, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, n)
    centres = rng.normal(0.0, 3.0, (num_classes, 4))
    return centres[y] + rng.normal(0.0, 1.0, (n, 4)), y


# ----------------------------------------------------- scikit-learn's estimator checks


def _expected_failed_checks(estimator) -> dict[str, str]:
    """Checks that cannot apply to PartitionClassifier, with the reason: none.

    Every check scikit-learn 1.9 yields for these instances passes, including
    ``check_classifiers_train`` (accuracy > 0.83 although each model sees 1/k of
    the data) and ``check_classifiers_one_label`` (fit raises "... 1 class": a
    certificate needs a second class). ``check_array_api_input`` is skipped by
    scikit-learn itself unless ``SCIPY_ARRAY_API=1`` (inputs are converted to numpy
    here). With ``xfail_strict`` an entry added here must really fail.
    """
    return {}


@parametrize_with_checks(
    [
        PartitionClassifier(DecisionTreeClassifier(), k=3),
        PartitionClassifier(LogisticRegression(), k=2, d=2, method="roe"),
    ],
    expected_failed_checks=_expected_failed_checks,
    xfail_strict=True,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_the_package_root_offers_the_class_lazily():
    assert ldcbook.PartitionClassifier is PartitionClassifier
    assert "PartitionClassifier" in dir(ldcbook)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        ldcbook.Nope  # noqa: B018


# -------------------------------------------------------------- hash and partitions


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.uint8])
def test_sha256_key_is_the_documented_hash_of_each_sample_alone(dtype):
    x = np.arange(24).reshape(6, 4).astype(dtype)
    header = f"{x.dtype.str}(4,)".encode()
    expected = [
        int.from_bytes(hashlib.sha256(header + row.tobytes()).digest(), "big") % 5
        for row in x
    ]
    assert sha256_keys(x, 5).tolist() == expected
    # a sample's key ignores the other samples, their order, and byte order
    assert sha256_keys(x[::-1], 5).tolist() == expected[::-1]
    assert sha256_keys(x.astype(x.dtype.newbyteorder(">")), 5).tolist() == expected


def _content_sorted(xb: np.ndarray, labels: np.ndarray, idx) -> list[int]:
    return sorted(idx, key=lambda j: (xb[j].tobytes(), labels[j]))  # memcmp order


@pytest.mark.parametrize(
    ("hash_", "d"), [("pixel_sum", 1), ("sha256", 1), ("sha256", 3)]
)
def test_each_model_trains_on_its_own_samples_in_content_order(hash_, d):
    rng = np.random.default_rng(3)
    X = rng.integers(0, 4, (80, 3)).astype(np.uint8)  # duplicates on purpose
    y = rng.choice(np.array(["cat", "dog", "eel"]), 80)
    k = 4
    method = "dpa" if d == 1 else "fa"
    clf = PartitionClassifier(Recorder(), k, d=d, hash=hash_, method=method).fit(X, y)
    m = k * d
    if hash_ == "pixel_sum":
        bucket = [int(row.astype(int).sum()) % m for row in X]
    else:
        bucket = [
            int.from_bytes(hashlib.sha256(b"|u1(3,)" + r.tobytes()).digest(), "big") % m
            for r in X
        ]
    shifts = [0] if d == 1 else fa_shifts(k, d).tolist()
    label_index = {c: i for i, c in enumerate(sorted(set(y)))}
    labels = np.array([label_index[c] for c in y])
    assert clf.n_models_ == m and len(clf.estimators_) == m
    for i in range(m):
        mine = [j for j in range(80) if any((bucket[j] + s) % m == i for s in shifts)]
        order = _content_sorted(X, labels, mine)
        assert clf.estimators_samples_[i].tolist() == order
        assert clf.partition_sizes_[i] == len(order)
        model = clf.estimators_[i]
        if len(set(y[order])) > 1:  # a Recorder saw exactly its samples, in order
            assert np.array_equal(model.X_seen_, X[order])
            assert np.array_equal(model.y_seen_, y[order])
    assert clf.partition_sizes_.sum() == 80 * d
    assert not hasattr(clf.estimator, "X_seen_")  # the template is never fitted


def test_each_model_gets_its_own_seed_nested_ones_too():
    X, y = _blobs(60)
    clf = PartitionClassifier(Recorder(random_state=123), 4, random_state=7).fit(X, y)
    expected = [
        int(np.random.SeedSequence([7, i]).generate_state(1)[0]) for i in range(4)
    ]
    assert clf.seeds_.tolist() == expected
    assert [m.random_state for m in clf.estimators_] == expected
    pipe = make_pipeline(StandardScaler(), DecisionTreeClassifier())
    fitted = PartitionClassifier(pipe, 4, random_state=7).fit(X, y)
    assert [m[-1].random_state for m in fitted.estimators_] == expected
    free = PartitionClassifier(KNeighborsClassifier(1), 2).fit(X, y)
    assert free.seeds_ is None  # no random_state parameter, nothing to seed


# ------------------------------------------------------------------------ isolation


@pytest.mark.parametrize("d", [1, 2])
def test_changing_one_bucket_changes_only_the_models_it_feeds(d):
    X, y = _blobs(120, seed=1)
    k = 4
    m = k * d
    base = ExtraTreeClassifier()  # random thresholds: any other draw shows
    before = PartitionClassifier(base, k, d=d, method="fa", random_state=5).fit(X, y)
    bucket = sha256_keys(X, m)
    target = 2
    fed = {(target + s) % m for s in before.shifts_.tolist()}  # the d models it feeds
    rng = np.random.default_rng(9)
    new = rng.normal(0.0, 3.0, (400, 4))
    new = new[sha256_keys(new, m) == target][:3]  # three insertions into the bucket
    gone = np.flatnonzero(bucket == target)[0]  # one removal from it
    keep = np.delete(np.arange(len(X)), gone)
    X2 = np.concatenate([X[keep], new])
    y2 = np.concatenate([y[keep], [0, 1, 2]])
    perm = rng.permutation(len(X2))  # and the file reshuffled
    after = PartitionClassifier(base, k, d=d, method="fa", random_state=5)
    after.fit(X2[perm], y2[perm])
    grid = rng.normal(0.0, 4.0, (300, 4))
    changed = set()
    for i in range(m):
        samples_a = X[before.estimators_samples_[i]]
        samples_b = X2[perm][after.estimators_samples_[i]]
        same_samples = samples_a.shape == samples_b.shape and np.array_equal(
            samples_a, samples_b
        )
        proba_a = before.estimators_[i].predict_proba(grid)
        proba_b = after.estimators_[i].predict_proba(grid)
        if i in fed:
            assert not same_samples
        else:  # same samples in the same order, same seed: the same model, bit for bit
            assert same_samples, f"model {i} was given other samples"
            assert np.array_equal(proba_a, proba_b), f"model {i} changed"
        if not np.array_equal(proba_a, proba_b):
            changed.add(i)
    assert changed <= fed
    votes_a, votes_b = before.base_votes(grid), after.base_votes(grid)
    others = [i for i in range(m) if i not in fed]
    assert np.array_equal(votes_a[:, others], votes_b[:, others])


# ------------------------------------------------------ certificates and equivalences


def test_fa_with_d_1_is_dpa():
    X, y = _blobs(150, seed=2)
    tree = ExtraTreeClassifier()  # random thresholds: any other seed shows
    as_dpa = PartitionClassifier(tree, 40, random_state=0).fit(X, y)
    as_fa = PartitionClassifier(tree, 40, d=1, method="fa", random_state=0).fit(X, y)
    assert (as_dpa.partition_sizes_ == 0).any()  # abstaining models too
    test = _blobs(200, seed=12)[0]
    for a, b in zip(as_dpa.estimators_samples_, as_fa.estimators_samples_):
        assert np.array_equal(a, b)
    pred_d, rad_d = as_dpa.certify(test)
    pred_f, rad_f = as_fa.certify(test)
    assert np.array_equal(pred_d, pred_f) and np.array_equal(rad_d, rad_f)
    assert np.array_equal(as_dpa.predict(test), as_fa.predict(test))
    assert rad_d.max() > 0  # the comparison covers non-trivial radii


def _independent_votes(clf, X):
    """A tree's predicted class, -1 where its leaf ties every class or it has none."""
    index = {c: i for i, c in enumerate(clf.classes_.tolist())}
    cols = []
    for model in clf.estimators_:
        if model is None:
            cols.append(np.full(len(X), -1))
            continue
        proba = model.predict_proba(X)
        vote = [index[c] for c in model.predict(X).tolist()]
        tie = (proba.max(axis=1) == proba.min(axis=1)) & (proba.shape[1] > 1)
        cols.append(np.where(tie, -1, vote))
    return np.stack(cols, axis=1)


def _independent_scores(clf, X):
    """Trees' probabilities in their classes' columns, -1 for absent classes (below
    any probability), all-zero rows where a model has no preference or no data."""
    index = {c: i for i, c in enumerate(clf.classes_.tolist())}
    out = np.zeros((len(X), len(clf.estimators_), len(index)))
    for i, model in enumerate(clf.estimators_):
        if model is None:
            continue
        proba = model.predict_proba(X)
        full = np.full((len(X), len(index)), -1.0)
        full[:, [index[c] for c in model.classes_.tolist()]] = proba
        if proba.shape[1] > 1:
            full[proba.max(axis=1) == proba.min(axis=1)] = 0.0
        out[:, i] = full
    return out


@pytest.mark.parametrize(("k", "d"), [(30, 1), (8, 3)])
def test_certificates_are_ldcbook_certify_on_the_base_models(k, d):
    X, y = _blobs(70, num_classes=4, seed=4)
    y = np.array(["w", "x", "y", "z"])[y]  # labels of any type
    tree = DecisionTreeClassifier(max_depth=2)  # shallow: probabilities, some ties
    method = "dpa" if d == 1 else "fa"
    clf = PartitionClassifier(tree, k, d=d, method=method, random_state=1).fit(X, y)
    if d == 1:  # empty and single-class partitions take part
        assert (clf.partition_sizes_ == 0).any()
        assert any(isinstance(e, DummyClassifier) for e in clf.estimators_)
    test = _blobs(150, num_classes=4, seed=14)[0]
    votes = _independent_votes(clf, test)
    shifts = [0] if d == 1 else fa_shifts(k, d)
    want = fa(votes, 4, d, shifts) if d > 1 else dpa(count_votes(votes, 4))
    got = clf.certify(test)
    assert np.array_equal(got[0], clf.classes_[want[0]])
    assert np.array_equal(got[1], want[1])
    assert np.array_equal(clf.predict(test), got[0])
    if d > 1:  # here the radius depends on which models each bucket feeds
        other = (np.asarray(shifts) + np.arange(d)) % (k * d)
        assert not np.array_equal(fa(votes, 4, d, other)[1], want[1])
    want_roe = roe(_independent_scores(clf, test), d, None if d == 1 else shifts)
    got_roe = clf.certify(test, method="roe")
    assert np.array_equal(got_roe[0], clf.classes_[want_roe[0]])
    assert np.array_equal(got_roe[1], want_roe[1])
    clf.set_params(method="roe")
    assert np.array_equal(clf.predict(test), got_roe[0])
    assert want[1].max() > 0 and want_roe[1].max() > 0


def test_empty_partition_abstains_and_a_single_class_partition_votes_its_class():
    # pixel sums 0, 4, 8 -> partition 0 (all "b"); 2, 6 -> partition 2 (mixed);
    # 3 -> partition 3 (one "a"); nothing lands in partition 1.
    X = np.array([[0, 0], [4, 0], [8, 0], [2, 0], [6, 0], [3, 0]], dtype=np.uint8)
    y = np.array(["b", "b", "b", "a", "b", "a"])
    clf = PartitionClassifier(LogisticRegression(), 4, hash="pixel_sum").fit(X, y)
    assert clf.partition_sizes_.tolist() == [3, 0, 2, 1]
    assert clf.estimators_[1] is None
    assert isinstance(clf.estimators_[0], DummyClassifier)
    assert isinstance(clf.estimators_[2], LogisticRegression)
    test = np.array([[1, 1], [200, 9]], dtype=np.uint8)
    votes = clf.base_votes(test)
    assert votes[:, 0].tolist() == [1, 1] and votes[:, 1].tolist() == [-1, -1]
    assert votes[:, 3].tolist() == [0, 0]
    scores = clf.base_scores(test)
    assert np.all(scores[:, 1] == 0.0)  # ⊥: no preference
    assert np.all(scores[:, 0, 1] > scores[:, 0, 0])  # "b" strictly preferred
    assert np.all(scores[:, 3, 0] > scores[:, 3, 1])


def test_a_model_without_preference_abstains_everywhere():
    # pixel sums 1, 1 -> partition 1: the same sample labelled "a" and "b", so the
    # tree's only leaf scores both 0.5; sums 2, 4, 6 -> partition 0.
    X = np.array([[1, 0], [0, 1], [2, 0], [4, 0], [6, 0]], dtype=np.uint8)
    y = np.array(["a", "b", "a", "b", "b"])
    X[1] = X[0]
    clf = PartitionClassifier(DecisionTreeClassifier(), 2, hash="pixel_sum")
    clf.fit(X, y)
    test = np.array([[0, 0], [9, 9]], dtype=np.uint8)
    assert clf.estimators_[1].predict(test).tolist() == ["a", "a"]  # its tie-break
    assert np.all(clf.base_scores(test)[:, 1] == 0.0)
    assert clf.base_votes(test)[:, 1].tolist() == [-1, -1]  # but it abstains
    for method in ("dpa", "roe"):  # the ensemble is model 0 alone: radius 0
        pred, radius = clf.certify(test, method=method)
        assert pred.tolist() == clf.estimators_[0].predict(test).tolist()
        assert radius.tolist() == [0, 0]


# ------------------------------------------------------------- soundness, brute force


def _attacks(n_train: int, n_pool: int, size: int):
    """Every attack of at most ``size`` samples: (removed indices, inserted indices)."""
    moves = [("rm", j) for j in range(n_train)] + [("in", j) for j in range(n_pool)]
    for r in range(size + 1):
        for combo in itertools.combinations(moves, r):
            yield [j for kind, j in combo if kind == "rm"], [
                j for kind, j in combo if kind == "in"
            ]


@pytest.mark.parametrize(
    ("method", "k", "d"), [("dpa", 3, 1), ("fa", 2, 2), ("roe", 3, 1)]
)
def test_no_poisoning_within_the_radius_changes_the_prediction(method, k, d):
    # Three well-separated classes, three samples each; uint8 features and the
    # pixel-sum key, so that the pool holds, near each test point, one sample per
    # bucket of every other class (the most damaging insertions for a deep tree).
    X = np.array([[10, 10], [12, 11], [11, 14], [40, 10], [42, 13], [39, 12],
                  [10, 40], [13, 41], [12, 38]], dtype=np.uint8)
    y = np.repeat([0, 1, 2], 3)
    test = np.array([[11, 12], [41, 11], [26, 25]], dtype=np.uint8)
    tree = DecisionTreeClassifier()  # fully grown, deterministic under a seed
    clf = PartitionClassifier(tree, k, d=d, hash="pixel_sum", method=method,
                              random_state=0).fit(X, y)
    pred, radius = clf.certify(test)
    pool_x, pool_y = [], []
    for t, p in zip(test, pred):
        for c in {0, 1, 2} - {int(p)}:
            for delta in range(k * d):
                pool_x.append(t + np.array([delta, 0], dtype=np.uint8))
                pool_y.append(c)
    pool_x, pool_y = np.array(pool_x), np.array(pool_y)
    size = 2
    flips_beyond = 0
    for removed, inserted in _attacks(len(X), len(pool_x), size):
        keep = np.delete(np.arange(len(X)), removed)
        Xp = np.concatenate([X[keep], pool_x[inserted]])
        yp = np.concatenate([y[keep], pool_y[inserted]])
        new_pred = clone(clf).fit(Xp, yp).predict(test)
        cost = len(removed) + len(inserted)
        flipped = new_pred != pred
        assert not np.any(flipped & (radius >= cost)), (removed, inserted, radius)
        flips_beyond += int(np.any(flipped & (radius + 1 == cost)))
    assert flips_beyond > 0  # the search is strong enough to break radius + 1


# --------------------------------------------------------------------------- errors


class NoFit:
    def predict(self, X):
        return X


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"estimator": NoFit()}, TypeError, "estimator must be a scikit-learn"),
        ({"estimator": DecisionTreeClassifier}, TypeError, "estimator must be"),
        ({"k": 0}, ValueError, "k must be >= 1"),
        ({"k": 2.5}, TypeError, "k must be an int"),
        ({"d": 0}, ValueError, "d must be >= 1"),
        ({"hash": "md5"}, ValueError, "hash must be one of"),
        ({"method": "knn"}, ValueError, "method must be one of"),
        ({"method": "dpa", "d": 2}, ValueError, "method='dpa' needs d = 1"),
        ({"shifts": [0, 0], "d": 2, "method": "fa"}, ValueError, "shifts must be dist"),
        ({"shifts": [9], "k": 3}, ValueError, r"shifts must lie in range\(k \* d\)"),
        ({"random_state": -1}, ValueError, "random_state must be >= 0"),
        ({"random_state": "0"}, TypeError, "random_state must be an int"),
        ({"estimator": Recorder(), "method": "roe"}, ValueError, "method='roe' needs"),
        ({"hash": "pixel_sum"}, TypeError, "X must hold uint8 values"),
    ],
)
def test_bad_parameters_are_named_in_fit(params, error, match):
    X, y = _blobs(30)
    kwargs = {"estimator": DecisionTreeClassifier(), "k": 3, **params}
    clf = PartitionClassifier(**kwargs)
    with pytest.raises(error, match=match):
        clf.fit(X, y)


def test_bad_inputs_are_named():
    X, y = _blobs(30)
    clf = PartitionClassifier(DecisionTreeClassifier(), 3)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    with pytest.raises(ValueError, match="y must hold at least 2 classes"):
        clf.fit(X, np.zeros(30))
    clf.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but PartitionClassifier"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.certify(X[:, :3])
    with pytest.raises(ValueError, match="method must be one of"):
        clf.certify(X, method="knn")
    fa_clf = PartitionClassifier(DecisionTreeClassifier(), 3, d=2, method="fa")
    fa_clf.fit(X, y)
    with pytest.raises(ValueError, match="method='dpa' needs d = 1"):
        fa_clf.certify(X, method="dpa")
    with pytest.raises(ValueError, match="method='dpa' needs d = 1"):
        fa_clf.set_params(method="dpa").predict(X)
    no_scores = PartitionClassifier(Recorder(), 3).fit(X, y)
    with pytest.raises(ValueError, match="method='roe' needs"):
        no_scores.certify(X, method="roe")
