"""Every recommender family transfers: a cold-user table per pair with each family's cross-domain
model beside its own target-only counterpart, and beside the factor methods.

Pairs: Douban book -> music and music -> book (explicit: RMSE for the rating families, NDCG@10
for all), the Amazon DisenCDR pairs sport -> cloth and phone -> electronic (implicit, NDCG@10),
and ml-latest-small cut by genre (dramas -> the other films, one vocabulary of genres and tags:
the only pair here with item descriptions, so the only one with the content family).

Families and their target-only counterparts (same split, same test users):

* cross-domain kNN (neighbours from the joint source+target history)  vs  UserKNN on the target
* cross-domain rules (source -> target rules from joint baskets)       vs  AssociationRules on the target
* cross-domain content (profiles from both domains' items)             vs  ContentBased on the target
* fine-tune / CMF / EMCDR (factor transfer)                            vs  target-only ALS (average user / popularity)
* distill kNN -> ALS (a cross-domain kNN teacher, an ALS student)      vs  target-only ALS

Each method's hyper-parameters are chosen on a validation split carved from the training data
(crossrec.transfer.run). Gains are paired bootstrap 95 % intervals over the cold users.

    python benchmarks/bench_families.py [--quick] [--only NAME]

Writes benchmarks/results/families.json and families.md.
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

import crossrec as cr  # noqa: E402
from crossrec.transfer import (  # noqa: E402
    CrossDomainContent,
    CrossDomainKNN,
    CrossDomainRules,
    Distill,
    Method,
)

DATA = Path(os.environ.get("CROSSREC_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results"

COUNTERPART = {
    "cross-domain kNN": "target kNN",
    "cross-domain rules": "target rules",
    "cross-domain content": "target content",
    "fine-tune": "target-only",
    "CMF": "target-only",
    "EMCDR": "target-only",
    "distill kNN->ALS": "target-only",
}
FAMILY = {
    "cross-domain kNN": "neighbourhood",
    "cross-domain rules": "rules",
    "cross-domain content": "content",
    "fine-tune": "factor",
    "CMF": "factor",
    "EMCDR": "factor",
    "distill kNN->ALS": "distillation",
}


class TargetContent(cr.ContentBased):
    """ContentBased fitted on the target with its features given up front (so run can fit it)."""

    def __init__(self, features=None, idf: bool = True, center: bool = True, n_threads: int = 0):
        super().__init__(idf=idf, center=center, n_threads=n_threads)
        self.features = features

    def fit(self, data, item_features=None):
        return super().fit(data, self.features)


def methods(explicit: bool, rating: bool, features=None):
    out = [m for m in cr.transfer.default_methods(explicit) if rating or m.name != "bias"]
    if rating:
        out.append(
            Method(
                "target kNN",
                lambda p, s: cr.UserKNN(k=40, neighborhood="fixed", centering="baseline"),
                transfer=False,
            )
        )
        out.append(
            Method(
                "cross-domain kNN",
                lambda p, s: CrossDomainKNN(**p),
                [dict(k=40, damping=1.0), dict(k=100, damping=1.0), dict(k=100, damping=5.0), dict(k=300, damping=1.0)],
            )
        )
        return out
    out.append(Method("target kNN", lambda p, s: cr.UserKNN(k=100, neighborhood="fixed"), transfer=False))
    out.append(
        Method(
            "target rules",
            lambda p, s: cr.AssociationRules(min_support=5, max_len=2, metric="confidence", aggregate="sum"),
            transfer=False,
        )
    )
    out.append(
        Method(
            "cross-domain kNN",
            lambda p, s: CrossDomainKNN(**p),
            [dict(k=100), dict(k=40), dict(k=300), dict(k=100, source_weight=0.5)],
        )
    )
    out.append(
        Method(
            "cross-domain rules",
            lambda p, s: CrossDomainRules(**p),
            [
                dict(min_support=5, min_confidence=0.05),
                dict(min_support=3, min_confidence=0.02),
                dict(min_support=10, min_confidence=0.1),
            ],
        )
    )
    out.append(
        Method(
            "distill kNN->ALS",
            lambda p, s: Distill(CrossDomainKNN(k=100), cr.ALS(factors=32), epochs=20, **p),
            [dict(alpha=0.5), dict(alpha=0.8)],
        )
    )
    if features is not None:
        out.append(Method("target content", lambda p, s: TargetContent(features), transfer=False))
        out.append(
            Method(
                "cross-domain content",
                lambda p, s: CrossDomainContent(features, **p),
                [dict(source_weight=1.0), dict(source_weight=0.5), dict(source_weight=1.0, idf=False)],
            )
        )
    return out


def pairs(quick: bool):
    book, music = cr.datasets.douban("book", DATA), cr.datasets.douban("music", DATA)
    yield "douban book->music", cr.CrossDomain(book, music), None
    if not quick:
        yield "douban music->book", cr.CrossDomain(music, book), None
    for a, b in [("sport", "cloth"), ("phone", "electronic")][: 1 if quick else 2]:
        d = cr.datasets.amazon_pair(a, b, DATA)
        yield f"amazon {a}->{b}", cr.CrossDomain(d[a].train, d[b].train), None
    s, t, feats = cr.datasets.movielens_latest_genre_split("Drama", data_dir=DATA)
    yield "ml-latest drama->other", cr.CrossDomain(s, t), feats


def rows_of(res, pair_name, metric):
    rep, g = res.report, res.gains
    best = g[(g.segment == "cold") & (g.metric == metric)]
    out = []
    table = rep.table()
    for method, counterpart in COUNTERPART.items():
        if (method, "cold") not in table.index or (counterpart, "cold") not in table.index:
            continue
        c = rep.gain(method, over=counterpart, metric=metric, segment="cold")
        b = best[best.method == method].iloc[0]
        out.append(
            {
                "pair": pair_name,
                "metric": metric,
                "family": FAMILY[method],
                "method": method,
                "cold": float(table.loc[(method, "cold"), metric]),
                "counterpart": counterpart,
                "counterpart_cold": float(table.loc[(counterpart, "cold"), metric]),
                "vs_counterpart": [c.estimate, c.low, c.high],
                "best_target_only": b.baseline,
                "best_target_only_cold": float(b.baseline_value),
                "vs_best": [float(b.estimate), float(b.low), float(b.high)],
                "params": repr(res.chosen.get(method)),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", help="substring of the pair names to run")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--tables", action="store_true", help="only rewrite families.md from families.json")
    args = ap.parse_args()
    if args.tables:
        write_md(json.loads((RESULTS / "families.json").read_text()))
        return
    warnings.simplefilter("ignore", UserWarning)  # kNN's "no neighbour" notes for cold users
    out_path = RESULTS / "families.json"
    results = json.loads(out_path.read_text()) if out_path.exists() and args.only else []
    for name, pair, feats in pairs(args.quick):
        if args.only and args.only not in name:
            continue
        results = [r for r in results if r["pair"] != name]
        explicit = pair.target.explicit
        for rating in (True, False) if explicit and feats is None else (False,):
            metric = "rmse" if rating else "ndcg@10"
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            res = cr.transfer.run(
                pair, methods=methods(explicit, rating, feats), metrics=[metric], n_bootstrap=args.bootstrap, seed=0
            )
            secs = time.perf_counter() - t0
            rows = rows_of(res, name, metric)
            for r in rows:
                r.update(seconds=secs, load_average_1min=load, n_cold=len(res.split.cold_users))
            results += rows
            print(f"{name} {metric}: {secs:.0f} s, load {load:.1f}", flush=True)
            for r in rows:
                print(
                    f"  {r['method']:22s} {r['cold']:.4f} vs {r['counterpart']} {r['counterpart_cold']:.4f} "
                    f"{r['vs_counterpart'][0]:+.4f} [{r['vs_counterpart'][1]:+.4f}, {r['vs_counterpart'][2]:+.4f}]",
                    flush=True,
                )
            out_path.write_text(json.dumps(results, indent=1, default=str))
    write_md(results)


def write_md(results) -> None:
    lines = [
        "# Every family transfers? Cold users, each family beside its own target-only counterpart",
        "",
        "Cold users: 50 % of the overlapping users, all their target interactions held out. Gains are "
        "method minus counterpart (for RMSE negative is better; for NDCG@10 positive), 95 % paired "
        "bootstrap over the cold users. 'best target-only' is the best of all target-only baselines "
        "on that segment (popularity, bias, target ALS, target-only ALS, target kNN, target rules, target "
        "content), chosen on the test table (favours the baselines).",
        "",
        "| pair | metric | family | method | cold | counterpart | its cold | vs counterpart [95 % CI] | "
        "best target-only | vs best [95 % CI] | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c, b = r["vs_counterpart"], r["vs_best"]
        lines.append(
            f"| {r['pair']} | {r['metric']} | {r['family']} | {r['method']} | {r['cold']:.4f} | {r['counterpart']} | "
            f"{r['counterpart_cold']:.4f} | {c[0]:+.4f} [{c[1]:+.4f}, {c[2]:+.4f}] | {r['best_target_only']} "
            f"{r['best_target_only_cold']:.4f} | {b[0]:+.4f} [{b[1]:+.4f}, {b[2]:+.4f}] | "
            f"{r['load_average_1min']:.1f} |"
        )
    (RESULTS / "families.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
