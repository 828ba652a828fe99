"""Interactions as Dask-resident blocks, partitioned by user and by item.

A :class:`Blocks` handle lives on the client and holds the id maps plus, for each side, a list of
futures of :class:`Block` (a contiguous range of rows, as a CSR over only the columns the block
touches, and those columns' global indices). The ``columns`` array is Spark MLlib's in-link
table: a block needs exactly those rows of the opposite factor table and nothing else.

Builders: :func:`from_interactions` (an in-memory ``crossrec.Interactions``),
:func:`from_dask_dataframe` (any Dask DataFrame, e.g. :func:`read_parquet` / :func:`read_csv` on
shared storage; the blocks are computed by tasks, so a lost worker's blocks are recomputed).
The id maps are built on the cluster: unique ids per partition, then a reduction, then sorted --
the same order as ``Interactions.from_pandas``, so indices match the single-machine model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import INDEX_DTYPE, VALUE_DTYPE, check_choice, check_positive_int
from ..data import IdMap, Interactions
from ._cluster import Keys, bounds, get_client, n_workers, put, tree_sum

DUPLICATES = ("sum", "error")


@dataclass
class Block:
    """Rows [start, stop) of one side of the interaction matrix.

    matrix : (stop - start, len(columns)) CSR, float32 values, int32 sorted indices, no duplicates,
        whose column j is global column ``columns[j]``.
    columns : sorted int32 global indices of the columns the block touches (its in-links).
    """

    start: int
    stop: int
    matrix: sp.csr_matrix
    columns: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    def global_matrix(self, n_cols: int) -> sp.csr_matrix:
        m = self.matrix
        return sp.csr_matrix((m.data, self.columns[m.indices], m.indptr), shape=(m.shape[0], n_cols))


def make_block(start: int, stop: int, rows, cols, vals, duplicates: str = "sum") -> Block:
    """A Block from global (row, column, value) triplets whose rows lie in [start, stop)."""
    rows = np.asarray(rows, np.int64) - start
    cols = np.asarray(cols, np.int64)
    columns, local = np.unique(cols, return_inverse=True)
    m = sp.csr_matrix(
        (np.asarray(vals, VALUE_DTYPE), (rows, local.reshape(-1))),
        shape=(stop - start, len(columns)),
        dtype=VALUE_DTYPE,
    )
    if duplicates == "error" and m.nnz != len(rows):
        raise ValueError(
            f"duplicate (user, item) pairs in rows [{start}, {stop}) of the data; pass duplicates='sum' to add them up"
        )
    m.sum_duplicates()
    m.sort_indices()
    m.indices = m.indices.astype(INDEX_DTYPE, copy=False)
    return Block(start, stop, m, columns.astype(INDEX_DTYPE))


def block_from_csr(matrix: sp.csr_matrix, start: int, stop: int) -> Block:
    """Rows [start, stop) of a canonical CSR as a Block."""
    part = matrix[start:stop]
    columns = np.unique(part.indices).astype(INDEX_DTYPE)
    local = np.searchsorted(columns, part.indices).astype(INDEX_DTYPE)
    m = sp.csr_matrix((part.data.astype(VALUE_DTYPE), local, part.indptr), shape=(stop - start, len(columns)))
    m.has_canonical_format = True
    return Block(start, stop, m, columns)


def block_stats(block: Block) -> tuple[int, float]:
    """(nnz, sum of values in double): enough to reduce the count and the global mean."""
    return block.nnz, float(block.matrix.data.sum(dtype=np.float64))


class Blocks:
    """Client-side handle of interaction blocks on a Dask cluster (see the module docstring).

    Attributes
    ----------
    user_map, item_map : IdMap (external ids, sorted as in ``Interactions.from_pandas``).
    explicit : ratings (True) or implicit weights (False).
    user_bounds, item_bounds : block boundaries (int64, length n_blocks + 1).
    by_user, by_item : lists of futures of :class:`Block` (rows = users / rows = items).
    nnz : number of stored interactions; value_sum : their sum (for the global mean).
    user_block_nnz, item_block_nnz : interactions per block.
    """

    def __init__(self, client, user_map, item_map, explicit, user_bounds, item_bounds, by_user, by_item):
        self.client = client
        self.user_map = user_map
        self.item_map = item_map
        self.explicit = bool(explicit)
        self.user_bounds = np.asarray(user_bounds, np.int64)
        self.item_bounds = np.asarray(item_bounds, np.int64)
        self.by_user = list(by_user)
        self.by_item = list(by_item)
        stats = client.gather([client.submit(block_stats, b, pure=False) for b in self.by_user + self.by_item])
        self.user_block_nnz = [s[0] for s in stats[: len(self.by_user)]]
        self.item_block_nnz = [s[0] for s in stats[len(self.by_user) :]]
        stats = stats[: len(self.by_user)]
        self.nnz = int(sum(s[0] for s in stats))
        self.value_sum = float(sum(s[1] for s in stats))
        if self.nnz == 0:
            raise ValueError("no interactions to train on")

    @property
    def n_users(self) -> int:
        return len(self.user_map)

    @property
    def n_items(self) -> int:
        return len(self.item_map)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_users, self.n_items)

    def __repr__(self) -> str:
        kind = "ratings" if self.explicit else "implicit"
        return (
            f"Blocks({self.nnz} {kind}, {self.n_users} users in {len(self.by_user)} blocks x "
            f"{self.n_items} items in {len(self.by_item)} blocks)"
        )

    def side(self, users: bool):
        """(blocks, their bounds, bounds of the opposite side) for a user (True) or item half-step."""
        if users:
            return self.by_user, self.user_bounds, self.item_bounds
        return self.by_item, self.item_bounds, self.user_bounds

    def to_matrix(self) -> sp.csr_matrix:
        """The whole users x items CSR, gathered to the client (for checks and small data)."""
        parts = self.client.gather(self.by_user)
        return sp.vstack([b.global_matrix(self.n_items) for b in parts], format="csr")

    def to_interactions(self) -> Interactions:
        """The data as an in-memory Interactions (gathers everything to the client)."""
        coo = self.to_matrix().tocoo()
        return Interactions(
            coo.row.astype(INDEX_DTYPE),
            coo.col.astype(INDEX_DTYPE),
            coo.data,
            self.user_map,
            self.item_map,
            explicit=self.explicit,
        )


def _n_blocks(client, n_blocks: Optional[int]) -> int:
    # Two blocks per worker: one can be fetching its factor rows while the other computes.
    return 2 * n_workers(client) if n_blocks is None else check_positive_int(n_blocks, "n_blocks")


def from_interactions(
    data: Interactions,
    n_blocks: Optional[int] = None,
    client: Any = None,
    recoverable: bool = True,
    user_edges: Optional[np.ndarray] = None,
    item_edges: Optional[np.ndarray] = None,
    item_blocks: bool = True,
) -> Blocks:
    """An in-memory Interactions as user and item blocks on the cluster.

    recoverable : True sends each block inside a task, so the scheduler keeps a copy and Dask
        rebuilds the blocks of a lost worker (memory on the scheduler: about the data's size).
        False scatters them (nothing kept on the scheduler, but a lost worker's blocks are gone:
        the fit then fails with Dask's "lost dependencies" error -- never a wrong result).
    user_edges, item_edges : block boundaries to use instead of equal blocks (e.g. an item block
        boundary between two domains' items). item_blocks : False builds the user blocks only.
    """
    if not isinstance(data, Interactions):
        raise ValueError(f"from_interactions expects crossrec.Interactions, got {type(data).__name__}")
    if data.nnz == 0:
        raise ValueError("no interactions to train on")
    return from_scipy(
        data.matrix,
        data.user_map,
        data.item_map,
        data.explicit,
        n_blocks=n_blocks,
        client=client,
        recoverable=recoverable,
        user_edges=user_edges,
        item_edges=item_edges,
        item_blocks=item_blocks,
    )


def from_scipy(
    matrix: sp.spmatrix,
    user_map: Optional[IdMap] = None,
    item_map: Optional[IdMap] = None,
    explicit: bool = False,
    n_blocks: Optional[int] = None,
    client: Any = None,
    recoverable: bool = True,
    user_edges: Optional[np.ndarray] = None,
    item_edges: Optional[np.ndarray] = None,
    item_blocks: bool = True,
) -> Blocks:
    """A users x items sparse matrix as blocks (ids 0..n-1 unless id maps are given); stored
    entries are the interactions. Other arguments as :func:`from_interactions`."""
    if not sp.issparse(matrix):
        raise ValueError(f"expected a scipy.sparse matrix, got {type(matrix).__name__}")
    client = get_client(client)
    nb = _n_blocks(client, n_blocks)
    m = sp.csr_matrix(matrix)
    m = sp.csr_matrix((m.data.astype(VALUE_DTYPE), m.indices.astype(INDEX_DTYPE), m.indptr), shape=m.shape)
    m.sum_duplicates()
    m.sort_indices()
    if m.nnz == 0:
        raise ValueError("no interactions to train on")
    user_map = IdMap(np.arange(m.shape[0]), "user") if user_map is None else user_map
    item_map = IdMap(np.arange(m.shape[1]), "item") if item_map is None else item_map
    if (len(user_map), len(item_map)) != m.shape:
        raise ValueError(f"id maps ({len(user_map)} users, {len(item_map)} items) do not match the shape {m.shape}")
    ub = bounds(m.shape[0], nb) if user_edges is None else np.asarray(user_edges, np.int64)
    ib = bounds(m.shape[1], nb) if item_edges is None else np.asarray(item_edges, np.int64)
    for name, edges, n in (("user_edges", ub, m.shape[0]), ("item_edges", ib, m.shape[1])):
        if edges[0] != 0 or edges[-1] != n or np.any(np.diff(edges) <= 0):
            raise ValueError(f"{name} must rise strictly from 0 to {n}, got {edges.tolist()}")
    users = [block_from_csr(m, s, e) for s, e in zip(ub[:-1], ub[1:])]
    items = []
    if item_blocks:
        mt = sp.csr_matrix(m.T)  # items x users (the CSC of m read as CSR)
        mt.sort_indices()
        items = [block_from_csr(mt, s, e) for s, e in zip(ib[:-1], ib[1:])]
        del mt
    if recoverable:
        keys = Keys("blocks")
        by_user, by_item = put(client, users, keys, "user-block"), put(client, items, keys, "item-block")
    else:
        by_user, by_item = client.scatter(users, hash=False), client.scatter(items, hash=False)
    return Blocks(client, user_map, item_map, explicit, ub, ib, by_user, by_item)


# ---- from a Dask DataFrame ------------------------------------------------------------------
def _sorted_unique(values: pd.Series, kind: str) -> np.ndarray:
    v = values.to_numpy()
    if pd.isna(v).any():
        raise ValueError(f"{kind} column holds missing (NaN/None) ids")
    try:
        return np.sort(v)
    except TypeError:  # unorderable mixed ids: any fixed order serves, sorted by their text
        return np.asarray(sorted(v, key=lambda x: (type(x).__name__, str(x))), dtype=object)


def _unique_ids(df: pd.DataFrame, user: str, item: str) -> tuple[pd.Series, pd.Series]:
    return pd.Series(pd.unique(df[user].to_numpy())), pd.Series(pd.unique(df[item].to_numpy()))


def _union(a, b):
    return tuple(pd.Series(pd.unique(pd.concat([x, y], ignore_index=True).to_numpy())) for x, y in zip(a, b))


def _split_partition(df: pd.DataFrame, user_ids, item_ids, user, item, rating, ub, ib, implicit: bool):
    """One partition mapped to indices and cut into per-user-block and per-item-block triplets."""
    u = pd.Index(user_ids).get_indexer(df[user].to_numpy())
    i = pd.Index(item_ids).get_indexer(df[item].to_numpy())
    if (u < 0).any() or (i < 0).any():  # cannot happen with maps built from the same data
        raise ValueError("ids missing from the id maps; were the maps built from another data set?")
    if rating is None:
        v = np.ones(len(df), VALUE_DTYPE)
    else:
        col = df[rating]
        if not pd.api.types.is_numeric_dtype(col):
            raise ValueError(f"rating column {rating!r} is not numeric (dtype {col.dtype})")
        v = col.to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.all(np.isfinite(v)):
            raise ValueError(f"rating column {rating!r} holds NaN or infinite values")
        if implicit and v.size and v.min() < 0:
            raise ValueError(f"implicit weights in {rating!r} must be >= 0; negative weights found")
        v = v.astype(VALUE_DTYPE)

    def cut(rows, cols, edges):
        block = np.searchsorted(edges, rows, side="right") - 1
        order = np.argsort(block, kind="stable")
        starts = np.searchsorted(block[order], np.arange(len(edges)))
        return [(rows[order[a:b]], cols[order[a:b]], v[order[a:b]]) for a, b in zip(starts[:-1], starts[1:])]

    return cut(u, i, ub), cut(i, u, ib)


def _assemble(start: int, stop: int, duplicates: str, *pieces) -> Block:
    rows = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, np.int64)
    cols = np.concatenate([p[1] for p in pieces]) if pieces else np.zeros(0, np.int64)
    vals = np.concatenate([p[2] for p in pieces]) if pieces else np.zeros(0, VALUE_DTYPE)
    return make_block(start, stop, rows, cols, vals, duplicates)


def _pick(pair, side: int, b: int):
    return pair[side][b]


def from_dask_dataframe(
    df,
    user: str = "user",
    item: str = "item",
    rating: Optional[str] = None,
    implicit: Optional[bool] = None,
    duplicates: str = "sum",
    n_blocks: Optional[int] = None,
    client: Any = None,
) -> Blocks:
    """Blocks from a Dask DataFrame of interactions, without collecting it to the client.

    The id maps come from a distributed unique (per partition, then a reduction); each partition
    is mapped to indices and cut by user block and by item block on its worker; each block is
    assembled from its pieces by one task. Only the id arrays and block sizes reach the client.

    rating: column of ratings (explicit) or weights (``implicit=True``); None = weight 1 per row.
    duplicates: "sum" adds up repeated (user, item) rows; "error" raises.
    """
    import dask.dataframe as dd

    if not isinstance(df, dd.DataFrame):
        raise ValueError(f"from_dask_dataframe expects a dask.dataframe.DataFrame, got {type(df).__name__}")
    for col in (user, item, rating):
        if col is not None and col not in df.columns:
            raise ValueError(f"column {col!r} not in DataFrame (columns: {list(df.columns)})")
    check_choice(duplicates, "duplicates", DUPLICATES)
    client = get_client(client)
    explicit = rating is not None and not implicit
    keys = Keys("blocks")
    parts = client.compute(df.to_delayed())
    # id maps: unique ids per partition, then a tree of unions on the workers; one sort on the client
    uniq = [client.submit(_unique_ids, p, user, item, key=keys("unique-ids", j)) for j, p in enumerate(parts)]
    user_ids, item_ids = client.gather(tree_sum(client, uniq, keys, "unique-ids-union", 0, combine=_union))
    user_ids, item_ids = _sorted_unique(user_ids, "user"), _sorted_unique(item_ids, "item")
    if len(user_ids) == 0:
        raise ValueError("no interactions: the DataFrame is empty")
    nb = _n_blocks(client, n_blocks)
    ub, ib = bounds(len(user_ids), nb), bounds(len(item_ids), nb)
    uf, itf = put(client, [user_ids, item_ids], keys, "id-maps")
    splits = [
        client.submit(
            _split_partition, p, uf, itf, user, item, rating, ub, ib, not explicit, key=keys("split", j), pure=False
        )
        for j, p in enumerate(parts)
    ]

    def assemble(side: int, edges: np.ndarray, name: str) -> list:
        out = []
        for b, (s, e) in enumerate(zip(edges[:-1], edges[1:])):
            pieces = [
                client.submit(_pick, sp_, side, b, key=keys(f"{name}-piece", b, j)) for j, sp_ in enumerate(splits)
            ]
            out.append(client.submit(_assemble, int(s), int(e), duplicates, *pieces, key=keys(name, b)))
        return out

    by_user, by_item = assemble(0, ub, "user-block"), assemble(1, ib, "item-block")
    return Blocks(client, IdMap(user_ids, "user"), IdMap(item_ids, "item"), explicit, ub, ib, by_user, by_item)


def read_parquet(path, user: str = "user", item: str = "item", rating: Optional[str] = None, **kwargs) -> Blocks:
    """Blocks from Parquet files (a path, a glob or a directory on storage every worker sees).
    Keyword arguments go to :func:`from_dask_dataframe` (implicit, duplicates, n_blocks, client)."""
    import dask.dataframe as dd

    cols = [c for c in (user, item, rating) if c is not None]
    return from_dask_dataframe(dd.read_parquet(path, columns=cols), user, item, rating, **kwargs)


def read_csv(
    path, user: str = "user", item: str = "item", rating: Optional[str] = None, sep: str = ",", **kwargs
) -> Blocks:
    """Blocks from delimited text files on shared storage (see :func:`read_parquet`)."""
    import dask.dataframe as dd

    return from_dask_dataframe(dd.read_csv(path, sep=sep), user, item, rating, **kwargs)


def as_blocks(data: Any, n_blocks: Optional[int] = None, client: Any = None) -> Blocks:
    """Blocks from whatever a distributed fit accepts: Blocks (as is), Interactions,
    a Dask DataFrame with columns user, item[, rating], or a Parquet path."""
    if isinstance(data, Blocks):
        return data
    if isinstance(data, Interactions):
        return from_interactions(data, n_blocks=n_blocks, client=client)
    import dask.dataframe as dd

    if isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        data = dd.read_parquet(str(data))
    if isinstance(data, dd.DataFrame):
        rating = "rating" if "rating" in data.columns else None
        return from_dask_dataframe(data, rating=rating, n_blocks=n_blocks, client=client)
    raise ValueError(
        "expected crossrec.distributed.Blocks, crossrec.Interactions, a dask DataFrame or a Parquet path, "
        f"got {type(data).__name__}"
    )


def same_users(a: Blocks, b: Blocks) -> bool:
    return a.user_map == b.user_map and np.array_equal(a.user_bounds, b.user_bounds)


def gather_rows(client, futures: Sequence) -> np.ndarray:
    """Row blocks of a factor table, gathered and stacked on the client."""
    return np.concatenate(client.gather(list(futures)), axis=0)


__all__ = [
    "Block",
    "Blocks",
    "as_blocks",
    "from_dask_dataframe",
    "from_interactions",
    "from_scipy",
    "read_csv",
    "read_parquet",
]
