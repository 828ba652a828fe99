"""Slow, obviously-correct numpy references for the neighbourhood kernels (tests only)."""

import heapq

import numpy as np
import scipy.sparse as sp


def full_similarity(matrix, kind, shrink=0.0, min_support=1, baseline=None):
    """Dense n_rows x n_rows similarity by the definitions in crossrec.similarity, pair by pair."""
    m = sp.csr_matrix(matrix, dtype=np.float64)
    n, n_cols = m.shape
    dense = m.toarray()
    mask = np.zeros((n, n_cols), bool)
    for r in range(n):
        mask[r, m.indices[m.indptr[r] : m.indptr[r + 1]]] = True
    vals = dense.copy()
    if kind == "adjusted_cosine":
        col_mean = np.array([dense[mask[:, c], c].mean() if mask[:, c].any() else 0.0 for c in range(n_cols)])
        # the kernels see float32 values: centre, then round as they do (ties then break alike)
        vals = np.where(mask, dense - col_mean[None, :], 0.0).astype(np.float32).astype(np.float64)
    if kind == "pearson_baseline":
        mu, br, bc = baseline
        vals = np.where(mask, dense - (mu + np.asarray(br, float)[:, None] + np.asarray(bc, float)[None, :]), 0.0)
        vals = vals.astype(np.float32).astype(np.float64)
    sim = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            both = mask[i] & mask[j]
            c = int(both.sum())
            need = max(2, min_support) if kind == "pearson_baseline" else min_support
            if c == 0 or c < need:
                continue
            x, y = vals[i, both], vals[j, both]
            if kind == "cosine":
                d = np.linalg.norm(vals[i]) * np.linalg.norm(vals[j])
                s = x @ y / d if d > 0 else 0.0
            elif kind in ("cosine_corated", "adjusted_cosine", "pearson_baseline"):
                d = np.sqrt((x @ x) * (y @ y))
                s = x @ y / d if d > 0 else 0.0
            elif kind == "pearson":
                xc, yc = x - x.mean(), y - y.mean()
                d = np.sqrt((xc @ xc) * (yc @ yc))
                s = xc @ yc / d if d > 1e-12 else 0.0
            elif kind == "msd":
                s = 1.0 / (np.mean((x - y) ** 2) + 1.0)
            elif kind == "jaccard":
                s = c / (mask[i].sum() + mask[j].sum() - c)
            if shrink > 0:
                s *= (c - 1) / (c - 1 + shrink) if kind == "pearson_baseline" else c / (c + shrink)
            sim[i, j] = s
    return sim


def topk_reference(sim, k):
    """Top-k non-zero entries per row (ties to the lower index) as a dense matrix."""
    out = np.zeros_like(sim)
    for i in range(sim.shape[0]):
        cand = [(-sim[i, j], j) for j in range(sim.shape[1]) if sim[i, j] != 0]
        for negs, j in sorted(cand)[:k]:
            out[i, j] = -negs
    return out


def surprise_predict(X, sim, x, y, k, min_k, centering, global_mean, x_mean=None, bx=None, by=None):
    """Surprise's estimate for (x, y) given the dense similarity; X is x-by-y CSR of ratings."""
    X = sp.csr_matrix(X)
    XT = X.T.tocsr()
    raters = XT.indices[XT.indptr[y] : XT.indptr[y + 1]]
    ratings = XT.data[XT.indptr[y] : XT.indptr[y + 1]]
    known = X.indptr[x + 1] > X.indptr[x] and len(raters) > 0
    base = {
        "none": 0.0,
        "mean": x_mean[x] if x_mean is not None else 0.0,
        "baseline": global_mean + (bx[x] if bx is not None else 0) + (by[y] if by is not None else 0),
    }[centering]
    if not known:
        return base if centering == "baseline" else global_mean
    nbrs = heapq.nlargest(k, [(sim[x, x2], x2, r) for x2, r in zip(raters, ratings) if x2 != x], key=lambda t: t[0])
    sum_sim = sum_r = 0.0
    actual = 0
    for s, x2, r in nbrs:
        if s > 0:
            d = r
            if centering == "mean":
                d = r - x_mean[x2]
            elif centering == "baseline":
                d = r - (global_mean + bx[x2] + by[y])
            sum_sim += s
            sum_r += s * d
            actual += 1
    enough = actual >= min_k and sum_sim > 0
    if centering == "none":
        return sum_r / sum_sim if enough else global_mean
    return base + (sum_r / sum_sim if enough else 0.0)
