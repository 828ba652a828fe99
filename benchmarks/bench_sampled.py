"""crossrec's CMF vs target-only ALS on one Amazon pair (DisenCDR's published train.txt / test.txt),
under full ranking and under both literature samplers (DisenCDR's, CDIMF's; 999 negatives).

Defaults only, no tuning (so nothing is selected on test). Writes benchmarks/results/sampled.json
and .md. Usage: python benchmarks/bench_sampled.py [--pair sport phone] [--target phone]
"""

from __future__ import annotations

import argparse
import time

import crossrec as cr
from _common import DATA, RESULTS, machine, write

METRICS_SAMPLED = ["hit@10", "ndcg@10", "mrr"]
METRICS_FULL = ["hit@10", "ndcg@10"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pair", nargs=2, default=["sport", "phone"])
    ap.add_argument("--target", default="phone")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    a, b = args.pair
    d = cr.datasets.amazon_pair(a, b, DATA)
    source = b if args.target == a else a
    train, test = d[args.target].train, d[args.target].test
    fits = {}
    t0 = time.perf_counter()
    als = cr.ALS(seed=args.seed).fit(train)
    fits["ALS (target only)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cmf = cr.transfer.CMF(seed=args.seed).fit(cr.CrossDomain(d[source].train, train))
    fits["CMF"] = time.perf_counter() - t0
    models = {"ALS (target only)": als, "CMF": cmf}
    out = {"pair": f"{source}->{args.target}", "machine": machine(), "fit_seconds": fits, "protocols": {}}
    for sampler in (None, "disencdr", "cdimf"):
        kw = {} if sampler is None else {"protocol": "sampled", "sampler": sampler}
        t0 = time.perf_counter()
        rep = cr.evaluate(
            models, train, test, METRICS_FULL if sampler is None else METRICS_SAMPLED, seed=args.seed, **kw
        )
        key = sampler or "full"
        gain = rep.gain("CMF", "ALS (target only)", "ndcg@10", n_bootstrap=1000)
        out["protocols"][key] = {
            "eval_seconds": time.perf_counter() - t0,
            "table": {m: {c: float(v) for c, v in row.items()} for (m, _), row in rep.table().iterrows()},
            "gain_ndcg10_cmf_minus_als": [gain.estimate, gain.low, gain.high],
        }
    write("sampled", out)
    lines = [
        f"# Sampled vs full ranking: {out['pair']} (Amazon, DisenCDR's files), defaults, seed {args.seed}",
        "",
        f"load average (1 min): {out['machine']['load_average_1min']:.2f}; "
        "no tuning, nothing selected on test (DisenCDR selects its epoch on test.txt).",
        "",
        "| protocol | model | HR@10 | NDCG@10 | MRR | CMF-ALS NDCG@10 (95 % CI) |",
        "|---|---|---|---|---|---|",
    ]
    for key, res in out["protocols"].items():
        g = res["gain_ndcg10_cmf_minus_als"]
        for model, row in res["table"].items():
            mrr = f"{row['mrr']:.4f}" if "mrr" in row else "-"
            lines.append(
                f"| {key} | {model} | {row['hit@10']:.4f} | {row['ndcg@10']:.4f} | {mrr} | "
                f"{g[0]:+.4f} ({g[1]:+.4f} .. {g[2]:+.4f}) |"
            )
    (RESULTS / "sampled.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
