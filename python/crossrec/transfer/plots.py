"""Plots a person reads: the gain of each transfer method over the best target-only baseline per
segment, and the learning curve (gain against the amount of target training data), each with its
paired bootstrap interval as whiskers. Gains are drawn as *improvements* (for rmse/mae the
decrease), so up is better whatever the metric; the dashed line at 0 is "no gain", and the y-axis
spans the intervals rather than starting at 0 for a metric's values.

Needs matplotlib (``pip install crossrec[plot]``).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

RATING = ("rmse", "mae")


def _plt(headless: bool):
    try:
        import matplotlib

        if headless:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'crossrec[plot]' (or pip install matplotlib)") from exc
    return plt


def _improvement(frame: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(improvement, low, high): the gain with the sign flipped for error metrics."""
    sign = -1.0 if metric in RATING else 1.0
    est, lo, hi = (sign * frame[c].to_numpy(np.float64) for c in ("estimate", "low", "high"))
    return est, np.minimum(lo, hi), np.maximum(lo, hi)


def _label(metric: str) -> str:
    return f"{metric} decrease" if metric in RATING else f"{metric} increase"


def plot_gains(gains: pd.DataFrame, metric: Optional[str] = None, path=None, title: str = ""):
    """One panel per segment: each method's improvement over the segment's best target-only
    baseline, with its interval. ``gains``: :attr:`TransferResult.gains`. Returns the Figure."""
    metric = metric or str(gains["metric"].iloc[0])
    g = gains[gains["metric"] == metric]
    if g.empty:
        raise ValueError(f"metric {metric!r} is not in the gains table (it has {sorted(set(gains['metric']))})")
    plt = _plt(path is not None)
    segments = list(dict.fromkeys(g["segment"]))
    fig, axes = plt.subplots(1, len(segments), figsize=(3.2 + 2.6 * len(segments), 3.8), squeeze=False)
    for ax, seg in zip(axes[0], segments):
        part = g[g["segment"] == seg]
        est, lo, hi = _improvement(part, metric)
        x = np.arange(len(part))
        colors = ["tab:green" if low > 0 else ("tab:red" if high < 0 else "tab:gray") for low, high in zip(lo, hi)]
        for xi, e, low, high, col in zip(x, est, lo, hi, colors):
            ax.errorbar([xi], [e], yerr=[[e - low], [high - e]], fmt="o", color=col, capsize=4)
        ax.axhline(0.0, color="k", lw=0.8, ls="--")
        ax.set_xticks(x)
        ax.set_xticklabels(part["method"], rotation=20, ha="right")
        base = part["baseline"].iloc[0]
        ax.set_title(f"{seg}: vs {base} ({part['baseline_value'].iloc[0]:.4g})", fontsize=10)
        ax.set_ylabel(f"{_label(metric)} (up is better)")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title or f"Transfer gain in {metric} over the best target-only model (95 % paired bootstrap)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_learning_curve(curve: pd.DataFrame, metric: Optional[str] = None, path=None, title: str = ""):
    """Improvement against the fraction of the warm entities' target training rows (log x), one
    line per method, one panel per segment. ``curve``: :func:`learning_curve`'s frame."""
    metric = metric or str(curve["metric"].iloc[0])
    c = curve[curve["metric"] == metric]
    if c.empty:
        raise ValueError(f"metric {metric!r} is not in the curve (it has {sorted(set(curve['metric']))})")
    plt = _plt(path is not None)
    segments = list(dict.fromkeys(c["segment"]))
    fig, axes = plt.subplots(1, len(segments), figsize=(3.5 + 3.2 * len(segments), 3.9), squeeze=False)
    methods = list(dict.fromkeys(c["method"]))
    for ax, seg in zip(axes[0], segments):
        for j, method in enumerate(methods):
            part = c[(c["segment"] == seg) & (c["method"] == method)].sort_values("target_fraction")
            est, lo, hi = _improvement(part, metric)
            x = part["target_fraction"].to_numpy() * 100 * (1 + 0.04 * (j - (len(methods) - 1) / 2))
            ax.errorbar(x, est, yerr=[est - lo, hi - est], marker="o", capsize=3, label=method)
        ax.axhline(0.0, color="k", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xlabel("% of the warm entities' target training rows")
        ax.set_ylabel(f"{_label(metric)} over best target-only")
        ax.set_title(seg)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(title or f"Learning curve: transfer gain in {metric} (95 % paired bootstrap)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_retention_frontier(frontier: pd.DataFrame, path=None, title: str = ""):
    """Quality kept against serving cost: one panel per (pair, segment), x = the student's serving
    cost as a fraction of the teacher's (log), y = its NDCG@10 over the teacher's with the paired
    bootstrap interval, one line per student family. Dotted guides at 95 % retention and 1/4 cost.

    ``frontier``: rows with columns pair, segment, family, cost_ratio, retention, low, high.
    Returns the Figure."""
    need = {"pair", "segment", "family", "cost_ratio", "retention", "low", "high"}
    if not need <= set(frontier.columns):
        raise ValueError(f"frontier needs the columns {sorted(need)}; missing {sorted(need - set(frontier.columns))}")
    plt = _plt(path is not None)
    pairs = list(dict.fromkeys(frontier["pair"]))
    segments = list(dict.fromkeys(frontier["segment"]))
    fig, axes = plt.subplots(
        len(pairs), len(segments), figsize=(1.5 + 3.6 * len(segments), 0.6 + 3.0 * len(pairs)), squeeze=False
    )
    families = list(dict.fromkeys(frontier["family"]))
    for r, pair in enumerate(pairs):
        for c, seg in enumerate(segments):
            ax = axes[r][c]
            for family in families:
                part = frontier[
                    (frontier["pair"] == pair) & (frontier["segment"] == seg) & (frontier["family"] == family)
                ].sort_values("cost_ratio")
                if part.empty:
                    continue
                est = part["retention"].to_numpy(np.float64)
                lo = np.minimum(part["low"].to_numpy(np.float64), est)
                hi = np.maximum(part["high"].to_numpy(np.float64), est)
                ax.errorbar(part["cost_ratio"], est, yerr=[est - lo, hi - est], marker="o", capsize=3, label=family)
            ax.axhline(0.95, color="k", lw=0.8, ls=":")
            ax.axvline(0.25, color="k", lw=0.8, ls=":")
            ax.set_xscale("log")
            ax.set_title(f"{pair}: {seg} users", fontsize=9)
            ax.set_xlabel("serving cost / teacher's (multiply-adds per user)")
            ax.set_ylabel("NDCG@10 / teacher's")
            ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(title or "Distilled students: teacher's NDCG@10 kept vs serving cost (95 % paired bootstrap)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
