"""Choosing the transfer method on validation, with a negative-transfer guard and per-user gating.

:class:`Auto` carves a cold-start validation split out of the *training* pair (the test users are
never seen), fits the candidates (no transfer, EMCDR, fine-tune at several pulls, CMF) on it within
a time budget, and keeps a transfer method only when its validation gain over no transfer has a
95 % paired bootstrap interval that excludes zero (the guard: a source without signal gives no
significant gain, so Auto falls back to the target-only model). Per-user gating then routes only
users with at least ``min_source`` source interactions to the transferred model, the threshold
chosen on the same validation users. Warm users keep the target-only model unless the chosen
method was not worse for them on validation either.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from .._validation import check_float, check_n_threads, check_seed
from ..evaluation import evaluate
from ..models.base import Recommender
from ._common import check_pair
from .base import TransferRecommender
from .domains import CrossDomain
from ..progress import bar as progress_bar
from .presets import NO_TRANSFER, auto_candidates, factor_model
from ..schema import Array, Json, Model, Scalar

GATES = (0, 2, 5, 10, 20)


class Routed(TransferRecommender):
    """Scores each user with one of two fitted models: ``transfer_`` where ``route_`` is True,
    ``base_`` elsewhere (the per-user gate). Both models score the same target id space."""

    transfer_: Recommender
    base_: Recommender
    route_: np.ndarray

    state_schema = {
        "base_": Model(users="users", items="items"),
        "transfer_": Model(users="users", items="items"),
        "route_": Array(("users",), "bool"),
    }

    @classmethod
    def of(cls, transfer: Recommender, base: Recommender, route: np.ndarray) -> Routed:
        """A fitted router over two fitted models of the same target id space."""
        routed = cls()
        routed.user_map_, routed.item_map_, routed.seen_ = base.user_map_, base.item_map_, base.seen_
        routed.transfer_, routed.base_, routed.route_ = transfer, base, np.asarray(route, bool)
        return routed

    def _score_block(self, user_idx):
        user_idx = np.asarray(user_idx)
        r = self.route_[user_idx]
        out = np.array(self.base_.score_indices(user_idx), np.float32, copy=True)
        if r.any():
            out[r] = self.transfer_.score_indices(user_idx[r])
        return out

    def _predict_indices(self, user_idx, item_idx):
        user_idx = np.asarray(user_idx)
        r = self.route_[user_idx]
        out = np.asarray(self.base_.predict_indices(user_idx, item_idx), np.float64).copy()
        if r.any():
            out[r] = self.transfer_.predict_indices(user_idx[r], np.asarray(item_idx)[r])
        return out


class Auto(Routed):
    """Pick a transfer method (or none) on validation, within a time budget.

    Parameters
    ----------
    candidates : sequence of str or None
        Names from :func:`crossrec.transfer.presets.auto_candidates` (``"no transfer"`` is always tried first).
    time_budget : float
        Seconds for trying candidates on validation; candidates not started within it are skipped
        (recorded as such). The final refit of the choice comes on top.
    fraction : float
        Cold fraction of the validation split carved from the training pair.
    gate : bool
        Per-user gating: route only users with >= ``min_source`` source interactions to the
        transferred model (threshold chosen on validation among 0, 2, 5, 10, 20).
    confidence : float
        Level of the bootstrap interval a transfer gain must clear (the negative-transfer guard).
    factors, iterations, seed : model size, sweeps and the validation split's seed.
    progress : tqdm bar over the fits (candidates on validation, then the final ones).
    n_threads : threads of the factor models and of recommend (0 = all usable cores); results do
        not depend on it.

    Attributes
    ----------
    choice_ : str, the chosen candidate; min_source_ : the gate threshold;
    trials_ : list of dicts (candidate, validation score on cold and warm users, gain over no
    transfer with its interval, fit seconds, or "skipped: time budget"); reason_ : str;
    transfer_ / base_ : the fitted chosen model and the no-transfer model; route_ : users routed
    to ``transfer_``.
    """

    state_schema = {
        **Routed.state_schema,
        "trials_": Json(),
        "metric_": Scalar(str),
        "reason_": Scalar(str),
        "min_source_": Scalar(int, minimum=0),
        "choice_": Scalar(str),
        "transfer_for_warm_": Scalar(bool),
        "validation_seconds_": Scalar(float),
        "fit_seconds_": Scalar(float),
    }

    def __init__(
        self,
        candidates: Optional[Sequence[str]] = None,
        time_budget: float = 300.0,
        fraction: float = 0.5,
        gate: bool = True,
        confidence: float = 0.95,
        factors: int = 32,
        iterations: int = 10,
        seed: int = 0,
        n_threads: int = 0,
        progress: bool = False,
    ):
        self.candidates = candidates
        self.time_budget = time_budget
        self.fraction = fraction
        self.gate = gate
        self.confidence = confidence
        self.factors = factors
        self.iterations = iterations
        self.seed = seed
        self.n_threads = n_threads
        self.progress = progress

    def fit(self, pair: CrossDomain) -> Auto:
        pair = check_pair(pair, "Auto")
        budget = check_float(self.time_budget, "time_budget", 0.0, strict_min=True)
        seed = check_seed(self.seed)
        t_start = time.perf_counter()
        explicit = pair.target.explicit
        threads = check_n_threads(self.n_threads)
        builders = auto_candidates(explicit, self.factors, self.iterations, threads)
        names = [NO_TRANSFER] + [n for n in (self.candidates or list(builders)) if n != NO_TRANSFER]
        for n in names:
            if n not in builders:
                raise ValueError(f"unknown candidate {n!r}; known: {sorted(builders)}")
        self._start_fit(pair.target)
        metric = "rmse" if explicit else "ndcg@10"
        lower = explicit
        val = pair.cold_start_split(self.fraction, 0.2, seed=seed + 1)
        src = factor_model(explicit, self.factors, self.iterations, n_threads=threads, source=True).fit(pair.source)
        fitted: dict[str, Recommender] = {}
        trials: list[dict[str, Any]] = []
        bar = progress_bar(bool(self.progress), len(names) + 2, "Auto", "fit")
        for n in names:
            bar.update(1)
            if n != NO_TRANSFER and time.perf_counter() - t_start > budget:
                trials.append({"candidate": n, "status": "skipped: time budget"})
                continue
            t0 = time.perf_counter()
            fitted[n] = builders[n](src).fit(val.train)
            trials.append({"candidate": n, "status": "fitted", "fit_seconds": time.perf_counter() - t0})
        rep = evaluate(
            fitted,
            val.train.target,
            val.test,
            metrics=[metric],
            segments=val.segments,
            n_bootstrap=500,
            seed=seed,
            ci=self.confidence,
        )
        table = rep.table()
        best, best_gain = NO_TRANSFER, None
        for t in trials:
            n = t["candidate"]
            if n not in fitted:
                continue
            t["cold"] = float(table.loc[(n, "cold"), metric])
            t["warm"] = float(table.loc[(n, "warm"), metric])
            if n == NO_TRANSFER:
                continue
            g = rep.gain(n, over=NO_TRANSFER, metric=metric, segment="cold")
            t["gain_cold"], t["low"], t["high"] = g.estimate, g.low, g.high
            helps = g.high < 0 if lower else g.low > 0
            t["significant"] = bool(helps)
            better = best_gain is None or (g.estimate < best_gain if lower else g.estimate > best_gain)
            if helps and better:
                best, best_gain = n, g.estimate
        self.trials_ = trials
        self.metric_ = metric
        if best == NO_TRANSFER:
            self.reason_ = (
                f"no candidate beat no transfer on the validation cold users with a "
                f"{self.confidence:.0%} interval excluding 0 ({metric}): negative-transfer guard"
            )
        else:
            self.reason_ = (
                f"{best} had the best significant validation gain on cold users "
                f"({metric} {best_gain:+.4f} over no transfer)"
            )
        # Per-user gate on the validation cold users: threshold on source activity.
        self.min_source_ = 0
        if best != NO_TRANSFER and self.gate:
            self.min_source_ = _choose_gate(fitted[best], fitted[NO_TRANSFER], val, metric, lower)
        warm_ok = best != NO_TRANSFER and (
            table.loc[(best, "warm"), metric] <= table.loc[(NO_TRANSFER, "warm"), metric]
            if lower
            else table.loc[(best, "warm"), metric] >= table.loc[(NO_TRANSFER, "warm"), metric]
        )
        self.choice_ = best
        self.transfer_for_warm_ = bool(warm_ok)
        self.validation_seconds_ = time.perf_counter() - t_start
        # Final models on the whole training pair.
        bar.update(1)
        self.base_ = builders[NO_TRANSFER](src).fit(pair)
        bar.update(1)
        if best == NO_TRANSFER:
            self.transfer_ = self.base_
            self.route_ = np.zeros(pair.n_shared, bool)
        else:
            self.transfer_ = builders[best](src).fit(pair)
            n_src = pair.source.user_counts()
            has_tgt = pair.target.user_counts() > 0
            self.route_ = (n_src >= max(self.min_source_, 1)) & (~has_tgt | self.transfer_for_warm_)
        bar.close()
        self.fit_seconds_ = time.perf_counter() - t_start
        return self


def _choose_gate(transfer: Recommender, base: Recommender, val, metric: str, lower: bool) -> int:
    """The source-activity threshold that scores best on the validation cold users."""
    n_src = val.train.source.user_counts()
    best_t, best_s = 0, None
    for t in GATES:
        routed = Routed.of(transfer, base, n_src >= max(t, 1))
        rep = evaluate(
            {"g": routed},
            val.train.target,
            val.test,
            metrics=[metric],
            segments={"cold": val.cold_user_ids},
            n_bootstrap=1,
        )
        s = float(rep.table().loc[("g", "cold"), metric])
        if best_s is None or (s < best_s if lower else s > best_s):
            best_t, best_s = t, s
    return best_t
