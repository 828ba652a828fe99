"""Choosing the transfer method on validation, with a negative-transfer guard and per-user gating.

:class:`Auto` carves a cold-start validation split out of the *training* pair (the test users are
never seen), fits the candidates (:data:`crossrec.transfer.presets.AUTO_CANDIDATES`: no transfer,
EMCDR, fine-tune, CMF, each with its own defaults and variants) on it within a time budget, and keeps a transfer method only when its validation gain over no transfer has a
95 % paired bootstrap interval that excludes zero (the guard: a source without signal gives no
significant gain, so Auto falls back to the target-only model). Per-user gating then routes only
users with at least ``min_source`` source interactions to the transferred model, the threshold
chosen on the same validation users. Warm users keep the target-only model unless the chosen
method's validation gain on warm users clears the same guard.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from .._validation import check_float, check_n_threads, check_positive_int, check_seed
from ..evaluation import evaluate
from ..models.base import Recommender
from ._common import check_pair
from .base import TransferRecommender
from .domains import CrossDomain
from ..progress import bar as progress_bar
from .presets import NO_TRANSFER, Fits, auto_candidates
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

    The validation split is carved from the training pair with the test's cold-start protocol:
    a ``fraction`` of the training pair's overlapping users (users with target training data, so
    never a test cold user) is made cold, and the choice is the candidate with the best
    validation score on those cold users. The candidates are :data:`presets.AUTO_CANDIDATES`
    (each method's own defaults among them). Fits are reused: the source model is fitted once
    (validation and final models share it), the target-only model once per training set and
    shared by every candidate that only reads it (NoTransfer, the EMCDR variants). Budgets are
    cheap first: candidates that fit models of their own are fitted on validation with
    ``validation_iterations`` sweeps (half of ``iterations``), and only the chosen method is
    refitted on the whole training pair at ``iterations`` (or, for a candidate that can be warm
    started, continued from its validation fit for the sweeps left); the target-only model of that pair is
    fitted only when the choice uses it or some user is routed to it.

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
        Level of the bootstrap interval a transfer gain must clear (the negative-transfer guard),
        on the validation cold users for the choice, and on the validation warm users for routing
        warm users to it (else they keep the target-only model).
    factors, iterations, seed : model size, sweeps of the final models and the validation split's seed.
    validation_iterations : int or None
        Sweeps of the candidates' own fits on validation (None: half of ``iterations``, at least 2).
    progress : tqdm bar over the fits (candidates on validation, then the final ones).
    n_threads : threads of the factor models and of recommend (0 = all usable cores); results do
        not depend on it.

    Attributes
    ----------
    choice_ : str, the chosen candidate; min_source_ : the gate threshold;
    trials_ : list of dicts (candidate, validation score on cold and warm users, gain over no
    transfer with its interval, fit seconds, or "skipped: time budget"); reason_ : str;
    transfer_ / base_ : the fitted chosen model and the no-transfer model (the same object when
    every user is routed to the choice); route_ : users routed to ``transfer_``.
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
        validation_iterations: Optional[int] = None,
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
        self.validation_iterations = validation_iterations

    def fit(self, pair: CrossDomain) -> Auto:
        pair = check_pair(pair, "Auto")
        budget = check_float(self.time_budget, "time_budget", 0.0, strict_min=True)
        seed = check_seed(self.seed)
        iterations = check_positive_int(self.iterations, "iterations")
        val_iters = (
            max(2, iterations // 2)
            if self.validation_iterations is None
            else check_positive_int(self.validation_iterations, "validation_iterations")
        )
        t_start = time.perf_counter()
        explicit = pair.target.explicit
        threads = check_n_threads(self.n_threads)
        known = auto_candidates(explicit)
        names = [NO_TRANSFER] + [n for n in (self.candidates or list(known)) if n != NO_TRANSFER]
        for n in names:
            if n not in known:
                raise ValueError(f"unknown candidate {n!r}; known: {sorted(known)}")
        self._start_fit(pair.target)
        metric = "rmse" if explicit else "ndcg@10"
        lower = explicit
        val = pair.cold_start_split(self.fraction, 0.2, seed=seed + 1)
        src = Fits(pair, explicit, self.factors, iterations, n_threads=threads).source
        # validation models: the same source model (the source is not split); the cheap budget
        # (val_iters sweeps) for every model fitted on the validation split
        shared = Fits(val.train, explicit, self.factors, val_iters, n_threads=threads, source=src)
        # cheap candidates (they only reuse the shared fits) first, then by cost
        order = sorted(names, key=lambda n: (n != NO_TRANSFER, known[n].cost))
        bar = progress_bar(bool(self.progress), len(names) + 2, "Auto", "fit")
        fitted: dict[str, Recommender] = {}
        trials: dict[str, dict[str, Any]] = {}
        for n in order:
            bar.update(1)
            if n != NO_TRANSFER and time.perf_counter() - t_start > budget:
                trials[n] = {"candidate": n, "status": "skipped: time budget"}
                continue
            t0 = time.perf_counter()
            fitted[n] = known[n].build(shared).fit(val.train)
            trials[n] = {"candidate": n, "status": "fitted", "fit_seconds": time.perf_counter() - t0}
        # Scored on the validation cold users only (ranking every item for every warm user too
        # would cost as much as the fits); the warm users are scored for the choice alone, below.
        cold_ids = val.cold_user_ids
        rep = _evaluate(fitted, val, cold_ids, metric, seed, self.confidence)
        table = rep.table()
        best, best_gain = NO_TRANSFER, None
        for n in fitted:
            t = trials[n]
            t["cold"] = float(table.loc[(n, "cold"), metric])
            if n == NO_TRANSFER:
                continue
            g = rep.gain(n, over=NO_TRANSFER, metric=metric, segment="cold")
            t["gain_cold"], t["low"], t["high"] = g.estimate, g.low, g.high
            helps = g.high < 0 if lower else g.low > 0
            t["significant"] = bool(helps)
            better = best_gain is None or (g.estimate < best_gain if lower else g.estimate > best_gain)
            if helps and better:
                best, best_gain = n, g.estimate
        self.trials_ = [trials[n] for n in names]
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
        warm_ok = False
        if best != NO_TRANSFER:
            if self.gate:
                n_src = val.train.source.user_counts()[val.train.shared_map.lookup(cold_ids)]
                self.min_source_ = _choose_gate(rep, best, dict(zip(cold_ids.tolist(), n_src.tolist())), metric)
            # Warm users keep the target-only model unless the choice helps them on validation
            # too, with the same confidence (the guard for warm users).
            pick = {n: fitted[n] for n in (NO_TRANSFER, best)}
            wrep = _evaluate(pick, val, val.warm_user_ids, metric, seed, self.confidence, "warm")
            gw = wrep.gain(best, over=NO_TRANSFER, metric=metric, segment="warm")
            warm_ok = bool(gw.high < 0 if lower else gw.low > 0)
            wt = wrep.table()
            trials[best]["warm"] = float(wt.loc[(best, "warm"), metric])
            trials[NO_TRANSFER]["warm"] = float(wt.loc[(NO_TRANSFER, "warm"), metric])
            trials[best]["gain_warm"], trials[best]["warm_low"], trials[best]["warm_high"] = (
                gw.estimate,
                gw.low,
                gw.high,
            )
        self.choice_ = best
        self.transfer_for_warm_ = warm_ok
        self.validation_seconds_ = time.perf_counter() - t_start
        # Final models on the whole training pair; the target-only model only when some user uses it.
        bar.update(1)
        left = max(1, iterations - val_iters)
        final = Fits(pair, explicit, self.factors, iterations, n_threads=threads, source=src)
        if shared.target_fitted and best != NO_TRANSFER:
            # the final target-only model serves only users the gate keeps from the choice, so it
            # continues from the validation one; a refusal fits it from scratch (exactly NoTransfer)
            final.warm_target, final.warm_iterations = shared.target, left
        n_src = pair.source.user_counts()
        has_tgt = pair.target.user_counts() > 0
        if best == NO_TRANSFER:
            self.base_ = self.transfer_ = known[NO_TRANSFER].build(final).fit(pair)
            self.route_ = np.zeros(pair.n_shared, bool)
        else:
            chosen = known[best]
            if chosen.refit is not None:  # continue from the validation fit: the sweeps left
                self.transfer_ = chosen.refit(final.with_iterations(left), fitted[best], pair)
            else:
                self.transfer_ = chosen.build(final).fit(pair)
            self.route_ = (n_src >= max(self.min_source_, 1)) & (~has_tgt | self.transfer_for_warm_)
            bar.update(1)
            self.base_ = self.transfer_ if self.route_.all() else known[NO_TRANSFER].build(final).fit(pair)
        bar.close()
        self.fit_seconds_ = time.perf_counter() - t_start
        return self


def _evaluate(models, val, ids, metric: str, seed: int, ci: float, segment: str = "cold"):
    """The models on the validation test interactions of the given users, one segment."""
    test = val.test.subset(np.isin(val.test.users, val.train.shared_map.lookup(ids)))
    return evaluate(
        models, val.train.target, test, metrics=[metric], segments={segment: ids}, n_bootstrap=500, seed=seed, ci=ci
    )


def _choose_gate(rep, best: str, n_source: dict, metric: str) -> int:
    """The source-activity threshold that scores best on the validation cold users: each user's
    result is the chosen model's when they have >= threshold (and >= 1) source interactions,
    else no transfer's, so every threshold is scored from the per-user results already at hand."""
    rows = rep.per_user
    t = rows[rows["model"] == best].set_index("user")
    b = rows[rows["model"] == NO_TRANSFER].set_index("user").loc[t.index]
    n = np.array([n_source.get(u, 0) for u in t.index])
    lower = metric in ("rmse", "mae")
    best_t, best_s = 0, None
    for g in GATES:
        use = n >= max(g, 1)
        if metric == "rmse":
            sq = np.where(use, t["sq_err"], b["sq_err"]).sum()
            s = float(np.sqrt(sq / max(float(t["n_ratings"].sum()), 1.0)))
        else:
            s = float(np.nanmean(np.where(use, t[metric], b[metric])))
        if best_s is None or (s < best_s if lower else s > best_s):
            best_t, best_s = g, s
    return best_t
