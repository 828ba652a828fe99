"""Distributed ALS half-steps on Dask futures: each task runs the single-machine C++ half-step
(:mod:`crossrec.factorization`) on one row block; the factors stay on the workers.

One half-step (update the rows of one side for the fixed opposite side):

1. Gram matrix (implicit only): one partial Y_j^T Y_j per opposite block, in double, summed in the
   C++ kernel's fixed 512-row groups, then a tree reduction on the workers.
2. Exchange: each row block b needs the opposite rows ``columns_b`` (its in-links).
   * ``"broadcast"``: one task concatenates the opposite blocks; Dask moves that table once to every
     worker that runs a block (dislib's pattern; fine while the table fits a worker).
   * ``"links"``: Spark MLlib's pattern. For each pair (opposite block j, block b) that shares a
     column, a precomputed out-link table (positions in j of the rows b touches) selects those rows
     on j's worker, and only they travel to b. Memory per task: the rows the block touches.
3. Solve: one task per block copies its old rows (CG warm start; task inputs are never mutated),
   calls the C++ step, returns the new rows.

Every task is a pure function of its inputs, so Dask recomputes whatever a lost worker held from
the lineage, and the result is the one an undisturbed run gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import scipy.sparse as sp

from .. import factorization as fz
from .._validation import VALUE_DTYPE
from ._cluster import MEMORY_FRACTION, Keys, check_fits, memory_limit, task_threads, tree_sum
from .blocks import Block

EXCHANGES = ("auto", "broadcast", "links")
GRAM_ROWS = 512  # the C++ gram_matrix kernel's fixed row group


@dataclass(frozen=True)
class StepSpec:
    """What one half-step solves (one per side and fit).

    implicit : Hu et al. confidence-weighted step; else explicit ALS-WR (exact).
    biased : explicit rows carry a bias as their last column (rows [x, b] against [y, 1]).
    means : value subtracted per opposite column range (explicit): ``((first_col, mean), ...)``
        sorted by first column (one entry for plain ALS; one per domain for CMF).
    weights : per-entry weights per opposite column range (CMF), or None.
    """

    implicit: bool
    regularization: float
    alpha: float = 1.0
    solver: str = "cg"
    cg_steps: int = 3
    exact_short_rows: bool = True
    n_threads: int = 0
    biased: bool = False
    means: tuple = ((0, 0.0),)
    weights: Optional[tuple] = None

    def column_values(self, table: tuple, columns: np.ndarray) -> np.ndarray:
        starts = np.asarray([c for c, _ in table])
        values = np.asarray([v for _, v in table], np.float64)
        return values[np.searchsorted(starts, columns, side="right") - 1]


# ---- task functions (module level: picklable, pure) ------------------------------------------
def block_gram(Y: np.ndarray) -> np.ndarray:
    """Y^T Y in double, summed over the C++ kernel's 512-row groups (each group exactly as the
    kernel sums it)."""
    f = Y.shape[1]
    out = np.zeros((f, f), np.float64)
    for s in range(0, len(Y), GRAM_ROWS):
        out += fz.gram_matrix(np.ascontiguousarray(Y[s : s + GRAM_ROWS]), n_threads=1)
    return out


def weighted_gram(weight: float, Y: np.ndarray) -> np.ndarray:
    return weight * block_gram(Y)


def to_float32(G: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(G, dtype=np.float32)


def concat_rows(*parts: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.concatenate(parts, axis=0)) if len(parts) != 1 else parts[0]


def link_positions(block: Block, start: int, stop: int) -> np.ndarray:
    """Out-link table of (opposite block [start, stop), this block): positions in the opposite
    block of the rows this block touches."""
    c = block.columns
    a, b = np.searchsorted(c, [start, stop])
    return (c[a:b] - start).astype(np.int64)


def take_rows(Y: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(Y[positions])


def link_counts(block: Block, edges: np.ndarray) -> np.ndarray:
    """How many of the block's columns fall in each opposite block."""
    return np.diff(np.searchsorted(block.columns, edges))


def short_row_savings(block: Block, prior_weight: Optional[np.ndarray], f: int, cg_steps: int) -> float:
    """The flops the C++ step saves by solving short rows exactly (its own estimate, summed over
    this block), so the client can make the one global decision the single-machine step makes."""
    n = np.diff(block.matrix.indptr).astype(np.float64)
    keep = n > 0
    if prior_weight is not None:
        keep &= ~(prior_weight > 0)
    n = n[keep]
    cg = (cg_steps + 1.0) * (float(f) * f + 4.0 * n * f)
    wood = 2.0 * n * n * f + n * n * n / 3.0 + 4.0 * n * f
    return float(np.maximum(0.0, cg - wood).sum())


def fresh_float32(a: np.ndarray) -> np.ndarray:
    """A writeable float32 copy with numpy's canonical dtype object. An unpickled array carries an
    equal but distinct dtype instance, which np.array(..., dtype=float32) keeps and the in-place
    binding (an identity check) rejects."""
    out = np.empty(a.shape, np.float32)
    np.copyto(out, a)
    return out


def _with_data(m: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    out = sp.csr_matrix((np.asarray(data, VALUE_DTYPE), m.indices, m.indptr), shape=m.shape)
    out.has_canonical_format = True
    return out


def solve_block(
    block: Block,
    X: np.ndarray,
    gram: Optional[np.ndarray],
    prior: Optional[np.ndarray],
    prior_weight: Optional[np.ndarray],
    spec: StepSpec,
    broadcast: bool,
    *opposite: np.ndarray,
) -> np.ndarray:
    """New rows of one block for the fixed opposite rows (the whole table when ``broadcast``,
    else the touched rows in column order). ``gram``: the float64 (weighted) Gram sum, implicit."""
    d = X.shape[1]
    if len(block.columns) == 0:
        Y = np.zeros((0, d), np.float32)
    elif broadcast:
        Y = np.ascontiguousarray(opposite[0][block.columns])
    else:
        Y = concat_rows(*opposite)
    X = fresh_float32(X)  # task inputs are shared (and recomputed after a loss): never update them
    threads = task_threads(spec.n_threads)
    m = block.matrix
    cols = block.columns[m.indices]
    if spec.implicit and spec.weights is not None:
        return weighted_implicit_rows(m, Y, spec.column_values(spec.weights, cols), spec, gram, prior, prior_weight)
    if spec.implicit:
        return fz.als_implicit_step(
            m,
            Y,
            X,
            spec.regularization,
            alpha=spec.alpha,
            solver=spec.solver,
            cg_steps=spec.cg_steps,
            gram=None if gram is None else to_float32(gram),
            prior=prior,
            prior_weight=prior_weight,
            n_threads=threads,
            exact_short_rows=spec.exact_short_rows,
        )
    weights = None if spec.weights is None else spec.column_values(spec.weights, cols).astype(np.float32)
    offset = spec.column_values(spec.means, cols)
    if spec.biased:  # rows [x, b] against [y, 1]: the one biased explicit step of crossrec.ALS
        return fz.als_biased_step(
            m,
            Y,
            X,
            spec.regularization,
            offset=offset,
            weights=weights,
            prior=prior,
            prior_weight=prior_weight,
            n_threads=threads,
        )
    if np.any(offset != 0.0):
        data = (m.data.astype(np.float64) - offset).astype(np.float32)
    else:
        data = m.data
    return fz.als_explicit_step(
        _with_data(m, data),
        Y,
        X,
        spec.regularization,
        weights=weights,
        prior=prior,
        prior_weight=prior_weight,
        n_threads=threads,
    )


def weighted_implicit_rows(m, Y, w, spec: StepSpec, gram, prior, prior_weight) -> np.ndarray:
    """Implicit rows whose entries carry per-domain weights w (CMF with weights != (1, 1)): the
    exact numpy solver of crossrec's CMF on this block, W = w alpha r, V = w (1 + alpha r)."""
    from ..transfer.cmf import solve_rows

    r = m.data.astype(np.float64)
    W = sp.csr_matrix((w * spec.alpha * r, m.indices, m.indptr), shape=m.shape)
    V = sp.csr_matrix((w * (1.0 + spec.alpha * r), m.indices, m.indptr), shape=m.shape)
    return solve_rows(W, V, Y, spec.regularization, gram=gram, prior=prior, prior_weight=prior_weight)


# ---- client-side orchestration ----------------------------------------------------------------
class Exchange:
    """How one side's blocks receive the opposite factors, planned once per fit and direction.

    counts[b, j]: columns block b touches in opposite block j (gathered: n_blocks^2 integers).
    positions[(b, j)]: futures of the out-link tables, for the "links" exchange.
    """

    def __init__(self, client, rows: Sequence, opposite_edges: np.ndarray, keys: Keys, name: str):
        self.client, self.rows, self.edges, self.keys, self.name = client, list(rows), opposite_edges, keys, name
        counts = [
            client.submit(link_counts, b, opposite_edges, key=keys(f"{name}-links", i)) for i, b in enumerate(rows)
        ]
        self.counts = np.asarray(client.gather(counts), np.int64).reshape(len(self.rows), len(opposite_edges) - 1)
        self.mode = "broadcast"
        self.positions: dict = {}

    def plan(self, mode: str) -> "Exchange":
        """Fix the mode; for "links", compute the out-link tables (once per fit, on the workers)."""
        self.mode = mode
        if mode == "links":
            for b, block in enumerate(self.rows):
                for j in np.flatnonzero(self.counts[b]).tolist():
                    self.positions[(b, int(j))] = self.client.submit(
                        link_positions,
                        block,
                        int(self.edges[j]),
                        int(self.edges[j + 1]),
                        key=self.keys(f"{self.name}-outlinks", b, j),
                    )
        return self

    def inputs(self, Y: Sequence, step: int) -> list[tuple[bool, list]]:
        """Per block: (broadcast?, the futures its solve task takes as opposite rows)."""
        if self.mode == "broadcast":
            full = self.client.submit(concat_rows, *Y, key=self.keys(f"{self.name}-broadcast", step))
            return [(True, [full]) for _ in self.rows]
        out = []
        for b in range(len(self.rows)):
            parts = [
                self.client.submit(
                    take_rows, Y[j], self.positions[(b, int(j))], key=self.keys(f"{self.name}-send-rows", step, b, j)
                )
                for j in np.flatnonzero(self.counts[b]).tolist()
            ]
            out.append((False, parts))
        return out

    def rows_moved(self, n_opposite: int) -> int:
        """Opposite rows sent per half-step (broadcast: the whole table per block, an upper bound
        since Dask sends it once per worker)."""
        if self.mode == "broadcast":
            return n_opposite * len(self.rows)
        return int(self.counts.sum())


def choose_exchange(client, mode: str, n_opposite: int, width: int, max_touched: int, max_block_bytes: int) -> str:
    """Resolve "auto" and check, before any work, that what a task holds fits one worker.

    broadcast holds the whole opposite table twice on one worker (its parts and the joined copy);
    links hold a block's touched rows twice (parts and joined). "auto" broadcasts while the table
    takes at most a quarter of the spill threshold, else uses links.
    """
    table = 2.0 * n_opposite * width * 4 + max_block_bytes
    touched = 2.0 * max_touched * width * 4 + max_block_bytes
    limit = memory_limit(client)
    if mode == "auto":
        small = table <= (0.25 * MEMORY_FRACTION * limit if limit else 2**30)
        mode = "broadcast" if small else "links"
    if mode == "broadcast":
        check_fits(
            client,
            table,
            f"broadcasting the opposite factor table ({n_opposite} rows x {width} float32)",
            "use exchange='links' (each block then receives only the rows it touches) or larger workers",
        )
    else:
        check_fits(
            client,
            touched,
            f"the largest block's factor rows ({max_touched} rows x {width} float32) plus its data",
            "use more blocks (n_blocks) or larger workers",
        )
    return mode


def gram(client, Y: Sequence, keys: Keys, step: int, name: str, weights: Optional[Sequence[float]] = None):
    """Future of the float64 sum_j w_j Y_j^T Y_j (w_j = 1 by default), tree-reduced on the workers."""
    w = [1.0] * len(Y) if weights is None else list(weights)
    parts = [client.submit(weighted_gram, w[j], y, key=keys(f"{name}-gram-part", step, j)) for j, y in enumerate(Y)]
    return tree_sum(client, parts, keys, f"{name}-gram-sum", step)


def half_step(
    client,
    rows: Sequence,
    X: Sequence,
    Y: Sequence,
    exchange: Exchange,
    spec,
    keys: Keys,
    step: int,
    name: str,
    gram_future: Any = None,
    priors: Optional[Sequence] = None,
) -> list:
    """New row-block futures of one side (see the module docstring). ``spec``: one StepSpec, or
    one per block (CMF: each item block belongs to one domain)."""
    specs = list(spec) if isinstance(spec, (list, tuple)) else [spec] * len(rows)
    out = []
    for b, (block, x, (bcast, opposite)) in enumerate(zip(rows, X, exchange.inputs(Y, step))):
        p, w = priors[b] if priors is not None else (None, None)
        out.append(
            client.submit(
                solve_block, block, x, gram_future, p, w, specs[b], bcast, *opposite, key=keys(f"{name}-solve", step, b)
            )
        )
    return out


def global_short_rows(client, rows: Sequence, priors, f: int, spec: StepSpec, n_opposite: int, keys: Keys, name: str):
    """The single-machine step's exact-short-rows decision for the whole side (see
    ``crossrec.factorization.als_implicit_step``): False makes every block run pure CG, exactly as
    the single-machine step does then; True lets each block decide for its own rows."""
    if not spec.implicit or spec.solver != "cg" or not spec.exact_short_rows:
        return False
    futs = [
        client.submit(
            short_row_savings, b, priors[i][1] if priors else None, f, spec.cg_steps, key=keys(f"{name}-short-rows", i)
        )
        for i, b in enumerate(rows)
    ]
    saved = sum(client.gather(futs))
    precompute = float(n_opposite) * f * f * 2.0 + 2.0 * float(f) * f * f
    return saved > 1.5 * precompute
