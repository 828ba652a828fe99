"""Interactions: external ids mapped to contiguous indices, and a users x items CSR matrix."""

from __future__ import annotations

from typing import Any, Hashable, Iterable, Optional, Union

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._validation import INDEX_DTYPE, VALUE_DTYPE, as_float32, check_sparse_structure
from .errors import UnknownIdError

DUPLICATE_POLICIES = ("error", "sum", "last", "mean", "max")


def _show(x: Any) -> str:
    """repr of an external id as the user wrote it (np.int64(3) -> 3)."""
    return repr(x.item() if isinstance(x, np.generic) else x)


class IdMap:
    """Two-way map between external ids (any hashable type) and indices 0..n-1."""

    def __init__(self, ids: Iterable[Hashable], kind: str = "id"):
        ids = np.asarray(ids) if not isinstance(ids, np.ndarray) else ids
        if ids.ndim != 1:
            raise ValueError(f"{kind} ids must be 1-D")
        self.ids = ids
        self.kind = kind
        self._index = pd.Index(ids)
        if not self._index.is_unique:
            dup = self._index[self._index.duplicated()][0]
            raise ValueError(f"{kind} ids are not unique: {dup!r} occurs more than once")

    def __len__(self) -> int:
        return len(self.ids)

    def lookup(self, ids: Any, missing: str = "raise") -> np.ndarray:
        """Indices of external ids; missing='raise' raises UnknownIdError, 'ignore' gives -1."""
        scalar = np.ndim(ids) == 0 and not isinstance(ids, (list, tuple, np.ndarray, pd.Index, pd.Series))
        values = [ids] if scalar else ids
        if isinstance(values, pd.Series):
            values = values.to_numpy()
        if len(values) == 0:
            return np.empty(0, dtype=INDEX_DTYPE)
        idx = self._index.get_indexer(pd.Index(values))
        if missing == "raise" and (idx < 0).any():
            bad = np.asarray(values, dtype=object)[idx < 0]
            shown = ", ".join(_show(b) for b in bad[:5])
            more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
            raise UnknownIdError(f"unknown {self.kind} id(s): {shown}{more}")
        return idx.astype(INDEX_DTYPE)

    def __contains__(self, item: Hashable) -> bool:
        return item in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and len(self) == len(other) and bool(np.all(self._index == other._index))


class Indices(np.ndarray):
    """Internal indices (positions in an :class:`IdMap`, e.g. ``ColdStartSplit.cold_users``), as
    opposed to external ids. An int32 array like any other, tagged so that functions taking
    external ids (``crossrec.evaluate``'s ``segments``) can refuse it with a clear error instead
    of silently reading positions as ids. ``kind`` says of what: "user" or "item"."""

    kind: str

    def __new__(cls, values: Any, kind: str) -> Indices:
        obj = np.asarray(values, dtype=INDEX_DTYPE).view(cls)
        obj.kind = kind
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self.kind = getattr(obj, "kind", "index")


def _factorize(values: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(codes, unique ids), ids sorted when they are mutually comparable."""
    if pd.isna(values).any():
        raise ValueError(f"{kind} column holds missing (NaN/None) ids")
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # ids of mixed, unorderable types: keep first-appearance order
        codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(INDEX_DTYPE), np.asarray(uniques)


class Interactions:
    """User-item interactions with id maps.

    Holds the interactions as sorted coordinate arrays (``users``, ``items``, ``values``,
    optional ``timestamps``) and a ``matrix`` view, a ``scipy.sparse.csr_matrix`` of shape
    (n_users, n_items). Subsets made by splits share the id maps of the whole, so train and test
    index the same users and items.

    explicit: True when values are ratings (prediction targets), False for implicit weights
    (counts, clicks; must be >= 0).
    """

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        values: np.ndarray,
        user_map: IdMap,
        item_map: IdMap,
        timestamps: Optional[np.ndarray] = None,
        explicit: bool = True,
        _checked: bool = False,
    ):
        self.user_map = user_map
        self.item_map = item_map
        self.explicit = bool(explicit)
        if not _checked:
            users, items, values, timestamps = self._check_arrays(users, items, values, timestamps)
            order = np.lexsort((items, users))
            users, items, values = users[order], items[order], values[order]
            timestamps = timestamps[order] if timestamps is not None else None
            dup = (np.diff(users) == 0) & (np.diff(items) == 0)
            if dup.any():
                k = int(np.argmax(dup))
                raise ValueError(
                    f"duplicate (user, item) pair ({_show(user_map.ids[users[k]])}, "
                    f"{_show(item_map.ids[items[k]])}); choose duplicates='sum', 'last', 'mean' or 'max'"
                )
        self.users = users
        self.items = items
        self.values = values
        self.timestamps = timestamps
        self._matrix: Optional[sp.csr_matrix] = None

    def _check_arrays(self, users, items, values, timestamps):
        users = np.asarray(users)
        items = np.asarray(items)
        values = np.asarray(values, dtype=np.float64)
        n = len(users)
        if not (len(items) == n and len(values) == n):
            raise ValueError(f"users, items and values differ in length ({len(users)}, {len(items)}, {len(values)})")
        for name, arr, bound in (("user", users, len(self.user_map)), ("item", items, len(self.item_map))):
            if n and arr.dtype.kind not in "iu":
                raise ValueError(f"{name} indices must be integers, got {arr.dtype}")
            if n and (arr.min() < 0 or arr.max() >= bound):
                raise ValueError(f"{name} index out of range [0, {bound})")
        values = as_float32(values, "values")
        if not self.explicit and n and values.min() < 0:
            raise ValueError("implicit weights must be >= 0; negative weights found")
        if timestamps is not None:
            timestamps = np.asarray(timestamps)
            if len(timestamps) != n:
                raise ValueError("timestamps differ in length from the interactions")
            if timestamps.dtype.kind == "M":
                timestamps = timestamps.astype("datetime64[s]").astype(np.int64)
            if timestamps.dtype.kind == "f" and n and not np.all(np.isfinite(timestamps)):
                raise ValueError("timestamps hold NaN or infinite entries")
            timestamps = timestamps.astype(np.int64)
        return (users.astype(INDEX_DTYPE), items.astype(INDEX_DTYPE), values, timestamps)

    # ---- constructors -------------------------------------------------------------------
    @classmethod
    def from_pandas(
        cls,
        df: pd.DataFrame,
        user: str = "user",
        item: str = "item",
        rating: Optional[str] = None,
        timestamp: Optional[str] = None,
        duplicates: str = "error",
        implicit: Optional[bool] = None,
        user_ids: Optional[Union[Iterable, IdMap]] = None,
        item_ids: Optional[Union[Iterable, IdMap]] = None,
    ) -> "Interactions":
        """Build from a DataFrame.

        rating: column of ratings (explicit) or weights (with implicit=True); None means every
        row is an implicit interaction of weight 1. duplicates: what repeated (user, item) rows
        mean: 'error' (default), 'sum' (counts), 'last' (latest by timestamp, else by row order),
        'mean' or 'max'. user_ids / item_ids: fix the index space (e.g. to align a test set with its
        train set); ids outside it raise UnknownIdError.
        """
        if not isinstance(df, pd.DataFrame):
            raise ValueError(f"expected a pandas DataFrame, got {type(df).__name__}")
        for col in (user, item, rating, timestamp):
            if col is not None and col not in df.columns:
                raise ValueError(f"column {col!r} not in DataFrame (columns: {list(df.columns)})")
        if duplicates not in DUPLICATE_POLICIES:
            raise ValueError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
        if len(df) == 0:
            raise ValueError("no interactions: the DataFrame is empty")
        explicit = rating is not None and not implicit
        if rating is None:
            values = np.ones(len(df), dtype=np.float64)
        else:
            col = df[rating]
            if not pd.api.types.is_numeric_dtype(col):
                raise ValueError(f"rating column {rating!r} is not numeric (dtype {col.dtype})")
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            if not np.all(np.isfinite(values)):
                bad = int(np.flatnonzero(~np.isfinite(values))[0])
                raise ValueError(f"rating column {rating!r} holds NaN or infinite values (first at row {bad})")
        ts = None
        if timestamp is not None:
            tcol = df[timestamp]
            if pd.api.types.is_datetime64_any_dtype(tcol):
                ts = tcol.to_numpy().astype("datetime64[s]").astype(np.int64)
            else:
                ts = tcol.to_numpy()
                if ts.dtype.kind not in "iuf" or (ts.dtype.kind == "f" and not np.all(np.isfinite(ts))):
                    raise ValueError(f"timestamp column {timestamp!r} must be numeric or datetime without NaN")
        umap, u = cls._codes(df[user].to_numpy(), user_ids, "user")
        imap, i = cls._codes(df[item].to_numpy(), item_ids, "item")
        if not explicit and values.min() < 0:
            raise ValueError(f"implicit weights in {rating!r} must be >= 0; negative weights found")
        u, i, values, ts = _resolve_duplicates(u, i, values, ts, duplicates, umap, imap)
        return cls(u, i, values, umap, imap, timestamps=ts, explicit=explicit)

    @staticmethod
    def _codes(values: np.ndarray, fixed_ids, kind: str) -> tuple[IdMap, np.ndarray]:
        if fixed_ids is None:
            codes, uniques = _factorize(values, kind)
            return IdMap(uniques, kind), codes
        m = fixed_ids if isinstance(fixed_ids, IdMap) else IdMap(np.asarray(fixed_ids), kind)
        return m, m.lookup(values)

    @classmethod
    def from_csv(
        cls,
        path,
        user: str = "user",
        item: str = "item",
        rating: Optional[str] = None,
        timestamp: Optional[str] = None,
        sep: str = ",",
        duplicates: str = "error",
        implicit: Optional[bool] = None,
        **read_csv_kwargs,
    ) -> "Interactions":
        """Read a delimited text file with pandas, then as from_pandas."""
        df = pd.read_csv(path, sep=sep, **read_csv_kwargs)
        return cls.from_pandas(
            df, user=user, item=item, rating=rating, timestamp=timestamp, duplicates=duplicates, implicit=implicit
        )

    @classmethod
    def from_scipy(
        cls, matrix, user_ids: Optional[Iterable] = None, item_ids: Optional[Iterable] = None, explicit: bool = False
    ) -> "Interactions":
        """From a users x items sparse matrix; stored entries are the interactions (explicit zeros kept)."""
        if not sp.issparse(matrix):
            raise ValueError(f"expected a scipy.sparse matrix, got {type(matrix).__name__}")
        check_sparse_structure(matrix, "matrix")
        coo = sp.coo_matrix(matrix)
        if coo.dtype.kind not in "fiub":
            raise ValueError(f"matrix must be numeric, got dtype {coo.dtype}")
        if coo.nnz == 0:
            raise ValueError("no interactions: the matrix has no stored entries")
        coo.sum_duplicates()
        n_users, n_items = coo.shape
        umap = IdMap(np.arange(n_users) if user_ids is None else np.asarray(user_ids), "user")
        imap = IdMap(np.arange(n_items) if item_ids is None else np.asarray(item_ids), "item")
        if len(umap) != n_users or len(imap) != n_items:
            raise ValueError(f"id lists ({len(umap)} users, {len(imap)} items) do not match matrix shape {coo.shape}")
        return cls(coo.row, coo.col, coo.data, umap, imap, explicit=explicit)

    @classmethod
    def from_arrays(
        cls, users, items, values=None, timestamps=None, explicit: Optional[bool] = None, duplicates: str = "error"
    ) -> "Interactions":
        """From parallel arrays of external user ids, item ids and optional values/timestamps."""
        # pandas infers each column's type; np.asarray would turn mixed ids (["x", 3]) into strings ("3").
        for name, given, required in (
            ("users", users, True),
            ("items", items, True),
            ("values", values, False),
            ("timestamps", timestamps, False),
        ):
            if given is None and not required:
                continue
            if given is None or isinstance(given, (str, bytes)) or not hasattr(given, "__len__") or np.ndim(given) != 1:
                raise ValueError(
                    f"{name} must be a 1-D sequence (list, numpy array or pandas Series) of "
                    f"{'ids' if required else name}, one per interaction; got {type(given).__name__} {given!r:.60}"
                )
        if values is not None and not pd.api.types.is_numeric_dtype(pd.Series(np.asarray(values))):
            raise ValueError(f"values must be numbers (ratings or weights), got dtype {np.asarray(values).dtype}")
        cols = {"user": users, "item": items, "rating": values, "timestamp": timestamps}
        cols = {
            k: v if isinstance(v, (np.ndarray, pd.Series)) else pd.Series(list(v))
            for k, v in cols.items()
            if v is not None
        }
        lengths = {k: len(v) for k, v in cols.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"users, items, values and timestamps differ in length: {lengths}")
        df = pd.DataFrame({k: np.asarray(v) if isinstance(v, np.ndarray) else v.to_numpy() for k, v in cols.items()})
        rating = "rating" if values is not None else None
        implicit = None if explicit is None else not explicit
        return cls.from_pandas(
            df,
            "user",
            "item",
            rating,
            "timestamp" if timestamps is not None else None,
            duplicates=duplicates,
            implicit=implicit,
        )

    # ---- views --------------------------------------------------------------------------
    @property
    def user_ids(self) -> np.ndarray:
        return self.user_map.ids

    @property
    def item_ids(self) -> np.ndarray:
        return self.item_map.ids

    @property
    def n_users(self) -> int:
        return len(self.user_map)

    @property
    def n_items(self) -> int:
        return len(self.item_map)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_users, self.n_items)

    @property
    def nnz(self) -> int:
        return len(self.users)

    def __len__(self) -> int:
        return self.nnz

    def __repr__(self) -> str:
        kind = "ratings" if self.explicit else "implicit"
        ts = ", timestamps" if self.timestamps is not None else ""
        return f"Interactions({self.nnz} {kind}, {self.n_users} users x {self.n_items} items{ts})"

    @property
    def matrix(self) -> sp.csr_matrix:
        """users x items CSR (float32 values, int32 indices, sorted, no duplicates)."""
        if self._matrix is None:
            indptr = np.zeros(self.n_users + 1, dtype=np.int64)
            np.cumsum(np.bincount(self.users, minlength=self.n_users), out=indptr[1:])
            m = sp.csr_matrix((self.values, self.items, indptr), shape=self.shape)
            m.has_sorted_indices = True
            self._matrix = m
        return self._matrix

    def user_index(self, ids, missing: str = "raise") -> np.ndarray:
        return self.user_map.lookup(ids, missing)

    def item_index(self, ids, missing: str = "raise") -> np.ndarray:
        return self.item_map.lookup(ids, missing)

    def user_counts(self) -> np.ndarray:
        return np.bincount(self.users, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.items, minlength=self.n_items)

    def transposed(self) -> "Interactions":
        """The same interactions with the roles of users and items swapped (items x users): the
        item map becomes the user map and back. A domain pair that shares items is a pair that
        shares users once both domains are transposed."""
        return Interactions(
            self.items,
            self.users,
            self.values,
            self.item_map,
            self.user_map,
            timestamps=self.timestamps,
            explicit=self.explicit,
        )

    def subset(self, mask: np.ndarray) -> "Interactions":
        """The interactions where mask is True, in the same id space."""
        mask = np.asarray(mask)
        if mask.dtype != bool:
            idx = np.asarray(mask, dtype=np.int64)
            mask = np.zeros(self.nnz, dtype=bool)
            mask[idx] = True
        if len(mask) != self.nnz:
            raise ValueError(f"mask length {len(mask)} != number of interactions {self.nnz}")
        ts = self.timestamps[mask] if self.timestamps is not None else None
        return Interactions(
            self.users[mask],
            self.items[mask],
            self.values[mask],
            self.user_map,
            self.item_map,
            timestamps=ts,
            explicit=self.explicit,
            _checked=True,
        )

    def with_values(self, values: np.ndarray, explicit: Optional[bool] = None) -> "Interactions":
        """Same interactions with new values (e.g. binarised)."""
        values = np.asarray(values)
        if values.shape != self.values.shape:
            raise ValueError("values must have one entry per interaction")
        values = as_float32(values, "values")
        return Interactions(
            self.users,
            self.items,
            values,
            self.user_map,
            self.item_map,
            self.timestamps,
            self.explicit if explicit is None else explicit,
            _checked=True,
        )

    def binarize(self, threshold: Optional[float] = None) -> "Interactions":
        """Implicit copy: keep interactions with value >= threshold (all when None), weight 1."""
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating))
        ):
            raise ValueError(f"threshold must be a number (keep values >= it) or None (keep all), got {threshold!r}")
        keep = np.ones(self.nnz, bool) if threshold is None else self.values >= threshold
        sub = self.subset(keep)
        return Interactions(
            sub.users,
            sub.items,
            np.ones(sub.nnz, VALUE_DTYPE),
            self.user_map,
            self.item_map,
            sub.timestamps,
            explicit=False,
            _checked=True,
        )

    def to_pandas(self) -> pd.DataFrame:
        out = {"user": self.user_ids[self.users], "item": self.item_ids[self.items], "rating": self.values}
        if self.timestamps is not None:
            out["timestamp"] = self.timestamps
        return pd.DataFrame(out)


def _resolve_duplicates(u, i, values, ts, policy, umap, imap):
    if ts is not None and policy == "last":
        order = np.lexsort((ts, i, u))  # within a pair, by time
    else:
        order = np.lexsort((i, u))  # stable: input order within a pair
    u, i, values = u[order], i[order], values[order]
    ts = ts[order] if ts is not None else None
    same = np.zeros(len(u), dtype=bool)
    same[1:] = (u[1:] == u[:-1]) & (i[1:] == i[:-1])
    if not same.any():
        return u, i, values, ts
    if policy == "error":
        k = int(np.argmax(same))
        raise ValueError(
            f"duplicate (user, item) row ({_show(umap.ids[u[k]])}, {_show(imap.ids[i[k]])}); pass "
            f"duplicates='sum', 'last', 'mean' or 'max' to say what repeated rows mean"
        )
    starts = np.flatnonzero(~same)
    if policy == "last":
        keep = np.append(starts[1:] - 1, len(u) - 1)
        return u[keep], i[keep], values[keep], ts[keep] if ts is not None else None
    reducer = {"sum": np.add, "mean": np.add, "max": np.maximum}[policy]
    agg = reducer.reduceat(values, starts)
    if policy == "mean":
        agg = agg / np.diff(np.append(starts, len(u)))
    new_ts = np.maximum.reduceat(ts, starts) if ts is not None else None
    return u[starts], i[starts], agg, new_ts
