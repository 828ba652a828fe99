"""Collective matrix factorisation: one factorisation of both domains with shared user factors."""
from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp

from .._validation import check_float, check_positive_int, check_seed
from ._als import TransferALS, _gaussian, _with, solve_rows
from ._common import check_pair
from .domains import CrossDomain


class CMF(TransferALS):
    """Collective matrix factorisation (Singh & Gordon 2008) on the ALS row solver.

    Minimises ``w_s * L(source) + w_t * L(target) + regularization * ||.||^2`` where both losses
    share the user rows ``x_u`` (with a shared bias column when explicit) and each domain has its
    own item factors and global mean. The user step solves against the stacked item factors
    ``[Y_s; Y_t]`` with per-entry weights ``w_s``/``w_t`` (implicit: plus the combined gram
    ``w_s Y_s^T Y_s + w_t Y_t^T Y_t``). Users cold in the target get their factors from the
    source term alone. Scores and predictions are those of the target domain.

    Parameters
    ----------
    factors, iterations, regularization, implicit, alpha, seed : as in :class:`TransferALS`.
    weights : (float, float)
        (w_source, w_target) >= 0, not both 0.
    """

    def __init__(self, factors: int = 32, iterations: int = 10, regularization: float = 5.0,
                 implicit: Optional[bool] = None, alpha: float = 10.0, weights=(0.5, 1.0), seed: int = 0):
        super().__init__(factors, iterations, regularization, implicit, alpha, seed)
        self.weights = weights

    def fit(self, pair: CrossDomain) -> "CMF":  # type: ignore[override]
        pair = check_pair(pair, "CMF")
        if np.ndim(self.weights) != 1 or len(self.weights) != 2:
            raise ValueError(f"weights must be a pair (w_source, w_target), got {self.weights!r}")
        ws = check_float(self.weights[0], "weights[0]", 0.0)
        wt = check_float(self.weights[1], "weights[1]", 0.0, strict_min=True)
        k = check_positive_int(self.factors, "factors")
        iters = check_positive_int(self.iterations, "iterations")
        reg = check_float(self.regularization, "regularization", 0.0, strict_min=True)
        alpha = check_float(self.alpha, "alpha", 0.0, strict_min=True)
        Rt = self._start_fit(pair.target)
        Rs = pair.source.matrix
        implicit = (not pair.target.explicit) if self.implicit is None else bool(self.implicit)
        rng = np.random.default_rng(check_seed(self.seed))
        n = Rt.shape[0]
        d = k if implicit else k + 1
        X = _gaussian(rng, n, d)
        Ys, Yt = _gaussian(rng, Rs.shape[1], d), _gaussian(rng, Rt.shape[1], d)
        self.implicit_ = implicit
        if implicit:
            Ws = [Rs * (ws * alpha), Rt * (wt * alpha)]
            Vs = [_with(Rs, ws * (1 + alpha * Rs.data)), _with(Rt, wt * (1 + alpha * Rt.data))]
            Wu, Vu = sp.hstack(Ws, format="csr"), sp.hstack(Vs, format="csr")
            dom = [(Rs, ws), (Rt, wt)]
            for _ in range(iters):
                # An item row only sees its own domain's loss, scaled by w: same as reg / w.
                Y = [solve_rows(sp.csr_matrix((R * alpha).T), sp.csr_matrix(_with(R, 1 + alpha * R.data).T), X,
                                reg / max(w, 1e-6), gram=X.T.astype(np.float64) @ X) for R, w in dom]
                Ys, Yt = Y
                gram = ws * Ys.T.astype(np.float64) @ Ys + wt * Yt.T.astype(np.float64) @ Yt
                X = solve_rows(Wu, Vu, np.vstack([Ys, Yt]), reg, gram=gram)
            self.user_factors_, self.item_factors_, self.source_item_factors_ = X, Yt, Ys
            self.global_mean_ = 0.0
            return self
        mus, mut = float(Rs.data.mean()), float(Rt.data.mean())
        ones = [_with(R, np.ones(R.nnz)) for R in (Rs, Rt)]
        rows = [R.tocoo().row for R in (Rs, Rt)]
        cols = [R.tocoo().col for R in (Rs, Rt)]
        Wu = sp.hstack([ones[0] * ws, ones[1] * wt], format="csr")
        for _ in range(iters):
            Xa = np.hstack([X[:, :k], np.ones((n, 1), np.float32)])
            Y = []
            for R, o, r, mu, w in ((Rs, ones[0], rows[0], mus, ws), (Rt, ones[1], rows[1], mut, wt)):
                Y.append(solve_rows(sp.csr_matrix(o.T), sp.csr_matrix(_with(o, R.data - mu - X[r, k]).T), Xa,
                                    reg / max(w, 1e-6)))
            Ys, Yt = Y
            Ya = np.vstack([np.hstack([Ys[:, :k], np.ones((len(Ys), 1), np.float32)]),
                            np.hstack([Yt[:, :k], np.ones((len(Yt), 1), np.float32)])])
            Vu = sp.hstack([_with(ones[0], ws * (Rs.data - mus - Ys[cols[0], k])),
                            _with(ones[1], wt * (Rt.data - mut - Yt[cols[1], k]))], format="csr")
            X = solve_rows(Wu, Vu, Ya, reg)
        self.user_factors_, self.item_factors_, self.source_item_factors_ = X, Yt, Ys
        self.global_mean_ = mut
        return self
