"""PTUPCDR: the personalised bridge's forward pass and gradient against plain numpy references,
the transfer contract (explicit and implicit), the factor models it takes, seeds and bad input."""

import numpy as np
import pytest
from contract import COLD_USERS, WARM_USERS, TransferContract, small_pair

import crossrec as cr
from crossrec.transfer import EMCDR, PTUPCDR
from crossrec.transfer import personalized as P

TINY = dict(factors=4, iterations=3)


def als(explicit, n_threads=0):
    return cr.ALS(**TINY, regularization=0.1 if explicit else 1.0, implicit=not explicit, n_threads=n_threads)


class TestPTUPCDR(TransferContract):
    rating_model = True

    def make_model(self, n_threads=0):
        return PTUPCDR(als(True, n_threads), als(True, n_threads), hidden=4, epochs=20)


class TestPTUPCDRImplicit(TransferContract):
    explicit_data = False

    def make_model(self, n_threads=0):
        return PTUPCDR(als(False, n_threads), als(False, n_threads), hidden=4, epochs=20)


# ---- the network against plain numpy -------------------------------------------------------
def random_problem(seed=0, n=6, k=3, d_s=4, d_t=3, hidden=5, n_items=9):
    rng = np.random.default_rng(seed)
    E = rng.standard_normal((n_items, k))
    counts = rng.integers(0, 5, size=n)
    counts[0] = 0  # a user with an empty history
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.concatenate([rng.choice(n_items, size=c, replace=False) for c in counts]).astype(np.int64)
    S = rng.standard_normal((n, d_s))
    p = P.init_params(k, d_s, d_t, hidden, rng, rng.standard_normal((d_s, d_t)))
    p["D2"] = 0.3 * rng.standard_normal(p["D2"].shape)  # a non-zero personal part
    p["a1"], p["d1"] = 0.1 * rng.standard_normal(k), 0.1 * rng.standard_normal(hidden)
    ex_counts = rng.integers(1, 4, size=n)
    ex_ptr = np.concatenate([[0], np.cumsum(ex_counts)]).astype(np.int64)
    items = rng.integers(0, 7, size=ex_ptr[-1]).astype(np.int64)
    values = rng.standard_normal(ex_ptr[-1])
    Z, c = rng.standard_normal((7, d_t)), rng.standard_normal(7)
    return p, S, E, indptr, indices, (ex_ptr, items, values), Z, c


def reference_rows(p, S, E, indptr, indices):
    """One user at a time, as the paper writes it."""
    d_s, d_t = p["B0"].shape
    out = []
    for u in range(len(S)):
        hist = E[indices[indptr[u] : indptr[u + 1]]]
        if len(hist):
            a = np.array([np.maximum(e @ p["A1"] + p["a1"], 0) @ p["a2"] for e in hist])
            w = np.exp(a - a.max()) / np.exp(a - a.max()).sum()
            pu = (w[:, None] * hist).sum(0)
        else:
            pu = np.zeros(E.shape[1])
        h = np.maximum(pu @ p["D1"] + p["d1"], 0)
        bridge = p["B0"] + (h @ p["D2"].reshape(len(h), d_s * d_t)).reshape(d_s, d_t)
        out.append(S[u] @ bridge)
    return np.array(out)


def test_forward_matches_per_user_reference():
    p, S, E, indptr, indices, _, _, _ = random_problem()
    T, _ = P.forward(p, S, E, indptr, indices)
    np.testing.assert_allclose(T, reference_rows(p, S, E, indptr, indices), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_matches_finite_differences(seed):
    p, S, E, indptr, indices, ex, Z, c = random_problem(seed)
    l2 = 0.05
    _, g = P.loss_and_grad(p, S, E, indptr, indices, ex, Z, c, l2)
    eps = 1e-6
    for name in P.PARAMS:
        flat = p[name].reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            up = P.loss_and_grad(p, S, E, indptr, indices, ex, Z, c, l2)[0]
            flat[j] = old - eps
            down = P.loss_and_grad(p, S, E, indptr, indices, ex, Z, c, l2)[0]
            flat[j] = old
            np.testing.assert_allclose(g[name].reshape(-1)[j], (up - down) / (2 * eps), rtol=1e-4, atol=1e-6)


def test_loss_is_mean_squared_error_plus_weight_decay():
    p, S, E, indptr, indices, ex, Z, c = random_problem(3)
    ex_ptr, items, values = ex
    T = reference_rows(p, S, E, indptr, indices)
    owner = np.repeat(np.arange(len(S)), np.diff(ex_ptr))
    mse = np.mean((np.sum(T[owner] * Z[items], 1) + c[items] - values) ** 2)
    decay = sum(np.sum(p[k] ** 2) for k in ("A1", "a2", "D1", "D2"))
    got, _ = P.loss_and_grad(p, S, E, indptr, indices, ex, Z, c, 0.1)
    assert got == pytest.approx(mse + 0.1 * decay, rel=1e-10)


def test_frozen_parameters_get_no_gradient():
    p, S, E, indptr, indices, ex, Z, c = random_problem(4)
    _, g = P.loss_and_grad(p, S, E, indptr, indices, ex, Z, c, 0.0, frozen=("B0",))
    assert not g["B0"].any() and g["D2"].any()


# ---- the fitted model ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def pair():
    return small_pair()


def test_cold_users_get_personal_bridged_rows(pair):
    src, tgt = als(True).fit(pair.source), als(True).fit(pair.target)
    m = PTUPCDR(src, tgt, hidden=4, epochs=30, early_stopping=False, learning_rate=0.01).fit(pair)
    cold = m.cold_users_
    assert set(pair.target.user_ids[cold]) == {f"u{u}" for u in range(10)}
    # the served rows are the network's rows for those users
    rows_s = src.user_rows().astype(np.float64)
    from crossrec.transfer.mapping import source_stats

    S = np.hstack([rows_s, source_stats(pair.source), np.ones((len(rows_s), 1))])
    indptr, indices = P._histories(pair.source, "positive")
    sub_ptr, sub_idx = P._sub_csr(indptr, indices, cold)
    T, cache = P.forward(m.network_, S[cold], np.asarray(src.item_vectors(), np.float64), sub_ptr, sub_idx)
    np.testing.assert_allclose(m.model_.user_rows()[cold], T, rtol=1e-5, atol=1e-5)
    # personal: the bridges of two cold users differ (the personal part was trained)
    bridges = cache["H"] @ m.network_["D2"]
    assert np.abs(bridges[0] - bridges[1]).max() > 1e-6
    # warm users keep the target model's rows: warm predictions equal the target-only model's
    items = list(pair.target.item_ids[:4])
    np.testing.assert_allclose(m.predict(["u20"] * 4, items), tgt.predict(["u20"] * 4, items), rtol=1e-6)


def test_untrained_network_is_emcdr(pair):
    """With the personal part at zero and the shared bridge kept, the bridge is EMCDR's ridge map on
    the same inputs (the constant input column plays EMCDR's intercept)."""
    src, tgt = als(True).fit(pair.source), als(True).fit(pair.target)
    pt = PTUPCDR(src, tgt, epochs=1, learning_rate=1e-12, ridge=3.0, user_stats=True).fit(pair)
    em = EMCDR(src, tgt, l2=3.0, user_stats=True).fit(pair)
    np.testing.assert_allclose(pt.model_.user_rows(), em.model_.user_rows(), rtol=1e-4, atol=1e-4)


def test_early_stopping_never_worse_than_the_shared_bridge_on_held_out_users(pair):
    m = PTUPCDR(als(True), als(True), hidden=8, epochs=40, learning_rate=0.05).fit(pair)
    t = m.training_
    assert t["held_out_users"] == 3 and t["held_out_mse"] <= t["held_out_mse_shared_bridge"]
    assert t["best_step"] % 10 == 0 and 0 <= t["best_step"] <= 40
    if t["best_step"] == 0:  # kept the untrained network: no personal part, the shared bridge for all
        assert not m.network_["D2"].any()


def test_a_gain_within_the_held_out_noise_keeps_the_shared_bridge(pair):
    """Three held-out users cannot show a two-standard-error gain of a network trained to memorise
    (no weight decay, large steps): its best step is rejected and the untrained network kept."""
    m = PTUPCDR(als(True), als(True), hidden=16, l2=0.0, epochs=60, learning_rate=0.05).fit(pair)
    t = m.training_
    assert t["best_step"] == 0 and t["best_step_rejected"] > 0
    assert t["held_out_mse"] == t["held_out_mse_shared_bridge"] and not m.network_["D2"].any()


@pytest.mark.parametrize(
    "explicit, make",
    [
        (True, lambda: cr.ALS(**TINY, implicit=False)),
        (True, lambda: cr.MF(factors=4, iterations=3)),
        (False, lambda: cr.ALS(**TINY, implicit=True)),
        (False, lambda: cr.MF(factors=4, iterations=3)),
        (False, lambda: cr.BPR(factors=4, iterations=3)),
    ],
)
def test_works_for_every_factor_model(explicit, make):
    pair = small_pair(explicit=explicit)
    m = PTUPCDR(make(), make(), hidden=4, epochs=10).fit(pair)
    ids, scores = m.recommend(COLD_USERS + WARM_USERS, n=3)
    assert ids.shape == (7, 3) and np.all(np.isfinite(scores))
    if explicit:
        assert np.all(np.isfinite(m.predict(COLD_USERS, list(pair.target.item_ids[:3]))))


def test_same_seed_same_model_other_seed_differs(pair):
    def fit(seed, n_threads=0):
        return PTUPCDR(
            als(True, n_threads), als(True, n_threads), hidden=4, epochs=20, seed=seed, early_stopping=False
        ).fit(pair)

    a, b, c = fit(0), fit(0, n_threads=1), fit(1)
    for k in P.PARAMS:
        np.testing.assert_array_equal(a.network_[k], b.network_[k])
    np.testing.assert_array_equal(a.model_.user_rows(), b.model_.user_rows())
    assert not np.array_equal(a.network_["D1"], c.network_["D1"])


def test_save_load_keeps_the_bridged_rows(pair, tmp_path):
    m = PTUPCDR(als(True), als(True), hidden=4, epochs=10).fit(pair)
    m.save(tmp_path / "m.crossrec")
    back = cr.load(tmp_path / "m.crossrec")
    items = list(pair.target.item_ids[:3])
    np.testing.assert_allclose(back.predict(COLD_USERS, items), m.predict(COLD_USERS, items), rtol=1e-6)
    assert back.training_ == m.training_


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(hidden=0), "hidden"),
        (dict(l2=-1.0), "l2"),
        (dict(ridge=-0.5), "ridge"),
        (dict(epochs=0), "epochs"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(history="recent"), "history"),
        (dict(seed=-3), "seed"),
    ],
)
def test_bad_parameters_raise_value_error_naming_them(pair, params, match):
    with pytest.raises(ValueError, match=match):
        PTUPCDR(als(True), als(True), **params).fit(pair)


def test_bad_models_and_data_raise(pair):
    with pytest.raises(ValueError, match="PTUPCDR.fit expects a crossrec.CrossDomain"):
        PTUPCDR().fit(pair.target)
    with pytest.raises(ValueError, match="source_model must be a crossrec factor model"):
        PTUPCDR(cr.Baseline(), als(True)).fit(pair)
    with pytest.raises(ValueError, match="trained in another user id space"):
        PTUPCDR(als(True).fit(small_pair(seed=1, n_users=45).source), als(True)).fit(pair)
    # one user warm in both domains: too few to learn a bridge from
    target = pair.target
    only = np.isin(target.user_ids[target.users], ["u20", "u45"])  # one user in both
    lonely = cr.CrossDomain(pair.source, target.subset(only))
    with pytest.raises(ValueError, match="at least 2 users warm in both"):
        PTUPCDR(als(True), als(True)).fit(lonely)
