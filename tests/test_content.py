import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import example, given
from hypothesis import strategies as st

import crossrec as cr
from contract import ModelContract, small_data


def features_for(item_ids, seed=0, n_features=6, extra=()):
    rng = np.random.default_rng(seed)
    ids = list(item_ids) + list(extra)
    values = (rng.random((len(ids), n_features)) < 0.4).astype(float) * rng.integers(1, 3, (len(ids), n_features))
    return pd.DataFrame(values, index=ids, columns=[f"g{j}" for j in range(n_features)])


def plain_scores(data, F: pd.DataFrame, idf=True, center=True):
    """Obvious dense computation of the content-based scores over the model's item order."""
    item_ids = list(data.item_ids) + [i for i in F.index if i not in set(data.item_ids)]
    V = F.reindex(item_ids).fillna(0.0).to_numpy()
    if idf:
        n = len(item_ids)
        V = V * (np.log((1 + n) / (1 + (V != 0).sum(0))) + 1)
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    V = np.divide(V, norms, out=np.zeros_like(V), where=norms > 0)
    R = data.matrix.toarray()
    W = np.zeros((data.n_users, len(item_ids)))
    for u in range(data.n_users):
        rated = np.flatnonzero(R[u])
        w = R[u, rated] - (R[u, rated].mean() if center else 0.0)
        if center and np.allclose(w, 0):
            w = np.ones_like(w)
        W[u, rated] = w
    P = W @ V
    pn = np.linalg.norm(P, axis=1, keepdims=True)
    # a profile that cancels exactly (rounding noise only) is zero, not a random direction
    P = np.divide(P, pn, out=np.zeros_like(P), where=pn > 1e-9 * np.abs(W).sum(1, keepdims=True))
    return P @ V.T, item_ids


@pytest.mark.parametrize("idf,center", [(True, True), (False, True), (True, False)])
def test_scores_match_plain_computation(idf, center):
    data = small_data()
    F = features_for(data.item_ids, extra=[9001, 9002])
    m = cr.ContentBased(idf=idf, center=center).fit(data, item_features=F)
    expected, ids = plain_scores(data, F, idf, center)
    np.testing.assert_array_equal(m.item_ids_, ids)
    users = np.arange(data.n_users)
    np.testing.assert_allclose(m.score_indices(users), expected, atol=1e-5)
    # the fused top-N path ranks by the same scores
    idx, s = m.recommend_indices(users[:5], n=4)
    for r in range(5):
        np.testing.assert_allclose(s[r], expected[r][idx[r]], atol=1e-5)


@given(st.integers(0, 10_000))
@example(8044)  # centred weights that cancel exactly: the profile is 0, not rounding noise
def test_scores_property(seed):
    data = small_data(seed=seed % 7, n_users=8, n_items=15, per_user=4)
    F = features_for(data.item_ids, seed=seed, n_features=4)
    m = cr.ContentBased().fit(data, item_features=F)
    expected, _ = plain_scores(data, F)
    s = m.score_indices(np.arange(data.n_users))
    np.testing.assert_allclose(s, expected, atol=1e-5)
    assert np.all(s <= 1 + 1e-5) and np.all(s >= -1 - 1e-5)  # cosines


def test_cold_items_are_recommendable():
    data = small_data()
    F = features_for(data.item_ids, extra=["new-a", "new-b"])
    m = cr.ContentBased().fit(data, item_features=F)
    assert m.n_items_ == data.n_items + 2
    np.testing.assert_array_equal(m.item_ids_[: data.n_items], data.item_ids)  # training indices kept
    ids, scores = m.recommend(["u0", "u1"], n=2, items=["new-a", "new-b"])
    assert set(ids.ravel()) == {"new-a", "new-b"} and np.all(np.isfinite(scores[:, :2]))
    full_ids, _ = m.recommend(["u0"], n=m.n_items_ - 20)
    assert {"new-a", "new-b"} <= set(full_ids.ravel())


def test_items_without_features_score_zero():
    data = small_data()
    F = features_for(data.item_ids[:30])
    m = cr.ContentBased().fit(data, item_features=F)
    assert np.all(m.score_indices(np.arange(4))[:, 30:] == 0)


def test_constant_ratings_user_keeps_a_profile():
    df = pd.DataFrame({"user": ["a", "a", "b", "b"], "item": [1, 2, 2, 3], "rating": [4.0, 4.0, 5.0, 1.0]})
    data = cr.Interactions.from_pandas(df, "user", "item", "rating")
    F = pd.DataFrame({"x": [1.0, 0.0, 0.0], "y": [0.0, 1.0, 1.0]}, index=[1, 2, 3])
    m = cr.ContentBased(idf=False).fit(data, item_features=F)
    assert m.user_profiles_[0].nnz > 0
    # b liked item 2 (y) and disliked item 3 (y): the centred weights cancel on y
    assert m.user_profiles_[1].nnz == 0


def test_explain_terms_sum_to_the_score():
    data = small_data()
    F = features_for(data.item_ids)
    m = cr.ContentBased().fit(data, item_features=F)
    item = data.item_ids[7]
    terms = m.explain("u3", item, n=100)
    assert terms.sum() == pytest.approx(float(m.score(["u3"], [item])[0, 0]), abs=1e-5)
    top = m.explain("u3", item, n=2)
    assert len(top) <= 2 and list(top.index) == list(terms.index[: len(top)])
    assert set(top.index) <= set(F.columns)


def test_text_features_are_tfidf():
    sklearn_text = pytest.importorskip("sklearn.feature_extraction.text")
    data = small_data()
    words = ["space war", "love story", "war drama", "comedy love", "space comedy"]
    text = pd.Series([words[k % 5] for k in range(data.n_items)], index=data.item_ids)
    m = cr.ContentBased().fit(data, item_features=text)
    vec = sklearn_text.TfidfVectorizer()
    V = vec.fit_transform(text.to_numpy()).toarray()
    assert list(m.feature_names_) == list(vec.get_feature_names_out())
    np.testing.assert_allclose(m.item_profiles_.toarray(), V, atol=1e-6)
    assert len(m.explain("u0", data.item_ids[0])) >= 1


def test_high_dimensional_features_use_the_sparse_path():
    data = small_data()
    rng = np.random.default_rng(0)
    F = sp.random(data.n_items, 700, density=0.02, random_state=1, format="csr")
    F.data = rng.random(F.nnz) + 0.1
    m = cr.ContentBased().fit(data, item_features=F)
    assert m.scoring_factors(np.array([0])) is None
    dense = pd.DataFrame(F.toarray(), index=data.item_ids)
    expected, _ = plain_scores(data, dense)
    np.testing.assert_allclose(m.score_indices(np.arange(5)), expected[:5], atol=1e-5)
    ids, _ = m.recommend(["u0"], n=5)
    assert ids.shape == (1, 5)


def test_same_result_on_one_and_two_threads():
    data = small_data()
    F = features_for(data.item_ids)
    a = cr.ContentBased(n_threads=1).fit(data, item_features=F).recommend(["u0", "u9"], n=10)
    b = cr.ContentBased(n_threads=2).fit(data, item_features=F).recommend(["u0", "u9"], n=10)
    np.testing.assert_array_equal(a[0], b[0])


def test_bad_features():
    data = small_data()
    F = features_for(data.item_ids)
    with pytest.raises(ValueError, match="item_features"):
        cr.ContentBased().fit(data)
    with pytest.raises(ValueError, match="not numeric"):
        cr.ContentBased().fit(data, item_features=F.assign(name="x"))
    with pytest.raises(ValueError, match="NaN"):
        cr.ContentBased().fit(data, item_features=F.assign(g0=np.nan))
    with pytest.raises(ValueError, match="none of its item ids"):
        cr.ContentBased().fit(data, item_features=F.set_axis([str(i) for i in F.index]))
    with pytest.raises(ValueError, match="more than once"):
        cr.ContentBased().fit(data, item_features=pd.concat([F, F.iloc[:1]]))
    with pytest.raises(ValueError, match="one row per training item"):
        cr.ContentBased().fit(data, item_features=np.ones((3, 2)))
    with pytest.raises(ValueError, match="item_features must be"):
        cr.ContentBased().fit(data, item_features=[1, 2, 3])
    with pytest.raises(ValueError, match="n_threads"):
        cr.ContentBased(n_threads=-1).fit(data, item_features=F)


class _ContentWithFeatures(cr.ContentBased):
    """The contract fits with fit(data) only; this adapter supplies the features."""

    def fit(self, data, item_features=None):
        return super().fit(data, item_features=features_for(data.item_ids, extra=[99999]))


class TestContentBased(ModelContract):
    def make_model(self):
        return _ContentWithFeatures()
