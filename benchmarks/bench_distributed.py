"""crossrec.distributed on this machine: time per iteration of distributed ALS and CMF on 1 and 2
Dask worker processes against single-machine crossrec.ALS / CMF, and single-machine crossrec.ALS
against implicit, on a generated set of >= 50 million interactions; then a cost model fitted to
those measurements, predicting a cluster.

Data: ML-100K (all ratings, as weight-1 interactions) Kronecker-expanded twice with the
benchmark's own expansion (``bench_als.kronecker``: an 8x8 block pattern with 52 ones, then a 4x4
pattern with 10 ones): 30,176 users x 53,824 items, 52 million interactions, with MovieLens'
popularity shape. CMF: the same matrix cut into two domains by item (first half = source).

Measured per configuration: seconds per iteration (wall time between iteration ends, after the
first), peak resident memory per worker process (ru_maxrss), bytes moved between workers per
iteration (Dask's own transfer_outgoing_bytes_total counters). Same factors (64), CG steps (3),
regularization (0.01), confidence 1 + r, iterations and threads everywhere; implicit gets the
data 1 + r with alpha = 1 (the same confidences; see bench_als.py).

Run: python benchmarks/bench_distributed.py [--quick] (quick: the 5.2M set). 2 iterations: the
distributed time per iteration is the second one (the first includes planning); single-machine
times are fit time / iterations (their setup included, as bench_als.py measures them).
Writes benchmarks/results/distributed{,_quick}.{json,md}. Needs the dask extra and implicit.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import RESULTS, machine, ml100k  # noqa: E402
from bench_als import kronecker  # noqa: E402

import crossrec as cr  # noqa: E402
import crossrec.distributed as crd  # noqa: E402

FACTORS, REG, ALPHA, CG = 64, 0.01, 1.0, 3


def generated(quick: bool) -> sp.csr_matrix:
    base = cr.Interactions.from_pandas(ml100k(), "user", "item").matrix
    m = kronecker(base)  # 5.2M (bench_als's set)
    if not quick:
        m = kronecker(m, k=4, ones=10, seed=1)  # x10: 52M
    m = sp.csr_matrix(m, dtype=np.float32)
    m.sort_indices()
    return m


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_peak_mb(dask_worker=None) -> float:  # runs in each worker (client.run)
    """Peak resident memory of this process (VmHWM). Not ru_maxrss: Linux carries a parent's
    maxrss across fork + exec, so a spawned worker would report its parent's peak."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def worker_bytes_out(dask_worker) -> int:
    return int(dask_worker.transfer_outgoing_bytes_total)


class IterationClock:
    """callback(iteration, _): wall time and Dask's bytes moved at each iteration end."""

    def __init__(self, client):
        self.client, self.times, self.bytes = client, [], []

    def start(self):
        self.times, self.bytes = [time.perf_counter()], [self._bytes()]

    def _bytes(self) -> int:
        return sum(self.client.run(worker_bytes_out).values())

    def __call__(self, iteration, _):
        self.times.append(time.perf_counter())
        self.bytes.append(self._bytes())

    def per_iteration(self) -> dict:
        dt, db = np.diff(self.times), np.diff(self.bytes)
        steady = slice(1, None) if len(dt) > 1 else slice(None)
        return {
            "s_per_iteration": float(np.mean(dt[steady])),
            "first_iteration_s": float(dt[0]),
            "bytes_moved_per_iteration": float(np.mean(db[steady])),
        }


def cluster(n_workers: int, threads: int, memory_gb: float):
    from distributed import Client, LocalCluster

    lc = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit=f"{memory_gb / n_workers:.2f}GiB",
        env={"OMP_NUM_THREADS": str(threads)},
    )
    return lc, Client(lc)


def run_distributed(m, n_workers, iterations, memory_gb, exchange="auto", cmf=False):
    """One distributed fit on a fresh LocalCluster; kernels use 1 thread per task."""
    lc, client = cluster(n_workers, 1, memory_gb)
    try:
        clock = IterationClock(client)
        t0 = time.perf_counter()
        if cmf:
            pair = two_domains(m)
            model = crd.CMF(
                factors=FACTORS,
                iterations=iterations,
                regularization=REG,
                implicit=True,
                alpha=ALPHA,
                weights=(1.0, 1.0),
                exchange=exchange,
                client=client,
                n_threads=1,
                callback=clock,
            )
            clock.start()
            model.fit(pair)
        else:
            blocks = crd.from_scipy(m, client=client, recoverable=False)
            setup = time.perf_counter() - t0
            model = crd.ALS(
                factors=FACTORS,
                iterations=iterations,
                regularization=REG,
                alpha=ALPHA,
                cg_steps=CG,
                n_threads=1,
                exchange=exchange,
                client=client,
                callback=clock,
            )
            clock.start()
            model.fit(blocks)
        total = time.perf_counter() - t0
        out = clock.per_iteration()
        out.update(
            {
                "workers": n_workers,
                "exchange": model.exchange_,
                "rows_moved_per_iteration": model.rows_moved_,
                "total_s_incl_data_and_gather": total,
                "peak_worker_mb": sorted(client.run(worker_peak_mb).values()),
            }
        )
        if not cmf:
            out["data_to_blocks_s"] = setup
        return out, model
    finally:
        client.close()
        lc.close()


def task_overhead(memory_gb: float) -> dict:
    """Seconds per task, from ML-100K (compute negligible) on 1 worker with 2 and 16 blocks per
    side: (t_16 - t_2) / (tasks_16 - tasks_2)."""
    m = cr.Interactions.from_pandas(ml100k(), "user", "item").matrix
    lc, client = cluster(1, 1, memory_gb)
    try:
        times = {}
        for blocks in (2, 16):
            clock = IterationClock(client)
            model = crd.ALS(factors=FACTORS, iterations=4, n_blocks=blocks, n_threads=1, client=client, callback=clock)
            clock.start()
            model.fit(crd.from_scipy(m, n_blocks=blocks, client=client))
            times[blocks] = clock.per_iteration()["s_per_iteration"]
        c = max(0.0, (times[16] - times[2]) / (tasks_per_iteration(16) - tasks_per_iteration(2)))
        return {"s_per_iteration_2_blocks": times[2], "s_per_iteration_16_blocks": times[16], "c_task_s": c}
    finally:
        client.close()
        lc.close()


def two_domains(m: sp.csr_matrix) -> cr.CrossDomain:
    half = m.shape[1] // 2
    s = cr.Interactions.from_scipy(m[:, :half])
    t = cr.Interactions.from_scipy(m[:, half:])
    return cr.CrossDomain(source=s, target=t, shared="users")


def run_local_als(data, iterations, threads):
    t = time.perf_counter()
    model = cr.ALS(
        factors=FACTORS, iterations=iterations, regularization=REG, alpha=ALPHA, cg_steps=CG, n_threads=threads, seed=0
    ).fit(data)
    return (time.perf_counter() - t) / iterations, model


def run_implicit(m, iterations, threads, user_init, item_init):
    from implicit.als import AlternatingLeastSquares

    confidence = m.copy()
    confidence.data = 1.0 + ALPHA * confidence.data
    model = AlternatingLeastSquares(
        factors=FACTORS, iterations=iterations, regularization=REG, alpha=1.0, random_state=0, num_threads=threads
    )
    model.user_factors, model.item_factors = user_init.copy(), item_init.copy()
    with threadpool_limits(1, "blas"):
        t = time.perf_counter()
        model.fit(confidence, show_progress=False)
        return (time.perf_counter() - t) / iterations


def run_local_cmf(m, iterations):
    pair = two_domains(m)
    t = time.perf_counter()
    cr.transfer.CMF(
        factors=FACTORS,
        iterations=iterations,
        regularization=REG,
        implicit=True,
        alpha=ALPHA,
        weights=(1.0, 1.0),
        n_threads=1,
    ).fit(pair)
    return (time.perf_counter() - t) / iterations


# ---- cost model ---------------------------------------------------------------------------------
def flops_per_iteration(nnz: float, n_users: float, n_items: float, k: int, cg_steps: int = CG) -> float:
    """The C++ step's own estimate per half-step, (cg_steps + 1)(rows k^2 + 4 nnz k), summed over
    both sides (every entry is in both), plus the Gram matrices (rows k^2)."""
    rows = n_users + n_items
    return (cg_steps + 1) * (rows * k * k + 8.0 * nnz * k) + rows * k * k


def rows_touched(degrees: np.ndarray, blocks: int) -> float:
    """Expected opposite rows sent in one half-step with the link exchange: a row of degree d is
    needed by B (1 - (1 - 1/B)^d) of the B blocks (its entries spread uniformly over blocks)."""
    d = np.asarray(degrees, np.float64)
    return float(np.sum(blocks * (1.0 - np.power(1.0 - 1.0 / blocks, d))))


def zipf_degrees(n: int, total: float, exponent: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    return w / w.sum() * total


def tasks_per_iteration(blocks: int) -> int:
    """Tasks one iteration submits per side and block (gram part, tree sum, exchange, solve)."""
    return 2 * 4 * blocks


def cost_model(results: dict, m: sp.csr_matrix) -> dict:
    """Fits  t(P) = F / (r P) + c_task * tasks(P) + bytes(P) / (bw P)  to the measurements.

    F: the C++ step's flop estimate per iteration; r (flop/s per core) from single-machine
    crossrec.ALS on 1 thread; c_task (serial scheduling and (de)serialisation per task) from the
    1-worker distributed run minus its compute; bytes(P): rows the link exchange sends (each row
    once per block that touches it, Spark's out-links) x k x 4, or the broadcast table once per
    worker, whichever is smaller; received in parallel by P workers at bw = 1.25 GB/s each (10 GbE;
    not measurable on one host, where transfers are loopback). One core per worker, 2 blocks per
    worker. Degrees: users uniform, items Zipf (exponent ~1, as last.fm's artists).
    """
    n_users, n_items = m.shape
    F = flops_per_iteration(m.nnz, n_users, n_items, FACTORS)
    t1 = results["single_machine"]["crossrec_1_thread_s_per_iteration"]
    r = F / t1
    c_task = results["task_overhead"]["c_task_s"]
    bw = 1.25e9
    # the same code on the same machine when it was quiet (bench_als.json, load ~1.2): 5.2M set,
    # 15 iterations, 1 thread; predictions are given for both rates
    r_quiet = None
    als = RESULTS / "als.json"
    if als.exists():
        for run in json.loads(als.read_text())["runs"]:
            if run["data"].startswith("generated"):
                t = run["fit_s"]["crossrec"] / run["iterations"]
                r_quiet = flops_per_iteration(run["train_nnz"], run["users"], run["items"], run["factors"]) / t
    d2 = results["distributed"].get("2_workers")
    check = None
    if d2:
        pred2 = F / (2 * r) + c_task * tasks_per_iteration(4)
        check = {"predicted_2_workers_s": pred2, "measured_2_workers_s": d2["s_per_iteration"]}
    published = {
        "implicit CPU (i7-7820x, 8 cores), published": {"64": 1.366, "256": 5.477},
        "Spark MLlib (same machine), published": {"64": 43.84, "256": 164.22},
    }
    scenarios = {
        "last.fm-360k-sized (17.5M, 360k users, 160k items)": (17.5e6, 360e3, 160e3, 1.0),
        "1 billion interactions (20M users, 2M items)": (1e9, 20e6, 2e6, 1.0),
    }
    preds = {}
    for name, (nnz, nu, ni, zipf) in scenarios.items():
        item_deg = zipf_degrees(int(ni), nnz, zipf)
        user_deg = np.full(int(nu), nnz / nu)
        for k, rate, label in (
            (64, r, "this run"),
            (256, r, "this run"),
            (64, r_quiet, "quiet"),
            (256, r_quiet, "quiet"),
        ):
            if rate is None:
                continue
            Fk = flops_per_iteration(nnz, nu, ni, k)
            row = {}
            for P in (1, 8, 32, 100):
                B = 2 * P
                comm = 0.0
                if P > 1:
                    links = (rows_touched(item_deg, B) + rows_touched(user_deg, B)) * k * 4
                    broadcast = (nu + ni) * k * 4 * P
                    comm = min(links, broadcast) / (bw * P)
                compute = Fk / (rate * P)
                overhead = c_task * tasks_per_iteration(B)
                row[str(P)] = {
                    "s_per_iteration": compute + comm + overhead,
                    "compute_s": compute,
                    "comm_s": comm,
                    "overhead_s": overhead,
                }
            preds[f"{name}, {k} factors, flop rate of {label}"] = row
    return {
        "formula": "t(P) = F/(r P) + c_task tasks(P) + bytes(P)/(bw P); "
        "F = (cg+1)(rows k^2 + 4 nnz k) + rows k^2 per iteration; bytes = rows touched x k x 4",
        "fitted": {
            "r_flops_per_s_per_core_this_run": r,
            "r_flops_per_s_per_core_quiet_machine (bench_als.json)": r_quiet,
            "c_task_s": c_task,
            "bw_bytes_per_s_assumed": bw,
        },
        "check_on_this_machine": check,
        "predictions_s_per_iteration": preds,
        "published": published,
    }


def markdown(res: dict) -> str:
    sm, dist = res["single_machine"], res["distributed"]
    lines = [
        "# crossrec.distributed on one 2-core machine",
        "",
        f"Data: {res['data']}. {FACTORS} factors, {res['iterations']} iterations, CG {CG} steps. "
        f"Load average before/after: {res['load_before']:.1f} / {res['load_after']:.1f} (shared machine).",
        "",
        "| configuration | s / iteration | vs crossrec 1 thread | peak MB per worker | MB moved / iteration |",
        "|---|---|---|---|---|",
    ]
    base = sm["crossrec_1_thread_s_per_iteration"]
    for name, v in (
        ("crossrec.ALS, 1 thread", base),
        ("crossrec.ALS, 2 threads", sm.get("crossrec_2_threads_s_per_iteration")),
        ("implicit, 1 thread", sm.get("implicit_1_thread_s_per_iteration")),
        ("implicit, 2 threads", sm.get("implicit_2_threads_s_per_iteration")),
    ):
        if v is not None:
            lines.append(f"| {name} | {v:.2f} | {v / base:.2f}x | (client {sm['client_peak_mb']:.0f}) | - |")
    for name, d in dist.items():
        lines.append(
            f"| crd.ALS {name.replace('_', ' ')} ({d['exchange']['users']}) | {d['s_per_iteration']:.2f} | "
            f"{d['s_per_iteration'] / base:.2f}x | {', '.join(f'{x:.0f}' for x in d['peak_worker_mb'])} | "
            f"{d['bytes_moved_per_iteration'] / 2**20:.1f} |"
        )
    if "cmf" in res:
        c = res["cmf"]
        lines.append(f"| crossrec.transfer.CMF, 1 thread | {c['single_machine_s_per_iteration']:.2f} | - | - | - |")
        for name, d in c["distributed"].items():
            lines.append(
                f"| crd.CMF {name.replace('_', ' ')} | {d['s_per_iteration']:.2f} | "
                f"{d['s_per_iteration'] / c['single_machine_s_per_iteration']:.2f}x of CMF | "
                f"{', '.join(f'{x:.0f}' for x in d['peak_worker_mb'])} | {d['bytes_moved_per_iteration'] / 2**20:.1f} |"
            )
    if sm.get("implicit_1_thread_s_per_iteration"):
        lines += [
            "",
            f"crossrec.ALS / implicit, same threads: 1 thread {base / sm['implicit_1_thread_s_per_iteration']:.2f}x"
            + (
                f", 2 threads {sm['crossrec_2_threads_s_per_iteration'] / sm['implicit_2_threads_s_per_iteration']:.2f}x"
                if sm.get("implicit_2_threads_s_per_iteration")
                else ""
            )
            + " (target <= 0.5x).",
        ]
    cm = res.get("cost_model")
    if cm:
        lines += ["", "## Cost model", "", cm["formula"], "", f"fitted: {json.dumps(cm['fitted'])}", ""]
        lines += [f"check on this machine: {json.dumps(cm['check_on_this_machine'])}", ""]
        lines += ["| data, factors | 1 worker | 8 | 32 | 100 |", "|---|---|---|---|---|"]
        for name, row in cm["predictions_s_per_iteration"].items():
            lines.append(
                f"| {name} | " + " | ".join(f"{row[p]['s_per_iteration']:.2f}" for p in ("1", "8", "32", "100")) + " |"
            )
        lines += [
            "",
            "Published (implicit's benchmarks README, last.fm-360k, s/iteration): " + json.dumps(cm["published"]),
        ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the 5.2M set, 2 iterations")
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--memory-gb", type=float, default=6.0, help="total worker memory limit (default 6 GB)")
    ap.add_argument("--skip-implicit", action="store_true")
    ap.add_argument("--skip-cmf", action="store_true")
    ap.add_argument(
        "--single-machine-json",
        default=None,
        help="single-machine results (JSON object) of an earlier run of this script on the same data: skips them",
    )
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", module="implicit")
    iterations = args.iterations or 2
    load_before = os.getloadavg()[0]
    m = generated(args.quick)
    print(f"data: {m.shape[0]} users x {m.shape[1]} items, {m.nnz} interactions", flush=True)
    res = {
        "benchmark": "crossrec.distributed",
        "data": f"ML-100K Kronecker-expanded ({m.shape[0]} users x {m.shape[1]} items, {m.nnz} interactions)",
        "iterations": iterations,
        "factors": FACTORS,
        "machine": machine(),
        "load_before": load_before,
    }
    # single machine: crossrec vs implicit, 1 and 2 threads, same initial factors for implicit
    data = cr.Interactions.from_scipy(m) if args.single_machine_json is None else None
    sm = {} if args.single_machine_json is None else json.loads(args.single_machine_json)
    for threads in (1, 2) if args.single_machine_json is None else ():
        t, model = run_local_als(data, iterations, threads)
        sm[f"crossrec_{threads}_thread{'s' if threads > 1 else ''}_s_per_iteration"] = t
        print("crossrec", threads, t, flush=True)
        if not args.skip_implicit:
            rng = np.random.default_rng(0)
            ui = (rng.standard_normal((m.shape[0], FACTORS)) * 0.01).astype(np.float32)
            ii = (rng.standard_normal((m.shape[1], FACTORS)) * 0.01).astype(np.float32)
            ti = run_implicit(m, iterations, threads, ui, ii)
            sm[f"implicit_{threads}_thread{'s' if threads > 1 else ''}_s_per_iteration"] = ti
            print("implicit", threads, ti, flush=True)
            del ui, ii
        del model
        gc.collect()
    del data
    gc.collect()
    sm.setdefault("client_peak_mb", peak_rss_mb())
    res["single_machine"] = sm
    # distributed ALS: 1 and 2 worker processes (1 thread per task), then the link exchange
    dist = {}
    for n_workers, exchange in ((1, "auto"), (2, "auto"), (2, "links")):
        out, _ = run_distributed(m, n_workers, iterations, args.memory_gb, exchange)
        name = f"{n_workers}_worker{'s' if n_workers > 1 else ''}" + ("_links" if exchange == "links" else "")
        dist[name] = out
        print(name, json.dumps(out), flush=True)
        gc.collect()
    res["distributed"] = dist
    if not args.skip_cmf:
        c = {"single_machine_s_per_iteration": run_local_cmf(m, iterations), "distributed": {}}
        print("cmf local", c["single_machine_s_per_iteration"], flush=True)
        for n_workers in (1, 2):
            out, _ = run_distributed(m, n_workers, iterations, args.memory_gb, cmf=True)
            c["distributed"][f"{n_workers}_worker{'s' if n_workers > 1 else ''}"] = out
            print("cmf", n_workers, json.dumps(out), flush=True)
        res["cmf"] = c
    res["task_overhead"] = task_overhead(args.memory_gb)
    print("task overhead", res["task_overhead"], flush=True)
    res["cost_model"] = cost_model(res, m)
    res["load_after"] = os.getloadavg()[0]
    topic = "distributed_quick" if args.quick else "distributed"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{topic}.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
    (RESULTS / f"{topic}.md").write_text(markdown(res))
    print(markdown(res))
    # the distributed fits compute the same thing: their times are reported, their results checked in tests


if __name__ == "__main__":
    main()
