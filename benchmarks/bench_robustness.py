"""Robustness of every crossrec model to shilling attacks on MovieLens 100K (explicit ratings).

For each model and attack (random, average, bandwagon) the target item (a little-rated item, see
crossrec.robustness.default_target) is pushed by 1 %, 2 %, 5 %, 10 % and 20 % fake profiles
(filler: 3 % of the items). Reported: hit rate at 10 of the target among the genuine users who had
not rated it, before and after; the prediction shift (stars for rating models; score units for
implicit ALS and BPR, whose predict gives ranking scores); and the smallest attack size at which the
target enters the top 10 of more than half of those users (majority_size; None = not reached by 20 %).

Models are one line each in FACTORIES; models from other branches (ItemKNN, ALS, ...) are
included automatically once they are in crossrec.

    python benchmarks/bench_robustness.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from _content_common import cr, ml100k, ml100k_features, write


def factories(quick: bool):
    features = ml100k_features()
    f = {
        "Baseline": cr.Baseline,
        "MostPopular": cr.MostPopular,
        "EASE": lambda: cr.EASE(l2=500.0),
        # 30 epochs instead of the default 100 keeps the sweep affordable (90 % of the NDCG).
        "DenoisingAutoencoder": lambda: cr.DenoisingAutoencoder(epochs=10 if quick else 30, seed=0),
        "ContentBased": cr.ContentBased,
        "Hybrid(EASE+ContentBased)": lambda: cr.Hybrid([(cr.EASE(l2=500.0), 0.6), (cr.ContentBased(), 0.4)]),
    }
    fit_params = {"ContentBased": {"item_features": features}, "Hybrid(EASE+ContentBased)": {"item_features": features}}
    optional = {  # models of other branches, by the names DESIGN.md gives them
        "ItemKNN": lambda: cr.ItemKNN(k=50),
        "UserKNN": lambda: cr.UserKNN(k=50),
        "ALS": lambda: cr.ALS(factors=64),
        "MF": lambda: cr.MF(factors=32),
        "BPR": lambda: cr.BPR(factors=32),
        "AssociationRules": lambda: cr.AssociationRules(min_support=0.05),
    }
    for name, make in optional.items():
        if hasattr(cr, name):
            f[name] = make
    return {name: single_threaded(make) for name, make in f.items()}, fit_params


def single_threaded(make):
    """One thread per model (and BLAS): on the shared 2-core machine, two threads were far slower."""

    def factory():
        model = make()
        for m in [model] + [sub for sub, _ in getattr(model, "models", ())]:
            if "n_threads" in m.get_params():
                m.set_params(n_threads=1)
        return model

    return factory


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two models, two sizes, fewer epochs")
    ap.add_argument("--models", nargs="*", help="only these models (names as in the table)")
    ap.add_argument("--sizes", nargs="*", type=int, help="attack sizes as profile counts (default 1-20 %% of users)")
    ap.add_argument("--attacks", nargs="*", default=list(cr.robustness.ATTACKS))
    ap.add_argument("--name", default=None, help="result file name (default robustness)")
    args = ap.parse_args()
    data = ml100k()
    target = cr.robustness.default_target(data)
    sizes = [0.02, 0.1] if args.quick else [0.01, 0.02, 0.05, 0.1, 0.2]
    facts, fit_params = factories(args.quick)
    if args.quick:
        facts = {k: facts[k] for k in ("Baseline", "EASE")}
    if args.models:
        facts = {k: facts[k] for k in args.models}
    if args.sizes:
        sizes = args.sizes
    t0 = time.perf_counter()
    with threadpool_limits(1):
        table = cr.robustness.robustness_table(
            facts,
            data,
            attacks=args.attacks,
            fit_params=fit_params,
            sizes=sizes,
            filler_size=0.03,
            target_item=target,
            seed=0,
        )
    summary = (
        table.groupby(["model", "attack"], sort=False)
        .agg(
            majority_size=("majority_size", "first"),
            hit_rate_before=("hit_rate_before", "first"),
            hit_rate_at_5pct=("hit_rate", lambda h: h.iloc[min(2, len(h) - 1)]),
            max_prediction_shift=("prediction_shift", "max"),
        )
        .reset_index()
    )
    result = {
        "quick": args.quick,
        "data": "MovieLens 100K ratings",
        "target_item": int(target),
        "target_ratings": int(data.item_counts()[data.item_index(target)[0]]),
        "sizes": sizes,
        "filler_size": 0.03,
        "genuine_users": data.n_users,
        "summary": summary.replace({np.nan: None}).to_dict(orient="records"),
        "table": table.replace({np.nan: None}).to_dict(orient="records"),
        "total_s": time.perf_counter() - t0,
    }
    write(args.name or ("robustness-quick" if args.quick else "robustness"), result)
    print(summary.to_string(index=False))
    # Every model is measured, and a big enough attack moves every collaborative model.
    assert set(summary["model"]) == set(facts)
    assert (table.groupby("model")["hit_rate"].max() >= table.groupby("model")["hit_rate_before"].max()).all()


if __name__ == "__main__":
    main()
