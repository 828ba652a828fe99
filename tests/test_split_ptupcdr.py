"""split.cold_start(protocol="ptupcdr"): the EMCDR/PTUPCDR cold-start rating protocol.

The reference is PTUPCDR's own split (easezyc/WSDM2022-PTUPCDR, preprocessing.py,
DataPreprocessingReady.split) written out in pandas with the cold users given, since their draw
(Python's random.sample) and ours (numpy) pick different users from the same distribution.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crossrec as cr


def make_pair(seed=0, n_src_only=6, n_both=30, n_tgt_only=8, per_user=5, n_items=25):
    """Source users: src-only + both; target users: both + tgt-only; 5-star ratings."""
    rng = np.random.default_rng(seed)
    src_users = [f"s{u}" for u in range(n_src_only)] + [f"b{u}" for u in range(n_both)]
    tgt_users = [f"b{u}" for u in range(n_both)] + [f"t{u}" for u in range(n_tgt_only)]

    def rows(users, prefix):
        out = []
        for u in users:
            k = int(rng.integers(1, per_user + 1))
            for i in rng.choice(n_items, size=k, replace=False):
                out.append((u, f"{prefix}{i}", float(rng.integers(1, 6))))
        return pd.DataFrame(out, columns=["uid", "iid", "y"])

    src, tgt = rows(src_users, "a"), rows(tgt_users, "c")
    pair = cr.CrossDomain(
        cr.Interactions.from_pandas(src, "uid", "iid", "y"), cr.Interactions.from_pandas(tgt, "uid", "iid", "y")
    )
    return pair, src, tgt


def frame(data):
    return pd.DataFrame(
        {"uid": data.user_ids[data.users], "iid": data.item_ids[data.items], "y": data.values.astype(float)}
    )


def ptupcdr_reference_split(src, tgt, test_users):
    """PTUPCDR's DataPreprocessingReady.split, minus the draw (test_users given) and the pos_seq column."""
    src_users = set(src.uid.unique())
    tgt_users = set(tgt.uid.unique())
    co_users = src_users & tgt_users
    assert set(test_users) <= co_users
    train_src = src
    train_tgt = tgt[tgt["uid"].isin(tgt_users - set(test_users))]
    test = tgt[tgt["uid"].isin(set(test_users))]
    return train_src, train_tgt, test, co_users


def as_set(df):
    return set(map(tuple, df[["uid", "iid", "y"]].itertuples(index=False)))


@pytest.mark.parametrize("beta", [0.2, 0.5, 0.8])
def test_ptupcdr_split_equals_their_split_given_the_same_cold_users(beta):
    pair, src, tgt = make_pair(seed=1)
    s = pair.cold_start_split(beta, seed=3, protocol="ptupcdr")
    train_src, train_tgt, test, co_users = ptupcdr_reference_split(src, tgt, set(s.cold_user_ids))
    assert len(s.cold_users) == round(beta * len(co_users))  # their round(ratio[1] * len(co_users))
    assert as_set(frame(s.train.target)) == as_set(train_tgt)
    assert as_set(frame(s.test)) == as_set(test)
    assert as_set(frame(s.train.source)) == as_set(train_src)
    assert s.test_size == 0.0 and s.protocol == "ptupcdr"


def test_ptupcdr_rounds_half_to_even_like_python_and_never_clamps():
    # 4 candidates: round(0.5 * 4) = 2; round(0.625 * 4) = round(2.5) = 2 (half to even); round(0.875 * 4) =
    # round(3.5) = 4: every candidate cold (crossrec's own protocol keeps one warm).
    pair, src, tgt = make_pair(n_both=4, n_tgt_only=3)
    for beta, expected in [(0.5, 2), (0.625, 2), (0.875, 4)]:
        s = cr.split.cold_start(pair.target, beta, seed=0, users=pair.overlap_ids, protocol="ptupcdr")
        assert len(s.cold_users) == expected
    assert len(pair.cold_start_split(0.875, 0.2, seed=0).cold_users) == 3
    with pytest.raises(ValueError, match="leaving none"):  # a pair needs an overlap to learn a transfer from
        pair.cold_start_split(0.875, seed=0, protocol="ptupcdr")


def test_ptupcdr_validation_split_keeps_the_protocol_and_never_touches_test():
    pair, _, _ = make_pair(seed=2, n_both=60)
    s = pair.cold_start_split(0.5, seed=0, protocol="ptupcdr")
    v = s.validation(seed=1)
    assert v.protocol == "ptupcdr" and v.test_size == 0.0
    assert not set(v.cold_user_ids) & set(s.cold_user_ids)
    assert as_set(frame(v.test)) <= as_set(frame(s.train.target))


def test_ptupcdr_errors():
    pair, _, _ = make_pair(n_both=3, n_tgt_only=0)
    data = pair.target
    with pytest.raises(ValueError, match="no warm holdout"):
        cr.split.cold_start(data, 0.5, test_size=0.2, protocol="ptupcdr")
    with pytest.raises(ValueError, match="protocol"):
        cr.split.cold_start(data, 0.5, protocol="emcdr")
    with pytest.raises(ValueError, match="= 0 cold"):  # round(0.1 * 3) = 0
        pair.cold_start_split(0.1, protocol="ptupcdr")
    with pytest.raises(ValueError, match="no training data"):  # round(0.9 * 3) = 3 = every target user
        cr.split.cold_start(data, 0.9, protocol="ptupcdr")


def test_ptupcdr_draw_is_uniform_over_the_overlap():
    pair, _, _ = make_pair(seed=5, n_both=20)
    n_runs, beta = 400, 0.2
    hits = np.zeros(pair.target.n_users)
    for seed in range(n_runs):
        hits[np.asarray(pair.cold_start_split(beta, seed=seed, protocol="ptupcdr").cold_users)] += 1
    overlap = np.asarray(pair.overlap)
    assert hits.sum() == hits[overlap].sum() == n_runs * round(beta * len(overlap))
    sd = np.sqrt(n_runs * beta * (1 - beta))
    assert np.all(np.abs(hits[overlap] - n_runs * beta) < 5 * sd)


def test_ptupcdr_mae_rmse_are_pooled_over_test_ratings_like_their_eval():
    # their eval_mae: L1Loss and sqrt(MSELoss) over all test rows pooled (not a mean of per-user values)
    pair, _, _ = make_pair(seed=4, n_both=40)
    s = pair.cold_start_split(0.5, seed=0, protocol="ptupcdr")
    model = cr.Baseline().fit(s.train.target)
    rep = cr.evaluate({"b": model}, s.train.target, s.test, metrics=["mae", "rmse"], n_bootstrap=10)
    test = s.test
    err = model.predict(test.user_ids[test.users], test.item_ids[test.items]) - test.values
    table = rep.table()
    assert table.loc[("b", "all"), "mae"] == pytest.approx(np.mean(np.abs(err)), rel=1e-5)
    assert table.loc[("b", "all"), "rmse"] == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-5)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_both=st.integers(2, 25),
    n_tgt_only=st.integers(0, 6),
    beta=st.sampled_from([0.2, 0.5, 0.8]),
)
def test_ptupcdr_properties(seed, n_both, n_tgt_only, beta):
    pair, src, tgt = make_pair(seed=seed, n_both=n_both, n_tgt_only=n_tgt_only)
    n_cold = round(beta * n_both)
    if n_cold == 0 or n_cold == n_both:
        with pytest.raises(ValueError):
            pair.cold_start_split(beta, seed=seed, protocol="ptupcdr")
        return
    s = pair.cold_start_split(beta, seed=seed, protocol="ptupcdr")
    cold = set(s.cold_user_ids)
    assert len(cold) == n_cold and cold <= set(pair.overlap_ids)
    train, test = frame(s.train.target), frame(s.test)
    assert as_set(train) | as_set(test) == as_set(tgt) and not as_set(train) & as_set(test)
    assert set(test.uid) == cold and not cold & set(train.uid)  # cold: all target rows in test
    assert set(train.uid) == set(tgt.uid) - cold  # no warm holdout, target-only users kept
    assert as_set(frame(s.train.source)) == as_set(src)
    again = pair.cold_start_split(beta, seed=seed, protocol="ptupcdr")
    assert set(again.cold_user_ids) == cold
