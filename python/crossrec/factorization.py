"""Low-level factorisation steps (C++, multithreaded, GIL released): one call = one half-sweep or
one epoch. The models in :mod:`crossrec.models.mf` own the loops; transfer learning (fine-tuning,
collective factorisation, EMCDR) and distillation reuse these calls directly.

Conventions
-----------
* ``matrix``: scipy CSR, rows = the side being updated (users for a user step). For an item step
  pass ``matrix.T.tocsr()`` with X and Y swapped.
* ``X`` (n_rows, f) is updated **in place** and must be a float32 C-contiguous numpy array (a
  converted copy would silently lose the update, so anything else raises ValueError).
* ``Y`` (n_cols, f): fixed factors, converted to float32 if needed.
* ``prior`` (n_rows, f) and ``prior_weight`` (n_rows,) or a scalar: adds
  ``prior_weight[u] * ||x_u - prior[u]||^2`` to row u's objective (ridge toward the prior instead
  of toward zero). Weight 0 leaves the row plain ALS.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

from . import _core
from ._validation import INDEX_DTYPE, VALUE_DTYPE, check_choice, check_float, check_n_threads, check_positive_int
from .errors import FitError

SOLVERS = ("cg", "cholesky")


def kernel_csr(matrix: Any, name: str = "matrix") -> sp.csr_matrix:
    """The CSR the kernels take (float32 data, int32 sorted indices, no duplicates), without a copy
    when ``matrix`` already is one."""
    if sp.issparse(matrix) and matrix.format == "csr" and matrix.data.dtype == VALUE_DTYPE \
            and matrix.indices.dtype == INDEX_DTYPE and matrix.has_canonical_format:
        return matrix
    if not sp.issparse(matrix):
        raise ValueError(f"{name} must be a scipy.sparse matrix, got {type(matrix).__name__}")
    m = sp.csr_matrix(matrix, dtype=VALUE_DTYPE, copy=True)
    m.sum_duplicates()
    m.sort_indices()
    m.indices = m.indices.astype(INDEX_DTYPE, copy=False)
    return m


def check_inplace(X: Any, name: str = "X") -> np.ndarray:
    """X must be a writeable float32 C-contiguous 2-D array: it is updated in place."""
    if not isinstance(X, np.ndarray) or X.dtype != np.float32 or X.ndim != 2 \
            or not X.flags.c_contiguous or not X.flags.writeable:
        what = type(X).__name__ if not isinstance(X, np.ndarray) else \
            f"{X.dtype} {X.ndim}-D {'C' if X.flags.c_contiguous else 'non-C'}-contiguous array"
        raise ValueError(f"{name} must be a writeable float32 C-contiguous 2-D numpy array (it is updated in "
                         f"place), got {what}")
    return X


def prior_args(prior: Any, prior_weight: Any, n_rows: int, n_factors: int, name: str = "prior"):
    """(prior, weight) as float32 arrays of shapes (n_rows, f) and (n_rows,), or (None, None).
    A scalar weight applies to every row."""
    if prior is None and prior_weight is None:
        return None, None
    if prior is None or prior_weight is None:
        raise ValueError(f"{name} and {name}_weight: give both or neither")
    p = np.ascontiguousarray(prior, dtype=VALUE_DTYPE)
    if p.shape != (n_rows, n_factors):
        raise ValueError(f"{name} must have shape ({n_rows}, {n_factors}), got {p.shape}")
    w = np.asarray(prior_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n_rows, float(w))
    if w.shape != (n_rows,):
        raise ValueError(f"{name}_weight must be a scalar or have shape ({n_rows},), got {w.shape}")
    if not np.all(np.isfinite(w)) or (w.size and w.min() < 0):
        raise ValueError(f"{name}_weight must be finite and >= 0")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return p, np.ascontiguousarray(w, dtype=VALUE_DTYPE)


def _raise_failed(failed: int, what: str) -> None:
    if failed:
        raise FitError(f"{what}: the normal equations of {failed} row(s) are not positive definite; "
                       "increase regularization (or check for huge values in the data)")


def gram_matrix(Y: np.ndarray, n_threads: int = 0) -> np.ndarray:
    """``Y.T @ Y`` as float32 (f, f), summed in double in a thread-count independent order."""
    return _core.gram_matrix(Y, check_n_threads(n_threads))


def als_implicit_step(matrix, Y: np.ndarray, X: np.ndarray, regularization: float, alpha: float = 1.0,
                      solver: str = "cg", cg_steps: int = 3, gram: Optional[np.ndarray] = None,
                      prior: Optional[np.ndarray] = None, prior_weight: Any = None,
                      n_threads: int = 0) -> np.ndarray:
    """One implicit-feedback ALS half-sweep: every row of X re-solved for fixed Y (in place).

    For a stored raw weight r_ui, confidence c_ui = 1 + alpha * |r_ui| and preference
    p_ui = 1 if r_ui > 0 else 0 (Hu, Koren & Volinsky 2008; a negative weight is a confident
    "dislike"). Unstored entries have c = 1, p = 0. Row u minimises

        sum_i c_ui (p_ui - x_u . y_i)^2 + regularization ||x_u||^2 + prior_weight[u] ||x_u - prior[u]||^2.

    Note: the ``implicit`` library uses c_ui = alpha * r_ui instead (its ``alpha`` multiplies the
    data); the two agree when implicit is given the data ``1 + alpha * r`` and ``alpha=1``.

    Parameters
    ----------
    matrix : scipy CSR (n_rows, n_cols) of raw weights r.
    Y : (n_cols, f) fixed factors.
    X : (n_rows, f) float32 C-contiguous, updated in place (also the CG warm start).
    regularization : ridge weight (not scaled by the row's count, as in implicit).
    alpha : confidence scale.
    solver : "cg" (``cg_steps`` conjugate-gradient steps from the current X, Takacs et al. 2011) or
        "cholesky" (exact).
    gram : optional precomputed (f, f) matrix used in place of Y^T Y (e.g. plus extra terms);
        None computes Y^T Y.
    prior, prior_weight : optional pull of each row toward a target (see module docstring).
    n_threads : 0 = all cores.

    Returns
    -------
    X, the same array, updated. Rows with no stored entries and no prior become exactly 0.

    Raises
    ------
    FitError when a Cholesky system is not positive definite (only possible with regularization 0).
    """
    m = kernel_csr(matrix)
    X = check_inplace(X)
    check_choice(solver, "solver", SOLVERS)
    p, w = prior_args(prior, prior_weight, m.shape[0], X.shape[1])
    failed = _core.als_implicit_step(
        m.indptr, m.indices, m.data, Y, X, check_float(regularization, "regularization", 0.0),
        check_float(alpha, "alpha", 0.0), solver, check_positive_int(cg_steps, "cg_steps"), gram, p, w,
        check_n_threads(n_threads))
    _raise_failed(failed, "als_implicit_step")
    return X


def als_explicit_step(matrix, Y: np.ndarray, X: np.ndarray, regularization: float,
                      weights: Optional[np.ndarray] = None, weighted_lambda: bool = True,
                      prior: Optional[np.ndarray] = None, prior_weight: Any = None,
                      n_threads: int = 0) -> np.ndarray:
    """One explicit-rating ALS half-sweep (exact, Cholesky in double): every row of X re-solved
    for fixed Y, in place. Row u minimises

        sum_(i stored) v_ui (r_ui - x_u . y_i)^2 + reg_u ||x_u||^2 + prior_weight[u] ||x_u - prior[u]||^2

    with v_ui = ``weights`` (one per stored entry, default 1) and reg_u = regularization * sum_i v_ui
    when ``weighted_lambda`` (ALS-WR, Zhou et al. 2008: the ridge grows with the row's data, which is
    what per-sample SGD regularisation amounts to) or reg_u = regularization otherwise.

    ``matrix`` holds the ratings already minus whatever offsets the caller wants (global mean,
    biases). Rows with no stored entries and no prior become 0; with a prior they get the closed
    form x = w t / (reg_u + w) (= t under weighted lambda). Returns X.
    """
    m = kernel_csr(matrix)
    X = check_inplace(X)
    p, w = prior_args(prior, prior_weight, m.shape[0], X.shape[1])
    if weights is not None:
        weights = np.ascontiguousarray(weights, dtype=VALUE_DTYPE)
        if weights.shape != (m.nnz,):
            raise ValueError(f"weights must have one value per stored entry ({m.nnz}), got shape {weights.shape}")
    failed = _core.als_explicit_step(
        m.indptr, m.indices, m.data, Y, X, check_float(regularization, "regularization", 0.0), weights,
        bool(weighted_lambda), p, w, check_n_threads(n_threads))
    _raise_failed(failed, "als_explicit_step")
    return X


def fold_in(model, rows, side: str = "users", return_bias: bool = False):
    """Factors for users (or items) that were not in training, from their interaction rows,
    without refitting: one exact half-step against the model's fixed item (user) factors.

    Parameters
    ----------
    model : a fitted :class:`crossrec.ALS` or :class:`crossrec.MF`.
    rows : scipy sparse (n, n_items) of the new users' interactions over the model's items
        (or (n, n_users) over its users when ``side="items"``); same value convention as in fit.
    return_bias : also return the (n,) biases (zeros when the model has none).

    Returns
    -------
    (n, f) float32 factors, or (factors, bias) when return_bias.
    """
    check_choice(side, "side", ("users", "items"))
    if not hasattr(model, "_fold_in"):
        raise ValueError(f"fold_in does not support {type(model).__name__}")
    model._check_fitted()
    factors, bias = model._fold_in(kernel_csr(rows, "rows"), side)
    return (factors, bias) if return_bias else factors
