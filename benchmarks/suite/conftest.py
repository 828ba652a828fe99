"""pytest-benchmark suite: crossrec and the peer library timed in the same run, one group per
comparison (``benchmark.group``), so pytest-benchmark prints them in one table and the ratio is in
the parentheses; the summary at the end prints each group's peer / crossrec ratio and the accuracy
each side reached (``extra_info``). Accuracy is asserted (results must agree with the peer), time
never is.

    python -m pytest benchmarks/suite --benchmark-json=benchmarks/results/suite.json --benchmark-save=suite
    python -m pytest benchmarks/suite --benchmark-compare --benchmark-compare-fail=min:30%
    python -m pytest benchmarks/suite --quick --benchmark-disable      # CI: tiny sizes, each case once

Saved runs live in benchmarks/results/pytest-benchmark/ (``--benchmark-storage`` defaults there,
from any working directory). The data sets come from ``$CROSSREC_DATA``; a case whose data set is
absent is skipped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parent
BENCHMARKS = SUITE.parent
STORAGE = BENCHMARKS / "results" / "pytest-benchmark"

try:  # the installed package (CI: the wheel) ...
    import crossrec  # noqa: F401
except ImportError:  # ... or the working tree after scripts/dev_build.sh
    sys.path.insert(0, str(BENCHMARKS.parent / "python"))
    import crossrec  # noqa: F401
# the bench_*.py scripts' loaders, splits and agreement checks are the suite's helpers too
sys.path.insert(0, str(BENCHMARKS))


def pytest_addoption(parser):
    parser.addoption(
        "--quick",
        action="store_true",
        help="tiny sizes and one round per case: the CI smoke pass (with --benchmark-disable)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # runs before pytest-benchmark opens its storage: saved runs go beside the other results
    if config.getoption("benchmark_storage", None) == "file://./.benchmarks":
        config.option.benchmark_storage = f"file://{STORAGE}"


def pytest_benchmark_update_json(config, benchmarks, output_json):
    # the machine is shared: every saved run says how busy it was (each case also keeps the load
    # at its start in extra_info); not in machine_info, which --benchmark-compare checks for equality
    output_json["load_average_at_end"] = list(os.getloadavg())
    output_json["quick"] = bool(config.getoption("--quick"))


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or session.disabled or not session.benchmarks:
        return
    from _suite import summary_lines

    terminalreporter.section("peer / crossrec (min time ratio; > 1: crossrec faster)")
    for line in summary_lines(session.benchmarks):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


@pytest.fixture(scope="session")
def quick(request) -> bool:
    return bool(request.config.getoption("--quick"))


@pytest.fixture(scope="session")
def rounds(quick) -> int:
    """Timed rounds per case; pytest-benchmark reports their min (best of) and median."""
    return 1 if quick else 3


@pytest.fixture(scope="session")
def outcomes() -> dict:
    """What each side produced, by (group, library): the crossrec case checks its accuracy against
    the peer's from the same run."""
    return {}
