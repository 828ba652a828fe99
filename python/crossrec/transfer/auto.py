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
    """Scores each user with one of its fitted models: ``transfer_`` where ``route_`` is True,
    ``warm_`` where ``warm_route_`` is True (when it has one), ``base_`` elsewhere (the per-user
    gate). All models score the same target id space."""

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

    def _routes(self):
        yield self.route_, self.transfer_
        warm = self.__dict__.get("warm_")
        if warm is not None:
            yield self.warm_route_, warm

    def _score_block(self, user_idx):
        user_idx = np.asarray(user_idx)
        out = np.array(self.base_.score_indices(user_idx), np.float32, copy=True)
        for route, model in self._routes():
            r = route[user_idx]
            if r.any():
                out[r] = model.score_indices(user_idx[r])
        return out

    def _predict_indices(self, user_idx, item_idx):
        user_idx = np.asarray(user_idx)
        out = np.asarray(self.base_.predict_indices(user_idx, item_idx), np.float64).copy()
        for route, model in self._routes():
            r = route[user_idx]
            if r.any():
                out[r] = model.predict_indices(user_idx[r], np.asarray(item_idx)[r])
        return out


class Auto(Routed):
    """Pick a transfer method (or none) on validation, within a time budget.

    The validation split is carved from the training pair with the test's cold-start protocol:
    a ``fraction`` of the training pair's overlapping users (users with target training data, so
    never a test cold user) is made cold, and the choice is the candidate with the best
    validation score on those cold users. The candidates are :data:`presets.AUTO_CANDIDATES`
    (each method's own defaults among them). Fits are reused: the source model is fitted once
    (validation and final models share it), the target-only model once per training set and
    shared by every candidate that only reads it (NoTransfer, the EMCDR variants). Final fits are
    warm started: only the chosen method is refitted on the whole training pair, and a candidate
    that can be (CMF, FineTune, the target-only ALS) continues from its validation fit for the
    sweeps left of ``iterations`` (at least 2) instead of starting over; the target-only model of that pair is
    fitted only when the choice uses it or some user is routed to it.

    Parameters
    ----------
    candidates : sequence of str or None
        Names from :func:`crossrec.transfer.presets.auto_candidates` (``"no transfer"`` is always tried
        first). None: every registered candidate marked ``default`` (all but PTUPCDR, whose fit costs
        about 14 times an EMCDR's).
    time_budget : float
        Seconds for trying candidates on validation; candidates not started within it are skipped
        (recorded as such). The final refit of the choice comes on top.
    fraction : float
        Cold fraction of the validation split carved from the training pair.
    gate : bool
        Per-user gating: route only users with >= ``min_source`` source interactions to the
        transferred model (threshold chosen on validation among 0, 2, 5, 10, 20).
    confidence : float
        Level of the bootstrap interval a transfer gain must clear (the negative-transfer guard):
        on the validation cold users for the choice for cold users, and on the validation warm
        users for the choice for warm users (chosen separately: the method that maps cold users
        best need not help warm ones; without a significant gain they keep the target-only model).
    factors, iterations, seed : model size, sweeps of the final models and the validation split's seed.
    validation_iterations : int or None
        Sweeps of the candidates' own fits on validation (None: ``iterations``). Half the sweeps
        halves their cost but handicaps them against the converged no-transfer reference: on Amazon
        electronic->phone CMF's validation gain on warm users was then not significant (+0.0044,
        interval -0.0009..+0.0099) and Auto kept warm users target-only, at a test cost of 0.019
        NDCG@10; at the full sweeps CMF's warm gain cleared the guard.
    progress : tqdm bar over the fits (candidates on validation, then the final ones).
    n_threads : threads of the factor models and of recommend (0 = all usable cores); results do
        not depend on it.

    Attributes
    ----------
    choice_ : str, the chosen candidate; min_source_ : the gate threshold;
    trials_ : list of dicts (candidate, validation score on cold and warm users, gain over no
    transfer with its interval, fit seconds, or "skipped: time budget"); reason_ : str;
    warm_choice_ : str, the candidate warm users get (``"no transfer"`` unless one helped the
    validation warm users with the guard's confidence); transfer_for_warm_ : whether one did;
    transfer_ / warm_ / base_ : the fitted cold choice, warm choice and no-transfer model (one
    object where they coincide or one is unused); route_ : cold users routed to ``transfer_``
    (the gate), warm_route_ : warm users routed to ``warm_``; the rest get ``base_``.
    """

    state_schema = {
        **Routed.state_schema,
        "trials_": Json(),
        "metric_": Scalar(str),
        "reason_": Scalar(str),
        "min_source_": Scalar(int, minimum=0),
        "choice_": Scalar(str),
        "transfer_for_warm_": Scalar(bool),
        "warm_choice_": Scalar(str),
        "warm_": Model(users="users", items="items"),
        "warm_route_": Array(("users",), "bool"),
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
            iterations
            if self.validation_iterations is None
            else check_positive_int(self.validation_iterations, "validation_iterations")
        )
        t_start = time.perf_counter()
        explicit = pair.target.explicit
        threads = check_n_threads(self.n_threads)
        known = auto_candidates(explicit)
        defaults = [n for n, c in known.items() if c.default]
        names = [NO_TRANSFER] + [n for n in (self.candidates or defaults) if n != NO_TRANSFER]
        for n in names:
            if n not in known:
                raise ValueError(f"unknown candidate {n!r}; known: {sorted(known)}")
        self._start_fit(pair.target)
        metric = "rmse" if explicit else "ndcg@10"
        lower = explicit
        val = pair.cold_start_split(self.fraction, 0.2, seed=seed + 1)
        src = Fits(pair, explicit, self.factors, iterations, n_threads=threads).source
        # validation models: the same source model (the source is not split), the target-only
        # model at the full budget (the guard's reference: a transfer method must beat a converged
        # no-transfer model, not one cut short), val_iters sweeps for the
        # candidates' own fits
        tgt = Fits(val.train, explicit, self.factors, iterations, n_threads=threads).model().fit(val.train.target)
        shared = Fits(val.train, explicit, self.factors, val_iters, n_threads=threads, source=src, target=tgt)
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
        if best != NO_TRANSFER:
            if self.gate:
                n_src = val.train.source.user_counts()[val.train.shared_map.lookup(cold_ids)]
                self.min_source_ = _choose_gate(rep, best, dict(zip(cold_ids.tolist(), n_src.tolist())), metric)
        # Warm users: the candidate that helps them most on validation, with the same guard (a
        # method that leaves warm users' rows alone, such as EMCDR, is not scored on them).
        warm_names = [n for n in fitted if n == NO_TRANSFER or known[n].changes_warm]
        warm_best, warm_gain = NO_TRANSFER, None
        if len(warm_names) > 1:
            pick = {n: fitted[n] for n in warm_names}
            wrep = _evaluate(pick, val, val.warm_user_ids, metric, seed, self.confidence, "warm")
            wt = wrep.table()
            for n in warm_names:
                trials[n]["warm"] = float(wt.loc[(n, "warm"), metric])
                if n == NO_TRANSFER:
                    continue
                gw = wrep.gain(n, over=NO_TRANSFER, metric=metric, segment="warm")
                trials[n]["gain_warm"], trials[n]["warm_low"], trials[n]["warm_high"] = gw.estimate, gw.low, gw.high
                helps = gw.high < 0 if lower else gw.low > 0
                if helps and (warm_gain is None or (gw.estimate < warm_gain if lower else gw.estimate > warm_gain)):
                    warm_best, warm_gain = n, gw.estimate
        self.choice_ = best
        self.warm_choice_ = warm_best
        self.transfer_for_warm_ = warm_best != NO_TRANSFER
        self.validation_seconds_ = time.perf_counter() - t_start
        # Final models on the whole training pair; the target-only model only when some user uses it.
        bar.update(1)
        left = max(2, iterations - val_iters)
        final = Fits(pair, explicit, self.factors, iterations, n_threads=threads, source=src)
        if shared.target_fitted and (best != NO_TRANSFER or warm_best != NO_TRANSFER):
            # the final target-only model serves only users the gates keep from the choices, so it
            # continues from the validation one; a refusal fits it from scratch (exactly NoTransfer)
            final.warm_target, final.warm_iterations = tgt, left
        final_models: dict[str, Recommender] = {}

        def final_model(n: str) -> Recommender:
            if n not in final_models:
                bar.update(1)
                c = known[n]
                if c.refit is not None and n in fitted:  # continue from the validation fit
                    final_models[n] = c.refit(final.with_iterations(left), fitted[n], pair)
                else:
                    final_models[n] = c.build(final).fit(pair)
            return final_models[n]

        n_src = pair.source.user_counts()
        has_tgt = pair.target.user_counts() > 0
        with_source = n_src >= 1
        self.route_ = (n_src >= max(self.min_source_, 1)) & ~has_tgt & (best != NO_TRANSFER)
        self.warm_route_ = with_source & has_tgt & (warm_best != NO_TRANSFER)
        cold_model = final_model(best) if best != NO_TRANSFER else None
        warm_model = final_model(warm_best) if warm_best != NO_TRANSFER else None
        if (self.route_ | self.warm_route_).all():
            base = cold_model if cold_model is not None else warm_model
        else:
            base = final_model(NO_TRANSFER)
        assert base is not None  # a refusal routes nobody, so base is the no-transfer model then
        # every attribute holds a model (a saved Auto has no empty slot): unused ones are base_
        self.base_ = base
        self.transfer_ = cold_model if cold_model is not None else base
        self.warm_ = warm_model if warm_model is not None else base
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
