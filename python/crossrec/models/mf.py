"""Matrix factorisation models: ALS (implicit and explicit), biased SGD MF and BPR.

Python owns the epoch loop (progress bar, loss callback, early stop); each half-sweep or epoch is
one GIL-free C++ call from :mod:`crossrec.factorization`.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import scipy.sparse as sp

import pandas as pd

from .. import factorization as fz
from .._validation import as_factors, check_choice, check_float, check_n_threads, check_positive_int, check_seed
from ..data import Interactions
from ..explain import factor_weights, frame, top_rows
from .base import Recommender


class _FactorModel(Recommender):
    """Shared scoring of models with user_factors_, item_factors_ and optional biases."""

    def _factors(self, user_idx):
        bias = getattr(self, "item_bias_", None)
        return (
            np.ascontiguousarray(self.user_factors_[user_idx]),
            self.item_factors_,
            bias if bias is not None and bias.size else None,
        )

    def _predict_indices(self, user_idx, item_idx):
        s = np.einsum("ij,ij->i", self.user_factors_[user_idx], self.item_factors_[item_idx])
        if getattr(self, "user_bias_", None) is not None and self.user_bias_.size:
            s = s + self.global_mean_ + self.user_bias_[user_idx] + self.item_bias_[item_idx]
        return s

    def _item_vectors(self):
        return self.item_factors_

    def _init_factors(self, given, n_rows: int, name: str, rng: np.random.Generator, scale: float) -> np.ndarray:
        f = check_positive_int(self.factors, "factors")
        if given is None:
            return (rng.standard_normal((n_rows, f)) * scale).astype(np.float32)
        x = as_factors(given, name)
        if x.shape != (n_rows, f):
            raise ValueError(f"{name} must have shape ({n_rows}, {f}), got {x.shape}")
        return np.array(x, dtype=np.float32, copy=True)  # never mutate the caller's array

    def _loop(self, n_epochs: int, step: Callable[[int], None], loss: Callable[[], float]) -> None:
        """Runs step(epoch) n_epochs times with a progress bar and the loss callback. A callback
        returning True stops training early."""
        callback = getattr(self, "callback", None)
        show = bool(getattr(self, "show_progress", False))
        bar = None
        if show:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_epochs, desc=type(self).__name__)
        try:
            for epoch in range(n_epochs):
                step(epoch)
                value = loss() if (callback is not None or show) else None
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{value:.5g}")
                if callback is not None and callback(epoch, value):
                    break
        finally:
            if bar is not None:
                bar.close()


def _transpose(m: sp.csr_matrix) -> sp.csr_matrix:
    return fz.kernel_csr(sp.csr_matrix(m.T))


class ALS(_FactorModel):
    """Alternating least squares matrix factorisation.

    implicit=True: weighted matrix factorisation for implicit feedback (Hu, Koren & Volinsky 2008),
    confidence 1 + alpha * r for a stored weight r, solved per row by conjugate gradient (warm
    started, ``cg_steps`` steps) or exactly by Cholesky; see
    :func:`crossrec.factorization.als_implicit_step`. Scores are x_u . y_i.

    implicit=False: explicit ratings, r_ui ~ mu + b_u + b_i + x_u . y_i (biases when use_bias),
    weighted-lambda ridge (ALS-WR: row u's ridge is regularization * its number of ratings, biases
    included), exact per-row solves; see :func:`crossrec.factorization.als_explicit_step`.

    Parameters
    ----------
    factors : latent dimension f.
    iterations : full sweeps (users then items).
    regularization : ridge weight (per row for implicit, per rating for explicit; the default suits
        implicit, explicit wants about 0.1: 0.13 was best on ML-100K validation splits at 32 factors).
    implicit : feedback type (see above).
    alpha : confidence scale (implicit only).
    solver : "cg" or "cholesky" (implicit only; explicit is always exact).
    cg_steps : CG steps per row and half-sweep.
    use_bias : user and item biases (explicit only).
    n_threads : 0 = all cores. seed : initial factors (results are the same on any thread count).
    show_progress : tqdm bar. callback : ``callback(iteration, loss)`` after every iteration, where
        loss is the training objective divided by the number of stored entries; return True to stop.

    Attributes
    ----------
    user_factors_, item_factors_ : (n_users, f), (n_items, f) float32.
    global_mean_, user_bias_, item_bias_ : explicit with use_bias only (else 0.0 and empty arrays).
    """

    def __init__(
        self,
        factors: int = 64,
        iterations: int = 15,
        regularization: float = 0.01,
        implicit: bool = True,
        alpha: float = 1.0,
        solver: str = "cg",
        cg_steps: int = 3,
        use_bias: bool = True,
        n_threads: int = 0,
        seed: Optional[int] = 0,
        show_progress: bool = False,
        callback: Optional[Callable[[int, float], Any]] = None,
    ):
        self.factors = factors
        self.iterations = iterations
        self.regularization = regularization
        self.implicit = implicit
        self.alpha = alpha
        self.solver = solver
        self.cg_steps = cg_steps
        self.use_bias = use_bias
        self.n_threads = n_threads
        self.seed = seed
        self.show_progress = show_progress
        self.callback = callback

    @property
    def _biased(self) -> bool:
        return not self.implicit and bool(self.use_bias)

    def fit(
        self,
        data: Interactions,
        *,
        user_init=None,
        item_init=None,
        user_prior=None,
        user_prior_weight=None,
        item_prior=None,
        item_prior_weight=None,
    ) -> "ALS":
        """Fit on ``data``.

        user_init / item_init: (n_users, f) / (n_items, f) starting factors (copied). Item
        factors matter (the first half-sweep solves users); user factors warm-start CG.
        user_prior, user_prior_weight: (n_users, f) targets and (n_users,) weights (or a scalar):
        adds weight_u ||x_u - prior_u||^2 to user u's objective at every sweep (weight 0 = plain
        ALS; with biases the bias is pulled toward 0 by the same weight). item_prior likewise.
        """
        m = fz.kernel_csr(self._start_fit(data))
        check_positive_int(self.factors, "factors")
        iterations = check_positive_int(self.iterations, "iterations")
        reg = check_float(self.regularization, "regularization", 0.0)
        check_float(self.alpha, "alpha", 0.0)
        check_choice(self.solver, "solver", fz.SOLVERS)
        check_positive_int(self.cg_steps, "cg_steps")
        threads = check_n_threads(self.n_threads)
        rng = np.random.default_rng(check_seed(self.seed))
        n_users, n_items = m.shape
        scale = 0.01 if self.implicit else 0.1
        X = self._init_factors(user_init, n_users, "user_init", rng, scale)
        Y = self._init_factors(item_init, n_items, "item_init", rng, scale)
        f = X.shape[1]
        up = fz.prior_args(user_prior, user_prior_weight, n_users, f, "user_prior")
        ip = fz.prior_args(item_prior, item_prior_weight, n_items, f, "item_prior")
        mt = _transpose(m)
        # No threadpool_limits here: the kernels use no BLAS, and numpy's BLAS (in the loss only)
        # never runs concurrently with them; scanning the loaded libraries costs ~20 ms per fit.
        if self.implicit:
            self._fit_implicit(m, mt, X, Y, reg, up, ip, iterations, threads)
        else:
            self._fit_explicit(m, mt, X, Y, reg, up, ip, iterations, threads)
        return self

    # ---- implicit ---------------------------------------------------------------------
    def _fit_implicit(self, m, mt, X, Y, reg, up, ip, iterations, threads):
        kw = dict(alpha=self.alpha, solver=self.solver, cg_steps=self.cg_steps, n_threads=threads)

        def step(_):
            fz.als_implicit_step(m, Y, X, reg, prior=up[0], prior_weight=up[1], **kw)
            fz.als_implicit_step(mt, X, Y, reg, prior=ip[0], prior_weight=ip[1], **kw)

        def loss():
            return implicit_loss(m, X, Y, reg, self.alpha) / max(m.nnz, 1)

        self.global_mean_ = 0.0
        self.user_bias_ = np.zeros(0, np.float32)
        self.item_bias_ = np.zeros(0, np.float32)
        self.user_factors_, self.item_factors_ = X, Y
        self._loop(iterations, step, loss)

    # ---- explicit ---------------------------------------------------------------------
    def _fit_explicit(self, m, mt, X, Y, reg, up, ip, iterations, threads):
        biased = self._biased
        mu = float(m.data.mean()) if biased else 0.0
        n_users, n_items = m.shape
        f = X.shape[1]
        if biased:
            # Augmented rows: users [x_u, b_u] against items [y_i, 1], and the other way round.
            Xa = np.hstack([X, np.zeros((n_users, 1), np.float32)])
            Ya = np.hstack([Y, np.zeros((n_items, 1), np.float32)])
            up = _augment_prior(up, n_users)
            ip = _augment_prior(ip, n_items)
        else:
            Xa, Ya = X, Y
        r_user = m.data - np.float32(mu)
        r_item = mt.data - np.float32(mu)

        def step(_):
            if biased:
                yfix = Ya.copy()
                yfix[:, f] = 1.0
                mu_ = _with_data(m, r_user - Ya[m.indices, f])
                fz.als_explicit_step(mu_, yfix, Xa, reg, prior=up[0], prior_weight=up[1], n_threads=threads)
                xfix = Xa.copy()
                xfix[:, f] = 1.0
                mi_ = _with_data(mt, r_item - Xa[mt.indices, f])
                fz.als_explicit_step(mi_, xfix, Ya, reg, prior=ip[0], prior_weight=ip[1], n_threads=threads)
            else:
                fz.als_explicit_step(m, Y, X, reg, prior=up[0], prior_weight=up[1], n_threads=threads)
                fz.als_explicit_step(mt, X, Y, reg, prior=ip[0], prior_weight=ip[1], n_threads=threads)
            self._store_explicit(Xa, Ya, f, mu, biased)

        def loss():
            err = m.data - self._predict_rows(m)
            cu, ci = np.diff(m.indptr), np.diff(mt.indptr)
            ridge = reg * (cu @ (Xa * Xa).sum(1) + ci @ (Ya * Ya).sum(1))
            return float(err @ err + ridge) / max(m.nnz, 1)

        self._store_explicit(Xa, Ya, f, mu, biased)
        self._loop(iterations, step, loss)

    def _store_explicit(self, Xa, Ya, f, mu, biased):
        self.global_mean_ = mu
        if biased:
            self.user_factors_ = np.ascontiguousarray(Xa[:, :f])
            self.item_factors_ = np.ascontiguousarray(Ya[:, :f])
            self.user_bias_ = np.ascontiguousarray(Xa[:, f])
            self.item_bias_ = np.ascontiguousarray(Ya[:, f])
        else:
            self.user_factors_, self.item_factors_ = Xa, Ya
            self.user_bias_ = np.zeros(0, np.float32)
            self.item_bias_ = np.zeros(0, np.float32)

    def _predict_rows(self, m: sp.csr_matrix) -> np.ndarray:
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        return self._predict_indices(rows, m.indices)

    # ---- explanations -----------------------------------------------------------------
    def explain(self, user, item, data: Interactions, n: Optional[int] = 10) -> pd.DataFrame:
        """Why ``user`` gets its score for ``item``: the score split over the user's history.

        The user's factors solve x_u = A_u^-1 sum_j t_j y_j (implicit: A_u = Y^T Y + sum_j (c_uj - 1)
        y_j y_j^T + reg I, t_j = c_uj p_uj; explicit: A_u = sum_j y_j y_j^T + reg n_u I, t_j = r_uj
        minus the global mean and item bias, biases as an extra factor), so the score y_i . x_u is
        sum_j (y_i^T A_u^-1 y_j) t_j: item j's contribution (implicit's ``explain``). Explicit
        models add rows for the global mean and the item bias. The stored factors come from the
        last half-sweep, not from a fresh solve against the final item factors, so a last row
        ("solver residual") holds the difference; the rows sum to the model's score.

        Parameters
        ----------
        user, item : external ids.
        data : the training Interactions (ALS does not keep them; implicit's ``user_items``).
        n : history items shown, the rest summed in one row (None: all).

        Returns
        -------
        DataFrame (see :mod:`crossrec.explain`); ``attrs["score"]`` is ``predict`` (explicit) or
        the ranking score (implicit).
        """
        self._check_fitted()
        u = int(self.user_map_.lookup(user)[0])
        i = int(self.item_map_.lookup(item)[0])
        if data.n_items != self.n_items_ or data.n_users != self.n_users_:
            raise ValueError("data must be in the model's id space (the Interactions it was fitted on)")
        row = data.matrix[u]
        hist, values = row.indices, row.data.astype(np.float64)
        f = self.user_factors_.shape[1]
        reg = float(self.regularization)
        rows: list[tuple] = []
        if self.implicit:
            Y = self.item_factors_.astype(np.float64)
            conf = 1.0 + float(self.alpha) * np.abs(values)
            gram = Y.T @ Y + (Y[hist].T * (conf - 1.0)) @ Y[hist] + reg * np.eye(f)
            targets = conf * (values > 0)
            weights = factor_weights(gram, Y[hist], Y[i])
            score = float(self.user_factors_[u].astype(np.float64) @ Y[i])
        else:
            biased = self._biased
            Y = self.item_factors_.astype(np.float64)
            mu = float(self.global_mean_)
            if biased:
                Y = np.hstack([Y, np.ones((self.n_items_, 1))])
                targets = values - mu - self.item_bias_[hist].astype(np.float64)
            else:
                targets = values.copy()
            gram = Y[hist].T @ Y[hist] + reg * len(hist) * np.eye(Y.shape[1])
            weights = factor_weights(gram, Y[hist], Y[i]) if len(hist) else np.zeros(0)
            score = float(self.predict([user], [item])[0])
            if biased:
                rows += [("global mean", None, mu, 1.0, mu), ("item bias", item, None, 1.0, float(self.item_bias_[i]))]
        ids = self.item_map_.ids[hist]
        rows = rows + top_rows(
            [("history item", ids[k], values[k], weights[k], weights[k] * targets[k]) for k in range(len(hist))],
            n,
            "history items",
        )
        rows.append(("solver residual", None, None, None, score - sum(r[4] for r in rows)))
        return frame(rows, score, user=user, item=item)

    # ---- fold-in ----------------------------------------------------------------------
    def recalculate_user(self, rows) -> np.ndarray:
        """Factors of new users from their (n, n_items) interaction rows (see :func:`fold_in`)."""
        return fz.fold_in(self, rows)

    def fold_in_rows(self, rows: Any, side: str = "users") -> tuple[np.ndarray, np.ndarray]:
        """(factors, biases) of new users (or items) from their interaction rows; see
        :func:`crossrec.fold_in`."""
        self._check_fitted()
        rows = fz.kernel_csr(rows, "rows")
        fixed = self.item_factors_ if side == "users" else self.user_factors_
        if rows.shape[1] != fixed.shape[0]:
            raise ValueError(
                f"rows must have {fixed.shape[0]} columns (the model's "
                f"{'items' if side == 'users' else 'users'}), got {rows.shape[1]}"
            )
        f = fixed.shape[1]
        reg = float(self.regularization)
        if self.implicit:
            X = np.zeros((rows.shape[0], f), np.float32)
            fz.als_implicit_step(rows, fixed, X, reg, alpha=self.alpha, solver="cholesky", n_threads=self._threads())
            return X, np.zeros(rows.shape[0], np.float32)
        if not self._biased:
            X = np.zeros((rows.shape[0], f), np.float32)
            fz.als_explicit_step(rows, fixed, X, reg, n_threads=self._threads())
            return X, np.zeros(rows.shape[0], np.float32)
        other_bias = self.item_bias_ if side == "users" else self.user_bias_
        return _fold_in_biased(rows, fixed, other_bias, self.global_mean_, reg, self._threads())


def _fold_in_biased(rows, fixed, other_bias, mu, reg, threads):
    """Exact ALS-WR half-step for [x, b] against [y, 1] on ratings minus mu and the fixed biases."""
    f = fixed.shape[1]
    Xa = np.zeros((rows.shape[0], f + 1), np.float32)
    Ya = np.hstack([fixed, np.ones((fixed.shape[0], 1), np.float32)])
    r = _with_data(rows, rows.data - np.float32(mu) - other_bias[rows.indices])
    fz.als_explicit_step(r, Ya, Xa, reg, n_threads=threads)
    return np.ascontiguousarray(Xa[:, :f]), np.ascontiguousarray(Xa[:, f])


def _with_data(m: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    out = sp.csr_matrix((np.asarray(data, np.float32), m.indices, m.indptr), shape=m.shape)
    out.has_canonical_format = True
    return out


def _augment_prior(prior, n_rows):
    """Priors on [x, b]: the bias is pulled toward 0 with the row's prior weight."""
    p, w = prior
    if p is None:
        return prior
    return np.ascontiguousarray(np.hstack([p, np.zeros((n_rows, 1), np.float32)])), w


def implicit_loss(m: sp.csr_matrix, X: np.ndarray, Y: np.ndarray, reg: float, alpha: float) -> float:
    """The implicit ALS objective sum_(u,i) c_ui (p_ui - x_u.y_i)^2 + reg (||X||^2 + ||Y||^2), in
    O(nnz f + (n_users + n_items) f^2) through sum_(u,i) (x_u.y_i)^2 = trace(X^T X Y^T Y)."""
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    s = np.einsum("ij,ij->i", X64[rows], Y64[m.indices])
    c = 1.0 + alpha * np.abs(m.data.astype(np.float64))
    p = (m.data > 0).astype(np.float64)
    total = float(np.sum((X64.T @ X64) * (Y64.T @ Y64)))
    total += float(np.sum(c * (p - s) ** 2 - s**2))
    return total + reg * float(np.sum(X64 * X64) + np.sum(Y64 * Y64))


class MF(_FactorModel):
    """Biased matrix factorisation for explicit ratings by SGD (Funk; Koren 2009; Surprise's SVD):
    r_ui ~ mu + b_u + b_i + x_u . y_i. See :func:`crossrec.factorization.sgd_epoch` for the
    per-sample update and the thread-count independent (stratified) schedule.

    Parameters
    ----------
    factors : latent dimension. iterations : epochs. learning_rate, regularization : SGD step and
    per-sample ridge on factors. bias_regularization : ridge on biases (default regularization).
    use_bias : learn mu, b_u, b_i. init_std : factors start N(0, init_std^2), biases 0.
    n_threads, seed, show_progress, callback : as in :class:`ALS`; the loss given to the callback
    is the epoch's training MSE.
    """

    def __init__(
        self,
        factors: int = 100,
        iterations: int = 20,
        learning_rate: float = 0.005,
        regularization: float = 0.02,
        bias_regularization: Optional[float] = None,
        use_bias: bool = True,
        init_std: float = 0.1,
        n_threads: int = 0,
        seed: Optional[int] = 0,
        show_progress: bool = False,
        callback: Optional[Callable[[int, float], Any]] = None,
    ):
        self.factors = factors
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.use_bias = use_bias
        self.init_std = init_std
        self.n_threads = n_threads
        self.seed = seed
        self.show_progress = show_progress
        self.callback = callback

    def fit(
        self,
        data: Interactions,
        *,
        user_init=None,
        item_init=None,
        user_prior=None,
        user_prior_weight=None,
        item_prior=None,
        item_prior_weight=None,
        weights=None,
    ) -> "MF":
        """Fit on ``data``; init and priors as in :meth:`ALS.fit`. weights: optional per-interaction
        sample weights, aligned with ``data.matrix.data`` (e.g. for distillation)."""
        m = fz.kernel_csr(self._start_fit(data))
        iterations = check_positive_int(self.iterations, "iterations")
        check_float(self.init_std, "init_std", 0.0)
        threads = check_n_threads(self.n_threads)
        seed = check_seed(self.seed)
        rng = np.random.default_rng(seed)
        X = self._init_factors(user_init, m.shape[0], "user_init", rng, self.init_std)
        Y = self._init_factors(item_init, m.shape[1], "item_init", rng, self.init_std)
        f = X.shape[1]
        up = fz.prior_args(user_prior, user_prior_weight, m.shape[0], f, "user_prior")
        ip = fz.prior_args(item_prior, item_prior_weight, m.shape[1], f, "item_prior")
        biased = bool(self.use_bias)
        self.global_mean_ = float(m.data.mean()) if biased else 0.0
        self.user_bias_ = np.zeros(m.shape[0] if biased else 0, np.float32)
        self.item_bias_ = np.zeros(m.shape[1] if biased else 0, np.float32)
        self.user_factors_, self.item_factors_ = X, Y
        losses = []

        def step(epoch):
            losses.append(
                fz.sgd_epoch(
                    m,
                    X,
                    Y,
                    self.user_bias_ if biased else None,
                    self.item_bias_ if biased else None,
                    self.global_mean_,
                    self.learning_rate,
                    self.regularization,
                    self.bias_regularization,
                    epoch,
                    seed,
                    weights,
                    up[0],
                    up[1],
                    ip[0],
                    ip[1],
                    threads,
                )
            )
            if not np.isfinite(losses[-1]):
                from ..errors import FitError

                raise FitError(
                    f"MF diverged at epoch {epoch} (training error is not finite); "
                    "lower learning_rate or raise regularization"
                )

        self._loop(iterations, step, lambda: losses[-1])
        return self

    def recalculate_user(self, rows) -> np.ndarray:
        """Factors of new users from their rating rows (see :func:`crossrec.fold_in`)."""
        return fz.fold_in(self, rows)

    def fold_in_rows(self, rows: Any, side: str = "users") -> tuple[np.ndarray, np.ndarray]:
        """(factors, biases) of new users (or items) from their interaction rows (see
        :func:`crossrec.fold_in`): the exact minimiser of the epoch objective for the new rows with
        the other side fixed: SGD's per-sample ridge sums to reg * (row count) * ||x||^2, i.e. the
        ALS-WR half-step."""
        self._check_fitted()
        rows = fz.kernel_csr(rows, "rows")
        fixed = self.item_factors_ if side == "users" else self.user_factors_
        if rows.shape[1] != fixed.shape[0]:
            raise ValueError(f"rows must have {fixed.shape[0]} columns, got {rows.shape[1]}")
        reg = float(self.regularization)
        if self.use_bias:
            other = self.item_bias_ if side == "users" else self.user_bias_
            return _fold_in_biased(rows, fixed, other, self.global_mean_, reg, self._threads())
        X = np.zeros((rows.shape[0], fixed.shape[1]), np.float32)
        fz.als_explicit_step(rows, fixed, X, reg, n_threads=self._threads())
        return X, np.zeros(rows.shape[0], np.float32)


class BPR(_FactorModel):
    """Bayesian personalised ranking (Rendle et al. 2009) for implicit feedback, by SGD with sampled
    negatives; scores x_u . y_i + b_i. See :func:`crossrec.factorization.bpr_epoch`.

    Parameters
    ----------
    factors, iterations (epochs), learning_rate, regularization : as in :class:`MF`.
    use_bias : learn an item bias. init_std : factors start N(0, init_std^2).
    n_threads, seed, show_progress, callback : as in :class:`ALS`; the callback's loss is the epoch's
    mean -log sigmoid(x_uij).
    """

    def __init__(
        self,
        factors: int = 64,
        iterations: int = 100,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        use_bias: bool = True,
        init_std: float = 0.01,
        n_threads: int = 0,
        seed: Optional[int] = 0,
        show_progress: bool = False,
        callback: Optional[Callable[[int, float], Any]] = None,
    ):
        self.factors = factors
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.use_bias = use_bias
        self.init_std = init_std
        self.n_threads = n_threads
        self.seed = seed
        self.show_progress = show_progress
        self.callback = callback

    def fit(
        self,
        data: Interactions,
        *,
        user_init=None,
        item_init=None,
        user_prior=None,
        user_prior_weight=None,
        item_prior=None,
        item_prior_weight=None,
    ) -> "BPR":
        """Fit on ``data`` (stored entries with value > 0 are the positives); init and priors as in
        :meth:`ALS.fit`."""
        m = fz.kernel_csr(self._start_fit(data))
        iterations = check_positive_int(self.iterations, "iterations")
        check_float(self.init_std, "init_std", 0.0)
        threads = check_n_threads(self.n_threads)
        seed = check_seed(self.seed)
        rng = np.random.default_rng(seed)
        X = self._init_factors(user_init, m.shape[0], "user_init", rng, self.init_std)
        Y = self._init_factors(item_init, m.shape[1], "item_init", rng, self.init_std)
        f = X.shape[1]
        up = fz.prior_args(user_prior, user_prior_weight, m.shape[0], f, "user_prior")
        ip = fz.prior_args(item_prior, item_prior_weight, m.shape[1], f, "item_prior")
        self.item_bias_ = np.zeros(m.shape[1] if self.use_bias else 0, np.float32)
        self.user_factors_, self.item_factors_ = X, Y
        losses = []

        def step(epoch):
            loss, self.train_accuracy_ = fz.bpr_epoch(
                m,
                X,
                Y,
                self.item_bias_ if self.use_bias else None,
                self.learning_rate,
                self.regularization,
                None,
                epoch,
                seed,
                up[0],
                up[1],
                ip[0],
                ip[1],
                threads,
            )
            losses.append(loss)

        self._loop(iterations, step, lambda: losses[-1])
        return self
