"""Implicit ALS's random start, measured: ``start="small"`` (the default: N(0, 0.01^2) rows, users
solved first, as the implicit library) against ``start="wide"`` (N(0, 1/f) rows, items first: the
start the former TransferALS had), same seeds, one factor changed (:func:`crossrec.models.mf.als_start`).

Why: after "One ALS" merged TransferALS into crossrec.ALS (small start), bench_transfer's Amazon
numbers fell (target-only warm NDCG@10 0.0092 -> 0.0084, fine-tune warm 0.022 -> 0.018, EMCDR cold
up to 10 %).

* Amazon sport <-> cloth (bench_transfer's cold-start split, seed 0, 50 % cold): target-only ALS
  (warm NDCG@10), fine-tune (pull 5) and EMCDR (l2 1, user statistics), the settings
  bench_transfer chose, with bench_transfer's ALS (32 factors, 10 sweeps, ridge 1, alpha 10).
  Scored on the validation split carved from training (``split.validation(seed=1)``: the data a
  setting may be chosen on) and on the test split (what bench_transfer reports).
* ML-100K ratings >= 4 and Last.fm 2K: ``cr.ALS(start=...)`` otherwise default (as
  bench_defaults), NDCG@10 on validation carved from training (80/20 of the 80 % training part,
  seed 1) and on test.

Each cell: mean +- sd over ``--seeds`` ALS seeds (the splits are fixed).

    python benchmarks/bench_als_start.py [--seeds 5] [--skip-amazon] [--skip-defaults]

Writes benchmarks/results/als_start.json and als_start.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import numpy as np  # noqa: E402

import crossrec as cr  # noqa: E402
from crossrec.transfer.presets import als_defaults  # noqa: E402
from _common import RESULTS, machine, write  # noqa: E402

STARTS = ("small", "wide")


def ndcg(models: dict, split, segments) -> dict:
    rep = cr.evaluate(models, split.train.target, split.test, metrics=["ndcg@10"], segments=segments, n_bootstrap=1)
    t = rep.table()
    return {(n, s): float(t.loc[(n, s), "ndcg@10"]) for n in models for s in segments}


def amazon(seeds: int) -> list[dict]:
    rows = []
    d = cr.datasets.amazon_pair("sport", "cloth")
    for src_name, tgt_name in (("sport", "cloth"), ("cloth", "sport")):
        pair = cr.CrossDomain(d[src_name].train, d[tgt_name].train)
        test_split = pair.cold_start_split(0.5, 0.2, 0)
        for part, split in (("validation", test_split.validation(seed=1)), ("test", test_split)):
            for start in STARTS:
                for seed in range(seeds):
                    mk = lambda: cr.ALS(**als_defaults(False), start=start, seed=seed)  # noqa: B023
                    src = mk().fit(split.train.source)
                    tgt = mk().fit(split.train.target)
                    ft = cr.transfer.FineTune(mk(), source_model=src, pull=5.0).fit(split.train)
                    em = cr.transfer.EMCDR(src, tgt, l2=1.0, user_stats=True).fit(split.train)
                    res = ndcg({"target ALS": tgt, "fine-tune": ft, "EMCDR": em}, split, split.segments)
                    norms = [float(np.linalg.norm(a, axis=1).mean()) for a in (src.user_factors_, src.item_factors_)]
                    for (method, segment), v in res.items():
                        if (method, segment) in (("target ALS", "cold"), ("EMCDR", "warm")):
                            continue  # target ALS has no cold rows; EMCDR's warm rows are target ALS's
                        rows.append(
                            dict(
                                data=f"amazon {src_name}->{tgt_name}",
                                part=part,
                                start=start,
                                seed=seed,
                                method=method,
                                segment=segment,
                                ndcg=v,
                                source_user_norm=norms[0],
                                source_item_norm=norms[1],
                            )
                        )
                    print(f"{src_name}->{tgt_name} {part} {start} seed {seed}: {res}", flush=True)
    return rows


def defaults(seeds: int) -> list[dict]:
    rows = []
    sets = {"ML-100K >= 4": cr.datasets.movielens_100k().binarize(4.0), "Last.fm 2K": cr.datasets.lastfm_2k()}
    for name, data in sets.items():
        train, test = cr.split.random(data, test_size=0.2, seed=0)
        fit_part, valid = cr.split.random(train, test_size=0.2, seed=1)
        for part, (tr, te) in (("validation", (fit_part, valid)), ("test", (train, test))):
            for start in STARTS:
                for seed in range(seeds):
                    model = cr.ALS(start=start, seed=seed).fit(tr)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        rep = cr.evaluate(
                            {"m": model}, tr, te, metrics=["ndcg@10"], n_bootstrap=1, unknown_users="skip"
                        )
                    v = float(rep.table().loc[("m", "all"), "ndcg@10"])
                    rows.append(
                        dict(data=name, part=part, start=start, seed=seed, method="ALS()", segment="all", ndcg=v)
                    )
                    print(f"{name} {part} {start} seed {seed}: {v:.4f}", flush=True)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    keys = sorted({(r["data"], r["method"], r["segment"], r["part"]) for r in rows}, key=str)
    out = []
    for key in keys:
        cell = {}
        for start in STARTS:
            v = np.array(
                [
                    r["ndcg"]
                    for r in rows
                    if (r["data"], r["method"], r["segment"], r["part"]) == key and r["start"] == start
                ]
            )
            cell[start] = (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v))
        (m0, s0, n0), (m1, s1, n1) = cell[STARTS[0]], cell[STARTS[1]]
        # Welch's t of the difference of the means (seeds are independent draws)
        se = float(np.sqrt(s0**2 / max(n0, 1) + s1**2 / max(n1, 1)))
        out.append(
            dict(
                data=key[0],
                method=key[1],
                segment=key[2],
                part=key[3],
                small=m0,
                small_sd=s0,
                wide=m1,
                wide_sd=s1,
                change=m1 / m0 - 1.0 if m0 else float("nan"),
                t=(m1 - m0) / se if se > 0 else float("nan"),
            )
        )
    return out


def markdown(out: dict) -> str:
    lines = [
        "# Implicit ALS's start (`benchmarks/bench_als_start.py`)",
        "",
        f"NDCG@10, mean +- sd over {out['seeds']} ALS seeds (fixed splits); small = N(0, 0.01^2) rows, users "
        "first (implicit's start, cr.ALS's default); wide = N(0, 1/f) rows, items first (TransferALS's start). "
        "Amazon: both the source and the target model start as the column says; the library now starts only "
        "the source models of implicit transfer wide (transfer._common.source_start), as the target-only rows "
        f"here do not favour it. t: Welch's t of wide - small. {out['seconds']:.0f} s at load average "
        f"{out['load_before'][0]:.1f} -> {out['load_after'][0]:.1f} on {out['machine'].get('cpus', '?')} shared cores.",
        "",
        "| data | model | segment | split | small | wide | change | t |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in out["summary"]:
        lines.append(
            f"| {r['data']} | {r['method']} | {r['segment']} | {r['part']} | {r['small']:.4f} +- {r['small_sd']:.4f} | "
            f"{r['wide']:.4f} +- {r['wide_sd']:.4f} | {r['change'] * 100:+.1f} % | {r['t']:+.1f} |"
        )
    norms = [r for r in out["rows"] if "source_user_norm" in r and r["part"] == "test"]
    if norms:
        lines += ["", "Mean row norms of the source model (Amazon, test split): user / item"]
        for start in STARTS:
            u = np.mean([r["source_user_norm"] for r in norms if r["start"] == start])
            i = np.mean([r["source_item_norm"] for r in norms if r["start"] == start])
            lines.append(f"- {start}: {u:.3f} / {i:.3f}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--skip-amazon", action="store_true")
    ap.add_argument("--skip-defaults", action="store_true")
    args = ap.parse_args(argv)
    t0, load0 = time.perf_counter(), os.getloadavg()
    rows = []
    if not args.skip_defaults:
        rows += defaults(args.seeds)
    if not args.skip_amazon:
        rows += amazon(args.seeds)
    out = {
        "machine": machine(),
        "seeds": args.seeds,
        "load_before": load0,
        "load_after": os.getloadavg(),
        "seconds": time.perf_counter() - t0,
        "rows": rows,
        "summary": summary(rows),
    }
    write("als_start", out)
    (RESULTS / "als_start.md").write_text(markdown(out))
    print(markdown(out))


if __name__ == "__main__":
    main()
