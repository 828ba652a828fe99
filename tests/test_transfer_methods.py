"""Transfer methods (FineTune, CMF, EMCDR), their ALS core and the run() orchestration."""

import crossrec as cr
import numpy as np
import pytest
import scipy.sparse as sp
from crossrec import factorization as fz
from crossrec.transfer import CMF, EMCDR, FineTune, TransferALS
from crossrec.transfer.cmf import solve_rows
from crossrec.transfer.mapping import apply_mlp_map, fit_linear_map, fit_mlp_map

SMALL = dict(factors=8, iterations=6)


def make_pair(explicit=True, relatedness=1.0, seed=0, n_users=400):
    src, tgt = cr.datasets.synthetic_pair(
        n_users=n_users,
        n_items_source=150,
        n_items_target=120,
        shared_factors=4,
        relatedness=relatedness,
        density=0.08,
        explicit=explicit,
        noise=0.3,
        seed=seed,
    )
    return cr.CrossDomain(src, tgt)


@pytest.fixture(scope="module")
def explicit_split():
    return make_pair(True).cold_start_split(fraction=0.5, test_size=0.2, seed=0)


@pytest.fixture(scope="module")
def implicit_split():
    return make_pair(False).cold_start_split(fraction=0.5, test_size=0.2, seed=0)


def cold_rmse(model, split):
    te = split.test
    cold = np.isin(te.users, split.cold_users)
    return cr.metrics.rmse(te.values[cold], model.predict_indices(te.users[cold], te.items[cold]))


def cold_ndcg(model, split):
    rel = split.test.matrix
    users = split.cold_users[np.diff(rel.indptr)[split.cold_users] > 0]
    idx, _ = model.recommend_indices(users, n=10)
    return float(np.nanmean(cr.metrics.ndcg_at_k(idx, rel[users], 10)))


# ---- the row solver and the ALS core ------------------------------------------------------------
def test_solve_rows_matches_dense_reference(rng):
    W = sp.random(30, 20, density=0.2, format="csr", random_state=1)
    V = W.copy()
    V.data = rng.normal(size=V.nnz)
    Y = rng.normal(size=(20, 5)).astype(np.float32)
    gram = Y.T.astype(np.float64) @ Y
    prior = rng.normal(size=(30, 5))
    pw = rng.uniform(0, 2, 30)
    X = solve_rows(W, V, Y, 0.5, gram=gram, prior=prior, prior_weight=pw)
    Wd, Vd = W.toarray(), V.toarray()
    for u in range(30):
        A = gram + (Y.T * Wd[u]) @ Y + (0.5 + pw[u]) * np.eye(5)
        b = Vd[u] @ Y + pw[u] * prior[u]
        np.testing.assert_allclose(X[u], np.linalg.solve(A, b), rtol=1e-4, atol=1e-5)


def test_solve_rows_agrees_with_cpp_implicit_step(rng):
    R = sp.random(40, 25, density=0.15, format="csr", random_state=2, dtype=np.float32)
    R.data[:] = rng.integers(1, 4, R.nnz)
    Y = rng.normal(size=(25, 4)).astype(np.float32)
    alpha, reg = 3.0, 0.7
    X = np.zeros((40, 4), np.float32)
    fz.als_implicit_step(fz.kernel_csr(R), Y, X, reg, alpha, solver="cholesky")
    W = R * alpha
    V = W.copy()
    V.data += 1.0
    np.testing.assert_allclose(solve_rows(W, V, Y, reg, gram=Y.T.astype(np.float64) @ Y), X, rtol=1e-3, atol=1e-4)


def test_transfer_als_rows_without_data_sit_on_prior_and_threads_agree(explicit_split):
    tgt = explicit_split.train.target
    m = TransferALS(**SMALL)
    d = m.user_width(True)
    prior = np.random.default_rng(0).normal(size=(tgt.n_users, d)).astype(np.float32)
    a = TransferALS(**SMALL, n_threads=1).fit(tgt, user_prior=prior, user_prior_weight=1.0)
    b = TransferALS(**SMALL, n_threads=2).fit(tgt, user_prior=prior, user_prior_weight=1.0)
    np.testing.assert_allclose(a.user_rows(), b.user_rows(), rtol=1e-5, atol=1e-6)
    cold = explicit_split.cold_users
    np.testing.assert_allclose(a.user_rows()[cold], prior[cold], atol=1e-5)  # ALS-WR: no data -> prior
    with pytest.raises(ValueError, match="user_prior"):
        TransferALS(**SMALL).fit(tgt, user_prior=prior[:, :3], user_prior_weight=1.0)
    with pytest.raises(ValueError, match="user_prior_weight"):
        TransferALS(**SMALL).fit(tgt, user_prior=prior, user_prior_weight=-1.0)
    # regularization 0 is allowed (as in crossrec.ALS); these rows are then singular: a FitError
    with pytest.raises(cr.FitError, match="regularization"):
        TransferALS(regularization=0).fit(tgt)


def test_target_als_is_a_sane_rating_model(explicit_split):
    te = explicit_split.test
    warm = ~np.isin(te.users, explicit_split.cold_users)
    als = TransferALS(**SMALL).fit(explicit_split.train.target)
    base = cr.Baseline().fit(explicit_split.train.target)
    err = lambda m: cr.metrics.rmse(te.values[warm], m.predict_indices(te.users[warm], te.items[warm]))
    assert err(als) < err(base)


# ---- the methods beat the target-only baselines on cold users of a related pair -----------------
def test_methods_beat_baselines_on_cold_users_explicit(explicit_split):
    tr = explicit_split.train
    base = min(
        cold_rmse(cr.Baseline().fit(tr.target), explicit_split),
        cold_rmse(TransferALS(**SMALL).fit(tr.target), explicit_split),
        cold_rmse(cr.transfer.NoTransfer(TransferALS(**SMALL)).fit(tr.target), explicit_split),
    )
    src = TransferALS(**SMALL).fit(tr.source)
    models = {
        "finetune": FineTune(TransferALS(**SMALL), source_model=src, pull=1.0),
        "cmf": CMF(**SMALL, weights=(1.0, 1.0)),
        "emcdr": EMCDR(src, TransferALS(**SMALL), l2=1.0),
        "emcdr-stats": EMCDR(src, TransferALS(**SMALL), l2=1.0, user_stats=True),
        "emcdr-mlp": EMCDR(src, TransferALS(**SMALL), mapping="mlp", hidden=16, epochs=150),
    }
    for name, m in models.items():
        assert m.fit(tr) is m
        assert cold_rmse(m, explicit_split) < 0.97 * base, name


def test_methods_beat_popularity_on_cold_users_implicit(implicit_split):
    tr = implicit_split.train
    pop = cold_ndcg(cr.MostPopular().fit(tr.target), implicit_split)
    als = dict(SMALL, regularization=1.0, alpha=10.0)
    src = TransferALS(**als).fit(tr.source)
    models = {
        "finetune": FineTune(TransferALS(**als), source_model=src, pull=1.0),
        "cmf": CMF(**als, weights=(1.0, 1.0)),
        "cmf-weighted": CMF(**als, weights=(0.5, 1.0)),
        "emcdr": EMCDR(src, TransferALS(**als)),
    }
    for name, m in models.items():
        assert cold_ndcg(m.fit(tr), implicit_split) > 1.5 * pop, name


def test_no_transfer_baseline_gives_cold_users_the_average_user(explicit_split, implicit_split, tmp_path):
    tr = explicit_split.train
    fitted = TransferALS(**SMALL).fit(tr.target)
    before = fitted.user_factors_.copy()
    nt = cr.transfer.NoTransfer(fitted).fit(tr.target)
    np.testing.assert_array_equal(fitted.user_factors_, before)  # the caller's model is untouched
    has = tr.target.user_counts() > 0
    np.testing.assert_allclose(
        nt.model_.user_factors_[explicit_split.cold_users],
        np.broadcast_to(before[has].mean(0), (len(explicit_split.cold_users), before.shape[1])),
        rtol=1e-5,
    )
    assert cold_rmse(nt, explicit_split) < cold_rmse(fitted, explicit_split)
    imp = cr.transfer.NoTransfer(TransferALS(**SMALL)).fit(implicit_split.train)
    pop = cr.MostPopular().fit(implicit_split.train.target)
    u = implicit_split.cold_users[:5]
    np.testing.assert_array_equal(imp.recommend_indices(u, n=5)[0], pop.recommend_indices(u, n=5)[0])
    nt.save(tmp_path / "nt.crossrec")
    np.testing.assert_allclose(
        cr.load(tmp_path / "nt.crossrec").predict([0, 1], tr.target.item_ids[:2]),
        nt.predict([0, 1], tr.target.item_ids[:2]),
        rtol=1e-6,
    )


def test_unrelated_pair_gives_no_cold_gain():
    split = make_pair(True, relatedness=0.0, seed=3).cold_start_split(0.5, 0.2, seed=0)
    tr = split.train
    base = cold_rmse(cr.transfer.NoTransfer(TransferALS(**SMALL)).fit(tr.target), split)
    src = TransferALS(**SMALL).fit(tr.source)
    m = EMCDR(src, TransferALS(**SMALL), l2=10.0).fit(tr)
    assert cold_rmse(m, split) > 0.99 * base  # nothing to transfer: no real gain over the average user


def test_finetune_cold_rows_are_source_rows_and_warm_rows_follow_pull(explicit_split):
    tr = explicit_split.train
    src = TransferALS(**SMALL).fit(tr.source)
    ft = FineTune(TransferALS(**SMALL), source_model=src, pull=1.0, cold_rows="source").fit(tr)
    cold = explicit_split.cold_users
    np.testing.assert_array_equal(ft.model_.user_factors_[cold], src.user_factors_[cold])
    assert set(ft.cold_users_.tolist()) == set(cold.tolist())
    warm = explicit_split.warm_users
    warm = warm[tr.source.user_counts()[warm] > 0]
    dist = lambda m: np.linalg.norm(m.model_.user_factors_[warm] - src.user_factors_[warm])
    strong = FineTune(TransferALS(**SMALL), source_model=src, pull=100.0).fit(tr)
    assert dist(strong) < dist(ft)


def test_emcdr_linear_map_is_least_squares(rng):
    S = rng.normal(size=(50, 4))
    T = S @ rng.normal(size=(4, 3)) + 0.5
    W, b = fit_linear_map(S, T, 0.0)
    np.testing.assert_allclose(S @ W + b, T, atol=1e-8)
    p = fit_mlp_map(S, T, hidden=8, l2=0.0, epochs=50, seed=0)
    np.testing.assert_allclose(apply_mlp_map(p, S), T, atol=1e-2)  # starts from the ridge fit
    q = fit_mlp_map(S, T, hidden=8, l2=0.0, epochs=50, seed=0)
    np.testing.assert_array_equal(apply_mlp_map(p, S), apply_mlp_map(q, S))


def test_emcdr_keeps_warm_rows_of_target_model(explicit_split):
    tr = explicit_split.train
    tgt = TransferALS(**SMALL).fit(tr.target)
    m = EMCDR(TransferALS(**SMALL), tgt).fit(tr)
    warm = explicit_split.warm_users
    np.testing.assert_array_equal(m.model_.user_factors_[warm], tgt.user_factors_[warm])
    assert m.model_ is not tgt  # the caller's model is not modified


# ---- errors, persistence ----------------------------------------------------------------------
def test_bad_arguments(explicit_split):
    tr = explicit_split.train
    with pytest.raises(ValueError, match="CrossDomain"):
        FineTune().fit(tr.target)
    with pytest.raises(ValueError, match="pull"):
        FineTune(TransferALS(**SMALL), pull=-1).fit(tr)
    with pytest.raises(ValueError, match="weights"):
        CMF(**SMALL, weights=(1.0,)).fit(tr)
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        CMF(**SMALL, weights=(1.0, 0.0)).fit(tr)
    with pytest.raises(ValueError, match="mapping"):
        EMCDR(mapping="cubic").fit(tr)
    other = TransferALS(**SMALL).fit(tr.target)  # fitted in the target's item space, wrong role
    with pytest.raises(ValueError, match="columns|id space"):
        FineTune(TransferALS(factors=4, iterations=2), source_model=other).fit(tr)
    # pairs that share items are accepted by every method (tests/test_transfer_items.py)


@pytest.mark.parametrize("kind", ["finetune", "cmf", "emcdr"])
def test_save_load_round_trip(kind, explicit_split, tmp_path):
    tr = explicit_split.train
    model = {
        "finetune": lambda: FineTune(TransferALS(**SMALL), pull=1.0),
        "cmf": lambda: CMF(**SMALL),
        "emcdr": lambda: EMCDR(TransferALS(**SMALL), TransferALS(**SMALL), mapping="mlp", epochs=20),
    }[kind]()
    model.fit(tr)
    path = tmp_path / "m.crossrec"
    model.save(path)
    loaded = cr.load(path)
    assert type(loaded) is type(model)
    users = tr.shared_map.ids[explicit_split.cold_users[:5]]
    a, b = model.recommend(users, n=5), loaded.recommend(users, n=5)
    np.testing.assert_array_equal(a[0], b[0])
    items = np.resize(tr.target.item_ids[:3], len(users))
    np.testing.assert_allclose(model.predict(users, items), loaded.predict(users, items), rtol=1e-6)


# ---- orchestration ------------------------------------------------------------------------------
def test_run_reports_gains_per_segment_and_tunes_on_validation():
    pair = make_pair(True, n_users=300)
    res = cr.transfer.run(pair, fraction=0.5, n_bootstrap=50, factors=6, iterations=4)
    table = res.table()
    assert {"cold", "warm"} <= set(table.index.get_level_values("segment"))
    assert set(res.gains.method) == {"fine-tune", "CMF", "EMCDR"}
    assert set(res.gains.segment) == {"cold", "warm"}
    assert (res.gains.low <= res.gains.estimate + 1e-12).all() and (res.gains.estimate <= res.gains.high + 1e-12).all()
    assert set(res.chosen["fine-tune"]) == {"pull"}
    assert len(res.validation) == 3 + 3 + 4  # every grid point scored on validation
    cold_best = res.gains[(res.gains.segment == "cold") & (res.gains.metric == "rmse")].value.min()
    base = min(table.loc[(b, "cold"), "rmse"] for b in ("bias", "popular", "target ALS", "target-only"))
    assert cold_best < base
    # print(res) summarises instead of dumping every user id of the split
    text = repr(res)
    assert len(text) < 600 and "cold" in text and "fine-tune" in text, text
    assert len(repr(res.split)) < 300


def test_finetune_and_emcdr_accept_crossrec_als(implicit_split):
    tr = implicit_split.train
    pop = cold_ndcg(cr.MostPopular().fit(tr.target), implicit_split)
    teacher = cr.ALS(factors=8, iterations=5, regularization=0.1).fit(tr.source)
    ft = FineTune(cr.ALS(factors=8, iterations=5, regularization=0.1), source_model=teacher, pull=0.1).fit(tr)
    em = EMCDR(teacher, cr.ALS(factors=8, iterations=5, regularization=0.1)).fit(tr)
    assert cold_ndcg(ft, implicit_split) > 1.5 * pop
    assert cold_ndcg(em, implicit_split) > 1.5 * pop
