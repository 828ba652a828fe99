"""Batch work over all users or items on a Dask cluster: top-N for every user written to Parquet,
item-item top-k similarity from the interaction blocks, and evaluation reduced per segment.

Each task takes one block of users (items) and runs the single-machine code path on it: the
model's own ``recommend_indices`` (for factor models the fused C++ top-N kernel, no users x items
matrix), the C++ top-k similarity kernel, the metrics of :mod:`crossrec.metrics`. The model or
matrix every block needs is sent once per worker (Dask moves a key to a worker once).
"""

from __future__ import annotations

import glob
import os
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import metrics as _metrics
from .._validation import check_positive_int
from ..data import Indices, Interactions
from ..models.base import Recommender
from ..models.protocol import check_is_fitted
from ..similarity import KINDS, topk_similarity
from ._cluster import Keys, bounds, check_fits, get_client, n_workers, put, task_threads
from .blocks import as_blocks

METRICS = {
    "ndcg": _metrics.ndcg_at_k,
    "recall": _metrics.recall_at_k,
    "precision": _metrics.precision_at_k,
    "hit_rate": _metrics.hit_rate_at_k,
}


def _portable(model: Recommender) -> Recommender:
    """The model as it is sent to workers: distributed models travel as their single-machine twin
    (no client inside)."""
    to_local = getattr(model, "to_local", None)
    return to_local() if callable(to_local) else model


def _check_model(model) -> Recommender:
    if not isinstance(model, Recommender):
        raise ValueError(f"expected a fitted crossrec model, got {type(model).__name__}")
    check_is_fitted(model)
    return model


def _model_bytes(model: Recommender) -> int:
    return sum(v.nbytes for v in vars(model).values() if isinstance(v, np.ndarray)) + sum(
        v.data.nbytes + v.indices.nbytes + v.indptr.nbytes for v in vars(model).values() if sp.issparse(v)
    )


def _recommend_block(model: Recommender, users: np.ndarray, n: int, exclude_seen: bool, part: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    idx, scores = model.recommend_indices(users, n=n, exclude_seen=exclude_seen)
    item_ids, user_ids = model.item_ids_, model.user_ids_
    ok = idx >= 0
    items = [item_ids[r[m]].tolist() for r, m in zip(idx, ok)]
    table = pa.table(
        {
            "user": pa.array(user_ids[users].tolist()),
            "items": pa.array(items),
            "scores": pa.array([s[m].tolist() for s, m in zip(scores, ok)], type=pa.list_(pa.float32())),
        }
    )
    tmp = part + ".tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, part)  # a recomputed task rewrites its part whole; readers never see half a file
    return len(users)


def recommend_all(
    model: Recommender,
    n: int = 10,
    path: str = "recommendations",
    users=None,
    exclude_seen: bool = True,
    n_blocks: Optional[int] = None,
    client: Any = None,
) -> str:
    """Top-``n`` items for every user (or the given external ``users``) as a Parquet dataset.

    Writes ``path/part-00000.parquet``, ... (one file per user block, on storage the workers
    share) with one row per user: ``user`` (external id), ``items`` (external ids, best first,
    fewer than n when fewer are eligible) and ``scores`` (float32). Earlier part files in ``path``
    are removed first. Returns ``path``; read it with ``pandas.read_parquet(path)``.
    """
    model = _portable(_check_model(model))
    n = check_positive_int(n, "n")
    client = get_client(client)
    idx = np.arange(model.n_users_, dtype=np.int32) if users is None else model.user_map_.lookup(users)
    if len(idx) == 0:
        raise ValueError("users is empty: nothing to recommend")
    check_fits(client, 2 * _model_bytes(model), "the model sent to every worker", "use fewer users or larger workers")
    os.makedirs(path, exist_ok=True)
    for old in glob.glob(os.path.join(path, "part-*.parquet")):
        os.remove(old)
    keys = Keys("recommend-all")
    remote = put(client, [model], keys, "model")[0]
    edges = bounds(len(idx), n_blocks if n_blocks is not None else 4 * n_workers(client), align=1)
    futs = [
        client.submit(
            _recommend_block,
            remote,
            idx[s:e],
            n,
            bool(exclude_seen),
            os.path.join(path, f"part-{b:05d}.parquet"),
            key=keys("top-n", b),
        )
        for b, (s, e) in enumerate(zip(edges[:-1], edges[1:]))
    ]
    written = sum(client.gather(futs))
    assert written == len(idx), (written, len(idx))
    return path


# ---- item-item similarity ---------------------------------------------------------------------
def _stack(n_cols: int, *blocks) -> sp.csr_matrix:
    return sp.vstack([b.global_matrix(n_cols) for b in blocks], format="csr")


def _similarity_block(matrix, start: int, stop: int, k, kind, shrink, min_support, n_threads):
    return topk_similarity(
        matrix,
        k=k,
        kind=kind,
        shrink=shrink,
        min_support=min_support,
        rows=np.arange(start, stop),
        n_threads=task_threads(n_threads),
    )


def item_similarity(
    data,
    k: int = 50,
    kind: str = "cosine",
    shrink: float = 0.0,
    min_support: int = 1,
    n_blocks: Optional[int] = None,
    n_threads: int = 0,
    client: Any = None,
) -> sp.csr_matrix:
    """The ``k`` most similar items of every item (as :func:`crossrec.similarity.topk_similarity`
    on ``data.matrix.T``): each item block is compared against the items x users matrix, which is
    assembled once on the cluster and sent once per worker. Returns the (n_items, n_items) sparse
    top-k matrix on the client (O(n_items k) memory)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    k = check_positive_int(k, "k")
    client = get_client(client)
    blocks = as_blocks(data, n_blocks=n_blocks, client=client)
    check_fits(
        client,
        2 * (blocks.nnz * 8 + (blocks.n_items + 1) * 8),
        f"the items x users matrix ({blocks.nnz} entries) sent to every worker",
        "this data set is too large for one worker's memory; use larger workers",
    )
    keys = Keys("item-similarity")
    full = client.submit(_stack, blocks.n_users, *blocks.by_item, key=keys("matrix"))
    edges = blocks.item_bounds
    futs = [
        client.submit(
            _similarity_block, full, int(s), int(e), k, kind, shrink, min_support, n_threads, key=keys("top-k", b)
        )
        for b, (s, e) in enumerate(zip(edges[:-1], edges[1:]))
    ]
    out = sp.vstack(client.gather(futs), format="csr")
    out.has_sorted_indices = True
    return out


# ---- evaluation -------------------------------------------------------------------------------
def _evaluate_block(model, users, relevant, n, names, exclude_seen, segment_of):
    idx, _ = model.recommend_indices(users, n=n, exclude_seen=exclude_seen)
    rows = []
    for name in names:
        values = METRICS[name](idx, relevant, n)
        ok = ~np.isnan(values)
        for seg, members in segment_of.items():
            m = ok & members
            rows.append((name, seg, float(values[m].sum()), int(m.sum())))
    return rows


def evaluate(
    model: Recommender,
    test: Interactions,
    k: int = 10,
    metrics: Sequence[str] = ("ndcg", "recall"),
    segments: Optional[Mapping[str, Any]] = None,
    exclude_seen: bool = True,
    n_blocks: Optional[int] = None,
    client: Any = None,
) -> pd.DataFrame:
    """Top-``k`` metrics of ``model`` on the ``test`` users, computed per user block on the
    cluster and reduced per segment (sums and counts, then means on the client).

    test : Interactions in the model's id space (e.g. a split of the training data or a
        ``CrossDomain.cold_start_split().test``). segments : name -> external user ids, as in
        :func:`crossrec.evaluate` (e.g. ``split.segments`` or ``{"cold": split.cold_user_ids}``);
        "all" is always reported.

    Returns a DataFrame indexed by segment with one column per metric ("ndcg@10", ...) and
    ``users`` (test users with relevant items in the segment).
    """
    model = _portable(_check_model(model))
    k = check_positive_int(k, "k")
    for name in metrics:
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; choose from {sorted(METRICS)}")
    if not isinstance(test, Interactions) or not (
        test.user_map == model.user_map_ and test.item_map == model.item_map_
    ):
        raise ValueError("test must be crossrec.Interactions in the model's id space (a split of its training data)")
    client = get_client(client)
    rel = test.matrix
    users = np.flatnonzero(np.diff(rel.indptr) > 0).astype(np.int32)
    if len(users) == 0:
        raise ValueError("test has no interactions")
    seg_members = {"all": np.ones(model.n_users_, bool)}
    for name, members in (segments or {}).items():
        if name == "all":
            raise ValueError("segment name 'all' is reserved (every test user)")
        if isinstance(members, Indices):
            raise ValueError(
                f"segments[{name!r}] holds internal {members.kind} indices; evaluate takes external user ids "
                "(pass split.segments, or split.cold_user_ids / split.warm_user_ids)"
            )
        idx = model.user_map_.lookup(np.asarray(list(members), dtype=object), missing="ignore")
        mask = np.zeros(model.n_users_, bool)
        mask[idx[idx >= 0]] = True
        seg_members[str(name)] = mask
    keys = Keys("evaluate")
    remote = put(client, [model], keys, "model")[0]
    edges = bounds(len(users), n_blocks if n_blocks is not None else 4 * n_workers(client), align=1)
    futs = []
    for b, (s, e) in enumerate(zip(edges[:-1], edges[1:])):
        u = users[s:e]
        futs.append(
            client.submit(
                _evaluate_block,
                remote,
                u,
                rel[u],
                k,
                list(metrics),
                bool(exclude_seen),
                {seg: m[u] for seg, m in seg_members.items()},
                key=keys("metrics", b),
            )
        )
    rows = [r for part in client.gather(futs) for r in part]
    df = pd.DataFrame(rows, columns=["metric", "segment", "sum", "count"]).groupby(["segment", "metric"]).sum()
    out = (df["sum"] / df["count"].where(df["count"] > 0)).unstack("metric")
    out.columns = [f"{c}@{k}" for c in out.columns]
    out["users"] = df["count"].groupby(level="segment").max()
    return out.loc[list(seg_members)]
