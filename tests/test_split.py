"""crossrec.split: partitions, fractions, per-user guarantees, time order, seeds."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import crossrec as cr


def make_data(seed=0, n_users=50, n_items=40, nnz=600, timestamps=True, ts_range=10_000):
    rng = np.random.default_rng(seed)
    pairs = rng.choice(n_users * n_items, size=nnz, replace=False)
    df = pd.DataFrame(
        {
            "user": [f"u{p // n_items}" for p in pairs],
            "item": pairs % n_items,
            "rating": rng.integers(1, 6, nnz).astype(float),
        }
    )
    if timestamps:
        df["ts"] = rng.integers(0, ts_range, nnz)
    return cr.Interactions.from_pandas(df, "user", "item", "rating", "ts" if timestamps else None)


def keys(d):
    return set(zip(d.users.tolist(), d.items.tolist()))


def assert_partition(data, train, test):
    assert train.user_map is data.user_map and test.item_map is data.item_map
    kt, ke = keys(train), keys(test)
    assert not (kt & ke), "train and test overlap"
    assert kt | ke == keys(data), "split lost or invented interactions"
    assert train.nnz + test.nnz == data.nnz
    # values and timestamps travel with their interaction
    full = (
        {(u, i): (v, t) for u, i, v, t in zip(data.users, data.items, data.values, data.timestamps)}
        if data.timestamps is not None
        else None
    )
    if full is not None:
        for part in (train, test):
            for u, i, v, t in zip(part.users, part.items, part.values, part.timestamps):
                assert full[(u, i)] == (v, t)


# ---- random -------------------------------------------------------------------------------
def test_random_partition_fraction_and_seed():
    data = make_data()
    train, test = cr.split.random(data, test_size=0.25, seed=3)
    assert_partition(data, train, test)
    assert test.nnz == round(0.25 * data.nnz)
    again = cr.split.random(data, test_size=0.25, seed=3)[1]
    assert keys(again) == keys(test)
    other = cr.split.random(data, test_size=0.25, seed=4)[1]
    assert keys(other) != keys(test)


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, "x", float("nan")])
def test_bad_fractions(bad):
    data = make_data()
    with pytest.raises(ValueError, match="test_size"):
        cr.split.random(data, test_size=bad)
    with pytest.raises(ValueError, match="test_size"):
        cr.split.user_holdout(data, test_size=bad)
    with pytest.raises(ValueError, match="test_size"):
        cr.split.temporal(data, test_size=bad)
    with pytest.raises(ValueError, match="fraction"):
        cr.split.cold_start_users(data, fraction=bad)


def test_bad_inputs():
    with pytest.raises(ValueError, match="Interactions"):
        cr.split.random(pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="seed"):
        cr.split.random(make_data(), seed=-1)
    with pytest.raises(ValueError, match="leave_out"):
        cr.split.user_holdout(make_data(), leave_out=0)


# ---- user holdout -------------------------------------------------------------------------
def test_user_holdout_fraction_per_user_and_keeps_train():
    data = make_data(timestamps=False)
    train, test = cr.split.user_holdout(data, test_size=0.3, seed=1)
    assert_partition(data, train, test)
    n = data.user_counts()
    nt = test.user_counts()
    want = np.minimum(np.floor(0.3 * n + 0.5), np.maximum(n - 1, 0))
    np.testing.assert_array_equal(nt, want)
    assert np.all(train.user_counts()[n > 0] >= 1)


def test_leave_k_out_and_small_users():
    df = pd.DataFrame({"user": ["a"] * 5 + ["b"] * 2 + ["c"], "item": [1, 2, 3, 4, 5, 1, 2, 3]})
    data = cr.Interactions.from_pandas(df, "user", "item")
    train, test = cr.split.user_holdout(data, leave_out=2, seed=0)
    assert_partition(data, train, test)
    counts = dict(zip(data.user_ids, test.user_counts()))
    assert counts == {"a": 2, "b": 1, "c": 0}  # b keeps one in train, c (one item) stays in train
    train0, test0 = cr.split.user_holdout(data, leave_out=2, seed=0, min_train=0)
    assert dict(zip(data.user_ids, test0.user_counts())) == {"a": 2, "b": 2, "c": 1}


def test_user_holdout_by_time_takes_latest():
    data = make_data(ts_range=10**9)  # distinct timestamps with high probability
    train, test = cr.split.user_holdout(data, test_size=0.2, seed=0)  # by_time auto
    assert_partition(data, train, test)
    for u in range(data.n_users):
        tr = train.timestamps[train.users == u]
        te = test.timestamps[test.users == u]
        if len(tr) and len(te):
            assert tr.max() <= te.min()
    # deterministic without ties: the seed does not matter
    assert keys(cr.split.user_holdout(data, test_size=0.2, seed=9)[1]) == keys(test)


def test_user_holdout_random_when_by_time_false():
    data = make_data(ts_range=10**9)
    a = cr.split.user_holdout(data, test_size=0.2, by_time=False, seed=0)[1]
    b = cr.split.user_holdout(data, test_size=0.2, by_time=False, seed=1)[1]
    assert keys(a) != keys(b)
    with pytest.raises(ValueError, match="timestamps"):
        cr.split.user_holdout(make_data(timestamps=False), by_time=True)


def test_user_holdout_time_ties_are_seeded():
    data = make_data(ts_range=3)  # many ties
    a = cr.split.user_holdout(data, leave_out=2, seed=5)
    b = cr.split.user_holdout(data, leave_out=2, seed=5)
    assert keys(a[1]) == keys(b[1])
    for u in range(data.n_users):
        tr, te = a[0].timestamps[a[0].users == u], a[1].timestamps[a[1].users == u]
        if len(tr) and len(te):
            assert tr.max() <= te.min()


# ---- temporal -----------------------------------------------------------------------------
def test_temporal_fraction_and_order():
    data = make_data(ts_range=50)  # ties at the boundary
    train, test = cr.split.temporal(data, test_size=0.2)
    assert_partition(data, train, test)
    assert test.nnz == round(0.2 * data.nnz)
    assert train.timestamps.max() <= test.timestamps.min()
    assert keys(cr.split.temporal(data, test_size=0.2)[1]) == keys(test)


def test_temporal_cutoff_numbers_and_datetimes():
    data = make_data()
    train, test = cr.split.temporal(data, cutoff=5000)
    assert_partition(data, train, test)
    assert np.all(test.timestamps >= 5000) and np.all(train.timestamps < 5000)
    t2 = cr.split.temporal(data, cutoff=pd.Timestamp(5000, unit="s"))[1]
    t3 = cr.split.temporal(data, cutoff=np.datetime64(5000, "s"))[1]
    assert keys(t2) == keys(test) == keys(t3)
    with pytest.raises(ValueError, match="cutoff"):
        cr.split.temporal(data, cutoff="tomorrow")
    with pytest.raises(ValueError, match="timestamps"):
        cr.split.temporal(make_data(timestamps=False))


# ---- cold-start users ---------------------------------------------------------------------
def test_cold_start_users_holds_out_whole_users():
    data = make_data()
    train, test = cr.split.cold_start_users(data, fraction=0.2, seed=2)
    assert_partition(data, train, test)
    cold = set(np.unique(test.users))
    assert len(cold) == round(0.2 * np.count_nonzero(data.user_counts()))
    assert not cold & set(np.unique(train.users)), "a cold user has training data"
    assert set(cr.split.test_users(test)) == set(data.user_ids[list(cold)])
    assert keys(cr.split.cold_start_users(data, 0.2, seed=2)[1]) == keys(test)


def test_cold_start_users_from_candidates():
    data = make_data()
    pool = [f"u{i}" for i in range(10)]
    train, test = cr.split.cold_start_users(data, fraction=0.5, seed=0, users=pool)
    cold = set(cr.split.test_users(test))
    assert cold <= set(pool) and len(cold) == 5
    with pytest.raises(cr.UnknownIdError, match="nobody"):
        cr.split.cold_start_users(data, 0.5, users=["nobody"])


@given(st.integers(0, 10_000), st.floats(0.05, 0.95), st.sampled_from(["random", "user", "temporal", "cold"]))
def test_property_every_split_partitions(seed, frac, kind):
    data = make_data(seed=seed % 7, nnz=200)
    split = {
        "random": lambda: cr.split.random(data, frac, seed=seed),
        "user": lambda: cr.split.user_holdout(data, frac, seed=seed),
        "temporal": lambda: cr.split.temporal(data, frac),
        "cold": lambda: cr.split.cold_start_users(data, frac, seed=seed),
    }[kind]
    train, test = split()
    kt, ke = keys(train), keys(test)
    assert not (kt & ke) and (kt | ke) == keys(data)


# ---- the one cold-start protocol --------------------------------------------------------------
def test_cold_start_holds_out_cold_users_and_a_warm_fraction():
    data = make_data(nnz=800)
    s = cr.split.cold_start(data, fraction=0.3, test_size=0.25, seed=4)
    assert_partition(data, s.train, s.test)
    counts = data.user_counts()
    active = np.flatnonzero(counts > 0)
    assert len(s.cold_users) == round(0.3 * len(active))
    assert not set(s.cold_users.tolist()) & set(np.unique(s.train.users).tolist())
    assert set(s.warm_users.tolist()) == set(np.unique(s.train.users).tolist())
    test_counts = s.test.user_counts()
    for u in s.warm_users:  # each warm user gives floor(0.25 n_u) to test, keeps >= 1
        assert test_counts[u] == min(int(np.floor(0.25 * counts[u])), counts[u] - 1)
    np.testing.assert_array_equal(test_counts[s.cold_users], counts[s.cold_users])
    # indices are tagged as such; segments and *_ids are external ids
    assert isinstance(s.cold_users, cr.data.Indices) and s.cold_users.kind == "user"
    assert not isinstance(s.cold_user_ids, cr.data.Indices)
    np.testing.assert_array_equal(s.segments["cold"], data.user_ids[np.asarray(s.cold_users)])
    np.testing.assert_array_equal(s.segments["warm"], data.user_ids[np.asarray(s.warm_users)])


def test_cold_start_users_is_cold_start_without_warm_holdout():
    data = make_data()
    train, test = cr.split.cold_start_users(data, fraction=0.4, seed=9)
    s = cr.split.cold_start(data, fraction=0.4, test_size=0.0, seed=9)
    assert keys(test) == keys(s.test) and keys(train) == keys(s.train)
    assert set(cr.split.test_users(test)) == set(s.cold_user_ids)


def test_cross_domain_split_is_the_same_protocol():
    # CrossDomain.cold_start_split = cold_start on the target with the overlap as candidates
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"s{i}") for u in range(40) for i in rng.choice(30, 5, replace=False)]
    source = cr.Interactions.from_pandas(pd.DataFrame(rows, columns=["u", "i"]), "u", "i")
    rows = [
        (f"u{u}", f"t{i}", float(rng.integers(1, 6))) for u in range(20, 60) for i in rng.choice(30, 6, replace=False)
    ]
    target = cr.Interactions.from_pandas(pd.DataFrame(rows, columns=["u", "i", "r"]), "u", "i", "r")
    pair = cr.CrossDomain(source, target)
    a = pair.cold_start_split(0.5, 0.2, seed=3)
    b = cr.split.cold_start(pair.target, 0.5, 0.2, seed=3, users=pair.overlap_ids)
    np.testing.assert_array_equal(a.cold_users, b.cold_users)
    np.testing.assert_array_equal(a.warm_users, b.warm_users)
    assert keys(a.test) == keys(b.test)
    assert set(a.cold_user_ids) <= {f"u{u}" for u in range(20, 40)}  # only users of both domains go cold


@pytest.mark.parametrize("n_candidates", [0, 1])
def test_cold_start_needs_a_cold_and_a_warm_candidate(n_candidates):
    data = make_data()
    with pytest.raises(ValueError, match="at least 2"):
        cr.split.cold_start(data, 0.5, users=list(data.user_ids[:n_candidates]))
