"""UserKNN / ItemKNN: Surprise's estimators, the fixed-neighbour rule, top-N and fallbacks."""

import warnings

import crossrec as cr
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from contract import ModelContract
from crossrec import _core
from crossrec.models.baseline import fit_biases
from knn_reference import full_similarity, surprise_predict


def explicit_data(seed=0, n_users=30, n_items=25, density=0.3):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(mask)
    r = rng.integers(1, 6, len(u)).astype(float)
    df = pd.DataFrame({"user": u, "item": i, "rating": r})
    # the full id space, so that held-out pairs may name users/items without training ratings
    return cr.Interactions.from_pandas(
        df, "user", "item", "rating", user_ids=np.arange(n_users + 2), item_ids=np.arange(n_items + 2)
    )


def all_pairs(data):
    uu, ii = np.meshgrid(np.arange(data.n_users), np.arange(data.n_items), indexing="ij")
    return uu.ravel().astype(np.int32), ii.ravel().astype(np.int32)


CONFIGS = [
    ("pearson", "none", 0.0),
    ("cosine_corated", "mean", 0.0),
    ("pearson_baseline", "baseline", 100.0),
    ("msd", "none", 0.0),
    ("cosine", "baseline", 3.0),
    ("adjusted_cosine", "mean", 0.0),
    ("jaccard", "none", 0.0),
]


@pytest.mark.parametrize("user_based", [True, False])
@pytest.mark.parametrize("similarity,centering,shrink", CONFIGS)
@pytest.mark.parametrize("k,min_k", [(3, 1), (40, 2)])
def test_rated_rule_matches_reference(user_based, similarity, centering, shrink, k, min_k):
    data = explicit_data(1)
    Model = cr.UserKNN if user_based else cr.ItemKNN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = Model(similarity=similarity, k=k, min_k=min_k, centering=centering, shrink=shrink, clip=False).fit(data)
    u, i = all_pairs(data)
    got = model.predict_indices(u, i)
    m = data.matrix
    mu, bu, bi = fit_biases(m, 15.0, 10.0, 10)
    X, bx, by = (m, bu, bi) if user_based else (m.T.tocsr(), bi, bu)
    sim = full_similarity(X, similarity, shrink, 1, (mu, bx, by))
    counts = np.diff(X.indptr)
    x_mean = np.array([X.data[X.indptr[r] : X.indptr[r + 1]].mean() if counts[r] else mu for r in range(X.shape[0])])
    xs, ys = (u, i) if user_based else (i, u)
    ref = [surprise_predict(X, sim, x, y, k, min_k, centering, mu, x_mean, bx, by) for x, y in zip(xs, ys)]
    np.testing.assert_allclose(got, ref, atol=2e-5)


@pytest.mark.parametrize(
    "name,user_based,Algo,centering,shrink",
    [
        ("pearson", True, "KNNBasic", "none", 0.0),
        ("cosine", False, "KNNWithMeans", "mean", 0.0),
        ("pearson_baseline", False, "KNNBaseline", "baseline", 100.0),
        ("msd", True, "KNNWithMeans", "mean", 0.0),
    ],
)
def test_matches_surprise_library(name, user_based, Algo, centering, shrink):
    surprise = pytest.importorskip("surprise")
    rng = np.random.default_rng(2)
    n = 400
    df = pd.DataFrame(
        {"user": rng.integers(0, 40, n), "item": rng.integers(0, 30, n), "rating": rng.integers(1, 6, n).astype(float)}
    ).drop_duplicates(["user", "item"])
    test_mask = rng.random(len(df)) < 0.2
    # Surprise breaks similarity ties by rating order: give it rows sorted as the id order
    train_df, test_df = df[~test_mask].sort_values(["user", "item"]), df[test_mask]
    reader = surprise.Reader(rating_scale=(1, 5))
    trainset = surprise.Dataset.load_from_df(train_df, reader).build_full_trainset()
    algo = getattr(surprise, Algo)(k=5, sim_options={"name": name, "user_based": user_based}, verbose=False)
    algo.fit(trainset)
    theirs = np.array([algo.predict(u, i).est for u, i in zip(test_df.user, test_df.item)])
    train = cr.Interactions.from_pandas(
        train_df, "user", "item", "rating", user_ids=np.arange(40), item_ids=np.arange(30)
    )
    ours_name = "cosine_corated" if name == "cosine" else name
    Model = cr.UserKNN if user_based else cr.ItemKNN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = Model(similarity=ours_name, k=5, centering=centering, shrink=shrink).fit(train)
    ours = model.predict(test_df.user.to_numpy(), test_df.item.to_numpy())
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("user_based", [True, False])
@pytest.mark.parametrize("centering", ["none", "mean", "baseline"])
def test_fixed_rule_matches_reference(user_based, centering):
    data = explicit_data(3)
    Model = cr.UserKNN if user_based else cr.ItemKNN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = Model(similarity="pearson", k=4, centering=centering, neighborhood="fixed", clip=False).fit(data)
    u, i = all_pairs(data)
    got = model.predict_indices(u, i)
    m = data.matrix
    mu, bu, bi = fit_biases(m, 15.0, 10.0, 10)
    X, bx, by = (m, bu, bi) if user_based else (m.T.tocsr(), bi, bu)
    # the fixed rule = Surprise's rule on a similarity that keeps only each row's top-k list
    nb = model.neighbors_.toarray()
    counts = np.diff(X.indptr)
    x_mean = np.array([X.data[X.indptr[r] : X.indptr[r + 1]].mean() if counts[r] else mu for r in range(X.shape[0])])
    xs, ys = (u, i) if user_based else (i, u)
    ref = [surprise_predict(X, nb, x, y, 4, 1, centering, mu, x_mean, bx, by) for x, y in zip(xs, ys)]
    np.testing.assert_allclose(got, ref, atol=2e-5)
    assert nb.shape == (X.shape[0], X.shape[0]) and np.all((nb != 0).sum(axis=1) <= 4)


def test_predictions_clipped_to_training_range():
    data = explicit_data(4)
    model = cr.ItemKNN(similarity="pearson", k=10, centering="baseline").fit(data)
    p = model.predict_indices(*all_pairs(data))
    assert p.min() >= 1.0 and p.max() <= 5.0


def test_unknown_side_falls_back():
    data = explicit_data(5)  # users 30, 31 and items 25, 26 have no training rating
    base = cr.UserKNN(similarity="pearson", centering="none").fit(data)
    mu = float(data.matrix.data.mean())
    np.testing.assert_allclose(base.predict([30, 0], [0, 26]), [mu, mu], rtol=1e-6)
    bl = cr.ItemKNN(similarity="pearson", centering="baseline").fit(data)
    _, bu, bi = fit_biases(data.matrix)
    np.testing.assert_allclose(bl.predict([3], [26]), [mu + bu[3] + bi[26]], rtol=1e-5)


@pytest.mark.parametrize("Model", [cr.UserKNN, cr.ItemKNN])
@pytest.mark.parametrize("neighborhood", ["rated", "fixed"])
def test_one_and_two_threads_identical(Model, neighborhood):
    data = explicit_data(6, 80, 60)
    u, i = all_pairs(data)
    out = []
    for t in (1, 2):
        m = Model(
            similarity="pearson_baseline",
            shrink=10.0,
            k=5,
            centering="baseline",
            neighborhood=neighborhood,
            n_threads=t,
        ).fit(data)
        out.append((m.predict_indices(u, i), m.recommend_indices(np.arange(80), n=7)))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1][0], out[1][1][0])
    np.testing.assert_array_equal(out[0][1][1], out[1][1][1])


# ---- top-N ------------------------------------------------------------------------------
@pytest.mark.parametrize("Model", [cr.UserKNN, cr.ItemKNN])
def test_recommend_matches_dense_reference(Model):
    rng = np.random.default_rng(7)
    m = sp.random(50, 40, density=0.1, format="csr", random_state=7)
    m.data = np.ones(m.nnz)
    data = cr.Interactions.from_scipy(m)
    model = Model(similarity="cosine", k=6).fit(data)
    users = rng.choice(50, 20, replace=False).astype(np.int32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        items, got = model.recommend_indices(users, n=8)
    nb = model.neighbors_.toarray()  # computed on first use
    np.testing.assert_array_equal(nb, cr.similarity.topk_similarity(m if Model is cr.UserKNN else m.T, 6).toarray())
    X = data.matrix.toarray()
    scores = nb @ X if Model is cr.UserKNN else X @ nb
    pop = X.sum(axis=0)
    for r, u in enumerate(users):
        cand = [t for t in range(40) if X[u, t] == 0]
        # score desc, then popularity desc, then index
        best = sorted(cand, key=lambda t: (-np.float32(scores[u, t]), -pop[t], t))[:8]
        assert items[r].tolist() == best
        np.testing.assert_allclose(got[r], scores[u, best], rtol=1e-5, atol=1e-6)


def test_recommend_candidates_and_no_exclusion():
    data = explicit_data(8)
    model = cr.ItemKNN(similarity="cosine", k=10).fit(data)
    cand = np.array([3, 5, 7, 11], np.int32)
    items, _ = model.recommend_indices(np.array([0, 1]), n=4, candidates=cand, exclude_seen=False)
    assert set(items.ravel()) <= set(cand.tolist()) and np.all(items >= 0)
    items, scores = model.recommend_indices(np.array([0]), n=40, candidates=cand)
    seen = set(data.matrix[0].indices.tolist())
    kept = [t for t in items[0] if t >= 0]
    assert set(kept) == set(cand.tolist()) - seen and np.all(np.isinf(scores[0][len(kept) :]))


def test_tutorial_case_users_without_neighbours():
    """No two users share an item: user-based CF has no neighbours at all."""
    data = cr.Interactions.from_arrays([1, 1, 2, 2, 3, 3], [1, 2, 3, 4, 5, 6])
    with pytest.warns(UserWarning, match="no item in common"):
        model = cr.UserKNN(similarity="cosine").fit(data)
    with pytest.warns(UserWarning, match="most popular"):
        ids, scores = model.recommend([1, 2, 3], n=2)
    assert ids.shape == (3, 2) and all(x is not None for x in ids.ravel())
    for r, u in enumerate([1, 2, 3]):
        assert not set(ids[r]) & set(data.item_ids[data.matrix[data.user_index(u)[0]].indices])
    np.testing.assert_array_equal(scores, 0.0)
    p = model.predict([1], [3])
    assert np.isfinite(p).all()
    item_model = cr.ItemKNN(similarity="cosine").fit(data)  # items 1,2 are neighbours, 1 and 3 are not
    with pytest.warns(UserWarning, match="most popular"):
        ids, _ = item_model.recommend([1], n=3)
    assert set(ids[0]) == {3, 4, 5}
    sim_ids, sims = item_model.similar_items([1], n=2)
    assert sim_ids[0, 0] == 2 and sim_ids[0, 1] is None and np.isneginf(sims[0, 1])


def test_similar_items_and_users():
    data = explicit_data(9)
    model = cr.ItemKNN(similarity="cosine", k=5).fit(data)
    ids, sims = model.similar_items([0, 1], n=3)
    full = cr.similarity.topk_similarity(data.matrix.T, k=30, kind="cosine").toarray()
    for r, it in enumerate([0, 1]):
        order = np.lexsort((np.arange(full.shape[0]), -full[it]))[:3]
        assert ids[r].tolist() == order.tolist()
        np.testing.assert_allclose(sims[r], full[it, order], rtol=1e-6)
    uids, usims = model.similar_users([0], n=4)  # computed on the fly for an ItemKNN
    ufull = cr.similarity.topk_similarity(data.matrix, k=40, kind="cosine").toarray()
    assert uids[0].tolist() == np.lexsort((np.arange(ufull.shape[0]), -ufull[0]))[:4].tolist()
    ids10, _ = model.similar_items([0], n=10)  # more than k: recomputed, not truncated
    assert (ids10[0] != None).sum() > 5  # noqa: E711 (elementwise on an object array)


def test_refit_drops_stale_neighbours():
    m = cr.ItemKNN(similarity="cosine", k=3)
    m.fit(explicit_data(10)).recommend_indices(np.array([0]), n=2)
    assert m.neighbors_ is not None
    m.fit(explicit_data(11))
    assert m.neighbors_ is None
    a = m.recommend_indices(np.array([0]), n=2)
    b = cr.ItemKNN(similarity="cosine", k=3).fit(explicit_data(11)).recommend_indices(np.array([0]), n=2)
    np.testing.assert_array_equal(a[0], b[0])


# ---- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params,match",
    [
        ({"similarity": "euclid"}, "similarity"),
        ({"k": 0}, "k must"),
        ({"shrink": -1}, "shrink"),
        ({"centering": "z"}, "centering"),
        ({"min_k": -1}, "min_k"),
        ({"neighborhood": "all"}, "neighborhood"),
        ({"min_support": 1.5}, "min_support"),
        ({"clip": "yes"}, "clip"),
        ({"n_threads": -1}, "n_threads"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        cr.UserKNN(**params).fit(explicit_data(12))


def predict_args(data):
    m = sp.csr_matrix(data.matrix)
    return [m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data.astype(np.float32), m.shape[1]]


def test_core_predict_rejects_bad_input():
    data = explicit_data(13)
    ip, ix, d, ny = predict_args(data)
    q = np.array([0, 1], np.int32)

    def call(ip=ip, ix=ix, d=d, qx=q, qy=q, centering="none", x_mean=None, **kw):
        return _core.knn_predict_rated(
            ip, ix, d, ny, None, "pearson", 0.0, 1, qx, qy, centering=centering, x_mean=x_mean, **kw
        )

    with pytest.raises(ValueError, match="qx"):
        call(qx=np.array([0, 10**6], np.int32))
    with pytest.raises(ValueError, match="qy"):
        call(qy=np.array([-1, 0], np.int32))
    with pytest.raises(ValueError, match="lengths differ"):
        call(qy=q[:1])
    bad = d.copy()
    bad[1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        call(d=bad)
    bad = ix.copy()
    bad[0] = 10**6
    with pytest.raises(ValueError, match="out of range"):
        call(ix=bad)
    with pytest.raises(ValueError, match="centering"):
        call(centering="zscore")
    with pytest.raises(ValueError, match="x_mean"):
        call(centering="mean")
    with pytest.raises(ValueError, match="x_mean"):
        call(centering="mean", x_mean=np.zeros(3))
    with pytest.raises(ValueError, match="bx"):
        call(centering="baseline")
    with pytest.raises(ValueError, match="k:"):
        call(k=0)
    with pytest.raises(ValueError, match="clip"):
        call(clip=True, lo=5.0, hi=1.0)
    with pytest.raises(ValueError, match="ratings are required"):
        _core.knn_predict_rated(ip, ix, None, ny, None, "pearson", 0.0, 1, q, q)
    with pytest.raises(ValueError, match="neighbors"):
        _core.knn_predict_fixed(ip, ix, d, ny, ip[:-5], ix, d, q, q)  # neighbours must be n_x x n_x


def test_core_recommend_rejects_bad_input():
    data = explicit_data(14)
    ip, ix, d, ny = predict_args(data)
    n_users = len(ip) - 1
    nb = cr.similarity.topk_similarity(data.matrix, k=3)
    args = dict(
        a_indptr=nb.indptr.astype(np.int64),
        a_indices=nb.indices,
        a_data=nb.data,
        a_cols=n_users,
        rows=np.array([0, 1], np.int32),
        b_indptr=ip,
        b_indices=ix,
        b_data=d,
        n_items=ny,
        tie_rank=np.arange(ny, dtype=np.int32),
        fallback_order=np.arange(ny, dtype=np.int32),
        n=3,
    )
    _core.knn_recommend(**args)
    with pytest.raises(ValueError, match="permutation"):
        _core.knn_recommend(**{**args, "fallback_order": np.zeros(ny, np.int32)})
    with pytest.raises(ValueError, match="rows"):
        _core.knn_recommend(**{**args, "rows": np.array([n_users], np.int32)})
    with pytest.raises(ValueError, match="B: expected"):
        _core.knn_recommend(**{**args, "a_cols": n_users + 1})
    with pytest.raises(ValueError, match="n:"):
        _core.knn_recommend(**{**args, "n": 0})
    with pytest.raises(ValueError, match="allowed"):
        _core.knn_recommend(**{**args, "allowed": np.ones(3, np.uint8)})


# ---- the behavioural contract -------------------------------------------------------------
class TestUserKNN(ModelContract):
    rating_model = True

    def make_model(self):
        return cr.UserKNN(similarity="pearson", k=10)


class TestItemKNNBaseline(ModelContract):
    rating_model = True

    def make_model(self):
        return cr.ItemKNN(similarity="pearson_baseline", k=10, shrink=100.0, centering="baseline")


class TestItemKNNImplicitFixed(ModelContract):
    rating_model = True
    explicit_data = False

    def make_model(self):
        return cr.ItemKNN(similarity="cosine", k=20, neighborhood="fixed")
