"""CrossDomain alignment and the cold-start split."""

import crossrec as cr
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st


def frame(users, items, ratings=None):
    df = pd.DataFrame({"user": users, "item": items})
    if ratings is not None:
        df["rating"] = ratings
    return cr.Interactions.from_pandas(df, "user", "item", "rating" if ratings is not None else None)


def random_domain(rng, user_ids, n_items, per_user, prefix="i"):
    users, items, ratings = [], [], []
    for u in user_ids:
        k = int(rng.integers(1, per_user + 1))
        for i in rng.choice(n_items, size=k, replace=False):
            users.append(u)
            items.append(f"{prefix}{i}")
            ratings.append(float(rng.integers(1, 6)))
    return frame(users, items, ratings)


def test_alignment_partial_overlap_keeps_item_maps():
    src = frame(["a", "b", "c"], [1, 2, 3], [5.0, 4.0, 3.0])
    tgt = frame(["c", "d", "a", "a"], ["x", "y", "x", "z"], [1.0, 2.0, 3.0, 4.0])
    pair = cr.CrossDomain(src, tgt, shared="users")
    assert pair.source.user_map is pair.target.user_map is pair.shared_map
    assert list(pair.shared_map.ids) == ["a", "b", "c", "d"]  # source order, then target-only
    assert sorted(pair.overlap_ids) == ["a", "c"]
    assert list(pair.source.item_ids) == [1, 2, 3] and list(pair.target.item_ids) == ["x", "y", "z"]
    # Every interaction survives with the same external ids.
    for orig, new in ((src, pair.source), (tgt, pair.target)):
        a = orig.to_pandas().sort_values(["user", "item"]).reset_index(drop=True)
        b = new.to_pandas().sort_values(["user", "item"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
    s = pair.summary()
    assert (s["n_source"], s["n_target"], s["n_union"], s["n_overlap"]) == (3, 3, 4, 2)
    assert s["overlap_fraction_source"] == pytest.approx(2 / 3)


def test_ids_of_different_types_compared_as_given():
    src = frame([1, 2, 3], ["a", "b", "c"], [1.0, 2.0, 3.0])
    tgt = frame(["1", "2", 3], ["a", "b", "c"], [1.0, 2.0, 3.0])  # mixed str/int ids
    pair = cr.CrossDomain(src, tgt)
    assert list(pair.overlap_ids) == [3]
    assert pair.n_shared == 5  # 1, 2, 3, "1", "2"


def test_no_overlap_clear_error_names_types():
    src = frame([1, 2], ["a", "b"], [1.0, 2.0])
    tgt = frame(["1", "2"], ["a", "b"], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"share no users.*int64.*str"):
        cr.CrossDomain(src, tgt)
    with pytest.raises(ValueError, match="share no users"):
        cr.CrossDomain(frame(["a"], [1], [1.0]), frame(["b"], [1], [1.0]))


def test_shared_items():
    src = frame(["u1", "u2"], ["x", "y"], [1.0, 2.0])
    tgt = frame(["v1", "v2"], ["y", "z"], [3.0, 4.0])
    pair = cr.CrossDomain(src, tgt, shared="items")
    assert pair.source.item_map is pair.target.item_map
    assert list(pair.overlap_ids) == ["y"]


def test_bad_arguments():
    d = frame(["a"], [1], [1.0])
    with pytest.raises(ValueError, match="shared"):
        cr.CrossDomain(d, d, shared="both")
    with pytest.raises(ValueError, match="source must be"):
        cr.CrossDomain(d.to_pandas(), d)
    pair = cr.CrossDomain(
        random_domain(np.random.default_rng(0), range(20), 10, 5),
        random_domain(np.random.default_rng(1), range(20), 10, 5),
    )
    for kw, name in (
        ({"fraction": 0.0}, "fraction"),
        ({"fraction": 1.0}, "fraction"),
        ({"fraction": float("nan")}, "fraction"),
        ({"test_size": 1.0}, "test_size"),
        ({"seed": -1}, "seed"),
    ):
        with pytest.raises(ValueError, match=name):
            pair.cold_start_split(**kw)


def _keys(d):
    return set(zip(d.users.tolist(), d.items.tolist()))


def check_split(pair, split, fraction):
    cold = set(split.cold_users.tolist())
    assert cold <= set(pair.overlap.tolist())
    assert len(cold) == max(1, round(fraction * len(pair.overlap)))
    train_t, test = split.train.target, split.test
    # No leakage: held-out target interactions appear in no training input.
    assert not (_keys(train_t) & _keys(test))
    assert _keys(train_t) | _keys(test) == _keys(pair.target)
    assert not (cold & set(train_t.users.tolist()))  # cold users: no target training data at all
    assert split.train.source is pair.source  # the whole source stays
    assert test.user_map is train_t.user_map is split.train.source.user_map
    # Every target interaction of a cold user is in the test set.
    tgt_cold = {k for k in _keys(pair.target) if k[0] in cold}
    assert tgt_cold <= _keys(test)
    # Warm users keep training data and are disjoint from cold.
    assert set(split.warm_users.tolist()).isdisjoint(cold)
    assert set(split.warm_users.tolist()) == set(train_t.users.tolist())


def test_cold_split_no_leakage_and_deterministic():
    rng = np.random.default_rng(3)
    pair = cr.CrossDomain(random_domain(rng, range(60), 30, 8), random_domain(rng, range(20, 90), 25, 8, "t"))
    for fraction in (0.2, 0.5, 0.8):
        split = pair.cold_start_split(fraction=fraction, test_size=0.25, seed=7)
        check_split(pair, split, fraction)
    a = pair.cold_start_split(0.5, 0.2, seed=11)
    b = pair.cold_start_split(0.5, 0.2, seed=11)
    c = pair.cold_start_split(0.5, 0.2, seed=12)
    np.testing.assert_array_equal(a.cold_users, b.cold_users)
    assert _keys(a.test) == _keys(b.test)
    assert not np.array_equal(a.cold_users, c.cold_users)


def test_validation_split_uses_training_data_only():
    rng = np.random.default_rng(4)
    pair = cr.CrossDomain(random_domain(rng, range(80), 30, 8), random_domain(rng, range(80), 25, 8, "t"))
    split = pair.cold_start_split(0.5, 0.2, seed=0)
    val = split.validation(seed=1)
    assert _keys(val.train.target) | _keys(val.test) == _keys(split.train.target)
    assert not (_keys(val.test) & _keys(split.test))
    assert set(val.cold_users.tolist()).isdisjoint(split.cold_users.tolist())
    check_split(split.train, val, 0.5)


def test_permuted_source_keeps_marginals_breaks_link():
    rng = np.random.default_rng(5)
    pair = cr.CrossDomain(random_domain(rng, range(50), 20, 8), random_domain(rng, range(50), 20, 8, "t"))
    ctrl = pair.permuted_source(seed=0)
    assert ctrl.target is pair.target
    np.testing.assert_array_equal(np.sort(ctrl.source.user_counts()), np.sort(pair.source.user_counts()))
    np.testing.assert_array_equal(ctrl.source.item_counts(), pair.source.item_counts())
    assert not np.array_equal(ctrl.source.user_counts(), pair.source.user_counts())


@given(
    n_src=st.integers(2, 30),
    n_tgt=st.integers(2, 30),
    shift=st.integers(0, 25),
    fraction=st.floats(0.05, 0.95),
    test_size=st.floats(0.0, 0.9),
    seed=st.integers(0, 2**31),
)
def test_property_cold_split(n_src, n_tgt, shift, fraction, test_size, seed):
    rng = np.random.default_rng(seed)
    src = random_domain(rng, range(n_src), 6, 4)
    tgt = random_domain(rng, range(shift, shift + n_tgt), 6, 4, "t")
    overlap = set(range(n_src)) & set(range(shift, shift + n_tgt))
    if not overlap:
        with pytest.raises(ValueError, match="share no users"):
            cr.CrossDomain(src, tgt)
        return
    pair = cr.CrossDomain(src, tgt)
    assert set(pair.overlap_ids.tolist()) == overlap
    if len(overlap) < 2:
        with pytest.raises(ValueError, match="at least 2"):
            pair.cold_start_split(fraction, test_size, seed=seed)
        return
    split = pair.cold_start_split(fraction, test_size, seed=seed)
    if round(fraction * len(overlap)) < len(overlap):
        check_split(pair, split, fraction)
    assert not (_keys(split.train.target) & _keys(split.test))
