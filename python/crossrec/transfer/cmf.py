"""Collective matrix factorisation: one factorisation of both domains with shared user rows."""

from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp

from .. import factorization as fz
from .._validation import check_choice, check_float, check_n_threads, check_positive_int, check_seed
from ..models.base import Recommender
from ..models.mf import ALS, FactorRecommender
from ._common import check_pair
from .base import TransferRecommender
from .domains import CrossDomain
from ..schema import Array, Scalar
from .mapping import fit_linear_map

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
    """Solve every row's ridge system exactly in numpy; returns (n_rows, k) float32.

    The one system the C++ steps cannot express: an implicit-feedback row whose entries carry
    per-domain weights (the user step of implicit CMF with weights != (1, 1); the kernel's
    right-hand side has no per-entry weight). Row u solves

        (gram + sum_i w_ui y_i y_i^T + (reg + p_u) I) x_u = sum_i v_ui y_i + p_u prior_u

    where ``W`` (weights) and ``V`` (right-hand side weights) are sparse with the row's observed
    entries: implicit feedback (Hu, Koren, Volinsky 2008) uses ``gram = Y^T Y``, ``W = alpha * r``
    (confidence minus one), ``V = 1 + alpha * r``. W, V: (n_rows, n_cols) CSR with the same
    pattern; Y: (n_cols, k); prior: (n_rows, k) or None; prior_weight: (n_rows,) >= 0 or None.
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


def _with(pattern: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    return sp.csr_matrix((np.asarray(data, np.float64), pattern.indices, pattern.indptr), shape=pattern.shape)


def _gaussian(rng: np.random.Generator, n: int, d: int, k: int) -> np.ndarray:
    return (rng.standard_normal((n, d)) / np.sqrt(k)).astype(np.float32)


# What a joint factorisation with shared user rows stores (CMF and ConsensusCMF).
SHARED_USER_ROWS_SCHEMA = {
    "implicit_": Scalar(bool),
    "regularization_": Scalar(float),
    "global_mean_": Scalar(float),
    "source_global_mean_": Scalar(float),
    "user_factors_": Array(("users", "factors"), "float32"),
    "user_bias_": Array((("users", 0),), "float32"),
    "item_factors_": Array(("items", "factors"), "float32"),
    "item_bias_": Array((("items", 0),), "float32"),
    "source_item_factors_": Array(("source_items", "factors"), "float32"),
    "source_item_bias_": Array((("source_items", 0),), "float32"),
}


class CMF(FactorRecommender, TransferRecommender):
    """Collective matrix factorisation (Singh & Gordon 2008) on the ALS half-steps.

    Minimises ``w_s * L(source) + w_t * L(target) + ridge`` where both losses share the user rows
    (``[x_u, b_u]`` for explicit data: the bias is shared too) and each domain has its own item
    rows (and global mean). The user step solves against the stacked item rows ``[Y_s; Y_t]``:

    * explicit: one :func:`crossrec.factorization.als_biased_step` on the side-by-side matrix
      ``[R_s, R_t]`` with a mean per domain and per-entry weights ``w_s`` / ``w_t`` (ALS-WR ridge:
      regularization times the weighted count) - the same biased step as :class:`crossrec.ALS`;
    * implicit: the combined gram ``w_s Y_s^T Y_s + w_t Y_t^T Y_t``; with weights (1, 1) that is one
      C++ step on ``[R_s, R_t]``, otherwise the exact numpy :func:`solve_rows` (the C++ right-hand
      side has no per-entry weight).

    Item steps are per domain on the C++ step (implicit ridge ``regularization / w``: a domain's
    weight scales its whole item-row objective). Scores and predictions are the target domain's.

    Users cold in the target have rows fitted to the source term alone. For explicit ratings,
    ``cold_rows="mapped"`` (and the default "auto") replaces them by the ridge regression of the shared rows on
    the source-only rows (one source half-step for every user), learnt on the users warm in both
    domains: the expected shared row given what the source says (as in :class:`FineTune`);
    ``cold_rows="source"`` keeps the source-only rows.

    Parameters
    ----------
    factors, iterations, regularization, implicit, alpha, seed, n_threads : as in :class:`crossrec.ALS`
        (defaults: the transfer default ALS; ``implicit=None`` follows the data).
    weights : (float, float)
        (w_source, w_target): w_source >= 0, w_target > 0.
    cold_rows : {"auto", "mapped", "source"}
        Rows of the users cold in the target, explicit data (see above); implicit: always "source"
        (as :class:`FineTune`'s "auto").
    map_l2 : float >= 0
        Ridge strength of that map.
    model : crossrec.ALS or None
        When given, its hyper-parameters (factors, iterations, regularization with its per-kind
        default, implicit, alpha, seed, n_threads) are used instead of the ones above, so
        ``CMF(model=cr.ALS(factors=32, implicit=False))`` factorises both domains as that ALS would.

    Attributes
    ----------
    user_factors_, user_bias_ (shared rows), item_factors_, item_bias_, global_mean_ (target),
    source_item_factors_, source_item_bias_, source_global_mean_, implicit_, regularization_.
    """

    state_schema = SHARED_USER_ROWS_SCHEMA

    def __init__(
        self,
        factors: int = 32,
        iterations: int = 10,
        regularization: Optional[float] = 0.1,
        implicit: Optional[bool] = None,
        alpha: float = 10.0,
        weights=(0.5, 1.0),
        seed: int = 0,
        n_threads: int = 0,
        cold_rows: str = "auto",
        map_l2: float = 10.0,
        model: Optional[ALS] = None,
    ):
        self.factors = factors
        self.iterations = iterations
        self.regularization = regularization
        self.implicit = implicit
        self.alpha = alpha
        self.weights = weights
        self.seed = seed
        self.n_threads = n_threads
        self.cold_rows = cold_rows
        self.map_l2 = map_l2
        self.model = model

    def _als(self) -> ALS:
        """The ALS whose hyper-parameters this CMF uses (``model``, or one built from its own)."""
        if self.model is None:
            return ALS(
                factors=self.factors,
                iterations=self.iterations,
                regularization=self.regularization,
                implicit=self.implicit,
                alpha=self.alpha,
                seed=self.seed,
                n_threads=self.n_threads,
            )
        if not isinstance(self.model, ALS):
            raise ValueError(
                f"CMF: model must be a crossrec.ALS (its hyper-parameters are used), got {type(self.model).__name__}"
            )
        return self.model

    def has_user_bias(self, explicit_data: bool = True) -> bool:
        return not self._als().implicit_for(explicit_data)

    def user_width(self, explicit_data: bool = True) -> int:
        return check_positive_int(self._als().factors, "factors") + int(self.has_user_bias(explicit_data))

    def fit(self, pair: CrossDomain, warm_start: Optional[Recommender] = None) -> CMF:
        """Fit on the pair. ``warm_start``: a CMF fitted on a pair of the same id spaces and the
        same kind and size (e.g. on a validation split carved from this pair); its rows start the
        sweeps instead of random ones, so fewer ``iterations`` reach the same fit."""
        pair = check_pair(pair, "CMF")
        if np.ndim(self.weights) != 1 or len(self.weights) != 2:
            raise ValueError(f"weights must be a pair (w_source, w_target), got {self.weights!r}")
        ws = check_float(self.weights[0], "weights[0]", 0.0)
        wt = check_float(self.weights[1], "weights[1]", 0.0, strict_min=True)
        check_choice(self.cold_rows, "cold_rows", ("auto", "mapped", "source"))
        map_l2 = check_float(self.map_l2, "map_l2", 0.0)
        als = self._als()
        k = check_positive_int(als.factors, "factors")
        iters = check_positive_int(als.iterations, "iterations")
        implicit = als.implicit_for(pair.target.explicit)
        reg = als.regularization_for(implicit)
        alpha = check_float(als.alpha, "alpha", 0.0)
        threads = check_n_threads(als.n_threads)
        Rt = fz.kernel_csr(self._start_fit(pair.target))
        Rs = fz.kernel_csr(pair.source.matrix)
        rng = np.random.default_rng(check_seed(als.seed))
        n = Rt.shape[0]
        d = k if implicit else k + 1
        X = _gaussian(rng, n, d, k)
        Ys, Yt = _gaussian(rng, Rs.shape[1], d, k), _gaussian(rng, Rt.shape[1], d, k)
        if warm_start is not None:
            X, Ys, Yt = _warm_rows(warm_start, X.shape, Ys.shape, Yt.shape)
        RsT, RtT = fz.kernel_csr(Rs.T.tocsr()), fz.kernel_csr(Rt.T.tocsr())
        self.implicit_, self.regularization_ = implicit, reg
        if implicit:
            X, Ys, Yt = _implicit_sweeps(Rs, Rt, RsT, RtT, X, Ys, Yt, ws, wt, reg, alpha, iters, threads)
            self.global_mean_ = self.source_global_mean_ = 0.0
        else:
            self.source_global_mean_, self.global_mean_ = float(Rs.data.mean()), float(Rt.data.mean())
            _explicit_sweeps(Rs, Rt, RsT, RtT, X, Ys, Yt, ws, wt, reg, iters, threads)
            if self.cold_rows in ("auto", "mapped"):
                _map_cold_rows(pair, Rs, X, Ys, reg, map_l2, threads)
        self.user_factors_, self.user_bias_ = _split(X, k)
        self.item_factors_, self.item_bias_ = _split(Yt, k)
        self.source_item_factors_, self.source_item_bias_ = _split(Ys, k)
        return self


def _warm_rows(model, *shapes: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copies of a fitted CMF's shared user rows, source and target item rows (``[factors, bias]``
    for explicit data), checked against the shapes this fit needs."""
    if not isinstance(model, CMF) or not model.is_fitted:
        raise ValueError(f"CMF: warm_start must be a fitted CMF, got {type(model).__name__}")
    d = shapes[0][1]

    def rows(f: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.array(np.column_stack([f, b]) if d > f.shape[1] and b.size else f, np.float32, order="C")

    out = (
        rows(model.user_factors_, model.user_bias_),
        rows(model.source_item_factors_, model.source_item_bias_),
        rows(model.item_factors_, model.item_bias_),
    )
    got = [a.shape for a in out]
    if got != list(shapes):
        raise ValueError(
            f"CMF: warm_start has rows of shapes {got} (users, source items, target items) but this fit needs "
            f"{list(shapes)}: fit it on a pair of the same id spaces with the same factors and feedback kind"
        )
    return out


def _split(rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    bias = rows[:, k] if rows.shape[1] > k else np.zeros(0, np.float32)
    return np.ascontiguousarray(rows[:, :k]), np.ascontiguousarray(bias)


def _explicit_sweeps(Rs, Rt, RsT, RtT, X, Ys, Yt, ws, wt, reg, iters, threads) -> None:
    """Rows ``[x, b]`` updated in place: per-domain item steps, then the shared user step."""
    mus, mut = float(Rs.data.mean()), float(Rt.data.mean())
    both = fz.kernel_csr(sp.hstack([Rs, Rt], format="csr"))  # columns: source items, then target items
    src_col = both.indices < Rs.shape[1]
    weights = np.where(src_col, ws, wt).astype(np.float32)
    offset = np.where(src_col, mus, mut)
    for _ in range(iters):
        fz.als_biased_step(RsT, X, Ys, reg, offset=mus, n_threads=threads)
        fz.als_biased_step(RtT, X, Yt, reg, offset=mut, n_threads=threads)
        fz.als_biased_step(both, np.vstack([Ys, Yt]), X, reg, offset=offset, weights=weights, n_threads=threads)


def _map_cold_rows(pair: CrossDomain, Rs, X, Ys, reg, l2, threads) -> None:
    """Cold users' rows (in place) <- ridge map of shared rows on source-only rows, learnt on the
    users warm in both domains."""
    in_src, in_tgt = pair.source.user_counts() > 0, pair.target.user_counts() > 0
    both, cold = in_src & in_tgt, np.flatnonzero(in_src & ~in_tgt)
    if both.sum() < 2 or not cold.size:
        return
    source_only = np.zeros_like(X)
    fz.als_biased_step(Rs, Ys, source_only, reg, offset=float(Rs.data.mean()), n_threads=threads)
    W, b = fit_linear_map(source_only[both].astype(np.float64), X[both].astype(np.float64), l2)
    X[cold] = source_only[cold] @ W + b


def _implicit_sweeps(Rs, Rt, RsT, RtT, X, Ys, Yt, ws, wt, reg, alpha, iters, threads):
    both = sp.hstack([Rs, Rt], format="csr")
    if ws != 1.0 or wt != 1.0:
        src_col = both.indices < Rs.shape[1]
        w = np.where(src_col, ws, wt)
        W = _with(both, w * alpha * both.data)
        V = _with(both, w * (1.0 + alpha * both.data))
    for _ in range(iters):
        fz.als_implicit_step(RsT, X, Ys, reg / max(ws, 1e-6), alpha, n_threads=threads)
        fz.als_implicit_step(RtT, X, Yt, reg / wt, alpha, n_threads=threads)
        Y = np.vstack([Ys, Yt])
        if ws == 1.0 and wt == 1.0:
            fz.als_implicit_step(fz.kernel_csr(both), Y, X, reg, alpha, n_threads=threads)
        else:
            gram = ws * Ys.T.astype(np.float64) @ Ys + wt * Yt.T.astype(np.float64) @ Yt
            X = solve_rows(W, V, Y, reg, gram=gram)
    return X, Ys, Yt
