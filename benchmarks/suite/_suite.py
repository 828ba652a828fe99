"""Helpers of the pytest-benchmark suite (the bench_*.py scripts hold the data and metric helpers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _common import DATA


def data_or_skip(*parts: str) -> Path:
    path = Path(DATA, *parts)
    if not path.exists():
        pytest.skip(f"data set not found: {path} (set CROSSREC_DATA)")
    return path


def timed(benchmark, group: str, library: str, fn, rounds: int, setup=None):
    """Time fn as `library`'s case in `group` (best of `rounds`, no warm-up: every case here runs
    >= 10 ms) and return its last result; the load average at the start is kept beside the timing."""
    benchmark.group = group
    benchmark.extra_info["library"] = library
    benchmark.extra_info["load_average_at_start"] = list(os.getloadavg())
    return benchmark.pedantic(fn, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)


def reference(outcomes: dict, group: str, library: str, compute):
    """The peer's outcome from this run (its case ran first), or computed untimed if it did not run
    (filtered out with -k)."""
    key = (group, library)
    if key not in outcomes:
        outcomes[key] = compute()
    return outcomes[key]


NOT_ACCURACY = ("library", "load_average_at_start")


def summary_lines(benchmarks) -> list[str]:
    """One line per group: each peer's min time over crossrec's, and the accuracy both reported."""
    groups: dict[str, list] = {}
    for b in benchmarks:
        if b.stats is not None:  # None: the case failed or was skipped
            groups.setdefault(b.group or "", []).append(b)
    lines = []
    for group, items in groups.items():
        ours = [b for b in items if b.extra_info.get("library", "").startswith("crossrec")]
        if not ours:
            continue
        base = ours[0]
        acc = {k: v for k, v in base.extra_info.items() if k not in NOT_ACCURACY}
        parts = []
        for b in items:
            if b is base:
                continue
            peer_acc = {k: v for k, v in b.extra_info.items() if k not in NOT_ACCURACY}
            parts.append(f"{b.extra_info.get('library', b.name)} {b.stats.min / base.stats.min:.2f}x {_fmt(peer_acc)}")
        lines.append(f"{group}: crossrec {base.stats.min:.4f} s {_fmt(acc)} | " + " | ".join(parts))
    return lines


def _fmt(info: dict) -> str:
    shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in info.items()}
    return str(shown) if shown else ""
