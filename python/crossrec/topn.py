"""Batch top-N selection, the last step of every model's ``recommend`` (C++, multithreaded)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp

from . import _core
from ._validation import check_n_threads, check_positive_int


def _exclusion(exclude: Optional[sp.csr_matrix], exclude_rows, n_rows: int):
    if exclude is None:
        return None, None, None
    if not sp.isspmatrix_csr(exclude) and not isinstance(exclude, sp.csr_array):
        exclude = sp.csr_matrix(exclude)
    rows = np.arange(n_rows, dtype=np.int32) if exclude_rows is None else exclude_rows
    return exclude.indptr, exclude.indices, rows


def topn_from_scores(
    scores: np.ndarray,
    n: int,
    exclude: Optional[sp.csr_matrix] = None,
    exclude_rows: Optional[np.ndarray] = None,
    candidates: Optional[np.ndarray] = None,
    n_threads: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-n columns of each row of a dense score block.

    Parameters
    ----------
    scores : (m, n_items) float array
    n : number of items to return per row.
    exclude : CSR whose row ``exclude_rows[r]`` (row r when exclude_rows is None) lists the items
        row r must not get (e.g. items seen in training).
    candidates : rank only these item indices (each at most once, or ValueError).

    Returns
    -------
    items : (m, w) int32 with w = min(n, number of columns or candidates), best first; -1 where
        fewer than w items were eligible (n beyond the catalogue is clamped, never allocated).
    scores : (m, w) float32; -inf for padding. Ties go to the lower item index; NaN scores never rank.
    """
    n = check_positive_int(n, "n")
    indptr, indices, rows = _exclusion(exclude, exclude_rows, np.shape(scores)[0])
    return _core.topn_from_scores(scores, n, indptr, indices, rows, candidates, check_n_threads(n_threads))


def topn_from_factors(
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    n: int,
    item_bias: Optional[np.ndarray] = None,
    exclude: Optional[sp.csr_matrix] = None,
    exclude_rows: Optional[np.ndarray] = None,
    candidates: Optional[np.ndarray] = None,
    n_threads: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-n items by ``user_factors @ item_factors.T (+ item_bias)`` per row of user_factors,
    computed tile by tile so the (users x items) score matrix never exists. Same output and
    tie rule as :func:`topn_from_scores`."""
    n = check_positive_int(n, "n")
    indptr, indices, rows = _exclusion(exclude, exclude_rows, np.shape(user_factors)[0])
    return _core.topn_from_factors(
        user_factors, item_factors, item_bias, n, indptr, indices, rows, candidates, check_n_threads(n_threads)
    )
