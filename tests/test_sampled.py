"""cr.evaluate(protocol="sampled"): DisenCDR's and CDIMF's sampled-negative ranking, checked against
slow literal re-implementations of each peer's code, plus properties and bad options."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crossrec as cr
from crossrec.sampled import draw_disencdr_negatives


class TableScorer(cr.Recommender):
    """A model whose scores are a given (n_users, n_items) table, in train's id space."""

    def __init__(self, table=None):
        self.table = table

    def fit(self, data):
        self._start_fit(data)
        return self

    def _score_block(self, user_idx):
        return np.asarray(self.table, dtype=np.float64)[user_idx]


def make_problem(seed=0, n_users=25, n_items=60, per_user=8, extra_items=3):
    """Train with ``per_user`` items per user, test one held-out item per user (leave-one-out);
    the item id space also holds ``extra_items`` items seen by nobody in train (test-only)."""
    rng = np.random.default_rng(seed)
    train_rows, test_rows = [], []
    for u in range(n_users):
        items = rng.choice(n_items, size=per_user + 1, replace=False)
        train_rows += [(f"u{u}", f"i{i}") for i in items[:-1]]
        test_rows.append((f"u{u}", f"i{items[-1]}"))
    test_rows.append(("u0", f"i{n_items}"))  # a test item unknown to train: skipped by both peers
    users = [f"u{u}" for u in range(n_users)]
    items = [f"i{i}" for i in range(n_items + extra_items)]
    tr = pd.DataFrame(train_rows, columns=["user", "item"])
    te = pd.DataFrame(test_rows, columns=["user", "item"])
    train = cr.Interactions.from_pandas(tr, user_ids=users, item_ids=items)
    test = cr.Interactions.from_pandas(te, user_ids=users, item_ids=items)
    return train, test


def rows_of(inter):
    m = inter.matrix.tocsr()
    return [(u, int(i)) for u in range(m.shape[0]) for i in m.indices[m.indptr[u] : m.indptr[u + 1]]]


# ---- literal references ---------------------------------------------------------------------
def disencdr_reference(table, train, test, n_neg, seed, ks):
    """DisenCDR's loader + train_rec.py, in plain Python (negatives from the same sampler function,
    whose own semantics are tested separately)."""
    rng = np.random.default_rng(seed)
    train_items = {}
    for u, i in rows_of(train):
        train_items.setdefault(u, set()).add(i)
    universe = sorted({i for s in train_items.values() for i in s})
    where = {item: p for p, item in enumerate(universe)}
    out = {}
    for u, i in rows_of(test):
        if u not in train_items or i not in where:
            continue
        seen = np.array(sorted(where[x] for x in train_items[u]))
        neg = draw_disencdr_negatives(seen, len(universe), n_neg, rng)
        cand = [i] + [universe[p] for p in neg]
        pred = np.array([table[u][c] for c in cand])
        rank = int((-pred).argsort(kind="stable").argsort(kind="stable")[0])  # 0-based, as theirs
        vals = {}
        for k in ks:
            vals[f"hit@{k}"] = 1.0 if rank < k else 0.0
            vals[f"ndcg@{k}"] = 1 / np.log2(rank + 2) if rank < k else 0.0
        vals["mrr"] = 1.0 / (rank + 1)
        out[test.user_ids[u]] = vals
    return out


def cdimf_reference(table, train, test, n_neg, seed, ks):
    """CDIMF's downvote_seen_items, downvote_negative_samples (global min, row by row),
    topn_recommendations (apply_along_axis topidx) and model_evaluate (per_item), literally."""
    rng = np.random.default_rng(seed)
    universe = np.flatnonzero(np.diff(train.matrix.tocsc().indptr) > 0)
    where = {int(item): p for p, item in enumerate(universe)}
    holdout = [(u, where[i]) for u, i in rows_of(test) if i in where]
    scores = np.array([[table[u][it] for it in universe] for u, _ in holdout], dtype=np.float64)
    tm = train.matrix.tocsr()
    # downvote_seen_items
    r_idx = [r for r, (u, _) in enumerate(holdout) for _ in tm.indices[tm.indptr[u] : tm.indptr[u + 1]]]
    c_idx = [where[int(i)] for u, _ in holdout for i in tm.indices[tm.indptr[u] : tm.indptr[u + 1]]]
    scores[r_idx, c_idx] = scores.min() - 1
    # downvote_negative_samples: drop all but n_neg + 1 random items (same draws as crossrec's)
    n_items = scores.shape[1]
    for row, (_, true_item) in enumerate(holdout):
        true_score = scores[row, true_item]
        kept = rng.choice(n_items, size=n_neg + 1, replace=False)
        drop = np.setdiff1d(np.arange(n_items), kept)
        scores[row, drop] = scores.min() - 1
        scores[row, true_item] = true_score

    def topidx(a, topn):
        parted = np.argpartition(a, -topn)[-topn:]
        return parted[np.argsort(-a[parted])]

    topn = max(ks)
    recs = np.apply_along_axis(topidx, 1, scores, topn)
    out = {}
    for row, (u, true_item) in enumerate(holdout):
        hits = np.flatnonzero(recs[row] == true_item)
        rank = hits[0] + 1.0 if len(hits) else np.inf
        vals = {}
        for k in ks:
            vals[f"hit@{k}"] = 1.0 if rank <= k else 0.0
            vals[f"ndcg@{k}"] = 1 / np.log2(rank + 1) if rank <= k else 0.0
        vals[f"mrr@{topn}"] = 1.0 / rank
        out[test.user_ids[u]] = vals
    return out


def table_from(train, values):
    return {u: {i: values[u, i] for i in range(train.n_items)} for u in range(train.n_users)}


def per_user(report, model="m"):
    rows = report.per_user[report.per_user["model"] == model].set_index("user")
    return {u: rows.loc[u].drop("model").to_dict() for u in rows.index}


SCORE_KINDS = ["continuous", "ties", "constant"]


def scores_of(kind, shape, seed):
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        return rng.normal(size=shape)
    if kind == "ties":
        return rng.integers(0, 3, size=shape).astype(np.float64)
    return np.zeros(shape)


@pytest.mark.parametrize("kind", SCORE_KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_disencdr_matches_reference(kind, seed):
    train, test = make_problem(seed)
    values = scores_of(kind, (train.n_users, train.n_items), seed + 10)
    model = TableScorer(values).fit(train)
    ks = (1, 3, 10)
    metrics = [f"hit@{k}" for k in ks] + [f"ndcg@{k}" for k in ks] + ["mrr"]
    rep = cr.evaluate(
        {"m": model}, train, test, metrics, protocol="sampled", sampler="disencdr", n_negatives=20, seed=seed
    )
    ref = disencdr_reference(table_from(train, values), train, test, 20, seed, ks)
    got = per_user(rep)
    assert set(got) == set(ref) and len(ref) >= train.n_users - 5
    for u in ref:
        for m in metrics:
            assert got[u][m] == pytest.approx(ref[u][m], abs=1e-12), (u, m)


@pytest.mark.parametrize("kind", SCORE_KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_cdimf_matches_reference(kind, seed):
    train, test = make_problem(seed)
    values = scores_of(kind, (train.n_users, train.n_items), seed + 20)
    model = TableScorer(values).fit(train)
    ks = (1, 3, 10)
    metrics = [f"hr@{k}" for k in ks] + [f"ndcg@{k}" for k in ks] + ["mrr@10"]
    rep = cr.evaluate(
        {"m": model}, train, test, metrics, protocol="sampled", sampler="cdimf", n_negatives=20, seed=seed
    )
    ref = cdimf_reference(table_from(train, values), train, test, 20, seed, ks)
    got = per_user(rep)
    assert set(got) == set(ref) and len(ref) >= train.n_users - 5
    for u in ref:
        for k in ks:
            assert got[u][f"hr@{k}"] == ref[u][f"hit@{k}"], (u, k)
            assert got[u][f"ndcg@{k}"] == pytest.approx(ref[u][f"ndcg@{k}"], abs=1e-12)
        assert got[u]["mrr@10"] == pytest.approx(ref[u]["mrr@10"], abs=1e-12)


def test_disencdr_negatives_are_unseen_uniform_with_repeats():
    rng = np.random.default_rng(3)
    seen = np.array([0, 2, 5, 7])
    draws = np.concatenate([draw_disencdr_negatives(seen, 12, 999, rng) for _ in range(40)])
    assert not np.isin(draws, seen).any() and draws.min() >= 0 and draws.max() < 12
    counts = np.bincount(draws, minlength=12)[np.setdiff1d(np.arange(12), seen)]
    expected = len(draws) / 8
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))  # uniform over unseen items
    one = draw_disencdr_negatives(seen, 12, 999, rng)
    assert len(np.unique(one)) < len(one)  # with replacement, as DisenCDR's randint loop
    with pytest.raises(ValueError, match="seen every item"):
        draw_disencdr_negatives(np.arange(12), 12, 5, rng)


@pytest.mark.parametrize("sampler", ["disencdr", "cdimf"])
def test_hit_monotone_in_k_and_ndcg_below_hit(sampler):
    train, test = make_problem(5, n_users=40)
    model = TableScorer(scores_of("ties", (train.n_users, train.n_items), 7)).fit(train)
    ks = [1, 2, 5, 10, 21]
    metrics = [f"hit@{k}" for k in ks] + [f"ndcg@{k}" for k in ks] + ["mrr"]
    rep = cr.evaluate({"m": model}, train, test, metrics, protocol="sampled", sampler=sampler, n_negatives=20)
    pu = rep.per_user
    for a, b in zip(ks, ks[1:]):
        assert (pu[f"hit@{a}"] <= pu[f"hit@{b}"]).all()
    for k in ks:
        assert (pu[f"ndcg@{k}"] <= pu[f"hit@{k}"] + 1e-12).all()
    assert pu["hit@21"].eq(1.0).all()  # 21 candidates at most: the positive is always in the top 21
    assert ((pu["mrr"] > 0) & (pu["mrr"] <= 1)).all()


@pytest.mark.parametrize("sampler", ["disencdr", "cdimf"])
def test_perfect_scorer_gets_one(sampler):
    train, test = make_problem(2)
    values = np.zeros((train.n_users, train.n_items))
    tm = test.matrix.tocoo()
    values[tm.row, tm.col] = 1.0
    model = TableScorer(values).fit(train)
    rep = cr.evaluate(
        {"m": model}, train, test, ["hit@1", "ndcg@10", "mrr"], protocol="sampled", sampler=sampler, n_negatives=20
    )
    assert rep.table().loc[("m", "all"), ["hit@1", "ndcg@10", "mrr"]].tolist() == [1.0, 1.0, 1.0]


def test_constant_scorer_ties_per_peer():
    """DisenCDR's stable argsort puts the positive first among equal scores: HR@1 = 1 for a
    constant scorer. CDIMF's argpartition does not favour it: far from 1 (and equal to the
    literal reference, tested above)."""
    train, test = make_problem(4, n_users=40)
    model = TableScorer(np.zeros((train.n_users, train.n_items))).fit(train)
    kw = dict(metrics=["hit@1", "mrr"], protocol="sampled", n_negatives=20)
    dis = cr.evaluate({"m": model}, train, test, sampler="disencdr", **kw).table()
    cdi = cr.evaluate({"m": model}, train, test, sampler="cdimf", **kw).table()
    assert dis.loc[("m", "all"), "hit@1"] == 1.0
    assert cdi.loc[("m", "all"), "hit@1"] < 0.5


def test_seed_reproducible_and_gain_works():
    train, test = make_problem(6, n_users=40)
    a = TableScorer(scores_of("continuous", (train.n_users, train.n_items), 1)).fit(train)
    b = TableScorer(scores_of("continuous", (train.n_users, train.n_items), 2)).fit(train)
    kw = dict(metrics=["ndcg@10", "mrr"], protocol="sampled", sampler="disencdr", n_negatives=20)
    r1 = cr.evaluate({"a": a, "b": b}, train, test, seed=3, **kw)
    r2 = cr.evaluate({"a": a, "b": b}, train, test, seed=3, **kw)
    r3 = cr.evaluate({"a": a, "b": b}, train, test, seed=4, **kw)
    pd.testing.assert_frame_equal(r1.per_user, r2.per_user)
    assert not r1.per_user["mrr"].equals(r3.per_user["mrr"])
    g = r1.gain("a", "b", "ndcg@10", n_bootstrap=50)
    assert g.low <= g.estimate <= g.high and g.n_users == train.n_users
    assert "mrr" in repr(r1)


def test_bad_options_raise():
    train, test = make_problem(0)
    model = TableScorer(np.zeros((train.n_users, train.n_items))).fit(train)
    ev = lambda **kw: cr.evaluate({"m": model}, train, test, **kw)  # noqa: E731
    with pytest.raises(ValueError, match="protocol must be"):
        ev(protocol="loo")
    with pytest.raises(ValueError, match="needs sampler"):
        ev(protocol="sampled", metrics=["hit@10"])
    with pytest.raises(ValueError, match="needs sampler"):
        ev(protocol="sampled", sampler="random", metrics=["hit@10"])
    with pytest.raises(ValueError, match="needs protocol='sampled'"):
        ev(sampler="cdimf")
    with pytest.raises(ValueError, match="n_negatives"):
        ev(protocol="sampled", sampler="cdimf", n_negatives=0, metrics=["hit@10"])
    with pytest.raises(ValueError, match="n_negatives=500"):
        ev(protocol="sampled", sampler="disencdr", n_negatives=500, metrics=["hit@10"])
    for bad in ("recall@10", "hit@0", "ndcg", "mrr@x"):
        with pytest.raises(ValueError, match="protocol='sampled'"):
            ev(protocol="sampled", sampler="disencdr", metrics=[bad])


def test_nothing_rankable_is_a_clear_error():
    """Cold-start users have no training interaction, so DisenCDR's sampler skips every row of
    theirs: an empty report would fail far from the cause (found by bench_cdimf's cold task)."""
    train, test = make_problem(0)
    model = TableScorer(np.zeros((train.n_users, train.n_items))).fit(train)
    cold = cr.Interactions.from_pandas(
        pd.DataFrame({"user": ["u1"], "item": ["i0"]}), user_ids=train.user_ids, item_ids=train.item_ids
    )
    empty_train = cr.Interactions.from_pandas(
        pd.DataFrame({"user": ["u0"] * 3, "item": ["i1", "i2", "i3"]}), user_ids=train.user_ids, item_ids=train.item_ids
    )
    with pytest.raises(ValueError, match="no test row of model 'm' could be ranked"):
        cr.evaluate({"m": model}, empty_train, cold, ["ndcg@10"], protocol="sampled", sampler="disencdr", n_negatives=1)
