"""SVD++ (Koren 2008), Surprise's ``SVDpp`` with a C++ epoch that does the same updates in
O(nnz f) instead of O(sum_u |I_u|^2 f) (see ``cpp/include/crossrec/svdpp.hpp``)."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .. import _core
from .._validation import check_float, check_n_threads, check_positive_int, check_seed, csr_parts
from ..data import Interactions
from ..errors import FitError
from .rating_tools import FactorRatingModel, given_order, initial_factors, shuffled_rows


class SVDpp(FactorRatingModel):
    """SVD++: r_ui = mu + b_u + b_i + q_i . (p_u + |I_u|^-1/2 sum_{j in I_u} y_j), the y_j
    capturing *which* items a user rated. Trained by Surprise's per-rating SGD
    (``surprise.SVDpp``; defaults are Surprise's).

    The epoch is sequential (consecutive ratings share item rows; Surprise's iterates are those of
    one rating after the other), so ``n_threads`` only parallelises the final user vectors and
    prediction. The visiting order is a seeded shuffle of the users and of each user's ratings, the
    same on every machine: a seed gives the same model on any thread count.

    Parameters
    ----------
    factors : int
        Latent dimension (Surprise: ``n_factors=20``).
    iterations : int
        SGD epochs (``n_epochs=20``).
    learning_rate, regularization : float
        Step and per-sample ridge of every parameter (``lr_all=0.007``, ``reg_all=0.02``).
    init_mean, init_std : float
        Factors p, q, y start N(init_mean, init_std^2); biases 0.
    clip : bool
        Clip predictions to the training rating range (Surprise clips to the rating scale).
    seed, n_threads, callback
        ``callback(epoch, training_mse)`` after each epoch; returning True stops early.

    Attributes
    ----------
    user_factors_ : (n_users, factors) p_u + |I_u|^-1/2 sum y_j (zero for users without ratings)
    item_factors_ : (n_items, factors) q_i (zero for items without ratings)
    implicit_factors_ : (n_items, factors) y_j
    user_bias_, item_bias_, global_mean_
    """

    def __init__(
        self,
        factors: int = 20,
        iterations: int = 20,
        learning_rate: float = 0.007,
        regularization: float = 0.02,
        init_mean: float = 0.0,
        init_std: float = 0.1,
        clip: bool = True,
        seed: Optional[int] = 0,
        n_threads: int = 0,
        callback: Optional[Callable[[int, float], Any]] = None,
    ):
        self.factors = factors
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.init_mean = init_mean
        self.init_std = init_std
        self.clip = clip
        self.seed = seed
        self.n_threads = n_threads
        self.callback = callback

    def fit(
        self, data: Interactions, *, user_init=None, item_init=None, implicit_init=None, visit_order=None
    ) -> "SVDpp":
        """Fit on explicit ``data``; returns self.

        user_init, item_init, implicit_init: optional starting p, q, y (default: drawn from the
        seed). visit_order: optional SGD order, a permutation of the training ratings (positions in
        ``data.matrix``) keeping each user's ratings together (default: a seeded shuffle). Given
        another library's starting point and order, the fit reproduces its run (tests do this
        with Surprise).
        """
        f = check_positive_int(self.factors, "factors")
        iterations = check_positive_int(self.iterations, "iterations")
        lr = check_float(self.learning_rate, "learning_rate", 0.0, strict_min=True)
        reg = check_float(self.regularization, "regularization", 0.0)
        mean = check_float(self.init_mean, "init_mean")
        std = check_float(self.init_std, "init_std", 0.0)
        threads = check_n_threads(self.n_threads)
        rng = np.random.default_rng(check_seed(self.seed))
        m = self._start_rating_fit(data)
        n_users, n_items = m.shape

        def draw(shape):
            return rng.normal(mean, std, shape)

        P = initial_factors(user_init, (n_users, f), "user_init", draw)
        Q = initial_factors(item_init, (n_items, f), "item_init", draw)
        Y = initial_factors(implicit_init, (n_items, f), "implicit_init", draw)
        bu = np.zeros(n_users, np.float32)
        bi = np.zeros(n_items, np.float32)
        visit, order = shuffled_rows(m, rng) if visit_order is None else given_order(m, visit_order)
        indptr, indices, values = csr_parts(visit)
        for epoch in range(iterations):
            sse = _core.svdpp_epoch(
                indptr, indices, values, order, P, Q, Y, bu, bi, self.global_mean_, (lr,) * 5, (reg,) * 5
            )
            if not np.isfinite(sse):
                raise FitError(
                    f"SVDpp diverged at epoch {epoch} (training error is not finite); "
                    "lower learning_rate or raise regularization"
                )
            if self.callback is not None and self.callback(epoch, sse / m.nnz) is True:
                break
        self.implicit_factors_ = Y
        self.explicit_user_factors_ = P
        self.user_factors_ = _core.svdpp_user_vectors(*csr_parts(m)[:2], P, Y, threads)
        self.item_factors_ = Q
        self.user_bias_, self.item_bias_ = bu, bi
        self._zero_unknown_rows()
        return self
