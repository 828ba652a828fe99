"""SparseDistill: the sparse item-to-item student, against a dense numpy reference, its pruning,
cold users served from the source, teachers without factors, persistence and bad input."""

from functools import lru_cache

import crossrec as cr
import numpy as np
import pytest
import scipy.sparse as sp
from contract import COLD_USERS, TransferContract, small_pair
from crossrec.transfer import FineTune, SparseDistill
from crossrec.transfer.distill import teacher_score_factors
from crossrec.transfer.sparse_distill import keep_largest, sparse_student_weights, student_history
from hypothesis import given, settings
from hypothesis import strategies as st


@lru_cache(maxsize=None)
def teacher(explicit):
    als = cr.ALS(factors=4, iterations=3, regularization=0.1 if explicit else 1.0, implicit=not explicit)
    return FineTune(als, pull=1.0).fit(small_pair(explicit=explicit))


def reference_weights(x, z, lam, k):
    """Dense numpy: ridge W* = (X'X + lam I)^-1 X'Z, then the k largest of each used row."""
    xd = x.toarray().astype(np.float64)
    w = np.linalg.solve(xd.T @ xd + lam * np.eye(xd.shape[1]), xd.T @ z)
    out = np.zeros_like(w)
    used = xd.any(axis=0)
    for r in np.flatnonzero(used):
        top = np.argsort(-w[r], kind="stable")[:k]
        out[r, top] = w[r, top]
    return w, out


@pytest.mark.parametrize("k", [1, 3, 30])
def test_weights_equal_dense_numpy_reference(k):
    pair = small_pair(explicit=False)
    t = teacher(False)
    x, n_source = student_history(pair, 1.0)
    assert n_source == pair.source.n_items and x.shape == (
        pair.target.n_users,
        pair.source.n_items + pair.target.n_items,
    )
    a, b = teacher_score_factors(t, pair.target.user_ids, pair.target.item_ids)
    z = a @ b.T
    # the factors are the teacher's exact per-user z-scores
    s = t.score_indices(t.user_map_.lookup(pair.target.user_ids)).astype(np.float64)
    s = s[:, t.item_map_.lookup(pair.target.item_ids)]
    np.testing.assert_allclose(z, (s - s.mean(1, keepdims=True)) / s.std(1, keepdims=True), atol=1e-4)
    w = sparse_student_weights(x, a, b, k, 5.0, cg_iterations=500).toarray()
    dense, ref = reference_weights(x, z, 5.0, k)
    assert (np.count_nonzero(w, axis=1) <= k).all()
    np.testing.assert_allclose(w, ref, atol=1e-4 * np.abs(dense).max())


def test_pruned_equals_fit_with_smaller_k():
    pair = small_pair(explicit=False)
    big = SparseDistill(teacher(False), k=12, cg_iterations=300).fit(pair)
    small = SparseDistill(teacher(False), k=4, cg_iterations=300).fit(pair)
    pruned = big.pruned(4)
    assert pruned.k == 4 and big.k == 12 and big.weights_.nnz > pruned.weights_.nnz
    np.testing.assert_allclose(pruned.weights_.toarray(), small.weights_.toarray(), atol=1e-5)
    users = pair.target.user_ids[:20]
    np.testing.assert_array_equal(pruned.recommend(users, n=5)[0], small.recommend(users, n=5)[0])
    with pytest.raises(ValueError, match="exceeds the fitted k"):
        big.pruned(13)


def test_serving_cost_counts_touched_weights():
    pair = small_pair(explicit=False)
    m = SparseDistill(teacher(False), k=5).fit(pair)
    h = m.history_.toarray() != 0
    per_row = np.diff(m.weights_.indptr)
    np.testing.assert_array_equal(m.serving_cost_, h @ per_row)
    assert m.n_parameters_ == m.weights_.nnz <= 5 * m.history_.shape[1]


def test_cold_users_served_from_source_history():
    pair = small_pair(explicit=False)
    with_source = SparseDistill(teacher(False), k=10).fit(pair)
    no_source = SparseDistill(teacher(False), k=10, source_weight=0.0).fit(pair)
    assert with_source.n_source_items_ == pair.source.n_items and no_source.n_source_items_ == 0
    cold = with_source.user_map_.lookup(COLD_USERS)
    assert np.abs(with_source.score_indices(cold)).sum() > 0
    assert np.abs(no_source.score_indices(cold)).sum() == 0  # no history: popularity only
    # the student's ranking of cold users follows the teacher's (positive rank correlation)
    s, t = with_source.score_indices(cold), teacher(False).score_indices(teacher(False).user_map_.lookup(COLD_USERS))
    t = t[:, teacher(False).item_map_.lookup(pair.target.item_ids)]
    assert all(np.corrcoef(a, b)[0, 1] > 0.3 for a, b in zip(s, t))


def test_teacher_without_factors_uses_randomized_svd():
    """A kNN teacher (no factors): W comes from a randomised SVD of its scores; with a rank
    covering all items that SVD is exact, so W equals the dense reference."""
    data = small_pair(explicit=False).target
    knn = cr.ItemKNN(k=10).fit(data)
    assert knn.scoring_factors(np.arange(3)) is None
    m = SparseDistill(knn, k=30, rank=data.n_items, regularization=5.0, cg_iterations=500).fit(data)
    assert m.n_source_items_ == 0
    s = knn.score_indices(np.arange(data.n_users)).astype(np.float64)
    sd = s.std(1, keepdims=True)
    z = np.where(sd > 1e-12, (s - s.mean(1, keepdims=True)) / np.where(sd > 1e-12, sd, 1.0), 0.0)
    _, ref = reference_weights(m.history_, z, 5.0, 30)
    np.testing.assert_allclose(m.weights_.toarray(), ref, atol=1e-3 * np.abs(ref).max())


def test_unfitted_teacher_is_fitted_on_a_copy():
    pair = small_pair(explicit=False)
    unfitted = FineTune(cr.ALS(factors=4, iterations=3, regularization=1.0, implicit=True), pull=1.0)
    m = SparseDistill(unfitted, k=5).fit(pair)
    assert not unfitted.is_fitted and m.teacher_.is_fitted
    with pytest.raises(ValueError, match="needs the CrossDomain pair"):
        SparseDistill(unfitted, k=5).fit(pair.target)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"teacher": None}, "teacher must be"),
        ({"k": 0}, "k"),
        ({"regularization": 0.0}, "regularization"),
        ({"source_weight": -1.0}, "source_weight"),
        ({"rank": 0}, "rank"),
        ({"cg_iterations": 0}, "cg_iterations"),
        ({"n_threads": -1}, "n_threads"),
    ],
)
def test_bad_parameters(kw, match):
    args = {"teacher": teacher(False)} | kw
    with pytest.raises(ValueError, match=match):
        SparseDistill(**args).fit(small_pair(explicit=False))


def test_bad_data():
    with pytest.raises(ValueError, match="CrossDomain pair or Interactions"):
        SparseDistill(teacher(False)).fit(np.ones((3, 3)))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_rows=st.integers(1, 12),
    n_cols=st.integers(1, 15),
    density=st.floats(0.0, 1.0),
    k=st.integers(1, 16),
)
def test_keep_largest_properties(seed, n_rows, n_cols, density, k):
    """Each row keeps min(k, nnz) entries, all at least as large as every dropped one of that row,
    with the values unchanged; k >= the widest row keeps everything."""
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n_rows, n_cols)) < density, rng.integers(-3, 4, (n_rows, n_cols)), 0)
    m = sp.csr_matrix(dense.astype(np.float32))
    out = keep_largest(m, k)
    kept = out.toarray()
    for r in range(n_rows):
        row = m.getrow(r)
        mask = np.zeros(n_cols, bool)
        mask[out.getrow(r).indices] = True
        assert mask.sum() == min(k, row.nnz)
        np.testing.assert_array_equal(kept[r, mask], dense[r, mask])
        dropped = dense[r, np.isin(np.arange(n_cols), row.indices) & ~mask]
        if len(dropped) and mask.any():
            assert dense[r, mask].min() >= dropped.max()
    if k >= max(np.diff(m.indptr), default=0):
        np.testing.assert_array_equal(kept, m.toarray())


class TestSparseDistillContract(TransferContract):
    explicit_data = False
    needs_pair = False

    def make_model(self, n_threads=0):
        return SparseDistill(teacher(False), k=8, n_threads=n_threads)


class TestSparseDistillExplicitTeacher(TransferContract):
    needs_pair = False

    def make_model(self, n_threads=0):
        return SparseDistill(teacher(True), k=8, n_threads=n_threads)


def test_plot_retention_frontier(tmp_path):
    pytest.importorskip("matplotlib")
    import pandas as pd
    from crossrec.transfer.plots import plot_retention_frontier

    rows = [
        {"pair": p, "segment": s, "family": f, "cost_ratio": c, "retention": r, "low": r - 0.05, "high": r + 0.05}
        for p in ("a", "b")
        for s in ("cold", "warm")
        for f, c, r in (("low-rank", 0.25, 0.8), ("low-rank", 0.5, 0.9), ("sparse", 1e-3, 0.97))
    ]
    fig = plot_retention_frontier(pd.DataFrame(rows), path=tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0
    assert len(fig.axes) == 4 and fig.axes[0].get_xscale() == "log"
    with pytest.raises(ValueError, match="missing"):
        plot_retention_frontier(pd.DataFrame(rows).drop(columns=["low"]))
