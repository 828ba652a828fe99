"""Explicit rating prediction on ML-100K u1..u5: crossrec.ALS (explicit, biases, weighted lambda)
and crossrec.MF (biased SGD) against Surprise's SVD, in the same process.

* Surprise SVD: its defaults (100 factors, 20 epochs, lr 0.005, reg 0.02).
* crossrec.MF: the same hyper-parameters (the same model and update, in C++): speed at equal accuracy.
* crossrec.ALS(implicit=False): 32 factors, 10 iterations; its regularization is chosen per fold from
  {0.10, 0.13, 0.16} on a validation split (10% of that fold's training ratings, seed 0), then the model
  is refit on the whole training fold. The test fold is never used for tuning. Reported fit time is the
  final fit; tuning time is reported separately.
Surprise is single-threaded, so crossrec runs on one thread too (n_threads=1): a per-core comparison.
Predictions are clipped to [1, 5] (Surprise clips too); a test user or item unseen in training is
predicted from the global mean and the known bias, as Surprise does.
Run: python benchmarks/bench_mf.py [--quick]   (--quick: fold u1 only)
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import best_of, machine, ml100k, write  # noqa: E402

import crossrec as cr  # noqa: E402

ALS_GRID = (0.10, 0.13, 0.16)


def predict(model, users, items):
    """Predictions with Surprise's fallback for ids unseen in training."""
    u = model.user_map_.lookup(users, missing="ignore")
    i = model.item_map_.lookup(items, missing="ignore")
    ok = (u >= 0) & (i >= 0)
    out = np.full(len(users), model.global_mean_, np.float64)
    out[ok] = model.predict_indices(u[ok], i[ok])
    only_u, only_i = (u >= 0) & (i < 0), (u < 0) & (i >= 0)
    if model.user_bias_.size:
        out[only_u] += model.user_bias_[u[only_u]]
        out[only_i] += model.item_bias_[i[only_i]]
    return np.clip(out, 1, 5)


def tune_als(train_df):
    rng = np.random.default_rng(0)
    val = rng.random(len(train_df)) < 0.1
    fit = cr.Interactions.from_pandas(train_df[~val], "user", "item", "rating")
    v = train_df[val]
    scores = {}
    for reg in ALS_GRID:
        m = cr.ALS(factors=32, iterations=10, implicit=False, regularization=reg, seed=0, n_threads=1).fit(fit)
        scores[reg] = cr.metrics.rmse(v.rating.values, predict(m, v.user.values, v.item.values))
    return min(scores, key=scores.get), scores


def fold(k: int, repeats: int) -> dict:
    from surprise import SVD, Dataset, Reader

    tr, te = ml100k(f"u{k}.base"), ml100k(f"u{k}.test")
    data = cr.Interactions.from_pandas(tr, "user", "item", "rating")
    s_train = Dataset.load_from_df(tr[["user", "item", "rating"]], Reader(rating_scale=(1, 5))).build_full_trainset()
    s_test = list(zip(te.user, te.item, te.rating.astype(float)))
    t_tune, (reg, val_scores) = best_of(lambda: tune_als(tr), 1)
    models = {
        "surprise SVD": lambda: SVD(random_state=0).fit(s_train),
        "crossrec MF (SVD's hyper-parameters)": lambda: cr.MF(seed=0, n_threads=1).fit(data),
        "crossrec ALS explicit": lambda: cr.ALS(
            factors=32, iterations=10, implicit=False, regularization=reg, seed=0, n_threads=1
        ).fit(data),
    }
    times = {name: float("inf") for name in models}
    fitted = {}
    for _ in range(repeats):  # interleaved: every model sees the same machine load
        for name, make in models.items():
            t, fitted[name] = best_of(make, 1)
            times[name] = min(times[name], t)
    rmse = {}
    for name, model in fitted.items():
        if name.startswith("surprise"):
            pred = np.array([p.est for p in model.test(s_test)])
        else:
            pred = predict(model, te.user.values, te.item.values)
        rmse[name] = cr.metrics.rmse(te.rating.values, pred)
    return {
        "fold": f"u{k}",
        "rmse": rmse,
        "fit_s": times,
        "als_regularization": reg,
        "als_validation_rmse": val_scores,
        "als_tuning_s": t_tune,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    folds = [fold(k, 1 if args.quick else 3) for k in ([1] if args.quick else range(1, 6))]
    names = list(folds[0]["rmse"])
    mean_rmse = {n: float(np.mean([f["rmse"][n] for f in folds])) for n in names}
    mean_time = {n: float(np.mean([f["fit_s"][n] for f in folds])) for n in names}
    svd = "surprise SVD"
    summary = {
        "mean_rmse": mean_rmse,
        "mean_fit_s": mean_time,
        "rmse_gain_over_svd": {n: mean_rmse[svd] - mean_rmse[n] for n in names if n != svd},
        "time_ratio_vs_svd": {n: mean_time[n] / mean_time[svd] for n in names if n != svd},
    }
    als = "crossrec ALS explicit"
    summary["target_met(ALS: rmse >= 0.015 below SVD and faster)"] = bool(
        summary["rmse_gain_over_svd"][als] >= 0.015 and mean_time[als] < mean_time[svd]
    )
    write(
        "mf",
        {
            "benchmark": "explicit rating prediction, ML-100K u1..u5",
            "machine": machine(),
            "note": "fit times: best of interleaved repeats per fold, then mean over folds; shared machine",
            "folds": folds,
            "summary": summary,
        },
    )
    mf = "crossrec MF (SVD's hyper-parameters)"
    assert abs(mean_rmse[mf] - mean_rmse[svd]) < 0.01, "same model as SVD: accuracy must match"
    assert summary["rmse_gain_over_svd"][als] > 0


if __name__ == "__main__":
    main()
