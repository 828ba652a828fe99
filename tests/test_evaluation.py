"""crossrec.evaluate / Report: against a brute-force reference, segments, gains and their CIs."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crossrec as cr
from crossrec.evaluation import Report


def make_split(seed=0, n_users=30, n_items=25, nnz=400):
    rng = np.random.default_rng(seed)
    pairs = rng.choice(n_users * n_items, size=nnz, replace=False)
    item_pop = rng.random(n_items)
    df = pd.DataFrame(
        {
            "user": [f"u{p // n_items}" for p in pairs],
            "item": [f"i{p % n_items}" for p in pairs],
            "rating": np.clip(np.round(1 + 4 * item_pop[pairs % n_items] + rng.normal(0, 0.7, nnz)), 1, 5),
        }
    )
    data = cr.Interactions.from_pandas(df, "user", "item", "rating")
    return data, *cr.split.user_holdout(data, test_size=0.3, seed=seed)


def brute_force(model, train, test, k):
    """Per test user, from the definitions: score all items, drop train items, sort (ties by index)."""
    out = {}
    scores = model.score(train.user_ids)  # model fitted on train: same id space
    for u in np.unique(test.users):
        s = scores[u].astype(np.float64)
        seen = set(train.items[train.users == u].tolist())
        cand = [i for i in range(train.n_items) if i not in seen]
        ranked = sorted(cand, key=lambda i: (-s[i], i))[:k]
        rel = set(test.items[test.users == u].tolist())
        hits = [i in rel for i in ranked]
        dcg = sum(h / math.log2(j + 2) for j, h in enumerate(hits))
        idcg = sum(1 / math.log2(j + 2) for j in range(min(len(rel), k)))
        out[test.user_ids[u]] = {"ndcg": dcg / idcg, "recall": sum(hits) / len(rel), "top": ranked}
    return out


def test_ranking_metrics_match_brute_force():
    data, train, test = make_split()
    model = cr.Baseline().fit(train)
    rep = cr.evaluate({"bias": model}, train, test, metrics=["ndcg@5", "recall@5"])
    ref = brute_force(model, train, test, 5)
    pu = rep.per_user.set_index("user")
    assert set(pu.index) == set(ref)
    for user, r in ref.items():
        assert pu.loc[user, "ndcg@5"] == pytest.approx(r["ndcg"], abs=1e-9)
        assert pu.loc[user, "recall@5"] == pytest.approx(r["recall"], abs=1e-9)
    table = rep.table()
    assert table.loc[("bias", "all"), "ndcg@5"] == pytest.approx(np.mean([r["ndcg"] for r in ref.values()]))
    assert table.loc[("bias", "all"), "users"] == len(ref)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["ndcg", "recall", "precision", "map", "mrr", "hit"]))
def test_property_full_ranking_matches_brute_force(seed, metric):
    data, train, test = make_split(seed, n_users=12, n_items=15, nnz=90)
    model = cr.Baseline(reg_user=1.0, reg_item=1.0).fit(train)
    rep = cr.evaluate({"m": model}, train, test, metrics=[f"{metric}@4"])
    ref = brute_force(model, train, test, 4)
    pu = rep.per_user.set_index("user")[f"{metric}@4"]
    for user, r in ref.items():
        rel = set(test.items[test.users == test.user_index(user)[0]].tolist())
        want = _reference_metric(metric, r["top"], rel, 4)
        assert pu.loc[user] == pytest.approx(want, abs=1e-9)


def _reference_metric(metric, top, rel, k):
    hits = [i in rel for i in top[:k]] + [False] * (k - len(top))
    if metric == "precision":
        return sum(hits) / k
    if metric == "recall":
        return sum(hits) / len(rel)
    if metric == "hit":
        return float(any(hits))
    if metric == "mrr":
        return next((1 / (j + 1) for j, h in enumerate(hits) if h), 0.0)
    if metric == "map":
        n, ap = 0, 0.0
        for j, h in enumerate(hits):
            if h:
                n += 1
                ap += n / (j + 1)
        return ap / min(len(rel), k)
    dcg = sum(h / math.log2(j + 2) for j, h in enumerate(hits))
    return dcg / sum(1 / math.log2(j + 2) for j in range(min(len(rel), k)))


def test_rating_metrics_match_direct_computation():
    data, train, test = make_split(1)
    model = cr.Baseline().fit(train)
    rep = cr.evaluate({"bias": model}, train, test, metrics=["rmse", "mae"])
    df = test.to_pandas()
    pred = model.predict(df["user"], df["item"])
    t = rep.table()
    assert t.loc[("bias", "all"), "rmse"] == pytest.approx(cr.metrics.rmse(df["rating"], pred), rel=1e-6)
    assert t.loc[("bias", "all"), "mae"] == pytest.approx(cr.metrics.mae(df["rating"], pred), rel=1e-6)
    # per-user values are each user's own rmse; the sums add up to the totals
    pu = rep.per_user.set_index("user")
    u0 = pu.index[0]
    mask = (df["user"] == u0).to_numpy()
    assert pu.loc[u0, "rmse"] == pytest.approx(cr.metrics.rmse(df["rating"][mask], pred[mask]), rel=1e-6)
    assert pu["n_ratings"].sum() == test.nnz


def test_segments_and_coverage():
    data, train, test = make_split(2)
    model = cr.MostPopular().fit(train)
    seg = list(cr.split.test_users(test)[:7])
    rep = cr.evaluate(
        {"pop": model}, train, test, metrics=["hit@3", "coverage@3", "coverage@10"], segments={"few": seg}
    )
    t = rep.table()
    assert t.loc[("pop", "few"), "users"] == 7
    pu = rep.per_user.set_index("user")
    assert t.loc[("pop", "few"), "hit@3"] == pytest.approx(pu.loc[seg, "hit@3"].mean())
    # coverage: distinct items in the top-3 lists divided by the catalogue size
    ref = brute_force(model, train, test, 3)
    tops = {i for u in seg for i in ref[u]["top"]}
    assert t.loc[("pop", "few"), "coverage@3"] == pytest.approx(len(tops) / train.n_items)
    assert t.loc[("pop", "few"), "coverage@10"] >= t.loc[("pop", "few"), "coverage@3"]
    with pytest.raises(ValueError, match="catalogue-level"):
        rep.gain("pop", over="pop", metric="coverage@3")
    with pytest.raises(ValueError, match="reserved"):
        cr.evaluate({"pop": model}, train, test, segments={"all": seg})
    with pytest.warns(UserWarning, match="none of the test users"):
        rep = cr.evaluate({"pop": model}, train, test, metrics=["hit@3"], segments={"typo": [1, 2]})
    assert rep.table().loc[("pop", "typo"), "users"] == 0


def test_relevance_threshold():
    data, train, test = make_split(3)
    model = cr.MostPopular().fit(train)
    rep = cr.evaluate({"pop": model}, train, test, metrics=["recall@5"], relevance_threshold=4)
    high = test.subset(test.values >= 4)
    rep_high = cr.evaluate({"pop": model}, train, high, metrics=["recall@5"])
    a = rep.per_user.set_index("user")["recall@5"].dropna()
    b = rep_high.per_user.set_index("user")["recall@5"]
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index(), check_names=False)


def test_model_in_a_different_id_space_is_remapped():
    """A model fitted on a re-built copy of train (other index order) ranks the same items."""
    data, train, test = make_split(4)
    df = train.to_pandas().sample(frac=1.0, random_state=0)
    shuffled = cr.Interactions.from_pandas(
        df, "user", "item", "rating", user_ids=train.user_ids[::-1], item_ids=train.item_ids[::-1]
    )
    a = cr.evaluate({"m": cr.Baseline().fit(train)}, train, test, metrics=["ndcg@5", "rmse"])
    b = cr.evaluate({"m": cr.Baseline().fit(shuffled)}, train, test, metrics=["ndcg@5", "rmse"])
    pa, pb = a.per_user.set_index("user").sort_index(), b.per_user.set_index("user").sort_index()
    np.testing.assert_allclose(pa["ndcg@5"], pb["ndcg@5"], atol=1e-6)
    np.testing.assert_allclose(pa["rmse"], pb["rmse"], rtol=1e-5)


def test_unknown_users_and_unfitted_and_rating_less_models():
    data, train, test = make_split(5)
    known = train.subset(np.isin(train.users, np.arange(10)))
    # a model whose id space holds only 10 users
    small = cr.Interactions.from_pandas(known.to_pandas(), "user", "item", "rating", item_ids=train.item_ids)
    model = cr.MostPopular().fit(small)
    with pytest.raises(ValueError, match="does not know .* test users"):
        cr.evaluate({"small": model}, train, test)
    rep = cr.evaluate({"small": model}, train, test, unknown_users="skip")
    assert set(rep.per_user["user"]) <= set(small.user_ids)
    with pytest.raises(cr.NotFittedError, match="'raw' is not fitted"):
        cr.evaluate({"raw": cr.MostPopular()}, train, test)
    rnd = cr.EASE().fit(train)  # ranking only (cr.Random predicts ratings, like Surprise's NormalPredictor)
    with pytest.warns(UserWarning, match="does not predict ratings"):
        rep = cr.evaluate({"rand": rnd}, train, test, metrics=["rmse", "ndcg@5"])
    assert math.isnan(rep.table().loc[("rand", "all"), "rmse"])
    with pytest.raises(ValueError, match="implicit"):
        cr.evaluate({"pop": cr.MostPopular().fit(train)}, train, test.binarize(), metrics=["rmse"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"metrics": ["ndcg"]}, "unknown metric"),
        ({"metrics": ["ndcg@5", "NDCG@5"]}, "duplicates"),
        ({"metrics": ["coverage"]}, "cut-off"),
        ({"unknown_users": "drop"}, "unknown_users"),
        ({"n_bootstrap": 0}, "n_bootstrap"),
        ({"segments": ["a"]}, "segments"),
    ],
)
def test_bad_arguments(kwargs, match):
    data, train, test = make_split()
    with pytest.raises(ValueError, match=match):
        cr.evaluate({"pop": cr.MostPopular().fit(train)}, train, test, **kwargs)


def test_bad_models_argument():
    data, train, test = make_split()
    with pytest.raises(ValueError, match="non-empty dict"):
        cr.evaluate({}, train, test)
    with pytest.raises(ValueError, match="not a crossrec Recommender"):
        cr.evaluate({"x": object()}, train, test)
    with pytest.raises(ValueError, match="test must be"):
        cr.evaluate({"pop": cr.MostPopular().fit(train)}, train, test.to_pandas())


# ---- gains --------------------------------------------------------------------------------
def constructed_report(n_users, true_diff, seed, noise=1.0):
    """Two 'models' whose per-user metric differs by true_diff + N(0, noise) noise."""
    rng = np.random.default_rng(seed)
    base = rng.random(n_users)
    users = np.arange(n_users)
    rows = pd.concat(
        [
            pd.DataFrame({"model": "b", "user": users, "ndcg@10": base}),
            pd.DataFrame({"model": "a", "user": users, "ndcg@10": base + true_diff + rng.normal(0, noise, n_users)}),
        ]
    )
    return Report(rows.reset_index(drop=True), ["ndcg@10"], {"all": users}, {}, 400, seed, 0.95)


def test_gain_ci_contains_true_difference_at_about_the_stated_rate():
    covered = 0
    reps = 60
    for s in range(reps):
        g = constructed_report(150, 0.1, seed=s).gain("a", over="b")
        covered += g.low <= 0.1 <= g.high
        assert g.low <= g.estimate <= g.high
    assert covered / reps >= 0.85  # nominal 95%; percentile bootstrap, n=150


def test_gain_estimate_is_mean_paired_difference_and_is_seeded():
    rep = constructed_report(80, 0.2, seed=1, noise=0.3)
    pu = rep.per_user.pivot(index="user", columns="model", values="ndcg@10")
    g = rep.gain("a", over="b")
    assert g.estimate == pytest.approx((pu["a"] - pu["b"]).mean())
    assert g.significant and g.n_users == 80
    assert rep.gain("a", over="b") == g
    assert rep.gain("a", over="b", seed=99) != g
    assert rep.gain("a", over="b", ci=0.5).high < g.high
    self_gain = rep.gain("a", over="a")
    assert self_gain.estimate == 0 and self_gain.low == 0 and self_gain.high == 0
    assert "a - b" in str(g)


def test_rmse_gain_is_difference_of_rmses():
    data, train, test = make_split(6)
    bias, pop = cr.Baseline().fit(train), cr.MostPopular().fit(train)
    rep = cr.evaluate({"bias": bias, "pop": pop}, train, test, metrics=["rmse", "ndcg@5"], n_bootstrap=300)
    t = rep.table()
    g = rep.gain("bias", over="pop", metric="rmse")
    assert g.estimate == pytest.approx(t.loc[("bias", "all"), "rmse"] - t.loc[("pop", "all"), "rmse"])
    assert g.low <= g.estimate <= g.high and g.n_bootstrap == 300
    with pytest.raises(ValueError, match="not evaluated"):
        rep.gain("bias", over="pop", metric="mae")
    with pytest.raises(ValueError, match="unknown model"):
        rep.gain("bias", over="nobody")
    with pytest.raises(ValueError, match="unknown segment"):
        rep.gain("bias", over="pop", segment="cold")


def test_plot_returns_axes():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    data, train, test = make_split()
    rep = cr.evaluate({"pop": cr.MostPopular().fit(train), "bias": cr.Baseline().fit(train)}, train, test)
    ax = rep.plot("ndcg@10")
    assert ax.get_ylabel().startswith("ndcg@10")
    assert "ndcg@10" in repr(rep)
    # one point with whiskers per model and segment, at the table's values
    value, low, high = rep.interval("pop", "ndcg@10", "all")
    assert low <= value <= high
    assert value == pytest.approx(rep.table().loc[("pop", "all"), "ndcg@10"])


def test_cold_start_users_evaluate_end_to_end():
    data, _, _ = make_split(7)
    train, test = cr.split.cold_start_users(data, 0.3, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = cr.evaluate(
            {"pop": cr.MostPopular().fit(train), "bias": cr.Baseline().fit(train)},
            train,
            test,
            metrics=["ndcg@10", "rmse"],
            segments={"cold": cr.split.test_users(test)},
        )
    t = rep.table()
    assert t.loc[("pop", "cold"), "users"] == len(cr.split.test_users(test))
    assert np.isfinite(t.to_numpy(dtype=float)).all()


def test_segments_of_internal_indices_are_refused():
    # The README's cross-domain example once passed indices where ids belong; with integer ids
    # that silently evaluated the wrong users. Split results now say which is which.
    data, _, _ = make_split(7)
    s = cr.split.cold_start(data, 0.3, 0.2, seed=0)
    model = cr.MostPopular().fit(s.train)
    with pytest.raises(ValueError, match="internal user indices.*split.segments"):
        cr.evaluate({"pop": model}, s.train, s.test, metrics=["ndcg@10"], segments={"cold": s.cold_users})
    rep = cr.evaluate({"pop": model}, s.train, s.test, metrics=["ndcg@10"], segments=s.segments)
    assert rep.table().loc[("pop", "cold"), "users"] == len(s.cold_users)
