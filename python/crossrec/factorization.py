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
from ._validation import VALUE_DTYPE, as_csr, check_choice, check_float, check_n_threads, check_positive_int
from .errors import FitError

SOLVERS = ("cg", "cholesky")


def kernel_csr(matrix: Any, name: str = "matrix") -> sp.csr_matrix:
    """The CSR the kernels take (:func:`crossrec._validation.as_csr`: float32 data, int32 sorted
    indices, no duplicates, finite values), without a copy when ``matrix`` already is one."""
    return as_csr(matrix, name, copy=False, dense=False)


def check_inplace(X: Any, name: str = "X") -> np.ndarray:
    """X must be a writeable float32 C-contiguous 2-D array: it is updated in place."""
    if (
        not isinstance(X, np.ndarray)
        or X.dtype != np.float32
        or X.ndim != 2
        or not X.flags.c_contiguous
        or not X.flags.writeable
    ):
        what = (
            type(X).__name__
            if not isinstance(X, np.ndarray)
            else f"{X.dtype} {X.ndim}-D {'C' if X.flags.c_contiguous else 'non-C'}-contiguous array"
        )
        raise ValueError(
            f"{name} must be a writeable float32 C-contiguous 2-D numpy array (it is updated in place), got {what}"
        )
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


def row_prior_args(prior: Any, prior_weight: Any, n_rows: int, n_factors: int, width: int, name: str = "prior"):
    """:func:`prior_args` for rows of ``width`` columns (factors, then a bias when width > f): a
    factors-only (n_rows, f) prior gets a zero bias column, so the bias is pulled toward 0 with the
    row's weight; an (n_rows, width) prior pulls the bias toward its last column."""
    if prior is not None and width > n_factors and np.shape(prior) == (n_rows, n_factors):
        pad = np.zeros((n_rows, width - n_factors), VALUE_DTYPE)
        prior = np.hstack([np.asarray(prior, VALUE_DTYPE), pad])
    return prior_args(prior, prior_weight, n_rows, width, name)


def _raise_failed(failed: int, what: str) -> None:
    if failed:
        raise FitError(
            f"{what}: the normal equations of {failed} row(s) are not positive definite; "
            "increase regularization (or check for huge values in the data)"
        )


def gram_matrix(Y: np.ndarray, n_threads: int = 0) -> np.ndarray:
    """``Y.T @ Y`` as float32 (f, f), summed in double in a thread-count independent order."""
    return _core.gram_matrix(Y, check_n_threads(n_threads))


def als_implicit_step(
    matrix,
    Y: np.ndarray,
    X: np.ndarray,
    regularization: float,
    alpha: float = 1.0,
    solver: str = "cg",
    cg_steps: int = 3,
    gram: Optional[np.ndarray] = None,
    prior: Optional[np.ndarray] = None,
    prior_weight: Any = None,
    n_threads: int = 0,
    exact_short_rows: bool = True,
) -> np.ndarray:
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
    exact_short_rows : with solver "cg", solve a row exactly instead when that costs fewer flops
        than the CG steps: rows without prior and with few entries n (about n^2 < (cg_steps + 1) f),
        through the Woodbury identity on a shared inverse (Y^T Y + reg I)^-1. Exact is never worse
        than CG; on long-tailed data (most items have few users) it makes a half-sweep several times
        faster. False gives pure CG (as the implicit library).

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
        m.indptr,
        m.indices,
        m.data,
        Y,
        X,
        check_float(regularization, "regularization", 0.0),
        check_float(alpha, "alpha", 0.0),
        solver,
        check_positive_int(cg_steps, "cg_steps"),
        gram,
        p,
        w,
        check_n_threads(n_threads),
        bool(exact_short_rows),
    )
    _raise_failed(failed, "als_implicit_step")
    return X


def als_explicit_step(
    matrix,
    Y: np.ndarray,
    X: np.ndarray,
    regularization: float,
    weights: Optional[np.ndarray] = None,
    weighted_lambda: bool = True,
    prior: Optional[np.ndarray] = None,
    prior_weight: Any = None,
    n_threads: int = 0,
) -> np.ndarray:
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
        m.indptr,
        m.indices,
        m.data,
        Y,
        X,
        check_float(regularization, "regularization", 0.0),
        weights,
        bool(weighted_lambda),
        p,
        w,
        check_n_threads(n_threads),
    )
    _raise_failed(failed, "als_explicit_step")
    return X


def als_biased_step(
    matrix,
    Y: np.ndarray,
    X: np.ndarray,
    regularization: float,
    offset: Any = 0.0,
    weights: Optional[np.ndarray] = None,
    prior: Optional[np.ndarray] = None,
    prior_weight: Any = None,
    n_threads: int = 0,
) -> np.ndarray:
    """One explicit ALS half-sweep with biases (the only implementation of the biased sweep: the
    ALS model, its fold-in and collective factorisation all call it). Rows carry their bias as a
    last column: X rows ``[x_u, b_u]`` are solved, in place, against the fixed rows ``[y_i, 1]``
    on the targets ``r_ui - offset - c_i`` where ``c_i`` is the last column of Y (the other
    side's bias). Row u minimises

        sum_i v_ui (r_ui - offset_ui - c_i - b_u - x_u . y_i)^2 + reg_u ||[x_u, b_u]||^2
        + prior_weight[u] ||[x_u, b_u] - prior[u]||^2

    (ALS-WR: reg_u = regularization * sum_i v_ui), so the prior covers the bias too.

    Parameters
    ----------
    matrix : scipy CSR (n_rows, n_cols) of ratings.
    Y : (n_cols, f + 1) fixed rows, last column their bias.
    X : (n_rows, f + 1) float32 C-contiguous, updated in place.
    offset : scalar (the global mean) or one value per stored entry (e.g. a mean per domain).
    weights, prior, prior_weight, n_threads : as in :func:`als_explicit_step`.
    """
    m = kernel_csr(matrix)
    X = check_inplace(X)
    Y = np.ascontiguousarray(Y, dtype=VALUE_DTYPE)
    if Y.ndim != 2 or Y.shape[1] != X.shape[1] or Y.shape[1] < 2:
        raise ValueError(f"Y must have shape (n_cols, {X.shape[1]}) with the bias last, got {Y.shape}")
    if Y.shape[0] != m.shape[1]:
        raise ValueError(f"Y must have {m.shape[1]} rows (the matrix's columns), got {Y.shape[0]}")
    offset = np.asarray(offset, dtype=np.float64)
    if offset.ndim not in (0, 1) or (offset.ndim == 1 and offset.shape != (m.nnz,)):
        raise ValueError(f"offset must be a scalar or have one value per stored entry ({m.nnz}), got {offset.shape}")
    target = m.data - offset - Y[m.indices, -1]
    shifted = sp.csr_matrix((target.astype(VALUE_DTYPE), m.indices, m.indptr), shape=m.shape)
    shifted.has_canonical_format = True
    fixed = Y.copy()
    fixed[:, -1] = 1.0
    return als_explicit_step(
        shifted, fixed, X, regularization, weights=weights, prior=prior, prior_weight=prior_weight, n_threads=n_threads
    )


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
    if not hasattr(model, "fold_in_rows"):
        raise ValueError(f"fold_in does not support {type(model).__name__}")
    factors, bias = model.fold_in_rows(rows, side)
    return (factors, bias) if return_bias else factors


def _optional_inplace_vector(v: Any, n: int, name: str) -> Optional[np.ndarray]:
    if v is None:
        return None
    if (
        not isinstance(v, np.ndarray)
        or v.dtype != np.float32
        or v.ndim != 1
        or not v.flags.c_contiguous
        or not v.flags.writeable
    ):
        raise ValueError(f"{name} must be a writeable float32 C-contiguous 1-D numpy array (updated in place)")
    if v.shape != (n,):
        raise ValueError(f"{name} must have length {n}, got {v.shape[0]}")
    return v


def sgd_epoch(
    matrix,
    X: np.ndarray,
    Y: np.ndarray,
    user_bias: Optional[np.ndarray] = None,
    item_bias: Optional[np.ndarray] = None,
    global_mean: float = 0.0,
    learning_rate: float = 0.005,
    regularization: float = 0.02,
    bias_regularization: Optional[float] = None,
    epoch: int = 0,
    seed: int = 0,
    weights: Optional[np.ndarray] = None,
    user_prior=None,
    user_prior_weight=None,
    item_prior=None,
    item_prior_weight=None,
    n_threads: int = 0,
    user_bias_prior=None,
) -> float:
    """One epoch of biased SGD matrix factorisation over every stored rating (in place).

    Per sample (u, i, r) with weight v (``weights``, default 1) and error
    e = r - (global_mean + b_u + b_i + x_u . y_i), a gradient step of lr on

        0.5 v e^2 + 0.5 reg (||x_u||^2 + ||y_i||^2) + 0.5 reg_b (b_u^2 + b_i^2)
        + 0.5 w_u ||x_u - user_prior[u]||^2 + 0.5 w_i ||y_i - item_prior[i]||^2

    [+ 0.5 w_u (b_u - user_bias_prior[u])^2 when ``user_bias_prior`` is given]

    (Funk / Koren's biased SVD, as Surprise's SVD). Entries are visited in stratified blocks
    (DSGD): users and items are hashed into 16 groups per epoch, blocks sharing no user or item
    run in parallel, each block in an order shuffled from (seed, epoch, block). So the result
    depends on (seed, epoch) only, never on the thread count.

    Parameters
    ----------
    matrix : scipy CSR (n_users, n_items) of ratings (targets).
    X, Y : (n_users, f), (n_items, f) float32 C-contiguous, updated in place.
    user_bias, item_bias : float32 vectors updated in place, or both None (no biases).
    bias_regularization : reg_b, default ``regularization``.
    user_bias_prior : optional (n_users,) targets of the user biases, pulled with the weights
        ``user_prior_weight`` (needs the biases and the user prior).
    epoch, seed : select the random streams; pass a new epoch number every epoch.

    Returns
    -------
    The weighted mean squared training error over the epoch (each error taken before its update).
    """
    m = kernel_csr(matrix)
    X, Y = check_inplace(X, "X"), check_inplace(Y, "Y")
    user_bias = _optional_inplace_vector(user_bias, X.shape[0], "user_bias")
    item_bias = _optional_inplace_vector(item_bias, Y.shape[0], "item_bias")
    up = prior_args(user_prior, user_prior_weight, X.shape[0], X.shape[1], "user_prior")
    ip = prior_args(item_prior, item_prior_weight, Y.shape[0], Y.shape[1], "item_prior")
    if weights is not None:
        weights = np.ascontiguousarray(weights, dtype=VALUE_DTYPE)
        if weights.shape != (m.nnz,):
            raise ValueError(f"weights must have one value per stored entry ({m.nnz}), got shape {weights.shape}")
    if user_bias_prior is not None:
        if user_bias is None or up[0] is None:
            raise ValueError("user_bias_prior needs user_bias/item_bias and user_prior/user_prior_weight (its weights)")
        user_bias_prior = np.ascontiguousarray(user_bias_prior, dtype=VALUE_DTYPE)
        if user_bias_prior.shape != (X.shape[0],):
            raise ValueError(f"user_bias_prior must have shape ({X.shape[0]},), got {user_bias_prior.shape}")
        if not np.all(np.isfinite(user_bias_prior)):
            raise ValueError("user_bias_prior holds NaN or infinite values")
    reg = check_float(regularization, "regularization", 0.0)
    reg_b = reg if bias_regularization is None else check_float(bias_regularization, "bias_regularization", 0.0)
    sse = _core.sgd_epoch(
        m.indptr,
        m.indices,
        m.data,
        X,
        Y,
        user_bias,
        item_bias,
        check_float(global_mean, "global_mean"),
        check_float(learning_rate, "learning_rate", 0.0, strict_min=True),
        reg,
        reg_b,
        check_positive_int(epoch, "epoch", 0),
        check_positive_int(seed, "seed", 0),
        weights,
        up[0],
        up[1],
        ip[0],
        ip[1],
        check_n_threads(n_threads),
        user_bias_prior,
    )
    total = float(weights.sum()) if weights is not None else float(m.nnz)
    return sse / total if total > 0 else 0.0


def bpr_epoch(
    matrix,
    X: np.ndarray,
    Y: np.ndarray,
    item_bias: Optional[np.ndarray] = None,
    learning_rate: float = 0.01,
    regularization: float = 0.01,
    bias_regularization: Optional[float] = None,
    epoch: int = 0,
    seed: int = 0,
    user_prior=None,
    user_prior_weight=None,
    item_prior=None,
    item_prior_weight=None,
    n_threads: int = 0,
) -> tuple[float, float]:
    """One epoch of Bayesian personalised ranking (Rendle et al. 2009) by SGD, in place.

    One sample per stored entry (u, i) with value > 0; the negative j is drawn uniformly among the
    items of i's stratum not stored in u's row. Per sample, a gradient step of lr on

        -log sigmoid(x_u . (y_i - y_j) + b_i - b_j) + 0.5 reg (||x_u||^2 + ||y_i||^2 + ||y_j||^2)
        + 0.5 reg_b (b_i^2 + b_j^2) + prior terms as in :func:`sgd_epoch`.

    Same stratified, thread-count independent schedule as :func:`sgd_epoch` (strata are re-drawn
    every epoch, so across epochs the negatives are uniform over all items).

    Returns
    -------
    (mean loss -log sigmoid, fraction of samples already ranked correctly), both before updates.
    """
    m = kernel_csr(matrix)
    X, Y = check_inplace(X, "X"), check_inplace(Y, "Y")
    item_bias = _optional_inplace_vector(item_bias, Y.shape[0], "item_bias")
    up = prior_args(user_prior, user_prior_weight, X.shape[0], X.shape[1], "user_prior")
    ip = prior_args(item_prior, item_prior_weight, Y.shape[0], Y.shape[1], "item_prior")
    reg = check_float(regularization, "regularization", 0.0)
    reg_b = reg if bias_regularization is None else check_float(bias_regularization, "bias_regularization", 0.0)
    taken, loss, correct = _core.bpr_epoch(
        m.indptr,
        m.indices,
        m.data,
        X,
        Y,
        item_bias,
        check_float(learning_rate, "learning_rate", 0.0, strict_min=True),
        reg,
        reg_b,
        check_positive_int(epoch, "epoch", 0),
        check_positive_int(seed, "seed", 0),
        up[0],
        up[1],
        ip[0],
        ip[1],
        check_n_threads(n_threads),
    )
    return (loss / taken, correct / taken) if taken else (0.0, 0.0)
