"""EMCDR's *target* model start on implicit feedback, measured on validation carved from training:
the source model starts "wide" in both arms (``transfer._common.source_start``), the target model
starts ``"small"`` (ALS's default, today's) or ``"wide"``; cold-user NDCG@10 (the map) and warm
(EMCDR serves warm users from its target model). Same seeds, one factor changed.

* The four Amazon pairs of bench_transfer (sport <-> cloth, phone <-> electronic), its cold-start
  split (seed 0, 50 % cold), scored only on ``split.validation(seed=1)`` (never the test split).
* bench_transfer's ALS (32 factors, 10 sweeps, ridge 1, alpha 10) and its chosen EMCDR setting on
  Amazon (l2 1, user statistics), as bench_als_start.py.

    python benchmarks/bench_emcdr_target_start.py [--seeds 3]

Writes benchmarks/results/emcdr_target_start.json and .md (reuses bench_als_start's helpers).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

import crossrec as cr  # noqa: E402
from crossrec.transfer.presets import als_defaults  # noqa: E402
from _common import RESULTS, machine, write  # noqa: E402
from bench_als_start import STARTS, ndcg, summary  # noqa: E402

PAIRS = (("sport", "cloth"), ("cloth", "sport"), ("phone", "electronic"), ("electronic", "phone"))


def measure(seeds: int) -> list[dict]:
    rows = []
    for src_name, tgt_name in PAIRS:
        d = cr.datasets.amazon_pair(src_name, tgt_name)
        pair = cr.CrossDomain(d[src_name].train, d[tgt_name].train)
        split = pair.cold_start_split(0.5, 0.2, 0).validation(seed=1)
        for seed in range(seeds):
            src = cr.ALS(**als_defaults(False), start="wide", seed=seed).fit(split.train.source)
            for start in STARTS:
                tgt = cr.ALS(**als_defaults(False), start=start, seed=seed).fit(split.train.target)
                em = cr.transfer.EMCDR(src, tgt, l2=1.0, user_stats=True).fit(split.train)
                res = ndcg({"EMCDR": em}, split, split.segments)
                for (method, segment), v in res.items():
                    rows.append(
                        dict(
                            data=f"amazon {src_name}->{tgt_name}",
                            part="validation",
                            start=start,
                            seed=seed,
                            method=method,
                            segment=segment,
                            ndcg=v,
                        )
                    )
                print(f"{src_name}->{tgt_name} target {start} seed {seed}: {res}", flush=True)
    return rows


def markdown(out: dict) -> str:
    lines = [
        "# EMCDR's target-model start (`benchmarks/bench_emcdr_target_start.py`)",
        "",
        f"NDCG@10 on the validation split carved from training (never test), mean +- sd over {out['seeds']} "
        "ALS seeds; the source model starts wide in both columns, the target model as the column says. "
        f"t: Welch's t of wide - small. {out['seconds']:.0f} s at load average {out['load_before'][0]:.1f} -> "
        f"{out['load_after'][0]:.1f} on {out['machine'].get('cpus', '?')} shared cores.",
        "",
        "| data | segment | target small | target wide | change | t |",
        "|---|---|---|---|---|---|",
    ]
    for r in out["summary"]:
        lines.append(
            f"| {r['data']} | {r['segment']} | {r['small']:.4f} +- {r['small_sd']:.4f} | "
            f"{r['wide']:.4f} +- {r['wide_sd']:.4f} | {r['change'] * 100:+.1f} % | {r['t']:+.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args(argv)
    t0, load0 = time.perf_counter(), os.getloadavg()
    rows = measure(args.seeds)
    out = {
        "machine": machine(),
        "seeds": args.seeds,
        "load_before": load0,
        "load_after": os.getloadavg(),
        "seconds": time.perf_counter() - t0,
        "rows": rows,
        "summary": summary(rows),
    }
    write("emcdr_target_start", out)
    (RESULTS / "emcdr_target_start.md").write_text(markdown(out))
    print(markdown(out))


if __name__ == "__main__":
    main()
