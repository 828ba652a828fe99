"""Consensus CMF: one ALS per domain whose shared user rows are tied by ADMM consensus (the idea of
CDIMF, Samra et al. 2024, github aa-samra/cd-imf), on crossrec's ALS half-steps."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import factorization as fz
from .._validation import check_choice, check_float, check_n_threads, check_positive_int, check_seed
from ..models.mf import DEFAULT_REGULARIZATION, FactorRecommender
from ._common import check_pair
from .cmf import SHARED_USER_ROWS_SCHEMA
from .base import TransferRecommender
from .domains import CrossDomain


class ConsensusCMF(FactorRecommender, TransferRecommender):
    """Each domain keeps its own ALS (its own user rows ``x_u^d`` and item rows); the rows of the users
    of both domains are tied by consensus ADMM (Boyd et al. 2011, section 7.1), which is how CDIMF
    shares users without one joint factorisation.

    Each iteration, for each domain d: one user half-step solving

        L_d(x_u^d) + ridge + rho ||x_u^d - (z_u - w_u^d)||^2     (users of both domains; rho = 0 otherwise)

    (the ALS step's per-row prior, in C++: :func:`crossrec.factorization.als_implicit_step` /
    :func:`~crossrec.factorization.als_biased_step`), then one item half-step; then the consensus
    ``z_u = mean_d(x_u^d + w_u^d)`` and the scaled duals ``w_u^d += x_u^d - z_u``. ``rho`` sets how
    tightly the domains agree: with many iterations the rows reach consensus and the model tends to
    :class:`CMF` with equal weights; with few, each domain keeps what is its own.

    Unlike CDIMF's code this is textbook ADMM: the penalty rho enters the system matrix as well as
    the right-hand side (CDIMF adds ``reg * R_u * rho (z - w)`` to the right-hand side only), and the
    ridge is the ALS one (no frequency scaling).

    Scores are the target's: target user rows for users with target data; users cold in the target
    (source data only) get their source rows (as CDIMF scores cold users with the other domain's
    factors). For explicit ratings the rows are ``[x_u, b_u]`` (ALS-WR ridge, a mean per domain),
    so the bias is shared by consensus too.

    Parameters
    ----------
    factors, iterations, regularization, implicit, alpha, seed, n_threads : as in :class:`crossrec.ALS`
        (regularization None: the per-kind default, 1.0 implicit, 0.1 explicit).
    rho : float >= 0
        Consensus penalty (0: two independent ALS, cold users still scored from the source rows).
    solver : {"cg", "cholesky"}
        Implicit data: the ALS step's solver (3 conjugate-gradient steps, or exact); explicit is exact.

    Attributes
    ----------
    user_factors_, user_bias_, item_factors_, item_bias_, global_mean_ (target),
    source_item_factors_, source_item_bias_, source_global_mean_, implicit_, regularization_.
    """

    state_schema = SHARED_USER_ROWS_SCHEMA

    def __init__(
        self,
        factors: int = 32,
        iterations: int = 10,
        regularization: Optional[float] = None,
        implicit: Optional[bool] = None,
        alpha: float = 10.0,
        rho: float = 1.0,
        solver: str = "cg",
        seed: int = 0,
        n_threads: int = 0,
    ):
        self.factors = factors
        self.iterations = iterations
        self.regularization = regularization
        self.implicit = implicit
        self.alpha = alpha
        self.rho = rho
        self.solver = solver
        self.seed = seed
        self.n_threads = n_threads

    def has_user_bias(self, explicit_data: bool = True) -> bool:
        return bool(explicit_data if self.implicit is None else not self.implicit)

    def user_width(self, explicit_data: bool = True) -> int:
        return check_positive_int(self.factors, "factors") + int(self.has_user_bias(explicit_data))

    def fit(self, pair: CrossDomain) -> ConsensusCMF:
        pair = check_pair(pair, "ConsensusCMF")
        k = check_positive_int(self.factors, "factors")
        iters = check_positive_int(self.iterations, "iterations")
        rho = check_float(self.rho, "rho", 0.0)
        alpha = check_float(self.alpha, "alpha", 0.0)
        threads = check_n_threads(self.n_threads)
        check_choice(self.solver, "solver", fz.SOLVERS)
        implicit = (not pair.target.explicit) if self.implicit is None else bool(self.implicit)
        kind = "implicit" if implicit else "explicit"
        reg = DEFAULT_REGULARIZATION[kind] if self.regularization is None else self.regularization
        reg = check_float(reg, "regularization", 0.0)
        Rt = fz.kernel_csr(self._start_fit(pair.target))
        Rs = fz.kernel_csr(pair.source.matrix)
        mats = (Rs, Rt)
        trans = tuple(fz.kernel_csr(R.T.tocsr()) for R in mats)
        active = [np.diff(R.indptr) > 0 for R in mats]
        both = active[0] & active[1]
        rng = np.random.default_rng(check_seed(self.seed))
        n, d = Rt.shape[0], k if implicit else k + 1
        # rows of users absent from a domain start (and, without data or prior, stay) at zero,
        # so they add nothing to that domain's item gram
        X = [np.where(a[:, None], _gaussian(rng, n, d, k), 0.0).astype(np.float32) for a in active]
        Y = [_gaussian(rng, R.shape[1], d, k) for R in mats]
        Z = np.zeros((n, d), np.float32)
        W = [np.zeros((n, d), np.float32) for _ in mats]
        # prior weights: rho for the users of both domains; 1 (toward the zero row) for users absent
        # from the domain, whose ALS-WR system would otherwise be empty (singular)
        weight = [np.where(both, rho, np.where(a, 0.0, 1.0)).astype(np.float32) for a in active]
        means = [0.0, 0.0] if implicit else [float(R.data.mean()) for R in mats]
        for _ in range(iters):
            for dom in (0, 1):
                prior = np.ascontiguousarray(Z - W[dom])
                if implicit:
                    fz.als_implicit_step(
                        mats[dom],
                        Y[dom],
                        X[dom],
                        reg,
                        alpha,
                        solver=self.solver,
                        prior=prior,
                        prior_weight=weight[dom],
                        n_threads=threads,
                    )
                    fz.als_implicit_step(trans[dom], X[dom], Y[dom], reg, alpha, solver=self.solver, n_threads=threads)
                else:
                    fz.als_biased_step(
                        mats[dom], Y[dom], X[dom], reg, offset=means[dom], prior=prior, prior_weight=weight[dom],
                        n_threads=threads,
                    )  # fmt: skip
                    fz.als_biased_step(trans[dom], X[dom], Y[dom], reg, offset=means[dom], n_threads=threads)
            if rho > 0:
                Z[both] = 0.5 * ((X[0][both] + W[0][both]) + (X[1][both] + W[1][both]))
                for dom in (0, 1):
                    W[dom][both] += X[dom][both] - Z[both]
        rows = X[1].copy()
        cold = active[0] & ~active[1]
        rows[cold] = X[0][cold]
        self.implicit_, self.regularization_ = implicit, float(reg)
        self.source_global_mean_, self.global_mean_ = means
        self.user_factors_, self.user_bias_ = _split(rows, k)
        self.item_factors_, self.item_bias_ = _split(Y[1], k)
        self.source_item_factors_, self.source_item_bias_ = _split(Y[0], k)
        return self


def _gaussian(rng: np.random.Generator, n: int, d: int, k: int) -> np.ndarray:
    return (rng.standard_normal((n, d)) / np.sqrt(k) * 0.1).astype(np.float32)


def _split(rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    bias = rows[:, k] if rows.shape[1] > k else np.zeros(0, np.float32)
    return np.ascontiguousarray(rows[:, :k]), np.ascontiguousarray(bias)
