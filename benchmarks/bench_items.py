"""Domains that share items: MovieLens 100K (1997-98) <-> ml-latest-small (1996-2018), the same
films rated by two populations, matched by title and year (cr.datasets.movielens_item_pair).

Cold-start protocol on items: 20/50/80 % of the overlapping films lose every target rating
(test), every other film keeps 80 % of its target ratings for training. Hyper-parameters are
chosen on a validation split carved from the training data. Per direction and fraction: every
default method (bias, popularity, target ALS, target-only = average item row, fine-tune, CMF,
EMCDR) plus CrossDomainKNN (item neighbours from the source raters), evaluated per item (the
paired bootstrap resamples items): RMSE of the held-out ratings of cold and warm films, gain over
the best target-only baseline of the segment with a 95 % interval.

    python benchmarks/bench_items.py [--quick]

Writes benchmarks/results/items.json, items.md and items-gain-<direction>.png (50 %).
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

import crossrec as cr  # noqa: E402
from crossrec.transfer import CrossDomainKNN, Method  # noqa: E402

DATA = Path(os.environ.get("CROSSREC_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results"


def methods():
    out = cr.transfer.default_methods(True)
    out.append(
        Method(
            "cross-domain kNN",
            lambda p, s: CrossDomainKNN(**p),
            [dict(k=40, damping=1.0), dict(k=100, damping=1.0), dict(k=40, damping=5.0), dict(k=100, damping=0.3)],
        )
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="50 % only")
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    fractions = (0.5,) if args.quick else (0.2, 0.5, 0.8)
    runs = []
    for direction in ("100k", "latest"):
        src, tgt = cr.datasets.movielens_item_pair(direction, DATA)
        pair = cr.CrossDomain(src, tgt, shared="items")
        name = "ML100K -> ml-latest" if direction == "100k" else "ml-latest -> ML100K"
        for f in fractions:
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            res = cr.transfer.run(pair, methods=methods(), fraction=f, seed=0, n_bootstrap=args.bootstrap)
            secs = time.perf_counter() - t0
            g = res.gains[res.gains.metric == "rmse"]
            cold = g[g.segment == "cold"].sort_values("value")
            best = cold.iloc[0]
            warm = g[(g.segment == "warm") & (g.method == best.method)].iloc[0]
            runs.append(
                {
                    "pair": name,
                    "fraction": f,
                    "entity": res.entity,
                    "summary": {k: v for k, v in pair.summary().items() if k not in ("source", "target")},
                    "n_cold_items": len(res.split.cold_users),
                    "n_warm_items": len(res.split.warm_users),
                    "seconds": secs,
                    "load_average_1min": load,
                    "table": {
                        f"{m}|{s}": {c: float(v) for c, v in row.items()} for (m, s), row in res.table().iterrows()
                    },
                    "gains": res.gains.to_dict(orient="records"),
                    "chosen": {k: repr(v) for k, v in res.chosen.items()},
                    "best_cold": best.to_dict(),
                    "best_cold_warm": warm.to_dict(),
                    "target_cold_ci_excludes_0": bool(best.high < 0),
                    "target_warm_within_1pct": bool(warm.value <= warm.baseline_value * 1.01),
                }
            )
            print(
                f"{name} {f:.0%}: best cold {best.method} {best.value:.4f} vs {best.baseline} "
                f"{best.baseline_value:.4f} [{best.low:+.4f}, {best.high:+.4f}]; warm {warm.value:.4f} vs "
                f"{warm.baseline_value:.4f} ({secs:.0f} s, load {load:.1f})",
                flush=True,
            )
            if f == 0.5:
                res.plot("rmse", path=RESULTS / f"items-gain-{direction}.png")
    (RESULTS / "items.json").write_text(json.dumps(runs, indent=1, default=str))
    lines = [
        "# Item-shared transfer: MovieLens 100K <-> ml-latest-small (RMSE per item, 95 % paired bootstrap)",
        "",
        "Cold items: every target rating of a seeded fraction of the overlapping films held out. Best "
        "target-only = best of bias (mu + b_u: the item-less fallback), popularity, target ALS and "
        "target-only (average item row), chosen per segment on the test table (favours the baselines).",
        "",
        "| direction | cold % | cold items | best method | cold RMSE | best target-only | its RMSE | gain [95 % CI] | "
        "warm RMSE (method) | warm best target-only | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        b, w = r["best_cold"], r["best_cold_warm"]
        lines.append(
            f"| {r['pair']} | {r['fraction']:.0%} | {r['n_cold_items']} | {b['method']} | {b['value']:.4f} | "
            f"{b['baseline']} | {b['baseline_value']:.4f} | {b['estimate']:+.4f} [{b['low']:+.4f}, {b['high']:+.4f}] | "
            f"{w['value']:.4f} | {w['baseline_value']:.4f} ({w['baseline']}) | {r['load_average_1min']:.1f} |"
        )
    lines += ["", "All methods, cold and warm items (RMSE gain over the segment's best target-only, 95 % CI):", ""]
    lines += ["| direction | cold % | method | segment | RMSE | gain [95 % CI] |", "|---|---|---|---|---|---|"]
    for r in runs:
        for g in r["gains"]:
            if g["metric"] == "rmse":
                lines.append(
                    f"| {r['pair']} | {r['fraction']:.0%} | {g['method']} | {g['segment']} | {g['value']:.4f} | "
                    f"{g['estimate']:+.4f} [{g['low']:+.4f}, {g['high']:+.4f}] |"
                )
    (RESULTS / "items.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
