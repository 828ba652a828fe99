"""Default settings and the builders of every transfer method, in one place: used by
:func:`crossrec.transfer.run` (its default methods and grids), :class:`crossrec.transfer.Auto`
(its candidates), :func:`crossrec.transfer.diagnose` and the ``crossrec`` command line.

A builder takes ``(source_model, target_model, **params)``: the source factor model (fitted on
the pair's source, or None to fit one inside ``fit``), the target-only factor model (fitted on
the pair's target, or None) and the method's own parameters; it returns an unfitted transfer
model whose ``fit`` takes the pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..models.base import Recommender
from ..models.mf import ALS
from ._common import source_start
from .baselines import NoTransfer
from .cmf import CMF
from .finetune import FineTune
from .mapping import EMCDR
from .personalized import PTUPCDR

NO_TRANSFER = "no transfer"

Builder = Callable[..., Recommender]


def als_defaults(explicit: bool, factors: int = 32, iterations: int = 10) -> dict[str, Any]:
    """crossrec.ALS settings of the transfer methods per data kind (explicit: ALS-WR ridge per
    rating, with biases; implicit: ridge per row, confidence 1 + 10 r)."""
    if explicit:
        return dict(factors=factors, iterations=iterations, regularization=0.1, implicit=False)
    return dict(factors=factors, iterations=iterations, regularization=1.0, alpha=10.0, implicit=True)


def factor_model(
    explicit: bool, factors: int = 32, iterations: int = 10, seed: int = 0, n_threads: int = 0, source: bool = False
) -> ALS:
    """The unfitted :class:`crossrec.ALS` the transfer methods build on (target and target-only;
    ``source=True``: the source model, which starts wide on implicit feedback so that the user rows
    the methods read are user-heavy: :func:`crossrec.transfer._common.source_start`)."""
    return ALS(
        **als_defaults(explicit, factors, iterations),
        start=source_start(explicit, source),
        seed=seed,
        n_threads=n_threads,
    )


def builders(
    explicit: bool, factors: int = 32, iterations: int = 10, seed: int = 0, n_threads: int = 0
) -> dict[str, Builder]:
    """name -> ``builder(source_model, target_model, **params)`` of each transfer method and of the
    no-transfer baseline (see the module docstring)."""

    def model(given: Optional[Recommender]) -> Recommender:
        return given if given is not None else factor_model(explicit, factors, iterations, seed, n_threads)

    als = als_defaults(explicit, factors, iterations)
    return {
        NO_TRANSFER: lambda src, tgt: NoTransfer(model(tgt)),
        "fine-tune": lambda src, tgt, pull=1.0: FineTune(
            factor_model(explicit, factors, iterations, seed, n_threads), source_model=src, pull=pull
        ),
        "CMF": lambda src, tgt, weights=(0.5, 1.0): CMF(**als, weights=weights, seed=seed, n_threads=n_threads),
        "EMCDR": lambda src, tgt, **p: EMCDR(src, model(tgt), **p),
    }


class Fits:
    """The factor models Auto's candidates share on one training pair, fitted at most once: the
    source model (the source is the same in every training set Auto carves, so one fit serves the
    validation and the final models) and the target-only model (fitted on first use, so a
    candidate that needs it - NoTransfer, EMCDR - costs no fit of its own). :meth:`model` builds a
    new unfitted factor model of the same settings for candidates that fit their own.

    ``iterations`` is the sweep count of models built here (validation uses fewer); the shared
    source and target models keep the ones they were fitted with. ``warm_target``: a target-only
    ALS fitted on a split of this pair's target (same id spaces); the target model then continues
    from its rows for ``warm_iterations`` sweeps instead of a fit from scratch.
    """

    def __init__(
        self,
        pair: Any,
        explicit: bool,
        factors: int = 32,
        iterations: int = 10,
        seed: int = 0,
        n_threads: int = 0,
        source: Optional[Recommender] = None,
        target: Optional[Recommender] = None,
        warm_target: Optional[ALS] = None,
        warm_iterations: Optional[int] = None,
    ):
        self.pair, self.explicit, self.factors, self.iterations = pair, explicit, factors, iterations
        self.seed, self.n_threads = seed, n_threads
        self._source, self._target = source, target
        self.warm_target, self.warm_iterations = warm_target, warm_iterations

    def model(self, iterations: Optional[int] = None, source: bool = False) -> ALS:
        """A new unfitted transfer-default ALS with these settings (``source``: for the source
        domain, see :func:`factor_model`)."""
        sweeps = self.iterations if iterations is None else iterations
        return factor_model(self.explicit, self.factors, sweeps, self.seed, self.n_threads, source=source)

    @property
    def source(self) -> Recommender:
        """The source factor model, fitted on ``pair.source`` on first use."""
        if self._source is None:
            self._source = self.model(source=True).fit(self.pair.source)
        return self._source

    @property
    def target(self) -> Recommender:
        """The target-only factor model, fitted on ``pair.target`` on first use."""
        if self._target is None and self.warm_target is not None:
            # continued from a fit on a split of this target (same id spaces): the sweeps left
            w = self.warm_target
            model = self.model(self.warm_iterations)
            self._target = model.fit(self.pair.target, user_init=w.user_rows(), item_init=w.item_rows())
        elif self._target is None:
            self._target = self.model().fit(self.pair.target)
        return self._target

    @property
    def target_fitted(self) -> bool:
        return self._target is not None

    def with_iterations(self, iterations: int) -> Fits:
        """The same shared models; models built by :meth:`model` run ``iterations`` sweeps."""
        return Fits(
            self.pair,
            self.explicit,
            self.factors,
            iterations,
            self.seed,
            self.n_threads,
            self._source,
            self._target,
            self.warm_target,
            self.warm_iterations,
        )


@dataclass(frozen=True)
class Candidate:
    """One of :class:`~crossrec.transfer.Auto`'s candidates.

    ``build(fits)`` returns the unfitted transfer model (its ``fit`` takes the pair), built on the
    shared models of a :class:`Fits` where it can. ``cost``: the fits it needs beyond the shared
    ones, in target-ALS fits (0: it only reuses them); Auto fits the cheap ones first, so a time
    budget cuts the costly ones. ``kinds``: the feedback kinds it applies to. ``refit(fits,
    validation_model, pair)``, optional: the final fit on the whole training pair, continued from
    the model fitted on validation (a warm start; ``fits.iterations`` is then the sweeps left of
    the final budget), instead of ``build(fits).fit(pair)`` from scratch. ``changes_warm``: False
    for a method whose warm users' scores are the target-only model's (EMCDR), so Auto does not
    score it on warm users. ``default``: False for a candidate Auto tries only when named in its
    ``candidates`` (one too slow for the default time budget).
    """

    build: Callable[[Fits], Recommender]
    cost: float = 1.0
    kinds: tuple[str, ...] = ("explicit", "implicit")
    refit: Optional[Callable[[Fits, Recommender, Any], Recommender]] = None
    changes_warm: bool = True
    default: bool = True


def _cmf_weights(explicit: bool) -> tuple[float, float]:
    # CMF's own default (0.5, 1.0) for ratings; for implicit feedback unequal weights need the exact
    # numpy user step (about 8x slower: Amazon phone->electronic 18 s against 2.3 s, NDCG@10 0.113
    # against 0.115), so Auto's implicit CMF keeps the equal weights.
    return (0.5, 1.0) if explicit else (1.0, 1.0)


def _fine_tune(pull: float) -> Callable[[Fits], Recommender]:
    return lambda f: FineTune(f.model(), source_model=f.source, pull=pull)


def _fine_tune_refit(pull: float) -> Callable[[Fits, Recommender, Any], Recommender]:
    return lambda f, v, pair: FineTune(f.model(), source_model=f.source, pull=pull).fit(pair, warm_start=v)


def _cmf(f: Fits) -> CMF:
    return CMF(model=f.model(), weights=_cmf_weights(f.explicit))


#: Auto's candidates, in the order they are tried: name -> Candidate. A new method is one entry
#: here (``register_candidate``). Each method's own default settings are a candidate ("EMCDR":
#: ``EMCDR()``'s l2=1; "fine-tune pull=1": ``FineTune()``; "CMF": ``CMF()``'s weights for ratings),
#: beside the variants that won elsewhere.
AUTO_CANDIDATES: dict[str, Candidate] = {
    NO_TRANSFER: Candidate(lambda f: NoTransfer(f.target), cost=0.0),
    "EMCDR": Candidate(lambda f: EMCDR(f.source, f.target), cost=0.0, changes_warm=False),
    "EMCDR l2=10": Candidate(lambda f: EMCDR(f.source, f.target, l2=10.0), cost=0.0, changes_warm=False),
    # the rating level in the user statistics is all there is for ratings (implicit: activity only)
    "EMCDR user stats": Candidate(
        lambda f: EMCDR(f.source, f.target, l2=10.0, user_stats=True),
        cost=0.0,
        kinds=("explicit",),
        changes_warm=False,
    ),
    "fine-tune pull=1": Candidate(_fine_tune(1.0), refit=_fine_tune_refit(1.0)),
    # implicit feedback: the pull barely moves fine-tuning (Amazon phone->electronic validation
    # NDCG@10 0.0696 at 0.1 against 0.0698 at 1), so only ratings try the weak pull
    "fine-tune pull=0.1": Candidate(_fine_tune(0.1), kinds=("explicit",), refit=_fine_tune_refit(0.1)),
    "CMF": Candidate(_cmf, cost=2.0, refit=lambda f, v, pair: _cmf(f).fit(pair, warm_start=v)),
    # the best cold RMSE on Douban book->music 50 % (0.8651 against EMCDR's 0.8708), but its fit took
    # 55 s there at load 17 against ~4 s for a whole EMCDR, so Auto tries it only when asked
    "PTUPCDR": Candidate(lambda f: PTUPCDR(f.source, f.target), cost=10.0, changes_warm=False, default=False),
}


def register_candidate(name: str, candidate: Candidate) -> None:
    """Add (or replace) one of Auto's candidates."""
    if not isinstance(candidate, Candidate):
        raise ValueError(f"register_candidate: candidate must be a presets.Candidate, got {type(candidate).__name__}")
    AUTO_CANDIDATES[name] = candidate


def auto_candidates(explicit: bool) -> dict[str, Candidate]:
    """The candidates :class:`~crossrec.transfer.Auto` tries on data of this kind (name -> Candidate)."""
    kind = "explicit" if explicit else "implicit"
    return {n: c for n, c in AUTO_CANDIDATES.items() if kind in c.kinds}


#: Validation grids of :func:`crossrec.transfer.run` (the first entry is used without tuning).
#: Implicit CMF with unequal weights needs the exact numpy user step (about 10x slower than the
#: C++ one), so its implicit grid keeps the equal weights only.
GRIDS: dict[str, Callable[[bool], list[dict[str, Any]]]] = {
    "fine-tune": lambda explicit: [dict(pull=1.0), dict(pull=0.1), dict(pull=5.0)],
    "CMF": lambda explicit: (
        [dict(weights=(0.5, 1.0)), dict(weights=(1.0, 1.0)), dict(weights=(0.25, 1.0))]
        if explicit
        else [dict(weights=(1.0, 1.0))]
    ),
    "EMCDR": lambda explicit: [
        dict(l2=10.0),
        dict(l2=1.0),
        dict(l2=10.0, user_stats=True),
        dict(l2=1.0, user_stats=True),
    ],
}

#: The settings the ``crossrec demo`` command fits without tuning (first grid entries, except
#: EMCDR with the user statistics).
DEMO_PARAMS: dict[str, dict[str, Any]] = {
    "fine-tune": dict(pull=1.0),
    "CMF": dict(weights=(0.5, 1.0)),
    "EMCDR": dict(l2=10.0, user_stats=True),
}
