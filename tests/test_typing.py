"""mypy on the package (configured in pyproject.toml), so a type error fails the test run and not
only CI's lint step. Skipped where mypy or the source tree is absent (e.g. testing a wheel)."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_mypy_is_clean_on_the_package():
    pytest.importorskip("mypy")
    if not (REPO / "pyproject.toml").exists() or not (REPO / "python" / "crossrec").is_dir():
        pytest.skip("no source tree to check")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
