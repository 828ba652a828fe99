"""Content-based recommendation: users and items described in one feature space.

Item profiles come from item features: numeric columns (e.g. MovieLens genre flags, optionally
IDF-weighted) or text (TF-IDF through scikit-learn's ``TfidfVectorizer``, the optional extra
``crossrec[text]``). Each item profile is L2-normalised. A user's profile is the sum of the profiles
of the items they interacted with, weighted by the mean-centred rating

    p_u = sum_{i in I_u} (r_ui - mean_u) * v_i        (explicit ratings)
    p_u = sum_{i in I_u} w_ui * v_i                  (implicit weights)

(a user whose ratings are all equal gets weights 1: centring would erase the profile), and the
score of item i is the cosine between p_u and v_i. Because only features are needed to score an
item, items that have features but no training interactions are part of the model and can be
recommended (item cold start).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import check_n_threads
from ..data import IdMap, Interactions
from ..schema import Array, Csr
from .base import Recommender

# Below this many features, scoring uses the fused dense top-N kernel (no score matrix);
# above it (TF-IDF vocabularies), sparse products.
_DENSE_FEATURES = 512


def _row_normalize(m: sp.csr_matrix, zero_below: Optional[np.ndarray] = None) -> sp.csr_matrix:
    """Rows scaled to unit length; rows whose norm is 0, or <= zero_below (per row), become 0."""
    m = sp.csr_matrix(m, dtype=np.float64, copy=True)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    floor = np.zeros_like(norms) if zero_below is None else zero_below
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > floor)
    m.data *= np.repeat(scale, np.diff(m.indptr))
    m.eliminate_zeros()
    return m


def _tfidf(text: pd.Series, params: Optional[dict]):
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "ContentBased with text item features needs scikit-learn; install it with "
            "`pip install crossrec[text]` (or pass numeric features)"
        ) from exc
    vec = TfidfVectorizer(**(params or {}))
    m = vec.fit_transform(text.fillna("").astype(str).to_numpy())
    return sp.csr_matrix(m), np.asarray(vec.get_feature_names_out(), dtype=str)


def _feature_matrix(item_features: Any, data: Interactions, text_params: Optional[dict]):
    """(item ids, items x features CSR, feature names, is_text) from the accepted feature forms."""
    if isinstance(item_features, pd.Series):
        ids = item_features.index.to_numpy()
        if pd.api.types.is_numeric_dtype(item_features):
            item_features = item_features.to_frame()
        else:
            m, names = _tfidf(item_features, text_params)
            return ids, m, names, True
    if isinstance(item_features, pd.DataFrame):
        bad = [c for c in item_features.columns if not pd.api.types.is_numeric_dtype(item_features[c])]
        if bad:
            raise ValueError(
                f"item_features: columns {bad[:5]} are not numeric; pass text as a Series "
                "(one string per item) to get TF-IDF features"
            )
        values = item_features.to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.all(np.isfinite(values)):
            raise ValueError("item_features holds NaN or infinite values; fill them first (e.g. fillna(0))")
        names = np.asarray([str(c) for c in item_features.columns], dtype=str)
        return item_features.index.to_numpy(), sp.csr_matrix(values), names, False
    if sp.issparse(item_features) or isinstance(item_features, np.ndarray):
        m = sp.csr_matrix(item_features, dtype=np.float64)
        if m.shape[0] != data.n_items:
            raise ValueError(
                f"item_features as a matrix must have one row per training item "
                f"({data.n_items}), got {m.shape[0]}; use a DataFrame indexed by item id to add items"
            )
        if m.nnz and not np.all(np.isfinite(m.data)):
            raise ValueError("item_features holds NaN or infinite values")
        names = np.asarray([f"f{j}" for j in range(m.shape[1])], dtype=str)
        return data.item_ids, m, names, False
    raise ValueError(
        "item_features must be a DataFrame of numeric features or a Series of text indexed by "
        f"item id, or a sparse matrix with one row per training item; got {type(item_features).__name__}"
    )


def _extend_items(train_ids: np.ndarray, feature_ids: np.ndarray) -> np.ndarray:
    """Training item ids followed by featured ids that are new (training indices stay put)."""
    known = pd.Index(train_ids)
    if len(feature_ids) and not pd.Index(feature_ids).is_unique:
        dup = pd.Index(feature_ids)[pd.Index(feature_ids).duplicated()][0]
        raise ValueError(f"item_features: item id {dup!r} occurs more than once in the index")
    new = feature_ids[known.get_indexer(pd.Index(feature_ids)) < 0]
    if len(new) == len(feature_ids) and len(feature_ids):
        raise ValueError(
            "item_features: none of its item ids occurs in the training data; check that the "
            f"index holds item ids of the same type (training ids look like {train_ids[:3]!r}, "
            f"feature ids like {feature_ids[:3]!r})"
        )
    if len(new) == 0:
        return train_ids
    try:
        return np.concatenate([train_ids, new])
    except (TypeError, ValueError):
        return np.concatenate([train_ids.astype(object), new.astype(object)])


class ContentBased(Recommender):
    """Content-based recommender: cosine between rating-weighted user profiles and item profiles.

    Parameters
    ----------
    idf : bool
        For numeric features, weight feature j by idf_j = log((1 + n) / (1 + df_j)) + 1 (df_j =
        items where it is non-zero) before normalising, so common features (Drama) count less
        than rare ones. Text features are always TF-IDF.
    center : bool
        Mean-centre explicit ratings per user (items rated below the user's mean push the profile
        away from their features). Ignored for implicit data.
    text_params : dict, optional
        Keyword arguments of ``sklearn.feature_extraction.text.TfidfVectorizer`` for text features.
    n_threads : int
        Threads of the top-N kernel (0 = all cores).

    Attributes
    ----------
    item_profiles_ : (n_items, n_features) CSR
        L2-normalised item profiles. Items without features have an empty row (score 0).
    user_profiles_ : (n_users, n_features) CSR
        L2-normalised user profiles.
    feature_names_ : (n_features,) str array

    Notes
    -----
    The item space is the union of the training items (same indices as in ``data``) and the items
    of ``item_features`` without interactions, appended after them; ``item_ids_`` lists it.
    """

    state_schema = {
        "item_profiles_": Csr(("items", "features")),
        "user_profiles_": Csr(("users", "features")),
        "feature_names_": Array(("features",), ("U", "S")),
    }

    def __init__(self, idf: bool = True, center: bool = True, text_params: Optional[dict] = None, n_threads: int = 0):
        self.idf = idf
        self.center = center
        self.text_params = text_params
        self.n_threads = n_threads

    def fit(self, data: Interactions, item_features=None) -> "ContentBased":
        m = self._start_fit(data)
        check_n_threads(self.n_threads)
        if item_features is None:
            raise ValueError(
                "ContentBased.fit needs item_features (DataFrame of numeric features or "
                "Series of text, indexed by item id)"
            )
        feat_ids, F, names, is_text = _feature_matrix(item_features, data, self.text_params)
        ids = _extend_items(np.asarray(data.item_ids), np.asarray(feat_ids))
        self.item_map_ = IdMap(ids, "item")
        n_items = len(ids)
        self._extend_fallback_items(n_items)
        # Scatter feature rows into the model's item order (items without features: empty rows).
        rows = self.item_map_.lookup(feat_ids)
        F = sp.csr_matrix(F, dtype=np.float64)
        perm = sp.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(n_items, F.shape[0]))
        F = sp.csr_matrix(perm @ F)
        if self.idf and not is_text:
            df = np.diff(sp.csc_matrix(F).indptr)
            F = sp.csr_matrix(F @ sp.diags(np.log((1.0 + n_items) / (1.0 + df)) + 1.0))
        items = _row_normalize(F)

        W = self._profile_weights(m, data.explicit)
        W = sp.csr_matrix((W.data, W.indices, W.indptr), shape=(m.shape[0], n_items))
        # A profile whose centred weights cancel exactly is 0 in exact arithmetic; its rounding
        # noise (~1e-16 x the weights, item rows being unit vectors) must not become a direction.
        users = _row_normalize(W @ items, zero_below=1e-9 * np.asarray(abs(W).sum(axis=1)).ravel())
        self.item_profiles_ = items.astype(np.float32)
        self.user_profiles_ = users.astype(np.float32)
        self.feature_names_ = names
        self.seen_ = sp.csr_matrix(
            (self.seen_.data, self.seen_.indices, self.seen_.indptr), shape=(m.shape[0], n_items)
        )
        return self

    def _profile_weights(self, m: sp.csr_matrix, explicit: bool) -> sp.csr_matrix:
        W = sp.csr_matrix(m, dtype=np.float64, copy=True)
        if not (explicit and self.center):
            return W
        counts = np.diff(W.indptr)
        sums = np.asarray(W.sum(axis=1)).ravel()
        means = np.divide(sums, counts, out=np.zeros(len(counts)), where=counts > 0)
        W.data = W.data - np.repeat(means, counts)
        spread = np.asarray(abs(W).max(axis=1).todense()).ravel()
        for u in np.flatnonzero((counts > 0) & (spread < 1e-9)):
            # equal ratings: centring would erase the profile; they count as weights 1
            W.data[W.indptr[u] : W.indptr[u + 1]] = 1.0
        return W

    # ---- scoring --------------------------------------------------------------------------
    def _dense_items(self) -> Optional[np.ndarray]:
        if self.item_profiles_.shape[1] > _DENSE_FEATURES:
            return None
        if getattr(self, "_items_dense", None) is None:
            self._items_dense = np.ascontiguousarray(self.item_profiles_.toarray(), dtype=np.float32)
        return self._items_dense

    def _factors(self, user_idx):
        items = self._dense_items()
        if items is None:
            return None
        users = np.ascontiguousarray(self.user_profiles_[user_idx].toarray(), dtype=np.float32)
        return users, items, None

    def _score_block(self, user_idx):
        return np.asarray((self.user_profiles_[user_idx] @ self.item_profiles_.T).toarray(), dtype=np.float32)

    def _item_vectors(self):
        return self._dense_items()

    def explain(self, user, item, n: int = 5) -> pd.Series:
        """The features that contribute most to the score of ``item`` for ``user``.

        The score is the cosine sum_f p_u[f] * v_i[f]; the result holds the n largest terms
        p_u[f] * v_i[f] (feature name -> contribution), largest first. Terms sum to the score.
        """
        self._check_fitted()
        u = self.user_map_.lookup(user)
        i = self.item_map_.lookup(item)
        if len(u) != 1 or len(i) != 1:
            raise ValueError("explain takes one user id and one item id")
        contrib = self.user_profiles_[u[0]].multiply(self.item_profiles_[i[0]]).tocsr()
        order = np.argsort(-contrib.data, kind="stable")[: max(int(n), 0)]
        return pd.Series(
            contrib.data[order].astype(np.float64),
            index=self.feature_names_[contrib.indices[order]],
            name="contribution",
        )
