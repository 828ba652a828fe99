"""Cross-domain transfer under the cold-start protocol on the real pairs.

Douban book -> music and music -> book (explicit; cold fractions 20/50/80 %) and the Amazon
DisenCDR pairs sport <-> cloth and phone <-> electronic (implicit; cold users ranked over all
target items; the published train files are the domains, our own seeded split makes the test).
Per pair: the cold-start split, hyper-parameters tuned on a validation split carved from training
data, every method fitted, and the gain of each transfer method over the best target-only baseline
(bias model / popularity / target-only ALS, whichever is best on that segment) with a 95 % paired
bootstrap interval. The "peer" here is the best target-only baseline, in the same run.

    python benchmarks/bench_transfer.py [--quick]

Writes benchmarks/results/transfer.json and benchmarks/results/transfer.md.
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

DATA = Path(os.environ.get("CROSSREC_DATA", REPO.parent / "shared" / "data"))


def pairs(quick: bool):
    book, music = cr.datasets.douban("book", DATA), cr.datasets.douban("music", DATA)
    fr = (0.5,) if quick else (0.2, 0.5, 0.8)
    for f in fr:
        yield "douban book->music", cr.CrossDomain(book, music), f
        yield "douban music->book", cr.CrossDomain(music, book), f
    amazon = [("sport", "cloth"), ("phone", "electronic")]
    for a, b in amazon[:1] if quick else amazon:
        d = cr.datasets.amazon_pair(a, b, DATA)
        yield f"amazon {a}->{b}", cr.CrossDomain(d[a].train, d[b].train), 0.5
        yield f"amazon {b}->{a}", cr.CrossDomain(d[b].train, d[a].train), 0.5


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one fraction, one Amazon pair")
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    t_all, c_all = time.perf_counter(), time.process_time()
    runs = []
    for name, pair, fraction in pairs(args.quick):
        t0, c0 = time.perf_counter(), time.process_time()
        res = cr.transfer.run(pair, fraction=fraction, test_size=0.2, seed=0, n_bootstrap=args.bootstrap)
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        table = res.table()
        key = res.metrics[0]
        lower = key in ("rmse", "mae")
        cold = res.gains[(res.gains.segment == "cold") & (res.gains.metric == key)]
        best = cold.sort_values("value", ascending=lower).iloc[0]
        warm = res.gains[(res.gains.segment == "warm") & (res.gains.metric == key)]
        warm_best = warm[warm.method == best.method].iloc[0]
        if lower:
            target_ok = bool(best.high < 0 and -best.relative >= 0.03)
            warm_ok = bool(warm_best.value <= warm_best.baseline_value * 1.01)
        else:
            target_ok = bool(best.low > 0 and best.value >= 1.5 * best.baseline_value)
            warm_ok = bool(warm_best.value >= warm_best.baseline_value * 0.99)
        run = {
            "pair": name,
            "fraction": fraction,
            "summary": pair.summary(),
            "seconds": secs,
            "cpu_seconds": cpu,
            "metric": key,
            "n_cold": len(res.split.cold_users),
            "n_warm": len(res.split.warm_users),
            "table": {f"{m}|{s}": {c: float(v) for c, v in row.items()} for (m, s), row in table.iterrows()},
            "gains": res.gains.to_dict(orient="records"),
            "chosen": {k: repr(v) for k, v in res.chosen.items()},
            "validation": res.validation.to_dict(orient="records"),
            "fit_seconds": res.times,
            "best_cold": {
                "method": best.method,
                "value": float(best.value),
                "baseline": best.baseline,
                "baseline_value": float(best.baseline_value),
                "estimate": float(best.estimate),
                "low": float(best.low),
                "high": float(best.high),
                "ratio": float(best.value / best.baseline_value),
            },
            "warm_of_best": {
                "value": float(warm_best.value),
                "baseline": warm_best.baseline,
                "baseline_value": float(warm_best.baseline_value),
            },
            "target_met_cold": target_ok,
            "target_met_warm": warm_ok,
        }
        runs.append(run)
        print(
            f"{name} cold={fraction:.0%}: best cold {best.method} {key}={best.value:.4f} vs {best.baseline} "
            f"{best.baseline_value:.4f} (ratio {best.value / best.baseline_value:.3f}, CI of diff "
            f"{best.low:+.4f}..{best.high:+.4f}); warm {warm_best.value:.4f} vs {warm_best.baseline_value:.4f}; "
            f"{secs:.0f}s wall, {cpu:.0f}s CPU",
            flush=True,
        )
    total = time.perf_counter() - t_all
    out = {
        "benchmark": "transfer",
        "quick": args.quick,
        "total_seconds": total,
        "total_cpu_seconds": time.process_time() - c_all,
        "load_average": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "runs": runs,
    }
    res_dir = REPO / "benchmarks" / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    (res_dir / "transfer.json").write_text(json.dumps(out, indent=1, default=_json))
    (res_dir / "transfer.md").write_text(markdown(out))
    print(
        json.dumps(
            {
                "total_seconds": total,
                "targets_met_cold": [r["target_met_cold"] for r in runs],
                "targets_met_warm": [r["target_met_warm"] for r in runs],
            }
        )
    )


def _json(x):
    if isinstance(x, (np.generic,)):
        return x.item()
    if isinstance(x, tuple):
        return list(x)
    return repr(x)


def markdown(out: dict) -> str:
    lines = [
        "| pair | cold | metric | best baseline (cold) | best transfer (cold) | ratio | 95% CI of diff | "
        "target | warm: method vs best baseline | s wall / CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in out["runs"]:
        b, w = r["best_cold"], r["warm_of_best"]
        lines.append(
            f"| {r['pair']} | {r['fraction']:.0%} | {r['metric']} | {b['baseline']} {b['baseline_value']:.4f} | "
            f"{b['method']} {b['value']:.4f} | {b['ratio']:.3f} | {b['low']:+.4f} .. {b['high']:+.4f} | "
            f"{'met' if r['target_met_cold'] else 'missed'} | {w['value']:.4f} vs {w['baseline_value']:.4f} "
            f"({'ok' if r['target_met_warm'] else 'worse'}) | {r['seconds']:.0f} / {r['cpu_seconds']:.0f} |"
        )
    lines.append(
        f"\nTotal {out['total_seconds']:.0f} s wall, {out['total_cpu_seconds']:.0f} s CPU (all threads) on "
        f"{out['cpu_count']} cores shared with other jobs (load average {out['load_average'][0]:.1f})."
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
