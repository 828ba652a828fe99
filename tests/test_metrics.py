"""crossrec.metrics: hand-computed cases, a brute-force reference, hypothesis properties."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from crossrec import metrics as M


def rel_matrix(rows, n_items):
    """CSR with row r holding the items in rows[r]."""
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.array([i for r in rows for i in sorted(r)], dtype=np.int32)
    return sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(rows), n_items))


# ---- brute-force reference: one user at a time, straight from the definitions -------------
def ref_user(rec, rel, k):
    rec = [i for i in rec[:k]]
    hits = [1.0 if (i >= 0 and i in rel) else 0.0 for i in rec]
    if not rel:
        return dict.fromkeys(["precision", "recall", "ndcg", "map", "mrr", "hit"], math.nan)
    dcg = sum(h / math.log2(j + 2) for j, h in enumerate(hits))
    idcg = sum(1 / math.log2(j + 2) for j in range(min(len(rel), k)))
    ap, n_hit = 0.0, 0
    for j, h in enumerate(hits):
        if h:
            n_hit += 1
            ap += n_hit / (j + 1)
    first = next((j for j, h in enumerate(hits) if h), None)
    return {
        "precision": sum(hits) / k,
        "recall": sum(hits) / len(rel),
        "ndcg": dcg / idcg,
        "map": ap / min(len(rel), k),
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
        "hit": float(any(hits)),
    }


def check_against_reference(rec, rows, n_items, k):
    rel = rel_matrix(rows, n_items)
    for name, fn in M.RANKING_METRICS.items():
        got = fn(rec, rel, k)
        want = np.array([ref_user(list(rec[r]), set(rows[r]), k)[name] for r in range(len(rows))])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=name)


# ---- hand-computed ------------------------------------------------------------------------
def test_hand_computed_one_user():
    # top-5 = [3, 1, 7, 2, 9], relevant = {1, 2, 4}: hits at ranks 2 and 4.
    rec = np.array([[3, 1, 7, 2, 9]])
    rel = rel_matrix([[1, 2, 4]], 10)
    assert M.precision_at_k(rec, rel, 5)[0] == pytest.approx(2 / 5)
    assert M.recall_at_k(rec, rel, 5)[0] == pytest.approx(2 / 3)
    assert M.hit_rate_at_k(rec, rel, 5)[0] == 1.0
    assert M.mrr_at_k(rec, rel, 5)[0] == pytest.approx(1 / 2)
    assert M.map_at_k(rec, rel, 5)[0] == pytest.approx((1 / 2 + 2 / 4) / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert M.ndcg_at_k(rec, rel, 5)[0] == pytest.approx(dcg / idcg)
    # cut at k=1: the first item is a miss
    assert M.precision_at_k(rec, rel, 1)[0] == 0.0
    assert M.mrr_at_k(rec, rel, 1)[0] == 0.0
    assert M.ndcg_at_k(rec, rel, 1)[0] == 0.0


def test_perfect_ranking_scores_one_and_miss_scores_zero():
    rec = np.array([[4, 5, 0, 1], [0, 1, 2, 3]])
    rel = rel_matrix([[4, 5], [7]], 8)
    assert M.ndcg_at_k(rec, rel, 4)[0] == pytest.approx(1.0)
    assert M.map_at_k(rec, rel, 4)[0] == pytest.approx(1.0)
    assert M.recall_at_k(rec, rel, 2)[0] == 1.0
    for fn in M.RANKING_METRICS.values():
        assert fn(rec, rel, 4)[1] == 0.0


def test_user_without_relevant_items_is_nan_and_padding_never_hits():
    rec = np.array([[0, -1, -1], [1, -1, -1]])
    rel = rel_matrix([[], [1]], 3)
    for fn in M.RANKING_METRICS.values():
        v = fn(rec, rel, 3)
        assert math.isnan(v[0])
    assert M.precision_at_k(rec, rel, 3)[1] == pytest.approx(1 / 3)
    assert M.ndcg_at_k(rec, rel, 3)[1] == 1.0


def test_rmse_mae_hand_computed():
    assert M.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert M.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert M.rmse([3.5], [3.5]) == 0.0


def test_rating_metric_errors():
    with pytest.raises(ValueError, match="differ in length"):
        M.rmse([1, 2], [1])
    with pytest.raises(ValueError, match="no ratings"):
        M.mae([], [])
    with pytest.raises(ValueError, match="NaN"):
        M.rmse([1, np.nan], [1, 2])


def test_coverage():
    rec = np.array([[0, 1, 2], [1, 2, -1]])
    assert M.coverage(rec, 10) == pytest.approx(0.3)
    assert M.coverage(rec, 10, k=1) == pytest.approx(0.2)
    with pytest.raises(ValueError):
        M.coverage(rec, 0)


def test_ranking_metric_errors():
    rec = np.array([[0, 1]])
    rel = rel_matrix([[0]], 3)
    with pytest.raises(ValueError, match="fewer than k"):
        M.ndcg_at_k(rec, rel, 3)
    with pytest.raises(ValueError, match="k must be"):
        M.recall_at_k(rec, rel, 0)
    with pytest.raises(ValueError, match="rows"):
        M.recall_at_k(np.array([[0, 1], [1, 2]]), rel, 2)
    with pytest.raises(ValueError, match="n_items"):
        M.recall_at_k(np.array([[0, 5]]), rel, 2)
    with pytest.raises(ValueError, match="2-D"):
        M.recall_at_k(np.array([0, 1]), rel, 1)


def test_parse_metric():
    assert M.parse_metric("NDCG@10") == ("ndcg", 10)
    assert M.parse_metric(" recall@20 ") == ("recall", 20)
    assert M.parse_metric("rmse") == ("rmse", None)
    assert M.parse_metric("coverage@5") == ("coverage", 5)
    for bad in ("ndcg", "ndcg@0", "foo@3", "rmse@3", "ndcg@x", ""):
        with pytest.raises(ValueError, match="unknown metric"):
            M.parse_metric(bad)


def test_brute_force_random_cases():
    rng = np.random.default_rng(7)
    for _ in range(30):
        n_items, m, k = int(rng.integers(5, 30)), int(rng.integers(1, 8)), int(rng.integers(1, 6))
        width = min(k + 2, n_items)
        if width < k:
            continue
        rec = np.stack([rng.permutation(n_items)[:width] for _ in range(m)])
        rec[rng.random(rec.shape) < 0.1] = -1
        rows = [list(rng.choice(n_items, size=int(rng.integers(0, 5)), replace=False)) for _ in range(m)]
        check_against_reference(rec, rows, n_items, k)


@st.composite
def ranking_case(draw):
    n_items = draw(st.integers(1, 12))
    m = draw(st.integers(1, 5))
    k = draw(st.integers(1, n_items))
    rec = np.array([draw(st.permutations(range(n_items)))[:k] for _ in range(m)]).reshape(m, k)
    rows = [draw(st.lists(st.integers(0, n_items - 1), unique=True, max_size=n_items)) for _ in range(m)]
    return rec, rows, n_items, k


@given(ranking_case())
def test_property_matches_reference_and_bounds(case):
    rec, rows, n_items, k = case
    check_against_reference(rec, rows, n_items, k)
    rel = rel_matrix(rows, n_items)
    for fn in M.RANKING_METRICS.values():
        v = fn(rec, rel, k)
        ok = ~np.isnan(v)
        assert np.all((v[ok] >= 0) & (v[ok] <= 1 + 1e-12))
    # recall is monotone in k; precision * k = recall * |rel| (same number of hits)
    n_rel = np.array([len(r) for r in rows])
    hits_p = M.precision_at_k(rec, rel, k) * k
    hits_r = M.recall_at_k(rec, rel, k) * n_rel
    ok = n_rel > 0
    np.testing.assert_allclose(hits_p[ok], hits_r[ok], atol=1e-9)
    if k > 1:
        assert np.all(M.recall_at_k(rec, rel, k - 1)[ok] <= M.recall_at_k(rec, rel, k)[ok] + 1e-12)


@given(st.lists(st.floats(-10, 10), min_size=1, max_size=30), st.floats(-3, 3))
def test_property_rating_metrics(y, shift):
    y = np.array(y)
    assert M.rmse(y, y + shift) == pytest.approx(abs(shift), abs=1e-9)
    assert M.mae(y, y + shift) == pytest.approx(abs(shift), abs=1e-9)
    p = y[::-1]
    assert M.mae(y, p) <= M.rmse(y, p) + 1e-9
