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
    """Random baseline, for ranking and for ratings.

    Ranking: uniformly random; each user's scores come from the stream (seed, user index), so
    results do not depend on batching.

    Ratings (Surprise's ``NormalPredictor``): a draw from N(mu, sigma^2), mu and sigma the mean and
    the (maximum-likelihood, ``ddof=0``) standard deviation of the training values; clipped to the
    training rating range when ``clip``. Each pair's draw comes from the stream (seed, user, item):
    the same pair always gets the same prediction, whatever the batch (Surprise draws from
    numpy's global generator, a new value per call).
    """

    state_schema = {
        "seed_": Scalar(int, minimum=0),
        # required: without them a loaded model would fail at its first predict()
        "global_mean_": Scalar(float),
        "std_": Scalar(float, minimum=0),
        "rating_range_": Array((2,), "float64"),
    }

    def __init__(self, seed: int = 0, clip: bool = True):
        self.seed = seed
        self.clip = clip

    def fit(self, data: Interactions) -> "Random":
        if not isinstance(self.clip, (bool, np.bool_)):
            raise ValueError(f"clip must be True or False, got {self.clip!r}")
        m = self._start_fit(data)
        self.seed_ = check_seed(self.seed)
        values = m.data.astype(np.float64)
        self.global_mean_ = float(values.mean())
        self.std_ = float(values.std())
        self.rating_range_ = np.array([values.min(), values.max()])
        return self

    def _score_block(self, user_idx):
        out = np.empty((len(user_idx), self.n_items_), np.float32)
        for r, u in enumerate(user_idx):
            out[r] = np.random.default_rng([self.seed_, int(u)]).random(self.n_items_, dtype=np.float32)
        return out

    def _predict_indices(self, user_idx, item_idx):
        z = pair_normals(self.seed_, np.asarray(user_idx), np.asarray(item_idx))
        est = self.global_mean_ + self.std_ * z
        if self.clip:
            est = np.clip(est, *self.rating_range_)
        return est


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def pair_normals(seed: int, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
    """One standard normal per (user, item) pair from a hash of (seed, user, item), by Box-Muller:
    independent of batching and order."""
    u = np.asarray(user_idx).astype(np.uint64)
    i = np.asarray(item_idx).astype(np.uint64)
    key = _splitmix64(_splitmix64(_splitmix64(np.full(u.shape, seed, np.uint64)) ^ u) ^ i)
    a = _splitmix64(key)
    b = _splitmix64(key ^ np.uint64(0xD1B54A32D192ED03))
    scale = 1.0 / 9007199254740992.0  # 2^-53
    u1 = ((a >> np.uint64(11)).astype(np.float64) + 1.0) * scale  # (0, 1]
    u2 = (b >> np.uint64(11)).astype(np.float64) * scale
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
