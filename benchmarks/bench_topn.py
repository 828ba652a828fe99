"""Batch top-N selection: crossrec's C++ kernels against the plain numpy way.

numpy way (the peer):  scores = U @ V.T; scores[seen] = -inf; argpartition; sort the top n
crossrec:              cr.topn_from_factors(U, V, n, exclude=seen)  (fused: no users x items matrix)
                       cr.topn_from_scores(scores, n, exclude=seen) (on a precomputed score block)

Synthetic factors (the kernel's speed does not depend on where they come from) on a catalogue of
>= 50,000 items, ~50 seen items per user. Both sides run in this process, best of --repeat runs;
the results are checked to agree. Prints JSON and writes benchmarks/results/topn.json.

    python benchmarks/bench_topn.py [--quick] [--users N] [--items N] [--factors K] [--n 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
try:
    import crossrec as cr
except ImportError:  # not installed: run against the working tree (after scripts/dev_build.sh)
    sys.path.insert(0, str(ROOT / "python"))
    import crossrec as cr

BLOCK = 1000  # users per numpy block: a 1000 x 50,000 float32 score block is 200 MB


def best_of(fn, repeat, setup=None):
    """Best wall time of fn(*setup()) over `repeat` runs (setup is not timed)."""
    times, out = [], None
    for _ in range(repeat):
        args = setup() if setup is not None else ()
        t = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t)
    return min(times), out


def numpy_topn_from_scores(s, seen, n):
    """Mask the seen items (in place), argpartition, then sort the n best (ties: lower index first)."""
    s[seen.nonzero()] = -np.inf
    part = np.argpartition(-s, n - 1, axis=1)[:, :n]
    ps = np.take_along_axis(s, part, axis=1)
    order = np.lexsort((part, -ps), axis=1)
    items = np.take_along_axis(part, order, axis=1)
    return items, np.take_along_axis(ps, order, axis=1)


def numpy_topn_from_factors(U, V, seen, n):
    items = np.empty((len(U), n), np.int64)
    scores = np.empty((len(U), n), np.float32)
    for s in range(0, len(U), BLOCK):
        block = U[s : s + BLOCK] @ V.T
        items[s : s + BLOCK], scores[s : s + BLOCK] = numpy_topn_from_scores(block, seen[s : s + BLOCK], n)
    return items, scores


def agreement(a, b):
    """Fraction of users with identical top-n lists, and max score difference."""
    same = float(np.mean(np.all(a[0] == b[0], axis=1)))
    return same, float(np.max(np.abs(a[1].astype(np.float64) - b[1].astype(np.float64))))


def blas_info():
    try:
        from threadpoolctl import threadpool_info

        return [
            {k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
    except ImportError:
        return []


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 users, 1 repeat")
    ap.add_argument("--users", type=int, default=None)
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--seen", type=int, default=50, help="seen items per user")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "topn.json"))
    args = ap.parse_args(argv)
    n_users = args.users or (1000 if args.quick else 4000)
    repeat = args.repeat or (1 if args.quick else 3)

    rng = np.random.default_rng(0)
    U = rng.normal(size=(n_users, args.factors)).astype(np.float32)
    V = rng.normal(size=(args.items, args.factors)).astype(np.float32)
    cols = np.concatenate([rng.choice(args.items, args.seen, replace=False) for _ in range(n_users)])
    seen = sp.csr_matrix(
        (np.ones(len(cols), np.float32), cols, np.arange(0, len(cols) + 1, args.seen)), shape=(n_users, args.items)
    )
    seen.sort_indices()
    threads = cr._core.max_threads()

    res = {
        "benchmark": "topn",
        "users": n_users,
        "items": args.items,
        "factors": args.factors,
        "seen_per_user": args.seen,
        "n": args.n,
        "repeat": repeat,
        "threads": threads,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "blas": blas_info(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "crossrec": cr.__version__,
        "load_average_at_start": list(os.getloadavg()),
        "note": "times in seconds, best of `repeat`; ratio = numpy time / crossrec time (> 1: crossrec faster); "
        "the machine is shared, so absolute times are noisy and ratios are what to compare",
    }

    # --- from factors: fused kernel vs BLAS matmul + mask + argpartition ---------------------
    t_np, ref = best_of(lambda: numpy_topn_from_factors(U, V, seen, args.n), repeat)
    t_cr, got = best_of(lambda: cr.topn_from_factors(U, V, args.n, exclude=seen), repeat)
    t_cr1, got1 = best_of(lambda: cr.topn_from_factors(U, V, args.n, exclude=seen, n_threads=1), repeat)
    same, diff = agreement(ref, got)
    assert np.array_equal(got[0], got1[0]), "1 thread and all threads disagree"
    assert same >= 0.999 and diff < 1e-3, f"results differ from numpy: {same:.4f} of rows equal, max diff {diff}"
    res["from_factors"] = {
        "numpy_s": t_np,
        "crossrec_s": t_cr,
        "crossrec_1thread_s": t_cr1,
        "ratio": t_np / t_cr,
        "ratio_1thread": t_np / t_cr1,
        "rows_identical": same,
        "max_score_diff": diff,
    }

    # --- from a precomputed score block: selection alone ------------------------------------
    m = min(n_users, BLOCK)
    scores = U[:m] @ V.T
    block_seen = seen[:m]
    t_np_s, ref_s = best_of(
        lambda s: numpy_topn_from_scores(s, block_seen, args.n), repeat, setup=lambda: (scores.copy(),)
    )  # numpy masks in place: a fresh copy, not timed
    t_cr_s, got_s = best_of(lambda: cr.topn_from_scores(scores, args.n, exclude=block_seen), repeat)
    same_s, diff_s = agreement(ref_s, got_s)
    assert same_s == 1.0 and diff_s == 0.0, f"topn_from_scores differs from numpy ({same_s}, {diff_s})"
    res["from_scores"] = {
        "users": m,
        "numpy_s": t_np_s,
        "crossrec_s": t_cr_s,
        "ratio": t_np_s / t_cr_s,
        "rows_identical": same_s,
    }

    text = json.dumps(res, indent=2)
    print(text)
    if not args.quick:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return res


if __name__ == "__main__":
    main()
