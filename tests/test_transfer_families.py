"""Cross-domain kNN, rules and content: numpy references, item-shared pairs and a behavioural contract."""

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import crossrec as cr
from crossrec.similarity import topk_similarity
from crossrec.transfer import CrossDomainContent, CrossDomainKNN, CrossDomainRules


def small_pair(explicit=True, shared="users", seed=0, n=30, ns=25, nt=20, density=0.25):
    """A small pair with string shared ids (and int ids on the other side)."""
    rng = np.random.default_rng(seed)

    def domain(n_other, prefix, drop):
        rows = []
        for e in range(n):
            if e in drop:
                continue
            for o in np.flatnonzero(rng.random(n_other) < density):
                rows.append((f"e{e}", f"{prefix}{o}", float(rng.integers(1, 6))))
        df = pd.DataFrame(rows, columns=["shared", "other", "value"])
        if shared == "users":
            return cr.Interactions.from_pandas(df, "shared", "other", "value" if explicit else None)
        return cr.Interactions.from_pandas(df, "other", "shared", "value" if explicit else None)

    src = domain(ns, "s", drop={0})
    tgt = domain(nt, "t", drop={1})
    return cr.CrossDomain(src, tgt, shared=shared)


def unit_rows(m):
    m = np.asarray(m, np.float64)
    n = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, n, out=np.zeros_like(m), where=n > 0)


def topk_dense(sim, k, allowed):
    """Reference top-k: largest similarity (ties: lower index), self and disallowed rows left out."""
    out = np.zeros_like(sim)
    for r in range(sim.shape[0]):
        cand = [(-sim[r, j], j) for j in range(sim.shape[1]) if j != r and allowed[j] and sim[r, j] != 0]
        for _, j in sorted(cand)[:k]:
            out[r, j] = sim[r, j]
    return out


def test_topk_similarity_allowed_matches_reference():
    rng = np.random.default_rng(3)
    X = sp.random(40, 25, density=0.3, format="csr", random_state=4, dtype=np.float64)
    X.data = np.round(X.data * 4 + 1)
    allowed = rng.random(40) < 0.5
    got = topk_similarity(X, 6, "cosine", allowed=allowed).toarray()
    U = unit_rows(X.toarray())
    np.testing.assert_allclose(got, topk_dense(U @ U.T, 6, allowed), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="allowed"):
        topk_similarity(X, 6, allowed=np.ones(3, bool))


def knn_reference(pair, k, w):
    """Joint-history neighbours and scores of CrossDomainKNN, in numpy."""
    users = pair.shared == "users"
    S = pair.source.matrix.toarray()
    T = pair.target.matrix.toarray()
    if not users:
        S, T = S.T, T.T
    J = np.hstack([w * unit_rows(S), unit_rows(T)])
    U = unit_rows(J)
    N = topk_dense(U @ U.T, k, (T != 0).any(1))
    scores = N @ T  # entities x other side
    return N, T, (scores if users else scores.T)


@pytest.mark.parametrize("shared", ["users", "items"])
@pytest.mark.parametrize("explicit", [True, False])
def test_cross_domain_knn_matches_reference(shared, explicit):
    pair = small_pair(explicit, shared)
    m = CrossDomainKNN(k=5, source_weight=0.7).fit(pair)
    N, T, scores = knn_reference(pair, 5, 0.7)
    np.testing.assert_allclose(m.neighbors_.toarray(), N, rtol=1e-5, atol=1e-6)
    users = np.arange(m.n_users_)
    np.testing.assert_allclose(m.score_indices(users), scores, rtol=1e-5, atol=1e-5)
    # the C++ top-N equals ranking the reference scores (ties broken by popularity, so compare scores)
    idx, sc = m.recommend_indices(users, n=3, exclude_seen=False)
    np.testing.assert_allclose(sc, -np.sort(-scores, axis=1)[:, :3], rtol=1e-5, atol=1e-5)
    if explicit:
        # baseline-centred prediction: b_xy + sum s (r - b) / sum |s| over the neighbours that rated
        mu = m.global_mean_
        bx, by = m.entity_bias_, m.other_bias_
        rng = np.random.default_rng(0)
        x = rng.integers(0, T.shape[0], 40)
        y = rng.integers(0, T.shape[1], 40)
        ref = []
        for a, b in zip(x, y):
            nb = np.flatnonzero(N[a] != 0)
            nb = nb[T[nb, b] != 0]
            base = mu + bx[a] + by[b]
            if len(nb):
                s = N[a, nb]
                base += np.sum(s * (T[nb, b] - (mu + bx[nb] + by[b]))) / (np.sum(np.abs(s)) + m.damping)
            ref.append(np.clip(base, m.rating_range_[0], m.rating_range_[1]))
        uu, ii = (x, y) if shared == "users" else (y, x)
        np.testing.assert_allclose(m.predict_indices(uu, ii), ref, rtol=1e-4, atol=1e-4)


def test_cross_domain_knn_cold_user_uses_source_neighbours():
    pair = small_pair(True, "users")
    m = CrossDomainKNN(k=5).fit(pair)
    cold = pair.shared_map.lookup(["e1"])[0]  # e1 has no target data
    assert m.cold_[cold] and m.neighbors_[cold].nnz > 0
    assert m.score_indices([cold]).any()
    off = CrossDomainKNN(k=5, source_weight=0.0).fit(pair)
    assert off.neighbors_[cold].nnz == 0  # no source, no transfer


def rules_reference(pair, min_count, min_conf):
    S = pair.source.matrix.toarray() != 0
    T = pair.target.matrix.toarray() != 0
    both = S.any(1) & T.any(1)
    Sb, Tb = S[both], T[both]
    scores = np.full((S.shape[0], T.shape[1]), -np.inf)
    n_rules = 0
    for a, b in itertools.product(range(S.shape[1]), range(T.shape[1])):
        n_ab = np.sum(Sb[:, a] & Tb[:, b])
        n_a = np.sum(Sb[:, a])
        if n_ab >= min_count and n_ab / n_a >= min_conf:
            n_rules += 1
            fire = S[:, a]
            scores[fire, b] = np.where(np.isneginf(scores[fire, b]), 0, scores[fire, b]) + n_ab / n_a
    support = T.sum(0) / T.shape[0]
    scores = np.where(np.isneginf(scores), support[None, :] - 1.0, scores)
    return scores, n_rules


def test_cross_domain_rules_match_brute_force():
    pair = small_pair(False, "users", density=0.35)
    m = CrossDomainRules(min_support=3, min_confidence=0.3, metric="confidence", max_len=2, aggregate="sum").fit(pair)
    ref, n_rules = rules_reference(pair, 3, 0.3)
    assert m.n_rules_ == n_rules > 0
    np.testing.assert_allclose(m.score_indices(np.arange(m.n_users_)), ref, rtol=1e-5, atol=1e-6)
    table = m.rules_to_pandas()
    assert len(table) == n_rules and all(str(c).startswith("t") for c in table["consequent"])
    assert all(all(str(a).startswith("s") for a in ante) for ante in table["antecedents"])


def test_cross_domain_rules_item_shared_transposes():
    pair = small_pair(False, "items", density=0.35)
    m = CrossDomainRules(min_support=3, min_confidence=0.3, max_len=2).fit(pair)
    # same as the user-shared rules on the transposed domains, read back transposed
    S = pair.source.matrix.T.tocsr()
    T = pair.target.matrix.T.tocsr()
    flip = cr.CrossDomain(
        cr.Interactions.from_scipy(S, pair.source.item_ids, pair.source.user_ids),
        cr.Interactions.from_scipy(T, pair.target.item_ids, pair.target.user_ids),
    )
    ref, _ = rules_reference(flip, 3, 0.3)
    np.testing.assert_allclose(m.score_indices(np.arange(m.n_users_)), ref.T, rtol=1e-5, atol=1e-6)


def test_cross_domain_content_matches_reference():
    pair = small_pair(True, "users")
    rng = np.random.default_rng(5)
    ids = np.concatenate([pair.source.item_ids, pair.target.item_ids])
    feats = pd.DataFrame((rng.random((len(ids), 6)) < 0.4).astype(float), index=ids, columns=list("abcdef"))
    m = CrossDomainContent(feats, source_weight=0.5, idf=False).fit(pair)

    def profile(d):
        R = d.matrix.toarray()
        F = unit_rows(feats.loc[d.item_ids].to_numpy())
        W = np.zeros_like(R)
        for u in range(R.shape[0]):
            r = R[u] != 0
            if r.any():
                c = R[u, r] - R[u, r].mean()
                W[u, r] = c if np.abs(c).max() > 1e-9 else 1.0
        return unit_rows(W @ F), F

    Ps, _ = profile(pair.source)
    Pt, Ft = profile(pair.target)
    ref = unit_rows(0.5 * Ps + Pt) @ Ft.T
    np.testing.assert_allclose(m.score_indices(np.arange(m.n_users_)), ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="shares items"):
        CrossDomainContent(feats).fit(small_pair(True, "items"))
    with pytest.raises(ValueError, match="source_features"):
        CrossDomainContent(None).fit(pair)


def content_features(pair):
    ids = np.concatenate([pair.source.item_ids, pair.target.item_ids])
    rng = np.random.default_rng(1)
    return pd.DataFrame((rng.random((len(ids), 5)) < 0.5).astype(float), index=ids, columns=list("vwxyz"))


FAMILIES = {
    "knn-users": (lambda p: CrossDomainKNN(k=5), "users", True),
    "knn-items": (lambda p: CrossDomainKNN(k=5), "items", True),
    "knn-implicit": (lambda p: CrossDomainKNN(k=5), "users", False),
    "rules": (lambda p: CrossDomainRules(min_support=2, min_confidence=0.1), "users", False),
    "content": (lambda p: CrossDomainContent(content_features(p)), "users", True),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_contract(name, tmp_path):
    make, shared, explicit = FAMILIES[name]
    pair = small_pair(explicit, shared)
    model = make(pair)
    assert model.fit(pair) is model
    assert isinstance(model, cr.transfer.TransferRecommender)
    users = list(model.user_ids_[:4])
    ids, scores = model.recommend(users, n=4)
    assert ids.shape == (4, 4) and np.all(np.diff(scores, axis=1) <= 1e-6)
    seen = pair.target.matrix
    for r, u in enumerate(users):
        row = model.user_map_.lookup([u])[0]
        assert not set(ids[r]) & set(model.item_ids_[seen[row].indices])
    with pytest.raises(cr.UnknownIdError):
        model.recommend(["nobody"], n=3)
    path = tmp_path / "m.crossrec"
    model.save(path)
    loaded = cr.load(path)
    np.testing.assert_array_equal(loaded.recommend(users, n=4)[0], ids)
    again = make(pair).fit(pair).recommend(users, n=4)[0]
    np.testing.assert_array_equal(again, ids)
    with pytest.raises(ValueError, match="CrossDomain"):
        make(pair).fit(pair.target)


def test_bad_parameters():
    pair = small_pair(True, "users")
    with pytest.raises(ValueError, match="similarity"):
        CrossDomainKNN(similarity="pearson").fit(pair)
    with pytest.raises(ValueError, match="source_weight"):
        CrossDomainKNN(source_weight=-1).fit(pair)
    with pytest.raises(ValueError, match="max_len"):
        CrossDomainRules(max_len=1).fit(pair)
    with pytest.raises(ValueError, match="metric"):
        CrossDomainRules(metric="leverage").fit(pair)


# ---- the shared transfer contract (tests/contract.py) -----------------------------------------
from contract import TransferContract  # noqa: E402
from contract import small_pair as contract_pair  # noqa: E402


class TestCrossDomainKNNContract(TransferContract):
    rating_model = True

    def make_model(self, n_threads=0):
        return CrossDomainKNN(k=10, n_threads=n_threads)


class TestCrossDomainKNNImplicitContract(TransferContract):
    explicit_data = False

    def make_model(self, n_threads=0):
        return CrossDomainKNN(k=10, n_threads=n_threads)


class TestCrossDomainRulesContract(TransferContract):
    explicit_data = False

    def make_model(self, n_threads=0):
        return CrossDomainRules(min_support=2, min_confidence=0.05, n_threads=n_threads)


class TestCrossDomainContentContract(TransferContract):
    def make_model(self, n_threads=0):
        # features per domain (this pair's item ids are ints in one domain and strings in the other)
        p = contract_pair(explicit=True)
        rng = np.random.default_rng(2)

        def frame(ids):
            return pd.DataFrame((rng.random((len(ids), 5)) < 0.5).astype(float), index=ids, columns=list("vwxyz"))

        return CrossDomainContent(frame(p.source.item_ids), frame(p.target.item_ids), n_threads=n_threads)


def test_distill_fits_an_unfitted_teacher_of_any_family():
    """Distillation across families: an unfitted cross-domain kNN teacher is fitted on the pair,
    an unfitted EASE teacher on the target; both equal distilling the teacher fitted beforehand."""
    from crossrec.transfer import Distill

    pair = small_pair(True, "users", density=0.35)
    kw = dict(epochs=3, n_threads=1, seed=0)
    a = Distill(CrossDomainKNN(k=5), cr.ALS(factors=3), **kw).fit(pair)
    b = Distill(CrossDomainKNN(k=5).fit(pair), cr.ALS(factors=3), **kw).fit(pair)
    np.testing.assert_allclose(a.user_factors_, b.user_factors_, rtol=1e-6)
    assert a.teacher_.is_fitted and not a.teacher.is_fitted
    c = Distill(cr.EASE(), cr.ALS(factors=3), **kw).fit(pair)
    d = Distill(cr.EASE().fit(pair.target), cr.ALS(factors=3), **kw).fit(pair)
    np.testing.assert_allclose(c.item_factors_, d.item_factors_, rtol=1e-6)
