"""Batch top-N selection against a plain numpy reference, and the native boundary's errors."""

import concurrent.futures as cf

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

import crossrec as cr
from crossrec import _core


def reference_topn(scores, n, exclude=None, candidates=None):
    """Obviously correct: sort by (-score, item) over eligible items; n beyond the rankable items
    (columns or candidates) is clamped to them."""
    m, n_items = scores.shape
    n = max(1, min(n, n_items if candidates is None else len(candidates)))
    items = np.full((m, n), -1, np.int32)
    vals = np.full((m, n), -np.inf, np.float32)
    pool = np.arange(n_items) if candidates is None else np.asarray(candidates)
    for r in range(m):
        seen = set(exclude[r].indices) if exclude is not None else set()
        elig = [(-float(scores[r, i]), int(i)) for i in pool if i not in seen and not np.isnan(scores[r, i])]
        elig.sort()
        for j, (s, i) in enumerate(elig[:n]):
            items[r, j], vals[r, j] = i, -s
    return items, vals


def random_exclude(rng, m, n_items, density=0.2):
    return sp.random(m, n_items, density=density, format="csr", random_state=rng, dtype=np.float32)


@pytest.mark.parametrize("n", [1, 5, 40])
def test_scores_match_reference(rng, n):
    s = rng.standard_normal((30, 37)).astype(np.float32)
    ex = random_exclude(rng, 30, 37)
    got = cr.topn_from_scores(s, n, exclude=ex)
    want = reference_topn(s, n, ex)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1])


def test_factors_match_scores_path(rng):
    U = rng.standard_normal((70, 8)).astype(np.float32)
    V = rng.standard_normal((3000, 8)).astype(np.float32)  # > one item tile
    b = rng.standard_normal(3000).astype(np.float32)
    ex = random_exclude(rng, 70, 3000, 0.05)
    got = cr.topn_from_factors(U, V, 10, item_bias=b, exclude=ex)
    want = reference_topn((U @ V.T + b).astype(np.float32), 10, ex)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-5)


def test_candidates_and_exclude_rows(rng):
    U = rng.standard_normal((5, 4)).astype(np.float32)
    V = rng.standard_normal((50, 4)).astype(np.float32)
    ex = random_exclude(rng, 20, 50, 0.3)
    rows = np.array([3, 3, 19, 0, 7], np.int32)
    cand = np.array([1, 4, 9, 16, 25, 36, 49], np.int32)
    got = cr.topn_from_factors(U, V, 4, exclude=ex, exclude_rows=rows, candidates=cand)
    want = reference_topn(U @ V.T, 4, ex[rows], cand)
    np.testing.assert_array_equal(got[0], want[0])


def test_padding_when_too_few_items():
    s = np.array([[1.0, 2.0, 3.0]], np.float32)
    ex = sp.csr_matrix(np.array([[1, 0, 1]], np.float32))
    items, scores = cr.topn_from_scores(s, 3, exclude=ex)
    assert items.tolist() == [[1, -1, -1]]
    assert scores[0, 0] == 2.0 and np.isneginf(scores[0, 1:]).all()


def test_ties_go_to_lower_index_and_nan_never_ranks():
    s = np.array([[1.0, np.nan, 1.0, 1.0, 0.5]], np.float32)
    items, _ = cr.topn_from_scores(s, 4)
    assert items.tolist() == [[0, 2, 3, 4]]


def test_thread_counts_and_concurrent_calls_agree(rng):
    U = rng.standard_normal((300, 16)).astype(np.float32)
    V = rng.standard_normal((2000, 16)).astype(np.float32)
    ex = random_exclude(rng, 300, 2000, 0.02)
    base = cr.topn_from_factors(U, V, 20, exclude=ex, n_threads=1)
    for t in (2, 3, 0):
        np.testing.assert_array_equal(cr.topn_from_factors(U, V, 20, exclude=ex, n_threads=t)[0], base[0])
    with cf.ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: cr.topn_from_factors(U, V, 20, exclude=ex)[0], range(8)))
    for o in outs:
        np.testing.assert_array_equal(o, base[0])


@given(
    m=st.integers(1, 6),
    n_items=st.integers(1, 30),
    n=st.integers(1, 35),
    seed=st.integers(0, 2**31),
    density=st.floats(0, 1),
)
def test_property_matches_reference(m, n_items, n, seed, density):
    rng = np.random.default_rng(seed)
    s = rng.integers(-3, 3, size=(m, n_items)).astype(np.float32)  # many ties
    ex = random_exclude(rng, m, n_items, density)
    got = cr.topn_from_scores(s, n, exclude=ex)
    want = reference_topn(s, n, ex)
    np.testing.assert_array_equal(got[0], want[0])
    # every returned item is eligible and scores are non-increasing
    for items, scores in zip(*got):
        kept = scores[items >= 0]
        assert np.all(np.diff(kept) <= 0)
        assert np.all(items[len(kept) :] == -1)


# ---- the native boundary: bad input raises ValueError naming the argument -----------------
def test_core_rejects_bad_dtype_and_shape():
    s = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="scores"):
        _core.topn_from_scores(np.array([["a", "b"]], dtype=object), 1)
    with pytest.raises(ValueError, match="scores: expected 2-D"):
        _core.topn_from_scores(np.zeros(3, np.float32), 1)
    with pytest.raises(ValueError, match="n: must be >= 1"):
        _core.topn_from_scores(s, 0)
    with pytest.raises(ValueError, match="factor counts differ"):
        _core.topn_from_factors(np.zeros((2, 3), np.float32), np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="item_bias"):
        _core.topn_from_factors(np.zeros((2, 3), np.float32), np.zeros((4, 3), np.float32), np.zeros(3))
    with pytest.raises(ValueError, match="n_threads"):
        _core.topn_from_scores(s, 1, n_threads=-1)
    with pytest.raises(ValueError, match="candidates: expected integer"):
        _core.topn_from_scores(s, 1, candidates=np.array([0.5]))


def test_core_rejects_corrupt_csr():
    s = np.zeros((2, 3), np.float32)
    rows = np.array([0, 1], np.int32)
    with pytest.raises(ValueError, match="out of range"):
        _core.topn_from_scores(s, 1, np.array([0, 1, 2]), np.array([0, 3], np.int32), rows)
    with pytest.raises(ValueError, match="out of range"):
        _core.topn_from_scores(s, 1, np.array([0, 1, 2]), np.array([0, -1], np.int32), rows)
    with pytest.raises(ValueError, match="non-decreasing"):
        _core.topn_from_scores(s, 1, np.array([0, 2, 1, 2]), np.array([0, 1], np.int32), rows)
    with pytest.raises(ValueError, match=r"indptr\[-1\]"):
        _core.topn_from_scores(s, 1, np.array([0, 1, 5]), np.array([0, 1], np.int32), rows)
    with pytest.raises(ValueError, match="exclude_rows"):
        _core.topn_from_scores(s, 1, np.array([0, 1, 2]), np.array([0, 1], np.int32), np.array([0, 9]))
    with pytest.raises(ValueError, match="do not fit in int32"):
        _core.topn_from_scores(s, 1, np.array([0, 1, 2]), np.array([0, 2**40]), rows)
    with pytest.raises(ValueError, match="candidates: index"):
        _core.topn_from_scores(s, 1, candidates=np.array([5]))


def test_wrapper_rejects_bad_n():
    with pytest.raises(ValueError, match="n must be"):
        cr.topn_from_scores(np.zeros((1, 2), np.float32), 0)
