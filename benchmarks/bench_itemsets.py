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
def _lines(path: Path) -> list[str]:
    with open(path) as f:
        return [ln for ln in f.read().splitlines() if ln.strip()]  # FIMI files: no final newline


def load(name: str) -> list[list]:
    if name == "groceries":  # ragged comma lists; "cream cheese " has a trailing space
        return [[x.strip() for x in ln.split(",")] for ln in _lines(DATA / "groceries" / "groceries.csv")]
    return [[int(x) for x in ln.split()] for ln in _lines(DATA / f"fimi-{name}" / f"{name}.dat")]


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
    best, out = np.inf, None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


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
    run(lib, [[1, 2], [1]], None if lib != "mlxtend" else frame.iloc[:2], 0.5)  # import + warm up
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = _status("VmRSS")
    t = time.perf_counter()
    result, n = run(lib, baskets, frame, min_support)
    seconds = time.perf_counter() - t
    peak = _status("VmHWM")
    print(json.dumps({"seconds": seconds, "itemsets": n, "peak_mb": max(0, peak - before) / 2**20}))


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
    report = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "load_avg_at_start": os.getloadavg()},
              "notes": [
                  "times: best of %d, seconds, list of baskets in -> result in Python" % repeat,
                  "crossrec = FP-growth on 1 thread (pyfim is single-threaded); crossrec_threads = all cores",
                  "mlxtend input: TransactionEncoder one-hot DataFrame (sparse for retail), not timed",
                  "peak_mb: peak RSS of the call above the RSS before it, fresh subprocess per case",
                  "mushroom: crossrec reports 574,431 itemsets, pyfim 574,430: item 85 is in every basket "
                  "and pyfim leaves the 1-itemset {85} out; mlxtend reports it",
              ], "cases": {}}
    for case, (reader, min_support, mlx_inline) in CASES.items():
        baskets = load(reader)
        n = len(baskets)
        res: dict = {"baskets": n, "min_support": min_support, "min_count": cr.rules.min_support_count(min_support, n)}
        outputs = {}
        # interleave the libraries, best of `repeat` each
        for lib in libs:
            t, (out, count) = timed(lambda: run(lib, baskets, None, min_support), repeat)
            res[lib] = {"seconds": round(t, 4), "itemsets": count}
            outputs[lib] = out
        if mlx_inline:
            frame = onehot(baskets)
            t, (out, count) = timed(lambda: run("mlxtend", None, frame, min_support), 1)
            res["mlxtend"] = {"seconds": round(t, 4), "itemsets": count}
            outputs["mlxtend"] = out
            del frame
        else:  # may be very slow or memory-hungry: a subprocess with a time cap
            sub = in_subprocess(case, "mlxtend", mlx_timeout)
            res["mlxtend"] = {"seconds": round(sub["seconds"], 4), "itemsets": sub["itemsets"],
                              "peak_mb": round(sub["peak_mb"], 1), "subprocess": True} if "seconds" in sub else sub
        # identical itemsets
        ours = canonical_crossrec(outputs["crossrec"])
        assert ours == canonical_crossrec(outputs["crossrec_threads"])
        theirs = canonical_pyfim(outputs["pyfim_fpgrowth"])
        extra = ours - theirs
        res["identical_to_pyfim"] = not (theirs - ours) and all(len(s) == 1 and c == n for s, c in extra)
        res["crossrec_extra_vs_pyfim"] = sorted([sorted(map(str, s)), c] for s, c in extra)
        if "mlxtend" in outputs:
            res["identical_to_mlxtend"] = ours == canonical_mlxtend(outputs["mlxtend"], n)
        elif "itemsets" in res["mlxtend"]:
            res["identical_to_mlxtend"] = res["mlxtend"]["itemsets"] == len(ours)  # count only (subprocess)
        outputs.clear()
        # peak memory, one fresh process per (case, library)
        for lib in libs + (["mlxtend"] if mlx_inline else []):
            sub = in_subprocess(case, lib, mlx_timeout if lib == "mlxtend" else 300)
            res[lib]["peak_mb"] = round(sub["peak_mb"], 1) if "peak_mb" in sub else sub
        cx = res["crossrec"]["seconds"]
        res["ratios"] = {f"{lib}_over_crossrec": round(res[lib]["seconds"] / cx, 2)
                         for lib in ("pyfim_fpgrowth", "pyfim_eclat", "mlxtend", "crossrec_threads")
                         if isinstance(res[lib], dict) and "seconds" in res[lib]}
        if "timeout_s" in res["mlxtend"]:
            res["ratios"]["mlxtend_over_crossrec"] = f"> {round(res['mlxtend']['timeout_s'] / cx)}"
        report["cases"][case] = res
        print(case, json.dumps(res), flush=True)
    out = REPO / "benchmarks" / "results" / "itemsets.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
