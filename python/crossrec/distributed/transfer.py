"""Transfer on a Dask cluster: fine-tuning (``crossrec.distributed.FineTune``) and collective
factorisation (``crossrec.distributed.CMF``).

CMF shares the user rows across two domains: the user blocks hold both domains' columns, so one
task per block solves a user's row against both domains' item rows (the rows it touches only).

FineTune's prior pull is one term per user row, so it distributes exactly as ALS does: the
single-machine method's orchestration (source fit, starting rows, prior weights, cold users) runs
unchanged, with its ALS fits running on the cluster (:class:`DistributedALS`).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import scipy.sparse as sp

from .._validation import check_choice, check_float, check_positive_int, check_seed
from ..data import Interactions
from ..models.base import Recommender
from ..models.mf import ALS as LocalALS
from ..transfer._common import check_pair
from ..transfer.cmf import CMF as LocalCMF
from ..transfer.finetune import FineTune as LocalFineTune
from ..transfer.mapping import fit_linear_map
from . import engine
from ._cluster import Keys, bounds, get_client, n_workers
from .als import DistributedALS, FactorFit, fitted_state, gather_rows, local_twin_of
from .blocks import from_interactions

# crossrec.transfer.CMF's fitted layout: factors and biases apart, init scaled by 1/sqrt(factors),
# cold rows mapped (the one-ALS version), or rows with the bias last (the version before it).
_NEW_LAYOUT = "cold_rows" in LocalCMF().get_params()


def on_cluster(model: Optional[Recommender], n_blocks, exchange, client, who: str) -> Optional[Recommender]:
    """The model whose fit runs on the cluster: a crossrec.ALS becomes a DistributedALS with the
    same parameters; a fitted model or a DistributedALS is used as it is."""
    if model is None or isinstance(model, DistributedALS) or getattr(model, "is_fitted", False):
        return model
    if type(model) is LocalALS:
        return DistributedALS(**model.get_params(), n_blocks=n_blocks, exchange=exchange, client=client)
    raise ValueError(
        f"{who} fits crossrec.ALS models on the cluster; got an unfitted {type(model).__name__} "
        "(fit it first, or use crossrec.ALS)"
    )


class DistributedFineTune(LocalFineTune):
    """:class:`crossrec.transfer.FineTune` with its ALS fits on a Dask cluster; exported as
    ``crossrec.distributed.FineTune``.

    Parameters as FineTune (``model``: an unfitted crossrec.ALS or crossrec.distributed.ALS,
    default ``crossrec.distributed.ALS()``; ``source_model``: likewise, or fitted), plus
    ``n_blocks``, ``exchange`` and ``client`` as in :class:`crossrec.distributed.ALS`. The fitted
    model scores like FineTune; ``save`` writes the single-machine FineTune.
    """

    def __init__(
        self,
        model: Optional[Recommender] = None,
        source_model: Optional[Recommender] = None,
        pull: float = 1.0,
        cold_rows: str = "auto",
        map_l2: float = 10.0,
        n_blocks: Optional[int] = None,
        exchange: str = "auto",
        client: Any = None,
    ):
        super().__init__(model=model, source_model=source_model, pull=pull, cold_rows=cold_rows, map_l2=map_l2)
        self.n_blocks = n_blocks
        self.exchange = exchange
        self.client = client

    def fit(self, pair, warm_start: Optional[Recommender] = None) -> "DistributedFineTune":
        _no_warm_start(warm_start, "FineTune")
        args = (self.n_blocks, self.exchange, self.client, "crossrec.distributed.FineTune")
        base = on_cluster(self.model, *args) or DistributedALS(
            n_blocks=self.n_blocks, exchange=self.exchange, client=self.client
        )
        inner = LocalFineTune(
            model=base,
            source_model=on_cluster(self.source_model, *args),
            pull=self.pull,
            cold_rows=self.cold_rows,
            map_l2=self.map_l2,
        )
        inner.fit(pair)
        for k, v in fitted_state(inner).items():
            setattr(self, k, v)
        return self

    def to_local(self) -> LocalFineTune:
        """The fitted single-machine FineTune (parameters and state; models as crossrec.ALS)."""
        return local_twin_of(self, LocalFineTune)

    def save(self, path) -> None:
        """Saves the single-machine FineTune (:meth:`to_local`): the file loads without Dask."""
        self.to_local().save(path)


# ---- collective matrix factorisation ----------------------------------------------------------
def _gaussian_blocks(rng, n: int, d: int, denom: float, edges) -> np.ndarray:
    """``rng.standard_normal((n, d)) / denom`` as float32, drawn block by block (same stream)."""
    parts = [(rng.standard_normal((int(e - s), d)) / denom).astype(np.float32) for s, e in zip(edges[:-1], edges[1:])]
    return np.concatenate(parts, axis=0)


class DistributedCMF(LocalCMF):
    """:class:`crossrec.transfer.CMF` on a Dask cluster; exported as ``crossrec.distributed.CMF``.

    The users' blocks hold both domains side by side (source items, then target items), so the
    shared user rows are solved against the stacked item rows ``[Y_s; Y_t]`` in one task per block;
    the item blocks never straddle the two domains, so each item step runs per domain (its own
    mean, ridge and weight). Same parameters as CMF plus ``n_blocks``, ``exchange``, ``client``;
    same fitted state; ``save`` writes the single-machine CMF. ``callback(iteration, None)``
    runs after every sweep (True stops), as in :class:`crossrec.distributed.ALS`.
    """

    def __init__(
        self,
        *args,
        n_blocks: Optional[int] = None,
        exchange: str = "auto",
        client: Any = None,
        callback: Optional[Callable[[int, Any], Any]] = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.n_blocks = n_blocks
        self.exchange = exchange
        self.client = client
        self.callback = callback

    @classmethod
    def param_names(cls) -> list:
        # CMF's own parameters (passed through *args/**kwargs to its __init__) plus ours
        return LocalCMF.param_names() + ["n_blocks", "exchange", "client", "callback"]

    def _hyper(self, explicit_data: bool) -> dict:
        model = getattr(self, "model", None)
        src = model if model is not None else self
        implicit = (not explicit_data) if src.implicit is None else bool(src.implicit)
        reg = src.regularization
        if reg is None and hasattr(src, "regularization_for"):
            reg = src.regularization_for(implicit)
        return dict(
            k=check_positive_int(src.factors, "factors"),
            iterations=check_positive_int(src.iterations, "iterations"),
            implicit=implicit,
            reg=check_float(reg, "regularization", 0.0),
            alpha=check_float(src.alpha, "alpha", 0.0),
            seed=check_seed(src.seed),
            n_threads=0 if not src.n_threads else int(src.n_threads),
        )

    def fit(self, pair, warm_start: Optional[Recommender] = None) -> "DistributedCMF":
        _no_warm_start(warm_start, "CMF")
        pair = check_pair(pair, "crossrec.distributed.CMF")
        if np.ndim(self.weights) != 1 or len(self.weights) != 2:
            raise ValueError(f"weights must be a pair (w_source, w_target), got {self.weights!r}")
        ws = check_float(self.weights[0], "weights[0]", 0.0)
        wt = check_float(self.weights[1], "weights[1]", 0.0, strict_min=True)
        check_choice(self.exchange, "exchange", engine.EXCHANGES)
        h = self._hyper(pair.target.explicit)
        k, implicit, reg = h["k"], h["implicit"], h["reg"]
        mapped = not implicit and getattr(self, "cold_rows", "source") in ("auto", "mapped")
        client = get_client(self.client)
        self._start_fit(pair.target)
        Rs, Rt = pair.source.matrix, pair.target.matrix
        n, ns, nt = Rt.shape[0], Rs.shape[1], Rt.shape[1]
        nb = self.n_blocks if self.n_blocks is not None else 2 * n_workers(client)
        ue = bounds(n, nb)
        ie = np.concatenate([bounds(ns, nb), ns + bounds(nt, nb)[1:]])
        both = Interactions.from_scipy(sp.hstack([Rs, Rt], format="csr"), explicit=not implicit)
        blocks = from_interactions(both, client=client, user_edges=ue, item_edges=ie)
        d = k if implicit else k + 1
        keys = Keys("cmf")
        run = FactorFit(client, blocks, d, self.exchange, keys)
        rng = np.random.default_rng(h["seed"])
        denom = np.sqrt(k) if _NEW_LAYOUT else np.sqrt(d)
        X = run.put_rows(_gaussian_blocks(rng, n, d, denom, ue), ue, "users-init")
        Ys0 = _gaussian_blocks(rng, ns, d, denom, ie[ie <= ns])
        Yt0 = _gaussian_blocks(rng, nt, d, denom, ie[ie >= ns] - ns)
        Y = run.put_rows(np.concatenate([Ys0, Yt0]), ie, "items-init")
        del Ys0, Yt0
        is_src = [e <= ns for e in ie[1:]]  # item block j holds source items
        mus = float(Rs.data.mean()) if not implicit else 0.0
        mut = float(Rt.data.mean()) if not implicit else 0.0
        common = dict(implicit=implicit, alpha=h["alpha"], n_threads=h["n_threads"], biased=not implicit)
        if implicit:
            item_specs = [engine.StepSpec(regularization=reg / (max(ws, 1e-6) if s else wt), **common) for s in is_src]
            user_spec = engine.StepSpec(
                regularization=reg, weights=None if (ws, wt) == (1.0, 1.0) else ((0, ws), (ns, wt)), **common
            )
        else:
            item_specs = [
                engine.StepSpec(regularization=reg, means=((0, mus if s else mut),), **common) for s in is_src
            ]
            user_spec = engine.StepSpec(
                regularization=reg, means=((0, mus), (ns, mut)), weights=((0, ws), (ns, wt)), **common
            )
        # the exact-short-rows decision of each single-machine step: per domain for the item steps
        user_spec = run.short_rows("users", user_spec, None)
        item_specs = self._short_rows_per_domain(run, item_specs, is_src, d)
        state = {"X": X, "Y": Y}
        gram_w = [ws if s else wt for s in is_src]

        def sweep(it):
            gx = engine.gram(client, state["X"], keys, it, "items") if implicit else None
            state["Y"] = run.step("items", state["Y"], state["X"], item_specs, it, gram=gx)
            gy = engine.gram(client, state["Y"], keys, it, "users", weights=gram_w) if implicit else None
            state["X"] = run.step("users", state["X"], state["Y"], user_spec, it, gram=gy)
            return state["X"]

        run.loop(h["iterations"], sweep, False, self.callback, "crossrec.distributed.CMF")
        Xa, Ya = gather_rows(client, state["X"]), gather_rows(client, state["Y"])
        if mapped:
            self._map_cold_rows(pair, client, run, Xa, state["Y"][: sum(is_src)], ue, ie[ie <= ns], reg, mus, d, keys)
        self._store(Xa, Ya[:ns], Ya[ns:], k, implicit, reg, mus, mut)
        self.exchange_, self.rows_moved_ = run.mode, run.moved_rows()
        return self

    @staticmethod
    def _short_rows_per_domain(run, specs, is_src, d):
        out = list(specs)
        for domain in (True, False):
            idx = [j for j, s in enumerate(is_src) if s == domain]
            rows = [run.data.by_item[j] for j in idx]
            keep = engine.global_short_rows(
                run.client, rows, None, d, specs[idx[0]], run.data.n_users, run.keys, "items"
            )
            for j in idx:
                out[j] = engine.StepSpec(**{**specs[j].__dict__, "exact_short_rows": keep})
        return out

    def _map_cold_rows(self, pair, client, run, Xa, Ys, ue, source_edges, reg, mus, d, keys) -> None:
        """Cold users' rows <- ridge map of shared rows on source-only rows (as CMF's "mapped"),
        the source-only rows solved on the cluster (one user step against the source items)."""
        in_src, in_tgt = pair.source.user_counts() > 0, pair.target.user_counts() > 0
        warm, cold = in_src & in_tgt, np.flatnonzero(in_src & ~in_tgt)
        if warm.sum() < 2 or not cold.size:
            return
        source = from_interactions(
            pair.source, client=client, user_edges=ue, item_edges=source_edges, item_blocks=False
        )
        ex = engine.Exchange(client, source.by_user, source_edges, keys, "source-users").plan(run.mode["users"])
        zeros = run.put_rows(np.zeros((len(Xa), d), np.float32), ue, "source-users-init")
        spec = engine.StepSpec(implicit=False, regularization=reg, biased=True, means=((0, mus),))
        only = gather_rows(
            client, engine.half_step(client, source.by_user, zeros, Ys, ex, spec, keys, 0, "source-users")
        )
        W, b = fit_linear_map(only[warm].astype(np.float64), Xa[warm].astype(np.float64), float(self.map_l2))
        Xa[cold] = only[cold] @ W + b

    def _store(self, X, Ys, Yt, k, implicit, reg, mus, mut) -> None:
        self.implicit_ = implicit
        if _NEW_LAYOUT:
            split = lambda rows: (
                np.ascontiguousarray(rows[:, :k]),
                np.ascontiguousarray(rows[:, k]) if rows.shape[1] > k else np.zeros(0, np.float32),
            )
            self.regularization_ = reg
            self.user_factors_, self.user_bias_ = split(X)
            self.item_factors_, self.item_bias_ = split(Yt)
            self.source_item_factors_, self.source_item_bias_ = split(Ys)
            self.global_mean_, self.source_global_mean_ = mut, mus
        else:  # rows with the bias as last column (crossrec.transfer.CMF before the one-ALS change)
            self.user_factors_, self.item_factors_, self.source_item_factors_ = X, Yt, Ys
            self.global_mean_ = mut

    def to_local(self) -> LocalCMF:
        """The fitted single-machine CMF (same parameters and fitted state)."""
        return local_twin_of(self, LocalCMF)

    def save(self, path) -> None:
        """Saves the single-machine CMF (:meth:`to_local`): the file loads without Dask."""
        self.to_local().save(path)


def _no_warm_start(warm_start, who: str) -> None:
    if warm_start is not None:
        raise ValueError(f"crossrec.distributed.{who}.fit: warm_start is not supported on the cluster (got a model)")
