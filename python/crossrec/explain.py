"""Explanations: a model's score for one (user, item) pair split into additive parts.

Every ``explain`` returns a :class:`pandas.DataFrame` with one row per part:

``part``          what the row is ("history item", "neighbour", "rule", "global mean", ...)
``id``            the external id it refers to (an item, a user, a rule's antecedent), or None
``value``         the input behind it (the rating or weight, the similarity, the rule's metric)
``weight``        how strongly it counts (the factor-space weight, the neighbour's share, ...)
``contribution``  its share of the score

and ``df.attrs["score"]`` is the model's own score for the pair (``predict`` for rating
predictions, the ranking score otherwise); the contributions always sum to it (to float rounding).
Where a model's stored state is not an exact function of its inputs (ALS stops after an item
half-step, CG solves inexactly) a final row, ``part="solver residual"``, holds the difference, so
nothing is hidden; it is small for a converged model.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd

COLUMNS = ["part", "id", "value", "weight", "contribution"]


def frame(rows: list[tuple], score: float, **attrs: Any) -> pd.DataFrame:
    """The explanation DataFrame from (part, id, value, weight, contribution) rows."""
    df = pd.DataFrame(
        {
            name: pd.Series([r[k] for r in rows], dtype=object if name in ("part", "id") else np.float64)
            for k, name in enumerate(COLUMNS)
        }
    )
    df.attrs["score"] = float(score)
    df.attrs.update(attrs)
    return df


def top_rows(rows: list[tuple], n: Optional[int], label: str) -> list[tuple]:
    """The n rows with the largest |contribution|, the rest folded into one row (so the sum holds)."""
    rows = sorted(rows, key=lambda r: -abs(r[4]))
    if n is None or len(rows) <= n:
        return rows
    rest = rows[n:]
    return rows[:n] + [(f"other {label} ({len(rest)})", None, None, None, float(sum(r[4] for r in rest)))]


def factor_weights(gram: np.ndarray, history_factors: np.ndarray, item_factor: np.ndarray) -> np.ndarray:
    """w_j = y_i^T A^-1 y_j for the rows y_j of ``history_factors``: the weight with which each
    history item's target enters the score y_i . x_u when x_u = A^-1 sum_j t_j y_j (A symmetric).
    This is implicit's ``explain`` decomposition (Hu, Koren & Volinsky 2008, section 5)."""
    solved = np.linalg.solve(gram.astype(np.float64), item_factor.astype(np.float64))
    return history_factors.astype(np.float64) @ solved
