"""What a distillation epoch costs against a plain epoch, and what fewer distillation samples cost
in quality (issue 15, section 4).

A distillation epoch adds, per user, ``min(K, n_samples) + n_negatives`` scored candidates to the
plain epoch's work, which is proportional to the user's interactions. So the ratio follows the
interactions per user, not the catalogue size. This script measures, side by side in one run
(best of 3, alternating, ``uptime`` load recorded), the epoch-time ratio (distillation epoch /
plain epoch of the same kernel and student, ``bench_distill.epoch_seconds``) for a range of
``(n_samples, n_negatives)``, and the 32-factor ranking-loss student's retention of the
128-factor joint-ALS teacher's NDCG@10 (cold, warm) with the same settings. Settings are fixed in
advance (no choice is made here, so the test split is only measured, never tuned on).

Usage: python benchmarks/bench_distill_budget.py [--pairs ...]
Writes benchmarks/results/distill_budget.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

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
    _metrics_dict,
    epoch_seconds,
    joint_als_teacher,
)
from crossrec.transfer import Distill  # noqa: E402
from crossrec.transfer.distill import teacher_knowledge  # noqa: E402

BUDGETS = ((16, 16), (8, 8), (4, 4), (2, 2))
FACTORS = 32
DEFAULT_PAIRS = ("amazon sport->phone", "amazon phone->electronic")


def run_pair(name, threads):
    source, target = PAIRS[name]()
    split = cr.CrossDomain(source, target).cold_start_split(fraction=0.2, test_size=0.2, seed=0)
    train, test = split.train, split.test
    segs = {"cold": train.target.user_ids[split.cold_users], "warm": train.target.user_ids[split.warm_users]}
    teacher, _ = joint_als_teacher(train, 128, threads)
    knowledge = teacher_knowledge(teacher, train.target.user_ids, train.target.item_ids, SETTINGS["top_k"], threads)
    out = {
        "pair": name,
        "target_items": int(train.target.n_items),
        "interactions_per_user": float(train.target.nnz / train.target.n_users),
        "rows": [],
    }
    models = {"teacher": teacher}
    for n_samples, n_negatives in BUDGETS:
        kw = dict(SETTINGS, loss="ranking", learning_rate=SVD_LR["ranking"], n_threads=threads, **SVD_SETTINGS)
        kw.update(n_samples=n_samples, n_negatives=n_negatives)
        models[f"{n_samples}/{n_negatives}"] = Distill(teacher, cr.BPR(factors=FACTORS), **kw).fit(train)
    metrics = _metrics_dict(
        cr.evaluate(models, train.target, test, metrics=["ndcg@10"], segments=segs, n_bootstrap=10, seed=0).table()
    )
    out["load_before_timing"] = os.getloadavg()[0]
    for n_samples, n_negatives in BUDGETS:
        key = f"{n_samples}/{n_negatives}"
        # epoch_seconds draws n_samples teacher items and as many negatives (BUDGETS are pairs of equals)
        plain, dist, _ = epoch_seconds(train.target, knowledge, FACTORS, "ranking", threads, n_samples)
        out["rows"].append(
            {
                "n_samples": n_samples,
                "n_negatives": n_negatives,
                "plain_epoch_seconds": plain,
                "distill_epoch_seconds": dist,
                "epoch_ratio": dist / plain,
                "retention": {
                    s: metrics[key][s]["ndcg@10"] / metrics["teacher"][s]["ndcg@10"] for s in ("cold", "warm")
                },
            }
        )
        print(f"  {name} {key}: ratio {dist / plain:.2f}, retention {out['rows'][-1]['retention']}", flush=True)
    out["load_after_timing"] = os.getloadavg()[0]
    return out


def markdown(results):
    lines = [
        "# Distillation epoch cost vs samples per user",
        "",
        f"`benchmarks/bench_distill_budget.py`, {results['date']}. Epoch ratio = distillation epoch / "
        "plain epoch of the same kernel and 32-factor student, best of 3, alternating, same run. "
        "Retention = the student's NDCG@10 / the 128-factor teacher's on test (settings fixed in advance).",
        "",
        "| pair | items | interactions/user | samples/negatives | epoch ratio | retention cold | retention warm |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in results["pairs"]:
        for r in p["rows"]:
            lines.append(
                f"| {p['pair']} (load {p['load_before_timing']:.1f}) | {p['target_items']} "
                f"| {p['interactions_per_user']:.1f} | {r['n_samples']}/{r['n_negatives']} | {r['epoch_ratio']:.2f} "
                f"| {r['retention']['cold']:.3f} | {r['retention']['warm']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", default=None, help="comma-separated subset of: " + ", ".join(PAIRS))
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    names = list(DEFAULT_PAIRS) if args.pairs is None else [p.strip() for p in args.pairs.split(",")]
    results = {"benchmark": "distill_budget", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "pairs": []}
    stem = ROOT / "benchmarks" / "results" / "distill_budget"
    for name in names:
        results["pairs"].append(run_pair(name, args.threads))
        stem.with_suffix(".json").write_text(json.dumps(results, indent=1, default=float))
        stem.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
