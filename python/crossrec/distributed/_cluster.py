"""The Dask plumbing every distributed model shares: the client, worker limits, task keys, the
tree reduction, the thread count inside a task and the error raised before a table is broadcast
that would not fit a worker."""

from __future__ import annotations

import os
import uuid
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..errors import CrossrecError

# Dask starts spilling a worker's data to disk at 60 % of its memory limit ("target" fraction);
# a table we place on every worker must leave that headroom, or every task would spill.
MEMORY_FRACTION = 0.6


class WorkerMemoryError(CrossrecError, ValueError):
    """A table the computation would place on one worker does not fit its memory limit; raised
    before any work starts, naming the table, its size, the limit and what to change."""


def get_client(client: Any = None):
    """The given client, else the one of the current ``with Client(...)`` block / worker."""
    if client is not None:
        return client
    from distributed import get_client as current

    try:
        return current()
    except ValueError as exc:
        raise ValueError(
            "crossrec.distributed needs a dask.distributed Client: create one first "
            "(client = distributed.Client(...), or `with distributed.LocalCluster() as c, c.get_client():`)"
        ) from exc


def workers(client, timeout: float = 30.0) -> dict:
    """The scheduler's worker table; waits up to ``timeout`` s for a first worker (one may be
    restarting after a loss)."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    if not info:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except Exception as exc:  # distributed raises its own TimeoutError
            raise ValueError("the Dask cluster has no workers; start some before fitting") from exc
        info = client.scheduler_info(n_workers=-1)["workers"]
    return info


def n_workers(client) -> int:
    return len(workers(client))


def memory_limit(client) -> Optional[int]:
    """The smallest worker memory limit in bytes (None when the workers have no limit)."""
    limits = [int(w.get("memory_limit") or 0) for w in workers(client).values()]
    limits = [x for x in limits if x > 0]
    return min(limits) if limits else None


def check_fits(client, nbytes: float, what: str, remedy: str) -> None:
    """Raise WorkerMemoryError when ``nbytes`` held on one worker would exceed the spill threshold."""
    limit = memory_limit(client)
    if limit is not None and nbytes > MEMORY_FRACTION * limit:
        raise WorkerMemoryError(
            f"{what} needs {nbytes / 2**20:.1f} MiB on one worker, more than {MEMORY_FRACTION:.0%} of the "
            f"smallest worker memory limit ({limit / 2**20:.1f} MiB); {remedy}"
        )


class Keys:
    """Task keys that read well on the Dask dashboard: ``crossrec-<what>-<run token>-<numbers>``;
    Dask groups tasks by the words before the token, so one fit shows as bars per step."""

    def __init__(self, name: str):
        self.name = name
        self.token = uuid.uuid4().hex

    def __call__(self, what: str, *parts: int) -> str:
        tail = "-".join(str(int(p)) for p in parts)
        return f"crossrec-{self.name}-{what}-{self.token}" + (f"-{tail}" if tail else "")


def task_threads(n_threads: int) -> int:
    """Threads a C++ kernel may use inside one task. 0: Dask's OMP_NUM_THREADS for its worker
    processes when set, else the cores per worker thread, so tasks never oversubscribe the host."""
    if n_threads:
        return int(n_threads)
    env = os.environ.get("OMP_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    try:
        from distributed import get_worker

        per_task = max(1, cores // max(1, get_worker().state.nthreads))
    except ValueError:  # not inside a worker (e.g. a local test of the task function)
        per_task = cores
    return per_task


def _identity(value):
    return value


def put(client, values: Sequence, keys: "Keys", what: str) -> list:
    """Client-side values as futures that survive a lost worker: each is the result of a task that
    carries the value in its spec (kept by the scheduler), so Dask recomputes it like any task.
    (Scattered data has no lineage, and Dask's memory manager drops extra replicas of it.)"""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ll]arge.*graph.*")
        return [client.submit(_identity, v, key=keys(what, j), pure=False) for j, v in enumerate(values)]


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a + b


def tree_sum(client, futures: Sequence, keys: Keys, what: str, step: int, combine: Callable = add):
    """Pairwise (tree) reduction of futures on the workers: log2(n) levels, no gather to the client."""
    level = list(futures)
    depth = 0
    while len(level) > 1:
        nxt = []
        for j in range(0, len(level) - 1, 2):
            nxt.append(client.submit(combine, level[j], level[j + 1], key=keys(what, step, depth, j), pure=False))
        if len(level) % 2:
            nxt.append(level[-1])
        level, depth = nxt, depth + 1
    return level[0]


def bounds(n_rows: int, n_blocks: int, align: int = 512) -> np.ndarray:
    """Block boundaries 0 = b_0 < b_1 < ... < b_B = n_rows of (nearly) equal blocks. Blocks of at
    least ``align`` rows are rounded to a multiple of it (the C++ Gram kernel's fixed row group), so
    a block's partial Gram matrix sums the same row groups as the single-machine kernel."""
    if n_rows <= 0:
        raise ValueError(f"cannot split {n_rows} rows into blocks")
    n_blocks = max(1, min(int(n_blocks), n_rows))
    size = -(-n_rows // n_blocks)
    if size >= align:
        size = -(-size // align) * align
    return np.asarray(list(range(0, n_rows, size)) + [n_rows], dtype=np.int64)
