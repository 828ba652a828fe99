"""Auto (method choice with the negative-transfer guard) on the real pairs and their permuted-source
controls: the diagnostics, Auto's choice and result, the best candidate in hindsight (every
candidate fitted on the same training pair and scored on the test cold users), no transfer, and
forced fine-tune; gains with 95 % paired bootstrap intervals.

    python benchmarks/bench_auto.py [--quick]

Writes benchmarks/results/auto.json and benchmarks/results/auto.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

import crossrec as cr
import numpy as np
from crossrec.transfer.auto import Auto
from crossrec.transfer.presets import NO_TRANSFER, auto_candidates, factor_model

DATA = Path(os.environ.get("CROSSREC_DATA", REPO.parent / "shared" / "data"))


def pairs(quick: bool):
    book, music = cr.datasets.douban("book", DATA), cr.datasets.douban("music", DATA)
    yield "douban book->music", cr.CrossDomain(book, music), (0.5,) if quick else (0.2, 0.5, 0.8)
    if not quick:
        yield "douban music->book", cr.CrossDomain(music, book), (0.2, 0.5, 0.8)
    d = cr.datasets.amazon_pair("phone", "electronic", DATA)
    yield "amazon phone->electronic", cr.CrossDomain(d["phone"].train, d["electronic"].train), (0.5,)
    if not quick:
        d = cr.datasets.amazon_pair("sport", "cloth", DATA)
        yield "amazon sport->cloth", cr.CrossDomain(d["sport"].train, d["cloth"].train), (0.5,)


def one(name: str, pair: cr.CrossDomain, fraction: float, budget: float, n_boot: int) -> dict:
    explicit = pair.target.explicit
    metric = "rmse" if explicit else "ndcg@10"
    t0 = time.perf_counter()
    diag = cr.transfer.diagnose(pair, factors=16, iterations=8).values
    diag_s = time.perf_counter() - t0
    split = pair.cold_start_split(fraction, 0.2, seed=0)
    t0, c0 = time.perf_counter(), time.process_time()
    auto = Auto(time_budget=budget).fit(split.train)
    auto_s, auto_cpu = time.perf_counter() - t0, time.process_time() - c0
    src = factor_model(explicit, 32, 10).fit(split.train.source)
    models, secs = {"Auto": auto}, {}
    cpu = {}
    for cand, build in auto_candidates(explicit).items():
        t1, c1 = time.perf_counter(), time.process_time()
        models[cand] = build(src).fit(split.train)
        secs[cand], cpu[cand] = time.perf_counter() - t1, time.process_time() - c1
    ids = split.train.shared_map.ids
    rep = cr.evaluate(
        models,
        split.train.target,
        split.test,
        metrics=[metric],
        segments={"cold": ids[split.cold_users], "warm": ids[split.warm_users]},
        n_bootstrap=n_boot,
        seed=0,
    )
    t = rep.table()
    cands = [c for c in models if c != "Auto"]
    lower = explicit
    pick = min if lower else max
    best = pick(cands, key=lambda c: t.loc[(c, "cold"), metric])
    g_auto = rep.gain("Auto", over=NO_TRANSFER, metric=metric, segment="cold")
    g_auto_w = rep.gain("Auto", over=NO_TRANSFER, metric=metric, segment="warm")
    g_ft = rep.gain("fine-tune pull=1", over=NO_TRANSFER, metric=metric, segment="cold")
    auto_v, best_v = t.loc[("Auto", "cold"), metric], t.loc[(best, "cold"), metric]
    return {
        "pair": name,
        "fraction": fraction,
        "metric": metric,
        "diagnostics": diag,
        "diagnose_seconds": diag_s,
        "auto_choice": auto.choice_,
        "auto_min_source": auto.min_source_,
        "auto_reason": auto.reason_,
        "auto_trials": auto.trials_,
        "auto_seconds": auto_s,
        "budget": budget,
        "candidate_fit_seconds": secs,
        "best_single_seconds": secs[best],
        "auto_cpu_seconds": auto_cpu,
        "candidate_fit_cpu_seconds": cpu,
        "best_single_cpu_seconds": cpu[best],
        "cpu_ratio_auto_over_best_single": float(auto_cpu / max(cpu[best], 1e-9)),
        "table": {f"{m}|{s}": float(v) for (m, s), v in t[metric].items()},
        "best_in_hindsight": best,
        "auto_cold": float(auto_v),
        "best_cold": float(best_v),
        "auto_vs_best": float(auto_v / best_v),
        "auto_within_1pct_of_best": bool(auto_v <= 1.01 * best_v if lower else auto_v >= 0.99 * best_v),
        "auto_gain_cold": [g_auto.estimate, g_auto.low, g_auto.high],
        "auto_gain_warm": [g_auto_w.estimate, g_auto_w.low, g_auto_w.high],
        "forced_finetune_gain_cold": [g_ft.estimate, g_ft.low, g_ft.high],
        "time_ratio_auto_over_best_single": float(auto_s / max(secs[best], 1e-9)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="Douban book->music 50 %% and Amazon phone->electronic")
    ap.add_argument("--budget", type=float, default=120.0)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    t_all = time.perf_counter()
    runs = []
    for name, pair, fractions in pairs(args.quick):
        for fraction in fractions:
            for label, p in ((name, pair), (name + " [permuted source]", pair.permuted_source(seed=0))):
                r = one(label, p, fraction, args.budget, args.bootstrap)
                runs.append(r)
                print(
                    f"{label} cold={fraction:.0%}: Auto chose {r['auto_choice']} (gate {r['auto_min_source']}), "
                    f"{r['metric']} {r['auto_cold']:.4f}; best in hindsight {r['best_in_hindsight']} "
                    f"{r['best_cold']:.4f}; Auto - none {r['auto_gain_cold'][0]:+.4f} "
                    f"[{r['auto_gain_cold'][1]:+.4f}, {r['auto_gain_cold'][2]:+.4f}]; forced fine-tune - none "
                    f"{r['forced_finetune_gain_cold'][0]:+.4f}; Auto {r['auto_seconds']:.0f}s "
                    f"({r['time_ratio_auto_over_best_single']:.1f}x best single; CPU {r['cpu_ratio_auto_over_best_single']:.1f}x)",
                    flush=True,
                )
    out = {"benchmark": "auto", "quick": args.quick, "total_seconds": time.perf_counter() - t_all, "runs": runs}
    res = REPO / "benchmarks" / "results"
    res.mkdir(parents=True, exist_ok=True)
    (res / "auto.json").write_text(
        json.dumps(out, indent=1, default=lambda x: x.item() if isinstance(x, np.generic) else repr(x))
    )
    (res / "auto.md").write_text(markdown(out))


def markdown(out: dict) -> str:
    lines = [
        "| pair | cold | CKA | bias corr | val gain | Auto choice | Auto (cold) | best in hindsight | "
        "Auto - none [95% CI] | forced fine-tune - none | Auto s / best single s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in out["runs"]:
        d, g, f = r["diagnostics"], r["auto_gain_cold"], r["forced_finetune_gain_cold"]
        lines.append(
            f"| {r['pair']} | {r['fraction']:.0%} | {d['factor_cka']:.3f} | {d['bias_correlation']:.3f} | "
            f"{d['validation_gain']:+.3f} | {r['auto_choice']} (gate {r['auto_min_source']}) | "
            f"{r['metric']} {r['auto_cold']:.4f} | {r['best_in_hindsight']} {r['best_cold']:.4f} | "
            f"{g[0]:+.4f} [{g[1]:+.4f}, {g[2]:+.4f}] | {f[0]:+.4f} [{f[1]:+.4f}, {f[2]:+.4f}] | "
            f"{r['auto_seconds']:.0f} / {r['best_single_seconds']:.0f} |"
        )
    lines.append(f"\nTotal {out['total_seconds']:.0f} s.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
