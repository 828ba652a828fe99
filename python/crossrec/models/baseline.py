"""Baselines every comparison needs: random, most popular, and the regularised bias model."""

from __future__ import annotations

import numpy as np

from .._validation import check_float, check_positive_int, check_seed
from ..data import Interactions
from ..schema import Array, Scalar
from .base import Recommender
from .biases import fit_biases

__all__ = ["Baseline", "MostPopular", "Random", "fit_biases"]


class Baseline(Recommender):
    """Rating baseline: r_ui = mu + b_u + b_i with regularised biases (see :func:`fit_biases`).

    For ranking, items are ordered by b_i (the user bias shifts every item equally). Users and
    items unseen in training get bias 0, so cold users are predicted mu + b_i.
    """

    state_schema = {
        "global_mean_": Scalar(float),
        "user_bias_": Array(("users",), "float32"),
        "item_bias_": Array(("items",), "float32"),
    }

    def __init__(self, reg_user: float = 15.0, reg_item: float = 10.0, iterations: int = 10):
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.iterations = iterations

    def fit(self, data: Interactions) -> "Baseline":
        m = self._start_fit(data)
        check_float(self.reg_user, "reg_user", 0.0)
        check_float(self.reg_item, "reg_item", 0.0)
        check_positive_int(self.iterations, "iterations")
        self.global_mean_, self.user_bias_, self.item_bias_ = fit_biases(
            m, self.reg_user, self.reg_item, self.iterations
        )
        return self

    def _predict_indices(self, user_idx, item_idx):
        return self.global_mean_ + self.user_bias_[user_idx] + self.item_bias_[item_idx]

    def _score_block(self, user_idx):
        return (
            np.broadcast_to(self.item_bias_, (len(user_idx), self.n_items_))
            + self.user_bias_[user_idx, None]
            + np.float32(self.global_mean_)
        )

    def _factors(self, user_idx):
        # mu + b_u + b_i as a rank-2 product [1, mu + b_u] . [b_i, 1]: ranking then runs in the
        # fused top-n kernel without a dense users x items block.
        users = np.empty((len(user_idx), 2), np.float32)
        users[:, 0] = 1.0
        users[:, 1] = self.user_bias_[user_idx] + np.float32(self.global_mean_)
        items = np.empty((self.n_items_, 2), np.float32)
        items[:, 0] = self.item_bias_
        items[:, 1] = 1.0
        return users, items, None


class MostPopular(Recommender):
    """Ranks items by the number of training users who interacted with them (ties: lower index).
    Predicts each item's mean training rating (the global mean for unrated items)."""

    state_schema = {
        "popularity_": Array(("items",), "float32"),
        "global_mean_": Scalar(float),
        "item_mean_": Array(("items",), "float32"),
    }

    def fit(self, data: Interactions) -> "MostPopular":
        m = self._start_fit(data)
        self.popularity_ = np.diff(m.tocsc().indptr).astype(np.float32)
        sums = np.asarray(m.sum(axis=0)).ravel()
        self.global_mean_ = float(m.data.mean())
        with np.errstate(invalid="ignore", divide="ignore"):
            self.item_mean_ = np.where(
                self.popularity_ > 0, sums / np.maximum(self.popularity_, 1), self.global_mean_
            ).astype(np.float32)
        return self

    def _score_block(self, user_idx):
        return np.broadcast_to(self.popularity_, (len(user_idx), self.n_items_))

    def _factors(self, user_idx):
        # popularity as a rank-1 product: the fused top-n kernel, no dense users x items block
        return np.ones((len(user_idx), 1), np.float32), self.popularity_[:, None].astype(np.float32), None

    def _predict_indices(self, user_idx, item_idx):
        return self.item_mean_[item_idx]


class Random(Recommender):
    """Uniformly random ranking; each user's scores come from the stream (seed, user index), so
    results do not depend on batching."""

    state_schema = {"seed_": Scalar(int, minimum=0)}

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, data: Interactions) -> "Random":
        self._start_fit(data)
        self.seed_ = check_seed(self.seed)
        return self

    def _score_block(self, user_idx):
        out = np.empty((len(user_idx), self.n_items_), np.float32)
        for r, u in enumerate(user_idx):
            out[r] = np.random.default_rng([self.seed_, int(u)]).random(self.n_items_, dtype=np.float32)
        return out
