"""A small alternating-least-squares core with the prior hook the transfer methods need.

Private stop-gap: the transfer methods need ALS half-steps with a per-row ridge prior
(``prior_weight[u] * ||x_u - prior[u]||^2``), per-entry weights and an extra gram term (for
collective factorisation). The C++ ALS of the ``mf`` branch promises exactly this hook
(``crossrec.factorization.als_*_step``); until it is merged, this module solves the same normal
equations in vectorised numpy/scipy (one sparse-dense product for all the per-row grams, then a
batched ``numpy.linalg.solve``), which is fast enough for the cross-domain data sets here.

Every row solve is the ridge system

    (gram + sum_i w_ui y_i y_i^T + (reg + p_u) I) x_u = sum_i v_ui y_i + p_u prior_u

where ``W`` (weights) and ``V`` (right-hand side weights) are sparse with the row's observed
entries: explicit ratings use ``W = w``, ``V = w * target``; implicit feedback (Hu, Koren, Volinsky
2008) uses ``gram = Y^T Y``, ``W = alpha * r`` (confidence minus one), ``V = 1 + alpha * r``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp

from .._validation import as_factors, check_float, check_positive_int, check_seed
from ..data import Interactions
from ..models.base import Recommender

_BLOCK_BYTES = 1 << 27  # cap on one block of per-row grams (128 MiB)


def solve_rows(W: sp.csr_matrix, V: sp.csr_matrix, Y: np.ndarray, reg: float,
               gram: Optional[np.ndarray] = None, prior: Optional[np.ndarray] = None,
               prior_weight: Optional[np.ndarray] = None) -> np.ndarray:
    """Solve every row's ridge system (see the module docstring); returns (n_rows, k) float32.

    W, V: (n_rows, n_cols) CSR with the same pattern. Y: (n_cols, k). prior: (n_rows, k) or None;
    prior_weight: (n_rows,) >= 0 or None.
    """
    Y64 = Y.astype(np.float64)
    n, k = W.shape[0], Y.shape[1]
    rhs = np.asarray(V @ Y64)
    base = reg * np.eye(k) + (gram if gram is not None else 0.0)
    if prior is not None:
        pw = np.asarray(prior_weight, np.float64)
        rhs += pw[:, None] * prior
    # All per-row grams by one sparse x dense product with the columns' outer products (n_cols x k^2,
    # float32 to halve memory; each gram sums few terms, the solve itself is in float64).
    YY = (Y[:, :, None] * Y[:, None, :]).reshape(len(Y), k * k).astype(np.float32)
    W32 = sp.csr_matrix(W, dtype=np.float32)
    out = np.empty((n, k), np.float32)
    step = max(1, _BLOCK_BYTES // (4 * k * k))
    for s in range(0, n, step):
        A = np.asarray(W32[s:s + step] @ YY).reshape(-1, k, k).astype(np.float64) + base
        if prior is not None:
            A += pw[s:s + step, None, None] * np.eye(k)
        out[s:s + step] = np.linalg.solve(A, rhs[s:s + step, :, None])[:, :, 0]
    return out


def _gaussian(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)


class TransferALS(Recommender):
    """Matrix factorisation by ALS with an optional ridge prior on the user factors.

    Explicit data: r_ui ~ mu + b_u + b_i + x_u . y_i, minimising squared error plus
    ``regularization * (||x_u||^2 + b_u^2 + ||y_i||^2 + b_i^2)`` (biases solved jointly with the
    factors by augmenting them with a constant column). Implicit data: the weighted matrix
    factorisation of Hu et al. (confidence ``1 + alpha * r``), no biases.

    Parameters
    ----------
    factors : int
        Latent dimension k.
    iterations : int
        Alternating sweeps (items then users).
    regularization : float
        Ridge strength on every row (explicit: per rating-weighted row; implicit: absolute).
    implicit : bool or None
        None: follow the training data's ``explicit`` flag.
    alpha : float
        Implicit confidence scale.
    seed : int
        Initialisation seed.
    """

    def __init__(self, factors: int = 32, iterations: int = 10, regularization: float = 5.0,
                 implicit: Optional[bool] = None, alpha: float = 10.0, seed: int = 0):
        self.factors = factors
        self.iterations = iterations
        self.regularization = regularization
        self.implicit = implicit
        self.alpha = alpha
        self.seed = seed

    def fit(self, data: Interactions, *, user_init: Optional[np.ndarray] = None,
            user_prior: Optional[np.ndarray] = None, user_prior_weight=None) -> "TransferALS":
        """Fit on ``data``; ``user_init``/``user_prior`` are (n_users, factors[+1 for the explicit
        bias]) arrays, ``user_prior_weight`` a scalar or (n_users,) array of ridge weights toward
        the prior (rows with no training data then sit at ``prior * p / (reg + p)``)."""
        m = self._start_fit(data)
        k = check_positive_int(self.factors, "factors")
        iters = check_positive_int(self.iterations, "iterations")
        reg = check_float(self.regularization, "regularization", 0.0, strict_min=True)
        alpha = check_float(self.alpha, "alpha", 0.0, strict_min=True)
        implicit = (not data.explicit) if self.implicit is None else bool(self.implicit)
        rng = np.random.default_rng(check_seed(self.seed))
        n_users, n_items = m.shape
        du = k if implicit else k + 1  # explicit user rows carry [x_u, b_u]
        if user_prior is not None:
            user_prior = as_factors(user_prior, "user_prior").astype(np.float64)
            if user_prior.shape != (n_users, du):
                raise ValueError(f"user_prior must have shape {(n_users, du)}, got {user_prior.shape}")
            pw = np.broadcast_to(np.asarray(user_prior_weight if user_prior_weight is not None else 0.0,
                                            np.float64), (n_users,)).copy()
            if not np.all(np.isfinite(pw)) or pw.min() < 0:
                raise ValueError("user_prior_weight must be finite and >= 0")
        else:
            pw = None
        X = _gaussian(rng, n_users, du) if user_init is None else as_factors(user_init, "user_init").copy()
        if X.shape != (n_users, du):
            raise ValueError(f"user_init must have shape {(n_users, du)}, got {X.shape}")
        Y = _gaussian(rng, n_items, k + (0 if implicit else 1))
        mt = sp.csr_matrix(m.T)
        self.implicit_ = implicit
        if implicit:
            Wu = m * alpha
            Vu = Wu.copy()
            Vu.data += 1.0
            Wi, Vi = sp.csr_matrix(Wu.T), sp.csr_matrix(Vu.T)
            for _ in range(iters):
                Y = solve_rows(Wi, Vi, X, reg, gram=X.T.astype(np.float64) @ X)
                X = solve_rows(Wu, Vu, Y, reg, gram=Y.T.astype(np.float64) @ Y, prior=user_prior, prior_weight=pw)
            self.user_factors_, self.item_factors_ = X, Y
            self.global_mean_ = 0.0
            return self
        mu = float(m.data.mean())
        ones_u = sp.csr_matrix((np.ones(m.nnz), m.indices, m.indptr), shape=m.shape)
        ones_i = sp.csr_matrix(ones_u.T)
        ui, ii = m.tocoo().row, m.tocoo().col
        for _ in range(iters):
            # items: design [x_u, 1] -> solution [y_i, b_i]; target r - mu - b_u
            Xa = np.hstack([X[:, :k], np.ones((n_users, 1), np.float32)])
            t = m.data - mu - X[ui, k]
            Y = solve_rows(ones_i, _with(ones_u, t).T.tocsr(), Xa, reg)
            # users: design [y_i, 1] -> solution [x_u, b_u]; target r - mu - b_i
            Ya = np.hstack([Y[:, :k], np.ones((n_items, 1), np.float32)])
            t = m.data - mu - Y[ii, k]
            X = solve_rows(ones_u, _with(ones_u, t), Ya, reg, prior=user_prior, prior_weight=pw)
        self.user_factors_, self.item_factors_, self.global_mean_ = X, Y, mu
        return self

    # ---- scoring: explicit r = mu + b_u + b_i + x.y ; implicit x.y ----------------------------
    def _k(self) -> int:
        return self.item_factors_.shape[1] - (0 if self.implicit_ else 1)

    def _factors(self, user_idx):
        k = self._k()
        bias = None if self.implicit_ else self.item_factors_[:, k].copy()
        return (np.ascontiguousarray(self.user_factors_[user_idx, :k]),
                np.ascontiguousarray(self.item_factors_[:, :k]), bias)

    def _predict_indices(self, user_idx, item_idx):
        k = self._k()
        x, y = self.user_factors_[user_idx], self.item_factors_[item_idx]
        p = np.einsum("ij,ij->i", x[:, :k], y[:, :k])
        if not self.implicit_:
            p = p + self.global_mean_ + x[:, k] + y[:, k]
        return p

    def _item_vectors(self):
        return self.item_factors_[:, :self._k()]


def _with(pattern: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    return sp.csr_matrix((np.asarray(data, np.float64), pattern.indices, pattern.indptr), shape=pattern.shape)
