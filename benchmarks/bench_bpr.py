"""BPR: crossrec.BPR against implicit's BayesianPersonalizedRanking on ML-100K (ratings >= 4, random
80/20 split), same factors (64), epochs (100), learning rate and regularisation (0.01), one thread each,
same process. Both learn an item bias. NDCG@10 by the same top-N code, training items excluded.
crossrec samples negatives within the positive's stratum (see crossrec.factorization.bpr_epoch) and
is deterministic for a seed on any thread count; implicit's BPR is Hogwild.
Run: python benchmarks/bench_bpr.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import best_of, machine, ml100k, write  # noqa: E402
from bench_als import split  # noqa: E402

import crossrec as cr  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", module="implicit")
    from implicit.bpr import BayesianPersonalizedRanking

    ml = ml100k()
    train, test = split(cr.Interactions.from_pandas(ml[ml.rating >= 4], "user", "item").matrix)
    data = cr.Interactions.from_scipy(train)
    users = np.flatnonzero(np.diff(test.indptr) > 0).astype(np.int32)
    reps = 1 if args.quick else 3
    runs = []
    for lr in (0.01, 0.05):
        t_ours = t_peer = float("inf")
        for _ in range(reps):
            t, a = best_of(
                lambda: cr.BPR(
                    factors=64, iterations=100, learning_rate=lr, regularization=0.01, n_threads=1, seed=0
                ).fit(data),
                1,
            )
            t_ours = min(t_ours, t)

            def peer():
                b = BayesianPersonalizedRanking(
                    factors=64, iterations=100, learning_rate=lr, regularization=0.01, num_threads=1, random_state=0
                )
                b.fit(train, show_progress=False)
                return b

            t, b = best_of(peer, 1)
            t_peer = min(t_peer, t)
        rec_a, _ = a.recommend_indices(users, n=10)
        rec_b, _ = cr.topn_from_factors(
            np.ascontiguousarray(b.user_factors[users]), b.item_factors, 10, exclude=train, exclude_rows=users
        )
        n_a = float(np.nanmean(cr.metrics.ndcg_at_k(rec_a, test[users], 10)))
        n_b = float(np.nanmean(cr.metrics.ndcg_at_k(rec_b, test[users], 10)))
        runs.append(
            {
                "learning_rate": lr,
                "fit_s": {"crossrec": t_ours, "implicit": t_peer},
                "time_ratio": t_ours / t_peer,
                "ndcg@10": {"crossrec": n_a, "implicit": n_b},
            }
        )
    write(
        "bpr",
        {"benchmark": "BPR, ML-100K (>=4) 80/20, 64 factors, 100 epochs, 1 thread", "machine": machine(), "runs": runs},
    )
    assert all(r["ndcg@10"]["crossrec"] > 0.15 for r in runs)


if __name__ == "__main__":
    main()
