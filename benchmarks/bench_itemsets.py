"""Frequent itemsets: crossrec vs pyfim (fpgrowth, eclat) vs mlxtend (fpgrowth) on the real
basket files, side by side in one process; peak memory per case in a fresh subprocess.

    python benchmarks/bench_itemsets.py [--quick] [--mlxtend-timeout SECONDS]

Times are best of 3 (1 with --quick) wall-clock seconds from the Python input (a list of
baskets; mlxtend: a one-hot DataFrame, as its users call it) to the result in Python (crossrec:
flat numpy arrays; pyfim: a list of tuples; mlxtend: a DataFrame). Writes
benchmarks/results/itemsets.json.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
DATA = Path(os.environ.get("CROSSREC_DATA", REPO.parent / "shared" / "data"))

import crossrec as cr  # noqa: E402

CASES = {  # name: (reader, min_support fraction, mlxtend runs in-process)
    "groceries_0.1%": ("groceries", 0.001, True),
    "retail_0.5%": ("retail", 0.005, True),
    "retail_0.05%": ("retail", 0.0005, False),
    "mushroom_10%": ("mushroom", 0.1, False),
}


# ---- data ------------------------------------------------------------------------------------
def load(name: str) -> list[list]:
    """Baskets as lists of ids, through crossrec.datasets (Groceries: item names stripped, one
    item is spelt "cream cheese " in the file; FIMI: no final newline)."""
    if name == "groceries":
        return cr.datasets.groceries(data_dir=DATA)
    return cr.datasets.fimi(name, data_dir=DATA)


def onehot(baskets: list[list]):
    """mlxtend's input: TransactionEncoder one-hot DataFrame (sparse for retail's 16k items,
    where a dense bool frame would take 1.4 GB)."""
    import pandas as pd
    from mlxtend.preprocessing import TransactionEncoder

    te = TransactionEncoder()
    n_items = len(set(itertools.chain.from_iterable(baskets)))
    if n_items > 1000:
        m = te.fit(baskets).transform(baskets, sparse=True)
        return pd.DataFrame.sparse.from_spmatrix(m, columns=te.columns_)
    return pd.DataFrame(te.fit(baskets).transform(baskets), columns=te.columns_)


# ---- runners: each returns (result, number of itemsets) ------------------------------------
def run(lib: str, baskets, frame, min_support: float):
    if lib == "crossrec":
        r = cr.frequent_itemsets(baskets, min_support, n_threads=1)
        return r, len(r)
    if lib == "crossrec_threads":
        r = cr.frequent_itemsets(baskets, min_support, n_threads=0)
        return r, len(r)
    if lib == "crossrec_apriori":
        r = cr.frequent_itemsets(baskets, min_support, algorithm="apriori", n_threads=0)
        return r, len(r)
    if lib in ("pyfim_fpgrowth", "pyfim_eclat"):
        import fim

        fn = fim.fpgrowth if lib == "pyfim_fpgrowth" else fim.eclat
        r = fn(baskets, supp=100 * min_support, zmin=1)
        return r, len(r)
    if lib == "mlxtend":
        from mlxtend.frequent_patterns import fpgrowth

        r = fpgrowth(frame, min_support=min_support, use_colnames=True)
        return r, len(r)
    raise ValueError(lib)


def timed(fn, repeat: int):
    """Best wall time and best CPU time (process_time: the machine is shared, and CPU time does
    not count the moments another process holds the core) over `repeat` runs."""
    wall, cpu, out = np.inf, np.inf, None
    for _ in range(repeat):
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu, out


# ---- peak memory in a subprocess -------------------------------------------------------------
def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for ln in f:
            if ln.startswith(key + ":"):
                return int(ln.split()[1]) * 1024
    return 0


def child(case: str, lib: str) -> None:
    """Runs one (case, library) once; prints time, itemsets and the peak RSS above the RSS
    before the call (VmHWM is reset through /proc/self/clear_refs, so it is the call's own peak;
    tracemalloc would miss the C/C++ allocations)."""
    reader, min_support, _ = CASES[case]
    baskets = load(reader)
    frame = onehot(baskets) if lib == "mlxtend" else None
    # import + warm up on a toy input (slicing retail's 16k-column sparse frame would itself be slow)
    import pandas as pd

    run(lib, [[1, 2], [1]], pd.DataFrame({"a": [True, False], "b": [True, True]}), 0.5)
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = _status("VmRSS")
    t, c = time.perf_counter(), time.process_time()
    result, n = run(lib, baskets, frame, min_support)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    peak = _status("VmHWM")
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "itemsets": n, "peak_mb": max(0, peak - before) / 2**20}))


def in_subprocess(case: str, lib: str, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--child", case, lib]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timeout_s": timeout}
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---- identity of the results -------------------------------------------------------------------
def canonical_crossrec(r) -> set:
    return set(r.to_dict().items())


def canonical_pyfim(found) -> set:
    return {(frozenset(s), c) for s, c in found}


def canonical_mlxtend(frame, n_baskets: int) -> set:
    return {(s, int(round(v * n_baskets))) for s, v in zip(frame["itemsets"], frame["support"])}


def recommender(quick: bool) -> dict:
    """AssociationRules as a recommender on MovieLens 100K (fold u1, every rating an implicit
    interaction), against MostPopular: NDCG@10 and recall@20 over the test users."""
    import pandas as pd
    import scipy.sparse as sp

    cols = ["user", "item", "rating", "ts"]
    folder = DATA / "movielens-100k"
    tr = pd.read_csv(folder / "u1.base", sep="\t", names=cols)
    te = pd.read_csv(folder / "u1.test", sep="\t", names=cols)
    train = cr.Interactions.from_pandas(tr, "user", "item")
    te = te[te.item.isin(set(train.item_ids)) & te.user.isin(set(train.user_ids))]
    users = np.unique(te.user.to_numpy())
    relevant = sp.csr_matrix(
        (np.ones(len(te)), (np.searchsorted(users, te.user), train.item_index(te.item.to_numpy()))),
        shape=(len(users), train.n_items),
    )
    models = {
        "MostPopular": cr.MostPopular(),
        "AssociationRules(0.1, conf>=0.3, metric=lift)": cr.AssociationRules(0.1, 0.3, metric="lift"),
        "AssociationRules(0.1, conf>=0.3, metric=confidence)": cr.AssociationRules(0.1, 0.3, metric="confidence"),
    }
    if not quick:
        models["AssociationRules(0.05, conf>=0.2, metric=confidence)"] = cr.AssociationRules(
            0.05, 0.2, metric="confidence"
        )
    out = {"data": "movielens-100k u1.base -> u1.test, implicit", "test_users": len(users)}
    for name, model in models.items():
        t = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - t
        t = time.perf_counter()
        rec, _ = model.recommend_indices(train.user_index(users), n=20)
        rec_s = time.perf_counter() - t
        out[name] = {
            "fit_seconds": round(fit_s, 3),
            "recommend_seconds": round(rec_s, 3),
            "rules": getattr(model, "n_rules_", None),
            "ndcg@10": round(float(np.nanmean(cr.metrics.ndcg_at_k(rec, relevant, 10))), 4),
            "recall@20": round(float(np.nanmean(cr.metrics.recall_at_k(rec, relevant, 20))), 4),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one repetition, short mlxtend timeout")
    ap.add_argument("--mlxtend-timeout", type=float, default=None)
    ap.add_argument("--child", nargs=2, metavar=("CASE", "LIB"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    repeat = 1 if args.quick else 3
    mlx_timeout = args.mlxtend_timeout or (60.0 if args.quick else 300.0)
    libs = ["crossrec", "crossrec_threads", "pyfim_fpgrowth", "pyfim_eclat"]
    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
        "notes": [
            "times: best of %d, seconds, list of baskets in -> result in Python; seconds = wall clock, "
            "cpu_seconds = process CPU time (the machine is shared: wall includes waiting for a core)" % repeat,
            "crossrec = FP-growth on 1 thread (pyfim is single-threaded); crossrec_threads = all cores",
            "mlxtend input: TransactionEncoder one-hot DataFrame (sparse for retail), not timed; "
            "cases where mlxtend may be very slow run it in a subprocess with a time cap (then only "
            "its itemset count is compared: same_count_as_mlxtend)",
            "peak_mb: peak RSS of the call above the RSS before it, fresh subprocess per case",
            "mushroom: crossrec reports 574,431 itemsets, pyfim 574,430: item 85 is in every basket "
            "and pyfim leaves the 1-itemset {85} out; mlxtend reports it",
        ],
        "cases": {},
    }
    for case, (reader, min_support, mlx_inline) in CASES.items():
        baskets = load(reader)
        n = len(baskets)
        res: dict = {
            "baskets": n,
            "min_support": min_support,
            "min_count": cr.itemsets.min_support_count(min_support, n),
        }
        outputs = {}
        # interleave the libraries, best of `repeat` each
        for lib in libs:
            t, c, (out, count) = timed(lambda: run(lib, baskets, None, min_support), repeat)
            res[lib] = {"seconds": round(t, 4), "cpu_seconds": round(c, 4), "itemsets": count}
            outputs[lib] = out
        if mlx_inline:
            frame = onehot(baskets)
            t, c, (out, count) = timed(lambda: run("mlxtend", None, frame, min_support), 1)
            res["mlxtend"] = {"seconds": round(t, 4), "cpu_seconds": round(c, 4), "itemsets": count}
            outputs["mlxtend"] = out
            del frame
        else:  # may be very slow or memory-hungry: a subprocess with a time cap
            sub = in_subprocess(case, "mlxtend", mlx_timeout)
            res["mlxtend"] = (
                {
                    "seconds": round(sub["seconds"], 4),
                    "cpu_seconds": round(sub["cpu_seconds"], 4),
                    "itemsets": sub["itemsets"],
                    "peak_mb": round(sub["peak_mb"], 1),
                    "subprocess": True,
                }
                if "seconds" in sub
                else sub
            )
        # identical itemsets
        ours = canonical_crossrec(outputs["crossrec"])
        assert ours == canonical_crossrec(outputs["crossrec_threads"])
        theirs = canonical_pyfim(outputs["pyfim_fpgrowth"])
        extra = ours - theirs
        res["identical_to_pyfim"] = not (theirs - ours) and all(len(s) == 1 and c == n for s, c in extra)
        res["crossrec_extra_vs_pyfim"] = sorted([sorted(map(str, s)), c] for s, c in extra)
        if "mlxtend" in outputs:
            res["identical_to_mlxtend"] = ours == canonical_mlxtend(outputs["mlxtend"], n)
        elif "itemsets" in res["mlxtend"]:  # ran in a subprocess: only its count came back
            res["same_count_as_mlxtend"] = res["mlxtend"]["itemsets"] == len(ours)
        outputs.clear()
        # peak memory, one fresh process per (case, library)
        for lib in libs + (["mlxtend"] if mlx_inline else []):
            sub = in_subprocess(case, lib, mlx_timeout if lib == "mlxtend" else 300)
            res[lib]["peak_mb"] = round(sub["peak_mb"], 1) if "peak_mb" in sub else sub
        for key in ("seconds", "cpu_seconds"):
            cx = res["crossrec"][key]
            ratios = {
                f"{lib}_over_crossrec": round(res[lib][key] / cx, 2)
                for lib in ("pyfim_fpgrowth", "pyfim_eclat", "mlxtend", "crossrec_threads")
                if isinstance(res[lib], dict) and key in res[lib]
            }
            if "timeout_s" in res["mlxtend"] and key == "seconds":
                ratios["mlxtend_over_crossrec"] = f"> {round(res['mlxtend']['timeout_s'] / cx)}"
            res["ratios_wall" if key == "seconds" else "ratios_cpu"] = ratios
        report["cases"][case] = res
        print(case, json.dumps(res), flush=True)
    report["recommender"] = recommender(args.quick)
    print("recommender", json.dumps(report["recommender"]), flush=True)
    out = REPO / "benchmarks" / "results" / "itemsets.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
