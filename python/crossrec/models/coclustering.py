"""Co-clustering for ratings (George & Merugu 2005), Surprise's ``CoClustering`` with the
passes in C++ (see ``cpp/include/crossrec/coclustering.hpp``)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _core
from .._validation import check_n_threads, check_positive_int, check_seed, csr_parts
from ..data import Interactions
from .rating_tools import RatingModel, item_major


class CoClustering(RatingModel):
    """Co-clustering: users and items in clusters C_u, C_i found by k-means-like reassignment,

        r_ui = A_co(C_u, C_i) + (mu_u - A_u(C_u)) + (mu_i - A_i(C_i)),

    A_* the mean ratings of the user cluster, item cluster and co-cluster. A user or item without
    a training rating is predicted the global mean (as Surprise does). Defaults are Surprise's
    (3 x 3 clusters, 20 epochs); clusters start uniformly at random from ``seed``. Both passes and
    the averages run in parallel, with the same result on any thread count.

    Attributes
    ----------
    user_clusters_, item_clusters_ : int32 cluster of each user / item
    user_cluster_mean_, item_cluster_mean_, cocluster_mean_ : A_u, A_i, A_co
    user_mean_, item_mean_ : mu_u, mu_i (the global mean for rows without ratings)
    """

    def __init__(
        self,
        user_clusters: int = 3,
        item_clusters: int = 3,
        iterations: int = 20,
        clip: bool = True,
        seed: Optional[int] = 0,
        n_threads: int = 0,
    ):
        self.user_clusters = user_clusters
        self.item_clusters = item_clusters
        self.iterations = iterations
        self.clip = clip
        self.seed = seed
        self.n_threads = n_threads

    def fit(self, data: Interactions, *, user_init=None, item_init=None) -> "CoClustering":
        """Fit on explicit ``data``; returns self. user_init, item_init: optional starting clusters
        (integers in [0, user_clusters) / [0, item_clusters); default: uniform from the seed)."""
        n_cu = check_positive_int(self.user_clusters, "user_clusters")
        n_ci = check_positive_int(self.item_clusters, "item_clusters")
        iterations = check_positive_int(self.iterations, "iterations", minimum=0)
        threads = check_n_threads(self.n_threads)
        rng = np.random.default_rng(check_seed(self.seed))
        m = self._start_rating_fit(data)
        n_users, n_items = m.shape
        cu = _clusters(user_init, n_users, n_cu, "user_init", rng)
        ci = _clusters(item_init, n_items, n_ci, "item_init", rng)
        parts = csr_parts(m)
        by_item = item_major(m)
        self.user_mean_ = _means(m.indptr, parts[2], self.global_mean_)
        self.item_mean_ = _means(by_item.indptr, by_item.values, self.global_mean_)
        for _ in range(iterations):
            averages = _core.coclustering_averages(*parts, n_items, cu, ci, n_cu, n_ci, self.global_mean_, threads)
            _core.coclustering_assign(
                *parts, *by_item[:3], self.user_mean_, self.item_mean_, cu, ci, *averages, n_threads=threads
            )
        au, ai, aco = _core.coclustering_averages(*parts, n_items, cu, ci, n_cu, n_ci, self.global_mean_, threads)
        self.user_clusters_, self.item_clusters_ = cu, ci
        self.user_cluster_mean_, self.item_cluster_mean_, self.cocluster_mean_ = au, ai, aco
        return self

    def validate_state(self) -> None:
        super().validate_state()
        if not self.is_fitted:
            return
        co = np.asarray(self.cocluster_mean_)
        for name, n, k in (
            ("user_clusters_", self.n_users_, co.shape[0]),
            ("item_clusters_", self.n_items_, co.shape[1] if co.ndim == 2 else 0),
        ):
            c = np.asarray(getattr(self, name))
            if c.shape != (n,) or c.dtype.kind not in "iu" or (n and (c.min() < 0 or c.max() >= k)):
                raise ValueError(f"{name} must hold {n} clusters in [0, {k})")
        if self.user_cluster_mean_.shape != (co.shape[0],) or self.item_cluster_mean_.shape != (co.shape[1],):
            raise ValueError("cluster means do not match cocluster_mean_")
        if self.user_mean_.shape != (self.n_users_,) or self.item_mean_.shape != (self.n_items_,):
            raise ValueError("user_mean_ / item_mean_ do not match the id maps")

    def _estimate(self, user_idx, item_idx) -> np.ndarray:
        cu, ci = self.user_clusters_[user_idx], self.item_clusters_[item_idx]
        return (
            self.cocluster_mean_[cu, ci]
            + self.user_mean_[user_idx]
            - self.user_cluster_mean_[cu]
            + self.item_mean_[item_idx]
            - self.item_cluster_mean_[ci]
        )

    def _predict_indices(self, user_idx, item_idx):
        est = np.where(self._known_pairs(user_idx, item_idx), self._estimate(user_idx, item_idx), self.global_mean_)
        return self._clipped(est)

    def _score_block(self, user_idx):
        users = np.repeat(np.asarray(user_idx), self.n_items_)
        items = np.tile(np.arange(self.n_items_), len(user_idx))
        est = np.where(self._known_pairs(users, items), self._estimate(users, items), self.global_mean_)
        return est.reshape(len(user_idx), self.n_items_).astype(np.float32)


def _means(indptr: np.ndarray, values: np.ndarray, fallback: float) -> np.ndarray:
    """Mean of each CSR row (``fallback`` for empty rows), float64."""
    counts = np.diff(indptr)
    row = np.repeat(np.arange(len(counts)), counts)
    sums = np.bincount(row, weights=values.astype(np.float64), minlength=len(counts))
    return np.where(counts > 0, sums / np.maximum(counts, 1), fallback)


def _clusters(given, n: int, k: int, name: str, rng: np.random.Generator) -> np.ndarray:
    """Starting clusters: ``given`` (checked) or uniform draws."""
    if given is None:
        return rng.integers(0, k, n).astype(np.int32)
    c = np.asarray(given)
    if c.shape != (n,) or c.dtype.kind not in "iu":
        raise ValueError(f"{name} must be {n} integer cluster indices, got shape {c.shape} dtype {c.dtype}")
    if n and (c.min() < 0 or c.max() >= k):
        raise ValueError(f"{name} must hold clusters in [0, {k}), got values in [{c.min()}, {c.max()}]")
    return np.array(c, dtype=np.int32, copy=True)
