"""Orchestration: cold-start split, hyper-parameters chosen on a validation split carved from the
training data, every method fitted once, one evaluation report per segment with the gain of each
transfer method over the best target-only baseline (paired bootstrap confidence intervals)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from .._validation import check_float, check_seed
from ..data import Interactions
from ..evaluation import Report, evaluate
from ..progress import bar as progress_bar
from ..models.baseline import Baseline, MostPopular
from .domains import ColdStartSplit, CrossDomain
from .presets import GRIDS, NO_TRANSFER, builders, factor_model

RATING_METRICS = ("rmse", "mae")
RANKING_METRICS = ("ndcg@10", "recall@10", "hit@10")


@dataclass
class Method:
    """A named way to build a model: ``build(params, shared)`` -> unfitted model whose ``fit`` takes
    the pair (``transfer=True``) or the target Interactions (a baseline); ``grid``: candidate params
    tried on validation (the first is used without tuning). ``shared`` carries models fitted once:
    ``"source"`` (the source factor model; the source is the same in every training set) and
    ``"target"`` (the target-only factor model of the current training set)."""

    name: str
    build: Callable[[dict, dict], Any]
    grid: Sequence[dict] = (dict(),)
    transfer: bool = True


def default_methods(explicit: bool, factors: int = 32, iterations: int = 10) -> list[Method]:
    """Baselines (bias model for ratings, popularity, target-only ALS with zero rows for cold users,
    and ``target-only``: the same ALS with the average user / popularity for cold users) and the
    transfer methods with their validation grids (both from :mod:`crossrec.transfer.presets`)."""
    build = builders(explicit, factors, iterations)
    out = [
        Method("popular", lambda p, s: MostPopular(), transfer=False),
        Method("target ALS", lambda p, s: factor_model(explicit, factors, iterations), transfer=False),
        # the same target model; cold users get the average user (explicit) / popularity (implicit)
        Method("target-only", lambda p, s: build[NO_TRANSFER](s["source"], s["target"]), transfer=False),
    ]
    if explicit:
        out.insert(0, Method("bias", lambda p, s: Baseline(), transfer=False))
    for name, grid in GRIDS.items():
        out.append(Method(name, _method_builder(build[name]), grid(explicit)))
    return out


def _method_builder(build: Callable[..., Any]) -> Callable[[dict, dict], Any]:
    return lambda p, s: build(s["source"], s["target"], **p)


def _shared(pair: CrossDomain, explicit: bool, factors: int, iterations: int) -> dict:
    # The source domain is the same in every training set (only the target is split), so the
    # source factor model is fitted once and reused for validation and final fits.
    return {"source": factor_model(explicit, factors, iterations, source=True).fit(pair.source)}


@dataclass
class TransferResult:
    """What :func:`run` returns.

    Attributes
    ----------
    report : crossrec.Report
        Test evaluation with segments ``cold`` and ``warm``.
    gains : pandas.DataFrame
        One row per (method, segment, metric): the best baseline of that segment (chosen on the
        test table, which favours the baselines), the difference ``estimate`` with its 95 % bootstrap
        interval ``low``/``high``, and ``relative`` (estimate / baseline value).
    chosen : dict
        method -> chosen params; ``validation``: DataFrame of every (method, params, score) tried.
    times : dict
        method -> fit seconds of the final model (the shared source and target-only factor models,
        fitted once, are not included).
    split : ColdStartSplit
    """

    report: Report
    gains: pd.DataFrame
    chosen: dict
    validation: pd.DataFrame
    times: dict
    split: ColdStartSplit
    metrics: list = field(default_factory=list)
    entity: str = "user"
    target_fraction: float = 1.0

    def table(self) -> pd.DataFrame:
        return self.report.table()

    def __repr__(self) -> str:
        # A summary: the default dataclass repr printed every user id of the split (~1,500).
        methods = list(self.times)
        key = self.metrics[0] if self.metrics else None
        best = ""
        if key is not None and len(self.gains):
            cold = self.gains[(self.gains["segment"] == "cold") & (self.gains["metric"] == key)]
            if len(cold):
                lower = key in ("rmse", "mae")
                row = cold.loc[cold["estimate"].idxmin() if lower else cold["estimate"].idxmax()]
                best = (
                    f", best cold {key}: {row['method']} {row['value']:.4f} vs {row['baseline']} "
                    f"{row['baseline_value']:.4f} (95% CI of the difference {row['low']:+.4f} .. {row['high']:+.4f})"
                )
        return (
            f"TransferResult({len(methods)} methods {methods}, metrics {self.metrics}, "
            f"{len(self.split.cold_users)} cold / {len(self.split.warm_users)} warm users{best}; "
            f".table(), .gains, .chosen for details)"
        )

    def plot(self, metric: Optional[str] = None, path=None):
        """Each transfer method's improvement over the best target-only baseline per segment,
        with its paired bootstrap interval (see :mod:`crossrec.transfer.plots`); ``path`` saves
        it (PNG by the extension). Returns the matplotlib Figure."""
        from .plots import plot_gains

        return plot_gains(self.gains, metric or self.metrics[0], path=path)


def _val_score(model, val: ColdStartSplit, metric: str) -> float:
    rep = evaluate(
        {"m": model},
        val.train.target,
        val.test,
        metrics=[metric],
        segments={"cold": val.cold_user_ids},
        n_bootstrap=1,
    )
    return float(rep.table().loc[("m", "cold"), metric])


def run(
    pair: CrossDomain,
    methods: Optional[Sequence[Method]] = None,
    fraction: float = 0.5,
    test_size: float = 0.2,
    seed: int = 0,
    metrics: Optional[Sequence[str]] = None,
    n_bootstrap: int = 1000,
    tune: bool = True,
    factors: int = 32,
    iterations: int = 10,
    progress: bool = False,
    target_fraction: float = 1.0,
) -> TransferResult:
    """Evaluate transfer methods on ``pair`` under the cold-start protocol.

    A pair that shares *items* is evaluated on its transposed form (:meth:`CrossDomain.transposed`,
    the form every transfer method fits on such a pair): the cold-start split holds out every
    target interaction of a seeded fraction of the overlapping *items*, the report's rows (its
    "users") are the shared items, so ``cold``/``warm`` are item segments and the paired bootstrap
    resamples items; rating errors are those of the items' test ratings, ranking metrics rank the
    target's users for each item. ``result.entity`` says which (``"user"`` or ``"item"``).

    Parameters
    ----------
    pair : CrossDomain
    methods : list of Method or of names, optional
        Default: :func:`default_methods` for the target's kind; a name picks that default method
        (e.g. ``["popular", "CMF"]``).
    fraction, test_size, seed :
        The cold-start split (see :meth:`CrossDomain.cold_start_split`).
    metrics : list of str
        Default: rmse, mae for ratings; ndcg@10, recall@10, hit@10 (full ranking) for implicit data.
        The first metric selects hyper-parameters on the validation cold users.
    tune : bool
        Choose each method's params on ``split.validation()`` (cold users carved out of the
        training users; the test users are never seen). False: first params of each grid.
    progress : bool
        tqdm progress bar over the fits.
    target_fraction : float in (0, 1]
        Keep this fraction of every warm entity's target *training* interactions (seeded, at
        least one each); the test set and the cold entities do not change. The axis of a learning
        curve: how the gain of transfer changes with the amount of target data.
    """
    entity = "user"
    if isinstance(pair, CrossDomain) and pair.shared == "items":
        pair, entity = pair.transposed(), "item"
    target_fraction = check_float(target_fraction, "target_fraction", 0.0, 1.0, strict_min=True)
    explicit = pair.target.explicit
    methods = _methods(methods, explicit, factors, iterations)
    metrics = list(metrics) if metrics is not None else list(RATING_METRICS if explicit else RANKING_METRICS)
    key, lower_better = metrics[0], metrics[0] in RATING_METRICS
    split = pair.cold_start_split(fraction, test_size, seed)
    if target_fraction < 1.0:
        kept = subsample_rows(split.train.target, target_fraction, seed)
        split = dataclasses.replace(split, train=split.train.with_target(kept))
    shared = _shared(split.train, explicit, factors, iterations)
    rows, chosen = [], {}
    n_fits = sum(len(m.grid) if tune and len(m.grid) > 1 else 0 for m in methods) + len(methods)
    bar = progress_bar(progress, n_fits, "transfer", "fit")
    if tune:
        val = split.validation(seed=seed + 1)
        shared["target"] = factor_model(explicit, factors, iterations).fit(val.train.target)
        for m in methods:
            if len(m.grid) <= 1:
                continue
            scores = []
            for p in m.grid:
                model = m.build(p, shared)
                model.fit(val.train if m.transfer else val.train.target)
                scores.append(_val_score(model, val, key))
                rows.append({"method": m.name, "params": repr(p), key: scores[-1]})
                bar.update(1)
            best = int(np.nanargmin(scores) if lower_better else np.nanargmax(scores))
            chosen[m.name] = dict(m.grid[best])
    models, times = {}, {}
    shared["target"] = factor_model(explicit, factors, iterations).fit(split.train.target)
    for m in methods:
        p = chosen.setdefault(m.name, dict(m.grid[0]))
        t0 = time.perf_counter()
        models[m.name] = m.build(p, shared).fit(split.train if m.transfer else split.train.target)
        times[m.name] = time.perf_counter() - t0
        bar.update(1)
    bar.close()
    report = evaluate(
        models,
        split.train.target,
        split.test,
        metrics=metrics,
        segments=split.segments,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    gains = _gains(report, methods, metrics)
    return TransferResult(report, gains, chosen, pd.DataFrame(rows), times, split, metrics, entity, target_fraction)


def learning_curve(
    pair: CrossDomain,
    fractions: Sequence[float] = (0.01, 0.05, 0.2, 0.5, 1.0),
    **run_args: Any,
) -> pd.DataFrame:
    """:func:`run` at each ``target_fraction`` (same split seed, so the same cold entities and test
    set): one row per (target_fraction, method, segment, metric) of the gains table, plus the
    seconds each run took. Plot it with :func:`crossrec.transfer.plots.plot_learning_curve`."""
    frames = []
    for f in fractions:
        t0 = time.perf_counter()
        res = run(pair, target_fraction=f, **run_args)
        g = res.gains.assign(target_fraction=float(f), seconds=time.perf_counter() - t0)
        frames.append(g)
    return pd.concat(frames, ignore_index=True)


def subsample_rows(data: Interactions, fraction: float, seed: int = 0) -> Interactions:
    """A seeded ``fraction`` of every user's interactions (rounded, at least one per user with any)."""
    rng = np.random.default_rng(check_seed(seed))
    counts = data.user_counts()
    keys = rng.random(data.nnz)
    order = np.lexsort((keys, data.users))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(data.nnz, np.int64)
    rank[order] = np.arange(data.nnz) - np.repeat(starts, counts)
    keep_n = np.maximum(np.round(fraction * counts), 1).astype(np.int64)
    return data.subset(rank < keep_n[data.users])


def _methods(methods, explicit: bool, factors: int, iterations: int) -> list[Method]:
    """The methods to run: Method objects as given, names looked up among the defaults."""
    defaults = default_methods(explicit, factors, iterations)
    if methods is None:
        return defaults
    if isinstance(methods, (str, Method)) or not hasattr(methods, "__iter__"):
        raise ValueError(f"methods must be a list of Method objects or method names, got {methods!r}")
    by_name = {m.name: m for m in defaults}
    out = []
    for m in methods:
        if isinstance(m, Method):
            out.append(m)
        elif isinstance(m, str) and m in by_name:
            out.append(by_name[m])
        else:
            raise ValueError(
                f"methods: {m!r} is neither a crossrec.transfer.Method nor the name of a default method "
                f"({', '.join(by_name)} for {'ratings' if explicit else 'implicit feedback'})"
            )
    if not out:
        raise ValueError("methods is empty: give at least one Method or method name")
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValueError(f"methods: names must be unique, got {names}")
    return out


def _gains(report: Report, methods: Sequence[Method], metrics: Sequence[str]) -> pd.DataFrame:
    table = report.table()
    base = [m.name for m in methods if not m.transfer]
    out = []
    for seg in ("cold", "warm"):
        for metric in metrics:
            vals = {b: table.loc[(b, seg), metric] for b in base}
            vals = {b: v for b, v in vals.items() if np.isfinite(v)}
            if not vals:
                continue
            best = (min if metric in RATING_METRICS else max)(vals, key=lambda b: vals[b])
            for m in methods:
                if not m.transfer:
                    continue
                g = report.gain(m.name, over=best, metric=metric, segment=seg)
                out.append(
                    {
                        "method": m.name,
                        "segment": seg,
                        "metric": metric,
                        "baseline": best,
                        "baseline_value": vals[best],
                        "value": table.loc[(m.name, seg), metric],
                        "estimate": g.estimate,
                        "low": g.low,
                        "high": g.high,
                        "relative": g.estimate / vals[best] if vals[best] else np.nan,
                        "significant": g.significant,
                    }
                )
    return pd.DataFrame(out)
