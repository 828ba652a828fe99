"""``crossrec transfer --source FILE --target FILE``: the cold-start transfer evaluation from the shell."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, TextIO

import pandas as pd

from ..data import Interactions
from .domains import CrossDomain
from .run import run


def add_parser(sub) -> None:
    p = sub.add_parser(
        "transfer",
        help="evaluate transfer methods from a source to a target domain (cold-start "
        "protocol, gains over the best target-only baseline with 95% CIs)",
    )
    p.add_argument("--source", required=True, help="source domain file: user, item[, rating] per line")
    p.add_argument("--target", required=True, help="target domain file, same format")
    p.add_argument("--sep", default="\t", help="field separator (default TAB)")
    p.add_argument("--header", action="store_true", help="the files have a header line")
    p.add_argument("--implicit", action="store_true", help="implicit feedback (ignore a rating column; rank items)")
    p.add_argument("--fraction", type=float, default=0.5, help="fraction of overlapping users made cold (default 0.5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the CIs")
    p.add_argument("--plot", metavar="PNG", help="also draw the report (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _read(path: str, sep: str, header: bool, implicit: bool) -> Interactions:
    df = pd.read_csv(path, sep=sep, header=0 if header else None)
    if df.shape[1] < 2:
        raise ValueError(f"{path}: expected at least 2 columns (user, item[, rating]), got {df.shape[1]}")
    df = df.iloc[:, :3] if df.shape[1] >= 3 and not implicit else df.iloc[:, :2]
    df.columns = ["user", "item", "rating"][: df.shape[1]]
    rating = "rating" if "rating" in df.columns else None
    return Interactions.from_pandas(df, "user", "item", rating, duplicates="last" if rating else "max")


def main(args: argparse.Namespace, out: Optional[TextIO] = None) -> None:
    out = out or sys.stdout
    pair = CrossDomain(
        _read(args.source, args.sep, args.header, args.implicit),
        _read(args.target, args.sep, args.header, args.implicit),
    )
    s = pair.summary()
    print(
        f"{s['n_overlap']} shared users ({s['overlap_fraction_target']:.0%} of the target's); {pair.target!r}", file=out
    )
    res = run(pair, fraction=args.fraction, seed=args.seed, n_bootstrap=args.bootstrap, progress=not args.no_progress)
    print(res.table().to_string(float_format=lambda x: f"{x:.4f}"), file=out)
    print("\ngain over the best target-only baseline (95% bootstrap CI):", file=out)
    cols = ["method", "segment", "metric", "baseline", "value", "baseline_value", "estimate", "low", "high"]
    print(res.gains[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}"), file=out)
    print(f"\nchosen on validation: {res.chosen}", file=out)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        ax = res.plot()
        ax.figure.savefig(args.plot, bbox_inches="tight")
        print(f"plot written to {args.plot}", file=out)
