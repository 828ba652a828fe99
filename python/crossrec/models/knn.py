"""Neighbourhood collaborative filtering: UserKNN and ItemKNN on the sparse C++ kernels.

Vocabulary: "x" is the side whose neighbours are used (users for UserKNN, items for ItemKNN) and
"y" the other side. Similarities are those of :mod:`crossrec.similarity`.

Rating prediction for (x, y) uses the neighbours of x with similarity > 0 that rated y:

* ``neighborhood="rated"`` (default): the k most similar x2 *among those who rated y*, exactly
  Surprise's rule. The similarity row of each query x is recomputed on the fly in C++ (sparse,
  O(n_x) scratch per thread), so no n_x x n_x matrix exists.
* ``neighborhood="fixed"``: the neighbours are x's fixed top-k list from ``fit`` (``neighbors_``)
  restricted to those who rated y: the scalable mode (memory O(n_x * k)); often fewer neighbours.

and ``centering`` picks the estimator (Surprise's three variants; N = the neighbours used):

* ``"none"``     r = sum_N s r_x2y / sum_N s                                   (KNNBasic)
* ``"mean"``     r = mean_x + sum_N s (r_x2y - mean_x2) / sum_N s               (KNNWithMeans)
* ``"baseline"`` r = b_xy + sum_N s (r_x2y - b_x2y) / sum_N s, b = mu + b_u + b_i (KNNBaseline;
  biases from :func:`crossrec.models.baseline.fit_biases` with reg_user, reg_item, 10 iterations)

Fallbacks, as in Surprise: when x or y has no training rating the prediction is the global mean
("none", "mean") or the baseline b_xy ("baseline"); with fewer than ``min_k`` neighbours it is the
global mean ("none"), mean_x ("mean") or b_xy ("baseline"). With ``clip`` predictions are clipped
to the training rating range. Unlike Surprise, x is never its own neighbour (this only matters
when predicting a training pair).

Top-N recommendation scores an item t for user u as
ItemKNN: sum_{j rated by u} r_uj * s(j, t) over j's neighbour list (implicit's item-item rule);
UserKNN: sum_{v in neighbours(u)} s(u, v) * r_vt. Items no neighbour reaches score 0 and, like all
ties, are ordered by popularity. A user none of whose candidates is reached (no neighbour at all,
e.g. nobody shares an item with them) therefore gets the most popular items; a ``UserWarning``
says how many users that happened to.
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import _core
from .._validation import (
    as_index_array,
    check_choice,
    check_float,
    check_n_threads,
    check_positive_int,
    csr_parts,
)
from ..data import Interactions
from ..explain import frame, top_rows
from ..similarity import KINDS, kernel_input, topk_similarity
from ..schema import Array, Csr, Scalar
from .base import Recommender
from .baseline import fit_biases

CENTERINGS = ("none", "mean", "baseline")
NEIGHBORHOODS = ("rated", "fixed")
WEIGHTINGS = ("log", "none")


def _knn_schema(x: str) -> dict:
    """The fitted state of a neighbourhood model whose neighbours are ``x`` ("users" or "items")."""
    return {
        "ratings_": Csr(("users", "items")),
        "global_mean_": Scalar(float),
        "rating_range_": Array((2,), "float64"),
        "x_mean_": Array((x,), "float64"),
        "user_bias_": Array(("users",), "float32", nullable=True),
        "item_bias_": Array(("items",), "float32", nullable=True),
        "neighbors_": Csr((x, x), nullable=True, optional=True),
        "popularity_order_": Array(("items",), "int32", index_of="items"),
    }


def neighbourhood_topn(
    A: sp.csr_matrix,
    B: sp.csr_matrix,
    user_idx: np.ndarray,
    n_items: int,
    popularity_order: np.ndarray,
    n: int,
    exclude: Optional[sp.csr_matrix],
    candidates: Optional[np.ndarray],
    n_threads: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-n items of the neighbourhood score ``A[user_idx] @ B`` in C++ (``_core.knn_recommend``):
    ties and unreached items ordered by popularity, ``exclude`` rows (indexed by ``user_idx``)
    left out, only ``candidates`` ranked when given. Returns items, scores and, per user, how many
    items got a neighbourhood score. Shared by the single-domain and cross-domain kNN models."""
    tie_rank = np.empty(n_items, np.int32)
    tie_rank[popularity_order] = np.arange(n_items, dtype=np.int32)
    allowed = None
    if candidates is not None:
        allowed = np.zeros(n_items, np.uint8)
        allowed[as_index_array(candidates, "candidates", n_items)] = 1
    ex = (None, None, None) if exclude is None else (*csr_parts(sp.csr_matrix(exclude))[:2], user_idx)
    return _core.knn_recommend(
        *csr_parts(sp.csr_matrix(A, dtype=np.float32)),
        A.shape[1],
        user_idx,
        *csr_parts(sp.csr_matrix(B, dtype=np.float32)),
        n_items,
        tie_rank,
        popularity_order,
        n,
        ex[0],
        ex[1],
        ex[2],
        allowed,
        n_threads,
    )


class _NeighborhoodModel(Recommender):
    """Shared implementation of UserKNN / ItemKNN; subclasses set ``_user_based``."""

    _user_based = True
    _default_k = 40  # k=None (the subclasses set their own)

    def __init__(
        self,
        similarity: str = "cosine",
        k: Optional[int] = None,
        shrink: float = 0.0,
        min_support: int = 1,
        centering: str = "baseline",
        min_k: int = 1,
        neighborhood: str = "rated",
        clip: bool = True,
        reg_user: float = 15.0,
        reg_item: float = 10.0,
        weighting: str = "log",
        n_threads: int = 0,
    ):
        self.similarity = similarity
        self.k = k
        self.shrink = shrink
        self.min_k = min_k
        self.min_support = min_support
        self.centering = centering
        self.neighborhood = neighborhood
        self.clip = clip
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.weighting = weighting
        self.n_threads = n_threads

    # ---- fitting ----------------------------------------------------------------------
    def _k(self) -> int:
        """Neighbours in use: ``k``, or the class's default when None."""
        return type(self)._default_k if self.k is None else self.k

    def _check_params(self) -> None:
        check_choice(self.similarity, "similarity", KINDS)
        check_positive_int(self._k(), "k")
        check_float(self.shrink, "shrink", 0.0)
        check_positive_int(self.min_support, "min_support", minimum=0)
        check_choice(self.centering, "centering", CENTERINGS)
        check_positive_int(self.min_k, "min_k", minimum=0)
        check_choice(self.neighborhood, "neighborhood", NEIGHBORHOODS)
        if not isinstance(self.clip, (bool, np.bool_)):
            raise ValueError(f"clip must be True or False, got {self.clip!r}")
        check_float(self.reg_user, "reg_user", 0.0)
        check_float(self.reg_item, "reg_item", 0.0)
        check_choice(self.weighting, "weighting", WEIGHTINGS)
        check_n_threads(self.n_threads)

    def fit(self, data: Interactions) -> _NeighborhoodModel:
        """Compute the neighbour lists and the statistics the estimators need; returns self."""
        self._check_params()
        m = self._start_fit(data)
        if not data.explicit and self.weighting == "log":
            # implicit weights (play counts) span orders of magnitude: a few heavy rows would
            # dominate every similarity and score; log2(1 + w) keeps order and damps the scale,
            # and leaves 0/1 data exactly as it is
            m = sp.csr_matrix((np.log2(1.0 + m.data.astype(np.float64)), m.indices, m.indptr), shape=m.shape)
        self.ratings_ = sp.csr_matrix(m, dtype=np.float32)
        self.global_mean_ = float(m.data.mean())
        self.rating_range_ = np.array([m.data.min(), m.data.max()], dtype=np.float64)
        X = self._x_matrix()
        counts = np.diff(X.indptr)
        row_of = np.repeat(np.arange(X.shape[0]), counts)
        sums = np.bincount(row_of, weights=X.data.astype(np.float64), minlength=X.shape[0])
        self.x_mean_ = np.where(counts > 0, sums / np.maximum(counts, 1), self.global_mean_)
        self.user_bias_ = self.item_bias_ = None
        if self.centering == "baseline" or self.similarity == "pearson_baseline":
            _, self.user_bias_, self.item_bias_ = fit_biases(m, self.reg_user, self.reg_item, 10)
        self.neighbors_ = None  # a previous fit's lists are stale
        if self.neighborhood == "fixed":
            self._neighbors()
        popularity = np.bincount(m.indices, minlength=m.shape[1])
        self.popularity_order_ = np.argsort(-popularity, kind="stable").astype(np.int32)
        # A row shares nothing with any other row when each of its columns has it as only entry.
        col_count = np.bincount(X.indices, minlength=X.shape[1])
        shared = np.bincount(row_of, weights=(col_count[X.indices] > 1), minlength=X.shape[0])
        lonely = int(((shared == 0) & (counts > 0)).sum())
        if lonely:
            who, other = ("users", "item") if self._user_based else ("items", "user")
            warnings.warn(
                f"{type(self).__name__}: {lonely} of {X.shape[0]} {who} have no {other} in common with "
                f"any other, hence no neighbour; their rating predictions fall back to the "
                f"mean/baseline and their recommendations to popularity",
                UserWarning,
                stacklevel=2,
            )
        return self

    def _x_matrix(self) -> sp.csr_matrix:
        """Ratings oriented x-by-y (users x items for UserKNN, items x users for ItemKNN)."""
        cached = getattr(self, "_x_cache", None)
        if cached is not None and cached[0] is self.ratings_:
            return cached[1]
        X = self.ratings_ if self._user_based else self.ratings_.T.tocsr()
        X.sort_indices()
        self._x_cache = (self.ratings_, X)
        return X

    def _neighbors(self) -> sp.csr_matrix:
        """The top-k neighbour lists (``neighbors_``). Computed in fit for neighborhood="fixed";
        with "rated", rating prediction does not need them, so they are computed on first use
        (recommend, similar_*) and then kept (and saved)."""
        if getattr(self, "neighbors_", None) is None:
            self.neighbors_ = topk_similarity(
                self._x_matrix(),
                self._k(),
                self.similarity,
                self.shrink,
                self.min_support,
                baseline=self._x_baseline(),
                n_threads=self._threads(),
            )
        return self.neighbors_

    def _x_baseline(self):
        if getattr(self, "user_bias_", None) is None:
            return None
        bx, by = (self.user_bias_, self.item_bias_) if self._user_based else (self.item_bias_, self.user_bias_)
        mu = self.global_mean_
        return mu, bx, by

    # ---- rating prediction ------------------------------------------------------------
    def _predict_indices(self, user_idx, item_idx):
        x, y = (user_idx, item_idx) if self._user_based else (item_idx, user_idx)
        return self._predict_xy(np.ascontiguousarray(x, np.int32), np.ascontiguousarray(y, np.int32))[0]

    def _predict_xy(self, x, y):
        X = self._x_matrix()
        indptr, indices, data = csr_parts(X)
        bl = self._x_baseline()
        common = dict(
            centering=self.centering,
            k=int(self._k()),
            min_k=int(self.min_k),
            global_mean=self.global_mean_,
            x_mean=self.x_mean_ if self.centering == "mean" else None,
            bx=bl[1] if self.centering == "baseline" else None,
            by=bl[2] if self.centering == "baseline" else None,
            clip=bool(self.clip),
            lo=float(self.rating_range_[0]),
            hi=float(self.rating_range_[1]),
            n_threads=self._threads(),
        )
        if self.neighborhood == "rated":
            kind, values = kernel_input(X, self.similarity, bl)
            return _core.knn_predict_rated(
                indptr,
                indices,
                data,
                X.shape[1],
                values,
                kind,
                float(self.shrink),
                int(self.min_support),
                x,
                y,
                **common,
            )
        nb = self._neighbors()
        return _core.knn_predict_fixed(indptr, indices, data, X.shape[1], *csr_parts(nb), x, y, **common)

    # ---- explanations -----------------------------------------------------------------
    def explain(self, user, item, n: Optional[int] = None) -> pd.DataFrame:
        """Why ``predict(user, item)`` is what it is: the neighbours used, their similarity
        (``value`` is their rating of the other side, ``weight`` their share s / sum s) and
        contribution, plus the centering term (the global mean, the mean of x or the baseline
        b_xy), a fallback row when no neighbour qualifies, and a clipping row when the estimate
        was clipped. Neighbours are chosen as ``predict`` chooses them (ties: lower index). The
        rows sum to ``predict(user, item)``; see :mod:`crossrec.explain`.

        n: neighbours shown, the rest summed in one row (None: all of the k used)."""
        self._check_fitted()
        u = int(self.user_map_.lookup(user)[0])
        i = int(self.item_map_.lookup(item)[0])
        x, y = (u, i) if self._user_based else (i, u)
        x_ids = self.user_map_.ids if self._user_based else self.item_map_.ids
        X = self._x_matrix()
        score = float(self.predict([user], [item])[0])
        column = X[:, [y]].tocsc()
        raters, ratings = column.indices, column.data.astype(np.float64)
        keep = raters != x
        raters, ratings = raters[keep], ratings[keep]
        if self.neighborhood == "rated":
            # the double similarities predict ranks by: float32 ones can tie where it does not
            kind, values = kernel_input(X, self.similarity, self._x_baseline())
            indptr, indices, data = csr_parts(X)
            nb_idx, nb_sim = _core.knn_similarity_row(
                indptr, indices, data, X.shape[1], values, kind, float(self.shrink), int(self.min_support), x
            )
            dense = np.zeros(X.shape[0], np.float64)
            dense[nb_idx] = nb_sim
            sims = dense[raters]
        else:
            sims = np.asarray(self._neighbors()[[x]][:, raters].todense(), dtype=np.float64).ravel()
        order = np.lexsort((raters, -sims))
        order = order[sims[order] > 0][: self._k()]
        mu = float(self.global_mean_)
        if self.centering == "baseline":
            bl = self._x_baseline()
            bx, by = bl[1].astype(np.float64), bl[2].astype(np.float64)
            base, base_part = mu + bx[x] + by[y], "baseline mu + b_u + b_i"
            offsets = mu + bx[raters] + by[y]
        elif self.centering == "mean":
            base, base_part = float(self.x_mean_[x]), ("user mean" if self._user_based else "item mean")
            offsets = np.asarray(self.x_mean_, np.float64)[raters]
        else:
            base, base_part, offsets = 0.0, None, np.zeros(len(raters))
        known = X.indptr[x + 1] > X.indptr[x] and len(column.indices) > 0
        rows = []
        if not known or len(order) < max(int(self.min_k), 1):
            fallback = base if self.centering != "none" else mu
            if self.centering == "mean" and not known:
                fallback = mu
            rows.append(("fallback (no usable neighbour)", None, None, None, fallback))
        else:
            total = sims[order].sum()
            if base_part is not None:
                rows.append((base_part, None, None, None, base))
            rows += top_rows(
                [
                    (
                        "neighbour",
                        x_ids[raters[k]],
                        ratings[k],
                        sims[k] / total,
                        sims[k] / total * (ratings[k] - offsets[k]),
                    )
                    for k in order
                ],
                n,
                "neighbours",
            )
        estimate = sum(r[4] for r in rows)
        lo, hi = self.rating_range_
        if self.clip and not lo <= estimate <= hi:
            rows.append(("clipped to the rating range", None, None, None, float(np.clip(estimate, lo, hi)) - estimate))
        df = frame(rows, score, user=user, item=item)
        df["similarity"] = np.nan
        if len(order):
            sim_of = {x_ids[raters[k]]: sims[k] for k in order}
            df.loc[df["part"] == "neighbour", "similarity"] = [
                sim_of[v] for v in df.loc[df["part"] == "neighbour", "id"]
            ]
        return df

    # ---- top-N ------------------------------------------------------------------------
    def recommend_indices(
        self,
        user_idx: np.ndarray,
        n: int = 10,
        exclude_seen: bool = True,
        candidates: Optional[np.ndarray] = None,
        exclude: Optional[sp.csr_matrix] = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n item indices and scores (see the module docstring for the score); C++ end to end."""
        self._check_fitted()
        n = check_positive_int(n, "n")
        candidates, n = self._candidates_and_width(candidates, n)
        user_idx = as_index_array(user_idx, "user_idx", self.n_users_)
        if exclude is None and exclude_seen:
            exclude = self.seen_
        if self._user_based:
            A, B = self._neighbors(), self.ratings_
        else:
            A, B = self.ratings_, self._neighbors()
        items, scores, scored = neighbourhood_topn(
            A, B, user_idx, self.n_items_, self.popularity_order_, n, exclude, candidates, self._threads()
        )
        lonely = int((scored == 0).sum())
        if lonely:
            warnings.warn(
                f"{type(self).__name__}.recommend: {lonely} of {len(user_idx)} users have no "
                f"neighbour-based score for any candidate item; their lists are the most popular "
                f"items",
                UserWarning,
                stacklevel=3,
            )
        return items, scores

    def _score_block(self, user_idx):
        if self._user_based:
            s = self._neighbors()[user_idx] @ self.ratings_
        else:
            s = self.ratings_[user_idx] @ self._neighbors()
        return np.asarray(s.toarray(), dtype=np.float32)

    # ---- neighbours -------------------------------------------------------------------
    def _similar(self, idx: np.ndarray, n: int, user_side: bool) -> tuple[np.ndarray, np.ndarray]:
        """n most similar users (user_side) or items to the given indices, best first, padded -1/-inf."""
        if user_side == self._user_based and n <= self._k():
            nb = self._neighbors()[idx]
        else:
            M = self.ratings_ if user_side else self.ratings_.T.tocsr()
            bl = None
            if self.similarity == "pearson_baseline":
                bl = (
                    (self.global_mean_, self.user_bias_, self.item_bias_)
                    if user_side
                    else (self.global_mean_, self.item_bias_, self.user_bias_)
                )
            nb = topk_similarity(
                M, n, self.similarity, self.shrink, self.min_support, rows=idx, baseline=bl, n_threads=self._threads()
            )
        out_idx = np.full((len(idx), n), -1, np.int32)
        out_sim = np.full((len(idx), n), -np.inf, np.float32)
        for r in range(len(idx)):
            cols = nb.indices[nb.indptr[r] : nb.indptr[r + 1]]
            vals = nb.data[nb.indptr[r] : nb.indptr[r + 1]]
            order = np.lexsort((cols, -vals))[:n]
            out_idx[r, : len(order)] = cols[order]
            out_sim[r, : len(order)] = vals[order]
        return out_idx, out_sim

    def similar_items_indices(self, item_idx: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        return self._similar(as_index_array(item_idx, "items", self.n_items_), check_positive_int(n, "n"), False)

    def similar_users(self, users, n: int = 10):
        """The n users most similar to each given user (external ids), the user itself excluded;
        padded with None / -inf when fewer have a non-zero similarity."""
        self._check_fitted()
        idx = self.user_map_.lookup(users)
        out, sims = self._similar(idx, check_positive_int(n, "n"), True)
        ids = self.user_map_.ids
        if (out < 0).any():
            res = np.empty(out.shape, dtype=object)
            res[out >= 0] = ids[out[out >= 0]]
            res[out < 0] = None
            return res, sims
        return ids[out], sims


class UserKNN(_NeighborhoodModel):
    """User-based neighbourhood CF (Surprise's KNNBasic/KNNWithMeans/KNNBaseline with
    ``user_based=True``, and a sparse top-N recommender).

    Parameters
    ----------
    similarity : {"cosine", "cosine_corated", "adjusted_cosine", "pearson", "pearson_baseline", "msd", "jaccard"}
        See :mod:`crossrec.similarity`. For Surprise's "cosine" use "cosine_corated".
    k : int or None
        Neighbours per prediction / kept per user. None (default): 40 for UserKNN, 200 for
        ItemKNN, the values within 2 % of the best of a grid for RMSE on MovieLens 100K and for
        NDCG@10 on MovieLens 100K >= 4 and Last.fm (``benchmarks/results/defaults.md``);
        Surprise uses 40, implicit 20.
    shrink : float
        Similarity shrinkage (n / (n + shrink); (n-1)/(n-1+shrink) for pearson_baseline, whose
        Surprise default is 100).
    min_support : int
        Minimum co-rated items for a non-zero similarity.
    centering : {"none", "mean", "baseline"}
        Estimator: weighted average, mean-centred, or baseline-centred (module docstring). The
        default, "baseline" (Surprise's KNNBaseline), was 8-9 % better in RMSE than "none"
        (KNNBasic) on MovieLens 100K (``benchmarks/results/defaults.md``); it does not change
        top-N recommendation, which ranks by similarity-weighted ratings.
    min_k : int
        Fewer neighbours than this -> the fallback prediction.
    neighborhood : {"rated", "fixed"}
        "rated": Surprise's rule (k nearest among the raters of the item); "fixed": the user's
        fixed top-k list (scalable).
    clip : bool
        Clip predictions to the training rating range.
    reg_user, reg_item : float
        Bias regularisation for the baseline (centering="baseline" or pearson_baseline).
    weighting : {"log", "none"}
        Implicit data only (explicit ratings are used as they are): "log" (default) uses
        log2(1 + w) of the stored weights (0/1 data unchanged), "none" the weights themselves. On Last.fm play counts,
        NDCG@10 of ItemKNN 0.209 with "log" against 0.056 with "none" (k = 100).
    n_threads : int
        0 = all cores.

    Attributes
    ----------
    neighbors_ : scipy.sparse.csr_matrix (n_users, n_users)
        The top-k neighbours of each user with their similarity (sorted by index). Computed in
        fit with neighborhood="fixed", else on first use by recommend / similar_*.
    """

    _user_based = True
    _default_k = 40
    state_schema = _knn_schema("users")


class ItemKNN(_NeighborhoodModel):
    """Item-based neighbourhood CF (Surprise's KNN* with ``user_based=False``; with
    ``similarity="cosine"`` the top-N ranking of implicit's ``CosineRecommender``).

    Parameters are those of :class:`UserKNN`, with items as the neighbours.

    Attributes
    ----------
    neighbors_ : scipy.sparse.csr_matrix (n_items, n_items)
        The top-k neighbours of each item with their similarity (sorted by index). Computed in
        fit with neighborhood="fixed", else on first use by recommend / similar_*.
    """

    _user_based = False
    _default_k = 200
    state_schema = _knn_schema("items")
