"""Tests for ldcbook.attacks: crafted insertions, and retraining only what changed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ldcbook.attacks import (
    affected_models,
    attack_size,
    nudge_to_bucket,
    poison,
    retrain_affected,
)
from ldcbook.data import load
from ldcbook.ensemble import TrainConfig, fit_scores
from ldcbook.partition import channel_stats, partitions, pixel_sums


def test_nudge_to_bucket_reaches_the_residue_with_the_fewest_changes():
    rng = np.random.default_rng(0)
    for _ in range(200):
        img = rng.integers(0, 256, (1, 5, 5), dtype=np.uint8)
        m = int(rng.integers(1, 60))
        t = int(rng.integers(0, m))
        out = nudge_to_bucket(img, t, m)
        assert out.dtype == np.uint8 and out.shape == img.shape
        assert int(pixel_sums(out[None])[0]) % m == t
        s = int(img.astype(int).sum())
        change = np.abs(out.astype(int) - img.astype(int))
        assert change.max() <= 1 and change.sum() == min((t - s) % m, (s - t) % m)
    with pytest.raises(ValueError, match="cannot reach"):
        nudge_to_bucket(np.full((1, 1, 1), 255, np.uint8), 1, 3)  # 255 needs +1 or -2
    with pytest.raises(TypeError, match="uint8"):
        nudge_to_bucket(np.zeros((2, 2)), 0, 3)
    assert attack_size(5, 3) == 8


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def test_retraining_only_the_affected_models_gives_the_full_retraining(digits):
    """The isolation guarantee put to use: the other models are bit for bit reused."""
    torch.set_num_threads(1)
    k, cfg = 6, TrainConfig(model="cnn", epochs=2, batch_size=7, lr=0.05,
                            augment="crop", seed=3, device="cpu", group_size=4)
    parts = partitions(digits, k)
    clean = fit_scores(digits, parts, range(k), cfg)
    # five mislabelled near-copies of test images, steered into partition 2, and
    # three samples of partition 4 removed
    x = digits.x_test[:5].numpy()
    crafted = np.stack([nudge_to_bucket(img, 2, k) for img in x])
    labels = (digits.y_test[:5].numpy() + 1) % 10
    removed = parts[4][:3]
    new = poison(digits, crafted, labels, removed)
    new_parts = partitions(new, k)
    affected = affected_models(digits, parts, new, new_parts)
    assert affected.tolist() == [2, 4]
    assert attack_size(len(crafted), len(removed)) == 8
    fast = retrain_affected(new, new_parts, cfg, clean, affected)
    full = fit_scores(new, new_parts, range(k), cfg)
    assert np.array_equal(fast, full)
    assert not np.array_equal(fast[:, 2], clean[:, 2])
    # removal shifted every later index, yet the others are unaffected: by content
    assert not all(np.array_equal(a, b) for a, b in zip(parts, new_parts))


def test_poison_checks_its_inputs(digits):
    with pytest.raises(ValueError, match="insert_x"):
        poison(digits, np.zeros((1, 1, 4, 4), np.uint8), [0])
    with pytest.raises(ValueError, match="insert_y"):
        poison(digits, digits.x_test[:1].numpy(), [10])
    with pytest.raises(ValueError, match="remove"):
        poison(digits, remove=[len(digits.y_train)])
    with pytest.raises(ValueError, match="old_parts"):
        affected_models(digits, [np.arange(3)], digits, [])


# --------------------------------------------------------------------------------------
# attack families, the budget, packed retraining
# --------------------------------------------------------------------------------------

from ldcbook import attack_experiments as ae  # noqa: E402
from ldcbook.attacks import (  # noqa: E402
    Attack,
    check_budget,
    near_copies,
    nearest_training,
    pack_passes,
    reached_models,
    relabel,
    removal,
    retrain_attacks,
)

CFG = TrainConfig(model="cnn", epochs=2, batch_size=7, lr=0.05, augment="crop", seed=3,
                  device="cpu", group_size=4)


def test_families_build_the_attacks_they_promise(digits):
    k = 6
    x = digits.x_test[0]
    att = near_copies(x, 3, [1, 4], k, copies=2)
    assert att.size == 4 and att.insert_y.tolist() == [3] * 4
    assert (pixel_sums(att.insert_x) % k).tolist() == [1, 1, 4, 4]
    assert np.abs(att.insert_x.astype(int) - x.numpy().astype(int)).max() <= 1
    assert reached_models(att, digits, k).tolist() == [1, 4]
    # FA: a bucket feeds d models
    assert len(reached_models(near_copies(x, 3, [5], k * 3), digits, k, 3)) == 3
    near = nearest_training(digits, x, 5, label=2)
    assert (digits.y_train.numpy()[near] == 2).all()
    dist = ((digits.x_train.numpy().reshape(len(digits.y_train), -1).astype(float)
             - x.numpy().reshape(-1)) ** 2).sum(1)
    other = np.setdiff1d(np.flatnonzero(digits.y_train.numpy() == 2), near)
    assert dist[near].max() <= dist[other].min()
    rel = relabel(digits, near[:2], 7)
    assert rel.size == 4 and rel.family == "relabel"
    new = rel.apply(digits)
    assert len(new.y_train) == len(digits.y_train)
    assert sorted(new.y_train.numpy()[-2:].tolist()) == [7, 7]
    # a relabelled sample stays in its partition
    assert reached_models(rel, digits, k).tolist() == sorted(
        set((np.asarray(digits.train_keys)[near[:2]] % k).tolist()))
    rem = removal(near[:3], (1, 8, 8))
    assert rem.size == 3 and (rem + att).size == 7
    with pytest.raises(ValueError, match="same sample"):
        rem + rem
    with pytest.raises(ValueError, match="distinct"):
        Attack(att.insert_x, att.insert_y, np.array([1, 1]))
    with pytest.raises(ValueError, match="buckets"):
        near_copies(x, 3, [1, 1], k)


def test_an_attack_reaching_more_partitions_than_its_budget_is_rejected(digits):
    k = 6
    one = removal([0], (1, 8, 8))
    # by the hash, one removal reaches one partition: accepted at budget 1
    check_budget(one, 1, reached_models(one, digits, k))
    with pytest.raises(ValueError, match="exceeds its budget"):
        check_budget(one, 0, [])
    # partitions by dataset position: removing sample 0 shifts every block
    def blocks(ds):
        return ae.position_partitions(ds, k)
    with pytest.raises(ValueError,
                       match=r"reaches [56] models, more than its budget 1 "):
        retrain_attacks(digits, blocks(digits), CFG, [one], budgets=[1],
                        partition_fn=blocks)
    with pytest.raises(ValueError, match="more than its budget 2 allows"):
        check_budget(near_copies(digits.x_test[0], 1, [0, 1], 12), 2, range(5), d=2)


def test_pack_passes_never_puts_one_model_twice_in_a_pass():
    rng = np.random.default_rng(1)
    sets = [rng.choice(20, size=int(rng.integers(0, 6)), replace=False)
            for _ in range(60)]
    passes = pack_passes(sets)
    seen = sorted(a for p in passes for a in p)
    assert seen == [a for a, s in enumerate(sets) if len(s)]
    for p in passes:
        ids = np.concatenate([sets[a] for a in p])
        assert len(ids) == len(set(ids.tolist()))
    assert pack_passes([[1, 2], [3], [2]]) == [[0, 1], [2]]


def test_packed_retraining_equals_full_retraining_bit_for_bit(digits):
    """Several attacks share passes; each is the model a full retraining gives."""
    torch.set_num_threads(1)
    k = 6
    parts = partitions(digits, k)
    clean = fit_scores(digits, parts, range(k), CFG)
    x = digits.x_test[:3].numpy()
    attacks = [near_copies(x[0], 1, [2], k, 2),
               near_copies(x[1], 2, [3], k) + removal(parts[0][:2], (1, 8, 8)),
               relabel(digits, parts[2][:1], 5)]
    res = retrain_attacks(digits, parts, CFG, attacks, budgets=[2, 3, 2])
    assert [r.affected.tolist() for r in res] == [[2], [0, 3], [2]]
    assert len(pack_passes([r.affected for r in res])) == 2
    for att, r in zip(attacks, res):
        new = att.apply(digits)
        full = fit_scores(new, partitions(new, k), range(k), CFG)
        assert np.array_equal(r.patch(clean), full)
    assert not np.array_equal(res[0].patch(clean), clean)


def test_flip_search_and_attack_points(digits):
    torch.set_num_threads(1)
    k = 6
    parts = partitions(digits, k)
    clean = fit_scores(digits, parts, range(k), CFG)
    pred, radius = ae.certify_votes(ae.attacked_votes(clean, ae.targets(clean, [0])[0],
                                                      {}), 10)
    tl = ae.targets(clean, range(40))
    assert tl[0].prediction == pred and tl[0].radius == radius
    for t in tl:
        assert (clean[t.index, t.voters].argmax(1) == t.prediction).all()
    picked = [t for t in tl if t.radius >= 1][:4]
    res = ae.flip_search(digits, parts, CFG, clean, picked, max_copies=4, rounds=3)
    for r in res:
        # the certificate holds against the budget-radius attack
        assert ae.certify_votes(r.confirm_votes, 10)[0] == r.target.prediction
        if r.flipped:
            assert r.size > r.target.radius
            new = ae.run_attacks(digits, parts, CFG, clean, [r.target], [list(r.plan)])
            votes = ae.attacked_votes(clean, r.target, new[0])
            assert ae.certify_votes(votes, 10)[0] != r.target.prediction
    out = ae.attack_points(digits, parts, CFG, clean, [1, 2, 3], "removal", 2)
    assert out["size"].tolist() == [2, 2, 2] and (out["models"] <= 2).all()
    assert (out["attacked_prediction"][out["radius"] >= 2]
            == out["prediction"][out["radius"] >= 2]).all()
    assert ae.runner_up(np.array([3, 5, 5, 1]), 1) == 2
    assert ae.runner_up(np.array([5, 5, 1]), 1) == 0
    with pytest.raises(ValueError, match="family"):
        ae.plan_attack("nope", digits, parts, tl[0], [0])


def test_retraining_evaluates_only_the_rows_asked_for(digits):
    torch.set_num_threads(1)
    k = 6
    parts = partitions(digits, k)
    attacks = [near_copies(digits.x_test[0].numpy(), 1, [2], k),
               removal(parts[4][:1], (1, 8, 8))]
    whole = retrain_attacks(digits, parts, CFG, attacks)
    rows = np.array([7, 0, 31])
    some = retrain_attacks(digits, parts, CFG, attacks, rows=rows)
    for w, s in zip(whole, some):
        assert s.scores.shape == (3, 1, 10) and s.rows.tolist() == rows.tolist()
        # the same trained models: equal scores up to the rounding of another shape
        assert np.abs(s.scores - w.scores[rows]).max() < 1e-5
        assert (s.scores.argmax(-1) == w.scores[rows].argmax(-1)).all()


def test_whole_set_normalisation_couples_every_model(digits):
    """The broken assumption of the attacks chapter: statistics of the whole set."""
    torch.set_num_threads(1)
    k = 6
    white = Attack(np.full((1, 1, 8, 8), 255, np.uint8), np.array([0]),
                   np.zeros(0, np.int64))
    poisoned = white.apply(digits)
    stats = ae.whole_set_stats(digits)
    mean, std = (float(v[0]) for v in channel_stats(digits.x_train))
    assert stats == ((mean,), (std,))
    assert ae.whole_set_stats(poisoned)[0][0] > mean  # a white image moves the mean
    before = fit_scores(digits, partitions(digits, k), range(k),
                        CFG.replace(norm_stats=stats))
    after = fit_scores(poisoned, partitions(poisoned, k), range(k),
                       CFG.replace(norm_stats=ae.whole_set_stats(poisoned)))
    changed = [not np.array_equal(before[:, i], after[:, i]) for i in range(k)]
    assert all(changed)  # one insertion reached every model
    # with each model's own statistics it reaches one
    own = retrain_attacks(digits, partitions(digits, k), CFG, [white], budgets=[1])
    assert len(own[0].affected) == 1
    with pytest.raises(TypeError, match="dataset"):
        ae.whole_set_stats(object())


def test_fa_attacks_respect_the_fa_certificate(digits):
    torch.set_num_threads(1)
    from ldcbook.certify import fa, fa_shifts, votes_from_scores

    k, d = 3, 2
    shifts = fa_shifts(k, d)
    parts = partitions(digits, k, d, shifts)
    clean = fit_scores(digits, parts, range(k * d), CFG)
    votes = votes_from_scores(clean)
    pred, radius = fa(votes, 10, d, shifts)
    for t in range(20):  # the plan's radius is the certificate's
        p, r, c, order = ae.fa_plan(votes[t], 10, k, d, shifts)
        assert (p, r) == (pred[t], radius[t]) and c != p
        assert sorted(order.tolist()) == list(range(k * d))
    pts = np.flatnonzero(radius >= 1)[:6]
    out = ae.fa_attack_points(digits, CFG, clean, pts, k, d, shifts, extras=(0, 1))
    assert out["size"].tolist() == [[r, r + 1] for r in radius[pts].tolist()]
    assert (out["models"] <= out["size"] * d).all() and (out["models"][:, 0] >= 1).all()
    # within the radius the prediction holds; one bucket more may break it
    assert (out["attacked_prediction"][:, 0] == pred[pts]).all()
    assert (out["attacked_radius"][:, 0] < radius[pts] + 1).all()
    with pytest.raises(ValueError, match="k\\*d"):
        ae.fa_attack_points(digits, CFG, clean[:, :4], pts, k, d, shifts)
    with pytest.raises(ValueError, match="extras"):
        ae.fa_attack_points(digits, CFG, clean, pts, k, d, shifts, extras=(-1,))


def test_fa_plan_names_the_buckets_that_break_the_certificate():
    """On votes alone: switching the models of the r + 1 heaviest buckets of the
    plan's class to it changes the FA prediction; those of r buckets never do."""
    from ldcbook.certify import fa, fa_shifts

    rng = np.random.default_rng(4)
    k, d, nc = 10, 4, 5
    shifts = fa_shifts(k, d)
    feeds = (np.arange(k * d)[:, None] + shifts[None, :]) % (k * d)
    broke = 0
    for _ in range(300):
        p = rng.dirichlet(np.ones(nc) * 0.7)
        votes = rng.choice(nc, size=k * d, p=p)
        pred, r, c, order = ae.fa_plan(votes, nc, k, d, shifts)
        assert (pred, r) == tuple(int(a[0]) for a in fa(votes[None], nc, d, shifts))
        for extra in (0, 1):
            if r + extra > k * d:
                continue
            models = feeds[order[: r + extra]].ravel()
            v = votes.copy()
            v[models] = c
            after = int(fa(v[None], nc, d, shifts)[0][0])
            if extra == 0:
                assert after == pred  # the certificate
            elif len(np.unique(models)) == len(models):
                # buckets without a shared model lower the gap by their weights
                assert after != pred
            broke += extra == 1 and after != pred
    assert broke > 150  # buckets that share models make the radius loose


def test_hash_partitions_are_recomputed_only_where_the_keys_reach(digits):
    from ldcbook.attacks import _attacked_partitions, _hash_attacked_partitions

    k = 7
    parts = partitions(digits, k)
    rng = np.random.default_rng(2)
    x = digits.x_test[:5].numpy()
    for j in range(12):
        att = (near_copies(x[j % 5], int(rng.integers(10)),
                           rng.choice(k, size=int(rng.integers(0, 4)), replace=False),
                           k, int(rng.integers(1, 3)))
               + removal(rng.choice(len(digits.y_train), size=int(rng.integers(0, 3)),
                                    replace=False), (1, 8, 8)))
        if j % 3 == 0:
            att = att + relabel(digits, [int(rng.integers(len(digits.y_train)))], 3)
        fast = _hash_attacked_partitions(digits, parts, att)
        slow = _attacked_partitions(digits, parts, att, lambda ds: partitions(ds, k))
        assert fast[0].tolist() == slow[0].tolist()
        assert all(np.array_equal(fast[1][i], slow[1][i]) for i in slow[0].tolist())
        assert np.array_equal(fast[2], slow[2])
    with pytest.raises(ValueError, match="partition_fn"):
        retrain_attacks(digits, partitions(digits, k, 1, [0])[::-1], CFG, [att])


def test_median_slope_reads_a_power_law_and_drops_infinite_medians():
    import pandas as pd

    ks = np.repeat([10, 20, 40], 5)
    exact = pd.DataFrame({"k": ks, "attack": 3.0 * ks})
    b, se = ae.median_slope(exact, "attack", draws=20)
    assert abs(b - 1) < 1e-12 and se < 1e-12
    square = pd.DataFrame({"k": ks, "attack": 0.5 * ks**2.0})
    assert abs(ae.median_slope(square, "attack", draws=5)[0] - 2) < 1e-12
    # more than half the points of k = 40 without an attack: that k drops out
    lost = exact.copy()
    lost.loc[lost.k == 40, "attack"] = [np.inf, np.inf, np.inf, 1.0, 1.0]
    assert abs(ae.median_slope(lost, "attack", draws=5)[0] - 1) < 1e-12
    lost.loc[lost.k == 20, "attack"] = np.inf
    assert np.isnan(ae.median_slope(lost, "attack", draws=5)[0])
    noisy = exact.assign(attack=exact.attack * np.tile([0.8, 0.9, 1.0, 1.1, 1.3], 3))
    assert ae.median_slope(noisy, "attack", draws=50)[1] > 0
    with pytest.raises(ValueError, match="column"):
        ae.median_slope(exact, "radius")
    with pytest.raises(TypeError, match="DataFrame"):
        ae.median_slope({"k": [1]}, "k")
