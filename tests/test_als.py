"""ALS half-sweeps against a closed-form numpy reference, the ALS model, and fold-in."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, strategies as st

import crossrec as cr
from crossrec import _core
from crossrec import factorization as fz
from conftest import data_path
from contract import ModelContract


# ---- numpy references ---------------------------------------------------------------------
def implicit_ref(m, Y, reg, alpha, prior=None, w=None, gram=None):
    """Closed-form per-row solution of the implicit objective (float64)."""
    Y = Y.astype(np.float64)
    G = Y.T @ Y if gram is None else gram.astype(np.float64)
    f = Y.shape[1]
    out = np.zeros((m.shape[0], f))
    for u in range(m.shape[0]):
        lo, hi = m.indptr[u], m.indptr[u + 1]
        idx, r = m.indices[lo:hi], m.data[lo:hi].astype(np.float64)
        c = 1 + alpha * np.abs(r)
        p = (r > 0).astype(np.float64)
        A = G + reg * np.eye(f) + (Y[idx].T * (c - 1)) @ Y[idx]
        b = Y[idx].T @ (c * p)
        if prior is not None:
            A += w[u] * np.eye(f)
            b += w[u] * prior[u]
        out[u] = np.linalg.solve(A, b)
    return out


def explicit_ref(m, Y, reg, weights=None, weighted_lambda=True, prior=None, w=None):
    Y = Y.astype(np.float64)
    f = Y.shape[1]
    v_all = np.ones(m.nnz) if weights is None else weights.astype(np.float64)
    out = np.zeros((m.shape[0], f))
    for u in range(m.shape[0]):
        lo, hi = m.indptr[u], m.indptr[u + 1]
        idx, r, v = m.indices[lo:hi], m.data[lo:hi].astype(np.float64), v_all[lo:hi]
        lam = reg * v.sum() if weighted_lambda else reg
        A = (Y[idx].T * v) @ Y[idx] + lam * np.eye(f)
        b = Y[idx].T @ (v * r)
        if prior is not None:
            A += w[u] * np.eye(f)
            b += w[u] * prior[u]
        if hi == lo and (prior is None or w[u] == 0):
            continue  # no data, no prior: 0
        out[u] = np.linalg.solve(A, b)
    return out


def random_problem(seed=0, n_rows=30, n_cols=25, f=6, density=0.25, empty_rows=(3, 7)):
    rng = np.random.default_rng(seed)
    m = sp.random(n_rows, n_cols, density=density, format="lil", random_state=seed)
    for r in empty_rows:
        m[r, :] = 0
    m = sp.csr_matrix(m)
    m.eliminate_zeros()
    m.data = rng.integers(1, 6, m.nnz).astype(np.float32)
    Y = rng.standard_normal((n_cols, f)).astype(np.float32)
    X = (rng.standard_normal((n_rows, f)) * 0.1).astype(np.float32)
    return fz.kernel_csr(m), Y, X


# ---- implicit step ------------------------------------------------------------------------
@pytest.mark.parametrize("with_prior", [False, True])
def test_implicit_cholesky_equals_closed_form(with_prior):
    m, Y, X = random_problem()
    m.data[::7] *= -1  # negative weights: confident dislikes
    prior = w = None
    if with_prior:
        rng = np.random.default_rng(1)
        prior = rng.standard_normal(X.shape).astype(np.float32)
        w = rng.uniform(0, 2, X.shape[0]).astype(np.float32)
        w[::4] = 0
    ref = implicit_ref(m, Y, 0.3, 0.7, prior, w)
    fz.als_implicit_step(m, Y, X, 0.3, alpha=0.7, solver="cholesky", prior=prior, prior_weight=w, n_threads=1)
    np.testing.assert_allclose(X, ref, rtol=1e-4, atol=1e-5)


def test_implicit_empty_rows_are_zero_without_prior_and_closed_form_with_it():
    m, Y, X = random_problem()
    for solver in ("cg", "cholesky"):
        Xs = X.copy()
        fz.als_implicit_step(m, Y, Xs, 0.1, solver=solver)
        assert np.all(Xs[[3, 7]] == 0)
    prior = np.ones_like(X)
    w = np.full(X.shape[0], 0.5, np.float32)
    Xs = X.copy()
    fz.als_implicit_step(m, Y, Xs, 0.1, solver="cholesky", prior=prior, prior_weight=w)
    G = Y.astype(np.float64).T @ Y
    expect = np.linalg.solve(G + 0.6 * np.eye(Y.shape[1]), 0.5 * np.ones(Y.shape[1]))
    np.testing.assert_allclose(Xs[3], expect, rtol=1e-4, atol=1e-6)


def cg_ref(m, Y, X, reg, alpha, steps):
    """implicit's least_squares_cg, line by line, in float64."""
    Y = Y.astype(np.float64)
    A0 = Y.T @ Y + reg * np.eye(Y.shape[1])
    X = X.astype(np.float64).copy()
    for u in range(m.shape[0]):
        lo, hi = m.indptr[u], m.indptr[u + 1]
        if lo == hi:
            X[u] = 0
            continue
        idx, c = m.indices[lo:hi], 1 + alpha * m.data[lo:hi].astype(np.float64)
        x = X[u]
        r = -A0 @ x + Y[idx].T @ (c - (c - 1) * (Y[idx] @ x))
        p = r.copy()
        rs = r @ r
        for _ in range(steps):
            if rs < 1e-20:
                break
            Ap = A0 @ p + Y[idx].T @ ((c - 1) * (Y[idx] @ p))
            a = rs / (p @ Ap)
            x = x + a * p
            r = r - a * Ap
            rs_new = r @ r
            p = r + rs_new / rs * p
            rs = rs_new
        X[u] = x
    return X


@pytest.mark.parametrize("steps", [1, 3])
def test_cg_steps_follow_the_reference_cg(steps):
    m, Y, X = random_problem(f=8)
    ref = cg_ref(m, Y, X, 0.5, 2.0, steps)
    fz.als_implicit_step(m, Y, X, 0.5, alpha=2.0, solver="cg", cg_steps=steps, exact_short_rows=False)
    np.testing.assert_allclose(X, ref, rtol=2e-3, atol=2e-4)


def test_cg_converges_to_cholesky():
    m, Y, X = random_problem(f=10)
    exact = X.copy()
    fz.als_implicit_step(m, Y, exact, 0.2, alpha=3.0, solver="cholesky")
    first = X.copy()
    fz.als_implicit_step(m, Y, first, 0.2, alpha=3.0, solver="cg", cg_steps=3)
    for _ in range(40):  # warm-started, restarted CG: repeated calls keep improving
        fz.als_implicit_step(m, Y, X, 0.2, alpha=3.0, solver="cg", cg_steps=3)
    err_first = np.abs(first - exact).max()
    err = np.abs(X - exact).max()
    assert err < 1e-3 * max(1.0, np.abs(exact).max())
    assert err < err_first
    long = first.copy()
    fz.als_implicit_step(m, Y, long, 0.2, alpha=3.0, solver="cg", cg_steps=30)
    np.testing.assert_allclose(long, exact, atol=1e-4)


def test_prior_weight_zero_is_plain_als_and_huge_weight_gives_the_prior():
    m, Y, X = random_problem()
    prior = np.random.default_rng(5).standard_normal(X.shape).astype(np.float32)
    for solver in ("cg", "cholesky"):
        plain, zero = X.copy(), X.copy()
        fz.als_implicit_step(m, Y, plain, 0.1, solver=solver)
        fz.als_implicit_step(m, Y, zero, 0.1, solver=solver, prior=prior, prior_weight=0.0)
        np.testing.assert_array_equal(plain, zero)
        huge = X.copy()
        fz.als_implicit_step(m, Y, huge, 0.1, solver=solver, cg_steps=5, prior=prior, prior_weight=1e7)
        np.testing.assert_allclose(huge, prior, atol=1e-3)
    plain, zero, huge = X.copy(), X.copy(), X.copy()
    fz.als_explicit_step(m, Y, plain, 0.1)
    fz.als_explicit_step(m, Y, zero, 0.1, prior=prior, prior_weight=np.zeros(len(X)))
    np.testing.assert_array_equal(plain, zero)
    fz.als_explicit_step(m, Y, huge, 0.1, prior=prior, prior_weight=1e7)
    np.testing.assert_allclose(huge, prior, atol=1e-3)


def test_given_gram_replaces_yty():
    m, Y, X = random_problem()
    extra = np.diag(np.linspace(0.5, 2.0, Y.shape[1]))
    gram = (Y.astype(np.float64).T @ Y + extra).astype(np.float32)
    ref = implicit_ref(m, Y, 0.1, 1.0, gram=gram)
    fz.als_implicit_step(m, Y, X, 0.1, solver="cholesky", gram=gram)
    np.testing.assert_allclose(X, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fz.gram_matrix(Y), Y.astype(np.float64).T @ Y, rtol=1e-5, atol=1e-5)


# ---- explicit step ------------------------------------------------------------------------
@pytest.mark.parametrize("weighted_lambda", [True, False])
@pytest.mark.parametrize("with_weights", [False, True])
@pytest.mark.parametrize("with_prior", [False, True])
def test_explicit_equals_closed_form(weighted_lambda, with_weights, with_prior):
    m, Y, X = random_problem(seed=2)
    m.data -= 3.0
    rng = np.random.default_rng(3)
    weights = rng.uniform(0, 2, m.nnz).astype(np.float32) if with_weights else None
    prior = w = None
    if with_prior:
        prior = rng.standard_normal(X.shape).astype(np.float32)
        w = rng.uniform(0, 1, X.shape[0]).astype(np.float32)
    ref = explicit_ref(m, Y, 0.2, weights, weighted_lambda, prior, w)
    fz.als_explicit_step(m, Y, X, 0.2, weights=weights, weighted_lambda=weighted_lambda, prior=prior, prior_weight=w)
    np.testing.assert_allclose(X, ref, rtol=1e-4, atol=1e-5)


def test_explicit_empty_row_with_prior_is_shrunk_prior():
    m, Y, X = random_problem()
    prior = np.ones_like(X)
    fz.als_explicit_step(m, Y, X, 0.5, weighted_lambda=False, prior=prior, prior_weight=2.0)
    np.testing.assert_allclose(X[3], 2.0 / 2.5, rtol=1e-6)  # w t / (reg + w)
    fz.als_explicit_step(m, Y, X, 0.5, weighted_lambda=True, prior=prior, prior_weight=2.0)
    np.testing.assert_allclose(X[3], 1.0, rtol=1e-6)  # weighted lambda: reg_u = 0 for an empty row


def test_one_rating_and_constant_ratings():
    m = fz.kernel_csr(sp.csr_matrix(np.array([[0, 4.0, 0], [3, 3, 3]], np.float32)))
    Y = np.array([[1, 0], [0, 2], [1, 1]], np.float32)
    X = np.zeros((2, 2), np.float32)
    fz.als_explicit_step(m, Y, X, 0.1, weighted_lambda=False)
    np.testing.assert_allclose(X, explicit_ref(m, Y, 0.1, weighted_lambda=False), rtol=1e-5)


@given(st.integers(0, 10_000), st.integers(1, 12), st.floats(0.01, 5.0), st.floats(0.0, 10.0))
def test_property_cholesky_step_is_the_closed_form(seed, f, reg, alpha):
    m, Y, X = random_problem(seed=seed, n_rows=12, n_cols=9, f=f, density=0.4, empty_rows=(0,))
    ref = implicit_ref(m, Y, reg, alpha)
    fz.als_implicit_step(m, Y, X, reg, alpha=alpha, solver="cholesky")
    np.testing.assert_allclose(X, ref, rtol=2e-3, atol=2e-3 * max(1.0, np.abs(ref).max()))


@given(st.integers(0, 10_000), st.floats(0.01, 3.0))
def test_property_explicit_step_decreases_its_objective(seed, reg):
    m, Y, X = random_problem(seed=seed, n_rows=10, n_cols=8, f=3, density=0.5, empty_rows=())

    def objective(X):
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        e = m.data - np.einsum("ij,ij->i", X[rows].astype(np.float64), Y[m.indices])
        return e @ e + reg * np.diff(m.indptr) @ (X.astype(np.float64) ** 2).sum(1)

    before = objective(X)
    fz.als_explicit_step(m, Y, X, reg)
    assert objective(X) <= before + 1e-6 * max(1.0, before)


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_same_result_on_1_and_2_threads(solver):
    # big enough that the kernels really use 2 threads (small problems run on one)
    m, Y, X = random_problem(n_rows=2000, n_cols=500, f=32, density=0.05)
    a, b = X.copy(), X.copy()
    fz.als_implicit_step(m, Y, a, 0.1, solver=solver, n_threads=1)
    fz.als_implicit_step(m, Y, b, 0.1, solver=solver, n_threads=2)
    np.testing.assert_array_equal(a, b)
    a, b = X.copy(), X.copy()
    fz.als_explicit_step(m, Y, a, 0.1, n_threads=1)
    fz.als_explicit_step(m, Y, b, 0.1, n_threads=2)
    np.testing.assert_array_equal(a, b)
    big = np.random.default_rng(0).standard_normal((20000, 32)).astype(np.float32)
    np.testing.assert_array_equal(fz.gram_matrix(big, 1), fz.gram_matrix(big, 2))


def test_concurrent_calls_from_a_thread_pool_agree():
    from concurrent.futures import ThreadPoolExecutor

    m, Y, X = random_problem(n_rows=200, n_cols=100, f=8, density=0.1)

    def run(_):
        Z = X.copy()
        fz.als_implicit_step(m, Y, Z, 0.1, n_threads=1)
        return Z

    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(run, range(4)))
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)


# ---- errors -------------------------------------------------------------------------------
def core_args(m, Y, X):
    return [m.indptr.astype(np.int64), m.indices, m.data, Y, X]


def test_core_rejects_bad_input_with_value_error():
    m, Y, X = random_problem()
    ok = core_args(m, Y, X)
    assert _core.als_implicit_step(*ok, 0.1) == 0
    bad_cases = {
        "indptr": lambda a: a.__setitem__(0, np.r_[0, 5, 2, m.indptr[3:]].astype(np.int64)),
        "out of range": lambda a: a.__setitem__(1, np.where(np.arange(m.nnz) == 0, 99, m.indices).astype(np.int32)),
        r"len\(indices\)": lambda a: a.__setitem__(1, m.indices[:-1]),
        "NaN": lambda a: a.__setitem__(2, np.where(np.arange(m.nnz) == 1, np.nan, m.data).astype(np.float32)),
        "X: must be float32": lambda a: a.__setitem__(4, X.astype(np.float64)),
        "X: must be C-contiguous": lambda a: a.__setitem__(4, np.asfortranarray(X)),
        "X: expected shape": lambda a: a.__setitem__(4, X[:-1].copy()),
        "index 24 out of range": lambda a: a.__setitem__(3, Y[:-1]),
        "Y: holds a NaN": lambda a: a.__setitem__(3, np.where(np.arange(Y.size).reshape(Y.shape) == 0, np.nan, Y)),
        "integer indices": lambda a: a.__setitem__(1, m.indices.astype(np.float64)),
    }
    for match, corrupt in bad_cases.items():
        args = core_args(m, Y, X.copy())
        corrupt(args)
        with pytest.raises(ValueError, match=match):
            _core.als_implicit_step(*args, 0.1)
        if match not in ("NaN",):
            with pytest.raises(ValueError, match=match):
                _core.als_explicit_step(*args, 0.1)
    sq = np.zeros((25, 25), np.float32)
    with pytest.raises(ValueError, match="must not share memory"):
        sq_m = fz.kernel_csr(sp.random(25, 25, density=0.2, format="csr", random_state=0))
        _core.als_implicit_step(sq_m.indptr, sq_m.indices, sq_m.data, sq, sq, 0.1)
    for kw, match in [
        ({"regularization": -1.0}, "regularization"),
        ({"alpha": -1.0}, "alpha"),
        ({"solver": "lu"}, "solver"),
        ({"cg_steps": 0}, "cg_steps"),
        ({"n_threads": -1}, "n_threads"),
        ({"gram": np.eye(3, dtype=np.float32)}, "gram"),
        ({"prior": np.zeros_like(X)}, "both or neither"),
        ({"prior": np.zeros((2, 6), np.float32), "prior_weight": np.zeros(2, np.float32)}, "prior: expected"),
        ({"prior": np.zeros_like(X), "prior_weight": -np.ones(len(X), np.float32)}, "prior_weight"),
    ]:
        args = dict(regularization=0.1)
        args.update(kw)
        with pytest.raises(ValueError, match=match):
            _core.als_implicit_step(*core_args(m, Y, X.copy()), **args)
    with pytest.raises(ValueError, match="weights"):
        _core.als_explicit_step(*core_args(m, Y, X.copy()), 0.1, weights=np.ones(3, np.float32))
    with pytest.raises(ValueError, match="weights"):
        _core.als_explicit_step(*core_args(m, Y, X.copy()), 0.1, weights=-np.ones(m.nnz, np.float32))


def test_public_api_errors():
    m, Y, X = random_problem()
    with pytest.raises(ValueError, match="float32"):
        fz.als_implicit_step(m, Y, X.astype(np.float64), 0.1)
    with pytest.raises(ValueError, match="C-contiguous"):
        fz.als_explicit_step(m, Y, np.asfortranarray(X), 0.1)
    with pytest.raises(ValueError, match="solver"):
        fz.als_implicit_step(m, Y, X, 0.1, solver="qr")
    with pytest.raises(ValueError, match="prior_weight"):
        fz.als_implicit_step(m, Y, X, 0.1, prior=X.copy(), prior_weight=np.ones(3))
    with pytest.raises(ValueError, match="regularization"):
        fz.als_implicit_step(m, Y, X, float("nan"))
    with pytest.raises(cr.FitError, match="increase regularization"):
        fz.als_explicit_step(m, np.zeros_like(Y), X, 0.0, weighted_lambda=False)
    with pytest.raises(ValueError, match="factors"):
        cr.ALS(factors=0).fit(small())
    with pytest.raises(ValueError, match="user_init"):
        cr.ALS(factors=4).fit(small(), user_init=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="user_prior"):
        cr.ALS(factors=4).fit(small(), user_prior=np.zeros((2, 4)), user_prior_weight=1.0)


# ---- the model ----------------------------------------------------------------------------
def small(explicit=True):
    from contract import small_data

    return small_data(explicit=explicit)


def test_explicit_als_objective_never_increases():
    losses = []
    cr.ALS(
        factors=5, iterations=8, implicit=False, regularization=0.05, callback=lambda it, loss: losses.append(loss)
    ).fit(small())
    assert len(losses) == 8
    assert all(b <= a + 1e-6 * a for a, b in zip(losses, losses[1:]))


def test_implicit_cholesky_als_objective_never_increases_and_callback_stops():
    losses = []
    cr.ALS(factors=5, iterations=6, solver="cholesky", alpha=2.0, callback=lambda it, loss: losses.append(loss)).fit(
        small(False)
    )
    assert all(b <= a + 1e-5 * a for a, b in zip(losses, losses[1:]))
    calls = []
    cr.ALS(factors=5, iterations=6, callback=lambda it, loss: calls.append(it) or it == 1).fit(small(False))
    assert calls == [0, 1]


def test_explicit_model_predicts_mean_plus_biases_plus_dot():
    d = small()
    m = cr.ALS(factors=4, iterations=3, implicit=False).fit(d)
    u, i = d.user_index(["u0"])[0], d.item_index([d.item_ids[2]])[0]
    expect = m.global_mean_ + m.user_bias_[u] + m.item_bias_[i] + m.user_factors_[u] @ m.item_factors_[i]
    np.testing.assert_allclose(m.predict(["u0"], [d.item_ids[2]]), [expect], rtol=1e-5)
    assert abs(m.global_mean_ - d.values.mean()) < 1e-5


def test_fit_does_not_mutate_inits_and_same_on_any_thread_count():
    d = small(False)
    init = np.random.default_rng(0).standard_normal((d.n_items, 4)).astype(np.float32)
    keep = init.copy()
    a = cr.ALS(factors=4, iterations=3, n_threads=1).fit(d, item_init=init)
    b = cr.ALS(factors=4, iterations=3, n_threads=2).fit(d, item_init=init)
    np.testing.assert_array_equal(init, keep)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)


def test_fit_with_huge_user_prior_returns_the_prior():
    d = small(False)
    prior = np.random.default_rng(0).standard_normal((d.n_users, 4)).astype(np.float32)
    w = np.zeros(d.n_users)
    w[:5] = 1e7
    m = cr.ALS(factors=4, iterations=2, solver="cholesky").fit(d, user_prior=prior, user_prior_weight=w)
    np.testing.assert_allclose(m.user_factors_[:5], prior[:5], atol=1e-3)
    assert np.abs(m.user_factors_[5:] - prior[5:]).max() > 0.1
    e = cr.ALS(factors=4, iterations=2, implicit=False).fit(
        small(), item_prior=np.zeros((d.n_items, 4)), item_prior_weight=1e7
    )
    np.testing.assert_allclose(e.item_factors_, 0, atol=1e-3)


@pytest.mark.parametrize("implicit", [True, False])
def test_fold_in_equals_a_half_step_on_the_new_rows(implicit):
    d = small(not implicit)
    model = cr.ALS(factors=4, iterations=3, implicit=implicit, alpha=2.0).fit(d)
    rows = sp.csr_matrix(d.matrix[[0, 4, 9]])
    factors, bias = cr.fold_in(model, rows, return_bias=True)
    if implicit:
        ref = implicit_ref(rows, model.item_factors_, model.regularization_, 2.0)
        np.testing.assert_allclose(factors, ref, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(model.recalculate_user(rows), factors)
    else:
        Ya = np.hstack([model.item_factors_, np.ones((d.n_items, 1), np.float32)])
        r = rows.copy()
        r.data = r.data - model.global_mean_ - model.item_bias_[r.indices]
        ref = explicit_ref(r, Ya, model.regularization_)
        np.testing.assert_allclose(np.c_[factors, bias], ref, rtol=1e-4, atol=1e-5)
    items, _ = cr.fold_in(model, sp.csr_matrix(d.matrix.T[[1, 2]]), side="items", return_bias=True)
    assert items.shape == (2, 4)
    with pytest.raises(ValueError, match="columns"):
        cr.fold_in(model, sp.csr_matrix((1, 3)))


def test_als_on_movielens_beats_popularity():
    import pandas as pd

    path = data_path("movielens-100k", "u1.base")
    test_path = data_path("movielens-100k", "u1.test")
    cols = ["user", "item", "rating", "ts"]
    tr = pd.read_csv(path, sep="\t", names=cols)
    te = pd.read_csv(test_path, sep="\t", names=cols)
    tr, te = tr[tr.rating >= 4], te[te.rating >= 4]
    train = cr.Interactions.from_pandas(tr, "user", "item")
    te = te[te.user.isin(train.user_ids) & te.item.isin(train.item_ids)]
    test = cr.Interactions.from_pandas(te, "user", "item", user_ids=train.user_map, item_ids=train.item_map)
    users = np.unique(test.users)
    scores = {}
    for name, model in {"als": cr.ALS(factors=32, iterations=10, regularization=0.05), "pop": cr.MostPopular()}.items():
        rec, _ = model.fit(train).recommend_indices(users, n=10)
        scores[name] = np.nanmean(cr.metrics.ndcg_at_k(rec, test.matrix[users], 10))
    assert scores["als"] > scores["pop"] * 1.15, scores


class TestImplicitALS(ModelContract):
    explicit_data = False

    def make_model(self):
        return cr.ALS(factors=8, iterations=4, regularization=0.1)


class TestImplicitALSCholesky(ModelContract):
    explicit_data = False

    def make_model(self):
        return cr.ALS(factors=8, iterations=4, solver="cholesky", n_threads=1)


class TestExplicitALS(ModelContract):
    rating_model = True

    def make_model(self):
        return cr.ALS(factors=8, iterations=4, implicit=False, regularization=0.05)


@pytest.mark.parametrize("alpha", [0.0, 2.0])
def test_exact_short_rows_in_cg_equal_the_closed_form(alpha):
    """Short rows (Woodbury path) are solved exactly; rows with a prior or long rows use CG."""
    rng = np.random.default_rng(7)
    n_rows, n_cols, f = 400, 50, 32
    cols = np.array([rng.choice(n_cols, 2, replace=False) for _ in range(n_rows)])
    m = sp.csr_matrix(
        (rng.integers(1, 4, 2 * n_rows).astype(np.float32), cols.ravel(), np.arange(0, 2 * n_rows + 1, 2)),
        shape=(n_rows, n_cols),
    )
    m.data[::5] *= -1
    m = fz.kernel_csr(m)
    Y = rng.standard_normal((n_cols, f)).astype(np.float32)
    X = np.zeros((n_rows, f), np.float32)
    prior = np.ones((n_rows, f), np.float32)
    w = np.zeros(n_rows, np.float32)
    w[:10] = 1.0  # these rows take the CG path
    fz.als_implicit_step(m, Y, X, 0.1, alpha=alpha, cg_steps=3, prior=prior, prior_weight=w)
    ref = implicit_ref(m, Y, 0.1, alpha, prior, w)
    np.testing.assert_allclose(X[10:], ref[10:], rtol=1e-4, atol=1e-5)
    assert np.abs(X[:10] - ref[:10]).max() > 1e-6  # 3 CG steps from 0 on 32 dims: not exact
    pure = np.zeros_like(X)
    fz.als_implicit_step(m, Y, pure, 0.1, alpha=alpha, cg_steps=3, prior=prior, prior_weight=w, exact_short_rows=False)
    np.testing.assert_array_equal(pure[:10], X[:10])
    assert np.abs(pure[10:] - ref[10:]).max() > np.abs(X[10:] - ref[10:]).max()


def test_progress_bar_and_callback_run_together(capsys):
    seen = []
    cr.ALS(factors=3, iterations=2, progress=True, callback=lambda it, value: seen.append((it, value))).fit(small())
    assert [it for it, _ in seen] == [0, 1] and all(np.isfinite(v) for _, v in seen)


@pytest.mark.parametrize("implicit, value", [(True, 1.0), (False, 0.1)])
def test_default_regularization_depends_on_the_feedback_type(implicit, value):
    """regularization=None is 1.0 for implicit feedback and 0.1 for explicit ratings (0.01 gave
    explicit ALS an RMSE of 1.08 on ML-100K where 0.1 gives 0.93)."""
    d = small(not implicit)
    assert cr.ALS().regularization is None
    a = cr.ALS(factors=4, iterations=2, implicit=implicit).fit(d)
    b = cr.ALS(factors=4, iterations=2, implicit=implicit, regularization=value).fit(d)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    other = cr.ALS(factors=4, iterations=2, implicit=implicit, regularization=0.01).fit(d)
    assert not np.array_equal(a.user_factors_, other.user_factors_)


def test_kernel_csr_does_not_trust_a_stale_canonical_flag():
    # indices edited in place after scipy marked the matrix canonical: duplicates and disorder
    # that scipy's own sum_duplicates would skip (its flag says there is nothing to do)
    m = sp.csr_matrix(np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 4.0]], np.float32))
    assert m.has_canonical_format
    m.indices[:] = np.array([1, 1, 2, 1], np.int32)  # row 0: column 1 twice
    m.has_canonical_format = True
    fixed = fz.kernel_csr(m)
    expected = np.array([[0.0, 3.0, 0.0], [0.0, 4.0, 3.0]], np.float32)
    np.testing.assert_array_equal(fixed.toarray(), expected)
    assert np.all(np.diff(fixed.indices[fixed.indptr[0] : fixed.indptr[1]]) > 0)
    assert np.all(np.diff(fixed.indices[fixed.indptr[1] : fixed.indptr[2]]) > 0)
    assert fixed is not m
    # a canonical float32 matrix passes through without a copy
    assert fz.kernel_csr(fixed) is fixed
    # and the ALS step sees the summed matrix, not the stale one
    Y = np.ones((3, 2), np.float32)
    a, b = np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)
    fz.als_explicit_step(m, Y, a, 0.1)
    fz.als_explicit_step(sp.csr_matrix(expected), Y, b, 0.1)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_inplace_factors_accept_an_unpickled_float32_array():
    """A float32 array that went through pickle (as Dask ships it between processes) carries its own
    dtype object, equal to float32 but not the same object: the in-place check must accept it."""
    import pickle

    from crossrec import factorization

    rng = np.random.default_rng(0)
    R = sp.random(30, 20, density=0.3, format="csr", random_state=0, dtype=np.float32)
    Y = rng.standard_normal((20, 4)).astype(np.float32)
    X0 = rng.standard_normal((30, 4)).astype(np.float32)
    X_plain, X_pickled = X0.copy(), pickle.loads(pickle.dumps(X0))
    assert X_pickled.dtype == np.float32
    factorization.als_explicit_step(R, Y, X_plain, regularization=0.1)
    factorization.als_explicit_step(R, Y, X_pickled, regularization=0.1)
    np.testing.assert_array_equal(X_plain, X_pickled)
    assert not np.array_equal(X_plain, X0)  # the update happened in place


def _sweeps(m, X, Y, model, items_first):
    """Reference loop of implicit half-sweeps (the same C++ step, in the order given)."""
    mt = fz.kernel_csr(m.T.tocsr())
    kw = dict(alpha=model.alpha, solver=model.solver, cg_steps=model.cg_steps)
    reg = model.regularization_for(True)
    for _ in range(model.iterations):
        for side in ("items", "users") if items_first else ("users", "items"):
            if side == "users":
                fz.als_implicit_step(m, Y, X, reg, **kw)
            else:
                fz.als_implicit_step(mt, X, Y, reg, **kw)
    return X, Y


def test_start_small_is_the_default_and_wide_is_wide_rows_items_first():
    """No rows given: start="small" (default) draws N(0, 0.01^2) rows (users then items) and
    solves users first, as the implicit library; start="wide" draws N(0, 1/f) rows and solves
    items first (TransferALS's start, models.mf.als_start). Both rows given: users first whatever
    the start (bench_als relies on it to give both libraries the same start)."""
    d = small(explicit=False)
    m = fz.kernel_csr(d.matrix)
    for start, std, items_first in (("small", 0.01, False), ("wide", 1 / np.sqrt(5), True)):
        model = cr.ALS(factors=5, iterations=3, seed=7, start=start)
        fitted = cr.ALS(**model.get_params()).fit(d)
        rng = np.random.default_rng(7)
        X = (rng.standard_normal((d.n_users, 5)) * std).astype(np.float32)
        Y = (rng.standard_normal((d.n_items, 5)) * std).astype(np.float32)
        X1, Y1 = _sweeps(m, X.copy(), Y.copy(), model, items_first)
        np.testing.assert_array_equal(fitted.user_factors_, X1)
        np.testing.assert_array_equal(fitted.item_factors_, Y1)
        given = cr.ALS(**model.get_params()).fit(d, user_init=X, item_init=Y)
        X2, Y2 = _sweeps(m, X.copy(), Y.copy(), model, items_first=False)
        np.testing.assert_array_equal(given.user_factors_, X2)
        np.testing.assert_array_equal(given.item_factors_, Y2)
    assert cr.ALS().start == "small"
    with pytest.raises(ValueError, match="start"):
        cr.ALS(start="large").fit(d)
