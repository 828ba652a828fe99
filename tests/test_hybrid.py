import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import crossrec as cr
from contract import ModelContract, small_data
from crossrec.models.hybrid import normalize_scores


def zscore(s):
    s = np.asarray(s, np.float64)
    sd = s.std(1, keepdims=True)
    return np.where(sd > 0, (s - s.mean(1, keepdims=True)) / np.where(sd > 0, sd, 1), 0.0)


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=30), st.sampled_from(["zscore", "minmax"]))
def test_normalize_scores_property(values, method):
    s = normalize_scores(np.array([values]), method)
    assert np.all(np.isfinite(s))
    if method == "minmax":
        assert s.min() >= 0 and s.max() <= 1 + 1e-12
    elif np.ptp(values) > 1e-6:
        assert abs(s.mean()) < 1e-6


def test_constant_scores_normalise_to_zero():
    s = np.array([[3.0, 3.0, 3.0]])
    assert np.all(normalize_scores(s, "zscore") == 0) and np.all(normalize_scores(s, "minmax") == 0)


def test_blend_is_weighted_sum_of_zscores():
    data = small_data()
    a, b = cr.EASE(l2=10).fit(data), cr.MostPopular().fit(data)
    h = cr.Hybrid([(a, 0.7), (b, 0.3)]).fit(data)
    users = np.arange(6)
    expected = 0.7 * zscore(a.score_indices(users)) + 0.3 * zscore(b.score_indices(users))
    np.testing.assert_allclose(h.score_indices(users), expected, rtol=1e-5, atol=1e-5)


def test_minmax_blend():
    data = small_data()
    a, b = cr.EASE(l2=10).fit(data), cr.Baseline().fit(data)
    h = cr.Hybrid([(a, 1.0), (b, 2.0)], normalization="minmax").fit(data)
    users = np.arange(3)
    ref = lambda s: (s - s.min(1, keepdims=True)) / np.ptp(s, axis=1, keepdims=True)  # noqa: E731
    expected = ref(a.score_indices(users).astype(float)) + 2 * ref(np.asarray(b.score_indices(users), float))
    np.testing.assert_allclose(h.score_indices(users), expected, rtol=1e-5, atol=1e-5)


def test_single_model_keeps_its_ranking():
    data = small_data()
    e = cr.EASE(l2=10).fit(data)
    h = cr.Hybrid([(e, 1.0)]).fit(data)
    np.testing.assert_array_equal(h.recommend(["u0", "u4"], n=10)[0], e.recommend(["u0", "u4"], n=10)[0])


def test_unfitted_components_are_fitted_with_their_fit_params():
    data = small_data()
    F = pd.DataFrame(np.eye(data.n_items + 1)[:, :8], index=list(data.item_ids) + ["cold"])
    h = cr.Hybrid([(cr.EASE(l2=10), 1.0), (cr.ContentBased(), 1.0)]).fit(data, item_features=F)
    assert h.n_items_ == data.n_items + 1 and "cold" in set(h.item_ids_)
    # EASE does not know the cold item: its neutral value 0, so only the content score counts.
    cold = h.item_map_.lookup(["cold"])[0]
    users = np.arange(4)
    cb = h.components_[1]
    expected = zscore(cb.score_indices(users))[:, cb.item_map_.lookup(["cold"])[0]]
    np.testing.assert_allclose(h.score_indices(users)[:, cold], expected, rtol=1e-5, atol=1e-6)


def test_tune_picks_the_best_weights_on_validation():
    full = small_data(seed=2, n_users=60, per_user=15)
    rng = np.random.default_rng(0)
    mask = rng.random(full.nnz) < 0.8
    train, valid = full.subset(mask), full.subset(~mask)
    h = cr.Hybrid([(cr.EASE(l2=20), 0.5), (cr.Random(seed=1), 0.5)]).fit(train)
    h.tune(valid, metric="ndcg@10")
    t = h.tuning_
    assert np.isclose(t["weights"].sum(1), 1).all()
    best = int(np.argmax(t["score"]))
    np.testing.assert_array_equal(h.weights_, t["weights"][best])
    assert t["score"][best] >= t["score"].max() - 1e-12
    # recompute one candidate's metric independently
    users = np.flatnonzero(np.diff(valid.matrix.indptr) > 0).astype(np.int32)
    h2 = cr.Hybrid([(h.components_[0], 1.0), (h.components_[1], 0.0)]).fit(train)
    idx, _ = h2.recommend_indices(users, n=10)
    ndcg = np.nanmean(cr.metrics.ndcg_at_k(idx, valid.matrix[users], 10))
    k = int(np.flatnonzero(np.isclose(t["weights"][:, 0], 1.0))[0])
    assert t["score"][k] == pytest.approx(ndcg, abs=1e-9)


def test_bad_arguments():
    data = small_data()
    e = cr.EASE()
    with pytest.raises(ValueError, match="at least one"):
        cr.Hybrid([]).fit(data)
    with pytest.raises(ValueError, match="weight"):
        cr.Hybrid([(e, -1.0)]).fit(data)
    with pytest.raises(ValueError, match="weight must be > 0"):
        cr.Hybrid([(e, 0.0)]).fit(data)
    with pytest.raises(ValueError, match="pair"):
        cr.Hybrid([e]).fit(data)
    with pytest.raises(ValueError, match="normalization"):
        cr.Hybrid([(e, 1.0)], normalization="rank").fit(data)
    h = cr.Hybrid([(cr.MostPopular(), 1.0), (cr.EASE(), 1.0)]).fit(data)
    with pytest.raises(ValueError, match="ranking metric"):
        h.tune(data, metric="rmse")
    with pytest.raises(ValueError, match="sums to 1"):
        h.tune(data, grid=[0.3])


class TestHybrid(ModelContract):
    def make_model(self):
        return cr.Hybrid([(cr.EASE(l2=20.0), 0.6), (cr.MostPopular(), 0.4)], refit=True)
