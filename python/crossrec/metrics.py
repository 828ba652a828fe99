"""Rating and ranking metrics, per user, with written definitions.

Ranking metrics take ``recommended``, an (m, >= k) int array of item indices per user, best first
(-1 = no item; any other item at most once per row in the top k, or ValueError: a repeated item
would be counted twice and push recall or NDCG above 1), and ``relevant``, an (m, n_items) sparse matrix whose row r holds user r's held-out
items (stored entries count as relevant, whatever their value). They return one value per user;
users without relevant items get NaN (they cannot be scored and are left out of means).
"Full ranking" is the caller's job: rank every item not seen in training (``recommend_indices``).
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np
import scipy.sparse as sp

from ._validation import check_positive_int


def rmse(y_true, y_pred) -> float:
    """Root mean squared error: sqrt(mean((y_true - y_pred)^2))."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error: mean(|y_true - y_pred|)."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def _pair(y_true, y_pred):
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length ({t.size} vs {p.size})")
    if t.size == 0:
        raise ValueError("no ratings to score")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise ValueError("y_true or y_pred holds NaN or infinite values")
    return t, p


def hit_matrix(recommended: np.ndarray, relevant: sp.spmatrix, k: int) -> np.ndarray:
    """(m, k) bool: hits[r, j] is True when recommended[r, j] is a relevant item of user r."""
    rec = np.asarray(recommended)
    if rec.ndim != 2:
        raise ValueError(f"recommended must be 2-D (users x ranks), got shape {rec.shape}")
    k = check_positive_int(k, "k")
    if rec.shape[1] < k:
        raise ValueError(f"recommended has {rec.shape[1]} columns, fewer than k={k}")
    if rec.size and rec.dtype.kind not in "iu":
        raise ValueError(f"recommended must hold integer item indices, got dtype {rec.dtype}")
    rel = _relevant_csr(relevant)
    if rel.shape[0] != rec.shape[0]:
        raise ValueError(f"relevant has {rel.shape[0]} rows but recommended has {rec.shape[0]}")
    n_items = np.int64(rel.shape[1])
    rec = rec[:, :k].astype(np.int64)
    if rec.size and rec.max() >= n_items:
        raise ValueError(f"recommended holds item index {rec.max()} >= n_items {n_items}")
    if rec.size and rec.min() < -1:
        raise ValueError(f"recommended holds item index {rec.min()}; indices are >= 0, or -1 for no item")
    ranked = np.sort(rec, axis=1)
    repeated = (ranked[:, 1:] == ranked[:, :-1]) & (ranked[:, 1:] >= 0)
    if repeated.any():
        r, j = np.argwhere(repeated)[0]
        raise ValueError(
            f"recommended row {r} lists item {ranked[r, j + 1]} more than once in its top {k}; "
            f"each item may appear once per list"
        )
    rows = np.repeat(np.arange(rel.shape[0], dtype=np.int64), np.diff(rel.indptr))
    rel_keys = rows * n_items + rel.indices.astype(np.int64)  # sorted: by row, then item
    rec_keys = np.arange(rec.shape[0], dtype=np.int64)[:, None] * n_items + rec
    pos = np.searchsorted(rel_keys, rec_keys)
    pos = np.minimum(pos, max(len(rel_keys) - 1, 0))
    hits = (rel_keys[pos] == rec_keys) if len(rel_keys) else np.zeros(rec.shape, bool)
    return hits & (rec >= 0)


def _relevant_csr(relevant) -> sp.csr_matrix:
    """Canonical CSR of the relevant items: a pair stored twice is one relevant item."""
    rel = sp.csr_matrix(relevant, copy=True)
    rel.sum_duplicates()
    return rel


def _n_relevant(relevant) -> np.ndarray:
    return np.diff(_relevant_csr(relevant).indptr).astype(np.float64)


def _per_user(values: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    out = values.astype(np.float64)
    out[n_rel == 0] = np.nan
    return out


def precision_at_k(recommended, relevant, k: int) -> np.ndarray:
    """Precision@k: (relevant items among the top k) / k."""
    h = hit_matrix(recommended, relevant, k)
    return _per_user(h.sum(1) / k, _n_relevant(relevant))


def recall_at_k(recommended, relevant, k: int) -> np.ndarray:
    """Recall@k: (relevant items among the top k) / (number of relevant items)."""
    h = hit_matrix(recommended, relevant, k)
    n_rel = _n_relevant(relevant)
    return _per_user(h.sum(1) / np.maximum(n_rel, 1), n_rel)


def hit_rate_at_k(recommended, relevant, k: int) -> np.ndarray:
    """Hit rate@k: 1 if any relevant item is in the top k, else 0."""
    h = hit_matrix(recommended, relevant, k)
    return _per_user(np.asarray(h.any(1), dtype=np.float64), _n_relevant(relevant))


def ndcg_at_k(recommended, relevant, k: int) -> np.ndarray:
    """NDCG@k with binary gains: DCG = sum_{j<k} hit_j / log2(j + 2), divided by the ideal DCG of
    min(|relevant|, k) hits at the top."""
    h = hit_matrix(recommended, relevant, k)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = h @ disc
    n_rel = _n_relevant(relevant)
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(n_rel, k).astype(int)]
    return _per_user(dcg / np.where(ideal > 0, ideal, 1.0), n_rel)


def map_at_k(recommended, relevant, k: int) -> np.ndarray:
    """MAP@k (average precision): sum over hit ranks j <= k of precision@j, divided by
    min(|relevant|, k)."""
    h = hit_matrix(recommended, relevant, k)
    prec = np.cumsum(h, axis=1) / np.arange(1, k + 1)
    n_rel = _n_relevant(relevant)
    return _per_user((prec * h).sum(1) / np.maximum(np.minimum(n_rel, k), 1), n_rel)


def mrr_at_k(recommended, relevant, k: int) -> np.ndarray:
    """MRR@k: 1 / rank of the first relevant item within the top k, 0 if none."""
    h = hit_matrix(recommended, relevant, k)
    first = np.argmax(h, axis=1)
    rr = np.where(h.any(1), 1.0 / (first + 1), 0.0)
    return _per_user(rr, _n_relevant(relevant))


def coverage(recommended, n_items: int, k: int | None = None) -> float:
    """Catalogue coverage: fraction of the n_items catalogue that appears in anyone's top k."""
    rec = np.asarray(recommended)
    if k is not None:
        rec = rec[:, :k]
    if n_items < 1:
        raise ValueError("n_items must be >= 1")
    return float(np.unique(rec[rec >= 0]).size / n_items)


RANKING_METRICS: dict[str, Callable] = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "map": map_at_k,
    "mrr": mrr_at_k,
    "hit": hit_rate_at_k,
}
RATING_METRICS: dict[str, Callable] = {"rmse": rmse, "mae": mae}
_NAME = re.compile(r"^([a-z_]+)@(\d+)$")


def parse_metric(name: str) -> tuple[str, int | None]:
    """'ndcg@10' -> ('ndcg', 10); 'rmse' -> ('rmse', None). Raises ValueError for unknown names."""
    key = name.strip().lower()
    if key in RATING_METRICS or key == "coverage":
        return key, None
    m = _NAME.match(key)
    if m and m.group(1) in RANKING_METRICS and int(m.group(2)) >= 1:
        return m.group(1), int(m.group(2))
    if m and m.group(1) == "coverage":
        return "coverage", int(m.group(2))
    known = sorted(RATING_METRICS) + [f"{k}@K" for k in sorted(RANKING_METRICS)] + ["coverage@K"]
    raise ValueError(f"unknown metric {name!r}; known: {', '.join(known)}")
