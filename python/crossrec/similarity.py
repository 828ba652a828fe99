"""Sparse top-k similarities between the rows of a matrix (C++, multithreaded, GIL released).

Rows are the entities to compare: pass ``ratings`` (users x items) for user-user similarities and
``ratings.T`` for item-item ones. With x and y two rows, I the columns both hold and n = |I|:

=================  ==================================================================================
kind               definition
=================  ==================================================================================
cosine             sum_I x*y / (||x|| ||y||), norms over the *full* rows. The classic item-item CF
                   cosine of sparse vectors; implicit's ``CosineRecommender`` uses the same.
cosine_corated     sum_I x*y / sqrt(sum_I x^2 * sum_I y^2): cosine over co-rated entries only
                   (Surprise's ``cosine``), the usual choice for explicit ratings.
adjusted_cosine    cosine_corated after centring every entry by its *column* mean (for item-item:
                   each rating minus its user's mean; Sarwar et al. 2001).
pearson            correlation over I, each row centred by its own mean over I (Surprise's ``pearson``).
pearson_baseline   cosine_corated of baseline residuals r - (mu + b_row + b_col), shrunk by
                   (n - 1) / (n - 1 + shrink) and needing n >= 2 (Surprise's ``pearson_baseline``;
                   Surprise's default shrinkage is 100).
msd                1 / (sum_I (x - y)^2 / n + 1) (Surprise's ``msd``).
jaccard            n / (|x| + |y| - n) on the sparsity pattern (binary data).
=================  ==================================================================================

Every kind except pearson_baseline is multiplied by n / (n + shrink) when shrink > 0. Pairs with
n < min_support, and undefined values (zero denominators, e.g. Pearson of constant ratings), have
similarity 0. Zero similarities and the row itself are never stored.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp

from . import _core
from ._validation import (
    as_csr,
    as_index_array,
    check_choice,
    check_float,
    check_n_threads,
    check_positive_int,
    csr_parts,
)

KINDS = ("cosine", "cosine_corated", "adjusted_cosine", "pearson", "pearson_baseline", "msd", "jaccard")


def _min_support(value) -> int:
    return check_positive_int(value, "min_support", minimum=0)


def kernel_input(matrix: sp.csr_matrix, kind: str, baseline=None) -> tuple[str, Optional[np.ndarray]]:
    """(kernel kind, values the similarity is computed on, or None for the matrix's own values).

    adjusted_cosine and pearson_baseline are cosine_corated / pearson_baseline on transformed
    values with the same sparsity pattern (explicit zeros after centring are kept on purpose: they
    are co-rated entries).
    """
    if kind == "adjusted_cosine":
        col_sum = np.bincount(matrix.indices, weights=matrix.data, minlength=matrix.shape[1])
        col_cnt = np.bincount(matrix.indices, minlength=matrix.shape[1])
        col_mean = col_sum / np.maximum(col_cnt, 1)
        return "cosine_corated", (matrix.data - col_mean[matrix.indices]).astype(np.float32)
    if kind == "pearson_baseline":
        if matrix.nnz == 0:
            return kind, None
        if baseline is None:
            from .models.baseline import fit_biases

            baseline = fit_biases(matrix)
        mu, b_row, b_col = baseline
        b_row = np.asarray(b_row, dtype=np.float64)
        b_col = np.asarray(b_col, dtype=np.float64)
        if b_row.shape != (matrix.shape[0],) or b_col.shape != (matrix.shape[1],):
            raise ValueError(
                f"baseline: bias lengths {b_row.shape}, {b_col.shape} do not match matrix shape {matrix.shape}"
            )
        rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        return kind, (matrix.data - (float(mu) + b_row[rows] + b_col[matrix.indices])).astype(np.float32)
    return kind, None


def topk_similarity(
    matrix,
    k: int = 50,
    kind: str = "cosine",
    shrink: float = 0.0,
    min_support: int = 1,
    rows=None,
    baseline=None,
    n_threads: int = 0,
    allowed=None,
) -> sp.csr_matrix:
    """The k most similar rows of every row of ``matrix``, as a sparse matrix.

    Parameters
    ----------
    matrix : sparse or dense (n_rows, n_cols)
        Rows are compared (users x items for user-user, items x users for item-item).
    k : int
        Neighbours kept per row (the largest similarities; ties go to the lower row index).
    kind : str
        One of ``KINDS``; definitions in the module docstring.
    shrink : float
        Shrinkage: sim * n / (n + shrink) ((n - 1) / (n - 1 + shrink) for pearson_baseline).
    min_support : int
        Minimum number of co-rated columns for a pair to have a non-zero similarity.
    rows : array of int, optional
        Compute only these rows (the output then has len(rows) rows).
    baseline : (mu, row_bias, col_bias), optional
        For pearson_baseline; default ``fit_biases(matrix)`` (rows regularised as users).
    n_threads : int
        0 = all cores.
    allowed : array of bool (n_rows,), optional
        Rows that may be neighbours (default all). Rows flagged False are still compared when
        queried but are never anybody's neighbour, so the k slots go to rows that can contribute
        (e.g. users with data in the domain to predict, for cross-domain neighbourhoods).

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_query, n_rows), float32: row q holds the neighbours of row
    ``rows[q]`` (q by default) with their similarity, sorted by neighbour index. Memory is
    O(n_query * k): the n_rows x n_rows similarity matrix is never formed.
    """
    check_choice(kind, "kind", KINDS)
    k = check_positive_int(k, "k")
    shrink = check_float(shrink, "shrink", 0.0)
    min_support = _min_support(min_support)
    m = as_csr(matrix, "matrix")
    query = None if rows is None else as_index_array(rows, "rows", m.shape[0])
    kernel_kind, values = kernel_input(m, kind, baseline)
    indptr, indices, data = csr_parts(m)
    if values is not None:
        data = values
    mask = None
    if allowed is not None:
        mask = np.asarray(allowed)
        if mask.shape != (m.shape[0],) or mask.dtype.kind not in "bui":
            raise ValueError(
                f"allowed must be a boolean array with one flag per row ({m.shape[0]}), got "
                f"shape {mask.shape} of dtype {mask.dtype}"
            )
        mask = np.ascontiguousarray(mask != 0, dtype=np.uint8)
    out = _core.topk_similarity(
        indptr, indices, data, m.shape[1], k, kernel_kind, shrink, min_support, query, check_n_threads(n_threads), mask
    )
    n_query = m.shape[0] if query is None else len(query)
    s = sp.csr_matrix((out[2], out[1], out[0]), shape=(n_query, m.shape[0]))
    s.has_sorted_indices = True
    return s
