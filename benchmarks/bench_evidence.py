"""The evidence users ask for: the learning curve (transfer gain against the amount of target
training data) and the training time transfer saves.

Learning curve: crossrec.transfer.run at target_fraction 1, 5, 20, 50, 100 % of the warm users'
target training rows (the same cold users and test set at every fraction), Douban book -> music
(RMSE) and two Amazon pairs (NDCG@10); gains of fine-tune, CMF and EMCDR over the best
target-only baseline per segment, 95 % paired bootstrap. To fit the time budget the methods use
the first entry of their validation grids (``tune=False``: nothing is chosen on test either).

Time saved: on a validation split carved from the training data, the target ALS started from the
source model's user factors (FineTune, pull 0 and 1) against the same ALS from random factors:
validation quality after n = 1..15 iterations; the iterations and seconds each needs to reach the
quality of the target-only model (random start, 15 iterations) on the warm validation users, and
on all validation users (cold ones included, where the target-only model has only the average
user / popularity).

    python benchmarks/bench_evidence.py [--curve] [--time] [--quick]

Writes benchmarks/results/learning_curve.{json,md,png} and time_saved.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

import pandas as pd  # noqa: E402

import crossrec as cr  # noqa: E402
from crossrec.transfer import FineTune, NoTransfer  # noqa: E402
from crossrec.transfer.plots import plot_learning_curve  # noqa: E402
from crossrec.transfer.presets import factor_model  # noqa: E402

DATA = Path(os.environ.get("CROSSREC_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results"
FRACTIONS = (0.01, 0.05, 0.2, 0.5, 1.0)


def pairs(quick: bool):
    book, music = cr.datasets.douban("book", DATA), cr.datasets.douban("music", DATA)
    yield "douban book->music", cr.CrossDomain(book, music)
    if not quick:
        yield "douban music->book", cr.CrossDomain(music, book)
    for a, b in [("sport", "cloth"), ("phone", "electronic")][: 1 if quick else 2]:
        d = cr.datasets.amazon_pair(a, b, DATA)
        yield f"amazon {a}->{b}", cr.CrossDomain(d[a].train, d[b].train)


def curve(quick: bool, bootstrap: int) -> None:
    frames = []
    for name, pair in pairs(quick):
        if name == "douban music->book":
            continue  # the brief's curve: Douban and two Amazon pairs
        load = os.getloadavg()[0]
        methods = [m for m in cr.transfer.default_methods(pair.target.explicit)]
        c = cr.transfer.learning_curve(pair, FRACTIONS, methods=methods, tune=False, n_bootstrap=bootstrap, seed=0)
        c["pair"], c["load_average_1min"] = name, load
        frames.append(c)
        metric = "rmse" if pair.target.explicit else "ndcg@10"
        plot_learning_curve(
            c,
            metric,
            path=RESULTS / f"learning_curve-{name.replace(' ', '_').replace('->', '-')}.png",
            title=f"{name}: transfer gain in {metric} vs target data (95 % paired bootstrap)",
        )
        print(name, "done", flush=True)
        out = pd.concat(frames, ignore_index=True)
        out.to_json(RESULTS / "learning_curve.json", orient="records", indent=1)
        write_curve_md(out)


def write_curve_md(out: pd.DataFrame) -> None:
    lines = [
        "# Learning curve: transfer gain against the warm users' target training data",
        "",
        "Gain = method minus the best target-only baseline of the segment (RMSE: negative is better; "
        "NDCG@10: positive is better), 95 % paired bootstrap; first grid entries (no tuning).",
        "",
        "| pair | % target rows | method | segment | metric | value | best target-only | gain [95 % CI] | run s | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in out.itertuples():
        lines.append(
            f"| {r.pair} | {r.target_fraction:.0%} | {r.method} | {r.segment} | {r.metric} | {r.value:.4f} | "
            f"{r.baseline} {r.baseline_value:.4f} | {r.estimate:+.4f} [{r.low:+.4f}, {r.high:+.4f}] | "
            f"{r.seconds:.0f} | {r.load_average_1min:.1f} |"
        )
    (RESULTS / "learning_curve.md").write_text("\n".join(lines) + "\n")


def _score(model, val, metric, segment):
    ids = val.train.shared_map.ids
    segs = {"cold": ids[val.cold_users], "warm": ids[val.warm_users]}
    rep = cr.evaluate({"m": model}, val.train.target, val.test, metrics=[metric], segments=segs, n_bootstrap=1)
    return float(rep.table().loc[("m", segment), metric])


def time_saved(quick: bool, n_max: int = 15) -> None:
    runs = []
    for name, pair in pairs(quick):
        explicit = pair.target.explicit
        metric, lower = ("rmse", True) if explicit else ("ndcg@10", False)
        split = pair.cold_start_split(0.5, 0.2, 0)
        val = split.validation(seed=1)  # carved from training: the test set is never touched
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        source = factor_model(explicit, iterations=n_max).fit(val.train.source)
        source_secs = time.perf_counter() - t0
        reference = NoTransfer(factor_model(explicit, iterations=n_max)).fit(val.train)
        curves = {"random start": [], "source start (pull 0)": [], "source start (pull 1)": []}
        for n in range(1, n_max + 1):
            for label, make in (
                ("random start", lambda: NoTransfer(factor_model(explicit, iterations=n))),
                ("source start (pull 0)", lambda: FineTune(factor_model(explicit, iterations=n), source, pull=0.0)),
                ("source start (pull 1)", lambda: FineTune(factor_model(explicit, iterations=n), source, pull=1.0)),
            ):
                t = time.perf_counter()
                m = make().fit(val.train)
                secs = time.perf_counter() - t
                curves[label].append(
                    {
                        "iterations": n,
                        "seconds": secs,
                        "warm": _score(m, val, metric, "warm"),
                        "all": _score(m, val, metric, "all"),
                    }
                )
        ref = {seg: _score(reference, val, metric, seg) for seg in ("warm", "all")}
        summary = {}
        for label, pts in curves.items():
            for seg in ("warm", "all"):
                ok = [p for p in pts if (p[seg] <= ref[seg] if lower else p[seg] >= ref[seg])]
                summary[f"{label}|{seg}"] = (
                    {"iterations": ok[0]["iterations"], "seconds": ok[0]["seconds"], "value": ok[0][seg]}
                    if ok
                    else {"iterations": None, "seconds": None, "value": pts[-1][seg]}
                )
        runs.append(
            {
                "pair": name,
                "metric": metric,
                "reference": ref,
                "n_max": n_max,
                "source_fit_seconds": source_secs,
                "curves": curves,
                "reached": summary,
                "load_average_1min": load,
            }
        )
        print(name, json.dumps(summary), flush=True)
        (RESULTS / "time_saved.json").write_text(json.dumps(runs, indent=1))
        write_time_md(runs)


def write_time_md(runs: list, n_max: int = 15) -> None:
    lines = [
        "# Time saved: iterations and seconds to reach the target-only model's validation quality",
        "",
        f"Reference: target-only ALS (random start, {n_max} iterations; cold users: average user / popularity), "
        "on a validation split carved from the training data. 'none' = not reached within "
        f"{n_max} iterations (the value at {n_max} is shown). Source-start seconds exclude the source model's "
        "own fit (done once; shown).",
        "",
        "| pair | metric | users | reference | start | iterations | seconds | value reached | source fit s | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        for key, v in r["reached"].items():
            label, seg = key.split("|")
            it = "none" if v["iterations"] is None else str(v["iterations"])
            sec = "-" if v["seconds"] is None else f"{v['seconds']:.2f}"
            lines.append(
                f"| {r['pair']} | {r['metric']} | {seg} | {r['reference'][seg]:.4f} | {label} | {it} | {sec} | "
                f"{v['value']:.4f} | {r['source_fit_seconds']:.2f} | {r['load_average_1min']:.1f} |"
            )
    (RESULTS / "time_saved.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--curve", action="store_true")
    ap.add_argument("--time", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--tables", action="store_true", help="only rewrite the .md tables from the .json results")
    args = ap.parse_args()
    warnings.simplefilter("ignore", UserWarning)
    if args.tables:
        if (RESULTS / "time_saved.json").exists():
            write_time_md(json.loads((RESULTS / "time_saved.json").read_text()))
        if (RESULTS / "learning_curve.json").exists():
            write_curve_md(pd.read_json(RESULTS / "learning_curve.json", orient="records"))
        return
    if args.time or not args.curve:
        time_saved(args.quick)
    if args.curve or not args.time:
        curve(args.quick, args.bootstrap)


if __name__ == "__main__":
    main()
