"""Relatedness diagnostics of a CrossDomain pair: how much can the source tell about the target?

* overlap: shared users, counts and fractions per domain;
* bias correlation: Pearson correlation, over the overlapping users, of each user's mean-centred
  average rating (explicit) or log activity (implicit) in the two domains;
* factor alignment: linear CKA (Kornblith et al. 2019) between the overlapping users' source and
  target factor matrices (1 = the same geometry up to rotation and scale, 0 = unrelated), and the
  R^2 of a ridge map from source to target factors (how well EMCDR can fit);
* predictive gain: the relative validation gain on cold users of the linear mapping (EMCDR) over
  no transfer, on a cold-start split carved from the pair itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..evaluation import evaluate
from .domains import CrossDomain
from .mapping import fit_linear_map
from .presets import NO_TRANSFER, builders, factor_model


def linear_cka(A: np.ndarray, B: np.ndarray) -> float:
    """Linear centred kernel alignment of two representations of the same rows:
    ||B_c^T A_c||_F^2 / (||A_c^T A_c||_F ||B_c^T B_c||_F), in [0, 1]."""
    A = A - A.mean(0)
    B = B - B.mean(0)
    num = np.linalg.norm(B.T @ A) ** 2
    den = np.linalg.norm(A.T @ A) * np.linalg.norm(B.T @ B)
    return float(num / den) if den > 0 else 0.0


def _user_level(data, users: np.ndarray) -> np.ndarray:
    m = data.matrix
    n = np.diff(m.indptr)[users].astype(np.float64)
    if data.explicit:
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        sums = np.bincount(rows, weights=m.data.astype(np.float64), minlength=m.shape[0])[users]
        return sums / np.maximum(n, 1) - m.data.mean()
    return np.log1p(n)


@dataclass
class Diagnosis:
    """Result of :meth:`CrossDomain.diagnose`; ``table()`` gives one row per measure."""

    values: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"value": self.values}).rename_axis("measure")

    def __getitem__(self, key):
        return self.values[key]

    def __repr__(self) -> str:
        return "Diagnosis\n" + self.table().to_string(float_format=lambda x: f"{x:.4f}")

    def plot(self, ax=None):
        """Bar chart of the bounded measures (needs matplotlib)."""
        import matplotlib.pyplot as plt

        keys = ["overlap_fraction_target", "bias_correlation", "factor_cka", "map_r2", "validation_gain"]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3))
        ax.bar(keys, [self.values[k] for k in keys])
        ax.set_xticks(range(len(keys)), keys, rotation=30, ha="right")
        ax.set_title("relatedness diagnostics")
        return ax


def diagnose(
    pair: CrossDomain, factors: int = 16, iterations: int = 8, fraction: float = 0.5, seed: int = 0, gain: bool = True
) -> Diagnosis:
    """Relatedness diagnostics (see the module docstring). ``gain=False`` skips the validation fit.

    A pair that shares items is diagnosed on its transposed form (the form the transfer methods
    fit on it): the measures are then over the overlapping *items* (their mean-centred rating
    levels, their factor rows, the mapping of item factors, the gain on cold items)."""
    out = dict(pair.summary())
    out.pop("source")
    out.pop("target")
    if pair.shared == "items":
        pair = pair.transposed()
    ov = pair.overlap
    a, b = _user_level(pair.source, ov), _user_level(pair.target, ov)
    out["bias_correlation"] = float(np.corrcoef(a, b)[0, 1]) if len(ov) > 2 and a.std() > 0 and b.std() > 0 else 0.0
    src = factor_model(pair.source.explicit, factors, iterations, source=True).fit(pair.source)
    tgt = factor_model(pair.target.explicit, factors, iterations).fit(pair.target)
    S, T = src.user_rows()[ov].astype(np.float64), tgt.user_rows()[ov].astype(np.float64)
    out["factor_cka"] = linear_cka(S, T)
    # Held-out R^2 of the ridge map (half the overlapping users fit it, the other half score it).
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(ov))
    fit_rows, test_rows = perm[: len(ov) // 2], perm[len(ov) // 2 :]
    if len(fit_rows) >= 2 and len(test_rows) >= 2:
        W, c = fit_linear_map(S[fit_rows], T[fit_rows], 10.0)
        resid = T[test_rows] - (S[test_rows] @ W + c)
        total = T[test_rows] - T[fit_rows].mean(0)
        out["map_r2"] = float(1.0 - (resid**2).sum() / max((total**2).sum(), 1e-12))
    else:
        out["map_r2"] = float("nan")
    out["validation_gain"] = _validation_gain(pair, factors, iterations, fraction, seed) if gain else float("nan")
    return Diagnosis(out)


def _validation_gain(pair: CrossDomain, factors: int, iterations: int, fraction: float, seed: int) -> float:
    """Relative improvement of EMCDR over no transfer on cold users of a split of the pair (positive = helps)."""
    explicit = pair.target.explicit
    split = pair.cold_start_split(fraction, 0.2, seed=seed + 1)
    build = builders(explicit, factors, iterations)
    src = factor_model(explicit, factors, iterations, source=True).fit(split.train.source)
    models = {
        "none": build[NO_TRANSFER](src, None).fit(split.train),
        "emcdr": build["EMCDR"](src, None, l2=10.0).fit(split.train),
    }
    metric = "rmse" if explicit else "ndcg@10"
    t = evaluate(
        models,
        split.train.target,
        split.test,
        metrics=[metric],
        segments={"cold": split.cold_user_ids},
        n_bootstrap=1,
    ).table()
    none, emcdr = t.loc[("none", "cold"), metric], t.loc[("emcdr", "cold"), metric]
    if not none:
        return 0.0
    return float((none - emcdr) / none if explicit else (emcdr - none) / none)
