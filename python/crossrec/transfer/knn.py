"""Neighbourhood collaborative filtering across domains (``CrossDomainKNN``).

The neighbours of a *shared* entity (a user when the domains share users, an item when they share
items) are found by the similarity of its joint history ``[w * source row, target row]`` with the
C++ top-k kernel, restricted to entities that have target data (only they can predict); their
*target* interactions then predict. An entity cold in the target has an empty target block, so
its neighbours come from its source history alone: that is the transfer. A warm entity's
neighbours use both domains.

* shared users: user-based kNN, ``score(u, i) = sum_{v in N(u)} s(u, v) r_vi``;
* shared items: item-based kNN whose item neighbours come (for items cold in the target) from
  the source raters, ``score(u, t) = sum_{j in N(t)} s(t, j) r_uj``.

Ratings (explicit targets) are predicted baseline-centred as in Surprise's ``KNNBaseline``:
``b_xy + sum s (r - b) / (sum |s| + damping)`` over the neighbours that rated, with ``b`` the target's
regularised biases; a cold entity, which has no target bias, takes the similarity-weighted mean
bias of its neighbours (0 with none). Each block of the joint row is L2-normalised before the
source block is weighted, so ``source_weight`` sets how much the source counts against the
target for warm entities, whatever the two domains' rating scales.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp

from .._validation import as_index_array, check_choice, check_float, check_positive_int
from ..schema import Array, Csr, Scalar
from .base import TransferRecommender
from ..models.baseline import fit_biases
from ..models.knn import neighbourhood_topn
from ..similarity import topk_similarity
from .domains import CrossDomain

SIMILARITIES = ("cosine", "jaccard")


def check_any_pair(pair, who: str) -> CrossDomain:
    if not isinstance(pair, CrossDomain):
        raise ValueError(f"{who}.fit expects a crossrec.CrossDomain pair, got {type(pair).__name__}")
    return pair


def _unit_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    m = sp.csr_matrix(m, dtype=np.float64, copy=True)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    m.data /= np.repeat(np.where(norms > 0, norms, 1.0), np.diff(m.indptr))
    return m


class CrossDomainKNN(TransferRecommender):
    """Cross-domain neighbourhood CF (user-based for shared users, item-based for shared items).

    Parameters
    ----------
    k : int
        Neighbours kept per shared entity (among those with target data).
    similarity : {"cosine", "jaccard"}
        Similarity of the joint histories (jaccard: on the patterns, the source weight unused).
    source_weight : float >= 0
        Weight of the (row-normalised) source block against the (row-normalised) target block.
        0 turns transfer off: cold entities then have no neighbour.
    shrink : float >= 0
        Similarity shrinkage n / (n + shrink) (n = co-occurring columns).
    reg_user, reg_item : float
        Regularisation of the target biases used to centre ratings.
    damping : float >= 0
        Added to the prediction's denominator, ``sum s (r - b) / (sum |s| + damping)``: a residual
        backed by few or weak neighbours is shrunk toward the baseline (0: Surprise's rule).
    clip : bool
        Clip predicted ratings to the target's training range.
    n_threads : int
        0 = all cores.

    Attributes
    ----------
    neighbors_ : (n_shared, n_shared) CSR, the top-k neighbours of every shared entity.
    cold_ : bool per shared entity: it has source data and no target training data.
    """

    item_sharing = "native"  # handles both sides itself

    # "x": the shared entities (users, or items with shared="items"), "y": the target's other side
    state_schema = {
        "shared_users_": Scalar(bool),
        "explicit_": Scalar(bool),
        "target_rows_": Csr(("x", "y")),
        "neighbors_": Csr(("x", "x")),
        "cold_": Array(("x",), "bool"),
        "global_mean_": Scalar(float),
        "rating_range_": Array((2,), "float64"),
        "entity_bias_": Array(("x",), "float64", optional=True),
        "other_bias_": Array(("y",), "float64", optional=True),
        "popularity_order_": Array(("items",), "int32", index_of="items"),
    }

    def validate_state(self) -> None:
        super().validate_state()
        if hasattr(self, "target_rows_"):
            want = (self.n_users_, self.n_items_) if self.shared_users_ else (self.n_items_, self.n_users_)
            if tuple(self.target_rows_.shape) != want:
                raise ValueError(f"CrossDomainKNN.target_rows_ has shape {self.target_rows_.shape}; expected {want}")
            if self.explicit_ and not (hasattr(self, "entity_bias_") and hasattr(self, "other_bias_")):
                raise ValueError("CrossDomainKNN on ratings (explicit_) needs entity_bias_ and other_bias_; missing")

    def __init__(
        self,
        k: int = 40,
        similarity: str = "cosine",
        source_weight: float = 1.0,
        shrink: float = 0.0,
        reg_user: float = 15.0,
        reg_item: float = 10.0,
        damping: float = 1.0,
        clip: bool = True,
        n_threads: int = 0,
    ):
        self.k = k
        self.similarity = similarity
        self.source_weight = source_weight
        self.shrink = shrink
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.damping = damping
        self.clip = clip
        self.n_threads = n_threads

    def fit(self, pair: CrossDomain) -> CrossDomainKNN:
        pair = check_any_pair(pair, "CrossDomainKNN")
        k = check_positive_int(self.k, "k")
        check_choice(self.similarity, "similarity", SIMILARITIES)
        w = check_float(self.source_weight, "source_weight", 0.0)
        shrink = check_float(self.shrink, "shrink", 0.0)
        check_float(self.damping, "damping", 0.0)
        m = self._start_fit(pair.target)
        self.shared_users_ = pair.shared == "users"
        # rows: shared entities; E_t: their target interactions (entities x the other side)
        E_s = pair.source.matrix if self.shared_users_ else pair.source.matrix.T.tocsr()
        E_t = sp.csr_matrix(m if self.shared_users_ else m.T, dtype=np.float32)
        E_t.sort_indices()
        joint = sp.hstack([w * _unit_rows(E_s), _unit_rows(E_t)], format="csr")
        joint.eliminate_zeros()
        has_target = np.diff(E_t.indptr) > 0
        self.neighbors_ = topk_similarity(
            joint, k, self.similarity, shrink, allowed=has_target, n_threads=self._threads()
        ).astype(np.float32)
        self.cold_ = (np.diff(sp.csr_matrix(E_s).indptr) > 0) & ~has_target
        self.target_rows_ = E_t
        self.explicit_ = pair.target.explicit
        self.global_mean_ = float(m.data.mean()) if self.explicit_ else 0.0
        self.rating_range_ = np.array([m.data.min(), m.data.max()], np.float64)
        if self.explicit_:
            mu, bu, bi = fit_biases(m, float(self.reg_user), float(self.reg_item), 10)
            self.global_mean_ = float(mu)
            b_x, b_y = (np.asarray(bu, np.float64), np.asarray(bi, np.float64))
            if not self.shared_users_:
                b_x, b_y = b_y, b_x
            # a cold entity's bias: the similarity-weighted mean bias of its neighbours
            nb = self.neighbors_
            wsum = np.asarray(abs(nb).sum(axis=1)).ravel()
            est = np.divide(nb @ b_x, wsum, out=np.zeros_like(wsum, dtype=np.float64), where=wsum > 0)
            b_x = np.where(has_target, b_x, est)
            self.entity_bias_, self.other_bias_ = b_x, b_y
        popularity = np.bincount(m.indices, minlength=m.shape[1])
        self.popularity_order_ = np.argsort(-popularity, kind="stable").astype(np.int32)
        return self

    # ---- scoring ------------------------------------------------------------------------
    def _score_block(self, user_idx):
        if self.shared_users_:
            s = self.neighbors_[user_idx] @ self.target_rows_
        else:
            s = self.target_rows_.T.tocsr()[user_idx] @ self.neighbors_.T
        return np.asarray(s.toarray(), dtype=np.float32)

    def _predict_indices(self, user_idx, item_idx):
        if not self.explicit_:
            raise NotImplementedError("CrossDomainKNN predicts ratings only for an explicit target")
        x, y = (user_idx, item_idx) if self.shared_users_ else (item_idx, user_idx)
        x = np.asarray(x, np.int64)
        y = np.asarray(y, np.int64)
        # Every (query, neighbour) pair, vectorised: the neighbour's target rating of y is found by
        # a binary search in the sorted (row * n_cols + col) keys of the target matrix. (The C++
        # Surprise-style kernel treats an entity without target ratings as unknown, which is
        # exactly the cold entity this model exists for, so the sums are done here.)
        X, N = self.target_rows_, self.neighbors_
        n_cols = X.shape[1]
        keys = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr)) * n_cols + X.indices
        counts = np.diff(N.indptr)[x]
        q = np.repeat(np.arange(len(x)), counts)
        starts = N.indptr[x]
        pos = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(starts, counts)
        nb, sim = N.indices[pos].astype(np.int64), N.data[pos].astype(np.float64)
        want = nb * n_cols + y[q]
        at = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        hit = keys[at] == want
        q, nb, sim = q[hit], nb[hit], sim[hit]
        resid = X.data[at[hit]] - (self.global_mean_ + self.entity_bias_[nb] + self.other_bias_[y[q]])
        num = np.bincount(q, weights=sim * resid, minlength=len(x))
        den = np.bincount(q, weights=np.abs(sim), minlength=len(x))
        pred = self.global_mean_ + self.entity_bias_[x] + self.other_bias_[y]
        pred = pred + np.divide(num, den + float(self.damping), out=np.zeros(len(x)), where=den > 0)
        if self.clip:
            pred = np.clip(pred, self.rating_range_[0], self.rating_range_[1])
        return pred.astype(np.float32)

    def recommend_indices(
        self,
        user_idx: np.ndarray,
        n: int = 10,
        exclude_seen: bool = True,
        candidates: Optional[np.ndarray] = None,
        exclude: Optional[sp.csr_matrix] = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n item indices and scores, C++ end to end (ties and unreached items by popularity)."""
        self._check_fitted()
        n = check_positive_int(n, "n")
        candidates, n = self._candidates_and_width(candidates, n)
        user_idx = as_index_array(user_idx, "user_idx", self.n_users_)
        if exclude is None and exclude_seen:
            exclude = self.seen_
        if self.shared_users_:
            A, B = self.neighbors_, self.target_rows_
        else:
            A, B = self.target_rows_.T.tocsr(), self.neighbors_.T.tocsr()
        B.sort_indices()
        items, scores, _ = neighbourhood_topn(
            A, B, user_idx, self.n_items_, self.popularity_order_, n, exclude, candidates, self._threads()
        )
        return items, scores
