"""Default settings and the builders of every transfer method, in one place: used by
:func:`crossrec.transfer.run` (its default methods and grids), :class:`crossrec.transfer.Auto`
(its candidates), :func:`crossrec.transfer.diagnose` and the ``crossrec`` command line.

A builder takes ``(source_model, target_model, **params)``: the source factor model (fitted on
the pair's source, or None to fit one inside ``fit``), the target-only factor model (fitted on
the pair's target, or None) and the method's own parameters; it returns an unfitted transfer
model whose ``fit`` takes the pair.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..models.base import Recommender
from ..models.mf import ALS
from ._common import source_start
from .baselines import NoTransfer
from .cmf import CMF
from .finetune import FineTune
from .mapping import EMCDR

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


def auto_candidates(
    explicit: bool, factors: int = 32, iterations: int = 10, n_threads: int = 0
) -> dict[str, Callable[[Any], Recommender]]:
    """The candidates :class:`~crossrec.transfer.Auto` tries: name -> builder(source_model)."""
    b = builders(explicit, factors, iterations, n_threads=n_threads)
    return {
        NO_TRANSFER: lambda src: b[NO_TRANSFER](src, None),
        "EMCDR": lambda src: b["EMCDR"](src, None, l2=10.0),
        "fine-tune pull=0.1": lambda src: b["fine-tune"](src, None, pull=0.1),
        "fine-tune pull=1": lambda src: b["fine-tune"](src, None, pull=1.0),
        "fine-tune pull=10": lambda src: b["fine-tune"](src, None, pull=10.0),
        "CMF": lambda src: b["CMF"](src, None, weights=(1.0, 1.0)),
    }


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
