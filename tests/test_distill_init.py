"""Distill's init='teacher_svd': the rank-f approximation of the teacher's score matrix."""

import crossrec as cr
import numpy as np
import pytest
from crossrec.data import IdMap
from crossrec.transfer.distill import Distill, teacher_svd
from distill_helpers import StudentSpec, SVDTeacher, generated_pair, ndcg
from hypothesis import given, settings
from hypothesis import strategies as st


class BiasTeacher(cr.Recommender):
    """Fixed factors and item bias on given ids (a stand-in for any factor teacher)."""

    def set(self, users, items, U, V, b):
        self.user_map_, self.item_map_ = IdMap(users, "user"), IdMap(items, "item")
        self.user_factors_, self.item_factors_, self.item_bias_ = U, V, b
        return self

    def _factors(self, user_idx):
        return self.user_factors_[user_idx], self.item_factors_, self.item_bias_


def make_teacher(seed, n_users=40, n_items=30, rank=5, bias=True):
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((n_users, rank)).astype(np.float32)
    V = rng.standard_normal((n_items, rank)).astype(np.float32)
    b = rng.standard_normal(n_items).astype(np.float32) if bias else None
    users = np.array([f"u{i}" for i in range(n_users)])
    items = np.array([f"i{i}" for i in range(n_items)])
    return BiasTeacher().set(users, items, U, V, b), U.astype(np.float64), V.astype(np.float64), b


def dense_scores(U, V, b, standardize):
    S = U @ V.T + (0.0 if b is None else b[None, :])
    if standardize:
        S = (S - S.mean(axis=1, keepdims=True)) / S.std(axis=1, keepdims=True)
    return S


def truncated(S, f):
    u, s, vt = np.linalg.svd(S, full_matrices=False)
    return (u[:, :f] * s[:f]) @ vt[:f]


@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_equals_numpy_truncated_svd(standardize, bias):
    teacher, U, V, b = make_teacher(0, bias=bias)
    S = dense_scores(U, V, b, standardize)
    for f in (1, 2, 3):
        P, Q = teacher_svd(teacher, teacher.user_map_.ids, teacher.item_map_.ids, f, standardize=standardize)
        assert P.shape == (40, f) and Q.shape == (30, f) and P.dtype == np.float32
        np.testing.assert_allclose(P.astype(np.float64) @ Q.T, truncated(S, f), atol=2e-4 * np.abs(S).max())
        # sqrt(singular values) on each side: equal column norms
        np.testing.assert_allclose(np.linalg.norm(P, axis=0), np.linalg.norm(Q, axis=0), rtol=1e-3)


@given(
    seed=st.integers(0, 10_000),
    rank=st.integers(1, 6),
    extra=st.integers(0, 4),
    standardize=st.booleans(),
    scale=st.floats(0.1, 3.0),
)
@settings(max_examples=25, deadline=None)
def test_enough_factors_reproduce_the_teacher(seed, rank, extra, standardize, scale):
    teacher, U, V, b = make_teacher(seed, rank=rank)
    f = rank + 2 + extra  # scores + bias + mean columns: rank <= F + 2
    P, Q = teacher_svd(teacher, teacher.user_map_.ids, teacher.item_map_.ids, f, standardize=standardize, scale=scale)
    S = dense_scores(U, V, b, standardize)
    np.testing.assert_allclose(P.astype(np.float64) @ Q.T, scale * S, atol=1e-4 * scale * max(1.0, np.abs(S).max()))


def test_unknown_users_and_items_score_zero():
    teacher, U, V, b = make_teacher(1)
    users = np.array(["u3", "stranger", "u0"])
    items = np.array(["i5", "new", "i1", "i2"])
    P, Q = teacher_svd(teacher, users, items, 8, standardize=False)
    S = P.astype(np.float64) @ Q.T
    assert np.all(P[1] == 0) and np.all(Q[1] == 0)
    ref = U[[3, 0]] @ V[[5, 1, 2]].T + b[[5, 1, 2]]
    np.testing.assert_allclose(S[np.ix_([0, 2], [0, 2, 3])], ref, atol=1e-4)
    # standardised over the shared items only
    Z = teacher_svd(teacher, users, items, 8)
    Zs = Z[0].astype(np.float64) @ Z[1].T
    full = U[[3, 0]] @ V.T + b
    sub = U[[3, 0]] @ V[[5, 1, 2]].T + b[[5, 1, 2]]
    ref = (sub - sub.mean(axis=1, keepdims=True)) / sub.std(axis=1, keepdims=True)
    assert full.shape[1] == 30
    np.testing.assert_allclose(Zs[np.ix_([0, 2], [0, 2, 3])], ref, atol=1e-4)
    assert np.allclose(Zs[1], 0) and np.allclose(Zs[:, 1], 0)


@pytest.mark.filterwarnings("ignore:ItemKNN.recommend")
def test_non_factor_teacher_gives_none_and_auto_falls_back():
    _, train, _, _ = generated_pair(seed=2, n_users=120)
    pop = cr.ItemKNN().fit(train)
    assert pop.scoring_factors(np.arange(2)) is None
    assert teacher_svd(pop, train.user_ids, train.item_ids, 4) is None
    assert Distill(pop, StudentSpec(3), epochs=1, n_threads=1).fit(train).init_ == "random"
    with pytest.raises(ValueError, match="init"):
        Distill(pop, StudentSpec(3), init="teacher_svd", epochs=1).fit(train)


def test_init_choices():
    source, train, _, _ = generated_pair(seed=3, n_users=120)
    teacher = SVDTeacher(6).fit(source, train)
    assert Distill(teacher, StudentSpec(3), epochs=1, n_threads=1).fit(train).init_ == "teacher_svd"
    assert Distill(teacher, StudentSpec(3), epochs=1, alpha=0.0, n_threads=1).fit(train).init_ == "random"
    assert Distill(teacher, StudentSpec(3), init="random", epochs=1, n_threads=1).fit(train).init_ == "random"
    with pytest.raises(ValueError, match="init"):
        Distill(teacher, StudentSpec(3), init="svd").fit(train)


def test_more_factors_than_the_teacher_rank_still_train():
    """Columns the SVD leaves empty get random values (all-zero columns would never move)."""
    source, train, _, _ = generated_pair(seed=4, n_users=120)
    teacher = SVDTeacher(2).fit(source, train)
    m = Distill(teacher, StudentSpec(8), epochs=2, n_threads=1).fit(train)
    assert np.all(np.abs(m.user_factors_).sum(axis=0) > 0)


def test_svd_init_keeps_more_of_the_teacher():
    """On the generated pair a distilled student started from the teacher's SVD is at least as good
    as one started at random with the same epochs (it starts near the teacher's ranking)."""
    source, train, test, cold = generated_pair(seed=5, n_users=500)
    teacher = SVDTeacher(12).fit(source, train)
    kw = {"student": StudentSpec(4), "epochs": 10, "seed": 0, "n_threads": 1, "learning_rate": 0.02}
    svd = Distill(teacher, init="teacher_svd", **kw).fit(train)
    rnd = Distill(teacher, init="random", **kw).fit(train)
    assert ndcg(svd, train, test, cold).mean() >= ndcg(rnd, train, test, cold).mean()
    assert ndcg(svd, train, test, cold).mean() > 0.5 * ndcg(teacher, train, test, cold).mean()


def test_svd_init_same_model_on_1_and_2_threads():
    source, train, _, _ = generated_pair(seed=6, n_users=200)
    teacher = SVDTeacher(6).fit(source, train)
    a, b = (Distill(teacher, StudentSpec(4), epochs=3, seed=1, n_threads=t).fit(train) for t in (1, 2))
    assert a.init_ == b.init_ == "teacher_svd"
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
