"""EASE at the size that used to kill the process: 17,000 items with 2 BLAS threads (scipy 1.17's
bundled OpenBLAS 0.3.30 segfaulted in cho_factor there; EASE now solves with numpy.linalg.inv).

Runs in a subprocess, so a crash fails this benchmark instead of ending the session; takes minutes
(about 3 x 17,000^3 flops and ~9 GB), so it is marked slow and lives here, outside the default
test run:

    python -m pytest benchmarks/bench_ease_large.py -m slow
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import numpy as np, scipy.sparse as sp, crossrec as cr
from threadpoolctl import threadpool_limits
n_items, n_users = 17_000, 40_000
rng = np.random.default_rng(0)
rows = rng.integers(0, n_users, 600_000)
cols = rng.integers(0, n_items, 600_000)
m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))
m.data[:] = 1.0
data = cr.Interactions.from_scipy(m)
model = cr.EASE(n_threads=2).fit(data)
assert model.weights_.shape == (data.n_items, data.n_items)
assert np.isfinite(model.weights_).all()
print("ok", data.n_items)
"""


@pytest.mark.slow
def test_ease_17000_items_two_threads_does_not_crash(request):
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("minutes long: run with -m slow")
    p = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=7200)
    assert p.returncode == 0, f"rc {p.returncode}: {p.stderr[-3000:]}"
    assert p.stdout.startswith("ok")
