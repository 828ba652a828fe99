import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("CROSSREC_DATA", REPO.parent / "shared" / "data"))

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def data_path(*parts) -> Path:
    """Path of a real data file; skips the test when the data sets are not there."""
    p = DATA_DIR.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"data set not found: {p} (set CROSSREC_DATA)")
    return p


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="class")
def data(request):
    """Contract data for ModelContract subclasses (tests/contract.py)."""
    from contract import small_data

    return small_data(explicit=getattr(request.cls, "explicit_data", True))


@pytest.fixture(scope="class")
def fitted(request, data):
    return request.cls().make_model().fit(data)


@pytest.fixture(scope="class")
def pair(request):
    """Contract pair for TransferContract subclasses (tests/contract.py)."""
    from contract import small_pair

    return small_pair(explicit=getattr(request.cls, "explicit_data", True))


@pytest.fixture(scope="class")
def fitted_transfer(request, pair):
    return request.cls().make_model().fit(pair)


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow (CI runs them)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="slow: runs in CI or with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


#: Lines the fuzz suites add (cases run, crashes, ...), printed after the test results.
FUZZ_SUMMARY: list = []


def pytest_terminal_summary(terminalreporter):
    for line in FUZZ_SUMMARY:
        terminalreporter.write_line(line)
