"""Implicit ALS: crossrec.ALS against implicit's AlternatingLeastSquares, same process, same objective.

Both minimise sum c_ui (p_ui - x_u.y_i)^2 + reg (|X|^2 + |Y|^2) with the same factors, iterations,
regularisation and CG steps (3). Confidence conventions differ (crossrec: c = 1 + alpha r; implicit:
c = alpha r), so implicit is given the data 1 + alpha r with its alpha = 1: identical confidences.
Both start from the same initial factors. NDCG@10 of both models is computed by the same top-N code (crossrec.topn_from_factors) on a random
80/20 split, items seen in training excluded.

Data sets: ML-100K (ratings >= 4, binary), Last.fm 2K (log(1 + play count)) and a generated set of
5.2 million interactions (ML-100K Kronecker-expanded by a fixed 8x8 block pattern with 52 ones,
which keeps its popularity shape). Run: python benchmarks/bench_als.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import best_of, lastfm, machine, ml100k, write  # noqa: E402

import crossrec as cr  # noqa: E402


def split(m: sp.csr_matrix, seed: int = 0):
    coo = m.tocoo()
    test = np.random.default_rng(seed).random(coo.nnz) < 0.2
    mk = lambda k: sp.csr_matrix((coo.data[k], (coo.row[k], coo.col[k])), shape=m.shape, dtype=np.float32)
    return mk(~test), mk(test)


def kronecker(base: sp.csr_matrix, k: int = 8, ones: int = 52, seed: int = 0) -> sp.csr_matrix:
    pattern = np.zeros(k * k, np.float32)
    pattern[np.random.default_rng(seed).choice(k * k, ones, replace=False)] = 1
    return sp.csr_matrix(sp.kron(base, sp.csr_matrix(pattern.reshape(k, k)), format="csr"), dtype=np.float32)


def ndcg(user_factors, item_factors, train, test) -> float:
    users = np.flatnonzero(np.diff(test.indptr) > 0).astype(np.int32)
    rec, _ = cr.topn_from_factors(
        np.ascontiguousarray(user_factors[users]),
        np.ascontiguousarray(item_factors),
        10,
        exclude=train,
        exclude_rows=users,
    )
    return float(np.nanmean(cr.metrics.ndcg_at_k(rec, test[users], 10)))


def compare(name, m, factors, iterations, alpha, repeats, threads):
    from implicit.als import AlternatingLeastSquares

    train, test = split(m)
    data = cr.Interactions.from_scipy(train)
    confidence = train.copy()
    confidence.data = 1.0 + alpha * confidence.data
    # The same starting point for both (implicit's own init: uniform [0, 0.01)).
    rng = np.random.default_rng(0)
    user_init = (rng.random((m.shape[0], factors)) * 0.01).astype(np.float32)
    item_init = (rng.random((m.shape[1], factors)) * 0.01).astype(np.float32)
    ours = lambda: cr.ALS(
        factors=factors, iterations=iterations, regularization=0.01, alpha=alpha, n_threads=threads, seed=0
    ).fit(data, user_init=user_init, item_init=item_init)

    def peer():
        model = AlternatingLeastSquares(
            factors=factors, iterations=iterations, regularization=0.01, alpha=1.0, random_state=0, num_threads=threads
        )
        model.user_factors, model.item_factors = user_init.copy(), item_init.copy()
        model.fit(confidence, show_progress=False)
        return model

    t_ours = t_peer = float("inf")
    for _ in range(repeats):  # interleaved, so both see the same machine load
        t, a = best_of(ours, 1)
        t_ours = min(t_ours, t)
        with threadpool_limits(1, "blas"):
            t, b = best_of(peer, 1)
        t_peer = min(t_peer, t)
    n_ours = ndcg(a.user_factors_, a.item_factors_, train, test)
    n_peer = ndcg(b.user_factors, b.item_factors, train, test)
    return {
        "data": name,
        "users": m.shape[0],
        "items": m.shape[1],
        "train_nnz": int(train.nnz),
        "factors": factors,
        "iterations": iterations,
        "regularization": 0.01,
        "confidence": f"1 + {alpha} r",
        "fit_s": {"crossrec": t_ours, "implicit": t_peer},
        "time_ratio": t_ours / t_peer,
        "ndcg@10": {"crossrec": n_ours, "implicit": n_peer},
        "ndcg_ratio": n_ours / n_peer,
        "time_target_met(<=0.7)": t_ours / t_peer <= 0.7,
        "ndcg_target_met(within 1%)": n_ours >= 0.99 * n_peer,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat, no 5M set")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for both libraries (default 1: on a shared machine 2-thread timings are noise)",
    )
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", module="implicit")
    reps = 1 if args.quick else 3
    ml = ml100k()
    ml = ml[ml.rating >= 4]
    ml_m = cr.Interactions.from_pandas(ml, "user", "item").matrix
    lf = cr.Interactions.from_pandas(lastfm(), "user", "item", "rating", implicit=True).matrix
    lf.data = np.log1p(lf.data)
    runs = [
        compare("ml-100k (>=4)", ml_m, 64, 15, 1.0, reps, args.threads),
        compare("ml-100k (>=4), alpha=0 (= implicit defaults on binary data)", ml_m, 64, 15, 0.0, reps, args.threads),
        compare("lastfm-2k log(1+plays)", lf, 128, 15, 1.0, reps, args.threads),
    ]
    if not args.quick:
        full = cr.Interactions.from_pandas(ml100k(), "user", "item").matrix
        big = kronecker(full)
        runs.append(
            compare(f"generated {big.nnz / 1e6:.1f}M (ML-100K x 8x8 Kronecker)", big, 64, 15, 1.0, 2, args.threads)
        )
    result = {
        "benchmark": "implicit ALS",
        "threads": args.threads or "all",
        "machine": machine(),
        "note": "best of %d interleaved runs (2 for the generated set); shared 2-core machine" % reps,
        "runs": runs,
    }
    write("als" if args.threads == 1 else f"als_threads{args.threads}", result)
    for r in runs:  # quality must match (same objective); speed is reported, not asserted
        assert r["ndcg_ratio"] > 0.97, r


if __name__ == "__main__":
    main()
