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
from .. import progress
from .._memory import check_allocation
from ..progress import wants_progress
from .._validation import as_factors, check_choice, check_float, check_n_threads, check_positive_int, check_seed
from ..data import Interactions
from ..errors import FitError
from ..explain import factor_weights, frame, top_rows
from ..schema import Array, Scalar
from .base import Recommender


class FactorRecommender(Recommender):
    """Shared scoring of models with user_factors_, item_factors_ and optional biases, and the
    hooks the transfer methods use (:mod:`crossrec.transfer`): a model's *user rows* are its user
    factors followed by the user bias when it has one (``[x_u, b_u]``), so that fine-tuning, EMCDR
    and the no-transfer baseline carry a user's rating level along with their factors.

    * :meth:`user_width` - columns of a user row (before fitting, given the data kind);
    * :meth:`user_rows` - the fitted rows; :meth:`set_user_rows` - replace some of them;
    * ``fit(data, user_init=, user_prior=, user_prior_weight=, item_init=)`` takes rows of that
      width (or factors only: then biases start at 0 and are pulled toward 0).
    """

    factors: int
    user_factors_: np.ndarray
    item_factors_: np.ndarray
    user_bias_: np.ndarray
    item_bias_: np.ndarray
    global_mean_: float

    state_schema = {
        "user_factors_": Array(("users", "factors"), "float32"),
        "item_factors_": Array(("items", "factors"), "float32"),
        "global_mean_": Scalar(float),
        "user_bias_": Array((("users", 0),), "float32"),
        "item_bias_": Array((("items", 0),), "float32"),
    }

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

    # ---- user rows (the transfer hooks) -----------------------------------------------
    def has_user_bias(self, explicit_data: bool = True) -> bool:
        """Whether the model fitted on data of this kind has a user bias (the last row column)."""
        return False

    def user_width(self, explicit_data: bool = True) -> int:
        """Columns of a user row when fitted on data of this kind: factors, plus 1 for the user bias."""
        return check_positive_int(self.factors, "factors") + int(self.has_user_bias(explicit_data))

    def user_rows(self) -> np.ndarray:
        """(n_users, user_width) float32 copy of the fitted user rows ``[x_u, b_u]`` (no bias column
        when the model has no user bias)."""
        self._check_fitted()
        X = np.asarray(self.user_factors_, np.float32)
        b = getattr(self, "user_bias_", None)
        if b is None or not np.size(b):
            return X.copy()
        return np.hstack([X, np.asarray(b, np.float32)[:, None]])

    def item_rows(self) -> np.ndarray:
        """(n_items, width) float32 copy of the fitted item rows ``[y_i, b_i]`` (no bias column when
        the model has no item bias): the ``item_init`` that warm-starts a fit from this one."""
        self._check_fitted()
        Y = np.asarray(self.item_factors_, np.float32)
        b = getattr(self, "item_bias_", None)
        if b is None or not np.size(b):
            return Y.copy()
        return np.hstack([Y, np.asarray(b, np.float32)[:, None]])

    def set_user_rows(self, users, rows) -> FactorRecommender:
        """Replace the rows (factors and bias) of the user indices ``users`` by ``rows`` (one row or
        (len(users), user_width)); the arrays are copied first, so a model sharing them with this
        one is left alone. Returns self."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.intp).ravel()
        n_users = self.user_factors_.shape[0]
        if users.size and (users.min() < 0 or users.max() >= n_users):
            raise ValueError(f"users must be user indices in [0, {n_users}), got {users.min()}..{users.max()}")
        width = self.user_rows().shape[1]
        rows = np.broadcast_to(np.asarray(rows, np.float32), (users.size, width)) if np.ndim(rows) == 1 else rows
        rows = np.asarray(rows, np.float32)
        if rows.shape != (users.size, width):
            raise ValueError(f"rows must have shape ({users.size}, {width}), got {rows.shape}")
        if not np.all(np.isfinite(rows)):
            raise ValueError("rows hold NaN or infinite values")
        f = self.user_factors_.shape[1]
        X = np.array(self.user_factors_, np.float32, copy=True)
        X[users] = rows[:, :f]
        self.user_factors_ = X
        if width > f:
            b = np.array(self.user_bias_, np.float32, copy=True)
            b[users] = rows[:, f]
            self.user_bias_ = b
        return self

    def _init_factors(
        self, given, n_rows: int, name: str, rng: np.random.Generator, scale: float, width: Optional[int] = None
    ) -> np.ndarray:
        """Starting rows: ``given`` (copied; ``factors`` columns, or ``width`` with the bias last) or
        random N(0, scale^2) factors; returns (n_rows, width) with a zero bias column when width > f."""
        f = check_positive_int(self.factors, "factors")
        # both sides' factors: float64 draws, their float32 copy, and a working copy of the same size
        rows = self.n_users_ + self.n_items_
        check_allocation(
            float(rows) * f * (8 + 4 + 4),
            f"{type(self).__name__}'s factors (({self.n_users_} users + {self.n_items_} items) x {f})",
            "lower factors",
        )
        width = f if width is None else width
        if given is None:
            x = (rng.standard_normal((n_rows, f)) * scale).astype(np.float32)
        else:
            x = as_factors(given, name)
            if x.shape not in ((n_rows, f), (n_rows, width)):
                allowed = f"({n_rows}, {f})" + (f" or ({n_rows}, {width}) with the bias last" if width > f else "")
                raise ValueError(f"{name} must have shape {allowed}, got {x.shape}")
            x = np.array(x, dtype=np.float32, copy=True)  # never mutate the caller's array
        if x.shape[1] < width:
            x = np.hstack([x, np.zeros((n_rows, width - x.shape[1]), np.float32)])
        return np.ascontiguousarray(x)

    def _loop(self, n_epochs: int, step: Callable[[int], None], loss: Callable[[], float]) -> None:
        """Runs step(epoch) n_epochs times with a progress bar and the loss callback. A callback
        returning True stops training early."""
        callback = getattr(self, "callback", None)
        show = wants_progress(self)
        bar = progress.bar(show, n_epochs, type(self).__name__, "epoch")
        try:
            for epoch in range(n_epochs):
                step(epoch)
                self._raise_if_diverged(epoch)
                value = loss() if (callback is not None or show) else None
                bar.update(1)
                if show:
                    bar.set_postfix(loss=f"{value:.5g}")
                if callback is not None and callback(epoch, value):
                    break
        finally:
            bar.close()

    # What to change when the factors blow up (see _raise_if_diverged).
    _divergence_hint = "lower learning_rate or raise regularization"

    def _raise_if_diverged(self, epoch: int) -> None:
        """FitError naming the epoch and what to change once any parameter is NaN or infinite: the
        next epoch's kernel would otherwise refuse its own input ("X: holds a NaN"), or, after the
        last epoch, the model would rank by NaN. A float64 sum of float32 values cannot overflow,
        so it is NaN/inf exactly when an entry is (one pass, no temporary array)."""
        for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
            a = getattr(self, name, None)
            if a is not None and a.size and not np.isfinite(np.sum(a, dtype=np.float64)):
                raise FitError(
                    f"{type(self).__name__} diverged at epoch {epoch}: {name} holds NaN or infinite values; "
                    f"{self._divergence_hint}"
                )


def _transpose(m: sp.csr_matrix) -> sp.csr_matrix:
    return fz.kernel_csr(sp.csr_matrix(m.T))


DEFAULT_REGULARIZATION = {"implicit": 1.0, "explicit": 0.1}
"""ALS's ridge weight when ``regularization=None``, per feedback kind (the one place it is set;
``benchmarks/results/defaults.md``). Implicit, per row: 1.0 (NDCG@10 0.238 on ML-100K >= 4 and
0.121 on Last.fm, where 0.01 gave 0.235 and 0.114, and the best of a grid 0.234 and 0.123).
Explicit, per rating (ALS-WR): 0.1 is within noise of the best value on ML-100K (0.13: RMSE 0.9248
against 0.9256) and on Douban book and music; 0.01 overfits explicit ratings badly (RMSE 1.096)."""


STARTS = ("small", "wide")


def als_start(
    start: str, implicit: bool, factors: int, user_init_given: bool, item_init_given: bool
) -> tuple[float, bool]:
    """How ALS starts: ``(std, items_first)``, the standard deviation of the random rows drawn for
    a side not given, and whether the first half-sweep solves the item rows (the one place it is
    set; :class:`ALS` and ``crossrec.distributed.ALS`` use it).

    * Only ``user_init`` given: items first, so the given user rows are not overwritten by a solve
      against random item rows (fine-tuning starts from source rows this way).
    * Both given: users first (the implicit library's order; ``benchmarks/bench_als.py`` gives
      both libraries the same rows).
    * ``start="small"`` (default), neither given: std 0.01 (implicit) or 0.1 (explicit), users
      first: the implicit library's start.
    * ``start="wide"``, neither given: std ``1 / sqrt(factors)`` and items first: the start the
      former ``TransferALS`` had. After ten sweeps with ridge 1 the factors end *user-heavy* (Amazon
      sport: mean user-row norm 0.61 and item-row norm 0.09, against 0.37 and 0.15 from the small
      start). A target-only ranking does not care (Amazon within seed noise), but the transfer
      methods read the source model's user rows: from the small start fine-tuning lost 20 % and
      EMCDR's cold users 6 % NDCG@10 on Amazon sport<->cloth, over five seeds
      (``benchmarks/results/als_start.md``), so the transfer methods' source models on implicit
      feedback use "wide" (:func:`crossrec.transfer._common.source_start`). It is not the default:
      plain ALS ranks as well or better from the small start (Last.fm 2K test: 3 % better).
    """
    check_choice(start, "start", STARTS)
    if start == "wide" and not user_init_given and not item_init_given:
        return 1.0 / float(np.sqrt(factors)), True
    return (0.01 if implicit else 0.1), user_init_given and not item_init_given


class ALS(FactorRecommender):
    """Alternating least squares matrix factorisation.

    implicit=True: weighted matrix factorisation for implicit feedback (Hu, Koren & Volinsky 2008),
    confidence 1 + alpha * r for a stored weight r, solved per row by conjugate gradient (warm
    started, ``cg_steps`` steps) or exactly by Cholesky; see
    :func:`crossrec.factorization.als_implicit_step`. Scores are x_u . y_i.

    implicit=False: explicit ratings, r_ui ~ mu + b_u + b_i + x_u . y_i (biases when use_bias),
    weighted-lambda ridge (ALS-WR: row u's ridge is regularization * its number of ratings, biases
    included), exact per-row solves; see :func:`crossrec.factorization.als_biased_step`. A user
    row is ``[x_u, b_u]`` (:meth:`user_rows`), and a prior on it covers the bias as well, so a
    transfer method carries a user's rating level from a source domain (a row without ratings sits
    exactly on its prior).

    Parameters
    ----------
    factors : latent dimension f.
    iterations : full sweeps (users then items; items first when only ``user_init`` is given).
    regularization : ridge weight (per row for implicit, per rating for explicit); None: the
        per-kind default :data:`DEFAULT_REGULARIZATION` (1.0 implicit, 0.1 explicit).
    implicit : feedback type (see above); None: follow the training data (implicit unless the
        Interactions hold explicit ratings).
    alpha : confidence scale (implicit only).
    solver : "cg" or "cholesky" (implicit only; explicit is always exact).
    cg_steps : CG steps per row and half-sweep.
    use_bias : user and item biases (explicit only).
    start : random start when no rows are given: "small" (N(0, 0.01^2) rows, users solved first,
        as the implicit library) or "wide" (N(0, 1/f) rows, items first: user-heavy factors, what
        the transfer methods want from an implicit source model); see :func:`als_start`.
    n_threads : 0 = all cores. seed : initial factors (results are the same on any thread count).
    progress : tqdm bar over iterations (``show_progress``: its deprecated name). callback : ``callback(iteration, loss)`` after every iteration, where
        loss is the training objective divided by the number of stored entries; return True to stop.

    Attributes
    ----------
    user_factors_, item_factors_ : (n_users, f), (n_items, f) float32.
    global_mean_, user_bias_, item_bias_ : explicit with use_bias only (else 0.0 and empty arrays).
    implicit_, regularization_ : the feedback kind and ridge weight used.
    """

    _divergence_hint = "raise regularization (or lower alpha for implicit data)"

    state_schema = {
        **FactorRecommender.state_schema,
        "implicit_": Scalar(bool, optional=True),  # optional: files from before one ALS
        "regularization_": Scalar(float, optional=True),
    }

    def __init__(
        self,
        factors: int = 64,
        iterations: int = 15,
        regularization: Optional[float] = None,
        implicit: Optional[bool] = True,
        alpha: float = 1.0,
        solver: str = "cg",
        cg_steps: int = 3,
        use_bias: bool = True,
        n_threads: int = 0,
        seed: Optional[int] = 0,
        progress: bool = False,
        show_progress: Optional[bool] = None,
        callback: Optional[Callable[[int, float], Any]] = None,
        start: str = "small",
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
        self.progress = progress
        self.show_progress = show_progress
        self.callback = callback
        self.start = start

    def implicit_for(self, explicit_data: bool) -> bool:
        """The feedback kind this model uses on data of the given kind (``implicit=None`` follows it)."""
        return (not explicit_data) if self.implicit is None else bool(self.implicit)

    def has_user_bias(self, explicit_data: bool = True) -> bool:
        return not self.implicit_for(explicit_data) and bool(self.use_bias)

    def regularization_for(self, implicit: bool) -> float:
        """The ridge weight used for the given kind (``regularization=None``: the per-kind default)."""
        if self.regularization is None:
            return DEFAULT_REGULARIZATION["implicit" if implicit else "explicit"]
        return check_float(self.regularization, "regularization", 0.0)

    @property
    def _biased(self) -> bool:
        implicit = getattr(self, "implicit_", self.implicit)
        return not implicit and bool(self.use_bias)

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

        user_init / item_init: starting rows (copied): (n, f) factors, or for the biased explicit
        model (n, f + 1) rows with the bias last. With ``item_init`` (or neither) the first
        half-sweep solves users, so item rows matter and user rows only warm-start CG; with only
        ``user_init`` the first half-sweep solves items against the given user rows.
        user_prior, user_prior_weight: (n_users, f) or (n_users, f + 1) targets and (n_users,)
        weights (or a scalar): adds weight_u ||row_u - prior_u||^2 to user u's objective at every
        sweep (weight 0 = plain ALS). A factors-only prior pulls the bias toward 0 with the same
        weight; a (f + 1)-wide prior pulls it toward its last column. item_prior likewise.
        """
        m = fz.kernel_csr(self._start_fit(data))
        f = check_positive_int(self.factors, "factors")
        iterations = check_positive_int(self.iterations, "iterations")
        implicit = self.implicit_for(data.explicit)
        reg = self.regularization_for(implicit)
        check_float(self.alpha, "alpha", 0.0)
        check_choice(self.solver, "solver", fz.SOLVERS)
        check_positive_int(self.cg_steps, "cg_steps")
        threads = check_n_threads(self.n_threads)
        rng = np.random.default_rng(check_seed(self.seed))
        self.implicit_, self.regularization_ = implicit, reg
        n_users, n_items = m.shape
        # the f x f Gram and one f x f system per thread (C++ scratch), in float64
        check_allocation(
            float(f + 1) ** 2 * 8 * (threads + 2), f"ALS's {f} x {f} systems ({threads} threads)", "lower factors"
        )
        biased = self._biased
        width = f + 1 if biased else f
        scale, items_first = als_start(self.start, implicit, f, user_init is not None, item_init is not None)
        X = self._init_factors(user_init, n_users, "user_init", rng, scale, width)
        Y = self._init_factors(item_init, n_items, "item_init", rng, scale, width)
        up = fz.row_prior_args(user_prior, user_prior_weight, n_users, f, width, "user_prior")
        ip = fz.row_prior_args(item_prior, item_prior_weight, n_items, f, width, "item_prior")
        mt = _transpose(m)
        # No threadpool_limits here: the kernels use no BLAS, and numpy's BLAS (in the loss only)
        # never runs concurrently with them; scanning the loaded libraries costs ~20 ms per fit.
        if implicit:
            self._fit_implicit(m, mt, X, Y, reg, up, ip, iterations, threads, items_first)
        else:
            self._fit_explicit(m, mt, X, Y, reg, up, ip, iterations, threads, items_first)
        return self

    # ---- implicit ---------------------------------------------------------------------
    def _fit_implicit(self, m, mt, X, Y, reg, up, ip, iterations, threads, items_first):
        kw = dict(alpha=self.alpha, solver=self.solver, cg_steps=self.cg_steps, n_threads=threads)

        def users():
            fz.als_implicit_step(m, Y, X, reg, prior=up[0], prior_weight=up[1], **kw)

        def items():
            fz.als_implicit_step(mt, X, Y, reg, prior=ip[0], prior_weight=ip[1], **kw)

        def step(_):
            for half in (items, users) if items_first else (users, items):
                half()

        def loss():
            return implicit_loss(m, X, Y, reg, self.alpha) / max(m.nnz, 1)

        self.global_mean_ = 0.0
        self.user_bias_ = np.zeros(0, np.float32)
        self.item_bias_ = np.zeros(0, np.float32)
        self.user_factors_, self.item_factors_ = X, Y
        self._loop(iterations, step, loss)

    # ---- explicit ---------------------------------------------------------------------
    def _fit_explicit(self, m, mt, X, Y, reg, up, ip, iterations, threads, items_first):
        biased = self._biased
        mu = float(m.data.mean()) if biased else 0.0
        f = check_positive_int(self.factors, "factors")

        def users():
            if biased:  # rows [x_u, b_u] against [y_i, 1] on r - mu - b_i
                fz.als_biased_step(m, Y, X, reg, offset=mu, prior=up[0], prior_weight=up[1], n_threads=threads)
            else:
                fz.als_explicit_step(m, Y, X, reg, prior=up[0], prior_weight=up[1], n_threads=threads)

        def items():
            if biased:
                fz.als_biased_step(mt, X, Y, reg, offset=mu, prior=ip[0], prior_weight=ip[1], n_threads=threads)
            else:
                fz.als_explicit_step(mt, X, Y, reg, prior=ip[0], prior_weight=ip[1], n_threads=threads)

        def step(_):
            for half in (items, users) if items_first else (users, items):
                half()
            self._store_explicit(X, Y, f, mu, biased)

        def loss():
            err = m.data - self._predict_rows(m)
            cu, ci = np.diff(m.indptr), np.diff(mt.indptr)
            ridge = reg * (cu @ (X * X).sum(1) + ci @ (Y * Y).sum(1))
            return float(err @ err + ridge) / max(m.nnz, 1)

        self._store_explicit(X, Y, f, mu, biased)
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
        implicit = bool(getattr(self, "implicit_", self.implicit))
        reg = self.regularization_for(implicit)
        rows: list[tuple] = []
        if implicit:
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
        implicit = getattr(self, "implicit_", self.implicit)
        reg = getattr(self, "regularization_", None)
        reg = float(self.regularization_for(bool(implicit)) if reg is None else reg)
        if implicit:
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
    Ya = np.hstack([fixed, np.asarray(other_bias, np.float32)[:, None]])
    fz.als_biased_step(rows, Ya, Xa, reg, offset=mu, n_threads=threads)
    return np.ascontiguousarray(Xa[:, :f]), np.ascontiguousarray(Xa[:, f])


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


class MF(FactorRecommender):
    """Biased matrix factorisation for explicit ratings by SGD (Funk; Koren 2009; Surprise's SVD):
    r_ui ~ mu + b_u + b_i + x_u . y_i. See :func:`crossrec.factorization.sgd_epoch` for the
    per-sample update and the thread-count independent (stratified) schedule.

    Parameters
    ----------
    factors : latent dimension. iterations : epochs. learning_rate, regularization : SGD step and
    per-sample ridge on factors. bias_regularization : ridge on biases (default regularization).
    use_bias : learn mu, b_u, b_i. init_std : factors start N(0, init_std^2), biases 0.
    n_threads, seed, progress, callback : as in :class:`ALS`; the loss given to the callback
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
        progress: bool = False,
        show_progress: Optional[bool] = None,
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
        self.progress = progress
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
        """Fit on ``data``; init and priors as in :meth:`ALS.fit` (rows ``[x, b]`` when use_bias:
        the bias column of user_init / item_init starts the biases, that of user_prior is the
        target of the user biases, pulled with the same weights). weights: optional
        per-interaction sample weights, aligned with ``data.matrix.data`` (e.g. for distillation)."""
        m = fz.kernel_csr(self._start_fit(data))
        iterations = check_positive_int(self.iterations, "iterations")
        check_float(self.init_std, "init_std", 0.0)
        threads = check_n_threads(self.n_threads)
        seed = check_seed(self.seed)
        rng = np.random.default_rng(seed)
        biased = bool(self.use_bias)
        f = check_positive_int(self.factors, "factors")
        width = f + 1 if biased else f
        Xa = self._init_factors(user_init, m.shape[0], "user_init", rng, self.init_std, width)
        Ya = self._init_factors(item_init, m.shape[1], "item_init", rng, self.init_std, width)
        X, Y = np.ascontiguousarray(Xa[:, :f]), np.ascontiguousarray(Ya[:, :f])
        # a factors-only prior leaves the biases to their own ridge (as the SGD kernel always did)
        with_bias = width > f and np.ndim(user_prior) == 2 and np.shape(user_prior)[1] == width
        up = fz.prior_args(user_prior, user_prior_weight, m.shape[0], width if with_bias else f, "user_prior")
        bias_prior = None
        if with_bias and up[0] is not None:
            bias_prior = np.ascontiguousarray(up[0][:, f])
            up = (np.ascontiguousarray(up[0][:, :f]), up[1])
        ip = fz.prior_args(item_prior, item_prior_weight, m.shape[1], f, "item_prior")
        self.global_mean_ = float(m.data.mean()) if biased else 0.0
        self.user_bias_ = np.ascontiguousarray(Xa[:, f]) if biased else np.zeros(0, np.float32)
        self.item_bias_ = np.ascontiguousarray(Ya[:, f]) if biased else np.zeros(0, np.float32)
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
                    bias_prior,
                )
            )
            if not np.isfinite(losses[-1]):
                raise FitError(
                    f"MF diverged at epoch {epoch} (training error is not finite); "
                    "lower learning_rate or raise regularization"
                )

        self._loop(iterations, step, lambda: losses[-1])
        return self

    def has_user_bias(self, explicit_data: bool = True) -> bool:
        return bool(self.use_bias)

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


class BPR(FactorRecommender):
    """Bayesian personalised ranking (Rendle et al. 2009) for implicit feedback, by SGD with sampled
    negatives; scores x_u . y_i + b_i. See :func:`crossrec.factorization.bpr_epoch`.

    Parameters
    ----------
    factors, iterations (epochs), learning_rate, regularization : as in :class:`MF`. The default
        128 factors: 64 were 2.7 % / 3.5 % below the best of a grid in NDCG@10 on ML-100K >= 4
        and Last.fm (``benchmarks/results/defaults.md``); the fit takes about twice as long.
    use_bias : learn an item bias. init_std : factors start N(0, init_std^2).
    n_threads, seed, progress, callback : as in :class:`ALS`; the callback's loss is the epoch's
    mean -log sigmoid(x_uij).
    """

    state_schema = {
        "user_factors_": Array(("users", "factors"), "float32"),
        "item_factors_": Array(("items", "factors"), "float32"),
        "item_bias_": Array((("items", 0),), "float32"),
        "train_accuracy_": Scalar(float, optional=True),
    }

    def __init__(
        self,
        factors: int = 128,
        iterations: int = 100,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        use_bias: bool = True,
        init_std: float = 0.01,
        n_threads: int = 0,
        seed: Optional[int] = 0,
        progress: bool = False,
        show_progress: Optional[bool] = None,
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
        self.progress = progress
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
