"""Names kept for one release after they were replaced; each warns with DeprecationWarning."""

from __future__ import annotations

import warnings
from typing import Optional

from ..models.mf import ALS


def TransferALS(  # noqa: N802 - the old class name, kept so old code runs
    factors: int = 32,
    iterations: int = 10,
    regularization: float = 0.1,
    implicit: Optional[bool] = None,
    alpha: float = 10.0,
    seed: int = 0,
    n_threads: int = 0,
) -> ALS:
    """Deprecated: returns ``crossrec.ALS`` with TransferALS's former defaults (32 factors, 10
    sweeps, ridge 0.1, the data's own feedback kind, implicit confidence 10). ``crossrec.ALS`` now
    has what TransferALS had (a prior on whole user rows, bias included; ``user_rows``); use it."""
    warnings.warn(
        "crossrec.transfer.TransferALS is deprecated and will be removed in the next release; use "
        f"crossrec.ALS(factors={factors!r}, iterations={iterations!r}, regularization={regularization!r}, "
        f"implicit={implicit!r}, alpha={alpha!r}) - it is exactly that",
        DeprecationWarning,
        stacklevel=2,
    )
    return ALS(
        factors=factors,
        iterations=iterations,
        regularization=regularization,
        implicit=implicit,
        alpha=alpha,
        seed=seed,
        n_threads=n_threads,
    )
