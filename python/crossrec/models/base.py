"""The model bases: id handling and the recommend / predict / similar-items plumbing, once.

:class:`Recommender` holds everything a fitted model offers (see the scoring protocol in
:mod:`crossrec.models.protocol`); single-domain models add ``fit(data: Interactions)``,
:class:`crossrec.transfer.TransferRecommender` adds ``fit(pair: CrossDomain)`` for transfer
models. Hyper-parameters live in :mod:`crossrec.models.params`, persistence in
:mod:`crossrec.io`.

A model implements ``fit`` plus one scoring hook:

* ``_factors(user_idx)`` -> (user_rows, item_factors, item_bias or None) for factor models, which
  then rank with the fused C++ kernel (no users x items matrix), or
* ``_score_block(user_idx)`` -> dense (len(user_idx), n_items) float32 scores,

and, if it predicts ratings, ``_predict_indices(user_idx, item_idx)``. The hooks receive checked
int32 indices; code outside the class calls the public names of the protocol instead.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

import warnings

from .. import io, schema
from .._validation import as_csr, as_index_array, check_choice, check_n_threads, check_positive_int
from ..data import IdMap, Interactions
from ..errors import FallbackWarning
from ..topn import topn_from_factors, topn_from_scores
from .params import Params
from .biases import fit_biases
from .protocol import FactorView, check_is_fitted

_SCORE_BLOCK_BYTES = 1 << 28  # cap on one dense score block (256 MiB)

#: What predict / recommend do with ids the model has not seen (``unknown=``).
UNKNOWN_POLICIES = ("raise", "fallback", "nan")
# The fallback baseline's ridge (Baseline's defaults) and its one alternating pass: cheap enough
# to record in every fit (two bincounts over the interactions).
_FALLBACK_REG_USER, _FALLBACK_REG_ITEM = 15.0, 10.0


def _as_list(ids) -> list:
    return list(np.atleast_1d(np.asarray(ids, dtype=object)))


def _show_id(value) -> str:
    """An id (or a (user, item) pair) as the user wrote it: np.str_('a') -> 'a'."""
    if isinstance(value, tuple):
        return "(" + ", ".join(_show_id(v) for v in value) + ")"
    return repr(value.item() if isinstance(value, np.generic) else value)


class Recommender(Params):
    """Base class of crossrec models: everything a fitted model offers (scikit-learn conventions:
    hyper-parameters in __init__, fitted state in attributes ending with ``_``, ``fit`` returns
    self).

    ``fit``'s argument depends on the kind of model: a single-domain model defines
    ``fit(data: Interactions)``, a transfer model derives from
    :class:`crossrec.transfer.TransferRecommender` (``fit(pair: CrossDomain)``); the base declares
    ``fit(*args, **kwargs)`` so that either kind overrides it. Subclasses register themselves for
    :func:`crossrec.load` (by module and qualified name)."""

    user_map_: IdMap
    item_map_: IdMap
    seen_: sp.csr_matrix
    #: Declared fitted state beyond the id maps and ``seen_`` (see :mod:`crossrec.schema`); None:
    #: only generic checks (id maps, every sparse matrix structurally valid, every float finite).
    state_schema: Optional[dict] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        io.register_model_class(cls)

    # ---- fitting ----------------------------------------------------------------------
    def fit(self, *args: Any, **kwargs: Any) -> Recommender:  # pragma: no cover - abstract
        """Train on the data and return self (the signature is the model class's)."""
        raise NotImplementedError(f"{type(self).__name__} does not define fit")

    def _start_fit(self, data: Interactions) -> sp.csr_matrix:
        """Checks the training data and records the id space; returns data.matrix."""
        if not isinstance(data, Interactions):
            raise ValueError(f"{type(self).__name__}.fit expects crossrec.Interactions, got {type(data).__name__}")
        if data.nnz == 0:
            raise ValueError(f"{type(self).__name__}.fit: no interactions to train on")
        self.user_map_ = data.user_map
        self.item_map_ = data.item_map
        m = data.matrix
        self.seen_ = sp.csr_matrix((np.ones(m.nnz, np.float32), m.indices, m.indptr), shape=m.shape)
        self._record_fallback(m)
        return m

    def _record_fallback(self, m: sp.csr_matrix) -> None:
        """What ``unknown="fallback"`` answers with: item popularity (ranking) and the regularised
        bias baseline mu + b_u + b_i of the training values (ratings)."""
        self.fallback_mean_, self.fallback_user_bias_, self.fallback_item_bias_ = fit_biases(
            m, _FALLBACK_REG_USER, _FALLBACK_REG_ITEM, 1
        )
        self.item_popularity_ = np.bincount(m.indices, minlength=m.shape[1]).astype(np.float32)

    def _extend_fallback_items(self, n_items: int) -> None:
        """Items appended to the id space after fit's training items (content features, a
        hybrid's union) have no interactions: popularity 0 and bias 0."""
        for name in ("fallback_item_bias_", "item_popularity_"):
            values = getattr(self, name, None)
            if values is not None and len(values) < n_items:
                setattr(self, name, np.concatenate([values, np.zeros(n_items - len(values), values.dtype)]))

    @property
    def is_fitted(self) -> bool:
        """True once the model has its fitted state (from ``fit`` or ``load``)."""
        return hasattr(self, "item_map_")

    def _check_fitted(self) -> None:
        check_is_fitted(self)

    def validate_state(self) -> None:
        """Check a fitted state restored by :func:`crossrec.load` (called after every attribute is
        set, and by ``save`` before writing); raise ValueError naming what is inconsistent (load
        reports a ModelFileError).

        Checks the hyper-parameters against the constructor's annotations (and the model's
        ``_check_params`` when it has one) and the fitted attributes against the class's declared
        ``state_schema`` (:func:`crossrec.schema.check_state`: shapes agreeing with each other and
        with the id maps, dtypes, index ranges, CSR structure, finite values). A model with
        invariants a declaration cannot express extends this, calling super first."""
        schema.check_params(self)
        if hasattr(self, "_check_params"):
            self._check_params()
        state = schema.fitted_attributes(self)
        if not state:
            return  # an unfitted model
        declared = type(self).state_schema
        if declared is not None:
            schema.check_state(self, {**schema.BASE_SCHEMA, **declared})
        else:
            schema.check_generic_state(self)

    @property
    def user_ids_(self) -> np.ndarray:
        self._check_fitted()
        return self.user_map_.ids

    @property
    def item_ids_(self) -> np.ndarray:
        self._check_fitted()
        return self.item_map_.ids

    @property
    def n_users_(self) -> int:
        return len(self.user_map_)

    @property
    def n_items_(self) -> int:
        return len(self.item_map_)

    def _threads(self) -> int:
        return check_n_threads(getattr(self, "n_threads", 0))

    # ---- scoring hooks (override in a model class) ---------------------------------------
    def _factors(self, user_idx: np.ndarray) -> Optional[FactorView]:
        return None

    def _score_block(self, user_idx: np.ndarray) -> np.ndarray:
        f = self._factors(user_idx)
        if f is None:
            raise NotImplementedError(f"{type(self).__name__} implements neither _factors nor _score_block")
        users, items, bias = f
        s = users @ items.T
        return s + bias if bias is not None else s

    def _predict_indices(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} ranks items but does not predict ratings")

    def _candidates_and_width(self, candidates, n: int) -> tuple[Optional[np.ndarray], int]:
        """Candidate item indices (checked: in range, each once) and the list width: n clamped to
        the number of rankable items, so n=10**9 allocates nothing beyond the catalogue."""
        if candidates is None:
            return None, min(n, max(1, self.n_items_))
        cand = as_index_array(candidates, "items", self.n_items_)
        uniq, counts = np.unique(cand, return_counts=True)
        if len(uniq) < len(cand):
            dup = self.item_map_.ids[uniq[counts > 1][0]]
            raise ValueError(f"items: item {dup!r} is given more than once; each candidate item must appear once")
        return cand, min(n, max(1, len(cand)))

    def _item_vectors(self) -> Optional[np.ndarray]:
        """Dense item representations for similar_items (None: the model has none)."""
        return None

    # ---- the scoring protocol (crossrec.models.protocol): checked, then the hooks ----------
    def _user_indices(self, user_idx: Any) -> np.ndarray:
        self._check_fitted()
        return as_index_array(user_idx, "user_idx", self.n_users_)

    def scoring_factors(self, user_idx: Any) -> Optional[FactorView]:
        """``(U, V, item_bias or None)`` with scores ``U @ V.T + item_bias`` for the given user
        indices, or None when the model has no factors."""
        return self._factors(self._user_indices(user_idx))

    def score_indices(self, user_idx: Any) -> np.ndarray:
        """Dense (len(user_idx), n_items) scores of the given user indices."""
        return self._score_block(self._user_indices(user_idx))

    def predict_indices(self, user_idx: Any, item_idx: Any) -> np.ndarray:
        """Predicted ratings of the index pairs ``(user_idx[k], item_idx[k])``."""
        u = self._user_indices(user_idx)
        i = as_index_array(item_idx, "item_idx", self.n_items_)
        if len(u) != len(i):
            raise ValueError(f"user_idx and item_idx differ in length ({len(u)} vs {len(i)})")
        return self._predict_indices(u, i)

    def item_vectors(self) -> Optional[np.ndarray]:
        """Dense (n_items, d) item representations (None: the model has none)."""
        self._check_fitted()
        return self._item_vectors()

    # ---- public API -------------------------------------------------------------------
    def score(self, users, items=None) -> np.ndarray:
        """Dense scores of the given users (external ids) for all items, or for ``items``."""
        self._check_fitted()
        u = self.user_map_.lookup(users)
        s = np.asarray(self._score_block(u), dtype=np.float32)
        return s if items is None else s[:, self.item_map_.lookup(items)]

    def recommend_indices(
        self,
        user_idx: np.ndarray,
        n: int = 10,
        exclude_seen: bool = True,
        candidates: Optional[np.ndarray] = None,
        exclude: Optional[sp.csr_matrix] = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n item indices and scores for user indices (the fast path used by evaluation).

        exclude: a users x items CSR of items to skip (default: the training interactions when
        exclude_seen). Lists have min(n, number of candidate items) columns; rows are padded with
        -1 / -inf when fewer items are eligible (e.g. after excluding seen ones).
        """
        self._check_fitted()
        n = check_positive_int(n, "n")
        candidates, n = self._candidates_and_width(candidates, n)
        user_idx = as_index_array(user_idx, "user_idx", self.n_users_)
        if exclude is None and exclude_seen:
            exclude = self.seen_
        threads = self._threads()
        factors = self._factors(user_idx)
        if factors is not None:
            users, items, bias = factors
            return topn_from_factors(
                users,
                items,
                n,
                item_bias=bias,
                exclude=exclude,
                exclude_rows=user_idx if exclude is not None else None,
                candidates=candidates,
                n_threads=threads,
            )
        # Dense scores a block of users at a time. The first call of topn_from_scores is on an
        # empty block: it checks n (and the exclusion and candidates) before any score is computed,
        # and gives the (0, n) result when there are no users.
        i0, s0 = topn_from_scores(
            np.empty((0, self.n_items_), np.float32),
            n,
            exclude=exclude,
            exclude_rows=user_idx[:0] if exclude is not None else None,
            candidates=candidates,
            n_threads=threads,
        )
        n = i0.shape[1]
        out_items = np.empty((len(user_idx), n), np.int32)
        out_scores = np.empty((len(user_idx), n), np.float32)
        step = max(1, min(len(user_idx), _SCORE_BLOCK_BYTES // (4 * max(1, self.n_items_))))
        for start in range(0, len(user_idx), step):
            block = user_idx[start : start + step]
            scores = np.ascontiguousarray(self._score_block(block), dtype=np.float32)
            i, s = topn_from_scores(
                scores,
                n,
                exclude=exclude,
                exclude_rows=block if exclude is not None else None,
                candidates=candidates,
                n_threads=threads,
            )
            out_items[start : start + step], out_scores[start : start + step] = i, s
        return out_items, out_scores

    def recommend(self, users, n: int = 10, exclude_seen: bool = True, items=None, unknown: str = "raise"):
        """Top-n items for each user.

        users: external user ids (scalar or list). items: optional external ids of candidate
        items to rank (default all; each at most once). Returns (ids, scores) of shape
        (len(users), min(n, number of candidate items)), best first; when fewer items are eligible
        the row is padded with None / -inf (ids then have object dtype).

        unknown: what to do with users (and candidate items) the model has not seen.
        ``"raise"`` (default): ``UnknownIdError``, so a typo or a misaligned id space is never
        answered silently. ``"fallback"``: unknown users get the most popular (candidate) items,
        scored by their training popularity. ``"nan"``: their rows are None / NaN. With either,
        unknown candidate items are left out, and a :class:`crossrec.FallbackWarning` says how
        many users and items were not known (and which, for the first few).
        """
        check_choice(unknown, "unknown", UNKNOWN_POLICIES)
        if not isinstance(exclude_seen, (bool, np.bool_)):
            raise ValueError(f"exclude_seen must be True or False, got {exclude_seen!r}")
        self._check_fitted()
        if unknown == "raise":
            u = self.user_map_.lookup(users)
            cand = None if items is None else self.item_map_.lookup(items)
            idx, scores = self.recommend_indices(u, n=n, exclude_seen=exclude_seen, candidates=cand)
            return self._ids_of(idx), scores
        n = check_positive_int(n, "n")
        u = self.user_map_.lookup(users, missing="ignore")
        cand = None
        if items is not None:
            cand_all = self.item_map_.lookup(items, missing="ignore")
            self._warn_unknown("recommend", "candidate items", items, cand_all < 0, "left out")
            cand = cand_all[cand_all >= 0]
        cand, n = self._candidates_and_width(cand, n)  # n clamped before the lists are allocated
        known = u >= 0
        idx = np.full((len(u), n), -1, np.int32)
        scores = np.full((len(u), n), -np.inf if unknown == "fallback" else np.nan, np.float32)
        if known.any():
            idx[known], scores[known] = self.recommend_indices(
                u[known], n=n, exclude_seen=exclude_seen, candidates=cand
            )
        if not known.all():
            if unknown == "fallback":
                popularity = self._fallback("item_popularity_")
                cold = int((~known).sum())
                idx[~known], scores[~known] = topn_from_factors(
                    np.ones((cold, 1), np.float32),
                    np.ascontiguousarray(popularity[:, None]),
                    n,
                    candidates=cand,
                    n_threads=self._threads(),
                )
            what = "given the most popular items" if unknown == "fallback" else "answered None / NaN"
            self._warn_unknown("recommend", "users", users, ~known, what)
        return self._ids_of(idx), scores

    def _fallback(self, name: str) -> np.ndarray:
        values = getattr(self, name, None)
        if values is None:
            raise ValueError(
                f"{type(self).__name__} has no fallback statistics ({name}): it was restored from a file "
                "written before unknown='fallback' existed, or built without fit; refit it, or use unknown='nan'"
            )
        return values

    def _warn_unknown(self, method: str, what: str, given, missing: np.ndarray, action: str) -> None:
        """Report the rows an unknown-id policy answered (a FallbackWarning naming the first ids)."""
        count = int(np.count_nonzero(missing))
        if not count:
            return
        values = given if isinstance(given, list) else list(np.atleast_1d(np.asarray(given, dtype=object)))
        shown = ", ".join(_show_id(values[k]) for k in np.flatnonzero(missing)[:5])
        warnings.warn(
            f"{type(self).__name__}.{method}: {count} of {len(missing)} {what} unknown to the model "
            f"({shown}{', ...' if count > 5 else ''}): {action}",
            FallbackWarning,
            stacklevel=3,
        )

    def _ids_of(self, idx: np.ndarray) -> np.ndarray:
        ids = self.item_map_.ids
        if (idx < 0).any():
            out = np.empty(idx.shape, dtype=object)
            ok = idx >= 0
            out[ok] = ids[idx[ok]]
            out[~ok] = None
            return out
        return ids[idx]

    def predict(self, users, items, unknown: str = "raise") -> np.ndarray:
        """Predicted ratings for parallel sequences of external user and item ids.

        unknown: what to do with pairs whose user or item the model has not seen. ``"raise"``
        (default): ``UnknownIdError``. ``"fallback"``: the bias baseline of the training data,
        mu + b_u + b_i, with the bias of the unknown side taken as 0 (Surprise's rule). ``"nan"``:
        NaN. With either, a :class:`crossrec.FallbackWarning` says how many pairs were answered so.
        """
        check_choice(unknown, "unknown", UNKNOWN_POLICIES)
        self._check_fitted()
        missing = "raise" if unknown == "raise" else "ignore"
        u = self.user_map_.lookup(users, missing=missing)
        i = self.item_map_.lookup(items, missing=missing)
        if len(u) != len(i):
            raise ValueError(f"users and items differ in length ({len(u)} vs {len(i)})")
        if unknown == "raise":
            return np.asarray(self._predict_indices(u, i), dtype=np.float32)
        ok = (u >= 0) & (i >= 0)
        out = np.full(len(u), np.nan, np.float32)
        # called even when no pair is known, so a ranking-only model still says it cannot predict
        out[ok] = np.asarray(self._predict_indices(u[ok], i[ok]), dtype=np.float32)
        if not ok.all():
            if unknown == "fallback":
                mu = self._fallback("fallback_mean_")
                bu, bi = self._fallback("fallback_user_bias_"), self._fallback("fallback_item_bias_")
                bad = ~ok
                ub, ib = u[bad], i[bad]
                out[bad] = (
                    mu + np.where(ub >= 0, bu[np.maximum(ub, 0)], 0.0) + np.where(ib >= 0, bi[np.maximum(ib, 0)], 0.0)
                )
            what = "answered with the bias baseline" if unknown == "fallback" else "answered NaN"
            pairs = list(zip(_as_list(users), _as_list(items)))
            self._warn_unknown("predict", "(user, item) pairs", pairs, ~ok, what)
        return out

    def _history_csr(self, history, binary: bool) -> sp.csr_matrix:
        """Users' histories (n, n_items) over the model's items, for fold-in scoring; values are
        read as 0/1 when ``binary`` (a model trained on explicit ratings as 0/1)."""
        self._check_fitted()
        h = as_csr(history, "history")
        if h.shape[1] != self.n_items_:
            raise ValueError(f"history has {h.shape[1]} columns, the model has {self.n_items_} items")
        if binary:
            h.data = (h.data != 0).astype(h.data.dtype)
        return h

    def similar_items_indices(self, item_idx: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        vec = self._item_vectors()
        if vec is None:
            raise NotImplementedError(f"{type(self).__name__} has no item representation for similar_items")
        norms = np.linalg.norm(vec, axis=1)
        unit = (vec / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)
        item_idx = np.ascontiguousarray(item_idx, np.int32)
        self_excl = sp.csr_matrix(
            (np.ones(len(item_idx), np.float32), item_idx, np.arange(len(item_idx) + 1)),
            shape=(len(item_idx), len(unit)),
        )
        return topn_from_factors(unit[item_idx], unit, n, exclude=self_excl, n_threads=self._threads())

    def similar_items(self, items, n: int = 10):
        """The n items most similar to each given item (external ids), the item itself excluded."""
        self._check_fitted()
        idx, scores = self.similar_items_indices(self.item_map_.lookup(items), n)
        return self._ids_of(idx), scores

    # ---- persistence ------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` (npz + JSON header, no pickle, atomic); see :mod:`crossrec.io`."""
        io.save(self, path)
