"""Surprise's whole MovieLens-100K table, re-run here beside crossrec on the very same folds.

Run: python benchmarks/bench_surprise_table.py [--only SVDpp,NMF,...] [--folds N] [--repeats N] [--threads N]
Writes benchmarks/results/surprise_table.json and .md, and prints the markdown table.

Protocol: Surprise's own ``examples/benchmark.py``: ``np.random.seed(0)``, ``KFold(random_state=0)``
(5 folds, the same for every algorithm), default parameters, ``random_state=0`` where the
algorithm takes one. For each fold both libraries get the same training ratings and predict the
same test pairs; the id maps of crossrec's folds cover the whole data set, so a test user or item
without a training rating is "unknown" exactly as in Surprise (each model's fallback applies).
Time = fit + predict summed over the folds (best of --repeats per fold, both libraries), building
the folds' data excluded for both. crossrec runs with --threads threads (default 1: the same
resources as Surprise, which is single-threaded).

Rows and their crossrec counterparts:
  SVD            cr.MF(factors=100, learning_rate=0.005, regularization=0.02) [1]
  SVD++          cr.SVDpp()              (Surprise measured with cache_ratings=True, its faster mode)
  NMF            cr.NMF()
  Slope One      cr.SlopeOne()
  k-NN           cr.UserKNN(similarity="msd", k=40)                         (KNNBasic defaults)
  Centered k-NN  cr.UserKNN(similarity="msd", k=40, centering="mean")       (KNNWithMeans)
  k-NN Baseline  cr.UserKNN(similarity="msd", k=40, centering="baseline")   (KNNBaseline)
  Co-Clustering  cr.CoClustering()
  Baseline       cr.Baseline() [1]
  Random         cr.Random() (Surprise's NormalPredictor)
[1] cr.MF and cr.Baseline do not clip, and cr.MF keeps random factors for users and items without
    a training rating; the script applies Surprise's rules to their predictions (clip to [1, 5];
    mu + known biases for unknown pairs). The other models do this themselves.

kNN tie rule: where similarities tie (MSD gives many exact ties), Surprise keeps the tied neighbour
it met first in the fold's order, crossrec the one with the lower index; single predictions can
differ, the fold RMSEs agree within 1e-4.

Random: both draw from N(mu, sigma^2) fitted to the training ratings, but from different
generators, so their RMSEs differ by sampling noise (reported: the standard error of the 5-fold
mean difference, from the per-pair squared errors).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
import crossrec as cr  # noqa: E402

DATA = Path(os.environ.get("CROSSREC_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"

# Surprise's README (ML-100K table, i5-11th-gen laptop): RMSE, MAE, total time.
PUBLISHED = {
    "SVD": (0.934, 0.737, "0:00:06"),
    "SVDpp": (0.919, 0.721, "0:01:22"),  # cache_ratings=True (False: 0.919 / 0.721 / 0:01:39)
    "NMF": (0.963, 0.758, "0:00:06"),
    "SlopeOne": (0.946, 0.743, "0:00:09"),
    "KNNBasic": (0.98, 0.774, "0:00:08"),
    "KNNWithMeans": (0.951, 0.749, "0:00:09"),
    "KNNBaseline": (0.931, 0.733, "0:00:13"),
    "CoClustering": (0.963, 0.753, "0:00:06"),
    "BaselineOnly": (0.944, 0.748, "0:00:02"),
    "NormalPredictor": (1.518, 1.219, "0:00:01"),
}
LABELS = {
    "SVD": "SVD",
    "SVDpp": "SVD++ (cache_ratings=True)",
    "NMF": "NMF",
    "SlopeOne": "Slope One",
    "KNNBasic": "k-NN",
    "KNNWithMeans": "Centered k-NN",
    "KNNBaseline": "k-NN Baseline",
    "CoClustering": "Co-Clustering",
    "BaselineOnly": "Baseline",
    "NormalPredictor": "Random",
}


def surprise_algo(name: str):
    import surprise as s

    return {
        "SVD": lambda: s.SVD(random_state=0),
        "SVDpp": lambda: s.SVDpp(random_state=0, cache_ratings=True),
        "NMF": lambda: s.NMF(random_state=0),
        "SlopeOne": lambda: s.SlopeOne(),
        "KNNBasic": lambda: s.KNNBasic(verbose=False),
        "KNNWithMeans": lambda: s.KNNWithMeans(verbose=False),
        "KNNBaseline": lambda: s.KNNBaseline(verbose=False),
        "CoClustering": lambda: s.CoClustering(random_state=0),
        "BaselineOnly": lambda: s.BaselineOnly(verbose=False),
        "NormalPredictor": lambda: s.NormalPredictor(),
    }[name]()


def crossrec_model(name: str, threads: int, seed: int = 0):
    knn = dict(similarity="msd", k=40, n_threads=threads)
    return {
        "SVD": lambda: cr.MF(factors=100, learning_rate=0.005, regularization=0.02, seed=seed, n_threads=threads),
        "SVDpp": lambda: cr.SVDpp(seed=seed, n_threads=threads),
        "NMF": lambda: cr.NMF(seed=seed, n_threads=threads),
        "SlopeOne": lambda: cr.SlopeOne(n_threads=threads),
        "KNNBasic": lambda: cr.UserKNN(centering="none", **knn),
        "KNNWithMeans": lambda: cr.UserKNN(centering="mean", **knn),
        "KNNBaseline": lambda: cr.UserKNN(centering="baseline", reg_user=15.0, reg_item=10.0, **knn),
        "CoClustering": lambda: cr.CoClustering(seed=seed, n_threads=threads),
        "BaselineOnly": lambda: cr.Baseline(),
        "NormalPredictor": lambda: cr.Random(seed=seed),
    }[name]()


def surprise_rules(name: str, model, train: cr.Interactions, users, items, pred: np.ndarray) -> np.ndarray:
    """Surprise's unknown-pair fallback and clipping for the two models that lack them (footnote [1])."""
    if name not in ("SVD", "BaselineOnly"):
        return pred
    u = train.user_index(users)
    i = train.item_index(items)
    if name == "SVD":
        known_u = np.bincount(train.users, minlength=train.n_users) > 0
        known_i = np.bincount(train.items, minlength=train.n_items) > 0
        unknown = ~(known_u[u] & known_i[i])
        fallback = model.global_mean_ + model.user_bias_[u] + model.item_bias_[i]
        pred = np.where(unknown, fallback, pred)
    return np.clip(pred, 1.0, 5.0)


SEEDED = ("SVD", "SVDpp", "NMF", "CoClustering", "NormalPredictor")
REPLAYED = ("SVDpp", "NMF", "CoClustering")


def replay(name: str, trainset, train: cr.Interactions, test: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """crossrec's model started from Surprise's initial state (its RandomState(0) draws, mapped to
    crossrec's indices) and, for SVD++, visiting the ratings in Surprise's order: the remaining
    difference to Surprise is rounding (float32 factors), not the algorithm. With another seed it
    is what Surprise's ``random_state=seed`` would give, at crossrec's speed."""
    rs = np.random.RandomState(seed)
    users = train.user_index([trainset.to_raw_uid(u) for u in range(trainset.n_users)])
    items = train.item_index([trainset.to_raw_iid(i) for i in range(trainset.n_items)])

    def placed(values, index, n, fill):
        out = np.full((n,) + values.shape[1:], fill, dtype=values.dtype)
        out[index] = values
        return out

    if name == "SVDpp":
        f = 20
        draws = [rs.normal(0, 0.1, (n, f)) for n in (trainset.n_users, trainset.n_items, trainset.n_items)]
        m = train.matrix
        order = []
        for u in range(trainset.n_users):
            cu = users[u]
            row = m.indices[m.indptr[cu] : m.indptr[cu + 1]]
            order.extend(m.indptr[cu] + np.searchsorted(row, items[[i for i, _ in trainset.ur[u]]]))
        model = cr.SVDpp(seed=0, n_threads=1).fit(
            train,
            user_init=placed(draws[0], users, train.n_users, 0.0),
            item_init=placed(draws[1], items, train.n_items, 0.0),
            implicit_init=placed(draws[2], items, train.n_items, 0.0),
            visit_order=np.asarray(order),
        )
    elif name == "NMF":
        f = 15
        pu, qi = rs.uniform(0, 1, (trainset.n_users, f)), rs.uniform(0, 1, (trainset.n_items, f))
        model = cr.NMF(seed=0, n_threads=1).fit(
            train, user_init=placed(pu, users, train.n_users, 0.5), item_init=placed(qi, items, train.n_items, 0.5)
        )
    else:
        cu, ci = rs.randint(3, size=trainset.n_users), rs.randint(3, size=trainset.n_items)
        model = cr.CoClustering(seed=0, n_threads=1).fit(
            train, user_init=placed(cu, users, train.n_users, 0), item_init=placed(ci, items, train.n_items, 0)
        )
    return model.predict(test["user"].to_numpy(), test["item"].to_numpy()).astype(np.float64)


def load():
    from surprise import Dataset, Reader

    path = DATA / "movielens-100k" / "u.data"
    data = Dataset.load_from_file(str(path), reader=Reader("ml-100k"))  # what load_builtin("ml-100k") does
    df = pd.DataFrame(data.raw_ratings, columns=["user", "item", "rating", "ts"]).drop(columns="ts")
    return data, df


def folds(data, df, n_folds: int):
    """Surprise's KFold(random_state=0) folds, and the same folds as crossrec data (checked equal)."""
    from surprise.model_selection import KFold

    users, items = np.unique(df["user"]), np.unique(df["item"])
    for k, (trainset, testset) in enumerate(KFold(random_state=0).split(data)):
        if k >= n_folds:
            break
        test = pd.DataFrame(testset, columns=["user", "item", "rating"])
        key = df["user"] + "\t" + df["item"]
        in_test = key.isin(set(test["user"] + "\t" + test["item"])).to_numpy()
        assert in_test.sum() == len(test) and trainset.n_ratings == (~in_test).sum()
        train = cr.Interactions.from_pandas(df[~in_test], "user", "item", "rating", user_ids=users, item_ids=items)
        yield trainset, testset, train, test


def best_of(fn, repeats: int):
    """(best wall time, best process CPU time, last result). On a shared machine the wall time of a
    short job is inflated less than a long one's (the scheduler favours tasks that just woke), so
    the CPU time ratio is reported too; both libraries run single-threaded by default."""
    best, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        c = time.process_time()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best, best_cpu, out


def run(names, n_folds: int, repeats: int, threads: int, seeds: int) -> dict:
    np.random.seed(0)
    random.seed(0)
    data, df = load()
    fold_data = list(folds(data, df, n_folds))
    rows = {}
    for name in names:
        per_fold = []
        for trainset, testset, train, test in fold_data:
            truth = test["rating"].to_numpy(dtype=np.float64)

            def surprise_run():
                algo = surprise_algo(name)
                algo.fit(trainset)
                return np.array([p.est for p in algo.test(testset)])

            def crossrec_run():
                model = crossrec_model(name, threads).fit(train)
                pred = model.predict(test["user"].to_numpy(), test["item"].to_numpy()).astype(np.float64)
                return surprise_rules(name, model, train, test["user"].to_numpy(), test["item"].to_numpy(), pred)

            t_s, cpu_s, p_s = best_of(surprise_run, repeats)
            t_c, cpu_c, p_c = best_of(crossrec_run, repeats)
            e_s, e_c = p_s - truth, p_c - truth
            extra = {}
            if name in REPLAYED:
                p_r = replay(name, trainset, train, test)
                e_r = p_r - truth
                extra["replay"] = {
                    "rmse": float(np.sqrt(np.mean(e_r**2))),
                    "mae": float(np.mean(np.abs(e_r))),
                    "max_abs_difference_to_surprise": float(np.max(np.abs(p_r - p_s))),
                    "other_seeds_rmse": [
                        float(np.sqrt(np.mean((replay(name, trainset, train, test, sd) - truth) ** 2)))
                        for sd in range(1, seeds)
                    ],
                }
            if name in SEEDED and seeds > 1:
                extra["crossrec_other_seeds_rmse"] = []
                for seed in range(1, seeds):
                    model = crossrec_model(name, threads, seed).fit(train)
                    p = model.predict(test["user"].to_numpy(), test["item"].to_numpy()).astype(np.float64)
                    p = surprise_rules(name, model, train, test["user"].to_numpy(), test["item"].to_numpy(), p)
                    extra["crossrec_other_seeds_rmse"].append(float(np.sqrt(np.mean((p - truth) ** 2))))
            per_fold.append(
                {
                    **extra,
                    "surprise": {
                        "rmse": float(np.sqrt(np.mean(e_s**2))),
                        "mae": float(np.mean(np.abs(e_s))),
                        "time_s": t_s,
                        "cpu_s": cpu_s,
                    },
                    "crossrec": {
                        "rmse": float(np.sqrt(np.mean(e_c**2))),
                        "mae": float(np.mean(np.abs(e_c))),
                        "time_s": t_c,
                        "cpu_s": cpu_c,
                    },
                    "max_abs_prediction_difference": float(np.max(np.abs(p_s - p_c))),
                    # standard error of the MSE difference (pairs independent): the noise floor for Random
                    "mse_difference_se": float(np.std(e_s**2 - e_c**2) / np.sqrt(len(truth))),
                }
            )
            print(name, len(per_fold), json.dumps(per_fold[-1]), flush=True)
        mean = lambda lib, key: float(np.mean([f[lib][key] for f in per_fold]))  # noqa: E731
        total = lambda lib, key="time_s": float(np.sum([f[lib][key] for f in per_fold]))  # noqa: E731
        rows[name] = {
            "label": LABELS[name],
            "published": dict(zip(("rmse", "mae", "time"), PUBLISHED[name])),
            "surprise": {
                "rmse": mean("surprise", "rmse"),
                "mae": mean("surprise", "mae"),
                "time_s": total("surprise"),
                "cpu_s": total("surprise", "cpu_s"),
            },
            "crossrec": {
                "rmse": mean("crossrec", "rmse"),
                "mae": mean("crossrec", "mae"),
                "time_s": total("crossrec"),
                "cpu_s": total("crossrec", "cpu_s"),
            },
            "speedup": total("surprise") / total("crossrec"),
            "cpu_speedup": total("surprise", "cpu_s") / total("crossrec", "cpu_s"),
            "rmse_difference": mean("crossrec", "rmse") - mean("surprise", "rmse"),
            "mae_difference": mean("crossrec", "mae") - mean("surprise", "mae"),
            "folds": per_fold,
        }
        if name in REPLAYED:
            rows[name]["replay"] = {
                "rmse": float(np.mean([f["replay"]["rmse"] for f in per_fold])),
                "mae": float(np.mean([f["replay"]["mae"] for f in per_fold])),
                "max_abs_difference_to_surprise": float(
                    np.max([f["replay"]["max_abs_difference_to_surprise"] for f in per_fold])
                ),
            }
            by_seed = [rows[name]["surprise"]["rmse"]] + [
                float(np.mean([f["replay"]["other_seeds_rmse"][k] for f in per_fold])) for k in range(seeds - 1)
            ]
            rows[name]["surprise_seeds_replayed"] = {
                "n": seeds,
                "rmse_mean": float(np.mean(by_seed)),
                "rmse_sd": float(np.std(by_seed, ddof=1)) if seeds > 1 else 0.0,
                "rmse": by_seed,
            }
        if name in SEEDED and seeds > 1:
            by_seed = [rows[name]["crossrec"]["rmse"]] + [
                float(np.mean([f["crossrec_other_seeds_rmse"][k] for f in per_fold])) for k in range(seeds - 1)
            ]
            rows[name]["crossrec_seeds"] = {
                "n": seeds,
                "rmse_mean": float(np.mean(by_seed)),
                "rmse_sd": float(np.std(by_seed, ddof=1)),
                "rmse": by_seed,
            }
    return rows


def markdown(rows: dict, meta: dict) -> str:
    lines = [
        f"ML-100K, Surprise's benchmark protocol (5-fold KFold(random_state=0), default parameters), "
        f"{meta['folds']} fold(s); times are fit + predict summed over the folds, best of {meta['repeats']}; "
        f"crossrec on {meta['threads']} thread(s); load average {meta['load_before']:.1f} before, "
        f"{meta['load_after']:.1f} after; {meta['date']}.",
        "",
        "| algorithm | published RMSE / MAE / time | Surprise here RMSE / MAE / time | crossrec RMSE / MAE / time "
        "| speed-up wall / CPU | crossrec RMSE over seeds | Surprise RMSE over seeds (replayed) "
        "| crossrec from Surprise's start: RMSE / MAE (max diff) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows.values():
        p, s, c = r["published"], r["surprise"], r["crossrec"]
        lines.append(
            f"| {r['label']} | {p['rmse']:.3f} / {p['mae']:.3f} / {p['time']} "
            f"| {s['rmse']:.4f} / {s['mae']:.4f} / {s['time_s']:.2f} s "
            f"| {c['rmse']:.4f} / {c['mae']:.4f} / {c['time_s']:.2f} s | {r['speedup']:.0f}x / {r['cpu_speedup']:.0f}x "
            f"| {_seeds(r.get('crossrec_seeds'))} | {_seeds(r.get('surprise_seeds_replayed'))} | {_replay(r)} |"
        )
    return "\n".join(lines) + "\n"


def _seeds(s) -> str:
    return f"{s['rmse_mean']:.4f} +- {s['rmse_sd']:.4f} ({s['n']})" if s else ""


def _replay(row: dict) -> str:
    r = row.get("replay")
    return f"{r['rmse']:.4f} / {r['mae']:.4f} ({r['max_abs_difference_to_surprise']:.0e})" if r else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(PUBLISHED), help="comma-separated row names")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=5, help="crossrec seeds 0..N-1 for the seeded rows' spread")
    ap.add_argument("--out", default="surprise_table")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = set(names) - set(PUBLISHED)
    if unknown:
        ap.error(f"unknown rows {sorted(unknown)}; choose from {list(PUBLISHED)}")
    load_before = os.getloadavg()[0]
    rows = run(names, args.folds, args.repeats, args.threads, args.seeds)
    import surprise

    meta = {
        "folds": args.folds,
        "repeats": args.repeats,
        "seeds": args.seeds,
        "threads": args.threads,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "surprise_version": surprise.__version__,
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    md = markdown(rows, meta)
    (RESULTS / f"{args.out}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
