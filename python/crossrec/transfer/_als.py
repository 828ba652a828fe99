"""The ALS factor model the transfer methods share, on the C++ half-steps of crossrec.factorization.

``solve_rows`` is an exact numpy solver for the one system the C++ steps cannot express: an
implicit-feedback row whose entries carry per-domain weights (the user step of implicit CMF with
weights != (1, 1); the kernel's right-hand side has no per-entry weight). It solves

    (gram + sum_i w_ui y_i y_i^T + (reg + p_u) I) x_u = sum_i v_ui y_i + p_u prior_u

where ``W`` (weights) and ``V`` (right-hand side weights) are sparse with the row's observed
entries: explicit ratings use ``W = w``, ``V = w * target``; implicit feedback (Hu, Koren, Volinsky
2008) uses ``gram = Y^T Y``, ``W = alpha * r`` (confidence minus one), ``V = 1 + alpha * r``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .. import factorization as fz
from .._validation import as_factors, check_float, check_n_threads, check_positive_int, check_seed
from ..data import Interactions
from ..models.base import Recommender

_BLOCK_BYTES = 1 << 27  # cap on one block of per-row grams (128 MiB)


def solve_rows(
    W: sp.csr_matrix,
    V: sp.csr_matrix,
    Y: np.ndarray,
    reg: float,
    gram: Optional[np.ndarray] = None,
    prior: Optional[np.ndarray] = None,
    prior_weight: Optional[np.ndarray] = None,
) -> np.ndarray:
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
        A = np.asarray(W32[s : s + step] @ YY).reshape(-1, k, k).astype(np.float64) + base
        if prior is not None:
            A += pw[s : s + step, None, None] * np.eye(k)
        out[s : s + step] = np.linalg.solve(A, rhs[s : s + step, :, None])[:, :, 0]
    return out


def _gaussian(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)


class BiasColumnScoring:
    """Hyper-parameter checks and scoring of ALS models whose rows carry the explicit bias as their
    last column (``[x_u, b_u]`` / ``[y_i, b_i]``): TransferALS and CMF share them."""

    factors: int
    iterations: int
    regularization: float
    implicit: Optional[bool]
    alpha: float
    n_threads: int
    implicit_: bool
    user_factors_: np.ndarray
    item_factors_: np.ndarray
    global_mean_: float

    def _check(self, explicit_data: bool) -> tuple[int, int, float, float, bool, int]:
        k = check_positive_int(self.factors, "factors")
        iters = check_positive_int(self.iterations, "iterations")
        reg = check_float(self.regularization, "regularization", 0.0, strict_min=True)
        alpha = check_float(self.alpha, "alpha", 0.0, strict_min=True)
        implicit = (not explicit_data) if self.implicit is None else bool(self.implicit)
        return k, iters, reg, alpha, implicit, check_n_threads(self.n_threads)

    # ---- scoring: explicit r = mu + b_u + b_i + x.y ; implicit x.y ----------------------------
    def _k(self) -> int:
        return self.item_factors_.shape[1] - (0 if self.implicit_ else 1)

    def _factors(self, user_idx):
        k = self._k()
        bias = None if self.implicit_ else self.item_factors_[:, k].copy()
        return (
            np.ascontiguousarray(self.user_factors_[user_idx, :k]),
            np.ascontiguousarray(self.item_factors_[:, :k]),
            bias,
        )

    def _predict_indices(self, user_idx, item_idx):
        k = self._k()
        x, y = self.user_factors_[user_idx], self.item_factors_[item_idx]
        p = np.einsum("ij,ij->i", x[:, :k], y[:, :k])
        if not self.implicit_:
            p = p + self.global_mean_ + x[:, k] + y[:, k]
        return p

    def _item_vectors(self):
        return self.item_factors_[:, : self._k()]


class TransferALS(BiasColumnScoring, Recommender):
    """Matrix factorisation by ALS on the C++ half-steps, with a ridge prior on whole user rows.

    Explicit data: r_ui ~ mu + b_u + b_i + x_u . y_i. The biases ride along as an extra column
    (user rows ``[x_u, b_u]`` against item rows ``[y_i, 1]``, then ``[y_i, b_i]`` against
    ``[x_u, 1]``), so the prior of a transfer method covers a user's factors *and* bias: a user's
    rating level carries over from the source. Ridge is ALS-WR (``regularization`` times the row's
    number of ratings), so a row without ratings sits exactly on its prior. Implicit data: the
    weighted factorisation of Hu et al. (confidence ``1 + alpha * r``), conjugate-gradient rows.
    This differs from :class:`crossrec.ALS` only in the prior on the bias (crossrec.ALS pulls
    biases toward 0), which is what transfer needs.

    Parameters
    ----------
    factors : int
        Latent dimension k.
    iterations : int
        Alternating sweeps (items then users).
    regularization : float
        Ridge weight (explicit: per rating; implicit: per row).
    implicit : bool or None
        None: follow the training data's ``explicit`` flag.
    alpha : float
        Implicit confidence scale.
    seed : int
        Initialisation seed.
    n_threads : int
        0 = all cores; results do not depend on it.
    """

    def __init__(
        self,
        factors: int = 32,
        iterations: int = 10,
        regularization: float = 0.1,
        implicit: Optional[bool] = None,
        alpha: float = 10.0,
        seed: int = 0,
        n_threads: int = 0,
    ):
        self.factors = factors
        self.iterations = iterations
        self.regularization = regularization
        self.implicit = implicit
        self.alpha = alpha
        self.seed = seed
        self.n_threads = n_threads

    def user_width(self, explicit_data: bool) -> int:
        """Columns of a user row (factors, plus the bias column for explicit data)."""
        k, _, _, _, implicit, _ = self._check(explicit_data)
        return k if implicit else k + 1

    def fit(
        self,
        data: Interactions,
        *,
        user_init: Optional[np.ndarray] = None,
        user_prior: Optional[np.ndarray] = None,
        user_prior_weight=None,
    ) -> TransferALS:
        """Fit on ``data``.

        user_init, user_prior : (n_users, user_width) arrays (explicit: ``[x_u, b_u]``).
        user_prior_weight : scalar or (n_users,) weights >= 0 of ``||row_u - prior_u||^2``.
        """
        m = self._start_fit(data)
        k, iters, reg, alpha, implicit, threads = self._check(data.explicit)
        rng = np.random.default_rng(check_seed(self.seed))
        n_users, n_items = m.shape
        d = k if implicit else k + 1
        prior, pw = fz.prior_args(user_prior, user_prior_weight, n_users, d, "user_prior")
        X = _gaussian(rng, n_users, d) if user_init is None else np.array(as_factors(user_init, "user_init"))
        if X.shape != (n_users, d):
            raise ValueError(f"user_init must have shape {(n_users, d)}, got {X.shape}")
        Y = _gaussian(rng, n_items, d)
        m = fz.kernel_csr(m)
        mt = fz.kernel_csr(m.T.tocsr())
        self.implicit_ = implicit
        with threadpool_limits(1, "blas"):
            if implicit:
                for _ in range(iters):
                    fz.als_implicit_step(mt, X, Y, reg, alpha, n_threads=threads)
                    fz.als_implicit_step(m, Y, X, reg, alpha, prior=prior, prior_weight=pw, n_threads=threads)
                self.global_mean_ = 0.0
            else:
                self.global_mean_ = mu = float(m.data.mean())
                X, Y = explicit_sweeps(m, mt, X, Y, mu, reg, iters, threads, prior, pw)
        self.user_factors_, self.item_factors_ = X, Y
        return self


def _with(pattern: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    return sp.csr_matrix((np.asarray(data, np.float64), pattern.indices, pattern.indptr), shape=pattern.shape)


def _with32(pattern: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    out = sp.csr_matrix((np.asarray(data, np.float32), pattern.indices, pattern.indptr), shape=pattern.shape)
    out.has_canonical_format = True
    return out


def _ones_column(A: np.ndarray) -> np.ndarray:
    out = np.array(A, np.float32, copy=True)
    out[:, -1] = 1.0
    return out


def explicit_sweeps(m, mt, X, Y, mu, reg, iters, threads, prior=None, pw=None):
    """Biased explicit ALS sweeps with augmented rows (last column = bias) on the C++ step.

    Item step: rows [y_i, b_i] against [x_u, 1] with target r - mu - b_u; user step: rows
    [x_u, b_u] against [y_i, 1] with target r - mu - b_i (and the user prior)."""
    for _ in range(iters):
        t = _with32(mt, mt.data - mu - X[mt.indices, -1])
        fz.als_explicit_step(t, _ones_column(X), Y, reg, n_threads=threads)
        t = _with32(m, m.data - mu - Y[m.indices, -1])
        fz.als_explicit_step(t, _ones_column(Y), X, reg, prior=prior, prior_weight=pw, n_threads=threads)
    return X, Y
