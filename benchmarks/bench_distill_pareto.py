"""Distillation frontier (issue 15, section 4): how much of the teacher's NDCG@10 a student keeps
against what it costs to serve, for two student families, on Douban and two Amazon pairs.

Protocol (the one of ``bench_distill.py``): ``pair.cold_start_split(fraction=0.2, test_size=0.2,
seed=0)``; the teacher is implicit ALS with 128 factors on the joint [source | target train]
matrix (it knows cold users from the source domain), served on the target items. Students:

* ``low-rank (SVD)``: the best rank-f approximation of the teacher's standardised scores
  (``teacher_svd``), f = 8, 16, 32, 64: the ceiling of any low-rank student in Frobenius norm;
* ``low-rank (Distill)``: ``cr.transfer.Distill`` with a BPR student of f factors, started from that
  SVD and fine-tuned with the ranking loss (bench_distill's settings, chosen on validation there);
* ``popularity`` (``cr.MostPopular``), as a reference only: the retention of a list that needs no
  teacher at all;
* ``sparse item-item (SparseDistill)``: ``cr.transfer.SparseDistill``, k = 2 ... 200 weights per
  history item (source and target items), one fit at the largest k and ``pruned(k)`` for the rest
  (equal to fitting each k). Its ridge weight is chosen on a validation split carved from the
  training data (``split.validation(seed=1)``, teacher refitted there), never on test; the
  "chosen" student is the smallest k whose *validation* retention is >= 95 % for cold and warm
  users.

Serving cost: multiply-adds to score one user, averaged over users: F x n_items for a factor model
(plus the bias), ``sum_{i in history(u)} nnz(W[i])`` for the sparse student (``serving_cost_``).
Bytes: the parameters the model serves with (float32 values; int32 indices for sparse weights),
and separately the user histories the sparse student reads. Wall time: ``recommend_indices`` for
all target users, top 10, seen items excluded, best of 3, the teacher and every student in the
same run (``uptime`` load recorded). Retention: student NDCG@10 / teacher NDCG@10 over the test
users of each segment, with a 95 % paired bootstrap interval.

Usage: python benchmarks/bench_distill_pareto.py [--quick] [--pairs ...] [--no-plot]
Writes benchmarks/results/distill_pareto.{json,md,png} (``--quick``: Douban only, *_quick files).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("CROSSREC_DATA", str(ROOT.parent / "shared" / "data"))

import crossrec as cr  # noqa: E402
from bench_distill import (  # noqa: E402
    PAIRS,
    SETTINGS,
    SVD_LR,
    SVD_SETTINGS,
    FactorModel,
    _metrics_dict,
    best_of,
    joint_als_teacher,
    retention_ci,
)
from crossrec.transfer import Distill, SparseDistill  # noqa: E402
from crossrec.transfer.distill import teacher_svd  # noqa: E402

TEACHER_FACTORS = 128
LOW_RANK = (8, 16, 32, 64)
SPARSE_K = (2, 5, 10, 20, 50, 200)
RIDGE = (100.0, 1000.0)  # chosen on validation (10 lost to 100 on the Douban and phone->electronic validation splits)
TARGET_RETENTION = 0.95
DEFAULT_PAIRS = ("douban book->music", "amazon phone->electronic", "amazon sport->phone")
SEGMENTS = ("cold", "warm")


def load():
    return float(os.getloadavg()[0])


def sparse_family(teacher, train, lam, threads):
    """{k: SparseDistill} from one fit at the largest k, and that fit's seconds."""
    t0 = time.perf_counter()
    big = SparseDistill(teacher, k=max(SPARSE_K), regularization=lam, n_threads=threads).fit(train)
    sec = time.perf_counter() - t0
    return {k: (big if k == big.k else big.pruned(k)) for k in SPARSE_K}, sec


def retention(metrics, key):
    return {s: metrics[key][s]["ndcg@10"] / metrics["teacher"][s]["ndcg@10"] for s in SEGMENTS}


def choose_on_validation(split, threads):
    """Ridge weight and k of the sparse student from a validation split carved from train."""
    val = split.validation(seed=1)
    tr = val.train
    segs = {"cold": tr.target.user_ids[val.cold_users], "warm": tr.target.user_ids[val.warm_users]}
    teacher, _ = joint_als_teacher(tr, TEACHER_FACTORS, threads)
    models = {"teacher": teacher}
    for lam in RIDGE:
        fam, _ = sparse_family(teacher, tr, lam, threads)
        models.update({f"lam={lam} k={k}": m for k, m in fam.items()})
    m = _metrics_dict(
        cr.evaluate(models, tr.target, val.test, metrics=["ndcg@10"], segments=segs, n_bootstrap=10, seed=0).table()
    )
    ret = {key: retention(m, key) for key in models if key != "teacher"}
    # ridge: the best mean retention over the k grid (cold and warm alike)
    lam = max(RIDGE, key=lambda lam: np.mean([min(ret[f"lam={lam} k={k}"].values()) for k in SPARSE_K]))
    ok = [k for k in SPARSE_K if min(ret[f"lam={lam} k={k}"].values()) >= TARGET_RETENTION]
    k = min(ok) if ok else max(SPARSE_K, key=lambda k: min(ret[f"lam={lam} k={k}"].values()))
    return {"regularization": lam, "k": k, "validation_retention": ret}


def model_bytes(m, n_items):
    if isinstance(m, cr.MostPopular):
        return 4 * n_items
    if isinstance(m, SparseDistill):
        w = m.weights_
        return int(w.data.nbytes + w.indices.nbytes + w.indptr.nbytes)
    return 4 * int(m.n_parameters_)


def run_pair(name, threads, quick):
    source, target = PAIRS[name]()
    pair = cr.CrossDomain(source, target)
    split = pair.cold_start_split(fraction=0.2, test_size=0.2, seed=0)
    train, test = split.train, split.test
    n_items = train.target.n_items
    segments = {s: train.target.user_ids[getattr(split, f"{s}_users")] for s in SEGMENTS}
    out = {
        "pair": name,
        "target_users": int(train.target.n_users),
        "target_items": int(n_items),
        "source_items": int(train.source.n_items),
        "target_train_nnz": int(train.target.nnz),
        "source_nnz": int(train.source.nnz),
        "cold_users": len(split.cold_users),
        "warm_users": len(split.warm_users),
        "protocol": "cold_start_split(fraction=0.2, test_size=0.2, seed=0); ranking excludes train items",
    }
    print(f"== {name}: {out['target_users']} users, {n_items} target items", flush=True)
    out["chosen_on_validation"] = choose_on_validation(split, threads)
    lam, k_chosen = out["chosen_on_validation"]["regularization"], out["chosen_on_validation"]["k"]
    print(f"  validation: ridge {lam}, k {k_chosen}", flush=True)

    teacher, _ = joint_als_teacher(train, TEACHER_FACTORS, threads)
    models = {"teacher": teacher}
    info = {
        "teacher": {
            "family": "teacher",
            "size": TEACHER_FACTORS,
            "parameters": int(teacher.n_parameters_),
            "cost_per_user": float(TEACHER_FACTORS * n_items),
        }
    }
    # reference: what needs no teacher at all (retention of a non-personalised list)
    models["popularity"] = cr.MostPopular().fit(train.target)
    info["popularity"] = {
        "family": "reference (popularity)",
        "size": 0,
        "parameters": int(n_items),
        "cost_per_user": 0.0,
    }
    for f in LOW_RANK:
        t0 = time.perf_counter()
        P, Q = teacher_svd(teacher, train.target.user_ids, train.target.item_ids, f, scale=1 / SETTINGS["temperature"])
        models[f"svd f={f}"] = FactorModel("teacher SVD").set(train.target, P, Q)
        info[f"svd f={f}"] = {"family": "low-rank (SVD)", "size": f, "fit_seconds": time.perf_counter() - t0}
        kw = dict(SETTINGS, loss="ranking", learning_rate=SVD_LR["ranking"], n_threads=threads, **SVD_SETTINGS)
        t0 = time.perf_counter()
        models[f"Distill f={f}"] = Distill(teacher, cr.BPR(factors=f), **kw).fit(train)
        info[f"Distill f={f}"] = {"family": "low-rank (Distill)", "size": f, "fit_seconds": time.perf_counter() - t0}
        for key in (f"svd f={f}", f"Distill f={f}"):
            info[key]["parameters"] = int(models[key].n_parameters_)
            bias = 0 if key.startswith("svd") else n_items
            info[key]["cost_per_user"] = float(f * n_items + bias)
    fam, fit_sec = sparse_family(teacher, train, lam, threads)
    for k, m in fam.items():
        key = f"SparseDistill k={k}"
        models[key] = m
        info[key] = {
            "family": "sparse item-item (SparseDistill)",
            "size": k,
            "parameters": int(m.n_parameters_),
            "cost_per_user": float(m.serving_cost_.mean()),
            "history_bytes": int(m.history_.data.nbytes + m.history_.indices.nbytes + m.history_.indptr.nbytes),
            "fit_seconds_of_largest_k": fit_sec,
            "chosen": k == k_chosen,
        }
    print(f"  fitted; sparse fit {fit_sec:.1f}s at load {load():.1f}", flush=True)

    users = np.arange(train.target.n_users, dtype=np.int32)
    out["load_before_timing"] = load()
    for key, m in models.items():
        info[key]["recommend_all_seconds"] = best_of(lambda m=m: m.recommend_indices(users, n=10), 1 if quick else 3)
        info[key]["bytes"] = model_bytes(m, n_items)
    out["load_after_timing"] = load()
    t_sec, t_cost, t_bytes = (info["teacher"][c] for c in ("recommend_all_seconds", "cost_per_user", "bytes"))
    for entry in info.values():
        entry["cost_ratio"] = entry["cost_per_user"] / t_cost
        entry["time_ratio"] = entry["recommend_all_seconds"] / t_sec
        entry["bytes_ratio"] = entry["bytes"] / t_bytes

    report = cr.evaluate(
        models, train.target, test, metrics=["ndcg@10"], segments=segments, n_bootstrap=200 if quick else 1000, seed=0
    )
    metrics = _metrics_dict(report.table())
    for key, entry in info.items():
        entry["ndcg@10"] = {s: metrics[key][s]["ndcg@10"] for s in ("all", *SEGMENTS)}
        if key == "teacher":
            continue
        entry["retention"] = retention(metrics, key)
        entry["retention_ci"] = {s: retention_ci(report, key, "teacher", s, 200 if quick else 1000) for s in SEGMENTS}
    out["models"] = info
    return out


def frontier_frame(results):
    rows = []
    for p in results["pairs"]:
        for key, e in p["models"].items():
            if key == "teacher" or e["family"].startswith("reference"):
                continue
            for s in SEGMENTS:
                lo, hi = e["retention_ci"][s]
                rows.append(
                    {
                        "pair": p["pair"],
                        "segment": s,
                        "family": e["family"],
                        "model": key,
                        "cost_ratio": e["cost_ratio"],
                        "retention": e["retention"][s],
                        "low": lo,
                        "high": hi,
                    }
                )
    return pd.DataFrame(rows)


def markdown(results):
    lines = [
        "# Distillation frontier: teacher's NDCG@10 kept vs serving cost",
        "",
        f"Made by `benchmarks/bench_distill_pareto.py` ({results['date']}, {results['threads']} threads, "
        f"commit {results['commit']}). Teacher: joint implicit ALS, {TEACHER_FACTORS} factors. Cost = "
        "multiply-adds to score one user (mean); bytes = served parameters; time = `recommend_indices` "
        "for all target users, top 10, best of 3, all models in the same run (load stated per pair). "
        "Retention = student NDCG@10 / teacher NDCG@10 on the test users of the segment, 95 % paired "
        "bootstrap. The sparse student's ridge weight and its chosen k (marked *) were picked on a "
        "validation split carved from train (smallest k with validation retention >= 95 % cold and warm).",
        "",
    ]
    for p in results["pairs"]:
        ch = p["chosen_on_validation"]
        lines += [
            f"## {p['pair']}",
            "",
            f"{p['target_users']} target users ({p['cold_users']} cold / {p['warm_users']} warm in test), "
            f"{p['target_items']} target items, {p['source_items']} source items; load "
            f"{p['load_before_timing']:.1f} -> {p['load_after_timing']:.1f} during timing; validation chose "
            f"ridge {ch['regularization']}, k = {ch['k']}.",
            "",
            "| model | family | params | bytes (x teacher) | cost/user (x teacher) | recommend all (x teacher) "
            "| NDCG@10 cold | NDCG@10 warm | retention cold [CI] | retention warm [CI] |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for key, e in p["models"].items():
            if key == "teacher":
                ret = "1 | 1"
            else:
                ret = " | ".join(
                    f"{e['retention'][s]:.3f} [{e['retention_ci'][s][0]:.3f}, {e['retention_ci'][s][1]:.3f}]"
                    for s in SEGMENTS
                )
            star = " *" if e.get("chosen") else ""
            lines.append(
                f"| {key}{star} | {e['family']} | {e['parameters']:,} | {e['bytes']:,} ({e['bytes_ratio']:.3f}) "
                f"| {e['cost_per_user']:,.0f} ({e['cost_ratio']:.4f}) | {e['recommend_all_seconds']:.3f} s "
                f"({e['time_ratio']:.3f}) | {e['ndcg@10']['cold']:.4f} | {e['ndcg@10']['warm']:.4f} | {ret} |"
            )
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="Douban only, one timing repeat")
    ap.add_argument("--pairs", default=None, help="comma-separated subset of: " + ", ".join(PAIRS))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()
    names = list(DEFAULT_PAIRS) if args.pairs is None else [p.strip() for p in args.pairs.split(",")]
    if args.quick:
        names = names[:1]
    stem = ROOT / "benchmarks" / "results" / ("distill_pareto_quick" if args.quick else "distill_pareto")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    results = {
        "benchmark": "distill_pareto",
        "quick": args.quick,
        "threads": cr._core.max_threads() if not args.threads else args.threads,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit.stdout.strip(),
        "load_at_start": load(),
        "pairs": [],
    }
    for name in names:  # written after every pair, so a long run keeps what it finished
        results["pairs"].append(run_pair(name, args.threads, args.quick))
        stem.with_suffix(".json").write_text(json.dumps(results, indent=1, default=float))
        stem.with_suffix(".md").write_text(markdown(results))
    if not args.no_plot:
        from crossrec.transfer.plots import plot_retention_frontier

        plot_retention_frontier(frontier_frame(results), path=stem.with_suffix(".png"))
    print(markdown(results))


if __name__ == "__main__":
    main()
