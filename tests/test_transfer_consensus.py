"""ConsensusCMF: ADMM consensus of two per-domain ALS, against a slow numpy reference."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crossrec as cr
from crossrec.transfer import ConsensusCMF


def make_pair(seed=0, n_both=12, n_src_only=3, n_tgt_only=3, explicit=False):
    rng = np.random.default_rng(seed)

    def frame(users, prefix, n_items):
        rows = []
        for u in users:
            for i in rng.choice(n_items, size=int(rng.integers(1, 5)), replace=False):
                rows.append((u, f"{prefix}{i}", float(rng.integers(1, 6)) if explicit else 1.0))
        return pd.DataFrame(rows, columns=["u", "i", "r"])

    both = [f"b{u}" for u in range(n_both)]
    src = frame(both + [f"s{u}" for u in range(n_src_only)], "x", 9)
    tgt = frame(both + [f"t{u}" for u in range(n_tgt_only)], "y", 8)
    value = "r" if explicit else None
    return cr.CrossDomain(
        cr.Interactions.from_pandas(src, "u", "i", value), cr.Interactions.from_pandas(tgt, "u", "i", value)
    )


def reference(pair, k, iters, reg, alpha, rho, seed):
    """Consensus ADMM written out: exact implicit ALS rows (Hu et al.) with the prior term, same init."""
    Rt = pair.target.matrix.toarray()
    Rs = pair.source.matrix.toarray()
    mats = [Rs, Rt]
    active = [R.sum(1) > 0 for R in mats]
    both = active[0] & active[1]
    rng = np.random.default_rng(seed)
    n = Rt.shape[0]
    X = [np.where(a[:, None], (rng.standard_normal((n, k)) / np.sqrt(k) * 0.1).astype(np.float32), 0.0) for a in active]
    Y = [(rng.standard_normal((R.shape[1], k)) / np.sqrt(k) * 0.1).astype(np.float32) for R in mats]
    X, Y = [x.astype(np.float64) for x in X], [y.astype(np.float64) for y in Y]
    Z = np.zeros((n, k))
    W = [np.zeros((n, k)) for _ in mats]

    def solve(R, F, prior, pw):
        out = np.empty((R.shape[0], k))
        G = F.T @ F
        for u in range(R.shape[0]):
            c = 1 + alpha * R[u]
            p = (R[u] > 0).astype(float)
            A = G + (F.T * (c - 1)) @ F + (reg + pw[u]) * np.eye(k)
            b = (F.T * c) @ p + pw[u] * prior[u]
            out[u] = np.linalg.solve(A, b)
        return out

    for _ in range(iters):
        for d in (0, 1):
            pw = np.where(both, rho, np.where(active[d], 0.0, 1.0))
            X[d] = solve(mats[d], Y[d], Z - W[d], pw)
            Y[d] = solve(mats[d].T, X[d], np.zeros((mats[d].shape[1], k)), np.zeros(mats[d].shape[1]))
        if rho > 0:
            Z[both] = 0.5 * (X[0][both] + W[0][both] + X[1][both] + W[1][both])
            for d in (0, 1):
                W[d][both] += X[d][both] - Z[both]
    rows = X[1].copy()
    cold = active[0] & ~active[1]
    rows[cold] = X[0][cold]
    return rows, Y[1], Y[0]


@pytest.mark.parametrize("rho", [0.0, 0.5, 5.0])
def test_matches_numpy_reference(rho):
    pair = make_pair(seed=1)
    m = ConsensusCMF(factors=3, iterations=4, regularization=0.5, alpha=2.0, rho=rho, solver="cholesky", seed=3).fit(
        pair
    )
    rows, Yt, Ys = reference(pair, 3, 4, 0.5, 2.0, rho, 3)
    np.testing.assert_allclose(m.user_factors_, rows, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(m.item_factors_, Yt, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(m.source_item_factors_, Ys, rtol=2e-3, atol=2e-4)


def test_rho_zero_target_ignores_the_source():
    a = make_pair(seed=2)
    other = make_pair(seed=3)  # another source, same users
    b = cr.CrossDomain(other.source, a.target)
    kw = dict(factors=4, iterations=3, rho=0.0, solver="cholesky", seed=0)
    ma, mb = ConsensusCMF(**kw).fit(a), ConsensusCMF(**kw).fit(b)
    warm = np.flatnonzero(a.target.user_counts() > 0)
    ua = ma.user_map_.lookup(a.target.user_ids[warm])
    ub = mb.user_map_.lookup(a.target.user_ids[warm])
    np.testing.assert_allclose(ma.score_indices(ua), mb.score_indices(ub), rtol=1e-5, atol=1e-6)


def test_cold_users_are_scored_from_their_source_rows():
    # users only in the source get their source rows (the reference test checks the values)
    pair = make_pair(seed=4, n_both=20, n_src_only=5)
    m = ConsensusCMF(factors=4, iterations=5, rho=5.0, seed=0).fit(pair)
    cold = [u for u in pair.source.user_ids if u.startswith("s")]
    s = m.score(cold)
    assert np.all(np.isfinite(s)) and len({tuple(np.argsort(-r)[:3]) for r in s}) > 1
    assert np.all(np.abs(m.user_factors_[m.user_map_.lookup(cold)]).sum(1) > 0)


def test_explicit_ratings_on_the_rating_scale():
    pair = make_pair(seed=5, explicit=True)
    m = ConsensusCMF(factors=3, iterations=5, rho=1.0).fit(pair)
    t = pair.target
    p = m.predict(t.user_ids[t.users], t.item_ids[t.items])
    assert np.all(np.isfinite(p)) and abs(p.mean() - t.values.mean()) < 0.5
    assert m.user_bias_.shape == (m.n_users_,)


@pytest.mark.parametrize("bad", [dict(rho=-1.0), dict(factors=0), dict(solver="lu"), dict(iterations=0)])
def test_bad_parameters(bad):
    with pytest.raises(ValueError):
        ConsensusCMF(**bad).fit(make_pair())


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 1000), rho=st.floats(0.0, 20.0), threads=st.sampled_from([1, 2]))
def test_same_seed_same_model_any_threads(seed, rho, threads):
    pair = make_pair(seed=seed % 7)
    a = ConsensusCMF(factors=3, iterations=2, rho=rho, seed=seed, n_threads=1).fit(pair)
    b = ConsensusCMF(factors=3, iterations=2, rho=rho, seed=seed, n_threads=threads).fit(pair)
    np.testing.assert_allclose(a.user_factors_, b.user_factors_, rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(a.user_factors_))
