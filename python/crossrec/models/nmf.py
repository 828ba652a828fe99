"""Non-negative matrix factorisation for ratings, Surprise's ``NMF`` on a C++ epoch (see
``cpp/include/crossrec/nmf.hpp``)."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .. import _core
from .._validation import check_float, check_n_threads, check_positive_int, check_seed, csr_parts
from ..data import Interactions
from ..errors import FitError
from .rating_tools import FactorRatingModel, check_init_range, given_order, initial_factors, item_major, shuffled_rows


class NMF(FactorRatingModel):
    """NMF for ratings (Luo et al. 2014; Surprise's ``NMF``): r_ui = p_u . q_i with p, q >= 0 kept
    non-negative by multiplicative updates; with ``biased=True`` r_ui = mu + b_u + b_i + p_u . q_i,
    the biases learnt by SGD. Parameter names and defaults are Surprise's.

    Without biases an epoch is parallel and exact on any thread count; with biases the pass that
    updates them is sequential (in a seeded order), the rest parallel.

    Users or items without a training rating are predicted the global mean (unbiased; Surprise's
    default prediction) or mu + the known bias (biased). Predictions are clipped to the training
    rating range when ``clip``.

    Parameters
    ----------
    factors : int
        Latent dimension (``n_factors=15``).
    iterations : int
        Epochs (``n_epochs=50``).
    biased : bool
        Learn mu + b_u + b_i as well.
    reg_pu, reg_qi : float
        Ridge on user and item factors (0.06).
    reg_bu, reg_bi, lr_bu, lr_bi : float
        Ridge and step of the biases (biased only; 0.02, 0.02, 0.005, 0.005).
    init_low, init_high : float
        Factors start uniform in [init_low, init_high] (0, 1); init_low must be >= 0.
    clip, seed, n_threads
        As in :class:`crossrec.SVDpp`.
    callback
        ``callback(epoch, training_mse)`` after each block of epochs (one C++ call runs as many
        epochs as take about 0.1 s); returning True stops early.
    """

    def __init__(
        self,
        factors: int = 15,
        iterations: int = 50,
        biased: bool = False,
        reg_pu: float = 0.06,
        reg_qi: float = 0.06,
        reg_bu: float = 0.02,
        reg_bi: float = 0.02,
        lr_bu: float = 0.005,
        lr_bi: float = 0.005,
        init_low: float = 0.0,
        init_high: float = 1.0,
        clip: bool = True,
        seed: Optional[int] = 0,
        n_threads: int = 0,
        callback: Optional[Callable[[int, float], Any]] = None,
    ):
        self.factors = factors
        self.iterations = iterations
        self.biased = biased
        self.reg_pu = reg_pu
        self.reg_qi = reg_qi
        self.reg_bu = reg_bu
        self.reg_bi = reg_bi
        self.lr_bu = lr_bu
        self.lr_bi = lr_bi
        self.init_low = init_low
        self.init_high = init_high
        self.clip = clip
        self.seed = seed
        self.n_threads = n_threads
        self.callback = callback

    def fit(self, data: Interactions, *, user_init=None, item_init=None, visit_order=None) -> "NMF":
        """Fit on explicit ``data``; returns self. user_init, item_init: optional non-negative
        starting factors (default: uniform from the seed); visit_order: the order of the
        sequential bias pass (biased only; see :meth:`crossrec.SVDpp.fit`)."""
        f = check_positive_int(self.factors, "factors")
        iterations = check_positive_int(self.iterations, "iterations")
        if not isinstance(self.biased, (bool, np.bool_)):
            raise ValueError(f"biased must be True or False, got {self.biased!r}")
        regs = {k: check_float(getattr(self, k), k, 0.0) for k in ("reg_pu", "reg_qi", "reg_bu", "reg_bi")}
        rates = {k: check_float(getattr(self, k), k, 0.0, strict_min=True) for k in ("lr_bu", "lr_bi")}
        low, high = check_init_range(self.init_low, self.init_high)
        threads = check_n_threads(self.n_threads)
        rng = np.random.default_rng(check_seed(self.seed))
        m = self._start_rating_fit(data)
        n_users, n_items = m.shape

        def draw(shape):
            return rng.uniform(low, high, shape)

        P = initial_factors(user_init, (n_users, f), "user_init", draw, non_negative=True)
        Q = initial_factors(item_init, (n_items, f), "item_init", draw, non_negative=True)
        biased = bool(self.biased)
        bu = np.zeros(n_users if biased else 0, np.float32)
        bi = np.zeros(n_items if biased else 0, np.float32)
        order: Optional[np.ndarray] = None
        if visit_order is not None:
            visit, order = given_order(m, visit_order)
        elif biased:
            visit, order = shuffled_rows(m, rng)
        else:
            visit = m
        by_item = item_major(visit)
        parts = csr_parts(visit)
        # Python owns the loop, in blocks of epochs worth ~0.1 s each: an epoch of a small data set
        # costs about as much as a call (ML-100K: 2 ms), a large one gets a call per epoch.
        block = max(1, min(iterations, int(3e8 // max(1, m.nnz * f * 75))))
        done = 0
        while done < iterations:
            n = min(block, iterations - done)
            sse = _core.nmf_epochs(
                n,
                indptr=parts[0],
                indices=parts[1],
                data=parts[2],
                item_indptr=by_item.indptr,
                item_indices=by_item.users,
                item_data=by_item.values,
                item_pos=by_item.position,
                user_order=order,
                P=P,
                Q=Q,
                user_bias=bu if biased else None,
                item_bias=bi if biased else None,
                global_mean=self.global_mean_ if biased else 0.0,
                reg_pu=regs["reg_pu"],
                reg_qi=regs["reg_qi"],
                reg_bu=regs["reg_bu"],
                reg_bi=regs["reg_bi"],
                lr_bu=rates["lr_bu"],
                lr_bi=rates["lr_bi"],
                n_threads=threads,
            )
            done += n
            if not np.isfinite(sse):
                raise FitError(f"NMF diverged by epoch {done}; raise reg_pu / reg_qi")
            if self.callback is not None and self.callback(done - 1, sse / m.nnz) is True:
                break
        self.user_factors_, self.item_factors_ = P, Q
        self.user_bias_, self.item_bias_ = bu, bi
        self._zero_unknown_rows()
        return self

    def _predict_indices(self, user_idx, item_idx):
        est = super()._predict_indices(user_idx, item_idx)
        if not self.biased:  # Surprise: an unknown user or item cannot be predicted -> global mean
            est = np.where(self._known_pairs(user_idx, item_idx), est, self._clipped(self.global_mean_))
        return est
