"""Issue 13, native half: each defect class found by the attack pass, as a named regression test.
The cases that used to kill the process run in a subprocess, so a regression fails the test
instead of ending the session. (tests/test_fuzz.py covers the siblings.)"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp

import crossrec as cr
from crossrec import _core
from crossrec.errors import FitError


def run_isolated(code: str, limit_bytes: int | None = None) -> subprocess.CompletedProcess:
    prologue = ""
    if limit_bytes:
        prologue = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({limit_bytes}, {limit_bytes}))\n"
    return subprocess.run(
        [sys.executable, "-c", prologue + textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def data():
    return cr.datasets.synthetic_interactions(200, 100, 3000, seed=0)


# ---- threads ------------------------------------------------------------------------------------
def test_thread_cap_is_four_per_hardware_thread():
    assert _core.thread_cap() == 4 * os.cpu_count()
    assert 1 <= _core.max_threads() <= _core.thread_cap()


@pytest.mark.parametrize(
    "code",
    [
        """import crossrec as cr
d = cr.datasets.synthetic_interactions(200, 100, 3000, seed=0)
m = cr.ALS(factors=4, iterations=2, n_threads=1000).fit(d)
print(m.recommend(d.user_ids[:2], n=3)[0].shape)""",
        """import crossrec as cr, numpy as np
from crossrec import _core
print(_core.topn_from_scores(np.random.rand(4, 50).astype('f4'), 3, n_threads=100000)[0].shape)""",
    ],
)
def test_huge_thread_counts_are_clamped_even_under_an_address_space_limit(code):
    # 1,000 threads aborted under an 8 GB address-space cap; 100,000 segfaulted without one.
    p = run_isolated(code, limit_bytes=8 * 2**30)
    assert p.returncode == 0, p.stderr[-2000:]


@pytest.mark.parametrize("bad", [-1, 1025, 2**40, 1.5, True, "2"])
def test_public_n_threads_out_of_range_is_refused(data, bad):
    with pytest.raises(ValueError, match=r"n_threads.*\[0, 1024\]"):
        cr.ALS(factors=2, iterations=1, n_threads=bad).fit(data)


def test_core_negative_threads_refused_and_huge_clamped():
    s = np.random.default_rng(0).random((3, 9)).astype(np.float32)
    with pytest.raises(ValueError, match="n_threads: must be >= 0"):
        _core.topn_from_scores(s, 2, n_threads=-1)
    a = _core.topn_from_scores(s, 2, n_threads=2**40)
    b = _core.topn_from_scores(s, 2, n_threads=1)
    np.testing.assert_array_equal(a[0], b[0])


# ---- canonical CSR at the C++ boundary ----------------------------------------------------------
def _stale_canonical():
    m = sp.csr_matrix(np.array([[1.0, 0, 2], [0, 3, 0]], np.float32))
    indices = m.indices.copy()
    indices[1] = indices[0]  # a duplicate column in row 0
    bad = sp.csr_matrix((m.data, indices, m.indptr), shape=m.shape)
    bad.has_canonical_format = True  # stale flag: scipy now trusts it
    return bad


@pytest.mark.parametrize("step", ["als_implicit_step", "als_explicit_step"])
def test_als_steps_refuse_duplicates_behind_a_stale_canonical_flag(step):
    bad = _stale_canonical()
    Y = np.full((3, 2), 0.1, np.float32)
    X = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="matrix: column indices of row 0 are not sorted and unique"):
        getattr(_core, step)(bad.indptr.astype(np.int64), bad.indices, bad.data, Y, X, 0.1)


def test_public_coercion_repairs_a_stale_canonical_flag():
    from crossrec._validation import as_csr

    m = as_csr(_stale_canonical())
    assert m.nnz == 2 and np.all(np.diff(m.indices[: m.indptr[1]]) > 0)


def test_topk_similarity_bad_indptr_names_indptr():
    indptr = np.array([0, 2, 1, 3], np.int64)
    with pytest.raises(ValueError, match="indptr"):
        _core.topk_similarity(indptr, np.array([0, 1, 2], np.int32), np.ones(3, np.float32), 3, 2)


def test_counts_take_int64_and_are_range_checked():
    s = np.random.default_rng(0).random((2, 5)).astype(np.float32)
    items, _ = _core.topn_from_scores(s, 2**40)
    assert items.shape == (2, 5)  # clamped to the catalogue
    with pytest.raises(ValueError, match="n: must be >= 1, got 0"):
        _core.topn_from_scores(s, 0)
    with pytest.raises(ValueError, match="n_cols must be in"):
        _core.topk_similarity(np.array([0, 1], np.int64), np.array([0], np.int32), None, 2**40, 2)


def test_values_overflowing_float32_are_refused():
    with pytest.raises(ValueError, match="float32"):
        cr.Interactions.from_arrays([1, 2], [1, 2], [3.0, 1e39], explicit=True)
    with pytest.raises(ValueError, match="float32"):
        cr.similarity.topk_similarity(sp.csr_matrix(np.array([[1e39, 1.0]])), 1)


def test_sparse_structure_scipy_would_refuse_is_refused():
    m = sp.csr_matrix(np.eye(3, dtype=np.float32))
    m.indices[0] = 7  # out of range, behind scipy's back
    with pytest.raises(ValueError, match="not a valid sparse matrix"):
        cr.Interactions.from_scipy(m)
    with pytest.raises(ValueError, match="not a valid sparse matrix"):
        cr.similarity.topk_similarity(m, 1)


# ---- duplicates in candidates and metrics -------------------------------------------------------
def test_recommend_refuses_repeated_candidates(data):
    model = cr.ALS(factors=4, iterations=2).fit(data)
    x = data.item_ids[0]
    with pytest.raises(ValueError, match="more than once"):
        model.recommend(data.user_ids[:1], n=3, items=[x, x, x])
    ids, _ = model.recommend(data.user_ids[:1], n=5, items=list(data.item_ids[:3]))
    assert ids.shape == (1, 3)  # n is clamped to the candidates


def test_topn_refuses_repeated_candidates():
    U = np.ones((1, 2), np.float32)
    V = np.eye(4, 2, dtype=np.float32)
    with pytest.raises(ValueError, match="candidates: item 2 appears more than once"):
        cr.topn_from_factors(U, V, 3, candidates=np.array([2, 2, 2], np.int32))


@pytest.mark.parametrize("name", ["recall", "ndcg", "precision", "map", "mrr", "hit"])
def test_metrics_refuse_repeated_recommended_items(name):
    rel = sp.csr_matrix(np.array([[1, 0, 0, 0]], np.float32))
    with pytest.raises(ValueError, match="more than once"):
        cr.metrics.RANKING_METRICS[name](np.array([[0, 0, 0]]), rel, 3)
    ok = cr.metrics.RANKING_METRICS[name](np.array([[0, -1, -1]]), rel, 3)  # -1 padding may repeat
    assert ok[0] <= 1.0


def test_metrics_count_a_relevant_pair_stored_twice_once():
    rel = sp.csr_matrix((np.ones(2, np.float32), np.array([1, 1]), np.array([0, 2])), shape=(1, 4))
    assert cr.metrics.recall_at_k(np.array([[1, 2]]), rel, 2)[0] == 1.0


# ---- memory -------------------------------------------------------------------------------------
def test_recommend_clamps_n_to_the_catalogue(data):
    p = run_isolated(
        """import crossrec as cr
d = cr.datasets.synthetic_interactions(200, 100, 3000, seed=0)
for m in (cr.ItemKNN(k=5), cr.ALS(factors=4, iterations=1), cr.EASE()):
    ids, _ = m.fit(d).recommend(d.user_ids[:1], n=10**9)
    assert ids.shape == (1, 100), ids.shape
print('ok')""",
        limit_bytes=4 * 2**30,
    )
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr[-2000:]


@pytest.mark.parametrize(
    "make",
    [
        lambda d: cr.ALS(factors=10**7, iterations=1).fit(d),
        lambda d: cr.BPR(factors=10**7, iterations=1).fit(d),
        lambda d: cr.DenoisingAutoencoder(hidden=10**7, epochs=1).fit(d),
        lambda d: cr.datasets.synthetic_interactions(10**9, 10**9, 10**12),
    ],
)
def test_huge_allocations_are_refused_with_the_estimate(data, make):
    with pytest.raises(MemoryError, match=r"needs about [\d.]+ GiB"):
        make(data)


# ---- numerics -----------------------------------------------------------------------------------
def test_bpr_divergence_is_a_fit_error_saying_what_to_change(data):
    with pytest.raises(FitError, match="BPR diverged at epoch .*lower learning_rate"):
        cr.BPR(factors=8, iterations=5, learning_rate=1e6).fit(data)


def test_autoencoder_identical_on_one_and_two_threads():
    from crossrec.models.autoencoder import ITEM_BLOCK

    d = cr.datasets.synthetic_interactions(150, ITEM_BLOCK + 700, 4000, seed=1)
    a = cr.DenoisingAutoencoder(hidden=8, epochs=2, n_threads=1).fit(d)
    b = cr.DenoisingAutoencoder(hidden=8, epochs=2, n_threads=2).fit(d)
    for x, y in ((a.W1_, b.W1_), (a.W2_, b.W2_), (a.b1_, b.b1_), (a.b2_, b.b2_)):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.score(d.user_ids[:4]), b.score(d.user_ids[:4]))
