"""Hybrid: a weighted blend of the per-user normalised scores of several models.

For user u, each component model m gives scores s_m(u, i) over its items. They are put on a common
scale per user, then summed with the weights:

    zscore : (s_m(u, i) - mean_i s_m(u, .)) / std_i s_m(u, .)     (std 0 -> all 0)
    minmax : (s_m(u, i) - min_i s_m(u, .)) / (max - min)           (max = min -> all 0)
    score(u, i) = sum_m w_m * normalised s_m(u, i)

Means, deviations and ranges are taken over the items the component knows. The hybrid's items are
the union of its components' items (e.g. a ContentBased component adds cold items); an item or
user a component does not know gets that component's neutral value 0 (the user's mean under
zscore, the minimum under minmax).
"""

from __future__ import annotations

import inspect
import itertools
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import check_choice, check_float, check_n_threads
from ..data import IdMap, Interactions
from ..metrics import RANKING_METRICS, parse_metric
from ..topn import topn_from_scores
from ..schema import Array, ListOf, ModelList
from .base import Recommender

NORMALIZATIONS = ("zscore", "minmax")


def normalize_scores(scores: np.ndarray, method: str) -> np.ndarray:
    """Per-row normalisation of a dense score block (see the module docstring)."""
    s = np.asarray(scores, dtype=np.float64)
    if method == "zscore":
        mean = s.mean(axis=1, keepdims=True)
        std = s.std(axis=1, keepdims=True)
        return np.divide(s - mean, std, out=np.zeros_like(s), where=std > 0)
    lo = s.min(axis=1, keepdims=True)
    span = s.max(axis=1, keepdims=True) - lo
    return np.divide(s - lo, span, out=np.zeros_like(s), where=span > 0)


class Hybrid(Recommender):
    """Weighted blend of normalised scores of other models.

    Parameters
    ----------
    models : list of (model, weight)
        Component recommenders with non-negative weights (not all zero). Unfitted components are
        fitted by :meth:`fit` on the same data; fitted ones are used as they are unless
        ``refit=True``.
    normalization : {"zscore", "minmax"}
        How each component's scores are scaled per user before blending.
    refit : bool
        Fit every component in :meth:`fit`, even already fitted ones.
    n_threads : int
        Threads of the top-N kernel (0 = all cores).

    Attributes
    ----------
    weights_ : (n_models,) float array
        The blend weights in use (set by fit from ``models``, changed by :meth:`tune`).
    components_ : list of fitted models.

    Notes
    -----
    Extra keyword arguments of :meth:`fit` are passed to every component's fit that accepts them
    (e.g. ``item_features`` for a ContentBased component).
    """

    state_schema = {
        "components_": ModelList("components"),
        "weights_": Array(("components",), "float64"),
        "user_index_": ListOf(Array(("users",), "int32"), "components"),
        "item_index_": ListOf(Array(("items",), "int32"), "components"),
    }

    def __init__(self, models: Sequence = (), normalization: str = "zscore", refit: bool = False, n_threads: int = 0):
        self.models = models
        self.normalization = normalization
        self.refit = refit
        self.n_threads = n_threads

    def fit(self, data: Interactions, **fit_params) -> "Hybrid":
        self._start_fit(data)
        check_choice(self.normalization, "normalization", NORMALIZATIONS)
        check_n_threads(self.n_threads)
        models, weights = self._check_models()
        comps = []
        for model in models:
            if self.refit or not hasattr(model, "item_map_"):
                accepted = inspect.signature(model.fit).parameters
                model.fit(data, **{k: v for k, v in fit_params.items() if k in accepted})
            comps.append(model)
        ids = np.asarray(data.item_ids)
        for model in comps:  # union of the item spaces, training items first
            extra = model.item_ids_[pd.Index(ids).get_indexer(pd.Index(model.item_ids_)) < 0]
            if len(extra):
                same = ids.dtype == extra.dtype
                ids = np.concatenate([ids, extra] if same else [ids.astype(object), extra.astype(object)])
        self.item_map_ = IdMap(ids, "item")
        self._extend_fallback_items(len(ids))
        self.seen_ = sp.csr_matrix(
            (self.seen_.data, self.seen_.indices, self.seen_.indptr), shape=(self.n_users_, len(ids))
        )
        self.components_ = comps
        self.weights_ = weights
        # Where each hybrid user/item sits in each component (-1: unknown to it).
        self.user_index_ = [m.user_map_.lookup(self.user_map_.ids, missing="ignore") for m in comps]
        self.item_index_ = [m.item_map_.lookup(ids, missing="ignore") for m in comps]
        return self

    def validate_state(self) -> None:
        super().validate_state()
        if not hasattr(self, "components_"):
            return
        if np.any(self.weights_ < 0) or self.weights_.sum() <= 0:
            raise ValueError(f"Hybrid.weights_ must be >= 0 and not all 0, got {self.weights_}")
        for k, (model, u, i) in enumerate(zip(self.components_, self.user_index_, self.item_index_)):
            for name, idx, bound in (("user_index_", u, model.n_users_), ("item_index_", i, model.n_items_)):
                if idx.size and (idx.min() < -1 or idx.max() >= bound):
                    raise ValueError(f"Hybrid.{name}[{k}] holds indices outside [-1, {bound}) (component {k})")
            # -1 is valid only where the component does not know the id: an in-range but wrong
            # position (a damaged file) would silently score another user or item
            for name, idx, own, theirs in (
                ("user_index_", u, self.user_map_, model.user_map_),
                ("item_index_", i, self.item_map_, model.item_map_),
            ):
                if not np.array_equal(idx, theirs.lookup(own.ids, missing="ignore")):
                    raise ValueError(f"Hybrid.{name}[{k}] does not match component {k}'s ids (a damaged model file?)")

    def _check_models(self):
        pairs = list(self.models)
        if not pairs:
            raise ValueError("models must hold at least one (model, weight) pair")
        models, weights = [], []
        for k, pair in enumerate(pairs):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], Recommender)):
                raise ValueError(f"models[{k}] must be a (model, weight) pair with a crossrec model, got {pair!r}")
            models.append(pair[0])
            weights.append(check_float(pair[1], f"weight of models[{k}]", 0.0))
        w = np.asarray(weights, dtype=np.float64)
        if w.sum() <= 0:
            raise ValueError("models: at least one weight must be > 0")
        return models, w

    # ---- scoring --------------------------------------------------------------------------
    def _component_blocks(self, user_idx: np.ndarray) -> list[np.ndarray]:
        """Normalised score block of each component over the hybrid's items."""
        out = []
        for model, uidx, iidx in zip(self.components_, self.user_index_, self.item_index_):
            block = np.zeros((len(user_idx), self.n_items_), np.float64)
            cu = uidx[user_idx]
            known = cu >= 0
            if known.any():
                s = normalize_scores(model.score_indices(cu[known]), self.normalization)
                have = iidx >= 0
                block[np.ix_(np.flatnonzero(known), np.flatnonzero(have))] = s[:, iidx[have]]
            out.append(block)
        return out

    def _score_block(self, user_idx):
        blocks = self._component_blocks(np.asarray(user_idx))
        total = sum(w * b for w, b in zip(self.weights_, blocks))
        return np.asarray(total, dtype=np.float32)

    def tune(
        self,
        validation: Interactions,
        metric: str = "ndcg@10",
        grid: Optional[Sequence[float]] = None,
        exclude_seen: bool = True,
    ) -> "Hybrid":
        """Pick the blend weights that maximise ``metric`` on a validation split; returns self.

        validation : Interactions in the training id space (e.g. a holdout carved from the training
            data, never the test set). Every weight vector of values from ``grid`` (default
            0, 0.1, ..., 1) that sums to 1 is tried (for one component, the weight stays);
            ``tuning_`` records each vector's mean metric, ``weights_`` the best (ties: the first).
        """
        self._check_fitted()
        name, k = parse_metric(metric)
        if name not in RANKING_METRICS or k is None:
            raise ValueError(f"metric must be a ranking metric such as 'ndcg@10', got {metric!r}")
        if not isinstance(validation, Interactions):
            raise ValueError(f"validation must be crossrec.Interactions, got {type(validation).__name__}")
        users = self.user_map_.lookup(validation.user_ids)
        rel_full = validation.matrix
        items_v = self.item_map_.lookup(validation.item_ids, missing="ignore")
        active = np.flatnonzero(np.diff(rel_full.indptr) > 0)
        if len(active) == 0:
            raise ValueError("validation holds no interactions")
        coo = rel_full[active].tocoo()
        keep = items_v[coo.col] >= 0
        rel = sp.csr_matrix(
            (np.ones(keep.sum()), (coo.row[keep], items_v[coo.col[keep]])), shape=(len(active), self.n_items_)
        )
        uidx = users[active]
        blocks = self._component_blocks(uidx)
        values = np.round(np.arange(0, 1.0001, 0.1), 10) if grid is None else np.asarray(grid, dtype=np.float64)
        if len(blocks) == 1:
            candidates = [self.weights_]
        else:
            candidates = [
                np.asarray(c) for c in itertools.product(values, repeat=len(blocks)) if abs(sum(c) - 1.0) < 1e-9
            ]
        if not candidates:
            raise ValueError("grid: no combination of its values sums to 1")
        excl = self.seen_ if exclude_seen else None
        results = []
        for w in candidates:
            total = np.ascontiguousarray(sum(wi * b for wi, b in zip(w, blocks)), dtype=np.float32)
            idx, _ = topn_from_scores(
                total, k, exclude=excl, exclude_rows=uidx if excl is not None else None, n_threads=self._threads()
            )
            results.append(float(np.nanmean(RANKING_METRICS[name](idx, rel, k))))
        best = int(np.argmax(results))
        self.weights_ = np.asarray(candidates[best], dtype=np.float64)
        self.tuning_ = {"weights": np.asarray(candidates), "score": np.asarray(results), "metric": metric}
        return self
