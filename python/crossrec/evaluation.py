"""Evaluate fitted models on a test set: per-user metric values, a summary table per segment, and
paired comparisons with bootstrap confidence intervals.

Protocol
--------
* Ranking metrics (``ndcg@10``, ``recall@20``, ...) rank, for every test user, **all items of the
  catalogue not seen by that user in train** (full ranking, no sampled negatives) and compare the
  top k with the user's test items (every test interaction is relevant, or those with value >=
  ``relevance_threshold``). Test items unknown to a model count as relevant items it missed.
* Rating metrics (``rmse``, ``mae``) compare ``model.predict`` with each test rating. Per user the
  report keeps the sum of squared / absolute errors and the rating count, so a segment's RMSE is
  ``sqrt(sum of squared errors / number of ratings)`` over all the segment's test ratings, and
  bootstrapping over users recomputes exactly that.
* ``coverage@k`` is a catalogue-level number (the fraction of the model's items that appear in
  some evaluated user's top k); it is reported in the table but has no per-user value.

Sampled-negative ranking (``protocol="sampled"``)
--------------------------------------------------
The cross-domain literature (DisenCDR, CDRIB, UniCDR, CDIMF) ranks each leave-one-out test item
against 999 sampled negatives. ``evaluate(..., protocol="sampled", sampler="disencdr" | "cdimf",
n_negatives=999, seed=...)`` reproduces either paper's sampler and tie rule exactly (see
:mod:`crossrec.sampled`; seeded numpy generators replace their unseeded ones, with the same
distribution) and reports ``hit@k`` (alias ``hr@k``), ``ndcg@k`` and ``mrr`` per user (mean over the
user's test items; one item per user under leave-one-out), so :meth:`Report.gain` works as usual.
For the Amazon pairs, ``crossrec.datasets.amazon_pair(a, b)[a].train`` / ``.test`` are the published
``train.txt`` / ``test.txt``.

Caveats, said plainly:

* Sampled metrics are not full-ranking metrics and can **rank models differently** from full
  ranking (Krichene & Rendle, "On Sampled Metrics for Item Recommendation", KDD 2020). Full
  ranking (``protocol="full"``) stays the default; use ``"sampled"`` to compare with published
  numbers.
* DisenCDR's ``train_rec.py`` selects its reported epoch on ``test.txt`` itself (it has no separate
  validation set), which flatters its numbers; crossrec never does: hyper-parameters and epochs are
  chosen on validation carved from the training data, and results say so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import metrics as M
from . import sampled as S
from ._validation import check_float, check_positive_int, check_seed
from .data import IdMap, Indices, Interactions
from .errors import NotFittedError
from .models.protocol import check_is_fitted

__all__ = ["evaluate", "Report", "Gain"]

_ALL = "all"
_BATCH = 4096  # users per recommend call: bounds the memory of score-block models


# ---- the report ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Gain:
    """Paired comparison of two models on one metric and segment.

    ``estimate`` is metric(model) - metric(over): the mean over the common users of the per-user
    differences (for rmse/mae: the difference of the two segment-level values). ``low``/``high``
    bound the paired percentile bootstrap interval at level ``ci``; ``n_users`` users were paired.
    For error metrics (rmse, mae) a negative estimate means ``model`` is better.
    """

    model: str
    over: str
    metric: str
    segment: str
    estimate: float
    low: float
    high: float
    ci: float
    n_users: int
    n_bootstrap: int

    @property
    def significant(self) -> bool:
        """True when the confidence interval excludes 0."""
        return bool(self.low > 0 or self.high < 0)

    def __str__(self) -> str:
        return (
            f"{self.metric} [{self.segment}]: {self.model} - {self.over} = {self.estimate:+.4f} "
            f"({self.ci:.0%} CI {self.low:+.4f} .. {self.high:+.4f}, {self.n_users} users)"
        )


class Report:
    """Result of :func:`evaluate`.

    Attributes
    ----------
    per_user : pandas.DataFrame
        One row per (model, test user): columns ``model``, ``user`` (external id), one column per
        per-user metric (NaN where a user has no relevant item for a ranking metric), and for
        rating metrics also ``n_ratings``, ``sq_err`` and ``abs_err`` (sums over the user's test
        ratings; per-user ``rmse``/``mae`` columns are that user's own values).
    metrics : list of str
        The metric names, as given (normalised to lower case).
    segments : dict of str -> numpy array of external user ids; always holds ``"all"``.
    """

    def __init__(
        self,
        per_user: pd.DataFrame,
        metrics: list[str],
        segments: dict[str, np.ndarray],
        coverage: dict[tuple[str, str, str], float],
        n_bootstrap: int,
        seed: int,
        ci: float,
    ):
        self.per_user = per_user
        self.metrics = metrics
        self.segments = segments
        self._coverage = coverage
        self.n_bootstrap = n_bootstrap
        self.seed = seed
        self.ci = ci

    @property
    def models(self) -> list[str]:
        # pd.unique keeps the order of first appearance; iterating the (Arrow-backed) column in
        # Python took ~70 ms per call on 130k rows, and table/gain call this once per row lookup
        return [str(m) for m in pd.unique(self.per_user["model"].to_numpy(object))]

    def _rows(self, model: str, segment: str) -> pd.DataFrame:
        if model not in self.models:
            raise ValueError(f"unknown model {model!r}; the report holds {self.models}")
        if segment not in self.segments:
            raise ValueError(f"unknown segment {segment!r}; the report holds {list(self.segments)}")
        rows = self.per_user[self.per_user["model"] == model]
        if segment != _ALL:
            rows = rows[rows["user"].isin(self.segments[segment])]
        return rows

    def table(self) -> pd.DataFrame:
        """Mean of each metric per (model, segment), plus ``users`` (test users in the segment).

        Ranking metrics: mean over users with at least one relevant item. rmse/mae: over all
        test ratings of the segment's users. coverage@k: over the segment's recommendations.
        """
        out = []
        for model in self.models:
            for seg in self.segments:
                rows = self._rows(model, seg)
                rec: dict[str, Any] = {"model": model, "segment": seg, "users": len(rows)}
                for m in self.metrics:
                    name, _ = _metric_kind(m)
                    if name == "coverage":
                        rec[m] = self._coverage.get((model, seg, m), np.nan)
                    elif name in M.RATING_METRICS:
                        rec[m] = _error_metric(
                            name, rows["sq_err"].to_numpy(), rows["abs_err"].to_numpy(), rows["n_ratings"].to_numpy()
                        )
                    else:
                        v = rows[m].to_numpy(dtype=np.float64)
                        v = v[np.isfinite(v)]
                        rec[m] = float(v.mean()) if len(v) else np.nan
                out.append(rec)
        return pd.DataFrame(out).set_index(["model", "segment"])

    def gain(
        self,
        model: str,
        over: str,
        metric: Optional[str] = None,
        segment: str = _ALL,
        n_bootstrap: Optional[int] = None,
        seed: Optional[int] = None,
        ci: Optional[float] = None,
    ) -> Gain:
        """Paired difference metric(model) - metric(over) with a bootstrap confidence interval.

        Users are paired (the same test users for both models; users where either value is
        undefined are dropped) and resampled with replacement ``n_bootstrap`` times; the interval
        is the percentile interval of the resampled differences. For rmse/mae each resample
        recomputes both segment-level errors from the resampled users' error sums.

        Defaults (metric: the first per-user metric; n_bootstrap, seed, ci) come from evaluate.
        """
        per_user_metrics = [m for m in self.metrics if _metric_kind(m)[0] != "coverage"]
        if metric is None:
            if not per_user_metrics:
                raise ValueError("the report has no per-user metric to compare")
            metric = per_user_metrics[0]
        metric = metric.strip().lower()
        if metric not in self.metrics:
            raise ValueError(f"metric {metric!r} was not evaluated; the report holds {self.metrics}")
        name, _ = _metric_kind(metric)
        if name == "coverage":
            raise ValueError("coverage is a catalogue-level number without per-user values: no paired CI")
        B = check_positive_int(self.n_bootstrap if n_bootstrap is None else n_bootstrap, "n_bootstrap")
        level = check_float(self.ci if ci is None else ci, "ci", 0.0, 1.0)
        if not 0 < level < 1:
            raise ValueError(f"ci must be strictly between 0 and 1, got {level}")
        rng = np.random.default_rng(check_seed(self.seed if seed is None else seed))
        a = self._rows(model, segment).set_index("user")
        b = self._rows(over, segment).set_index("user")
        common = a.index.intersection(b.index)
        a, b = a.loc[common], b.loc[common]
        if name in M.RATING_METRICS:
            col = "sq_err" if name == "rmse" else "abs_err"
            ea, eb = a[col].to_numpy(np.float64), b[col].to_numpy(np.float64)
            na, nb = a["n_ratings"].to_numpy(np.float64), b["n_ratings"].to_numpy(np.float64)
            keep = (na > 0) & (nb > 0)
            ea, eb, na, nb = ea[keep], eb[keep], na[keep], nb[keep]
            if not keep.any():
                raise ValueError(
                    f"no users with test ratings of both models in segment {segment!r} "
                    "(a model that cannot predict ratings has no rmse/mae)"
                )
            root = np.sqrt if name == "rmse" else (lambda x: x)
            estimate = float(root(ea.sum() / na.sum()) - root(eb.sum() / nb.sum()))

            def stat(w):  # w: (chunk, n_users) resample counts
                return root((w @ ea) / (w @ na)) - root((w @ eb) / (w @ nb))

            n = len(ea)
        else:
            d = a[metric].to_numpy(np.float64) - b[metric].to_numpy(np.float64)
            d = d[np.isfinite(d)]
            if len(d) == 0:
                raise ValueError(f"no users with a value of {metric} for both models in segment {segment!r}")
            estimate = float(d.mean())

            def stat(w):
                return (w @ d) / len(d)

            n = len(d)
        samples = _bootstrap(stat, n, B, rng)
        alpha = (1.0 - level) / 2.0
        low, high = np.quantile(samples, [alpha, 1.0 - alpha])
        return Gain(model, over, metric, segment, estimate, float(low), float(high), level, n, B)

    def interval(
        self,
        model: str,
        metric: Optional[str] = None,
        segment: str = _ALL,
        n_bootstrap: Optional[int] = None,
        seed: Optional[int] = None,
        ci: Optional[float] = None,
    ) -> tuple[float, float, float]:
        """(value, low, high): one model's metric on a segment with a percentile bootstrap
        interval over its users (rmse/mae recomputed from the resampled error sums)."""
        metric = (metric or [m for m in self.metrics if _metric_kind(m)[0] != "coverage"][0]).strip().lower()
        if metric not in self.metrics:
            raise ValueError(f"metric {metric!r} was not evaluated; the report holds {self.metrics}")
        name, _ = _metric_kind(metric)
        if name == "coverage":
            raise ValueError("coverage is a catalogue-level number without per-user values: no interval")
        B = check_positive_int(self.n_bootstrap if n_bootstrap is None else n_bootstrap, "n_bootstrap")
        level = check_float(self.ci if ci is None else ci, "ci", 0.0, 1.0)
        rng = np.random.default_rng(check_seed(self.seed if seed is None else seed))
        rows = self._rows(model, segment)
        if name in M.RATING_METRICS:
            e = rows["sq_err" if name == "rmse" else "abs_err"].to_numpy(np.float64)
            n = rows["n_ratings"].to_numpy(np.float64)
            keep = n > 0
            e, n = e[keep], n[keep]
            if not keep.any():
                return np.nan, np.nan, np.nan
            root = np.sqrt if name == "rmse" else (lambda x: x)
            value = float(root(e.sum() / n.sum()))

            def stat(w):
                return root((w @ e) / (w @ n))

            size = len(e)
        else:
            v = rows[metric].to_numpy(np.float64)
            v = v[np.isfinite(v)]
            if len(v) == 0:
                return np.nan, np.nan, np.nan
            value = float(v.mean())

            def stat(w):
                return (w @ v) / len(v)

            size = len(v)
        samples = _bootstrap(stat, size, B, rng)
        alpha = (1.0 - level) / 2.0
        low, high = np.quantile(samples, [alpha, 1.0 - alpha])
        return value, float(low), float(high)

    def plot(self, metric: Optional[str] = None, ax=None, path=None):
        """Each model's metric per segment with its bootstrap interval as whiskers; the y-axis
        spans the values (it does not start at 0, so small differences stay visible).

        Needs matplotlib (``pip install crossrec[plot]``). ``path``: also save the figure there
        (PNG by the extension). Returns the matplotlib Axes.
        """
        try:
            import matplotlib

            if ax is None and path is not None:
                matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "Report.plot needs matplotlib: pip install 'crossrec[plot]' (or pip install matplotlib)"
            ) from exc
        metric = (metric or self.metrics[0]).strip().lower()
        if metric not in self.metrics:
            raise ValueError(f"metric {metric!r} was not evaluated; the report holds {self.metrics}")
        segments = list(self.segments)
        models = self.models
        if ax is None:
            _, ax = plt.subplots(figsize=(2.5 + 0.9 * len(models), 3.8))
        width = 0.8 / max(len(segments), 1)
        for k, seg in enumerate(segments):
            vals = [self.interval(m, metric, seg) for m in models]
            x = np.arange(len(models)) + (k - (len(segments) - 1) / 2) * width
            v = np.array([t[0] for t in vals])
            err = np.array([[t[0] - t[1] for t in vals], [t[2] - t[0] for t in vals]])
            ax.errorbar(x, v, yerr=np.abs(err), fmt="o", capsize=3, label=seg)
        ax.set_xticks(np.arange(len(models)))
        ax.set_xticklabels(models, rotation=20, ha="right")
        better = "lower is better" if _metric_kind(metric)[0] in M.RATING_METRICS else "higher is better"
        ax.set_ylabel(f"{metric} ({better})")
        ax.set_title(f"{metric} by model and segment ({int(round(self.ci * 100))} % bootstrap intervals)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(title="segment")
        if path is not None:
            ax.figure.tight_layout()
            ax.figure.savefig(path, dpi=120)
        return ax

    def __repr__(self) -> str:
        return (
            f"Report({len(self.models)} models, metrics {self.metrics}, segments {list(self.segments)})\n"
            + self.table().to_string(float_format=lambda x: f"{x:.4f}")
        )


def _metric_kind(name: str) -> tuple[str, Optional[int]]:
    """(kind, cut-off) of a metric name of either protocol (sampled names: hit/ndcg/mrr)."""
    try:
        return M.parse_metric(name)
    except ValueError:
        return _parse_sampled_metric(name)


def _error_metric(name: str, sq: np.ndarray, ab: np.ndarray, n: np.ndarray) -> float:
    total = n.sum()
    if total == 0:
        return np.nan
    return float(np.sqrt(sq.sum() / total)) if name == "rmse" else float(ab.sum() / total)


def _bootstrap(stat, n: int, B: int, rng: np.random.Generator, chunk: int = 64) -> np.ndarray:
    """B values of stat(w) with w the resample counts of n users (multinomial, i.e. drawing n users
    with replacement), computed in chunks to bound memory."""
    out = np.empty(B)
    p = np.full(n, 1.0 / n)
    for s in range(0, B, chunk):
        w = rng.multinomial(n, p, size=min(chunk, B - s)).astype(np.float64)
        out[s : s + len(w)] = stat(w)
    return out


# ---- evaluate -----------------------------------------------------------------------------
def evaluate(
    models: Mapping[str, Any],
    train: Interactions,
    test: Interactions,
    metrics: Sequence[str] = ("ndcg@10", "recall@10"),
    segments: Optional[Mapping[str, Iterable]] = None,
    n_bootstrap: int = 1000,
    seed: Optional[int] = 0,
    ci: float = 0.95,
    relevance_threshold: Optional[float] = None,
    unknown_users: str = "raise",
    progress: bool = False,
    protocol: str = "full",
    sampler: Optional[str] = None,
    n_negatives: int = 999,
) -> Report:
    """Evaluate fitted models on a test set.

    Parameters
    ----------
    models : dict of name -> fitted Recommender
    train : Interactions
        The training data; a user's train items are excluded from their ranking.
    test : Interactions
        Held-out interactions (from :mod:`crossrec.split`). Every test user is evaluated.
    metrics : list of str
        ``precision@k``, ``recall@k``, ``ndcg@k``, ``map@k``, ``mrr@k``, ``hit@k``,
        ``coverage@k``, ``rmse``, ``mae`` (see :mod:`crossrec.metrics` for definitions).
    segments : dict of name -> external user ids, optional
        Subsets of users reported separately (e.g. ``split.segments`` of a cold-start split:
        ``{"cold": ids, "warm": ids}``); ``"all"`` is added. Internal indices (an
        :class:`~crossrec.data.Indices` array such as ``split.cold_users``) raise ValueError.
    n_bootstrap, seed, ci :
        Defaults for :meth:`Report.gain`.
    relevance_threshold : float, optional
        Only test interactions with value >= this are relevant for ranking metrics (e.g. 4 for
        5-star ratings). Default: all test interactions.
    unknown_users : {"raise", "skip"}
        Test users a model has never heard of (not in its id space) raise a ValueError by default;
        "skip" leaves them out for that model (which then has fewer rows in ``per_user``).
    progress : bool
        Show a tqdm progress bar over models.
    protocol : {"full", "sampled"}
        ``"full"`` (default): rank the whole catalogue. ``"sampled"``: rank each test item against
        ``n_negatives`` sampled negatives with ``sampler`` (``"disencdr"`` or ``"cdimf"``, see
        :mod:`crossrec.sampled`), drawn with ``seed``; metrics then are ``hit@k`` / ``hr@k``,
        ``ndcg@k``, ``mrr`` (and ``mrr@k``). Sampled metrics can order models differently from
        full ranking (Krichene & Rendle, KDD 2020).
    sampler : {"disencdr", "cdimf"}, optional
        Required with ``protocol="sampled"``; not allowed otherwise.
    n_negatives : int
        Negatives per test item for ``protocol="sampled"`` (999 as in the papers).

    Returns
    -------
    Report
    """
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict of name -> fitted model")
    for name, model in models.items():
        if not hasattr(model, "recommend_indices"):
            raise ValueError(f"model {name!r} is not a crossrec Recommender (got {type(model).__name__})")
        try:
            check_is_fitted(model)
        except NotFittedError:
            raise NotFittedError(f"model {name!r} is not fitted; call fit(train) before evaluate") from None
    for what, d in (("train", train), ("test", test)):
        if not isinstance(d, Interactions):
            raise ValueError(f"{what} must be crossrec.Interactions, got {type(d).__name__}")
    if test.nnz == 0:
        raise ValueError("test has no interactions to evaluate")
    if unknown_users not in ("raise", "skip"):
        raise ValueError(f"unknown_users must be 'raise' or 'skip', got {unknown_users!r}")
    if isinstance(metrics, str):
        metrics = [metrics]
    metric_names = [m.strip().lower() for m in metrics]
    if not metric_names:
        raise ValueError("give at least one metric")
    if len(set(metric_names)) != len(metric_names):
        raise ValueError(f"metrics holds duplicates: {metric_names}")
    parsed = [M.parse_metric(m) for m in metric_names] if protocol == "full" else []
    seed = check_seed(seed)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    if protocol not in ("full", "sampled"):
        raise ValueError(f"protocol must be 'full' or 'sampled', got {protocol!r}")
    if protocol == "full":
        if sampler is not None:
            raise ValueError(f"sampler={sampler!r} needs protocol='sampled' (the default 'full' samples nothing)")
    else:
        if sampler not in S.SAMPLERS:
            raise ValueError(f"protocol='sampled' needs sampler in {S.SAMPLERS}, got {sampler!r}")
        n_negatives = check_positive_int(n_negatives, "n_negatives")
        return _evaluate_sampled(
            models, train, test, metric_names, sampler, n_negatives, segments, n_bootstrap, seed, ci, unknown_users
        )
    ci = check_float(ci, "ci", 0.0, 1.0)
    segs = _segments(segments, test)
    if relevance_threshold is not None:
        relevance_threshold = check_float(relevance_threshold, "relevance_threshold")

    # Test users and their relevant items, in test's id space.
    test_m = test.matrix
    user_rows = np.flatnonzero(np.diff(test_m.indptr) > 0)
    user_ext = test.user_ids[user_rows]
    relevant = test_m[user_rows]
    if relevance_threshold is not None:
        relevant = relevant.multiply(relevant >= relevance_threshold).tocsr()
        relevant.eliminate_zeros()
    ranking = [(m, name, k) for m, (name, k) in zip(metric_names, parsed) if name in M.RANKING_METRICS]
    rating = [(m, name) for m, (name, _) in zip(metric_names, parsed) if name in M.RATING_METRICS]
    cov = [(m, k) for m, (name, k) in zip(metric_names, parsed) if name == "coverage"]
    if cov and any(k is None for _, k in cov):
        raise ValueError("give coverage with a cut-off, e.g. 'coverage@10'")
    n_rank = max([int(k) for _, _, k in ranking if k is not None] + [int(k) for _, k in cov if k is not None] + [0])

    frames = []
    coverage: dict[tuple[str, str, str], float] = {}
    items = models.items()
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="evaluate", unit="model")
    for name, model in items:
        u_model = model.user_map_.lookup(user_ext, missing="ignore")
        known = u_model >= 0
        if not known.all():
            missing = user_ext[~known]
            if unknown_users == "raise":
                shown = ", ".join(repr(x) for x in missing[:5])
                raise ValueError(
                    f"model {name!r} does not know {len(missing)} of the {len(user_ext)} test users "
                    f"(e.g. {shown}). Fit it on data whose id space holds them (the splits in "
                    "crossrec.split keep every user in train's id space), or pass unknown_users='skip'."
                )
        rows_k = np.flatnonzero(known)
        frame = pd.DataFrame({"model": name, "user": user_ext[rows_k]})
        if n_rank:
            rec_model = _rank(model, train, u_model[rows_k], n_rank)
            rec = _to_test_items(rec_model, model, test.item_map)
            rel = relevant[rows_k]
            for col, mname, k in ranking:
                frame[col] = M.RANKING_METRICS[mname](rec, rel, k)
            for col, k in cov:
                for seg, ids in segs.items():
                    in_seg = np.ones(len(rows_k), bool) if seg == _ALL else np.isin(user_ext[rows_k], ids)
                    coverage[(name, seg, col)] = M.coverage(rec_model[in_seg], model.n_items_, k)
        if rating:
            try:
                sq, ab, cnt = _rating_errors(name, model, test, user_rows[rows_k], u_model[rows_k])
            except _NoRatings as exc:  # a ranking-only model among rating models: NaN, said loudly
                warnings.warn(str(exc), UserWarning, stacklevel=2)
                sq, ab, cnt = np.zeros(len(rows_k)), np.zeros(len(rows_k)), np.zeros(len(rows_k), np.int64)
            frame["n_ratings"], frame["sq_err"], frame["abs_err"] = cnt, sq, ab
            with np.errstate(invalid="ignore", divide="ignore"):
                for col, mname in rating:
                    frame[col] = np.sqrt(sq / cnt) if mname == "rmse" else ab / cnt
        frames.append(frame)
    per_user = pd.concat(frames, ignore_index=True)
    return Report(per_user, metric_names, segs, coverage, n_bootstrap, seed, ci)


_SAMPLED_METRICS = ("hit", "hr", "ndcg", "mrr")


def _parse_sampled_metric(name: str) -> tuple[str, Optional[int]]:
    """'hr@10' -> ('hit', 10); 'mrr' -> ('mrr', None); ValueError for anything else."""
    base, _, k = name.partition("@")
    ok = base in _SAMPLED_METRICS and (k.isdigit() and int(k) >= 1 if k else base == "mrr")
    if not ok:
        raise ValueError(
            f"unknown metric {name!r} for protocol='sampled'; known: hit@K (alias hr@K), ndcg@K, mrr, mrr@K"
        )
    return ("hit" if base == "hr" else base), (int(k) if k else None)


def _evaluate_sampled(
    models, train, test, metric_names, sampler, n_negatives, segments, n_bootstrap, seed, ci, unknown_users
) -> Report:
    parsed = [_parse_sampled_metric(m) for m in metric_names]
    segs = _segments(segments, test)
    # cdimf: one top list as long as the largest cut-off (whole list when an mrr has none)
    n_top = 0 if any(k is None for _, k in parsed) else max(k for _, k in parsed if k is not None)
    frames = []
    for name, model in models.items():
        known = model.user_map_.lookup(test.user_ids[np.unique(test.users)], missing="ignore") >= 0
        if not known.all() and unknown_users == "raise":
            raise ValueError(
                f"model {name!r} does not know {(~known).sum()} test users; fit it on data whose id "
                "space holds them, or pass unknown_users='skip'"
            )
        # every model sees the same negatives: one generator per model from the same seed
        rng = np.random.default_rng(seed)
        users, rank = S.sampled_ranks(model, train, test, sampler, n_negatives, rng, n_top)
        if len(users) == 0:
            # an empty report would only fail later, far from the cause
            raise ValueError(
                f"protocol='sampled', sampler={sampler!r}: no test row of model {name!r} could be ranked "
                "(the sampler skips users with no training interaction, such as cold-start users, and "
                "test items outside the training items)"
            )
        frame = pd.DataFrame({"user": users})
        for col, (base, k) in zip(metric_names, parsed):
            inside = rank <= (k if k is not None else np.inf)
            if base == "hit":
                frame[col] = inside.astype(np.float64)
            elif base == "ndcg":
                frame[col] = np.where(inside, 1.0 / np.log2(np.minimum(rank, 1e300) + 1.0), 0.0)
            else:
                frame[col] = np.where(inside, 1.0 / rank, 0.0)
        per_user = frame.groupby("user", sort=False).mean().reset_index()
        per_user.insert(0, "model", name)
        frames.append(per_user)
    return Report(pd.concat(frames, ignore_index=True), metric_names, segs, {}, n_bootstrap, seed, ci)


def _segments(segments, test: Interactions) -> dict[str, np.ndarray]:
    segs: dict[str, np.ndarray] = {_ALL: test.user_ids[np.unique(test.users)]}
    if segments is None:
        return segs
    if not isinstance(segments, Mapping):
        raise ValueError("segments must be a dict of name -> user ids")
    for seg, ids in segments.items():
        if seg == _ALL:
            raise ValueError("segment name 'all' is reserved (every test user)")
        if isinstance(ids, Indices):
            raise ValueError(
                f"segments[{seg!r}] holds internal {ids.kind} indices (such as ColdStartSplit.cold_users), "
                "and evaluate takes external user ids: pass split.segments, or split.cold_user_ids / "
                "split.warm_user_ids"
            )
        segs[str(seg)] = np.asarray(list(ids), dtype=object)  # object: never truncates string ids
        if not np.isin(segs[str(seg)], segs[_ALL]).any():
            warnings.warn(
                f"segment {seg!r} holds none of the test users (check the id type: "
                f"test user ids look like {segs[_ALL][0]!r})",
                UserWarning,
                stacklevel=3,
            )
    return segs


def _index_map(src: IdMap, dst: IdMap) -> Optional[np.ndarray]:
    """Array a with a[i] = index in dst of src's id i (-1 if absent); None when the maps agree."""
    if src is dst or src == dst:
        return None
    return dst.lookup(src.ids, missing="ignore")


def _remap_csr(
    m: sp.csr_matrix, rows: Optional[np.ndarray], cols: Optional[np.ndarray], shape: tuple[int, int]
) -> sp.csr_matrix:
    """Re-index a CSR through row/col index maps (-1 = drop)."""
    coo = m.tocoo()
    r = coo.row if rows is None else rows[coo.row]
    c = coo.col if cols is None else cols[coo.col]
    keep = (r >= 0) & (c >= 0)
    out = sp.csr_matrix((np.ones(keep.sum(), np.float32), (r[keep], c[keep])), shape=shape)
    out.sum_duplicates()
    return out


def _rank(model, train: Interactions, u_model: np.ndarray, n: int) -> np.ndarray:
    """Top-n items (model item indices, -1 = none) of each user, excluding the user's train items."""
    users_map = _index_map(train.user_map, model.user_map_)
    items_map = _index_map(train.item_map, model.item_map_)
    if users_map is None and items_map is None:
        exclude = train.matrix
    else:
        exclude = _remap_csr(train.matrix, users_map, items_map, (model.n_users_, model.n_items_))
    out = np.full((len(u_model), n), -1, dtype=np.int64)  # padded when the catalogue is smaller than n
    n_model = min(n, model.n_items_)
    for s in range(0, len(u_model), _BATCH):
        block = u_model[s : s + _BATCH].astype(np.int32)
        idx, _ = model.recommend_indices(block, n=n_model, exclude_seen=False, exclude=exclude)
        out[s : s + len(block), :n_model] = idx
    return out


def _to_test_items(rec: np.ndarray, model, test_items: IdMap) -> np.ndarray:
    """Model item indices -> test item indices (-1: no item, or an item test does not know)."""
    to_test = _index_map(model.item_map_, test_items)
    if to_test is None:
        return rec
    return np.where(rec >= 0, to_test[np.maximum(rec, 0)], -1)


class _NoRatings(ValueError):
    pass


def _rating_errors(name: str, model, test: Interactions, test_rows: np.ndarray, u_model: np.ndarray):
    """Per test user: sum of squared errors, sum of absolute errors, number of ratings."""
    if not test.explicit:
        raise ValueError("rmse/mae need explicit ratings in test, and test holds implicit interactions")
    m = test.matrix
    counts = np.diff(m.indptr)[test_rows]
    starts = m.indptr[test_rows]
    pos = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
    items_test = m.indices[pos]
    truth = m.data[pos].astype(np.float64)
    users_model = np.repeat(u_model, counts)
    items_model = model.item_map_.lookup(test.item_ids[items_test], missing="ignore")
    if (items_model < 0).any():
        bad = test.item_ids[items_test[items_model < 0]]
        raise ValueError(
            f"model {name!r} cannot predict ratings for {len(np.unique(bad))} test items it "
            f"does not know (e.g. {bad[0]!r}); fit it on data whose item id space holds them"
        )
    try:
        pred = np.asarray(
            model.predict_indices(users_model.astype(np.int32), items_model.astype(np.int32)), dtype=np.float64
        )
    except NotImplementedError:
        raise _NoRatings(
            f"model {name!r} ({type(model).__name__}) ranks items but does not predict ratings: its rmse/mae are NaN"
        ) from None
    if pred.shape != truth.shape or not np.all(np.isfinite(pred)):
        raise ValueError(f"model {name!r} returned non-finite or mis-shaped rating predictions")
    err = pred - truth
    owner = np.repeat(np.arange(len(test_rows)), counts)
    sq = np.bincount(owner, weights=err * err, minlength=len(test_rows))
    ab = np.bincount(owner, weights=np.abs(err), minlength=len(test_rows))
    return sq, ab, counts.astype(np.int64)
