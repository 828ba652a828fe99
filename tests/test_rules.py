"""Association rules (metrics against a direct computation and mlxtend) and the
AssociationRules recommender (scores against a plain-Python reference, model contract)."""

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

import crossrec as cr
from crossrec import _core
from contract import ModelContract
from conftest import data_path

METRICS = ["support", "confidence", "lift", "leverage", "conviction"]
COLUMNS = ["antecedent support", "consequent support", "support", "confidence", "lift", "leverage", "conviction"]


def direct_rules(baskets, min_count):
    """Every rule of every frequent itemset with its metrics, computed from the baskets."""
    sets = [frozenset(b) for b in baskets]
    n = len(sets)
    supp = lambda s: sum(s <= b for b in sets) / n  # noqa: E731
    items = sorted(set().union(*sets))
    out = {}
    for k in range(2, len(items) + 1):
        for combo in itertools.combinations(items, k):
            whole = frozenset(combo)
            if supp(whole) * n < min_count:
                continue
            for r in range(1, k):
                for ante in itertools.combinations(combo, r):
                    x = frozenset(ante)
                    y = whole - x
                    sx, sy, sxy = supp(x), supp(y), supp(whole)
                    conf = sxy / sx
                    out[(x, y)] = {
                        "antecedent support": sx,
                        "consequent support": sy,
                        "support": sxy,
                        "confidence": conf,
                        "lift": conf / sy,
                        "leverage": sxy - sx * sy,
                        "conviction": np.inf if conf >= 1 else (1 - sy) / (1 - conf),
                    }
    return out


def as_rule_dict(df):
    return {(a, c): row for a, c, row in zip(df["antecedents"], df["consequents"], df[COLUMNS].to_dict("records"))}


def assert_same_rules(got, expected):
    assert got.keys() == expected.keys()
    for key, row in got.items():
        for col in COLUMNS:
            assert row[col] == pytest.approx(expected[key][col], rel=1e-9, abs=1e-12), (key, col)


@given(
    baskets=st.lists(st.lists(st.integers(0, 6), max_size=6), min_size=1, max_size=20),
    min_count=st.integers(1, 4),
    metric=st.sampled_from(METRICS),
    threshold=st.sampled_from([-1.0, 0.0, 0.5, 1.0]),
)
def test_rules_match_direct_computation(baskets, min_count, metric, threshold):
    itemsets = cr.frequent_itemsets(baskets, min_count, n_threads=1)
    got = as_rule_dict(cr.association_rules(itemsets, metric=metric, min_threshold=threshold, n_threads=1))
    expected = {k: v for k, v in direct_rules(baskets, min_count).items() if v[metric] >= threshold}
    assert_same_rules(got, expected)


def groceries():
    return cr.datasets.groceries(data_dir=data_path("groceries", "groceries.csv").parents[1])


@pytest.mark.parametrize(
    "metric,threshold",
    [("confidence", 0.5), ("lift", 3.0), ("leverage", 0.004), ("conviction", 1.5), ("support", 0.01)],
)
def test_rules_match_mlxtend_on_groceries(metric, threshold):
    mlx = pytest.importorskip("mlxtend.frequent_patterns")
    itemsets = cr.frequent_itemsets(groceries(), 0.005)
    frame = itemsets.to_pandas()
    theirs = mlx.association_rules(frame, num_itemsets=len(frame), metric=metric, min_threshold=threshold)
    ours = cr.association_rules(itemsets, metric=metric, min_threshold=threshold)
    assert len(ours) > 20
    assert_same_rules(as_rule_dict(ours), as_rule_dict(theirs))
    # the mlxtend-style DataFrame input gives the same rules
    assert_same_rules(
        as_rule_dict(cr.association_rules(frame, metric=metric, min_threshold=threshold)), as_rule_dict(ours)
    )


def test_rules_same_on_one_and_two_threads():
    rng = np.random.default_rng(5)
    baskets = [list(rng.choice(20, size=7, replace=False)) for _ in range(500)]
    itemsets = cr.frequent_itemsets(baskets, 5)
    a = cr.association_rules(itemsets, "lift", 1.0, n_threads=1)
    b = cr.association_rules(itemsets, "lift", 1.0, n_threads=2)
    pd.testing.assert_frame_equal(a, b)


def test_no_rules():
    only_singletons = cr.frequent_itemsets([[1], [2], [1, 2]], 2)
    rules = cr.association_rules(only_singletons, min_threshold=0.0)
    assert len(rules) == 0 and rules["antecedents"].dtype == object
    assert len(cr.association_rules(cr.frequent_itemsets([[1], [2]], 2))) == 0  # no itemsets at all
    df = pd.DataFrame({"user": ["a", "b", "c"], "item": [1, 2, 1]})
    model = cr.AssociationRules(min_support=2, min_confidence=0.5).fit(cr.Interactions.from_pandas(df, "user", "item"))
    assert model.n_rules_ == 0
    ids, scores = model.recommend(["b"], n=1)  # popularity fallback only
    assert ids[0, 0] == 1 and scores[0, 0] == pytest.approx(2 / 3 - 1)


def test_rule_errors():
    itemsets = cr.frequent_itemsets([[1, 2, 3], [1, 2], [2, 3]], 1)
    with pytest.raises(ValueError, match="metric"):
        cr.association_rules(itemsets, metric="jaccard")
    with pytest.raises(ValueError, match="min_threshold"):
        cr.association_rules(itemsets, min_threshold=float("nan"))
    with pytest.raises(ValueError, match="max_rules=2"):
        cr.association_rules(itemsets, metric="support", min_threshold=0.0, max_rules=2)
    with pytest.raises(ValueError, match="itemsets"):
        cr.association_rules([[1, 2]])
    with pytest.raises(ValueError, match="support.*itemsets"):
        cr.association_rules(pd.DataFrame({"support": [0.5]}))
    # an itemset whose subsets are not listed
    partial = pd.DataFrame({"support": [0.5, 0.6], "itemsets": [frozenset({1, 2}), frozenset({1})]})
    with pytest.raises(ValueError, match="not listed"):
        cr.association_rules(partial, min_threshold=0.0)


def test_core_rules_reject_bad_itemsets():
    ok = dict(
        offsets=np.array([0, 1, 2, 4]), items=np.array([0, 1, 0, 1], np.int32), support=np.array([0.5, 0.5, 0.25])
    )
    assert len(_core.association_rules(**ok, metric="support", min_threshold=0.0)[0]) == 2
    for change, message in [
        (dict(items=np.array([0, 1, 1, 0], np.int32)), "sorted"),
        (dict(items=np.array([0, 1, 0, -1], np.int32)), "negative"),
        (dict(offsets=np.array([0, 2, 1, 4])), "decrease"),
        (dict(offsets=np.array([1, 1, 2, 4])), "offsets\\[0\\]"),
        (dict(offsets=np.array([0, 1, 2, 3])), "offsets\\[-1\\]"),
        (dict(support=np.array([0.5, np.nan, 0.25])), "support"),
        (dict(support=np.array([0.5, 1.5, 0.25])), "support"),
        (dict(support=np.array([0.5, 0.5])), "support"),
        (dict(items=np.array([0.0, 1.0, 0.0, 1.0])), "integer"),
    ]:
        with pytest.raises(ValueError, match=message):
            _core.association_rules(**{**ok, **change})
    with pytest.raises(ValueError, match="metric"):
        _core.association_rules(**ok, metric="nope")


# ---- the recommender -------------------------------------------------------------------------
def reference_scores(model, basket, aggregate):
    """Plain-Python scores: best (or summed) rule metric per item, popularity fallback."""
    rules = model.rules_to_pandas()
    scores = {}
    for ante, cons, score in zip(rules["antecedents"], rules["consequent"], rules["score"]):
        if ante <= basket:
            scores[cons] = max(scores.get(cons, -np.inf), score) if aggregate == "max" else scores.get(cons, 0) + score
    ids = model.item_ids_
    return np.array([scores.get(i, model.item_support_[j] - 1.0) for j, i in enumerate(ids)], np.float32)


@pytest.mark.parametrize(
    "metric,aggregate", [("lift", "max"), ("confidence", "sum"), ("conviction", "max"), ("support", "sum")]
)
def test_recommender_scores_match_reference(metric, aggregate):
    from contract import small_data

    data = small_data(seed=4, explicit=False)
    model = cr.AssociationRules(
        min_support=0.05, min_confidence=0.2, metric=metric, aggregate=aggregate, max_len=3
    ).fit(data)
    assert model.n_rules_ > 50
    users = data.user_ids[:8]
    got = model.score(users)
    for r, u in enumerate(users):
        basket = set(data.item_ids[data.matrix[data.user_index(u)[0]].indices])
        np.testing.assert_allclose(got[r], reference_scores(model, basket, aggregate), rtol=1e-5)


def test_recommender_rules_are_the_single_consequent_rules():
    from contract import small_data

    data = small_data(seed=6, explicit=False)
    model = cr.AssociationRules(min_support=0.1, min_confidence=0.3, metric="confidence").fit(data)
    baskets = [list(data.item_ids[data.matrix[u].indices]) for u in range(data.n_users)]
    expected = cr.association_rules(cr.frequent_itemsets(baskets, 0.1, max_len=3), "confidence", 0.3)
    expected = expected[expected["consequents"].map(len) == 1]
    got = model.rules_to_pandas()
    assert set(zip(got["antecedents"], got["consequent"])) == {
        (a, next(iter(c))) for a, c in zip(expected["antecedents"], expected["consequents"])
    }


def test_recommender_ranks_triggered_items_first_then_popularity():
    # a -> b always holds; c is the most popular item but no rule recommends it to a user with a
    baskets = {"u1": ["a", "b"], "u2": ["a", "b", "c"], "u3": ["c", "d"], "u4": ["c", "e"], "u5": ["a"]}
    df = pd.DataFrame([(u, i) for u, items in baskets.items() for i in items], columns=["user", "item"])
    data = cr.Interactions.from_pandas(df, "user", "item")
    model = cr.AssociationRules(min_support=2, min_confidence=0.6, metric="confidence", max_len=2).fit(data)
    ids, scores = model.recommend(["u5"], n=4)
    assert ids[0, 0] == "b" and scores[0, 0] == pytest.approx(2 / 3)
    assert ids[0, 1] == "c" and scores[0, 1] < 0  # fallback tier, by popularity
    assert model.n_itemsets_ >= 4


def test_recommender_errors():
    from contract import small_data

    data = small_data(explicit=False)
    for kwargs, message in [
        (dict(metric="leverage"), "metric"),
        (dict(aggregate="mean"), "aggregate"),
        (dict(min_confidence=1.5), "min_confidence"),
        (dict(max_len=0), "max_len"),
        (dict(min_support=0.0), "min_support"),
        (dict(n_threads=-1), "n_threads"),
    ]:
        with pytest.raises(ValueError, match=message):
            cr.AssociationRules(**kwargs).fit(data)
    with pytest.raises(ValueError, match="max_itemsets"):
        cr.AssociationRules(min_support=1, max_len=None, max_itemsets=100).fit(data)


def test_core_rule_scores_errors_and_threads():
    rng = np.random.default_rng(7)
    baskets = sp.random(50, 12, density=0.4, format="csr", random_state=3)
    ante = sp.random(30, 12, density=0.15, format="csr", random_state=4)
    cons = sp.random(30, 12, density=0.1, format="csr", random_state=5)
    w = rng.random(30).astype(np.float32)
    rows = np.arange(50, dtype=np.int32)
    args = lambda **kw: {
        **dict(
            basket_indptr=baskets.indptr,
            basket_indices=baskets.indices,
            n_items=12,  # noqa: E731
            rows=rows,
            antecedent_indptr=ante.indptr,
            antecedent_indices=ante.indices,
            consequent_indptr=cons.indptr,
            consequent_indices=cons.indices,
            weights=w,
        ),
        **kw,
    }
    one = _core.rule_scores(**args(n_threads=1))
    np.testing.assert_array_equal(one, _core.rule_scores(**args(n_threads=2)))
    # direct reference
    b = baskets.toarray() > 0
    a = ante.toarray() > 0
    c = cons.toarray() > 0
    fires = (b[:, None, :] | ~a[None, :, :]).all(axis=2)  # users x rules
    expect = np.where(fires[:, :, None] & c[None], w[None, :, None], -np.inf).max(axis=1)
    np.testing.assert_array_equal(one, expect.astype(np.float32))
    for change, message in [
        (dict(rows=np.array([0, 50], np.int32)), "rows"),
        (dict(weights=w[:5]), "weights"),
        (dict(weights=np.where(np.arange(30) == 3, np.nan, w)), "NaN"),
        (dict(antecedent_indices=np.full_like(ante.indices, 12)), "out of range"),
        (dict(consequent_indptr=cons.indptr[:-1]), "rule counts|indptr"),
    ]:
        with pytest.raises(ValueError, match=message):
            _core.rule_scores(**args(**change))


def test_evaluate_like_every_other_model():
    if not hasattr(cr, "evaluate"):
        pytest.skip("cr.evaluate is not on this branch yet (foundation)")
    from contract import small_data

    data = small_data(seed=8, n_users=60, explicit=False)
    train, test = cr.split.random(data, test_size=0.25, seed=0)
    models = {
        "pop": cr.MostPopular().fit(train),
        "rules": cr.AssociationRules(min_support=0.05, min_confidence=0.1).fit(train),
    }
    table = cr.evaluate(models, train, test, metrics=["ndcg@10"]).table()
    assert np.isfinite(table["ndcg@10"]).all() and len(table) == 2


class TestAssociationRules(ModelContract):
    explicit_data = False

    def make_model(self):
        return cr.AssociationRules(min_support=0.05, min_confidence=0.1, metric="lift")
