"""Content-based recommendation across domains (``CrossDomainContent``).

Both domains' items are described in one vocabulary (genres, tags, keywords: the columns of a
numeric feature table). A user's profile is built from the items they rated in *both* domains,
each domain's part as in :class:`crossrec.ContentBased` (sum of L2-normalised item profiles
weighted by the mean-centred rating, or the implicit weight), normalised, the source part weighted
by ``source_weight``; target items score the cosine between profile and item. A user cold in the
target is scored from the source part alone: the transfer.

Which data has this: the two domains must share a feature vocabulary. Among the data sets
crossrec reads, ml-latest-small does (genres of ``movies.csv`` and the free-text tags of
``tags.csv``); split into two domains by genre (e.g. dramas vs the other films, one population of
users) it is a shared-users pair with one vocabulary (``benchmarks/bench_families.py``). Douban
and the Amazon DisenCDR pairs ship no item descriptions, and the MovieLens item-shared pair shares
the items themselves (there the target's own :class:`crossrec.ContentBased` already covers them).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import check_float
from ..schema import Array, Csr
from .base import TransferRecommender
from .domains import CrossDomain
from .knn import check_any_pair

_DENSE_FEATURES = 512


def _aligned(features: pd.DataFrame, ids: np.ndarray, columns: pd.Index, name: str) -> sp.csr_matrix:
    """Rows of ``features`` in the order of ``ids`` (missing ids: zero rows), columns ``columns``."""
    bad = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if bad:
        raise ValueError(f"{name}: columns {bad[:5]} are not numeric (one-hot or count features are expected)")
    if not features.index.is_unique:
        raise ValueError(f"{name}: its index (item ids) has duplicates")
    pos = features.index.get_indexer(pd.Index(ids))
    if (pos >= 0).sum() == 0:
        raise ValueError(
            f"{name}: none of its item ids occurs in the domain (domain ids look like {ids[:3]!r}, "
            f"feature ids like {features.index[:3].tolist()!r})"
        )
    values = features.reindex(columns=columns, fill_value=0).to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} holds NaN or infinite values; fill them first (e.g. fillna(0))")
    out = np.zeros((len(ids), len(columns)))
    out[pos >= 0] = values[pos[pos >= 0]]
    return sp.csr_matrix(out)


def _unit(m: sp.csr_matrix) -> sp.csr_matrix:
    m = sp.csr_matrix(m, dtype=np.float64, copy=True)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    m.data *= np.repeat(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 1e-12), np.diff(m.indptr))
    m.eliminate_zeros()
    return m


def _weights(m: sp.csr_matrix, explicit: bool, center: bool) -> sp.csr_matrix:
    W = sp.csr_matrix(m, dtype=np.float64, copy=True)
    if not (explicit and center):
        return W
    counts = np.diff(W.indptr)
    means = np.divide(np.asarray(W.sum(axis=1)).ravel(), counts, out=np.zeros(len(counts)), where=counts > 0)
    W.data = W.data - np.repeat(means, counts)
    flat = np.repeat(np.asarray(abs(W).max(axis=1).todense()).ravel() < 1e-9, counts)
    W.data[flat] = 1.0  # equal ratings: centring would erase the profile
    return W


class CrossDomainContent(TransferRecommender):
    """Content-based transfer through a shared item vocabulary (domains that share users).

    Parameters
    ----------
    source_features : DataFrame
        Numeric item features indexed by item id (one-hot genres, tag counts, ...). When
        ``target_features`` is None it must cover both domains' item ids.
    target_features : DataFrame, optional
        The target items' features; columns are matched to the source's by name (the union is
        the vocabulary, a column missing on one side is 0 there).
    source_weight : float >= 0
        Weight of the source part of a user profile (the target part has weight 1).
    idf : bool
        Weight feature j by log((1 + n) / (1 + df_j)) + 1 over both domains' items.
    center : bool
        Mean-centre explicit ratings per user and domain.

    Attributes
    ----------
    item_profiles_ : (n_target_items, n_features) CSR; user_profiles_ : (n_users, n_features) CSR;
    feature_names_ : the vocabulary.
    """

    item_sharing = "native"  # handles both sides itself

    state_schema = {
        "item_profiles_": Csr(("items", "features")),
        "user_profiles_": Csr(("users", "features")),
        "feature_names_": Array(("features",), ("U", "S")),
    }

    def __init__(
        self,
        source_features: Optional[pd.DataFrame] = None,
        target_features: Optional[pd.DataFrame] = None,
        source_weight: float = 1.0,
        idf: bool = True,
        center: bool = True,
        n_threads: int = 0,
    ):
        self.source_features = source_features
        self.target_features = target_features
        self.source_weight = source_weight
        self.idf = idf
        self.center = center
        self.n_threads = n_threads

    def fit(self, pair: CrossDomain) -> CrossDomainContent:
        pair = check_any_pair(pair, "CrossDomainContent")
        if pair.shared != "users":
            raise ValueError(
                "CrossDomainContent transfers through shared users; this pair shares items, which "
                "are the same in both domains: fit crossrec.ContentBased on pair.target instead"
            )
        if not isinstance(self.source_features, pd.DataFrame):
            raise ValueError(
                "source_features must be a DataFrame of numeric item features indexed by item id, "
                f"got {type(self.source_features).__name__}"
            )
        tf = self.source_features if self.target_features is None else self.target_features
        if not isinstance(tf, pd.DataFrame):
            raise ValueError(f"target_features must be a DataFrame or None, got {type(tf).__name__}")
        w = check_float(self.source_weight, "source_weight", 0.0)
        m = self._start_fit(pair.target)
        columns = self.source_features.columns.union(tf.columns, sort=False)
        Fs = _aligned(self.source_features, np.asarray(pair.source.item_ids), columns, "source_features")
        Ft = _aligned(tf, np.asarray(pair.target.item_ids), columns, "target_features")
        if self.idf:
            both = sp.vstack([Fs, Ft], format="csc")
            df = np.diff(both.indptr)
            idf = sp.diags(np.log((1.0 + both.shape[0]) / (1.0 + df)) + 1.0)
            Fs, Ft = sp.csr_matrix(Fs @ idf), sp.csr_matrix(Ft @ idf)
        Fs, Ft = _unit(Fs), _unit(Ft)
        Ws = _weights(pair.source.matrix, pair.source.explicit, self.center)
        Wt = _weights(m, pair.target.explicit, self.center)
        profile = w * _unit(Ws @ Fs) + _unit(Wt @ Ft)
        self.item_profiles_ = Ft.astype(np.float32)
        self.user_profiles_ = _unit(profile).astype(np.float32)
        self.feature_names_ = np.asarray([str(c) for c in columns], dtype=str)
        self._items_dense = None
        return self

    def _dense_items(self):
        if self.item_profiles_.shape[1] > _DENSE_FEATURES:
            return None
        if getattr(self, "_items_dense", None) is None:
            self._items_dense = np.ascontiguousarray(self.item_profiles_.toarray(), dtype=np.float32)
        return self._items_dense

    def _factors(self, user_idx):
        items = self._dense_items()
        if items is None:
            return None
        return np.ascontiguousarray(self.user_profiles_[user_idx].toarray(), dtype=np.float32), items, None

    def _score_block(self, user_idx):
        return np.asarray((self.user_profiles_[user_idx] @ self.item_profiles_.T).toarray(), dtype=np.float32)

    def _item_vectors(self):
        return self._dense_items()
