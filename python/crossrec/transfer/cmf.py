"""Collective matrix factorisation: one factorisation of both domains with shared user factors."""

from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .. import factorization as fz
from .._validation import check_float, check_seed
from ._als import BiasColumnScoring, _gaussian, _ones_column, _with, _with32, solve_rows
from ._common import check_pair
from .base import TransferRecommender
from .domains import CrossDomain


class CMF(BiasColumnScoring, TransferRecommender):
    """Collective matrix factorisation (Singh & Gordon 2008) on the ALS half-steps.

    Minimises ``w_s * L(source) + w_t * L(target) + ridge`` where both losses share the user rows
    (``[x_u, b_u]`` for explicit data: the bias is shared too) and each domain has its own item
    factors (and global mean). The user step solves against the stacked item rows ``[Y_s; Y_t]``:

    * explicit: one C++ step on the side-by-side matrix ``[R_s - offsets, R_t - offsets]`` with
      per-entry weights ``w_s`` / ``w_t`` (ALS-WR ridge: regularization times the weighted count);
    * implicit: the combined gram ``w_s Y_s^T Y_s + w_t Y_t^T Y_t``; with weights (1, 1) that is one
      C++ step on ``[R_s, R_t]``, otherwise the exact numpy ``solve_rows`` (the C++ right-hand side
      has no per-entry weight).

    Item steps are per domain on the C++ step (implicit ridge ``regularization / w``: a domain's
    weight scales its whole item-row objective). Users cold in the target get their rows from the
    source term alone. Scores and predictions are the target domain's.

    Parameters
    ----------
    factors, iterations, regularization, implicit, alpha, seed, n_threads : as in TransferALS.
    weights : (float, float)
        (w_source, w_target): w_source >= 0, w_target > 0.

    Attributes
    ----------
    user_factors_ (shared rows), item_factors_ (target), source_item_factors_, global_mean_ (target).
    """

    def __init__(
        self,
        factors: int = 32,
        iterations: int = 10,
        regularization: float = 0.1,
        implicit: Optional[bool] = None,
        alpha: float = 10.0,
        weights=(0.5, 1.0),
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
        self.weights = weights

    def fit(self, pair: CrossDomain) -> CMF:
        pair = check_pair(pair, "CMF")
        if np.ndim(self.weights) != 1 or len(self.weights) != 2:
            raise ValueError(f"weights must be a pair (w_source, w_target), got {self.weights!r}")
        ws = check_float(self.weights[0], "weights[0]", 0.0)
        wt = check_float(self.weights[1], "weights[1]", 0.0, strict_min=True)
        k, iters, reg, alpha, implicit, threads = self._check(pair.target.explicit)
        Rt = fz.kernel_csr(self._start_fit(pair.target))
        Rs = fz.kernel_csr(pair.source.matrix)
        rng = np.random.default_rng(check_seed(self.seed))
        n = Rt.shape[0]
        d = k if implicit else k + 1
        X = _gaussian(rng, n, d)
        Ys, Yt = _gaussian(rng, Rs.shape[1], d), _gaussian(rng, Rt.shape[1], d)
        RsT, RtT = fz.kernel_csr(Rs.T.tocsr()), fz.kernel_csr(Rt.T.tocsr())
        self.implicit_ = implicit
        with threadpool_limits(1, "blas"):
            if implicit:
                X, Ys, Yt = self._implicit(Rs, Rt, RsT, RtT, X, Ys, Yt, ws, wt, reg, alpha, iters, threads)
                self.global_mean_ = 0.0
            else:
                X, Ys, Yt, mut = self._explicit(Rs, Rt, RsT, RtT, X, Ys, Yt, ws, wt, reg, iters, threads)
                self.global_mean_ = mut
        self.user_factors_, self.item_factors_, self.source_item_factors_ = X, Yt, Ys
        return self

    @staticmethod
    def _explicit(Rs, Rt, RsT, RtT, X, Ys, Yt, ws, wt, reg, iters, threads):
        mus, mut = float(Rs.data.mean()), float(Rt.data.mean())
        both = sp.hstack([Rs, Rt], format="csr")  # columns: source items, then target items
        src_col = both.indices < Rs.shape[1]
        weights = np.where(src_col, ws, wt).astype(np.float32)
        mu_e = np.where(src_col, mus, mut)
        for _ in range(iters):
            for RT, Y, mu in ((RsT, Ys, mus), (RtT, Yt, mut)):
                fz.als_explicit_step(
                    _with32(RT, RT.data - mu - X[RT.indices, -1]), _ones_column(X), Y, reg, n_threads=threads
                )
            Ya = _ones_column(np.vstack([Ys, Yt]))
            Yb = np.concatenate([Ys[:, -1], Yt[:, -1]])
            t = _with32(both, both.data - mu_e - Yb[both.indices])
            fz.als_explicit_step(t, Ya, X, reg, weights=weights, n_threads=threads)
        return X, Ys, Yt, mut

    @staticmethod
    def _implicit(Rs, Rt, RsT, RtT, X, Ys, Yt, ws, wt, reg, alpha, iters, threads):
        both = sp.hstack([Rs, Rt], format="csr")
        if ws != 1.0 or wt != 1.0:
            src_col = both.indices < Rs.shape[1]
            w = np.where(src_col, ws, wt)
            W = _with(both, w * alpha * both.data)
            V = _with(both, w * (1.0 + alpha * both.data))
        for _ in range(iters):
            fz.als_implicit_step(RsT, X, Ys, reg / max(ws, 1e-6), alpha, n_threads=threads)
            fz.als_implicit_step(RtT, X, Yt, reg / wt, alpha, n_threads=threads)
            gram = ws * Ys.T.astype(np.float64) @ Ys + wt * Yt.T.astype(np.float64) @ Yt
            Y = np.vstack([Ys, Yt])
            if ws == 1.0 and wt == 1.0:
                fz.als_implicit_step(fz.kernel_csr(both), Y, X, reg, alpha, n_threads=threads)
            else:
                X = solve_rows(W, V, Y, reg, gram=gram)
        return X, Ys, Yt
