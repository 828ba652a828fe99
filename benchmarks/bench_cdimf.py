"""CDIMF (aa-samra/cd-imf) run here with its own code, defaults and evaluation, beside crossrec's
methods on the same files, scored through the same evaluation function.

Peer code is imported from ``--cdimf-dir`` (a checkout of github.com/aa-samra/cd-imf, e.g.
``git -C <mirror> archive HEAD | tar -x -C /tmp/cd-imf``); without it the script skips. Nothing of
the peer is copied here: its data files are read from that directory at run time.

Tasks (``--tasks``): ``warm:cloth_sport``, ``warm:electronic_phone`` (both domains each; the files
are byte-identical to ``../shared/data/amazon-disencdr``) and ``cold:cloth_sport`` (its cold-start
files, only in its repository).

Stages (``--stage``): CDIMF fits take tens of minutes on this shared 2-core machine, so ``peer``
fits CDIMF with ``default_params.csv`` (one timed fit, no per-epoch evaluation), evaluates it with
its own functions and caches metrics, fit time, load and the sampled candidates in ``--cache``;
``ours`` reads that cache, fits crossrec's methods (best of ``--repeats`` fit times) and scores
them on the very same candidates with CDIMF's ``topn_recommendations`` and ``model_evaluate``, and
times ONE CDIMF epoch (both domains + aggregation) in the same process, side by side with
crossrec's fits (``cdimf_epoch_seconds`` in the results). ``all`` does both; ``report`` only
writes ``benchmarks/results/cdimf.{json,md}`` from the cache (every stage that ran ``ours`` does too).

The CDIMF candidate lists and ranking: its ``Dataset.generate_samples`` (999 negatives per test
row drawn without replacement from the domain's training items, the user's other test items
excluded, seen items not excluded) seeded with ``np.random.seed(--seed)`` (their driver leaves it
unseeded), then per row: scores of the 1000 candidates, the user's training items among them set
to ``min - 1``, their ``topn_recommendations`` (argpartition + argsort) and ``model_evaluate``
(per_item). ``recommend_like_cdimf`` below re-implements their ``CDIMF.get_recommendations`` for
any score function (theirs is a method of their model reading ``self.X``/``self.Y``); the peer
stage asserts it gives the same lists as theirs on CDIMF's own factors.

Usage::

    python benchmarks/bench_cdimf.py --cdimf-dir /tmp/cd-imf --stage peer
    python benchmarks/bench_cdimf.py --cdimf-dir /tmp/cd-imf --stage ours
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

import crossrec as cr
from _common import RESULTS, machine

NO_TRANSFER = "NoTransfer, defaults (target-only ALS preset; the average user for cold users)"
TASKS = ("warm:cloth_sport", "warm:electronic_phone", "cold:cloth_sport")
TOPN = 10
COLS = ["userid", "itemid", "rating"]


# ---- peer data, as their run_cdimf_experiment prepares it ------------------------------------------
@contextlib.contextmanager
def in_dir(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def peer_modules(cdimf_dir: Path) -> dict[str, Any]:
    sys.path.insert(0, str(cdimf_dir))
    names = ("cdimf", "run_cdimf", "utils.dataprep", "utils.evaluation", "utils.dataset")
    return {n: importlib.import_module(n) for n in names}


def peer_commit(cdimf_dir: Path) -> str:
    mirror = Path("/work/.mirror/aa-samra+cd-imf/repo")
    for git_dir in (cdimf_dir / ".git", mirror):
        if git_dir.exists():
            out = subprocess.run(
                ["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"], capture_output=True, text=True
            )
            if out.returncode == 0:
                return out.stdout.strip()
    return "unknown"


def read(cdimf_dir: Path, task: str, folder: str, part: str) -> pd.DataFrame:
    path = cdimf_dir / "datasets" / task / "dataset" / folder / f"{part}.txt"
    df = pd.read_csv(path, header=None, names=COLS, sep="\t")
    df.fillna(1, inplace=True)  # as their driver: cold-start files have no rating column
    return df


def prepare(cdimf_dir: Path, mods: dict, task: str, domains: str, seed: int) -> dict:
    """The data of their run_cdimf_experiment for model CDIMF: per domain the re-indexed training
    frame, the CSR matrix, the test frame (cold-start: users in the OTHER domain's index), the
    shared users and the seeded candidate samples."""
    dp, ds_mod = mods["utils.dataprep"], mods["utils.dataset"]
    n1, n2 = domains.split("_")
    names = (f"{n1}_{n2}", f"{n2}_{n1}")
    raw = [read(cdimf_dir, task, f, "train") for f in names]
    raw_test = [read(cdimf_dir, task, f, "test") for f in names]
    desc = []
    for df in raw:
        desc.append(
            dict(
                users="userid",
                items="itemid",
                feedback="rating",
                n_items=df.itemid.nunique(),
                n_users=df.userid.nunique(),
            )
        )
    trains, index = zip(*(dp.transform_indices(df, "userid", "itemid") for df in raw))
    mtx = [dp.matrix_from_observations(t, d) for t, d in zip(trains, desc)]
    if task == "warm-start":
        tests = [dp.reindex_data(raw_test[k], data_index=index[k]) for k in (0, 1)]
    else:  # their cold-start indexing: items by the domain's index, users by the other domain's
        tests = [
            dp.reindex_data(
                dp.reindex_data(raw_test[k], data_index=index[k], fields="items"),
                data_index=index[1 - k],
                fields="users",
            )
            for k in (0, 1)
        ]
    shared = np.intersect1d(raw[1].userid.unique(), raw[0].userid.unique())
    common = [index[k]["users"].get_indexer(shared) for k in (0, 1)]
    np.random.seed(seed)  # their driver draws the samples unseeded
    dsets = []
    for k, name in enumerate((n1, n2)):
        d = ds_mod.Dataset(training=trains[k], test=tests[k], description=desc[k], name=name)
        d.generate_samples(
            negatives_per_item=999, sampling_method="per_item", exclude_seen_items=False, item_catalog="relative"
        )
        dsets.append(d)
    return dict(
        names=(n1, n2),
        raw=raw,
        raw_test=raw_test,
        desc=desc,
        trains=trains,
        index=index,
        mtx=mtx,
        tests=tests,
        common=common,
        datasets=dsets,
    )


def recommend_like_cdimf(
    score: Callable[[int, np.ndarray], np.ndarray], seen: dict, samples: list, topn_recommendations
) -> np.ndarray:
    """Their CDIMF.get_recommendations for any ``score(userid, sampled_items)``: the training items of
    ``userid`` (looked up in the domain's own training frame, as theirs, even when the id is the
    other domain's user index in the cold-start task) among the candidates go to ``min - 1``."""
    recs = []
    for userid, items in samples:
        s = np.asarray(score(userid, items), dtype=np.float32).copy()
        seen_items = seen.get(int(userid))
        if seen_items is not None:
            hit = np.where(np.isin(items, seen_items))
            s[hit] = s.min() - 1
        recs.append(items[topn_recommendations(s.reshape(1, -1), topn=TOPN)])
    return np.vstack(recs)


def seen_map(train: pd.DataFrame) -> dict:
    return {int(u): g.to_numpy() for u, g in train.groupby("userid")["itemid"]}


def evaluate_like_cdimf(mods, data, k: int, score) -> dict:
    ev = mods["utils.evaluation"]
    d = data["datasets"][k]
    recs = recommend_like_cdimf(score, seen_map(data["trains"][k]), d.samples, ev.topn_recommendations)
    m = ev.model_evaluate(recs, d.test, d.description, topn=TOPN, sampling_method=d.sampling_method)
    return {"HR@10": float(m["HR@10"]), "NDCG@10": float(m["NDCG@10"])}


# ---- the peer stage ----------------------------------------------------------------------------------
def cdimf_nodes(mods, data, params):
    return [mods["cdimf"].CDIMF(data=data["mtx"][k], common_users=data["common"][k], params=params) for k in (0, 1)]


def cdimf_params(mods, task: str, domains: str) -> dict:
    opt = {"task": task, "model": "CDIMF", "domains": domains}
    return mods["run_cdimf"].load_params(opt, params_file="default_params.csv")


def run_peer(cdimf_dir: Path, mods: dict, task_key: str, seed: int, cache: Path) -> dict:
    task, domains = task_key.split(":")
    task = f"{task}-start"
    with in_dir(cdimf_dir):
        data = prepare(cdimf_dir, mods, task, domains, seed)
        params = cdimf_params(mods, task, domains)
    nodes = cdimf_nodes(mods, data, params)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    mods["run_cdimf"].simulate_cdimf_nodes(
        nodes=nodes,
        datasets=data["datasets"],
        n_epochs=params["num_epoch"],
        evaluate_every=0,
        aggregate_every=1,
        verbose=0,
    )
    fit = time.perf_counter() - t0
    out: dict[str, Any] = {
        "task": task_key,
        "params": {k: (v if not isinstance(v, np.generic) else v.item()) for k, v in params.items()},
        "fit_seconds": fit,
        "load_before": load0,
        "load_after": os.getloadavg()[0],
        "domains": {},
    }
    cold = task == "cold-start"
    ev = mods["utils.evaluation"]
    for k, name in enumerate(data["names"]):
        d = data["datasets"][k]
        user_rows = nodes[1 - k].X if cold else nodes[k].X
        item_rows = nodes[k].Y
        theirs = nodes[k].get_recommendations(
            d.training,
            samples=d.samples,
            topn=TOPN,
            seen_items_excluded=d.seen_items_excluded,
            from_foreign_domain=nodes[1 - k] if cold else None,
        )
        m = ev.model_evaluate(theirs, d.test, d.description, topn=TOPN, sampling_method=d.sampling_method)
        mine = recommend_like_cdimf(
            lambda u, items: user_rows[u] @ item_rows[items].T,
            seen_map(data["trains"][k]),
            d.samples,
            ev.topn_recommendations,
        )
        same = bool(np.array_equal(mine, theirs))
        assert same, "recommend_like_cdimf differs from CDIMF.get_recommendations"
        out["domains"][name] = {
            "HR@10": float(m["HR@10"]),
            "NDCG@10": float(m["NDCG@10"]),
            "recs_equal_to_theirs": same,
        }
        print(task_key, name, out["domains"][name], f"fit {fit:.1f}s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"{task_key.replace(':', '_')}.json").write_text(json.dumps(out, indent=2))
    return out


# ---- the crossrec stage ------------------------------------------------------------------------------
CDIMF_LIKE = dict(regularization=0.03, alpha=1 / 0.3 - 1)
"""CDIMF's iALS step, A = a Y'Y + Y_u'Y_u + reg R_u^2 I with rhs Y_u'1 (a = unobserved_weight = 0.3,
R_u^2 = n_u / n_items + a for v = 0.5), divided by a, is crossrec's implicit ALS step with confidence
1 + alpha, alpha = 1/a - 1 = 2.33, and ridge reg R_u^2 / a ~ reg = 0.03: one of the grid points below."""

ALS_GRID = [
    dict(factors=64, iterations=15, regularization=1.0, alpha=10.0),
    dict(factors=64, iterations=15, **CDIMF_LIKE),
    dict(factors=192, iterations=12, regularization=1.0, alpha=10.0),
    dict(factors=192, iterations=12, **CDIMF_LIKE),
]


def interactions(frames: list, user_ids=None) -> cr.Interactions:
    df = pd.concat(frames, ignore_index=True)
    return cr.Interactions.from_pandas(df, "userid", "itemid", None, user_ids=user_ids)


def sample_scores(model, data: dict, k: int, cold: bool) -> list:
    """Model scores of every candidate list of domain k, aligned with its samples."""
    d = data["datasets"][k]
    user_index = data["index"][1 - k if cold else k]["users"]
    item_index = data["index"][k]["items"]
    users = np.array([u for u, _ in d.samples])
    out: list = [None] * len(users)
    uniq = np.unique(users)
    for start in range(0, len(uniq), 512):
        block = uniq[start : start + 512]
        rows = model.score(user_index[block].to_numpy())
        pos = {int(u): r for r, u in enumerate(block)}
        for j in np.flatnonzero(np.isin(users, block)):
            items = d.samples[j][1]
            cols = model.item_map_.lookup(item_index[items].to_numpy())
            out[j] = rows[pos[int(users[j])], cols]
    return out


def score_like_cdimf(mods, data, k, cold, model) -> dict:
    scores = sample_scores(model, data, k, cold)
    it = iter(scores)
    return evaluate_like_cdimf(mods, data, k, lambda u, items: next(it))


def timed_fit(make: Callable, fit_arg, repeats: int):
    best, model = float("inf"), None
    for _ in range(repeats):
        m = make()
        t = time.perf_counter()
        m.fit(fit_arg)
        best = min(best, time.perf_counter() - t)
        model = m
    return best, model


def validation_ndcg(model, train: cr.Interactions, val: cr.Interactions, users=None) -> float:
    rep = cr.evaluate(
        {"m": model},
        train,
        val,
        ["ndcg@10"],
        protocol="sampled",
        # DisenCDR's sampler skips users with no target training row: every cold user
        sampler="disencdr" if users is None else "cdimf",
        seed=0,
        segments=None if users is None else {"cold": users},
        n_bootstrap=10,
    )
    t = rep.table()
    return float(t.loc[("m", "cold" if users is not None else "all"), "ndcg@10"])


def tune(kind: str, grid: list, fit_on, train_t, val_t, users=None) -> tuple[dict, list]:
    """Pick the grid point with the best validation NDCG@10 (sampled, 999 negatives: DisenCDR's sampler, CDIMF's for cold users)."""
    scored = []
    for params in grid:
        if kind == "ALS":
            model = cr.ALS(**params, seed=0).fit(fit_on)
        elif kind == "CMF":
            model = cr.transfer.CMF(**params, weights=(1.0, 1.0), seed=0).fit(fit_on)
        elif kind == "ConsensusCMF":
            model = cr.transfer.ConsensusCMF(**params, seed=0).fit(fit_on)
        else:
            model = cr.transfer.EMCDR(**params).fit(fit_on)
        scored.append((validation_ndcg(model, train_t, val_t, users), params))
        print(f"  {kind} {params}: validation ndcg@10 {scored[-1][0]:.4f}", flush=True)
    best = max(scored, key=lambda x: x[0])
    return best[1], [(float(v), p) for v, p in scored]


def cdimf_epoch_seconds(mods, data, params) -> float:
    nodes = cdimf_nodes(mods, data, params)
    t = time.perf_counter()
    mods["run_cdimf"].simulate_cdimf_nodes(
        nodes=nodes, datasets=data["datasets"], n_epochs=1, evaluate_every=0, verbose=0
    )
    return time.perf_counter() - t


def run_ours(cdimf_dir: Path, mods: dict, task_key: str, args) -> dict:
    task, domains = task_key.split(":")
    cold = task == "cold"
    task = f"{task}-start"
    with in_dir(cdimf_dir):
        data = prepare(cdimf_dir, mods, task, domains, args.seed)
        params = cdimf_params(mods, task, domains)
    out: dict[str, Any] = {"task": task_key, "load_before": os.getloadavg()[0], "domains": {}}
    out["cdimf_epoch_seconds"] = cdimf_epoch_seconds(mods, data, params)
    out["cdimf_epochs"] = int(params["num_epoch"])
    print(task_key, "one CDIMF epoch", out["cdimf_epoch_seconds"], flush=True)
    for k, name in enumerate(data["names"]):
        target_raw, source_raw = data["raw"][k], data["raw"][1 - k]
        target = interactions([target_raw])
        source = interactions([source_raw])
        pair = cr.CrossDomain(source, target)
        res: dict[str, Any] = {"models": {}, "tuning": {}}
        # validation carved from the target's training data only
        if cold:
            vsplit = pair.cold_start_split(0.05, test_size=0.0, seed=1)
            v_train, v_test, v_pair, v_users = vsplit.train.target, vsplit.test, vsplit.train, vsplit.cold_user_ids
        else:
            v_train, v_test = cr.split.user_holdout(target, leave_out=1, seed=1)
            v_pair, v_users = cr.CrossDomain(source, v_train), None
        makers: dict[str, tuple[Callable, Any, int]] = {}
        if not cold:
            makers["ALS (target only), defaults"] = (lambda: cr.ALS(seed=0), target, args.repeats)
            best_als, res["tuning"]["ALS"] = tune("ALS", ALS_GRID, v_train, v_train, v_test)
            makers["ALS (target only), tuned"] = (lambda p=best_als: cr.ALS(**p, seed=0), target, args.repeats)
        makers[NO_TRANSFER] = (lambda: cr.transfer.NoTransfer(), pair, args.repeats)
        makers["CMF, defaults"] = (lambda: cr.transfer.CMF(), pair, args.repeats)
        best_cmf, res["tuning"]["CMF"] = tune("CMF", ALS_GRID, v_pair, v_train, v_test, v_users)
        makers["CMF, tuned"] = (lambda p=best_cmf: cr.transfer.CMF(**p, weights=(1.0, 1.0), seed=0), pair, args.repeats)
        if not getattr(args, "no_consensus", False):
            makers["ConsensusCMF, defaults"] = (lambda: cr.transfer.ConsensusCMF(), pair, args.repeats)
            grid = [dict(best_cmf, rho=rho) for rho in (1.0, 10.0, 100.0)]
            best_cons, res["tuning"]["ConsensusCMF"] = tune("ConsensusCMF", grid, v_pair, v_train, v_test, v_users)
            makers["ConsensusCMF, tuned"] = (
                lambda p=best_cons: cr.transfer.ConsensusCMF(**p, seed=0),
                pair,
                args.repeats,
            )
        makers["FineTune, defaults"] = (lambda: cr.transfer.FineTune(), pair, args.repeats)
        makers["EMCDR, defaults"] = (lambda: cr.transfer.EMCDR(), pair, args.repeats)
        makers["Auto, defaults"] = (lambda: cr.transfer.Auto(), pair, 1)
        for label, (make, fit_on, reps) in makers.items():
            load = os.getloadavg()[0]
            fit, model = timed_fit(make, fit_on, reps)
            m = score_like_cdimf(mods, data, k, cold, model)
            m.update(fit_seconds=fit, repeats=reps, load=load)
            if not cold and "tuned" in label:  # cross-check: crossrec's own emulation of CDIMF's sampler
                test = cr.Interactions.from_pandas(
                    data["raw_test"][k], "userid", "itemid", None, user_ids=target.user_ids, item_ids=target.item_ids
                )
                rep = cr.evaluate(
                    {"m": model},
                    target,
                    test,
                    ["hit@10", "ndcg@10"],
                    protocol="sampled",
                    sampler="cdimf",
                    seed=args.seed,
                    n_bootstrap=10,
                )
                t = rep.table()
                m["cr_evaluate_cdimf_sampler"] = {
                    "HR@10": float(t.loc[("m", "all"), "hit@10"]),
                    "NDCG@10": float(t.loc[("m", "all"), "ndcg@10"]),
                }
            res["models"][label] = m
            print(task_key, name, label, m, flush=True)
        out["domains"][name] = res
    out["load_after"] = os.getloadavg()[0]
    args.cache.mkdir(parents=True, exist_ok=True)
    (args.cache / f"ours_{task_key.replace(':', '_')}.json").write_text(json.dumps(out, indent=2, default=float))
    return out


# ---- the report ----------------------------------------------------------------------------------------
PUBLISHED = "CDIMF's README and repository give no result table (its paper's numbers are not in the repository); column left empty."


def report(cache: Path, commit: str) -> None:
    peers = {p.stem: json.loads(p.read_text()) for p in cache.glob("*.json") if not p.stem.startswith("ours_")}
    ours = {p.stem[5:]: json.loads(p.read_text()) for p in cache.glob("ours_*.json")}
    result = {
        "peer": "aa-samra/cd-imf",
        "peer_commit": commit,
        "machine": machine(),
        "peer_runs": peers,
        "crossrec_runs": ours,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cdimf.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    lines = [
        "# CDIMF (aa-samra/cd-imf) run here beside crossrec: same files, same evaluation function",
        "",
        f"Peer commit `{commit}`; produced by `benchmarks/bench_cdimf.py --cdimf-dir <checkout>`. {PUBLISHED}",
        "",
        "Scores: CDIMF's own candidate lists (`Dataset.generate_samples`, 999 negatives per test row, seed 15)"
        " ranked by its `topn_recommendations` and scored by its `model_evaluate` (per_item) for every model."
        " crossrec's settings: defaults, or chosen on validation carved from training (leave-one-out of the"
        " target's train for warm start; a 5 % cold split of the training overlap for cold start; sampled NDCG@10)"
        " - never on test. Ratios are crossrec / CDIMF.",
        "",
    ]
    for key, o in ours.items():
        p = peers.get(key)
        if p is None:
            continue
        epoch = o["cdimf_epoch_seconds"]
        lines += [
            f"## {key}",
            "",
            f"CDIMF fit ({p['params']['num_epoch']} epochs, rank {p['params']['rank']}, rho {p['params']['rho']}):"
            f" {p['fit_seconds']:.0f} s in the peer stage (load {p['load_before']:.1f} -> {p['load_after']:.1f});"
            f" one CDIMF epoch timed in the crossrec run: {epoch:.0f} s (x{o['cdimf_epochs']} = {epoch * o['cdimf_epochs']:.0f} s),"
            f" load {o['load_before']:.1f} -> {o['load_after']:.1f}.",
            "",
            "Fit ratio: crossrec's fit (best of the repeats) / (one CDIMF epoch x epochs), both timed in the crossrec run;"
            " the CDIMF row's fit s is its full fit in the peer stage.",
            "",
            "| domain | model | HR@10 | NDCG@10 | HR ratio | NDCG ratio | fit s | fit ratio vs CDIMF (same run) | cr.evaluate cdimf sampler HR / NDCG |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for dom, res in o["domains"].items():
            ph = p["domains"][dom]
            lines.append(
                f"| {dom} | **CDIMF (peer run here)** | {ph['HR@10']:.4f} | {ph['NDCG@10']:.4f} | 1 | 1 | {p['fit_seconds']:.0f} | 1 | - |"
            )
            cdimf_fit = epoch * o["cdimf_epochs"]
            for label, m in res["models"].items():
                label = NO_TRANSFER if label.startswith("NoTransfer") else label
                xc = m.get("cr_evaluate_cdimf_sampler")
                xcs = f"{xc['HR@10']:.4f} / {xc['NDCG@10']:.4f}" if xc else "-"
                lines.append(
                    f"| {dom} | {label} | {m['HR@10']:.4f} | {m['NDCG@10']:.4f} | {m['HR@10'] / ph['HR@10']:.3f} |"
                    f" {m['NDCG@10'] / ph['NDCG@10']:.3f} | {m['fit_seconds']:.1f} | {m['fit_seconds'] / cdimf_fit:.4f} | {xcs} |"
                )
        lines.append("")
    for key in TASKS:
        if key.replace(":", "_") not in ours:
            lines += [f"## {key}: not in this run (give `--tasks {key}`)", ""]
    lines += [
        "## CDIMF's protocol quirks (read in its code)",
        "- `default_params.csv` fixes rank, rho, epochs per task; its driver evaluates on test after every epoch"
        " and has no validation split, so those settings are (at best) chosen on test. crossrec's are chosen on"
        " validation carved from training.",
        "- Its candidate draw (`Dataset.generate_samples`) is unseeded; we seed numpy with 15 before it.",
        "- Seen items are not excluded from the 1000 candidates; they are pushed to the bottom (`min - 1`) at ranking,"
        " so a user with many training items has effectively fewer negatives.",
        "- Cold start: test users are indexed in the OTHER domain's user index (their factors come from the other node),"
        " but the seen-item lookup uses that id in the target's training frame, i.e. it downvotes the items of an"
        " unrelated target user with the same index. We reproduce it for every model (same function).",
        "- `model_evaluate` averages over test rows (per_item), not users; cold-start users have several rows.",
        "- `utils/evaluation.py`'s `downvote_negative_samples` is not what the driver uses; crossrec's"
        ' `sampler="cdimf"` emulates that function; its distribution of candidates is the same (the positive plus'
        " 999 uniformly drawn other training items), ties are broken differently.",
    ]
    (RESULTS / "cdimf.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


# ---- main ------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cdimf-dir", type=Path, default=None, help="checkout of aa-samra/cd-imf; absent: skip")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--stage", choices=("peer", "ours", "all", "report"), default="all")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/cdimf_cache"))
    ap.add_argument("--seed", type=int, default=15, help="seeds their candidate draw (their driver leaves it unseeded)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-consensus", action="store_true", help="leave ConsensusCMF out (time)")
    ap.add_argument("--grid", choices=("full", "small"), default="full", help="small: the 64-factor grid points only")
    args = ap.parse_args()
    if args.cdimf_dir is None or not (args.cdimf_dir / "cdimf.py").exists():
        print("skipped: give --cdimf-dir, a checkout of github.com/aa-samra/cd-imf")
        return
    cdimf_dir = args.cdimf_dir.resolve()
    mods = peer_modules(cdimf_dir)
    if args.grid == "small":
        ALS_GRID[:] = [p for p in ALS_GRID if p["factors"] == 64]
    for task_key in args.tasks if args.stage != "report" else ():
        if args.stage in ("peer", "all"):
            run_peer(cdimf_dir, mods, task_key, args.seed, args.cache)
        if args.stage in ("ours", "all"):
            run_ours(cdimf_dir, mods, task_key, args)
    if args.stage in ("ours", "all", "report"):
        report(args.cache, peer_commit(cdimf_dir))


if __name__ == "__main__":
    main()
