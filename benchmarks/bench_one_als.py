"""One ALS: the transfer methods given the library's own ``cr.ALS`` against the same methods with
their own default model, and both against no transfer, on the cold users of Douban.

The question (issue 12): a user who builds ``FineTune(cr.ALS(factors=32, implicit=False, seed=0),
source_model=<cr.ALS fitted on the source>)`` must get what the method's default gives (within
0.5 % RMSE) and never less than ``NoTransfer``. Per pair (book -> music, music -> book) and cold
fraction (20 / 50 / 80 % of the overlapping users): the cold-start split, every method's grid
scored on a validation split carved from the *training* pair (cold users drawn among the training
overlap; the test users are never seen), the best point refitted on the training pair, then RMSE
on the test ratings of the cold users, with a 95 % paired bootstrap interval of the difference
against ``NoTransfer()`` (the average user for cold users).

    python benchmarks/bench_one_als.py [--quick]

Writes benchmarks/results/one_als.json and benchmarks/results/one_als.md.
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
import numpy as np  # noqa: E402
from crossrec.transfer import CMF, EMCDR, FineTune, NoTransfer  # noqa: E402
from crossrec.transfer._common import default_factor_model  # noqa: E402

DATA = Path(os.environ.get("CROSSREC_DATA", REPO.parent / "shared" / "data"))
USER_ALS = dict(factors=32, implicit=False, seed=0)  # what a new user writes


def user_als() -> cr.ALS:
    return cr.ALS(**USER_ALS)


# name -> (grid, build(params, variant, source_model)); variant "default" (the method's own model)
# or "cr.ALS" (the user's ALS); source_model: that variant's model fitted on the source.
METHODS = {
    "FineTune": (
        [dict(pull=1.0), dict(pull=0.1), dict(pull=5.0)],
        lambda p, v, src: FineTune(source_model=src, **p) if v == "default" else FineTune(user_als(), src, **p),
    ),
    "CMF": (
        [dict(weights=(0.5, 1.0)), dict(weights=(1.0, 1.0)), dict(weights=(0.25, 1.0))],
        lambda p, v, src: CMF(**p) if v == "default" else CMF(model=user_als(), **p),
    ),
    "EMCDR": (
        [dict(l2=10.0), dict(l2=1.0), dict(l2=10.0, user_stats=True), dict(l2=1.0, user_stats=True)],
        lambda p, v, src: EMCDR(src, **p) if v == "default" else EMCDR(src, user_als(), **p),
    ),
    "NoTransfer": ([dict()], lambda p, v, src: NoTransfer() if v == "default" else NoTransfer(user_als())),
}
VARIANTS = ("default", "cr.ALS")


def cold_rmse(model, split) -> float:
    te = split.test
    cold = np.isin(te.users, split.cold_users)
    return cr.metrics.rmse(te.values[cold], model.predict(te.user_ids[te.users[cold]], te.item_ids[te.items[cold]]))


def sources(train_source) -> dict:
    # The source domain is not split (only the target is), so one source model per variant serves
    # the validation and the final fits.
    return {
        "default": default_factor_model(train_source.explicit, source=True).fit(train_source),
        "cr.ALS": user_als().fit(train_source),
    }


def one(pair, fraction: float, n_bootstrap: int) -> dict:
    split = pair.cold_start_split(fraction=fraction, test_size=0.2, seed=0)
    val = split.validation(seed=1)
    src = sources(split.train.source)
    chosen, validation, models, seconds = {}, [], {}, {}
    for name, (grid, build) in METHODS.items():
        for v in VARIANTS:
            scores = []
            if len(grid) > 1:
                for p in grid:
                    scores.append(cold_rmse(build(p, v, src[v]).fit(val.train), val))
                    validation.append({"method": name, "variant": v, "params": repr(p), "rmse": scores[-1]})
            best = grid[int(np.argmin(scores))] if scores else grid[0]
            key = f"{name} | {v}"
            chosen[key] = repr(best)
            t0 = time.perf_counter()
            models[key] = build(best, v, src[v]).fit(split.train)
            seconds[key] = time.perf_counter() - t0
    ids = split.train.shared_map.ids
    report = cr.evaluate(
        models,
        split.train.target,
        split.test,
        metrics=["rmse"],
        segments={"cold": ids[split.cold_users]},
        n_bootstrap=n_bootstrap,
        seed=0,
    )
    table = report.table()
    base = "NoTransfer | default"
    rows = []
    for key in models:
        g = report.gain(key, over=base, metric="rmse", segment="cold")
        name, v = key.split(" | ")
        own = table.loc[(f"{name} | default", "cold"), "rmse"]
        value = float(table.loc[(key, "cold"), "rmse"])
        rows.append(
            {
                "method": name,
                "variant": v,
                "rmse": value,
                "vs_own_default": value / own - 1.0,
                "vs_no_transfer": g.estimate / table.loc[(base, "cold"), "rmse"],
                "diff": g.estimate,
                "low": g.low,
                "high": g.high,
                "n_users": g.n_users,
                "chosen": chosen[key],
                "fit_seconds": seconds[key],
            }
        )
    return {"fraction": fraction, "n_cold": int(len(split.cold_users)), "rows": rows, "validation": validation}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="book -> music at 50 % only")
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    book, music = cr.datasets.douban("book", DATA), cr.datasets.douban("music", DATA)
    pairs = [("douban book->music", book, music), ("douban music->book", music, book)]
    fractions = (0.5,) if args.quick else (0.2, 0.5, 0.8)
    load_before = os.getloadavg()
    t_all = time.perf_counter()
    runs = []
    for name, s, t in pairs[:1] if args.quick else pairs:
        pair = cr.CrossDomain(s, t)
        for f in fractions:
            t0 = time.perf_counter()
            r = one(pair, f, args.bootstrap)
            r.update(pair=name, seconds=time.perf_counter() - t0)
            runs.append(r)
            for row in r["rows"]:
                print(
                    f"{name} {f:.0%} {row['method']:10s} {row['variant']:8s} rmse {row['rmse']:.4f} "
                    f"vs own default {row['vs_own_default']:+.2%} vs NoTransfer {row['vs_no_transfer']:+.2%} "
                    f"[{row['low']:+.4f}, {row['high']:+.4f}] {row['chosen']}",
                    flush=True,
                )
    out = {
        "benchmark": "one_als",
        "quick": args.quick,
        "user_als": USER_ALS,
        "total_seconds": time.perf_counter() - t_all,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "runs": runs,
    }
    out["within_half_percent_of_own_default"] = all(
        abs(row["vs_own_default"]) <= 0.005 for r in runs for row in r["rows"] if row["variant"] == "cr.ALS"
    )
    out["never_worse_than_no_transfer"] = all(
        row["rmse"] <= next(x["rmse"] for x in r["rows"] if x["method"] == "NoTransfer" and x["variant"] == "default")
        for r in runs
        for row in r["rows"]
        if row["method"] != "NoTransfer"
    )
    res = REPO / "benchmarks" / "results"
    res.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    (res / f"one_als{suffix}.json").write_text(json.dumps(out, indent=1, default=float))
    (res / f"one_als{suffix}.md").write_text(markdown(out))
    print(json.dumps({k: out[k] for k in ("within_half_percent_of_own_default", "never_worse_than_no_transfer")}))


def markdown(out: dict) -> str:
    lines = [
        f"Cold users' RMSE on Douban, transfer methods given `cr.ALS({', '.join(f'{k}={v!r}' for k, v in out['user_als'].items())})` "
        "(`cr.ALS`) against the same method with its own default model (`default`); hyper-parameters chosen on "
        "validation carved from training data; difference against `NoTransfer()` with its 95 % paired bootstrap "
        "interval (negative = better than no transfer).",
        "",
        "| pair | cold | method | model | RMSE | vs own default | vs NoTransfer | 95 % CI of diff | chosen |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in out["runs"]:
        for row in r["rows"]:
            lines.append(
                f"| {r['pair']} | {r['fraction']:.0%} ({r['n_cold']} users) | {row['method']} | {row['variant']} | "
                f"{row['rmse']:.4f} | {row['vs_own_default']:+.2%} | {row['vs_no_transfer']:+.2%} | "
                f"{row['low']:+.4f} .. {row['high']:+.4f} | `{row['chosen']}` |"
            )
    lines += [
        "",
        f"Within 0.5 % of the own default (every `cr.ALS` row): {out['within_half_percent_of_own_default']}; "
        f"no transfer method worse than `NoTransfer()`: {out['never_worse_than_no_transfer']}.",
        f"Total {out['total_seconds']:.0f} s wall on {out['cpu_count']} shared cores, load average "
        f"{out['load_average_before'][0]:.1f} before / {out['load_average_after'][0]:.1f} after.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
