"""The Recommender base class: id handling, recommend/predict plumbing and persistence.

A model implements ``fit`` plus one scoring hook:

* ``_factors(user_idx)`` -> (user_rows, item_factors, item_bias or None) for factor models, which
  then rank with the fused C++ kernel (no users x items matrix), or
* ``_score_block(user_idx)`` -> dense (len(user_idx), n_items) float32 scores,

and, if it predicts ratings, ``_predict_indices(user_idx, item_idx)``. Everything else (external
ids, exclusion of seen items, candidate subsets, batching, save/load) lives here once.
"""

from __future__ import annotations

import inspect
import os
import re
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

from .. import io, schema
from .._validation import as_csr, check_n_threads, check_positive_int
from ..data import IdMap, Interactions
from ..errors import ModelFileError, NotFittedError
from ..topn import topn_from_factors, topn_from_scores

_SCORE_BLOCK_BYTES = 1 << 28  # cap on one dense score block (256 MiB)


class Recommender:
    """Base class of crossrec models (scikit-learn conventions: hyper-parameters in __init__,
    fitted state in attributes ending with ``_``, ``fit`` returns self)."""

    _registry: dict[str, type] = {}
    #: Declared fitted state beyond the id maps and ``seen_`` (see :mod:`crossrec.schema`); None:
    #: only generic checks (every sparse matrix structurally valid, every float finite).
    state_schema: Optional[dict] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Recommender._registry[cls.__name__] = cls

    # ---- hyper-parameters -------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "Recommender":
        valid = set(self._param_names())
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(
            f"{k}={v!r}" for k, v in self.get_params().items() if not isinstance(v, (np.ndarray, sp.spmatrix))
        )
        return f"{type(self).__name__}({args})"

    # ---- fitting helpers --------------------------------------------------------------
    def fit(self, data: Interactions) -> "Recommender":  # pragma: no cover - abstract
        raise NotImplementedError

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
        return m

    def validate_state(self) -> None:
        """Check a state restored by :func:`crossrec.load` (called after every attribute is set);
        raises ValueError naming what is inconsistent (load reports a ModelFileError).

        Checks the hyper-parameters against the constructor's annotations (and the model's
        ``_check_params`` when it has one) and the fitted attributes against the class's
        declared ``state_schema`` (:func:`crossrec.schema.check_state`). A model with invariants
        a declaration cannot express extends this, calling super first."""
        schema.check_params(self)
        if hasattr(self, "_check_params"):
            self._check_params()
        state = schema.fitted_attributes(self)
        if not state:
            return  # an unfitted model
        declared = type(self).state_schema
        if declared is not None:
            schema.check_state(self, {**schema.BASE_SCHEMA, **declared})
            return
        base = {k: v for k, v in schema.BASE_SCHEMA.items()}
        dims: dict = {}
        for name in ("user_map_", "item_map_", "seen_"):
            if name not in state:
                raise ValueError(f"{type(self).__name__}: fitted attribute {name} is missing")
            base[name].check(f"{type(self).__name__}.{name}", state[name], dims)
        for name, value in state.items():
            if sp.issparse(value):
                schema.check_csr_structure(f"{type(self).__name__}.{name}", value)
                value = value.data
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise ValueError(f"{type(self).__name__}.{name} holds non-finite values; expected finite numbers")

    def _check_fitted(self) -> None:
        if not hasattr(self, "item_map_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit first")

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

    # ---- scoring hooks ----------------------------------------------------------------
    def _factors(self, user_idx: np.ndarray):
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
        exclude_seen). Rows are padded with -1 / -inf when fewer than n items are eligible.
        """
        self._check_fitted()
        n = check_positive_int(n, "n")
        user_idx = np.ascontiguousarray(user_idx, dtype=np.int32)
        if user_idx.size and (user_idx.min() < 0 or user_idx.max() >= self.n_users_):
            raise ValueError(f"user index out of range [0, {self.n_users_})")
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

    def recommend(self, users, n: int = 10, exclude_seen: bool = True, items=None):
        """Top-n items for each user.

        users: external user ids (scalar or list). items: optional external ids of candidate
        items to rank (default all). Returns (ids, scores) of shape (len(users), n), best first;
        when fewer than n items are eligible the row is padded with None / -inf (ids then have
        object dtype).
        """
        self._check_fitted()
        u = self.user_map_.lookup(users)
        cand = None if items is None else self.item_map_.lookup(items)
        idx, scores = self.recommend_indices(u, n=n, exclude_seen=exclude_seen, candidates=cand)
        return self._ids_of(idx), scores

    def _ids_of(self, idx: np.ndarray) -> np.ndarray:
        ids = self.item_map_.ids
        if (idx < 0).any():
            out = np.empty(idx.shape, dtype=object)
            ok = idx >= 0
            out[ok] = ids[idx[ok]]
            out[~ok] = None
            return out
        return ids[idx]

    def predict(self, users, items) -> np.ndarray:
        """Predicted ratings for parallel sequences of external user and item ids."""
        self._check_fitted()
        u = self.user_map_.lookup(users)
        i = self.item_map_.lookup(items)
        if len(u) != len(i):
            raise ValueError(f"users and items differ in length ({len(u)} vs {len(i)})")
        return np.asarray(self._predict_indices(u, i), dtype=np.float32)

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

    def _item_vectors(self) -> Optional[np.ndarray]:
        """Dense item representations for similar_items (None: the model has none)."""
        return None

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
        idx, scores = self.similar_items_indices(self.item_map_.lookup(items), check_positive_int(n, "n"))
        return self._ids_of(idx), scores

    # ---- persistence ------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` (npz + JSON header, no pickle, atomic)."""
        try:
            self.validate_state()  # what load would refuse is not written
        except ModelFileError:
            raise
        except ValueError as exc:
            raise ModelFileError(f"cannot save {type(self).__name__}: {exc}") from exc
        meta, arrays = _dump(self, "")
        io.write_model_file(path, {"model": meta}, arrays)


def load(path: str | os.PathLike) -> Recommender:
    """Load a model saved with ``model.save``; raises ModelFileError for corrupt or foreign files
    and for a state its class's :meth:`Recommender.validate_state` rejects (a model file is
    untrusted input: every stored array is checked before a kernel sees it)."""
    header, arrays = io.read_model_file(path)
    try:
        if not isinstance(header.get("model"), dict):
            raise ModelFileError(f"{os.fspath(path)!r}: the header holds no model description")
        return _restore(header["model"], arrays)
    except ModelFileError:
        raise
    except RecursionError:
        raise ModelFileError(f"{os.fspath(path)!r}: model description nested too deeply") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        raise ModelFileError(f"{os.fspath(path)!r}: model file is inconsistent: {exc}") from exc


# ---- generic state (de)serialisation ----------------------------------------------------
def _encode(value: Any, key: str, arrays: dict) -> Any:
    if isinstance(value, Recommender):
        meta, sub = _dump(value, key + "/")
        arrays.update(sub)
        return {"__model__": meta}
    if isinstance(value, IdMap):
        arrays[key] = io.ids_to_array(value.ids, value.kind)
        return {"__ids__": key, "kind": value.kind}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            arrays[key] = io.ids_to_array(value, key)
        else:
            arrays[key] = value
        return {"__array__": key}
    if sp.issparse(value):
        m = sp.csr_matrix(value)
        arrays[key + ".indptr"], arrays[key + ".indices"], arrays[key + ".data"] = m.indptr, m.indices, m.data
        return {"__csr__": key, "shape": list(m.shape)}
    if isinstance(value, (list, tuple)):
        return {
            "__list__": [_encode(v, f"{key}.{j}", arrays) for j, v in enumerate(value)],
            "tuple": isinstance(value, tuple),
        }
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ModelFileError(f"cannot save {key}: dict keys must be strings")
        return {"__dict__": {k: _encode(v, f"{key}.{k}", arrays) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ModelFileError(f"cannot save {key!r} of type {type(value).__name__} without pickle")


def _decode(meta: Any, arrays: dict) -> Any:
    if isinstance(meta, dict):
        if "__model__" in meta:
            return _restore(meta["__model__"], arrays)
        if "__ids__" in meta:
            return IdMap(arrays[meta["__ids__"]], meta["kind"])
        if "__array__" in meta:
            return arrays[meta["__array__"]]
        if "__csr__" in meta:
            k = meta["__csr__"]
            # scipy would silently convert strings or floats to indices: check the stored dtypes first
            for part, kinds in ((".indptr", "iu"), (".indices", "iu"), (".data", "fiub")):
                if arrays[k + part].dtype.kind not in kinds:
                    what = "numbers" if part == ".data" else "integer indices"
                    raise ModelFileError(f"{k}{part} has dtype {arrays[k + part].dtype}; expected {what}")
            indptr, n_indices, n_data = arrays[k + ".indptr"], arrays[k + ".indices"].size, arrays[k + ".data"].size
            # scipy would silently drop entries past indptr[-1]
            if indptr.ndim != 1 or indptr.size == 0 or indptr[-1] != n_indices or n_data != n_indices:
                raise ModelFileError(
                    f"{k}: indptr ends at {indptr[-1] if indptr.ndim == 1 and indptr.size else None} over "
                    f"{n_indices} indices and {n_data} values; expected all three equal"
                )
            return sp.csr_matrix(
                (arrays[k + ".data"], arrays[k + ".indices"], arrays[k + ".indptr"]), shape=tuple(meta["shape"])
            )
        if "__list__" in meta:
            items = [_decode(v, arrays) for v in meta["__list__"]]
            return tuple(items) if meta.get("tuple") else items
        if "__dict__" in meta:
            return {k: _decode(v, arrays) for k, v in meta["__dict__"].items()}
        raise ModelFileError(f"unknown entry in model header: {sorted(meta)}")
    return meta


def _dump(model: Recommender, prefix: str) -> tuple[dict, dict]:
    arrays: dict[str, np.ndarray] = {}
    # Callables (training callbacks) are run-time hooks, not model state: saved as None.
    params = {
        k: None if callable(v) and not isinstance(v, Recommender) else _encode(v, f"{prefix}param.{k}", arrays)
        for k, v in model.get_params().items()
    }
    state = {}
    for k, v in vars(model).items():
        if k.endswith("_") and not k.startswith("_") and not callable(v):
            state[k] = _encode(v, f"{prefix}state.{k}", arrays)
    return {"class": type(model).__name__, "params": params, "state": state}, arrays


_STATE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*_$")


def _restore(meta: dict, arrays: dict) -> Recommender:
    if not isinstance(meta, dict):
        raise ModelFileError(f"model entry must be a JSON object, got {type(meta).__name__}")
    cls = Recommender._registry.get(meta.get("class")) if isinstance(meta.get("class"), str) else None
    if cls is None:
        raise ModelFileError(f"unknown model class {meta.get('class')!r} in model file")
    params, state = meta.get("params"), meta.get("state")
    if not isinstance(params, dict) or not isinstance(state, dict):
        raise ModelFileError(f"{cls.__name__}: params and state must be JSON objects")
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise ModelFileError(f"{cls.__name__} has no parameter(s) {unknown}")
    bad = [k for k in state if not _STATE_NAME.match(k)]
    if bad:
        raise ModelFileError(f"{cls.__name__}: {bad[0]!r} is not a fitted attribute name (a letter first, ending in _)")
    model = cls(**{k: _decode(v, arrays) for k, v in params.items()})
    for k, v in state.items():
        setattr(model, k, _decode(v, arrays))
    model.validate_state()
    if hasattr(model, "_after_load"):
        model._after_load()
    return model
