"""``crossrec transfer --source FILE --target FILE``: the cold-start transfer evaluation from the shell."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, TextIO

import pandas as pd

from ..data import DUPLICATE_POLICIES, Interactions
from .domains import CrossDomain
from .run import run


def add_parser(sub) -> None:
    p = sub.add_parser(
        "transfer",
        help="evaluate transfer methods from a source to a target domain (cold-start "
        "protocol, gains over the best target-only baseline with 95%% CIs)",
    )
    p.add_argument("--source", required=True, help="source domain file: user, item[, rating] per line")
    p.add_argument("--target", required=True, help="target domain file, same format")
    p.add_argument("--sep", default="\t", help="field separator (default TAB)")
    p.add_argument("--header", action="store_true", help="the files have a header line")
    p.add_argument("--implicit", action="store_true", help="implicit feedback (ignore a rating column; rank items)")
    p.add_argument(
        "--shared",
        choices=("users", "items"),
        default="users",
        help="what the two files share: users (default) or items (then cold items are held out)",
    )
    p.add_argument(
        "--fraction", type=float, default=0.5, help="fraction of the overlapping users (items) made cold (default 0.5)"
    )
    p.add_argument(
        "--target-fraction",
        type=float,
        default=1.0,
        help="keep this fraction of each warm user's (item's) target training rows (default 1)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the CIs")
    p.add_argument(
        "--duplicates",
        choices=DUPLICATE_POLICIES,
        default="error",
        help="what repeated (user, item) rows mean, as in Interactions.from_pandas (default: error)",
    )
    p.add_argument(
        "--plot",
        metavar="PNG",
        help="also draw the gain of each method per segment with its CI (needs matplotlib; checked before any "
        "work); the values per model go to the same name with '-values' before the extension",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _read(path: str, sep: str, header: bool, implicit: bool, duplicates: str = "error") -> Interactions:
    df = pd.read_csv(path, sep=sep, header=0 if header else None)
    if df.shape[1] < 2:
        raise ValueError(
            f"{path}: expected at least 2 columns (user, item[, rating]) separated by --sep {sep!r}, got {df.shape[1]}"
        )
    df = df.iloc[:, :3] if df.shape[1] >= 3 and not implicit else df.iloc[:, :2]
    df.columns = ["user", "item", "rating"][: df.shape[1]]
    rating = "rating" if "rating" in df.columns else None
    if rating is not None and not pd.api.types.is_numeric_dtype(df["rating"]):
        first = df["rating"].iloc[0]
        hint = (
            f"its first line looks like a header ({first!r}): pass --header"
            if not header and pd.to_numeric(df["rating"].iloc[1:], errors="coerce").notna().all()
            else "pass --implicit to ignore the third column"
        )
        raise ValueError(f"{path}: the third column (rating) is not numeric; {hint}")
    try:
        return Interactions.from_pandas(df, "user", "item", rating, duplicates=duplicates)
    except ValueError as exc:
        if "duplicate" not in str(exc):
            raise
        raise ValueError(
            f"{path}: {exc}. On the command line: --duplicates {{sum,last,mean,max}} (now {duplicates!r})"
        ) from None


def check_plot_path(path: str) -> None:
    """Fail before any work when ``--plot`` cannot be written: matplotlib missing or no such folder."""
    import importlib.util
    import os

    if importlib.util.find_spec("matplotlib") is None:
        raise ValueError("--plot needs matplotlib, which is not installed: pip install 'crossrec[plot]'")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"--plot {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--plot {path!r}: folder {folder!r} is not writable")


def main(args: argparse.Namespace, out: Optional[TextIO] = None) -> None:
    out = out or sys.stdout
    if args.plot:
        check_plot_path(args.plot)
    duplicates = getattr(args, "duplicates", "error")
    pair = CrossDomain(
        _read(args.source, args.sep, args.header, args.implicit, duplicates),
        _read(args.target, args.sep, args.header, args.implicit, duplicates),
        shared=args.shared,
    )
    s = pair.summary()
    print(
        f"{s['n_overlap']} shared {args.shared} ({s['overlap_fraction_target']:.0%} of the target's); {pair.target!r}",
        file=out,
    )
    res = run(
        pair,
        fraction=args.fraction,
        seed=args.seed,
        n_bootstrap=args.bootstrap,
        progress=not args.no_progress,
        target_fraction=args.target_fraction,
    )
    if res.entity == "item":
        print("segments are items (cold: items with no target training data); rows below are per item", file=out)
    print(res.table().to_string(float_format=lambda x: f"{x:.4f}"), file=out)
    print("\ngain over the best target-only baseline (95% bootstrap CI):", file=out)
    cols = ["method", "segment", "metric", "baseline", "value", "baseline_value", "estimate", "low", "high"]
    print(res.gains[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}"), file=out)
    print(f"\nchosen on validation: {res.chosen}", file=out)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        res.plot(path=args.plot)
        root, dot, ext = args.plot.rpartition(".")
        values = f"{root}-values.{ext}" if dot else f"{args.plot}-values"
        res.report.plot(path=values)
        print(f"plots written to {args.plot} and {values}", file=out)
