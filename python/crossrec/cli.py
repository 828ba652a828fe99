"""The ``crossrec`` command (also ``python -m crossrec``).

    crossrec demo [--data DIR] [--seed N] [--quick]   end-to-end cold-start transfer job, results table
    crossrec info                                     version, native core, OpenMP, threads, data folder
    crossrec transfer --source F --target F [...]     transfer methods under the cold-start protocol

The demo is built from small functions so that other parts of crossrec can extend it:
:func:`demo_data` (the two domains), :func:`demo_split` (cold-start users of the target),
:func:`demo_models` (the fitted models to compare; add transfer methods there) and :func:`run_demo`.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from typing import Any, Callable, Optional, TextIO

import numpy as np

from . import datasets, split
from .data import Interactions
from ._validation import check_n_threads
from .evaluation import Report, evaluate
from .models.baseline import Baseline, MostPopular, Random
from .transfer import presets
from .transfer.baselines import NoTransfer
from .transfer.domains import CrossDomain

METRICS = ["ndcg@10", "recall@10", "hit@10", "rmse"]


def demo_data(
    data_dir: Optional[str] = None, seed: int = 0, quick: bool = False
) -> tuple[Interactions, Interactions, str]:
    """(source, target, description). Default: the generated two-domain set (shipped as code);
    with ``data_dir``: Douban book (source) -> Douban music (target) read from that folder."""
    if data_dir is not None:
        return (
            datasets.douban("book", data_dir=data_dir),
            datasets.douban("music", data_dir=data_dir),
            f"Douban book -> music from {data_dir}",
        )
    n_users = 800 if quick else 3000
    source, target = datasets.synthetic_pair(
        n_users=n_users,
        n_items_source=600 if quick else 2000,
        n_items_target=400 if quick else 1500,
        shared_factors=16,
        relatedness=0.9,
        density=0.03,
        explicit=True,
        overlap=0.9,
        seed=seed,
    )
    return (
        source,
        target,
        (f"generated pair (synthetic_pair: {n_users} users, relatedness 0.9, seed {seed}; real data: --data DIR)"),
    )


def demo_split(
    source: Interactions, target: Interactions, seed: int = 0, fraction: float = 0.5
) -> tuple[Interactions, Interactions]:
    """The cold-start protocol of ``crossrec transfer`` (:meth:`CrossDomain.cold_start_split`,
    documented in :mod:`crossrec.split`) with the same default fraction: all target interactions
    of ``fraction`` of the users present in both domains go to test; the models see the source
    domain and the remaining target users. The demo reports the cold users only, so it holds out
    no warm interactions (``test_size=0``); returns (train target, test)."""
    cold = CrossDomain(source, target).cold_start_split(fraction, test_size=0.0, seed=seed)
    return cold.train.target, cold.test


def _optional_models(seed: int) -> dict[str, Callable[[], Any]]:
    """Target-only models from other parts of crossrec, when this build has them."""
    import crossrec as cr

    makers: dict[str, Callable[[], Any]] = {}
    if hasattr(cr, "ItemKNN"):
        makers["item kNN (target only)"] = lambda: cr.ItemKNN(k=50)
    if hasattr(cr, "MF"):
        makers["MF (target only)"] = lambda: cr.MF(factors=32, seed=seed)
    if hasattr(cr, "ALS"):
        makers["ALS (target only)"] = lambda: cr.ALS(factors=32, implicit=False, seed=seed)
    return makers


def _transfer_models(source: Interactions, train: Interactions, seed: int) -> tuple[dict, CrossDomain]:
    """Transfer methods with the first settings of their validation grids (crossrec.transfer.run
    tunes them on a validation split; the demo keeps to defaults to stay fast)."""
    pair = CrossDomain(source, train)
    source_model = presets.factor_model(train.explicit, seed=seed, source=True).fit(pair.source)
    target_model = presets.factor_model(train.explicit, seed=seed).fit(pair.target)
    build = presets.builders(train.explicit, seed=seed)
    makers: dict[str, Callable[[], Any]] = {
        # the honest reference for cold users: the target model with every cold user at the
        # average warm user's row (no source used), fitted on the pair like the methods
        "no transfer (average user)": lambda: NoTransfer(presets.factor_model(train.explicit, seed=seed)),
    }
    makers.update(
        {
            f"{name} (transfer)": _bind(build[name], source_model, target_model, params)
            for name, params in presets.DEMO_PARAMS.items()
        }
    )
    return makers, pair


def _bind(build: Callable[..., Any], source_model, target_model, params: dict) -> Callable[[], Any]:
    return lambda: build(source_model, target_model, **params)


def demo_models(source: Interactions, train: Interactions, seed: int = 0, progress: bool = True) -> dict[str, object]:
    """The fitted models the demo compares (name -> fitted model): target-only baselines fitted on
    ``train`` (the target minus the cold users) and transfer methods fitted on the pair
    (``source``, ``train``)."""
    makers: dict[str, Callable[[], Any]] = {
        "random": lambda: Random(seed=seed),
        "most popular": MostPopular,
        "bias (target only)": Baseline,
        **_optional_models(seed),
    }
    transfer_makers, pair = _transfer_models(source, train, seed)
    jobs: list[tuple[str, Callable[[], Any], Any]] = [(name, make, train) for name, make in makers.items()]
    jobs += [(name, make, pair) for name, make in transfer_makers.items()]
    if progress:
        from tqdm.auto import tqdm

        jobs = tqdm(jobs, desc="fitting", unit="model", file=sys.stderr)
    fitted: dict[str, object] = {}
    for name, make, data in jobs:
        try:
            fitted[name] = make().fit(data)
        except Exception as exc:  # an optional model must not sink the demo; say what happened
            warnings.warn(f"demo: {name} skipped: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
    return fitted


def run_demo(
    data_dir: Optional[str] = None,
    seed: int = 0,
    quick: bool = False,
    out: Optional[TextIO] = None,
    progress: bool = True,
) -> Report:
    """Run the whole demo and print its results (to ``out``, default stdout); returns the report."""
    out = sys.stdout if out is None else out
    t0 = time.perf_counter()
    source, target, what = demo_data(data_dir, seed, quick)
    train, test = demo_split(source, target, seed)
    cold = split.test_users(test)
    print(f"data:   {what}", file=out)
    print(f"source: {source}", file=out)
    print(f"target: {target}", file=out)
    print(
        f"split:  {len(cold)} cold-start target users (all their target ratings held out, "
        f"{test.nnz} ratings); train {train}",
        file=out,
    )
    models = demo_models(source, train, seed, progress=progress)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not predict ratings.*")
        # cold users have no target history: kNN's popularity fallback is expected here
        warnings.filterwarnings("ignore", message=".*no neighbour.*")
        report = evaluate(
            models, train, test, metrics=METRICS, segments=None, seed=seed, n_bootstrap=500, progress=progress
        )
    print("\nresults on the cold-start users (full ranking of all target items; rmse over their ratings):", file=out)
    print(report.table().droplevel("segment").to_string(float_format=lambda x: f"{x:.4f}"), file=out)
    # gains against the best model that uses no source data (the strictest reference this table has)
    table = report.table().droplevel("segment")
    target_only = [name for name in models if not name.endswith("(transfer)")]
    for metric in ("rmse", "ndcg@10"):
        if metric == "rmse" and not train.explicit:
            continue
        values = table.loc[target_only, metric].dropna()
        if values.empty:
            continue
        ref = str(values.idxmin() if metric == "rmse" else values.idxmax())
        better = "lower" if metric == "rmse" else "higher"
        print(
            f"\n{metric} gain over the best target-only model, {ref!r} (paired bootstrap, 95% CI; {better} is better):",
            file=out,
        )
        for name in models:
            if name != ref and name.endswith("(transfer)"):
                print("  " + str(report.gain(name, over=ref, metric=metric)), file=out)
    print(f"\ndone in {time.perf_counter() - t0:.1f} s", file=out)
    return report


def info(out: Optional[TextIO] = None) -> None:
    """Print version, native core, OpenMP, threads, BLAS and where data sets are read from."""
    out = sys.stdout if out is None else out
    import scipy

    from . import __version__, _core

    print(f"crossrec {__version__}  (python {platform.python_version()}, {platform.machine()})", file=out)
    print(f"native core: {_core.__file__}", file=out)
    # What models use for n_threads=0: Python resolves it (usable cores) and passes the number on.
    print(
        f"OpenMP: {'yes' if _core.openmp else 'no (serial build)'}; threads for n_threads=0: "
        f"{check_n_threads(0)} (usable cores)",
        file=out,
    )
    print(f"numpy {np.__version__}, scipy {scipy.__version__}", file=out)
    try:
        from threadpoolctl import threadpool_info

        blas = [
            f"{p.get('internal_api')} ({p.get('num_threads')} threads)"
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
        print(f"BLAS: {', '.join(blas) or 'not detected'}", file=out)
    except ImportError:  # pragma: no cover
        pass
    try:
        print(f"data sets: {datasets.data_dir()}", file=out)
    except FileNotFoundError as exc:
        print(f"data sets: not found ({exc})", file=out)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``crossrec`` command (every sub-command registered)."""
    parser = argparse.ArgumentParser(prog="crossrec", description="crossrec: cross-domain recommender systems")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run an end-to-end cold-start transfer job and print a results table")
    demo.add_argument("--data", metavar="DIR", help="folder of the data sets: run on Douban book -> music")
    demo.add_argument("--seed", type=int, default=0, help="seed of data generation, split and models (default 0)")
    demo.add_argument("--quick", action="store_true", help="a smaller generated data set")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    sub.add_parser("info", help="version, native core, OpenMP, threads, data folder")
    from .transfer import command as transfer_command

    transfer_command.add_parser(sub)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            if args.seed < 0:
                parser.error("--seed must be >= 0")
            run_demo(args.data, args.seed, args.quick, progress=not args.no_progress)
        elif args.command == "transfer":
            from .transfer import command as transfer_command

            transfer_command.main(args)
        else:
            info()
    except (FileNotFoundError, ValueError) as exc:
        print(f"crossrec: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
