"""SGD matrix factorisation and BPR epochs: gradient checks, determinism, errors, models."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, strategies as st

import crossrec as cr
from crossrec import _core
from crossrec import factorization as fz
from contract import ModelContract, small_data


def numeric_grad(loss, theta, eps=1e-6):
    g = np.zeros_like(theta)
    for k in range(theta.size):
        d = np.zeros_like(theta)
        d.flat[k] = eps
        g.flat[k] = (loss(theta + d) - loss(theta - d)) / (2 * eps)
    return g


# ---- SGD ----------------------------------------------------------------------------------
@given(st.integers(0, 1000), st.booleans(), st.booleans())
def test_sgd_step_is_a_gradient_step_on_the_per_sample_loss(seed, with_prior, with_weight):
    rng = np.random.default_rng(seed)
    f, lr, reg, reg_b, mu = 4, 0.05, 0.1, 0.03, 3.2
    r = float(rng.integers(1, 6))
    v = float(rng.uniform(0.2, 2.0)) if with_weight else 1.0
    x, y = rng.standard_normal(f), rng.standard_normal(f)
    bu, bi = rng.standard_normal(2)
    tu, ti = rng.standard_normal(f), rng.standard_normal(f)
    wu, wi = (0.7, 1.3) if with_prior else (0.0, 0.0)

    def loss(theta):
        x_, y_, bu_, bi_ = theta[:f], theta[f : 2 * f], theta[2 * f], theta[2 * f + 1]
        e = r - (mu + bu_ + bi_ + x_ @ y_)
        return (
            0.5 * v * e * e
            + 0.5 * reg * (x_ @ x_ + y_ @ y_)
            + 0.5 * reg_b * (bu_**2 + bi_**2)
            + 0.5 * wu * np.sum((x_ - tu) ** 2)
            + 0.5 * wi * np.sum((y_ - ti) ** 2)
        )

    theta = np.r_[x, y, bu, bi]
    expect = theta - lr * numeric_grad(loss, theta)
    X, Y = x[None].astype(np.float32), y[None].astype(np.float32)
    ub, ib = np.array([bu], np.float32), np.array([bi], np.float32)
    m = sp.csr_matrix(np.array([[r]], np.float32))
    kw = {}
    if with_prior:
        kw = dict(user_prior=tu[None], user_prior_weight=wu, item_prior=ti[None], item_prior_weight=wi)
    mse = fz.sgd_epoch(m, X, Y, ub, ib, mu, lr, reg, reg_b, weights=np.array([v]) if with_weight else None, **kw)
    got = np.r_[X[0], Y[0], ub, ib]
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-5)
    e0 = r - (mu + bu + bi + x @ y)
    assert mse == pytest.approx(e0 * e0, rel=1e-4)


def ratings(seed=0, n_users=60, n_items=50, density=0.2):
    m = sp.random(n_users, n_items, density=density, format="csr", random_state=seed, dtype=np.float32)
    m.data = np.random.default_rng(seed).integers(1, 6, m.nnz).astype(np.float32)
    return fz.kernel_csr(m)


def factors(shape, seed, scale=0.1):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def test_sgd_epoch_loss_decreases_and_seed_and_epoch_select_the_stream():
    m = ratings()
    runs = []
    for seed in (1, 1, 2):
        X, Y = factors((60, 8), 0), factors((50, 8), 1)
        ub, ib = np.zeros(60, np.float32), np.zeros(50, np.float32)
        losses = [fz.sgd_epoch(m, X, Y, ub, ib, 3.0, 0.02, 0.02, epoch=e, seed=seed) for e in range(30)]
        assert losses[-1] < 0.7 * losses[0]
        runs.append(X.copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert np.abs(runs[0] - runs[2]).max() > 1e-4


def test_sgd_and_bpr_same_result_on_1_and_2_threads():
    # big enough that the epoch really runs on 2 threads (small problems use one)
    m = ratings(seed=3, n_users=2000, n_items=1000, density=0.05)
    out = []
    for threads in (1, 2):
        X, Y = factors((2000, 160), 0), factors((1000, 160), 1)
        ub, ib = np.zeros(2000, np.float32), np.zeros(1000, np.float32)
        fz.sgd_epoch(m, X, Y, ub, ib, 3.0, 0.005, 0.02, epoch=0, n_threads=threads)
        fz.sgd_epoch(m, X, Y, ub, ib, 3.0, 0.005, 0.02, epoch=1, n_threads=threads)
        fz.bpr_epoch(m, X, Y, ib, epoch=2, n_threads=threads)
        out.append((X, Y, ub, ib))
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)


def test_sgd_prior_weight_zero_is_plain():
    m = ratings()
    a = [factors((60, 5), 0), factors((50, 5), 1)]
    b = [x.copy() for x in a]
    fz.sgd_epoch(m, *a)
    fz.sgd_epoch(m, *b, user_prior=np.ones((60, 5)), user_prior_weight=0.0)
    np.testing.assert_array_equal(a[0], b[0])


def test_sgd_strong_prior_pulls_factors_to_the_prior():
    m = ratings()
    X, Y = factors((60, 5), 0), factors((50, 5), 1)
    target = np.full((60, 5), 0.5, np.float32)
    for e in range(20):
        fz.sgd_epoch(m, X, Y, learning_rate=0.01, epoch=e, user_prior=target, user_prior_weight=50.0)
    np.testing.assert_allclose(X[np.diff(m.indptr) > 0], 0.5, atol=0.05)


# ---- BPR ----------------------------------------------------------------------------------
def test_bpr_step_is_a_gradient_step_on_the_per_sample_loss():
    f, lr, reg, n_items = 3, 0.1, 0.05, 40
    m = sp.csr_matrix((np.ones(1, np.float32), np.array([7]), np.array([0, 1])), shape=(1, n_items))
    for seed in range(100):
        X, Y = factors((1, f), seed, 1.0), factors((n_items, f), seed + 1, 1.0)
        b = np.random.default_rng(seed).standard_normal(n_items).astype(np.float32)
        X0, Y0, b0 = X.copy(), Y.copy(), b.copy()
        loss, acc = fz.bpr_epoch(m, X, Y, b, lr, reg, seed=seed)
        changed = np.flatnonzero(np.any(Y != Y0, axis=1))
        if len(changed) == 2:
            break
    else:
        pytest.fail("no epoch found a negative item")
    j = int(changed[changed != 7][0])
    x, yi, yj, bi, bj = (
        X0[0].astype(np.float64),
        Y0[7].astype(np.float64),
        Y0[j].astype(np.float64),
        float(b0[7]),
        float(b0[j]),
    )

    def per_sample(theta):
        x_, yi_, yj_, bi_, bj_ = theta[:f], theta[f : 2 * f], theta[2 * f : 3 * f], theta[3 * f], theta[3 * f + 1]
        s = x_ @ (yi_ - yj_) + bi_ - bj_
        return np.log1p(np.exp(-s)) + 0.5 * reg * (x_ @ x_ + yi_ @ yi_ + yj_ @ yj_ + bi_**2 + bj_**2)

    theta = np.r_[x, yi, yj, bi, bj]
    expect = theta - lr * numeric_grad(per_sample, theta)
    got = np.r_[X[0], Y[7], Y[j], b[7], b[j]]
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-5)
    assert loss == pytest.approx(
        per_sample(theta) - 0.5 * reg * (theta[: 3 * f] @ theta[: 3 * f] + bi**2 + bj**2), rel=1e-4
    )
    assert j != 7


def test_bpr_negatives_are_never_positives_and_accuracy_improves():
    m = ratings(seed=4, n_users=80, n_items=60, density=0.3)
    X, Y, b = factors((80, 8), 0, 0.01), factors((60, 8), 1, 0.01), np.zeros(60, np.float32)
    accs = [fz.bpr_epoch(m, X, Y, b, 0.05, 0.01, epoch=e)[1] for e in range(40)]
    assert np.mean(accs[-5:]) > max(0.7, np.mean(accs[:3]) + 0.15)
    scores = X @ Y.T + b
    # each user's positives outrank the average unseen item
    dense = m.toarray() > 0
    gaps = [scores[u, dense[u]].mean() - scores[u, ~dense[u]].mean() for u in range(80) if dense[u].any()]
    assert np.mean(gaps) > 0


# ---- errors -------------------------------------------------------------------------------
def test_core_errors():
    m = ratings()
    X, Y = factors((60, 4), 0), factors((50, 4), 1)
    parts = [m.indptr.astype(np.int64), m.indices, m.data]
    bad = {
        "X: must be float32": dict(X=X.astype(np.float64)),
        "Y: must be C-contiguous": dict(Y=np.asfortranarray(np.c_[Y, Y])[:, :4]),
        "factor counts differ": dict(Y=factors((50, 3), 1)),
        "X: has": dict(X=factors((59, 4), 0)),
        "user_bias: expected length": dict(user_bias=np.zeros(3, np.float32), item_bias=np.zeros(50, np.float32)),
        "item_bias: must be float32": dict(user_bias=np.zeros(60, np.float32), item_bias=np.zeros(50)),
        "learning_rate": dict(learning_rate=0.0),
        "regularization": dict(regularization=-1.0),
        "user_prior_weight": dict(user_prior=np.zeros((60, 4), np.float32), user_prior_weight=-np.ones(60, np.float32)),
        "weights": dict(weights=np.ones(2, np.float32)),
    }
    for match, kw in bad.items():
        args = dict(X=X.copy(), Y=Y.copy())
        args.update(kw)
        with pytest.raises(ValueError, match=match):
            _core.sgd_epoch(*parts, **args)
    for match, p in {
        "indptr": [np.r_[0, 9, 3, m.indptr[3:]].astype(np.int64), m.indices, m.data],
        "out of range": [parts[0], np.full(m.nnz, 50, np.int32), m.data],
        "NaN": [parts[0], m.indices, np.full(m.nnz, np.nan, np.float32)],
    }.items():
        with pytest.raises(ValueError, match=match):
            _core.sgd_epoch(*p, X.copy(), Y.copy())
        with pytest.raises(ValueError, match=match):
            _core.bpr_epoch(*p, X.copy(), Y.copy())
    unsorted = m.indices.copy()
    lo = m.indptr[0]
    unsorted[lo], unsorted[lo + 1] = unsorted[lo + 1], unsorted[lo]
    with pytest.raises(ValueError, match="sorted"):
        _core.bpr_epoch(parts[0], unsorted, m.data, X.copy(), Y.copy())
    square = ratings(n_users=50)
    sq = np.zeros((50, 4), np.float32)
    with pytest.raises(ValueError, match="share memory"):
        _core.bpr_epoch(square.indptr, square.indices, square.data, sq, sq)


def test_public_errors():
    m = ratings()
    X, Y = factors((60, 4), 0), factors((50, 4), 1)
    with pytest.raises(ValueError, match="float32"):
        fz.sgd_epoch(m, X.astype(np.float64), Y)
    with pytest.raises(ValueError, match="learning_rate"):
        fz.bpr_epoch(m, X, Y, learning_rate=-1)
    with pytest.raises(ValueError, match="user_bias"):
        fz.sgd_epoch(m, X, Y, user_bias=np.zeros(60))
    with pytest.raises(ValueError, match="iterations"):
        cr.MF(iterations=0).fit(small_data())
    with pytest.raises(cr.FitError, match="learning_rate"):
        cr.MF(learning_rate=50.0, iterations=5).fit(small_data())


# ---- models -------------------------------------------------------------------------------
def test_mf_fold_in_is_the_exact_half_step():
    d = small_data()
    model = cr.MF(factors=4, iterations=5).fit(d)
    rows = sp.csr_matrix(d.matrix[[1, 2]])
    x, b = cr.fold_in(model, rows, return_bias=True)
    Ya = np.hstack([model.item_factors_, np.ones((d.n_items, 1), np.float32)]).astype(np.float64)
    for k in range(2):
        lo, hi = rows.indptr[k], rows.indptr[k + 1]
        idx = rows.indices[lo:hi]
        r = rows.data[lo:hi] - model.global_mean_ - model.item_bias_[idx]
        A = Ya[idx].T @ Ya[idx] + model.regularization * (hi - lo) * np.eye(5)
        np.testing.assert_allclose(np.r_[x[k], b[k]], np.linalg.solve(A, Ya[idx].T @ r), rtol=1e-4, atol=1e-5)


def test_models_do_not_depend_on_thread_count_and_callback_sees_losses():
    d = small_data()
    seen = []
    a = cr.MF(factors=6, iterations=4, n_threads=1, callback=lambda e, value: seen.append(value)).fit(d)
    b = cr.MF(factors=6, iterations=4, n_threads=2).fit(d)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    assert len(seen) == 4 and seen[-1] < seen[0]
    p = cr.BPR(factors=6, iterations=3, n_threads=1).fit(small_data(explicit=False))
    q = cr.BPR(factors=6, iterations=3, n_threads=2).fit(small_data(explicit=False))
    np.testing.assert_array_equal(p.item_factors_, q.item_factors_)


def test_mf_with_user_init_and_prior():
    d = small_data()
    init = factors((d.n_users, 4), 3)
    keep = init.copy()
    m = cr.MF(factors=4, iterations=1, learning_rate=1e-6).fit(d, user_init=init)
    np.testing.assert_array_equal(init, keep)
    np.testing.assert_allclose(m.user_factors_, init, atol=1e-4)


class TestMF(ModelContract):
    rating_model = True

    def make_model(self):
        return cr.MF(factors=8, iterations=10)


class TestMFNoBias(ModelContract):
    rating_model = True

    def make_model(self):
        return cr.MF(factors=8, iterations=5, use_bias=False)


class TestBPR(ModelContract):
    explicit_data = False

    def make_model(self):
        return cr.BPR(factors=8, iterations=10)


def test_fold_in_is_not_offered_for_bpr():
    model = cr.BPR(factors=4, iterations=2).fit(small_data(explicit=False))
    with pytest.raises(ValueError, match="does not support BPR"):
        cr.fold_in(model, sp.csr_matrix((1, model.n_items_)))
