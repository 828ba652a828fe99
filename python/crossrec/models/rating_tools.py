"""What the rating models ported from Surprise's table share: the item-major copy of the ratings,
a seeded visiting order for sequential SGD, "known" users and items, clipping, and the scoring
of factor models whose unknown rows must contribute nothing.

"Known" follows Surprise: a user or item is known when it has at least one training rating. The
id maps of a split cover the whole data set, so a test user can be in the map without a training
rating; such pairs get each model's documented fallback (usually the global mean).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .._validation import as_factors, check_float, csr_parts
from ..data import Interactions
from .base import Recommender


class ItemMajor(NamedTuple):
    """The entries of a users x items CSR sorted by item (then user): rows are items."""

    indptr: np.ndarray  # int64, n_items + 1
    users: np.ndarray  # int32
    values: np.ndarray  # float32
    position: np.ndarray  # int64: where each entry sits in the user-major CSR


def item_major(m: sp.csr_matrix) -> ItemMajor:
    """The item-major copy of ``m`` (rows of ``m`` in any within-row order)."""
    indptr, indices, data = csr_parts(m)
    position = np.argsort(indices, kind="stable").astype(np.int64)
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int32), np.diff(indptr))
    counts = np.bincount(indices, minlength=m.shape[1])
    item_indptr = np.zeros(m.shape[1] + 1, np.int64)
    np.cumsum(counts, out=item_indptr[1:])
    return ItemMajor(item_indptr, rows[position], data[position], position)


def shuffled_rows(m: sp.csr_matrix, rng: np.random.Generator) -> tuple[sp.csr_matrix, np.ndarray]:
    """A seeded visiting order for sequential SGD: (m with each row's entries permuted, a
    permutation of the users). Surprise visits the ratings in the order of its (shuffled) folds;
    a fixed random order keeps SGD from following the item ids."""
    indptr, indices, data = csr_parts(m)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(indptr))
    order = np.lexsort((rng.random(len(indices)), rows))
    visit = sp.csr_matrix((data[order], indices[order], indptr), shape=m.shape)
    visit.has_sorted_indices = False
    return visit, rng.permutation(m.shape[0]).astype(np.int32)


def given_order(m: sp.csr_matrix, order) -> tuple[sp.csr_matrix, np.ndarray]:
    """A caller's SGD visiting order (e.g. to replay another library's run): ``order`` is a
    permutation of the stored entries of ``m`` (positions in CSR order) in which each user's
    entries are consecutive. Returns (m with each row in that order, the users in that order)."""
    order = np.asarray(order)
    if order.ndim != 1 or order.dtype.kind not in "iu" or len(order) != m.nnz:
        raise ValueError(f"visit_order must be a 1-D integer permutation of the {m.nnz} training ratings")
    if not np.array_equal(np.sort(order), np.arange(m.nnz)):
        raise ValueError("visit_order must be a permutation of range(number of training ratings)")
    indptr, indices, data = csr_parts(m)
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int32), np.diff(indptr))[order]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    users = rows[starts]
    if len(np.unique(users)) != len(users):
        raise ValueError("visit_order must keep each user's ratings together (one run per user)")
    within = order[np.argsort(rows, kind="stable")]
    visit = sp.csr_matrix((data[within], indices[within], indptr), shape=m.shape)
    visit.has_sorted_indices = False
    return visit, users.astype(np.int32)


def initial_factors(given, shape: tuple[int, int], name: str, draw, non_negative: bool = False) -> np.ndarray:
    """``given`` factors (checked, copied to float32) or ``draw(shape)``."""
    if given is None:
        return np.ascontiguousarray(draw(shape), dtype=np.float32)
    x = as_factors(given, name)
    if x.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {x.shape}")
    if non_negative and x.size and x.min() < 0:
        raise ValueError(f"{name} must be non-negative (multiplicative updates keep the sign)")
    return np.array(x, dtype=np.float32, copy=True)


def check_clip(clip) -> bool:
    if not isinstance(clip, (bool, np.bool_)):
        raise ValueError(f"clip must be True or False, got {clip!r}")
    return bool(clip)


def check_init_range(low, high) -> tuple[float, float]:
    lo = check_float(low, "init_low", 0.0)
    hi = check_float(high, "init_high", 0.0)
    if hi < lo:
        raise ValueError(f"init_high must be >= init_low, got init_low={low!r}, init_high={high!r}")
    return lo, hi


class RatingModel(Recommender):
    """A model that predicts ratings the way Surprise's algorithms do: clipped to the training
    rating range (``clip``), with a fallback for users and items without a training rating."""

    clip: bool = True

    def _start_rating_fit(self, data: Interactions) -> sp.csr_matrix:
        """Checks the data are ratings, records the id maps, the global mean, the rating range and
        the known users and items; returns the canonical CSR (float32, sorted rows)."""
        if isinstance(data, Interactions) and not data.explicit:
            raise ValueError(
                f"{type(self).__name__} predicts ratings and needs explicit data (Interactions with a rating column)"
            )
        check_clip(self.clip)
        m = sp.csr_matrix(self._start_fit(data), dtype=np.float32)
        m.sum_duplicates()
        m.sort_indices()
        self.global_mean_ = float(m.data.astype(np.float64).mean())
        self.rating_range_ = np.array([m.data.min(), m.data.max()], dtype=np.float64)
        self.user_known_ = np.diff(m.indptr) > 0
        self.item_known_ = np.bincount(m.indices, minlength=m.shape[1]) > 0
        return m

    def validate_state(self) -> None:
        super().validate_state()
        if not self.is_fitted:
            return
        for name, n in (("user_known_", self.n_users_), ("item_known_", self.n_items_)):
            a = np.asarray(getattr(self, name))
            if a.shape != (n,) or a.dtype != bool:
                raise ValueError(f"{name} must be a bool array of length {n}, got {a.dtype} {a.shape}")
        lo, hi = np.asarray(self.rating_range_, dtype=np.float64)
        if not (np.isfinite(self.global_mean_) and np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise ValueError("global_mean_ and rating_range_ must be finite with lo <= hi")

    def _clipped(self, values: np.ndarray) -> np.ndarray:
        if self.clip:
            lo, hi = self.rating_range_
            return np.clip(values, lo, hi)
        return values

    def _known_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        """Pairs whose user and item both have a training rating."""
        return self.user_known_[user_idx] & self.item_known_[item_idx]


class FactorRatingModel(RatingModel):
    """Scoring shared by the factor rating models (SVD++, NMF):
    r_ui = mu + b_u + b_i + x_u . y_i, where rows of users or items without a training rating are
    zero, so an unknown user gets mu + b_i and an unknown item mu + b_u (Surprise's rule)."""

    user_factors_: np.ndarray
    item_factors_: np.ndarray
    user_bias_: np.ndarray
    item_bias_: np.ndarray

    def _factors(self, user_idx):
        bias = self.item_bias_ if self.item_bias_.size else None
        return np.ascontiguousarray(self.user_factors_[user_idx]), self.item_factors_, bias

    def _item_vectors(self):
        return self.item_factors_

    def _predict_indices(self, user_idx, item_idx):
        est = np.einsum(
            "ij,ij->i", self.user_factors_[user_idx].astype(np.float64), self.item_factors_[item_idx].astype(np.float64)
        )
        if self.item_bias_.size:
            est += self.global_mean_ + self.user_bias_[user_idx] + self.item_bias_[item_idx]
        return self._clipped(est)

    def validate_state(self) -> None:
        super().validate_state()
        if not self.is_fitted:
            return
        U, V = np.asarray(self.user_factors_), np.asarray(self.item_factors_)
        if U.ndim != 2 or V.ndim != 2 or U.shape[0] != self.n_users_ or V.shape != (self.n_items_, U.shape[1]):
            raise ValueError(
                f"factor shapes {U.shape} / {V.shape} do not fit {self.n_users_} users, {self.n_items_} items"
            )
        for name, n in (("user_bias_", self.n_users_), ("item_bias_", self.n_items_)):
            b = np.asarray(getattr(self, name))
            if b.shape not in ((n,), (0,)):
                raise ValueError(f"{name} must have length {n} (or 0 without biases), got {b.shape}")

    def _zero_unknown_rows(self) -> None:
        self.user_factors_[~self.user_known_] = 0.0
        self.item_factors_[~self.item_known_] = 0.0
