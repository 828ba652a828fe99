"""Cross-domain knowledge distillation: the loss gradients, the SGD epoch kernel and cr.transfer.Distill."""

import concurrent.futures as cf

import crossrec as cr
import numpy as np
import pytest
import scipy.sparse as sp
from contract import ModelContract, small_data
from crossrec import _core
from crossrec.transfer.distill import Distill, distill_epoch, rank_weights, teacher_knowledge
from distill_helpers import StudentSpec, SVDTeacher, generated_pair, ndcg
from hypothesis import given
from hypothesis import strategies as st

LOSSES = ["pointwise", "ranking", "listwise"]


# ---- numpy references -------------------------------------------------------------------------
def ref_loss(loss, p, Q, b, items, scores, rest, pos, neg, T):
    """The distillation loss of one user in float64, written from the definitions."""
    p, Q, scores = p.astype(np.float64), Q.astype(np.float64), scores.astype(np.float64)
    b = np.zeros(len(Q)) if b is None else b.astype(np.float64)
    cand = np.concatenate([items[pos], neg]).astype(int)
    s = Q[cand] @ p + b[cand]
    n_a = len(pos)
    t = scores[pos]
    if loss == "pointwise":
        target = np.concatenate([t, np.full(len(neg), rest)]) / T
        return 0.5 * np.sum((s - target) ** 2)
    if loss == "ranking":
        e = np.exp(scores / T)
        w = len(items) * e / e.sum()
        sig = lambda x: 1 / (1 + np.exp(-x))
        return -np.sum(w[pos] * np.log(sig(s[:n_a]))) - np.sum(np.log(sig(-s[n_a:])))
    tp = np.concatenate([t, np.full(len(neg), rest)]) / T
    lp = tp - np.log(np.sum(np.exp(tp)))
    lq = s / T - np.log(np.sum(np.exp(s / T)))
    return len(cand) * T * T * np.sum(np.exp(lp) * (lp - lq))


def numerical_grad(fun, x, eps=1e-6):
    g = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        xp, xm = x.astype(np.float64), x.astype(np.float64)
        xp[idx] += eps
        xm[idx] -= eps
        g[idx] = (fun(xp) - fun(xm)) / (2 * eps)
    return g


def user_problem(seed, f=5, n_items=30, k=8, n_a=5, n_n=4, bias=True):
    rng = np.random.default_rng(seed)
    p = rng.normal(size=f).astype(np.float32)
    Q = rng.normal(size=(n_items, f)).astype(np.float32)
    b = rng.normal(size=n_items).astype(np.float32) if bias else None
    items = rng.choice(n_items, size=k, replace=False).astype(np.int32)
    scores = np.sort(rng.normal(size=k) * 1.5)[::-1].astype(np.float32)
    pos = rng.choice(k, size=n_a, replace=False).astype(np.int32)
    others = np.setdiff1d(np.arange(n_items), items)
    neg = rng.choice(others, size=n_n, replace=True).astype(np.int32)
    return p, Q, b, items, scores, float(rng.normal() - 1), pos, neg


# ---- gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("bias", [True, False])
def test_gradient_matches_numerical_derivative(loss, bias):
    p, Q, b, items, scores, rest, pos, neg = user_problem(3, bias=bias)
    T = 1.7
    value, gp, gq, gb = _core.distill_user_gradient(loss, p, Q, b, items, scores, rest, pos, neg, T)
    assert value == pytest.approx(ref_loss(loss, p, Q, b, items, scores, rest, pos, neg, T), rel=1e-5)
    num_p = numerical_grad(lambda x: ref_loss(loss, x, Q, b, items, scores, rest, pos, neg, T), p)
    np.testing.assert_allclose(gp, num_p, rtol=1e-3, atol=1e-4)
    cand = np.concatenate([items[pos], neg])
    for c, item in enumerate(cand[:3]):  # rows of a teacher item and of a sampled item

        def f_q(row, item=item):
            Q2 = Q.astype(np.float64)
            Q2[item] = row
            return ref_loss(loss, p, Q2, b, items, scores, rest, pos, neg, T)

        np.testing.assert_allclose(gq[c], numerical_grad(f_q, Q[item]), rtol=1e-3, atol=1e-4)
    if bias:
        for c, item in enumerate(cand):

            def f_b(v, item=item):
                b2 = b.astype(np.float64)
                b2[item] = v[0]
                return ref_loss(loss, p, Q, b2, items, scores, rest, pos, neg, T)

            np.testing.assert_allclose(gb[c], numerical_grad(f_b, np.array([b[item]]))[0], rtol=1e-3, atol=1e-4)


@given(
    seed=st.integers(0, 10_000),
    loss=st.sampled_from(LOSSES),
    T=st.floats(0.3, 5.0),
    n_a=st.integers(1, 8),
    n_n=st.integers(0, 6),
)
def test_gradient_property(seed, loss, T, n_a, n_n):
    p, Q, b, items, scores, rest, pos, neg = user_problem(seed, n_a=n_a, n_n=n_n)
    value, gp, _, _ = _core.distill_user_gradient(loss, p, Q, b, items, scores, rest, pos, neg, T)
    ref = ref_loss(loss, p, Q, b, items, scores, rest, pos, neg, T)
    assert value == pytest.approx(ref, rel=1e-4, abs=1e-6)
    num = numerical_grad(lambda x: ref_loss(loss, x, Q, b, items, scores, rest, pos, neg, T), p)
    np.testing.assert_allclose(gp, num, rtol=2e-3, atol=2e-3 * max(1.0, np.abs(num).max()))


def test_listwise_zero_when_student_matches_teacher():
    # Student logits equal to the teacher's (plus a constant) give KL = 0 and a zero gradient.
    k = 4
    Q = np.zeros((k, 1), np.float32)
    scores = np.array([2.0, 1.0, 0.5, -1.0], np.float32)
    b = scores + 3.0
    value, _gp, _gq, gb = _core.distill_user_gradient(
        "listwise", np.zeros(1, np.float32), Q, b, np.arange(k), scores, 0.0, np.arange(k), np.zeros(0, np.int32), 1.0
    )
    assert value == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(gb, 0.0, atol=1e-6)


def test_rank_weights_are_softmax_and_zero_on_padding():
    items = np.array([[4, 2, 7, -1], [-1, -1, -1, -1]], np.int32)
    scores = np.array([[3.0, 1.0, 0.0, 0.0], [0, 0, 0, 0]], np.float32)
    w = rank_weights(items, scores, 2.0)
    e = np.exp(scores[0, :3] / 2.0)
    np.testing.assert_allclose(w[0, :3], 3 * e / e.sum(), rtol=1e-6)
    assert w[0, 3] == 0 and np.all(w[1] == 0)
    assert np.all(np.diff(w[0, :3]) < 0)  # decays with teacher rank


# ---- one epoch against hand-computed SGD steps ------------------------------------------------------
def one_user_arrays(k=4, n_items=6, f=3, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.normal(0, 0.5, (1, f)).astype(np.float32)
    Q = rng.normal(0, 0.5, (n_items, f)).astype(np.float32)
    b = rng.normal(0, 0.1, n_items).astype(np.float32)
    items = np.array([[1, 4, 0, 5][:k]], np.int32)
    scores = np.array([[1.5, 0.7, 0.1, -0.4][:k]], np.float32)
    return P, Q, b, items, scores, np.array([-0.3], np.float32)


@pytest.mark.parametrize("loss", LOSSES)
def test_distillation_step_matches_numpy(loss):
    # No ground truth, every top-K item used, no sampled items: the epoch is one deterministic
    # gradient step on the user's loss.
    P, Q, b, items, scores, rest = one_user_arrays()
    lr, reg, alpha, T = 0.1, 0.05, 0.7, 1.5
    _, gp, gq, gb = _core.distill_user_gradient(
        loss, P[0], Q, b, items[0], scores[0], rest[0], np.arange(4, dtype=np.int32), np.zeros(0, np.int32), T
    )
    eP, eQ, eb = P.copy(), Q.copy(), b.copy()
    eP[0] -= lr * (alpha * gp + reg * P[0])
    eQ[items[0]] -= lr * (alpha * gq + reg * Q[items[0]])
    eb[items[0]] -= lr * (alpha * gb + reg * b[items[0]])
    train = sp.csr_matrix((1, 6), dtype=np.float32)
    distill_epoch(
        train,
        items,
        scores,
        rest,
        P,
        Q,
        b,
        ground_truth="bpr",
        loss=loss,
        alpha=alpha,
        temperature=T,
        learning_rate=lr,
        regularization=reg,
        n_samples=10,
        n_negatives=0,
        n_threads=1,
    )
    np.testing.assert_allclose(P, eP, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Q, eQ, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, eb, rtol=1e-5, atol=1e-6)


def test_bpr_step_matches_numpy():
    # Two items, one positive: every draw is (item 0, negative item 1), so the epoch is one BPR step.
    P, Q, b, _, _, _ = one_user_arrays(n_items=2)
    lr, reg = 0.1, 0.02
    x = P[0] @ Q[0] + b[0] - P[0] @ Q[1] - b[1]
    z = 1 / (1 + np.exp(x))
    eP = P[0] + lr * (z * (Q[0] - Q[1]) - reg * P[0])
    eQ0 = Q[0] + lr * (z * P[0] - reg * Q[0])
    eQ1 = Q[1] + lr * (-z * P[0] - reg * Q[1])
    eb = b + lr * (np.array([z, -z]) - reg * b)
    train = sp.csr_matrix(np.array([[1.0, 0.0]], np.float32))
    empty = np.full((1, 1), -1, np.int32)
    distill_epoch(
        train,
        empty,
        np.zeros((1, 1), np.float32),
        np.zeros(1, np.float32),
        P,
        Q,
        b,
        loss="ranking",
        alpha=0.0,
        learning_rate=lr,
        regularization=reg,
        n_threads=1,
    )
    np.testing.assert_allclose(P[0], eP, rtol=1e-5)
    np.testing.assert_allclose(Q, np.stack([eQ0, eQ1]), rtol=1e-5)
    np.testing.assert_allclose(b, eb, rtol=1e-5, atol=1e-7)


def test_squared_step_matches_numpy():
    P, Q, b, _, _, _ = one_user_arrays(n_items=3)
    c = np.array([0.2], np.float32)
    lr, reg, mu, alpha = 0.05, 0.01, 3.0, 0.25
    r = 4.0
    e = (1 - alpha) * (r - (mu + c[0] + P[0] @ Q[2] + b[2]))
    eP = P[0] + lr * (e * Q[2] - reg * P[0])
    eQ = Q[2] + lr * (e * P[0] - reg * Q[2])
    eb, ec = b[2] + lr * (e - reg * b[2]), c[0] + lr * (e - reg * c[0])
    train = sp.csr_matrix(np.array([[0.0, 0.0, r]], np.float32))
    empty = np.full((1, 2), -1, np.int32)
    distill_epoch(
        train,
        empty,
        np.zeros((1, 2), np.float32),
        np.zeros(1, np.float32),
        P,
        Q,
        b,
        c,
        ground_truth="squared",
        loss="pointwise",
        alpha=alpha,
        learning_rate=lr,
        regularization=reg,
        global_mean=mu,
        n_threads=1,
    )
    np.testing.assert_allclose(P[0], eP, rtol=1e-5)
    np.testing.assert_allclose(Q[2], eQ, rtol=1e-5)
    assert b[2] == pytest.approx(eb, rel=1e-5) and c[0] == pytest.approx(ec, rel=1e-5)


# ---- the epoch: determinism, alpha = 0, edge cases ---------------------------------------------------
@pytest.fixture(scope="module")
def problem():
    source, train, test, cold = generated_pair(seed=1, n_users=600)
    teacher = SVDTeacher(12).fit(source, train)
    items, scores, rest = teacher_knowledge(teacher, train.user_ids, train.item_ids, 30)
    return {
        "source": source,
        "train": train,
        "test": test,
        "cold": cold,
        "teacher": teacher,
        "items": items,
        "scores": scores,
        "rest": rest,
    }


def run_epochs(problem, threads, epochs=3, f=6, **kw):
    train = problem["train"]
    rng = np.random.default_rng(0)
    P = rng.normal(0, 0.1, (train.n_users, f)).astype(np.float32)
    Q = rng.normal(0, 0.1, (train.n_items, f)).astype(np.float32)
    b = np.zeros(train.n_items, np.float32)
    for e in range(epochs):
        distill_epoch(
            train.matrix,
            problem["items"],
            problem["scores"],
            problem["rest"],
            P,
            Q,
            b,
            epoch=e,
            seed=7,
            n_threads=threads,
            **kw,
        )
    return P, Q, b


@pytest.mark.parametrize("loss", LOSSES)
def test_same_result_on_any_thread_count(problem, loss):
    one = run_epochs(problem, 1, loss=loss)
    for threads in (2, 3):
        other = run_epochs(problem, threads, loss=loss)
        for a, b in zip(one, other):
            np.testing.assert_array_equal(a, b)


def test_concurrent_calls_agree(problem):
    with cf.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: run_epochs(problem, 1, loss="ranking"), range(3)))
    for r in results[1:]:
        for a, b in zip(results[0], r):
            np.testing.assert_array_equal(a, b)


def test_alpha_zero_is_the_plain_student(problem):
    plain = run_epochs(problem, 2, loss="none", alpha=0.0)
    for loss in LOSSES:
        zero = run_epochs(problem, 2, loss=loss, alpha=0.0)
        for a, b in zip(plain, zero):
            np.testing.assert_array_equal(a, b)
    # and the teacher's knowledge is then irrelevant
    other = dict(problem, scores=np.ascontiguousarray(problem["scores"][:, ::-1]))
    for a, b in zip(plain, run_epochs(other, 2, loss="ranking", alpha=0.0)):
        np.testing.assert_array_equal(a, b)
    # while alpha > 0 does use it
    assert not np.array_equal(plain[0], run_epochs(problem, 2, loss="ranking", alpha=0.5)[0])


def test_distill_alpha_zero_equals_plain_distill_student(problem):
    kw = {"student": StudentSpec(4), "epochs": 3, "alpha": 0.0, "seed": 3, "n_threads": 1, "learning_rate": 0.05}
    a = Distill(problem["teacher"], loss="ranking", **kw).fit(problem["train"])
    other_teacher = SVDTeacher(3).fit(problem["source"], problem["train"])
    b = Distill(other_teacher, loss="listwise", **kw).fit(problem["train"])
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)


def test_cold_users_learn_only_from_the_teacher(problem):
    cold = problem["cold"]
    P0 = run_epochs(problem, 1, epochs=1, loss="ranking", alpha=0.0)[0]
    P1 = run_epochs(problem, 1, epochs=1, loss="ranking", alpha=1.0)[0]
    rng = np.random.default_rng(0)
    init = rng.normal(0, 0.1, P0.shape).astype(np.float32)
    # alpha = 0: cold users have no ground truth, so only L2 shrinkage is absent too: unchanged
    np.testing.assert_array_equal(P0[cold], init[cold])
    assert not np.allclose(P1[cold], init[cold])


@pytest.mark.parametrize("gt", ["bpr", "squared"])
def test_edge_cases_stay_finite(gt):
    # empty users, empty items, a user who saw every item, one teacher item, padding rows
    m = sp.csr_matrix(np.array([[1, 1, 1, 1], [0, 0, 0, 0], [5, 0, 0, 0], [0, 3, 0, 0]], np.float32))
    items = np.array([[0, 1], [2, -1], [-1, -1], [3, 0]], np.int32)
    scores = np.array([[1.0, 0.5], [2.0, 0.0], [0.0, 0.0], [1.0, 1.0]], np.float32)  # ties in row 3
    P = np.full((4, 2), 0.1, np.float32)
    Q = np.full((4, 2), 0.1, np.float32)
    b = np.zeros(4, np.float32)
    c = np.zeros(4, np.float32) if gt == "squared" else None
    for loss in LOSSES:
        for e in range(3):
            distill_epoch(
                m,
                items,
                scores,
                np.zeros(4, np.float32),
                P,
                Q,
                b,
                c,
                ground_truth=gt,
                loss=loss,
                epoch=e,
                n_threads=2,
                n_negatives=3,
            )
    assert np.isfinite(P).all() and np.isfinite(Q).all() and np.isfinite(b).all()


# ---- teacher knowledge ------------------------------------------------------------------------------
def test_teacher_knowledge_matches_dense_reference(problem):
    teacher = problem["teacher"]
    items, scores, rest = problem["items"], problem["scores"], problem["rest"]
    full = teacher.user_factors_ @ teacher.item_factors_.T  # same id order as train in this pair
    mean, std = full.mean(axis=1), full.std(axis=1)
    top = np.argsort(-full, axis=1, kind="stable")[:, :30]
    np.testing.assert_array_equal(np.sort(items, axis=1), np.sort(top, axis=1))
    z = (np.take_along_axis(full, items, axis=1) - mean[:, None]) / std[:, None]
    np.testing.assert_allclose(scores, z, rtol=1e-3, atol=1e-3)
    zall = (full - mean[:, None]) / std[:, None]
    mask = np.ones_like(full, bool)
    np.put_along_axis(mask, items, False, axis=1)
    np.testing.assert_allclose(rest, (zall * mask).sum(1) / mask.sum(1), atol=1e-3)


def test_teacher_knowledge_aligns_ids_and_skips_unknown_users():
    data = small_data(explicit=False)
    teacher = cr.ALS(factors=4, iterations=3).fit(data)
    users = np.concatenate([data.user_ids[::-1][:5], ["stranger"]])
    item_ids = np.concatenate([data.item_ids[::-1], [999_999]])  # reversed order, one unknown item
    items, _scores, rest = teacher_knowledge(teacher, users, item_ids, 10)
    assert np.all(items[-1] == -1) and rest[-1] == 0
    ref_idx, _ = teacher.recommend_indices(data.user_index(users[:5]), n=10, exclude_seen=False)
    np.testing.assert_array_equal(item_ids[items[:5]], data.item_ids[ref_idx])
    assert not np.isin(len(item_ids) - 1, items)


# ---- the estimator -----------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", LOSSES)
def test_distillation_beats_the_plain_student_on_cold_users(problem, loss):
    train, test, cold = problem["train"], problem["test"], problem["cold"]
    kw = {"student": cr.BPR(factors=4), "epochs": 25, "seed": 0, "top_k": 30, "n_threads": 2}
    plain = Distill(problem["teacher"], alpha=0.0, **kw).fit(train)
    student = Distill(problem["teacher"], loss=loss, alpha=0.5, **kw).fit(train)
    cold_ids = train.user_ids[cold]
    report = cr.evaluate(
        {"plain": plain, "distilled": student},
        train,
        test.subset(np.isin(test.users, cold)),
        metrics=["ndcg@10"],
        n_bootstrap=300,
    )
    gain = report.gain("distilled", over="plain")
    assert gain.low > 0, gain  # the whole CI above zero
    assert ndcg(student, train, test, cold).mean() > 1.5 * ndcg(plain, train, test, cold).mean()
    assert len(cold_ids) == len(cold)


def test_fit_on_cross_domain_pair_serves_cold_users():
    source, train, _test, cold = generated_pair(seed=2, n_users=200)
    pair = cr.CrossDomain(source, train)
    teacher = SVDTeacher(8).fit(source, pair.target)
    model = Distill(teacher, cr.ALS(factors=4), epochs=5, n_threads=1).fit(pair)
    assert model.ground_truth_ == "bpr"  # implicit ALS student
    assert Distill(teacher, cr.BPR(factors=4), epochs=1).fit(pair).ground_truth_ == "bpr"
    ids, scores = model.recommend(train.user_ids[cold[:3]], n=5)
    assert ids.shape == (3, 5) and np.isfinite(scores).all()
    assert model.n_parameters_ == model.user_factors_.size + model.item_factors_.size + model.item_bias_.size


def test_squared_ground_truth_predicts_ratings():
    data = small_data(explicit=True)
    teacher = cr.ALS(factors=4, iterations=3, implicit=False).fit(data)
    model = Distill(teacher, cr.MF(factors=3), epochs=10, n_threads=1).fit(data)
    assert model.ground_truth_ == "squared"
    assert Distill(teacher, cr.ALS(factors=3, implicit=False), epochs=1).fit(data).ground_truth_ == "squared"
    p = model.predict(data.user_ids[data.users[:50]], data.item_ids[data.items[:50]])
    assert np.isfinite(p).all() and abs(p.mean() - data.values.mean()) < 1.0


def test_fit_does_not_touch_the_teacher(problem):
    before = problem["teacher"].user_factors_.copy()
    Distill(problem["teacher"], StudentSpec(3), epochs=1).fit(problem["train"])
    np.testing.assert_array_equal(before, problem["teacher"].user_factors_)


# ---- errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw, match",
    [
        ({"loss": "kl"}, "loss"),
        ({"alpha": 1.5}, "alpha"),
        ({"temperature": 0}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"epochs": 0}, "epochs"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"n_samples": 0}, "n_samples"),
        ({"n_negatives": -1}, "n_negatives"),
        ({"n_threads": -1}, "n_threads"),
        ({"ground_truth": "hinge"}, "ground_truth"),
        ({"regularization": float("nan")}, "regularization"),
        ({"student": object()}, "student"),
        ({"teacher": "model"}, "teacher"),
        ({"teacher": cr.transfer.CrossDomainKNN()}, "needs the CrossDomain pair"),
    ],
)
def test_bad_parameters_raise(problem, kw, match):
    args = {"teacher": problem["teacher"], "student": StudentSpec(3), "epochs": 1} | kw
    with pytest.raises(ValueError, match=match):
        Distill(**args).fit(problem["train"])


def test_fit_rejects_non_interactions(problem):
    with pytest.raises(ValueError, match="CrossDomain pair or Interactions"):
        Distill(problem["teacher"], StudentSpec(3)).fit(problem["train"].matrix)


def valid_args(n_users=3, n_items=4, k=2, f=2):
    m = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 0]], np.float32))
    return {
        "indptr": m.indptr.astype(np.int64),
        "indices": m.indices.astype(np.int32),
        "data": m.data,
        "teacher_items": np.array([[0, 1], [2, -1], [3, 1]], np.int32),
        "teacher_scores": np.ones((3, 2), np.float32),
        "teacher_rest": np.zeros(3, np.float32),
        "teacher_weights": None,
        "user_factors": np.full((n_users, f), 0.1, np.float32),
        "item_factors": np.full((n_items, f), 0.1, np.float32),
        "item_bias": np.zeros(n_items, np.float32),
    }


def test_core_accepts_valid_args():
    _core.distill_epoch(**valid_args(), n_threads=1)


@pytest.mark.parametrize(
    "change, match",
    [
        (
            lambda a: a.update(teacher_items=np.array([[0, 4], [2, -1], [3, 1]], np.int32)),
            "teacher_items.*out of range",
        ),
        (lambda a: a.update(teacher_items=np.array([[0, -2], [2, -1], [3, 1]], np.int32)), "teacher_items"),
        (lambda a: a.update(teacher_items=np.array([[-1, 1], [2, -1], [3, 1]], np.int32)), "after -1 padding"),
        (lambda a: a.update(teacher_items=np.zeros((3, 2), np.float32)), "teacher_items.*integer"),
        (lambda a: a.update(teacher_items=np.zeros((2, 2), np.int32)), "teacher_items.*rows"),
        (lambda a: a["teacher_scores"].__setitem__((0, 1), np.nan), "teacher_scores.*NaN"),
        (lambda a: a.update(teacher_scores=np.ones((3, 3), np.float32)), "teacher_scores.*shape"),
        (lambda a: a["teacher_rest"].__setitem__(1, np.inf), "teacher_rest"),
        (lambda a: a.update(teacher_rest=np.zeros(2, np.float32)), "teacher_rest.*length"),
        (lambda a: a.update(teacher_weights=-np.ones((3, 2), np.float32)), "teacher_weights"),
        (lambda a: a.update(user_factors=np.full((3, 2), 0.1)), "user_factors.*float32"),
        (lambda a: a.update(item_factors=np.full((2, 4), 0.1, np.float32).T), "item_factors.*C-contiguous"),
        (lambda a: a.update(item_factors=np.full((4, 3), 0.1, np.float32)), "factor counts differ"),
        (lambda a: a.update(user_factors=np.full((2, 2), 0.1, np.float32)), "train.*rows"),
        (lambda a: a["user_factors"].__setitem__((0, 0), np.nan), "user_factors.*NaN"),
        (lambda a: a.update(item_bias=np.zeros(3, np.float32)), "item_bias.*length"),
        (lambda a: a.update(indices=np.array([2, 0, 1], np.int32)), "not sorted"),
        (lambda a: a.update(indices=np.array([0, 9, 1], np.int32)), "train.*out of range"),
        (lambda a: a.update(indptr=np.array([0, 2, 1, 3], np.int64)), "indptr"),
        (lambda a: a.update(indptr=np.array([0, 2, 2, 5], np.int64)), "indptr"),
        (lambda a: a["data"].__setitem__(0, np.nan), "train.*NaN"),
    ],
)
def test_core_rejects_bad_input(change, match):
    args = valid_args()
    change(args)
    with pytest.raises(ValueError, match=match):
        _core.distill_epoch(**args, n_threads=1)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"alpha": -0.1}, "alpha"),
        ({"temperature": 0.0}, "temperature"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"loss": "kl"}, "loss"),
        ({"ground_truth": "x"}, "ground_truth"),
        ({"n_samples": 0}, "n_samples"),
        ({"n_threads": -1}, "n_threads"),
        ({"ground_truth": "squared", "data": None}, "squared error needs ratings"),
    ],
)
def test_core_rejects_bad_options(kw, match):
    args = valid_args() | kw
    with pytest.raises(ValueError, match=match):
        _core.distill_epoch(**args)


def test_core_gradient_rejects_bad_input():
    p, Q, b, items, scores, rest, pos, neg = user_problem(0)
    with pytest.raises(ValueError, match="positions"):
        _core.distill_user_gradient("ranking", p, Q, b, items, scores, rest, pos + 100, neg, 1.0)
    with pytest.raises(ValueError, match="negatives"):
        _core.distill_user_gradient("ranking", p, Q, b, items, scores, rest, pos, neg - 100, 1.0)
    with pytest.raises(ValueError, match="teacher_scores"):
        _core.distill_user_gradient("ranking", p, Q, b, items, scores * np.nan, rest, pos, neg, 1.0)
    with pytest.raises(ValueError, match="p_u"):
        _core.distill_user_gradient("ranking", p[:2], Q, b, items, scores, rest, pos, neg, 1.0)


def test_divergence_raises_fit_error(problem):
    with pytest.raises(cr.FitError, match="learning_rate"):
        Distill(
            problem["teacher"], StudentSpec(4), loss="pointwise", learning_rate=50.0, epochs=5, temperature=0.05
        ).fit(problem["train"])


# ---- the behavioural contract ---------------------------------------------------------------------------
class TestDistillContract(ModelContract):
    explicit_data = False

    def make_model(self):
        data = small_data(explicit=False)
        teacher = cr.ALS(factors=6, iterations=3, seed=0).fit(data)
        return Distill(teacher, cr.BPR(factors=3), epochs=5, top_k=10, seed=0, n_threads=1)


# ---- properties of the epoch ----------------------------------------------------------------------------
@given(
    seed=st.integers(0, 10_000),
    loss=st.sampled_from(LOSSES),
    gt=st.sampled_from(["bpr", "squared"]),
    n_users=st.integers(1, 40),
    n_items=st.integers(1, 25),
    k=st.integers(1, 6),
    f=st.integers(1, 5),
    alpha=st.sampled_from([0.0, 0.3, 1.0]),
)
def test_epoch_properties(seed, loss, gt, n_users, n_items, k, f, alpha):
    """Any small problem: finite result, same on 1 and 2 threads, and a user with neither
    interactions nor teacher items is left exactly as it was."""
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < 0.3) * rng.integers(1, 6, (n_users, n_items))
    dense[0] = 0  # user 0: no interactions ...
    m = sp.csr_matrix(dense.astype(np.float32))
    k = min(k, n_items)
    items = np.stack([rng.permutation(n_items)[:k] for _ in range(n_users)]).astype(np.int32)
    items[0] = -1  # ... and no teacher row
    cut = rng.integers(1, k + 1, n_users)  # ragged rows: -1 padding after `cut`
    items[np.arange(k)[None, :] >= cut[:, None]] = -1
    scores = np.sort(rng.normal(size=(n_users, k)), axis=1)[:, ::-1].astype(np.float32)
    rest = rng.normal(size=n_users).astype(np.float32) - 1
    P0 = rng.normal(0, 0.1, (n_users, f)).astype(np.float32)
    Q0 = rng.normal(0, 0.1, (n_items, f)).astype(np.float32)
    out = []
    for threads in (1, 2):
        P, Q, b = P0.copy(), Q0.copy(), np.zeros(n_items, np.float32)
        c = np.zeros(n_users, np.float32) if gt == "squared" else None
        for e in range(2):
            distill_epoch(
                m,
                items,
                scores,
                rest,
                P,
                Q,
                b,
                c,
                ground_truth=gt,
                loss=loss,
                alpha=alpha,
                global_mean=3.0,
                n_samples=3,
                n_negatives=2,
                learning_rate=0.02,
                seed=seed,
                epoch=e,
                n_threads=threads,
            )
        out.append((P, Q, b))
    for a, b_ in zip(*out):
        np.testing.assert_array_equal(a, b_)
    P, Q, b = out[0]
    assert np.isfinite(P).all() and np.isfinite(Q).all() and np.isfinite(b).all()
    np.testing.assert_array_equal(P[0], P0[0])


class ScoreOnlyTeacher(cr.Recommender):
    """A teacher without factors (dense score blocks only), wrapping a factor teacher."""

    def __init__(self, inner=None):
        self.inner = inner

    def fit(self, data):
        self._start_fit(data)
        return self

    def _score_block(self, user_idx):
        return self.inner.user_factors_[user_idx] @ self.inner.item_factors_.T


def test_teacher_knowledge_without_factors_matches_factor_path(problem):
    train = problem["train"]
    dense = ScoreOnlyTeacher(problem["teacher"]).fit(train)
    a = teacher_knowledge(problem["teacher"], train.user_ids, train.item_ids, 30)
    b = teacher_knowledge(dense, train.user_ids, train.item_ids, 30)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(a[2], b[2], rtol=1e-4, atol=1e-4)
