"""Any scikit-learn classifier as a certified poisoning defence: DPA, FA and ROE.

:class:`PartitionClassifier` wraps a scikit-learn classifier (the *base estimator*)
the way Deep Partition Aggregation wraps a network (Chapter 6 of the book;
ALGORITHMS.md, "Partitioning", "DPA certificate", "Finite Aggregation", "Run-Off
Election"):

1. each training sample gets a hash key computed from its own bytes (never from its
   label or its position in the training set): ``hash="pixel_sum"`` is the paper's key,
   the integer sum of a ``uint8`` image's pixels (:func:`ldcbook.partition.pixel_sums`);
   ``hash="sha256"`` hashes the sample's raw bytes, for features of any numeric dtype;
2. the key modulo ``k`` picks the sample's partition (DPA), or the key modulo ``k d``
   its bucket, which feeds ``d`` of the ``k d`` models (FA,
   :func:`ldcbook.partition.assign`);
3. one clone of the base estimator is trained per model on its own samples only, in
   content order (:func:`ldcbook.partition.content_order`), with a seed derived from
   the classifier's ``random_state`` and the model id;
4. the ensemble predicts by plurality vote (ties to the smaller class index) or by
   Run-Off Election, and :meth:`PartitionClassifier.certify` returns the certified
   radius of :func:`ldcbook.certify.dpa`, :func:`ldcbook.certify.fa` or
   :func:`ldcbook.certify.roe`.

Because model ``i`` depends on its own partition (DPA) or its own ``d`` buckets (FA)
alone, one inserted or removed training sample changes at most one partition's (or
one bucket's ``d``) models, which is what the certificates count. The radius counts
insertions plus removals (the symmetric difference ``|D ⊖ D'|``); changing one sample
costs 2. The label set is ``classes_``: poisoned samples are assumed to carry labels
from it (a fixed label space, the papers' threat model).

Layer 2 of the package (beside :mod:`ldcbook.partition`); numpy and scikit-learn,
never torch. ``ldcbook.PartitionClassifier`` imports this module on first access.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.dummy import DummyClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ldcbook._checks import check_int
from ldcbook.certify import count_votes, dpa, fa, fa_shifts, roe, votes_from_scores
from ldcbook.certify.fa import check_shifts
from ldcbook.partition import assign, pixel_sums, sha256_keys
from ldcbook.partition import sample_bytes as _sample_bytes

HASHES = ("sha256", "pixel_sum")
"""The hash keys :class:`PartitionClassifier` accepts (its ``hash`` parameter)."""

METHODS = ("dpa", "fa", "roe")
"""The aggregation rules and certificates (its ``method`` parameter)."""


def _model_seed(base: int, model: int) -> int:
    """Model ``model``'s seed: the first word of ``SeedSequence([base, model])``."""
    return int(np.random.SeedSequence([base, model]).generate_state(1)[0])


def _random_state_keys(estimator: Any) -> list[str]:
    """The ``random_state`` parameters of an estimator, nested ones included."""
    return sorted(
        key
        for key in estimator.get_params(deep=True)
        if key == "random_state" or key.endswith("__random_state")
    )


def _model_scores(model: Any, X: np.ndarray) -> np.ndarray:
    """A fitted base model's scores, one column per class in ``model.classes_``."""
    if hasattr(model, "decision_function"):
        s = np.asarray(model.decision_function(X), dtype=np.float64)
        if s.ndim == 1:  # binary: the score of classes_[1] against classes_[0]
            s = np.column_stack([np.zeros_like(s), s])
        return s
    return np.asarray(model.predict_proba(X), dtype=np.float64)


def _has_scores(model: Any) -> bool:
    return hasattr(model, "decision_function") or hasattr(model, "predict_proba")


class PartitionClassifier(ClassifierMixin, BaseEstimator):
    """A certified defence from any scikit-learn classifier: DPA, FA or ROE.

    Serves Chapter 6 of the book (Deep Partition Aggregation, Finite Aggregation,
    Run-Off Election) and ALGORITHMS.md. The training set is cut by a content hash
    into ``k`` partitions (DPA, ``d = 1``) or ``k d`` buckets (FA); one clone of
    ``estimator`` is trained per model on its own samples only; the ensemble votes,
    and :meth:`certify` says how many poisoned training samples (insertions plus
    removals) each prediction provably survives.

    Parameters
    ----------
    estimator : scikit-learn classifier
        The base learner, cloned once per model (never fitted itself). It needs
        ``fit`` and ``predict``; ``method="roe"`` also needs ``decision_function`` or
        ``predict_proba``. A ``random_state`` parameter of it (nested ones included,
        e.g. in a pipeline) is overwritten per model, see ``random_state``.
    k : int
        Number of partitions (DPA), or the FA parameter ``k`` (``k d`` models);
        ``k >= 1``. Each model trains on about ``N / k`` samples.
    d : int, default 1
        FA spread: each bucket feeds ``d`` models. ``d = 1`` is DPA.
    hash : {"sha256", "pixel_sum"}, default "sha256"
        The hash key of a training sample; the label is never hashed.
        ``"pixel_sum"`` is the paper's key, the integer sum of the sample's ``uint8``
        values (``X`` must be ``uint8``, e.g. flattened images), under which the
        partitions for ``2k`` refine those for ``k``. ``"sha256"`` is a uniform hash
        of the sample's raw bytes, dtype and shape included (:func:`sha256_keys`),
        for features of any numeric dtype.
    method : {"dpa", "fa", "roe"}, default "dpa"
        The aggregation used by :meth:`predict` and the default certificate of
        :meth:`certify`: plurality vote certified by DPA (``d = 1`` only) or FA, or
        Run-Off Election (on DPA for ``d = 1``, on FA for ``d > 1``). ``"dpa"`` with
        ``d > 1`` raises a ``ValueError`` in :meth:`fit` (use ``"fa"``: with ``d = 1``
        FA is exactly DPA).
    shifts : sequence of int, optional
        The FA shifts, ``d`` distinct values in ``range(k d)``. Default ``[0]`` for
        ``d = 1`` (model ``i`` is partition ``i``) and
        :func:`ldcbook.certify.fa_shifts` ``(k, d)`` (the reference draw) otherwise.
    random_state : int, numpy.random.RandomState or None, default None
        Seeds the base models, if ``estimator`` has a ``random_state`` parameter:
        model ``i`` gets ``SeedSequence([base, i]).generate_state(1)[0]``, where
        ``base`` is ``random_state`` itself (an int ``>= 0``), one draw from a
        ``RandomState``, or fresh OS entropy for ``None`` (then refits differ, but
        each model still has its own seed, so it depends on its partition alone).

    Attributes
    ----------
    classes_ : numpy.ndarray
        The sorted labels seen in ``fit``; class index ``c`` is ``classes_[c]`` and
        ties go to the smaller index.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : numpy.ndarray
        Feature names, when ``X`` had string column names (e.g. a DataFrame).
    n_models_ : int
        ``k d``, the number of base models (and of partitions or buckets).
    estimators_ : list
        ``n_models_`` fitted models in model-id order. ``None`` for an empty
        partition: that model abstains (⊥) on every input. A partition holding a
        single class gets a ``DummyClassifier(strategy="most_frequent")`` fitted on
        it, which always predicts that class (score 1 for it and 0 for every other
        class), so base estimators that refuse a single class (e.g.
        ``LogisticRegression``) are never asked to fit one.
        Any other partition gets a clone of ``estimator``.
    estimators_samples_ : list of numpy.ndarray
        For each model, the indices into the training set of its samples, in the
        content order it was trained in (bytes of the sample, then label).
    partition_sizes_ : numpy.ndarray
        int64, ``len(estimators_samples_[i])`` for each model.
    shifts_ : numpy.ndarray
        int64, the ``d`` FA shifts used (``[0]`` by default for DPA).
    seeds_ : numpy.ndarray or None
        uint32 seed given to each model's ``random_state`` parameters (every nested
        one gets the same), or ``None`` if ``estimator`` has none.

    Notes
    -----
    The vote rule (:meth:`base_votes`, :meth:`base_scores`) is the package's one
    rule, :func:`ldcbook.certify.votes_from_scores`: a model votes for its
    highest-scoring class (``decision_function``, else ``predict_proba``; ties to the
    smaller class index) and abstains (⊥) where all its scores are equal or its
    partition is empty, in DPA, FA and both rounds of ROE alike.

    Certificates hold for the ensemble as trained here: model ``i`` sees only its own
    samples, in an order fixed by their content, with a seed fixed by ``i``.
    Preprocessing fitted on the whole training set (a scaler before this classifier
    in a pipeline) would couple the partitions and void them; put it inside
    ``estimator`` instead, so that it is fitted per partition.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = PartitionClassifier(DecisionTreeClassifier(), k=5, random_state=0)
    >>> clf = clf.fit(X, y)
    >>> int(clf.partition_sizes_.sum())
    150
    >>> prediction, radius = clf.certify(X[:3])
    >>> prediction.tolist(), bool((radius >= 0).all())
    ([0, 0, 0], True)
    """

    def __init__(
        self,
        estimator: Any,
        k: int,
        *,
        d: int = 1,
        hash: str = "sha256",  # noqa: A002 (the parameter a reader looks for)
        method: str = "dpa",
        shifts: ArrayLike | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.estimator = estimator
        self.k = k
        self.d = d
        self.hash = hash
        self.method = method
        self.shifts = shifts
        self.random_state = random_state

    # --------------------------------------------------------------------- checks

    def _check_params(self) -> tuple[int, int, np.ndarray]:
        est = self.estimator
        has_methods = all(callable(getattr(est, f, None)) for f in ("fit", "predict"))
        if isinstance(est, type) or not has_methods:
            raise TypeError(
                "estimator must be a scikit-learn classifier instance with fit and "
                f"predict, got {est!r}"
            )
        k = check_int("k", self.k, min_value=1)
        d = check_int("d", self.d, min_value=1)
        if self.hash not in HASHES:
            raise ValueError(f"hash must be one of {HASHES}, got {self.hash!r}")
        method = self._check_method("method", self.method, d)
        if method == "roe" and not _has_scores(est):
            raise ValueError(
                "method='roe' needs an estimator with decision_function or "
                f"predict_proba; {type(est).__name__} has neither"
            )
        if self.shifts is None:
            shifts = np.zeros(1, np.int64) if d == 1 else fa_shifts(k, d)
        else:
            shifts = check_shifts(self.shifts, k, d)
        rs = self.random_state
        if not (rs is None or isinstance(rs, (Integral, np.random.RandomState))) or (
            isinstance(rs, bool)
        ):
            raise TypeError(
                "random_state must be an int, a numpy.random.RandomState or None, "
                f"got {type(rs).__name__}"
            )
        if isinstance(rs, Integral) and rs < 0:
            raise ValueError(f"random_state must be >= 0, got {rs}")
        return k, d, shifts

    @staticmethod
    def _check_method(name: str, method: Any, d: int) -> str:
        if method not in METHODS:
            raise ValueError(f"{name} must be one of {METHODS}, got {method!r}")
        if method == "dpa" and d > 1:
            raise ValueError(
                f"{name}='dpa' needs d = 1, got d = {d}: use 'fa' (or 'roe'), "
                "which certify the k*d models of Finite Aggregation"
            )
        return str(method)

    def _base_seed(self) -> int:
        rs = self.random_state
        if rs is None:
            return int(np.random.SeedSequence().entropy)
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(np.iinfo(np.int32).max))
        return int(rs)

    # ------------------------------------------------------------------------ fit

    def fit(self, X: ArrayLike, y: ArrayLike) -> PartitionClassifier:
        """Partition the training set and train one base model per partition.

        Parameters
        ----------
        X : array_like of shape (N, n_features)
            Training samples; ``uint8`` for ``hash="pixel_sum"``.
        y : array_like of shape (N,)
            Labels of any type with at least two distinct values.

        Returns
        -------
        PartitionClassifier
            ``self``, fitted.

        Raises
        ------
        TypeError
            If ``estimator`` has no ``fit``/``predict``, ``k``, ``d`` or
            ``random_state`` has the wrong type, or ``X`` is not ``uint8`` with
            ``hash="pixel_sum"``.
        ValueError
            If ``k`` or ``d`` is below 1, ``hash``, ``method`` or ``shifts`` is not
            allowed, ``X`` or ``y`` is malformed, or ``y`` holds a single class.
        """
        k, d, shifts = self._check_params()
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                "y must hold at least 2 classes (a certificate compares the "
                "prediction with another class), got 1 class"
            )
        m = k * d
        if self.hash == "pixel_sum":
            if X.dtype != np.uint8:
                raise TypeError(
                    "X must hold uint8 values for hash='pixel_sum' (the integer sum "
                    f"of the pixels), got dtype {X.dtype}; use hash='sha256' for "
                    "other features"
                )
            keys = pixel_sums(X) % m
        else:
            keys = sha256_keys(X, m)
        parts = assign(keys, k, d, shifts, x=_sample_bytes(X), y=y_index)

        keys_rs = _random_state_keys(self.estimator)
        base = self._base_seed() if keys_rs else 0
        seeds = [_model_seed(base, i) for i in range(m)] if keys_rs else None
        estimators: list[Any] = []
        for i, idx in enumerate(parts):  # one model per partition, by model id
            labels = y_index[idx]
            if len(idx) == 0:
                estimators.append(None)
                continue
            if labels.min() == labels.max():
                model = DummyClassifier(strategy="most_frequent")
            else:
                model = clone(self.estimator)
                if seeds is not None:
                    model.set_params(**{key: seeds[i] for key in keys_rs})
            estimators.append(model.fit(X[idx], y[idx]))
        self.classes_ = classes
        self.estimators_ = estimators
        self.estimators_samples_ = parts
        self.partition_sizes_ = np.array([len(p) for p in parts], dtype=np.int64)
        self.shifts_ = np.asarray(shifts, dtype=np.int64)
        self.seeds_ = None if seeds is None else np.array(seeds, dtype=np.uint32)
        self.n_models_ = m
        return self

    # ------------------------------------------------------------ votes and scores

    def _class_index(self, model: Any, labels: np.ndarray) -> np.ndarray:
        index = np.searchsorted(self.classes_, labels)
        index = np.minimum(index, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[index], labels):
            raise ValueError(
                f"estimator {type(model).__name__} returned labels outside classes_"
            )
        return index

    def base_votes(self, X: ArrayLike) -> np.ndarray:
        """Each base model's vote, as a class index; -1 (⊥) abstains.

        The votes of DPA and FA and round 1 of ROE, by the package's one vote rule
        (ALGORITHMS.md; :func:`ldcbook.certify.votes_from_scores`) applied to
        :meth:`base_scores`: a model votes for its highest-scoring class, ties to the
        smaller class index, and abstains where it has no preference (all its scores
        equal) or no data (an empty partition). For a base estimator with neither
        ``decision_function`` nor ``predict_proba`` the vote is its ``predict``
        (empty partitions still abstain). For the usual classifiers the vote is
        their ``predict`` wherever that is not a tie. Column ``i`` is model ``i``
        (model-id order).

        Parameters
        ----------
        X : array_like of shape (n, n_features)
            Test samples.

        Returns
        -------
        numpy.ndarray
            int64 of shape ``(n, n_models_)``, values in ``[-1, len(classes_))``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self._votes(X)

    def _votes(self, X: np.ndarray) -> np.ndarray:
        if _has_scores(self.estimator):
            return votes_from_scores(self._scores(X))
        votes = np.full((len(X), self.n_models_), -1, dtype=np.int64)
        for i, model in enumerate(self.estimators_):
            if model is not None:
                votes[:, i] = self._class_index(model, np.asarray(model.predict(X)))
        return votes

    def base_scores(self, X: ArrayLike) -> np.ndarray:
        """Each base model's score vector over ``classes_``, as ROE reads them.

        A model's scores are its ``decision_function`` (binary: ``0`` for its first
        class, the decision value for its second) or else its ``predict_proba``,
        placed in the columns of its classes. Classes absent from its partition get
        a score strictly below all of its own (its lowest minus
        ``max(1, |lowest|)``), so a model trained on a single class prefers it to
        every other. A model with an empty partition, or whose scores over two or
        more own classes are all equal at a point (e.g. a tree leaf holding two
        classes equally), has no preference there: its row is all zeros, so it
        abstains in DPA, FA and both rounds of ROE
        (:func:`ldcbook.certify.votes_from_scores`).

        Parameters
        ----------
        X : array_like of shape (n, n_features)
            Test samples.

        Returns
        -------
        numpy.ndarray
            float64 of shape ``(n, n_models_, len(classes_))``, model-id order.

        Raises
        ------
        ValueError
            If a base model has neither ``decision_function`` nor ``predict_proba``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self._scores(X)

    def _scores(self, X: np.ndarray) -> np.ndarray:
        n, num_classes = len(X), len(self.classes_)
        scores = np.zeros((n, self.n_models_, num_classes))
        for i, model in enumerate(self.estimators_):
            if model is None:
                continue
            if not _has_scores(model):
                raise ValueError(
                    "method='roe' needs base models with decision_function or "
                    f"predict_proba; {type(model).__name__} has neither"
                )
            own = _model_scores(model, X)
            cols = self._class_index(model, np.asarray(model.classes_))
            if own.shape != (n, len(cols)):
                raise ValueError(
                    f"estimator {type(model).__name__} returned scores of shape "
                    f"{own.shape}, expected (n, n_classes) = {(n, len(cols))}"
                )
            low = own.min(axis=1)
            absent = low - np.maximum(1.0, np.abs(low))  # below every own score
            full = np.repeat(absent[:, None], num_classes, axis=1)
            full[:, cols] = own
            if len(cols) > 1:  # one own class: it is preferred to every absent one
                full[low == own.max(axis=1)] = 0.0  # no preference: abstain
            scores[:, i] = full
        return scores

    # ----------------------------------------------------------- predict, certify

    def _aggregate(self, X: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
        if method == "roe":
            return roe(self._scores(X), len(self.shifts_), self.shifts_)
        votes = self._votes(X)
        if method == "dpa":
            return dpa(count_votes(votes, len(self.classes_)))
        return fa(votes, len(self.classes_), len(self.shifts_), self.shifts_)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The ensemble's prediction: plurality vote, or the ROE winner.

        Plurality over all ``n_models_`` votes, ties (including no votes at all) to
        the smaller class index, for ``method`` ``"dpa"`` or ``"fa"``; the Run-Off
        Election winner for ``"roe"``.

        Parameters
        ----------
        X : array_like of shape (n, n_features)
            Test samples.

        Returns
        -------
        numpy.ndarray
            Labels from ``classes_``, shape ``(n,)``.
        """
        check_is_fitted(self)
        method = self._check_method("method", self.method, len(self.shifts_))
        X = validate_data(self, X, reset=False)
        if method == "roe":
            pred, _ = self._aggregate(X, method)
        else:  # the plurality vote: DPA's and FA's prediction alike
            pred = np.argmax(count_votes(self._votes(X), len(self.classes_)), axis=1)
        return self.classes_[pred]

    def certify(
        self, X: ArrayLike, method: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Prediction and certified radius of each test sample (DPA, FA or ROE).

        Serves Chapter 6 (ALGORITHMS.md). The radius ``r`` is the number of poisoned
        training samples, insertions plus removals, under which the prediction
        provably stays the same; changing a sample costs 2. Computed by
        :func:`ldcbook.certify.dpa` on the vote counts of :meth:`base_votes`,
        :func:`ldcbook.certify.fa` on those votes with ``shifts_``, or
        :func:`ldcbook.certify.roe` on :meth:`base_scores`.

        Parameters
        ----------
        X : array_like of shape (n, n_features)
            Test samples.
        method : {"dpa", "fa", "roe"}, optional
            The certificate; default the estimator's ``method``. ``"dpa"`` needs
            ``d = 1``; ``"fa"`` with ``d = 1`` gives DPA's numbers.

        Returns
        -------
        prediction : numpy.ndarray
            Labels from ``classes_``, shape ``(n,)`` (for ``"dpa"`` and ``"fa"`` the
            plurality vote, for ``"roe"`` the ROE winner).
        radius : numpy.ndarray
            int64, shape ``(n,)``, ``>= 0``. Correctness against labels is not
            applied (see :func:`ldcbook.certify.certified_accuracy`).

        Raises
        ------
        ValueError
            If ``method`` is unknown, ``"dpa"`` with ``d > 1``, ``"roe"`` with base
            models that have no scores, or ``X`` has the wrong number of features.
        """
        check_is_fitted(self)
        d = len(self.shifts_)
        method = self.method if method is None else method
        method = self._check_method("method", method, d)
        X = validate_data(self, X, reset=False)
        pred, radius = self._aggregate(X, method)
        return self.classes_[pred], radius
