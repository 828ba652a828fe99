"""Slope One (Lemire & Maclachlan 2005), Surprise's ``SlopeOne`` on a sparse C++ table (see
``cpp/include/crossrec/slope_one.hpp``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .. import _core
from .._validation import check_n_threads, csr_parts
from ..data import Interactions
from .rating_tools import RatingModel, item_major


class SlopeOne(RatingModel):
    """Slope One: dev(i, j) = mean over users who rated both of r_ui - r_uj, and

    * ``weighted=False`` (Surprise's ``SlopeOne``): r_ui = mu_u + mean_{j in R_i(u)} dev(i, j),
      R_i(u) the items u rated that share a rater with i (mu_u when there is none);
    * ``weighted=True`` (Lemire's weighted Slope One): r_ui = sum_j (dev(i, j) + r_uj) c_ij /
      sum_j c_ij, c_ij the number of users who rated both.

    A user or item without a training rating is predicted the global mean. The deviations are kept
    for co-rated pairs only (``deviations_``, items x items), built in parallel in C++; Surprise
    keeps two dense items x items arrays. Unlike Surprise (whose loops read ratings as C ints),
    non-integer ratings are used as they are.

    Ranking scores are the unclipped predictions; ``predict`` clips to the training rating range
    when ``clip``.
    """

    def __init__(self, weighted: bool = False, clip: bool = True, n_threads: int = 0):
        self.weighted = weighted
        self.clip = clip
        self.n_threads = n_threads

    def fit(self, data: Interactions) -> "SlopeOne":
        if not isinstance(self.weighted, (bool, np.bool_)):
            raise ValueError(f"weighted must be True or False, got {self.weighted!r}")
        threads = check_n_threads(self.n_threads)
        m = self._start_rating_fit(data)
        by_item = item_major(m)
        indptr, indices, dev, freq = _core.slope_one_fit(
            *csr_parts(m), by_item.indptr, by_item.users, by_item.values, m.shape[1], threads
        )
        self.deviations_ = sp.csr_matrix((dev, indices, indptr), shape=(m.shape[1], m.shape[1]))
        self.co_counts_ = freq
        self.ratings_ = m
        counts = np.diff(m.indptr)
        rows = np.repeat(np.arange(m.shape[0]), counts)
        sums = np.bincount(rows, weights=m.data.astype(np.float64), minlength=m.shape[0])
        self.user_mean_ = np.where(counts > 0, sums / np.maximum(counts, 1), self.global_mean_)
        return self

    def _model_args(self):
        t = self.deviations_
        return (
            np.asarray(t.indptr, np.int64),
            t.indices,
            t.data,
            self.co_counts_,
            *csr_parts(self.ratings_),
            self.user_mean_,
            self.item_known_.astype(np.int32),
            self.global_mean_,
            bool(self.weighted),
        )

    def _predict_indices(self, user_idx, item_idx):
        lo, hi = self.rating_range_
        return _core.slope_one_predict(
            *self._model_args(),
            np.ascontiguousarray(user_idx, np.int32),
            np.ascontiguousarray(item_idx, np.int32),
            clip=bool(self.clip),
            lo=float(lo),
            hi=float(hi),
            n_threads=self._threads(),
        )

    def _score_block(self, user_idx):
        return _core.slope_one_scores(
            *self._model_args(), np.ascontiguousarray(user_idx, np.int32), n_threads=self._threads()
        )
