"""Why transfer gains vanish on Amazon sport<->phone and not on cloth<->sport or phone<->electronic.

For each direction of the three DisenCDR pairs (every user is in both domains; ``test.txt`` holds
one left-out target item per user, so every test user is warm):

* data: users, items, interactions per user, density of each domain;
* relatedness: :func:`crossrec.transfer.diagnose` (activity correlation, CKA of the user factors,
  held-out R^2 of the ridge map from source to target user rows on half of the users, EMCDR's
  relative gain on a cold-start split of the training data), and neighbour agreement: for 1,000
  seeded users, the share of their 20 nearest users (cosine on interactions) in the source that
  are also among their 20 nearest in the target, against the chance level 20 / (n - 1);
* warm-user gains on the published test: NDCG@10 full ranking and DisenCDR's sampled protocol
  (999 negatives) of target-only ALS, CMF, fine-tuning and Auto (fitted on the training pair;
  with every user warm its choice for them is its warm guard's), differences against ALS with
  95 % paired bootstrap intervals (popularity beside them: the sampled protocol rewards it).

Defaults only; nothing is selected on the test. Writes benchmarks/results/sport_phone.{json,md}
(the tables; the diagnosis section of sport_phone.md is written by hand from them).

    python benchmarks/bench_sport_phone.py [--pairs sport:phone phone:sport ...]
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
import scipy.sparse as sp  # noqa: E402
from crossrec.transfer.presets import factor_model  # noqa: E402

DATA = Path(os.environ.get("CROSSREC_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results"
PAIRS = ["sport:phone", "phone:sport", "cloth:sport", "sport:cloth", "phone:electronic", "electronic:phone"]


def neighbour_agreement(a: sp.csr_matrix, b: sp.csr_matrix, k: int = 20, n_query: int = 1000, seed: int = 0) -> float:
    """Mean share of a user's k nearest users (cosine) in domain a that are among their k nearest in b."""

    def unit(m):
        m = sp.csr_matrix(m, dtype=np.float64)
        norms = np.sqrt(np.asarray(m.multiply(m).sum(1))).ravel()
        return sp.diags(1.0 / np.maximum(norms, 1e-12)) @ m

    a, b = unit(a), unit(b)
    rng = np.random.default_rng(seed)
    q = rng.choice(a.shape[0], min(n_query, a.shape[0]), replace=False)

    def top(m):
        s = (m[q] @ m.T).toarray()
        s[np.arange(len(q)), q] = -np.inf
        return np.argpartition(-s, k, axis=1)[:, :k]

    ta, tb = top(a), top(b)
    return float(np.mean([len(np.intersect1d(x, y)) / k for x, y in zip(ta, tb)]))


def one(src_name: str, tgt_name: str, n_boot: int) -> dict:
    d = cr.datasets.amazon_pair(src_name, tgt_name, DATA)
    source, train, test = d[src_name].train, d[tgt_name].train, d[tgt_name].test
    pair = cr.CrossDomain(source, train)
    out: dict = {
        "pair": f"{src_name}->{tgt_name}",
        "load_average_1min": os.getloadavg()[0],
        "auto_validation_iterations": cr.transfer.Auto().get_params()["validation_iterations"],
        "commit": os.popen(f"git -C {REPO} rev-parse --short HEAD").read().strip(),
    }
    for role, dom in (("source", source), ("target", train)):
        counts = dom.user_counts()
        out[role] = {
            "users": int((counts > 0).sum()),
            "items": dom.n_items,
            "interactions": dom.nnz,
            "density": dom.nnz / (dom.n_users * dom.n_items),
            "median_per_user": float(np.median(counts[counts > 0])),
            "mean_per_user": float(counts[counts > 0].mean()),
        }
    out["diagnose"] = cr.transfer.diagnose(pair).values
    out["neighbour_agreement@20"] = neighbour_agreement(source.matrix, train.matrix)
    out["neighbour_chance@20"] = 20 / (train.n_users - 1)
    fits = {}
    models = {}
    for name, make in (
        ("ALS (target only)", lambda: cr.ALS(seed=0).fit(train)),
        ("popularity", lambda: cr.MostPopular().fit(train)),
        ("ALS, transfer defaults (target only)", lambda: factor_model(False).fit(train)),
        ("CMF", lambda: cr.transfer.CMF(weights=(1.0, 1.0)).fit(pair)),
        ("CMF, transfer defaults", lambda: cr.transfer.CMF(model=factor_model(False), weights=(1.0, 1.0)).fit(pair)),
        ("fine-tune", lambda: cr.transfer.FineTune().fit(pair)),
        ("Auto", lambda: cr.transfer.Auto().fit(pair)),
    ):
        t0 = time.perf_counter()
        models[name] = make()
        fits[name] = time.perf_counter() - t0
    auto = models["Auto"]
    out["fit_seconds"] = fits
    out["auto"] = {
        "choice": auto.choice_,
        "transfer_for_warm": auto.transfer_for_warm_,
        "warm_choice": auto.warm_choice_,
        "reason": auto.reason_,
        "trials": auto.trials_,
    }
    out["protocols"] = {}
    for key, kw in (("full", {}), ("disencdr", {"protocol": "sampled", "sampler": "disencdr"})):
        rep = cr.evaluate(models, train, test, ["ndcg@10", "hit@10"], seed=0, **kw)
        table = rep.table()
        res = {"ndcg@10": {m: float(table.loc[(m, "all"), "ndcg@10"]) for m in models}, "gain_over_als": {}}
        for m in models:
            if m != "ALS (target only)":
                g = rep.gain(m, "ALS (target only)", "ndcg@10", n_bootstrap=n_boot)
                res["gain_over_als"][m] = [g.estimate, g.low, g.high]
        out["protocols"][key] = res
    return out


def markdown(out: dict) -> str:
    runs = out["runs"]
    lines = [
        "# Amazon sport<->phone: why transfer gains vanish (against cloth<->sport, phone<->electronic)",
        "",
        "DisenCDR's files: every user in both domains, one left-out target item per user in `test.txt`, so every "
        "test user is warm. Defaults only (nothing selected on test). Load average "
        f"{min(r['load_average_1min'] for r in runs):.1f}-{max(r['load_average_1min'] for r in runs):.1f} "
        "(2 cores shared).",
        "",
        "## Data and relatedness",
        "",
        "| pair | users | source items / inter. per user (median) / density | target items / per user / density | "
        "activity corr | factor CKA | map R^2 (held out) | neighbour agreement@20 (chance) | EMCDR cold val gain |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        s, t, dg = r["source"], r["target"], r["diagnose"]
        lines.append(
            f"| {r['pair']} | {t['users']} | {s['items']} / {s['median_per_user']:.0f} / {s['density']:.5f} | "
            f"{t['items']} / {t['median_per_user']:.0f} / {t['density']:.5f} | {dg['bias_correlation']:.3f} | "
            f"{dg['factor_cka']:.3f} | {dg['map_r2']:+.3f} | {r['neighbour_agreement@20']:.3f} "
            f"({r['neighbour_chance@20']:.4f}) | {dg['validation_gain']:+.1%} |"
        )
    lines += [
        "",
        "## Warm users on the published test (NDCG@10; difference against target-only ALS, 95 % CI)",
        "",
        "| pair | protocol | ALS | popularity - ALS | ALS (transfer defaults) - ALS | CMF - ALS | "
        "CMF (transfer defaults) - ALS | fine-tune - ALS | Auto - ALS | Auto's choice (warm users' choice) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        for key, res in r["protocols"].items():
            g = res["gain_over_als"]
            cell = lambda m: f"{g[m][0]:+.4f} [{g[m][1]:+.4f}, {g[m][2]:+.4f}]"  # noqa: E731
            lines.append(
                f"| {r['pair']} | {key} | {res['ndcg@10']['ALS (target only)']:.4f} | {cell('popularity')} | "
                f"{cell('ALS, transfer defaults (target only)')} | {cell('CMF')} | {cell('CMF, transfer defaults')} | "
                f"{cell('fine-tune')} | {cell('Auto')} | {r['auto']['choice']} ({r['auto']['warm_choice']}) |"
            )
    lines.append(
        "\nCommit of each row's run: "
        + ", ".join(f"{r['pair']} {r.get('commit', '0499f4d, Auto validating at half the sweeps')}" for r in runs)
        + f". Total {out['total_seconds']:.0f} s (last run)."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", nargs="+", default=PAIRS, help="source:target names")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--merge", action="store_true", help="replace only these pairs' runs in the existing results")
    args = ap.parse_args()
    t0 = time.perf_counter()
    path = RESULTS / "sport_phone.json"
    kept = json.loads(path.read_text())["runs"] if args.merge and path.exists() else []
    runs = []
    for p in args.pairs:
        s, t = p.split(":")
        r = one(s, t, args.bootstrap)
        runs.append(r)
        full = r["protocols"]["full"]["gain_over_als"]
        print(
            f"{r['pair']}: CKA {r['diagnose']['factor_cka']:.3f} map R2 {r['diagnose']['map_r2']:+.3f} "
            f"nbr {r['neighbour_agreement@20']:.3f}; CMF-ALS full {full['CMF'][0]:+.4f} "
            f"[{full['CMF'][1]:+.4f}, {full['CMF'][2]:+.4f}]; Auto {r['auto']['choice']} warm "
            f"{r['auto']['transfer_for_warm']} Auto-ALS {full['Auto'][0]:+.4f}",
            flush=True,
        )
    new = {r["pair"]: r for r in runs}
    runs = [new.pop(r["pair"], r) for r in kept] + list(new.values())
    out = {"benchmark": "sport_phone", "total_seconds": time.perf_counter() - t0, "runs": runs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sport_phone.json").write_text(
        json.dumps(out, indent=1, default=lambda x: x.item() if isinstance(x, np.generic) else repr(x))
    )
    (RESULTS / "sport_phone.md").write_text(markdown(out))


if __name__ == "__main__":
    main()
