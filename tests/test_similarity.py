"""The sparse top-k similarity kernel against a brute-force numpy reference (tests/knn_reference.py)."""

import concurrent.futures

import crossrec as cr
import numpy as np
import pytest
import scipy.sparse as sp
from crossrec import _core
from crossrec.models.baseline import fit_biases
from crossrec.similarity import KINDS, topk_similarity
from hypothesis import given
from hypothesis import strategies as st
from knn_reference import full_similarity, topk_reference


def ratings(seed, n_rows=25, n_cols=18, density=0.3, integer=True):
    rng = np.random.default_rng(seed)
    m = sp.random(n_rows, n_cols, density=density, format="csr", random_state=seed)
    m.data = rng.integers(1, 6, m.nnz).astype(float) if integer else rng.uniform(0.5, 5, m.nnz)
    return m


def edge_case_matrix():
    """Rows: one rating, empty, constant ratings, identical rows (ties); a never-rated column."""
    d = np.zeros((8, 7))
    d[0, 0] = 4  # user with one rating
    d[2, :4] = 3  # constant ratings: Pearson undefined against anyone
    d[3, :4] = [1, 2, 3, 5]
    d[4, :4] = [1, 2, 3, 5]  # identical to row 3: ties
    d[5, 1:5] = [5, 4, 2, 1]
    d[6, [0, 2, 4]] = [2, 5, 4]
    d[7, [1, 3, 5]] = [3, 3, 4]
    # row 1 empty, column 6 never rated
    return sp.csr_matrix(d)


def baseline_of(m, kind):
    return fit_biases(sp.csr_matrix(m)) if kind == "pearson_baseline" else None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shrink,min_support", [(0.0, 1), (4.0, 2), (0.0, 3)])
def test_full_rows_match_reference(kind, shrink, min_support):
    m = ratings(1)
    ref = full_similarity(m, kind, shrink, min_support, baseline_of(m, kind))
    got = topk_similarity(m, k=m.shape[0], kind=kind, shrink=shrink, min_support=min_support).toarray()
    np.testing.assert_allclose(got, ref, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_topk_matches_reference_with_ties(kind):
    m = edge_case_matrix()
    ref = full_similarity(m, kind, 0.0, 1, baseline_of(m, kind))
    for k in (1, 2, 3):
        got = topk_similarity(m, k=k, kind=kind).toarray()
        np.testing.assert_allclose(got, topk_reference(ref, k), atol=1e-6)


def test_edge_cases_semantics():
    m = edge_case_matrix()
    p = topk_similarity(m, k=8, kind="pearson").toarray()
    assert np.all(p[2] == 0) and np.all(p[:, 2] == 0)  # constant ratings: undefined -> 0
    assert np.all(p[1] == 0)  # empty row
    c = topk_similarity(m, k=8, kind="cosine").toarray()
    assert c[3, 4] == pytest.approx(1.0) and c[4, 3] == pytest.approx(1.0)
    assert np.all(np.diag(c) == 0)  # never its own neighbour
    # rows 3 and 4 (identical) tie as row 0's third neighbour: k=3 keeps the lower index
    three = topk_similarity(m, k=3, kind="cosine")
    assert c[0, 3] == c[0, 4] < c[0, 6] < c[0, 2]
    assert three[0].indices.tolist() == [2, 3, 6]


def test_output_is_canonical_csr_sorted_by_index():
    s = topk_similarity(ratings(3, 40, 30), k=5, kind="cosine")
    assert s.shape == (40, 40) and s.dtype == np.float32
    assert np.all(np.diff(s.indptr) <= 5)
    for r in range(40):
        idx = s.indices[s.indptr[r] : s.indptr[r + 1]]
        assert np.all(np.diff(idx) > 0)


def test_rows_subset_equals_full_rows():
    m = ratings(4, 30, 20)
    full = topk_similarity(m, k=4, kind="pearson").toarray()
    rows = np.array([7, 0, 29, 7])
    sub = topk_similarity(m, k=4, kind="pearson", rows=rows).toarray()
    np.testing.assert_array_equal(sub, full[rows])


def test_integer_ratings_give_surprise_pearson_exactly():
    surprise = pytest.importorskip("surprise.similarities")
    m = ratings(5, 30, 25, density=0.4)
    yr = {}
    coo = m.tocoo()
    for r, c, v in zip(coo.row, coo.col, coo.data):
        yr.setdefault(int(c), []).append((int(r), float(v)))
    ref = np.asarray(surprise.pearson(m.shape[0], yr, 1))
    np.fill_diagonal(ref, 0)
    got = topk_similarity(m, k=30, kind="pearson").toarray()
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_one_and_two_threads_identical(kind):
    m = ratings(6, 120, 60, density=0.2, integer=False)
    a = topk_similarity(m, k=7, kind=kind, shrink=2.0, n_threads=1)
    b = topk_similarity(m, k=7, kind=kind, shrink=2.0, n_threads=2)
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)


def test_concurrent_calls_identical():
    m = ratings(7, 200, 80, density=0.1)
    ref = topk_similarity(m, k=10, kind="cosine", n_threads=1).toarray()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: topk_similarity(m, k=10, kind="cosine", n_threads=1).toarray(), range(6)))
    for o in outs:
        np.testing.assert_array_equal(o, ref)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_implicit_cosine_matches_implicit_library():
    nn = pytest.importorskip("implicit.nearest_neighbours")
    m = ratings(8, 60, 40, density=0.15, integer=False)  # users x items
    model = nn.CosineRecommender(K=41)  # implicit keeps the item itself in its K
    model.fit(sp.csr_matrix(m), show_progress=False)
    theirs = model.similarity.toarray()
    np.fill_diagonal(theirs, 0)
    ours = topk_similarity(m.T, k=40, kind="cosine").toarray()
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


# ---- properties -------------------------------------------------------------------------
@st.composite
def sparse_ratings(draw):
    n_rows = draw(st.integers(1, 12))
    n_cols = draw(st.integers(1, 10))
    mask = draw(st.lists(st.booleans(), min_size=n_rows * n_cols, max_size=n_rows * n_cols))
    vals = draw(st.lists(st.integers(1, 5), min_size=n_rows * n_cols, max_size=n_rows * n_cols))
    d = np.where(np.array(mask).reshape(n_rows, n_cols), np.array(vals, float).reshape(n_rows, n_cols), 0.0)
    return sp.csr_matrix(d)


@given(sparse_ratings(), st.sampled_from(KINDS), st.floats(0, 20))
def test_property_symmetric_bounded_and_shrink_reduces(m, kind, shrink):
    n = m.shape[0]
    full = topk_similarity(m, k=n, kind=kind).toarray()
    np.testing.assert_allclose(full, full.T, atol=1e-6)
    assert np.all(full >= -1 - 1e-6) and np.all(full <= 1 + 1e-6)
    if kind in ("msd", "jaccard", "cosine", "cosine_corated"):
        assert np.all(full >= 0)  # non-negative data
    shrunk = topk_similarity(m, k=n, kind=kind, shrink=shrink).toarray()
    assert np.all(np.abs(shrunk) <= np.abs(full) + 1e-6)
    assert np.all((shrunk == 0) | (np.sign(shrunk) == np.sign(full)))


@given(sparse_ratings(), st.sampled_from(KINDS), st.integers(1, 4))
def test_property_topk_is_best_k_of_full(m, kind, k):
    n = m.shape[0]
    full = topk_similarity(m, k=n, kind=kind).toarray()
    got = topk_similarity(m, k=k, kind=kind).toarray()
    np.testing.assert_allclose(got, topk_reference(full, k), atol=1e-7)


# ---- errors -------------------------------------------------------------------------------
def test_public_api_errors():
    m = ratings(9)
    with pytest.raises(ValueError, match="kind"):
        topk_similarity(m, k=3, kind="euclid")
    with pytest.raises(ValueError, match="k must be"):
        topk_similarity(m, k=0)
    with pytest.raises(ValueError, match="shrink"):
        topk_similarity(m, k=3, shrink=-1)
    with pytest.raises(ValueError, match="min_support"):
        topk_similarity(m, k=3, min_support=-1)
    with pytest.raises(ValueError, match="rows"):
        topk_similarity(m, k=3, rows=[0, 99])
    bad = m.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        topk_similarity(bad, k=3)
    with pytest.raises(ValueError, match="n_threads"):
        topk_similarity(m, k=3, n_threads=-2)


def core_args(m):
    m = sp.csr_matrix(m, dtype=np.float32)
    return [m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data, m.shape[1]]


def test_core_rejects_corrupt_csr():
    m = ratings(10)
    ip, ix, d, nc = core_args(m)
    call = lambda ip=ip, ix=ix, d=d, nc=nc, kind="cosine": _core.topk_similarity(
        ip, ix, d, nc, 3, kind, 0.0, 1, None, 1
    )
    bad = ix.copy()
    bad[3] = nc + 5
    with pytest.raises(ValueError, match="out of range"):
        call(ix=bad)
    bad = ix.copy()
    bad[3] = -1
    with pytest.raises(ValueError, match="out of range"):
        call(ix=bad)
    bad = ip.copy()
    bad[2], bad[3] = bad[3], bad[2]
    with pytest.raises(ValueError, match="non-decreasing"):
        call(ip=bad)
    with pytest.raises(ValueError, match="indptr"):
        call(ip=ip[:-1])
    bad = d.copy()
    bad[0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        call(d=bad)
    with pytest.raises(ValueError, match="len"):
        call(d=d[:-1])
    with pytest.raises(ValueError, match="integer"):
        call(ix=ix.astype(np.float64))
    # duplicated / unsorted column indices within a row
    row = int(np.argmax(np.diff(ip) >= 2))
    bad = ix.copy()
    bad[ip[row] + 1] = bad[ip[row]]
    with pytest.raises(ValueError, match="strictly increasing"):
        call(ix=bad)
    with pytest.raises(ValueError, match="kind"):
        call(kind="nope")
    with pytest.raises(ValueError, match="k:"):
        _core.topk_similarity(ip, ix, d, nc, 0, "cosine", 0.0, 1, None, 1)
    with pytest.raises(ValueError, match="rows"):
        _core.topk_similarity(ip, ix, d, nc, 2, "cosine", 0.0, 1, np.array([0, 10**6]), 1)


def test_public_name():
    assert cr.similarity.topk_similarity is topk_similarity


@pytest.mark.parametrize("kind", ["cosine_corated", "pearson", "msd", "jaccard", "cosine"])
def test_float_and_double_accumulators_agree(kind):
    """Integer ratings take the float-accumulator path; one extra disconnected row with a
    fractional rating forces the double path. The shared rows must get the same similarities."""
    m = ratings(11, 40, 30, density=0.3)
    extra = sp.csr_matrix(([0.5], ([0], [30])), shape=(1, 31))
    both = sp.vstack([sp.hstack([m, sp.csr_matrix((40, 1))]), extra]).tocsr()
    a = topk_similarity(m, k=40, kind=kind, shrink=2.0).toarray()
    b = topk_similarity(both, k=41, kind=kind, shrink=2.0).toarray()[:40, :40]
    np.testing.assert_array_equal(a, b)
