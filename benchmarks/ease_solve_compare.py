"""Which dense solve should EASE use? Times (P = (G + l2 I)^-1 of a random SPD n x n matrix) and the
longest GIL hold of each candidate, each in its own subprocess (one of them segfaults with scipy
1.17's bundled OpenBLAS 0.3.30 at n ~ 17,000 and 2 threads).

    python benchmarks/ease_solve_compare.py 8000 17000 [numpy_inv:2 scipy:1 ...]

Candidates: scipy cho_factor + dpotri (the old path) with 1 and 2 BLAS threads, numpy.linalg.inv
(numpy's own OpenBLAS; a gufunc, so the GIL is released) and crossrec.models.ease.ease_weights.
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, sys, threading, time
import numpy as np
from threadpoolctl import threadpool_limits
n, method, threads = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
M = rng.random((n, 64))
G = M @ M.T  # a Gram-like SPD matrix (rank 64 + the l2 ridge); the solve's cost does not depend on it
G[np.diag_indices_from(G)] += 500.0
del M
gaps = []
stop = False
def ticker():
    last = time.perf_counter()
    while not stop:
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
def run():
    if method == "scipy":
        import scipy.linalg
        c, _ = scipy.linalg.cho_factor(G, lower=True, overwrite_a=True, check_finite=False)
        P, info = scipy.linalg.lapack.dpotri(c, lower=True, overwrite_c=True)
    elif method == "numpy_inv":
        P = np.linalg.inv(G)
    return P
with threadpool_limits(threads, "blas"):
    if method == "scipy":
        import scipy.linalg  # import outside the timed region
    t = threading.Thread(target=ticker)
    t.start()
    t0 = time.perf_counter()
    run()
    dt = time.perf_counter() - t0
    stop = True
    t.join()
print(json.dumps({"n": n, "method": method, "threads": threads, "seconds": dt, "max_gil_gap_ms": 1000 * max(gaps)}))
"""


ALL = [("scipy", 1), ("scipy", 2), ("numpy_inv", 1), ("numpy_inv", 2)]


def main(sizes, runs):
    for n in sizes:
        for method, threads in runs:
            p = subprocess.run(
                [sys.executable, "-c", CHILD, str(n), method, str(threads)], capture_output=True, text=True
            )
            if p.returncode != 0:
                print(json.dumps({"n": n, "method": method, "threads": threads, "rc": p.returncode}), flush=True)
            else:
                print(p.stdout.strip(), flush=True)


if __name__ == "__main__":
    # python ease_solve_compare.py 8000 17000 [numpy_inv:2 scipy:1 ...]
    sizes = [int(a) for a in sys.argv[1:] if a.isdigit()] or [8000]
    picked = [(a.split(":")[0], int(a.split(":")[1])) for a in sys.argv[1:] if ":" in a]
    main(sizes, picked or ALL)
