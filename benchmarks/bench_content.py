"""EASE, Mult-DAE, content-based and hybrid next to ItemKNN and ALS (implicit, the peer library, and
crossrec's own when present), on MovieLens 100K and ml-latest-small (ratings >= 4 as positives,
random 80/20 split of the interactions), plus content-based on cold items.

Protocol: hyper-parameters are chosen on a validation split carved from the training part (80/20
of train, seed 1); the test part is used once, for the reported numbers. Fit times are the best
of 3 runs for the fast models (the machine is shared and noisy), one run for the DAE.

    python benchmarks/bench_content.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from _content_common import (
    cold_item_split,
    cr,
    eval_crossrec,
    latest_small,
    latest_small_text,
    ml100k,
    ml100k_features,
    positives,
    random_split,
    ranking_metrics,
    test_users,
    write,
)


# ---- the peer: implicit ------------------------------------------------------------------------
def eval_implicit(make, train, test, n=20):
    X = sp.csr_matrix(train.matrix, dtype=np.float32)
    users = test_users(test)
    model = make()
    t0 = time.perf_counter()
    model.fit(X, show_progress=False)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids, _ = model.recommend(users, X[users], N=n, filter_already_liked_items=True)
    rec_s = time.perf_counter() - t0
    return {"fit_s": fit_s, "recommend_s": rec_s, **ranking_metrics(np.asarray(ids), test.matrix[users])}


def implicit_als(factors, regularization, alpha):
    from implicit.als import AlternatingLeastSquares

    return lambda: AlternatingLeastSquares(
        factors=factors, regularization=regularization, alpha=alpha, iterations=15, random_state=0, num_threads=THREADS
    )


def implicit_knn(k):
    from implicit.nearest_neighbours import CosineRecommender

    return lambda: CosineRecommender(K=k, num_threads=THREADS)


def tune(candidates: dict, evaluate, fit_tr, valid):
    """Pick the candidate with the best validation NDCG@10: (best key, {key: ndcg})."""
    scores = {key: evaluate(make, fit_tr, valid)["ndcg@10"] for key, make in candidates.items()}
    return max(scores, key=scores.get), scores


def with_threads(model):
    """The benchmark's thread count on a crossrec model and its Hybrid components."""
    if "n_threads" in model.get_params():
        model.set_params(n_threads=THREADS)
    for sub, _ in getattr(model, "models", ()):
        with_threads(sub)
    return model


def crossrec_eval(make, train, test, fit_params=None):
    return eval_crossrec(with_threads(make()), train, test, fit_params)


def repeat(fn, times):
    runs = [fn() for _ in range(times)]
    best = min(runs, key=lambda r: r["fit_s"])
    return {**best, "fit_s_runs": [r["fit_s"] for r in runs]}


# ---- one data set ----------------------------------------------------------------------------------
def run_dataset(name, ratings, features, quick):
    data = positives(ratings)
    train, test = random_split(data, 0.2, seed=0)
    fit_tr, valid = random_split(train, 0.2, seed=1)
    reps = 1 if quick else 3
    out = {"interactions": data.nnz, "users": data.n_users, "items": data.n_items, "models": {}, "tuning": {}}
    res = out["models"]

    # validation-tuned hyper-parameters
    l2_grid = [500.0] if quick else [100.0, 200.0, 500.0, 1000.0]
    l2, sc = tune({l2: (lambda l2=l2: cr.EASE(l2=l2)) for l2 in l2_grid}, crossrec_eval, fit_tr, valid)
    out["tuning"]["EASE.l2"] = {"best": l2, "valid_ndcg@10": sc}
    als_grid = [(64, 0.01, 1.0)] if quick else list(itertools.product([64, 128], [0.01, 0.1], [1.0, 10.0]))
    als_key, sc = tune({g: implicit_als(*g) for g in als_grid}, eval_implicit, fit_tr, valid)
    out["tuning"]["implicit.ALS (factors, reg, alpha)"] = {
        "best": als_key,
        "valid_ndcg@10": {str(k): v for k, v in sc.items()},
    }
    k_grid = [50] if quick else [20, 50, 100, 200]
    knn_k, sc = tune({k: implicit_knn(k) for k in k_grid}, eval_implicit, fit_tr, valid)
    out["tuning"]["implicit.CosineRecommender.K"] = {"best": knn_k, "valid_ndcg@10": sc}

    epochs = 20 if quick else 100
    res["MostPopular"] = repeat(lambda: crossrec_eval(cr.MostPopular, train, test), reps)
    res["implicit.ALS"] = repeat(lambda: eval_implicit(implicit_als(*als_key), train, test), reps)
    res["implicit.ItemKNN(cosine)"] = repeat(lambda: eval_implicit(implicit_knn(knn_k), train, test), reps)
    # crossrec's own ItemKNN and ALS (branches knn, mf), tuned on the same grids
    if hasattr(cr, "ItemKNN"):
        k, sc = tune(
            {k: (lambda k=k: cr.ItemKNN(similarity="cosine", k=k)) for k in k_grid}, crossrec_eval, fit_tr, valid
        )
        out["tuning"]["crossrec.ItemKNN.k"] = {"best": k, "valid_ndcg@10": sc}
        res["crossrec.ItemKNN(cosine)"] = repeat(lambda: crossrec_eval(lambda: cr.ItemKNN(k=k), train, test), reps)
    if hasattr(cr, "ALS"):
        key, sc = tune(
            {g: (lambda g=g: cr.ALS(factors=g[0], regularization=g[1], alpha=g[2], iterations=15)) for g in als_grid},
            crossrec_eval,
            fit_tr,
            valid,
        )
        out["tuning"]["crossrec.ALS (factors, reg, alpha)"] = {
            "best": key,
            "valid_ndcg@10": {str(a): b for a, b in sc.items()},
        }
        res["crossrec.ALS"] = repeat(
            lambda: crossrec_eval(
                lambda: cr.ALS(factors=key[0], regularization=key[1], alpha=key[2], iterations=15), train, test
            ),
            reps,
        )
    res["EASE"] = repeat(lambda: crossrec_eval(lambda: cr.EASE(l2=l2), train, test), reps)
    res["DenoisingAutoencoder"] = crossrec_eval(lambda: cr.DenoisingAutoencoder(epochs=epochs, seed=0), train, test)
    res["ContentBased"] = repeat(lambda: crossrec_eval(cr.ContentBased, train, test, {"item_features": features}), reps)

    # Hybrid: EASE + content-based, weights tuned on the validation split, then refit on train.
    h = with_threads(cr.Hybrid([(cr.EASE(l2=l2), 0.5), (cr.ContentBased(), 0.5)])).fit(fit_tr, item_features=features)
    h.tune(valid, metric="ndcg@10")
    w = [float(x) for x in h.weights_]
    out["tuning"]["Hybrid.weights (EASE, ContentBased)"] = w
    res["Hybrid(EASE+ContentBased)"] = crossrec_eval(
        lambda: cr.Hybrid([(cr.EASE(l2=l2), w[0]), (cr.ContentBased(), w[1])]), train, test, {"item_features": features}
    )

    # Cold items: every interaction of 10 % of the items is held out; rank only those items.
    tr_c, te_c, cold_ids = cold_item_split(data, 0.1, seed=0)
    cb = with_threads(cr.ContentBased()).fit(tr_c, item_features=features)
    cand = cb.item_map_.lookup(cold_ids)
    cold = eval_crossrec(cb, tr_c, te_c, {"item_features": features}, candidates=cand)
    users = test_users(te_c)
    rng = np.random.default_rng(0)
    rand_idx = np.stack([rng.permutation(data.item_index(cold_ids))[:20] for _ in users])  # data's item space
    rand = ranking_metrics(rand_idx, te_c.matrix[users])
    out["cold_items"] = {
        "n_cold_items": len(cold_ids),
        "test_users": len(users),
        "ContentBased": cold,
        "Random": rand,
        "random_expected_recall@20": 20 / len(cold_ids),
        "recall@20_ratio_vs_random": cold["recall@20"] / (20 / len(cold_ids)),
    }

    best_peer = max(
        res["implicit.ALS"]["ndcg@10"],
        res["implicit.ItemKNN(cosine)"]["ndcg@10"],
        *[res[k]["ndcg@10"] for k in ("crossrec.ItemKNN(cosine)", "crossrec.ALS") if k in res],
    )
    out["checks"] = {
        "EASE_ndcg_over_best_of_ItemKNN_ALS": res["EASE"]["ndcg@10"] / best_peer,
        "DAE_ndcg_over_EASE": res["DenoisingAutoencoder"]["ndcg@10"] / res["EASE"]["ndcg@10"],
        "EASE_fit_time_over_implicit_ALS": res["EASE"]["fit_s"] / res["implicit.ALS"]["fit_s"],
        "cold_ContentBased_recall@20_over_random": out["cold_items"]["recall@20_ratio_vs_random"],
    }
    return out


THREADS = 1


def main():
    global THREADS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="ML-100K only, no tuning grids, fewer epochs")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads of every model, crossrec and peer alike, and of BLAS (default 1: on a shared "
        "2-core machine multi-threaded BLAS timings were 20-100x noisier)",
    )
    args = ap.parse_args()
    THREADS = args.threads
    with threadpool_limits(THREADS if THREADS > 0 else None):
        run(args)


def run(args):
    result = {
        "quick": args.quick,
        "threads": THREADS,
        "protocol": "ratings >= 4 as positives, random 80/20 split (seed 0); "
        "hyper-parameters tuned on 80/20 of train (seed 1); cold items: 10% of items fully held out",
    }
    t0 = time.perf_counter()
    result["ml-100k"] = run_dataset("ml-100k", ml100k(), ml100k_features(), args.quick)
    if not args.quick:
        result["ml-latest-small"] = run_dataset("ml-latest-small", latest_small(), latest_small_text(), args.quick)
    result["total_s"] = time.perf_counter() - t0
    write("content-quick" if args.quick else "content", result)
    # The benchmark asserts its headline results too (targets of issue 8; see the report for margins).
    for name in ("ml-100k", "ml-latest-small"):
        if name in result:
            c = result[name]["checks"]
            assert c["EASE_ndcg_over_best_of_ItemKNN_ALS"] >= 1.0, (name, c)
            assert c["cold_ContentBased_recall@20_over_random"] >= 2.0, (name, c)
    if "ml-latest-small" in result:  # with text features (tags, titles) the 3x target holds
        assert result["ml-latest-small"]["checks"]["cold_ContentBased_recall@20_over_random"] >= 3.0


if __name__ == "__main__":
    main()
