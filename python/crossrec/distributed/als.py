"""``crossrec.distributed.ALS``: crossrec's ALS with every half-step spread over a Dask cluster.

The model is a :class:`crossrec.ALS` (same parameters, same scoring, ``save`` writes the
single-machine model): ``fit`` runs on the cluster, keeps the factor blocks on the workers between
iterations, and gathers the finished factors into the model. Same seed, same data: the same
initial factors as ``crossrec.ALS`` (drawn in the same order on the client, one block at a time),
the same per-row solves, so the factors agree with the single-machine fit to float tolerance.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import scipy.sparse as sp

from .. import factorization as fz
from .._validation import as_factors, check_choice, check_float, check_n_threads, check_positive_int, check_seed
from ..models.mf import ALS as LocalALS
from ..models.mf import als_start
from ..models.protocol import check_is_fitted
from ..progress import wants_progress
from ..schema import BASE_SCHEMA
from . import engine
from ._cluster import Keys, get_client, put
from .blocks import Blocks, as_blocks, gather_rows

__all__ = ["DistributedALS", "FactorFit", "gather_rows"]


class FactorFit:
    """One distributed factorisation in progress: factor blocks (futures) of users and items, the
    exchange plans, and the loop that alternates half-steps. Shared by ALS, FineTune and CMF."""

    def __init__(self, client, data: Blocks, width: int, exchange: str, keys: Keys):
        self.client, self.data, self.width, self.keys = client, data, width, keys
        users, items = data.by_user, data.by_item
        nnz_u, nnz_i = data.user_block_nnz, data.item_block_nnz
        plans = {}
        for name, rows, edges, n_opp, sizes in (
            ("users", users, data.item_bounds, data.n_items, nnz_u),
            ("items", items, data.user_bounds, data.n_users, nnz_i),
        ):
            # link counts first (cheap), then the memory check before any real work, then the tables
            ex = engine.Exchange(client, rows, edges, keys, name)
            mode = engine.choose_exchange(
                client, exchange, n_opp, width, int(ex.counts.sum(1).max()), int(max(sizes) * 12 + 1)
            )
            plans[name] = ex.plan(mode)
        self.plans = plans
        self.mode = {k: v.mode for k, v in plans.items()}

    def put_rows(self, table: np.ndarray, edges: np.ndarray, what: str) -> list:
        """Row blocks of a client-side table as recomputable futures (see ``_cluster.put``)."""
        return put(
            self.client, [np.ascontiguousarray(table[s:e]) for s, e in zip(edges[:-1], edges[1:])], self.keys, what
        )

    def put_priors(self, prior, weight, edges) -> Optional[list]:
        if prior is None:
            return None
        p = self.put_rows(prior, edges, "prior")
        w = self.put_rows(weight, edges, "prior-weight")
        return list(zip(p, w))

    def step(self, side: str, X: list, Y: list, spec, step: int, priors=None, gram=None) -> list:
        rows = self.data.by_user if side == "users" else self.data.by_item
        first = spec[0] if isinstance(spec, (list, tuple)) else spec
        if first.implicit and gram is None:
            gram = engine.gram(self.client, Y, self.keys, step, side)
        return engine.half_step(
            self.client, rows, X, Y, self.plans[side], spec, self.keys, step, side, gram_future=gram, priors=priors
        )

    def short_rows(self, side: str, spec: engine.StepSpec, priors) -> engine.StepSpec:
        rows = self.data.by_user if side == "users" else self.data.by_item
        n_opp = self.data.n_items if side == "users" else self.data.n_users
        keep = engine.global_short_rows(self.client, rows, priors, self.width, spec, n_opp, self.keys, side)
        return engine.StepSpec(**{**spec.__dict__, "exact_short_rows": keep})

    def loop(self, iterations: int, one: Callable[[int], list], show: bool, callback, name: str) -> None:
        """Python owns the loop: one(iteration) submits a sweep and returns futures to wait for;
        the bar and the callback run after each sweep (Ctrl-C works between sweeps)."""
        from distributed import wait

        bar = None
        if show:
            from tqdm.auto import tqdm

            bar = tqdm(total=iterations, desc=name)
        try:
            for it in range(iterations):
                wait(one(it))
                if bar is not None:
                    bar.update(1)
                if callback is not None and callback(it, None):
                    break
        finally:
            if bar is not None:
                bar.close()

    def moved_rows(self) -> dict:
        return {
            "users": self.plans["users"].rows_moved(self.data.n_items),
            "items": self.plans["items"].rows_moved(self.data.n_users),
        }


def seen_matrix(data: Blocks) -> sp.csr_matrix:
    """The training pattern (ones), for excluding seen items, gathered to the client."""
    m = data.to_matrix()
    seen = sp.csr_matrix((np.ones(m.nnz, np.float32), m.indices, m.indptr), shape=m.shape)
    seen.has_canonical_format = True
    return seen


def draw_like_local(rng: np.random.Generator, n: int, f: int, scale: float, edges: np.ndarray):
    """The rows cr.ALS draws (``rng.standard_normal((n, f)) * scale`` as float32), one block at a
    time: the generator yields the same stream whatever the chunking, so memory on the client is
    one block."""
    for s, e in zip(edges[:-1], edges[1:]):
        yield (rng.standard_normal((int(e - s), f)) * scale).astype(np.float32)


class DistributedALS(LocalALS):
    """Alternating least squares on a Dask cluster; exported as ``crossrec.distributed.ALS``.

    Parameters as :class:`crossrec.ALS`, plus

    n_blocks : int or None
        Row blocks per side (default: two per worker).
    exchange : "auto", "broadcast" or "links"
        How a half-step ships the fixed factors (see :mod:`crossrec.distributed.engine`); "auto"
        broadcasts small tables. Either way a table that would not fit a worker raises
        :class:`WorkerMemoryError` before any work starts.
    client : dask.distributed.Client or None (the current one)

    ``n_threads`` is per task (0: Dask's OMP_NUM_THREADS for the worker, else cores per worker
    thread). ``callback(iteration, None)`` runs after every sweep (the distributed fit does not
    compute the loss); True stops. ``show_progress``: a tqdm bar; the tasks are named
    ``crossrec-als-<step>`` on the Dask dashboard.

    Attributes (besides crossrec.ALS's): ``exchange_`` (mode per side), ``rows_moved_`` (factor
    rows sent per sweep, per side).
    """

    def __init__(
        self,
        factors: int = 64,
        iterations: int = 15,
        regularization: Optional[float] = None,
        implicit: bool = True,
        alpha: float = 1.0,
        solver: str = "cg",
        cg_steps: int = 3,
        use_bias: bool = True,
        n_threads: int = 0,
        seed: Optional[int] = 0,
        progress: bool = False,
        show_progress: Optional[bool] = None,
        callback: Optional[Callable[[int, Any], Any]] = None,
        n_blocks: Optional[int] = None,
        exchange: str = "auto",
        client: Any = None,
        start: str = "small",
    ):
        super().__init__(
            factors=factors,
            iterations=iterations,
            regularization=regularization,
            implicit=implicit,
            alpha=alpha,
            solver=solver,
            cg_steps=cg_steps,
            use_bias=use_bias,
            n_threads=n_threads,
            seed=seed,
            progress=progress,
            show_progress=show_progress,
            callback=callback,
            start=start,
        )
        self.n_blocks = n_blocks
        self.exchange = exchange
        self.client = client

    def fit(
        self,
        data,
        *,
        user_init=None,
        item_init=None,
        user_prior=None,
        user_prior_weight=None,
        item_prior=None,
        item_prior_weight=None,
    ) -> "DistributedALS":
        """Fit on ``data``: :class:`Blocks`, an Interactions, a Dask DataFrame or a Parquet path.
        Keyword arguments as in :meth:`crossrec.ALS.fit` (client-side arrays, sent by block)."""
        client = get_client(self.client)
        blocks = as_blocks(data, n_blocks=self.n_blocks, client=client)
        f = check_positive_int(self.factors, "factors")
        iterations = check_positive_int(self.iterations, "iterations")
        implicit = self.implicit_for(bool(blocks.explicit))
        reg = self.regularization_for(implicit)  # None: crossrec.ALS's per-kind default
        alpha = check_float(self.alpha, "alpha", 0.0)
        check_choice(self.solver, "solver", fz.SOLVERS)
        check_positive_int(self.cg_steps, "cg_steps")
        check_choice(self.exchange, "exchange", engine.EXCHANGES)
        threads = 0 if self.n_threads == 0 else check_n_threads(self.n_threads)
        n_users, n_items = blocks.shape
        self.implicit_, self.regularization_ = implicit, reg
        biased = not implicit and bool(self.use_bias)
        width = f + 1 if biased else f
        keys = Keys("als")
        run = FactorFit(client, blocks, width, self.exchange, keys)

        rng = np.random.default_rng(check_seed(self.seed))
        scale, items_first = als_start(self.start, implicit, f, user_init is not None, item_init is not None)
        X0 = self._start(user_init, n_users, f, "user_init", rng, scale, blocks.user_bounds, biased)
        Y0 = self._start(item_init, n_items, f, "item_init", rng, scale, blocks.item_bounds, biased)
        X = run.put_rows(X0, blocks.user_bounds, "users-init")
        Y = run.put_rows(Y0, blocks.item_bounds, "items-init")
        del X0, Y0
        up = fz.row_prior_args(user_prior, user_prior_weight, n_users, f, width, "user_prior")
        ip = fz.row_prior_args(item_prior, item_prior_weight, n_items, f, width, "item_prior")
        up = run.put_priors(up[0], up[1], blocks.user_bounds)
        ip = run.put_priors(ip[0], ip[1], blocks.item_bounds)

        mean = blocks.value_sum / blocks.nnz if biased else 0.0
        base = engine.StepSpec(
            implicit=implicit,
            regularization=reg,
            alpha=alpha,
            solver=self.solver,
            cg_steps=int(self.cg_steps),
            n_threads=threads,
            biased=biased,
            means=((0, float(np.float32(mean))),),
        )
        spec_u, spec_i = run.short_rows("users", base, up), run.short_rows("items", base, ip)
        state = {"X": X, "Y": Y}

        def sweep(it):
            if items_first:
                state["Y"] = run.step("items", state["Y"], state["X"], spec_i, it, ip)
            state["X"] = run.step("users", state["X"], state["Y"], spec_u, it, up)
            if not items_first:
                state["Y"] = run.step("items", state["Y"], state["X"], spec_i, it, ip)
            return state["Y"]

        run.loop(iterations, sweep, wants_progress(self), self.callback, "crossrec.distributed.ALS")
        Xa, Ya = gather_rows(client, state["X"]), gather_rows(client, state["Y"])
        self._store(blocks, Xa, Ya, f, mean, biased)
        self.exchange_, self.rows_moved_ = run.mode, run.moved_rows()
        return self

    def _start(self, given, n, f, name, rng, scale, edges, biased) -> np.ndarray:
        if given is None:
            X = np.concatenate(list(draw_like_local(rng, n, f, scale, edges)), axis=0)
        else:
            X = np.array(as_factors(given, name), dtype=np.float32, copy=True)
            if X.shape == (n, f + 1) and biased:  # rows [x, b] as crossrec.ALS takes them
                return X
            if X.shape != (n, f):
                allowed = f"({n}, {f})" + (f" or ({n}, {f + 1}) with the bias last" if biased else "")
                raise ValueError(f"{name} must have shape {allowed}, got {X.shape}")
        return np.hstack([X, np.zeros((n, 1), np.float32)]) if biased else X

    def _store(self, blocks: Blocks, Xa, Ya, f, mean, biased) -> None:
        self.user_map_, self.item_map_ = blocks.user_map, blocks.item_map
        self.seen_ = seen_matrix(blocks)
        self.global_mean_ = float(mean) if biased else 0.0
        if biased:
            self.user_factors_ = np.ascontiguousarray(Xa[:, :f])
            self.item_factors_ = np.ascontiguousarray(Ya[:, :f])
            self.user_bias_ = np.ascontiguousarray(Xa[:, f])
            self.item_bias_ = np.ascontiguousarray(Ya[:, f])
        else:
            self.user_factors_, self.item_factors_ = Xa, Ya
            self.user_bias_ = np.zeros(0, np.float32)
            self.item_bias_ = np.zeros(0, np.float32)

    def to_local(self) -> LocalALS:
        """The fitted single-machine :class:`crossrec.ALS` (same parameters and fitted state)."""
        check_is_fitted(self)
        return local_twin_of(self, LocalALS)

    def save(self, path) -> None:
        """Saves the single-machine model (:meth:`to_local`): the file loads without Dask."""
        self.to_local().save(path)


def fitted_state(model) -> dict:
    """A model's fitted attributes (public names ending in ``_``), nested distributed models
    replaced by their single-machine twins."""
    out = {}
    for k, v in vars(model).items():
        if k.endswith("_") and not k.startswith("_"):
            out[k] = v.to_local() if callable(getattr(v, "to_local", None)) else v
    return out


def local_twin_of(model, local_cls):
    """An instance of ``local_cls`` with the model's parameters (those local_cls has; nested
    distributed models as their twins) and its fitted state."""
    names = local_cls().get_params()
    params = {
        k: (v.to_local() if callable(getattr(v, "to_local", None)) and hasattr(v, "item_map_") else _plain(v))
        for k, v in model.get_params().items()
        if k in names
    }
    local = local_cls(**params)
    # only the state the single-machine class declares: run records of the cluster fit
    # (exchange_, rows_moved_) stay on the distributed model, and the file loads as local_cls
    declared = getattr(local_cls, "state_schema", None)
    keep = None if declared is None else set(declared) | set(BASE_SCHEMA)
    for k, v in fitted_state(model).items():
        if keep is None or k in keep:
            setattr(local, k, v)
    return local


def _plain(value):
    """An unfitted distributed model parameter as its single-machine class (same parameters)."""
    if isinstance(value, DistributedALS):
        names = LocalALS().get_params()
        return LocalALS(**{k: v for k, v in value.get_params().items() if k in names})
    return value
