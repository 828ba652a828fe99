"""The crossrec command: demo on generated and real data, info, errors."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crossrec as cr
from crossrec import cli
from conftest import DATA_DIR, data_path


def test_demo_generated(capsys):
    assert cli.main(["demo", "--quick", "--no-progress", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "generated pair" in out and "cold-start target users" in out
    for name in ("random", "most popular", "bias (target only)", "ndcg@10", "rmse"):
        assert name in out
    assert "95% CI" in out


def test_demo_gains_are_against_the_best_target_only_model(capsys):
    """The demo's reference is the best model that uses no source data (NoTransfer included), per metric."""
    report = cli.run_demo(seed=0, quick=True, out=open(os.devnull, "w"), progress=False)
    table = report.table().droplevel("segment")
    target_only = [n for n in table.index if not n.endswith("(transfer)")]
    assert "no transfer (average user)" in target_only
    best_rmse = table.loc[target_only, "rmse"].dropna().idxmin()
    best_ndcg = table.loc[target_only, "ndcg@10"].idxmax()
    cli.run_demo(seed=0, quick=True, progress=False)
    out = capsys.readouterr().out
    assert f"rmse gain over the best target-only model, {best_rmse!r}" in out
    assert f"ndcg@10 gain over the best target-only model, {best_ndcg!r}" in out


def test_demo_report_is_reproducible():
    a = cli.run_demo(seed=1, quick=True, out=open(os.devnull, "w"), progress=False)
    b = cli.run_demo(seed=1, quick=True, out=open(os.devnull, "w"), progress=False)
    assert a.table().equals(b.table())
    t = a.table()
    # the generated data has structure: popularity beats random on the cold users
    assert t.loc[("most popular", "all"), "ndcg@10"] > t.loc[("random", "all"), "ndcg@10"]


def test_demo_models_is_extensible():
    source, target, _ = cli.demo_data(seed=0, quick=True)
    train, test = cli.demo_split(source, target, seed=0)
    models = cli.demo_models(source, train, progress=False)
    assert {"random", "most popular", "bias (target only)"} <= set(models)
    assert all(isinstance(m, cr.Recommender) for m in models.values())
    # the cold users are users of both domains and have no target training data
    cold = cr.split.test_users(test)
    assert set(cold) <= set(source.user_ids)
    assert train.user_counts()[train.user_index(cold)].sum() == 0


def test_demo_real_data(capsys):
    data_path("douban-book-music")
    assert cli.main(["demo", "--data", str(DATA_DIR), "--no-progress"]) == 0
    assert "Douban book -> music" in capsys.readouterr().out


def test_demo_missing_data_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["demo", "--data", str(tmp_path / "none"), "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_info_and_module_entry_point():
    env = dict(os.environ, PYTHONPATH=str(Path(cr.__file__).parents[1]))
    r = subprocess.run([sys.executable, "-m", "crossrec", "info"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"crossrec {cr.__version__}" in r.stdout and "OpenMP" in r.stdout


def _subcommands():
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


def test_help_of_every_sub_command(capsys):
    names = _subcommands()
    assert {"demo", "info", "transfer"} <= set(names)
    for argv in (["--help"], ["-h"], *([name, "--help"] for name in names)):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 0, argv
        out = capsys.readouterr().out
        assert out.startswith("usage: crossrec"), argv


def test_help_through_the_module_entry_point():
    env = dict(os.environ, PYTHONPATH=str(Path(cr.__file__).parents[1]))
    r = subprocess.run(
        [sys.executable, "-m", "crossrec", "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "transfer" in r.stdout


def _pair_files(tmp_path, header=False, duplicate=False):
    rng = np.random.default_rng(0)
    paths = []
    for name in ("source", "target"):
        rows = [
            (f"u{u}", f"{name}{i}", int(rng.integers(1, 6))) for u in range(30) for i in range(8) if rng.random() < 0.6
        ]
        if duplicate:
            rows.append(rows[0])
        df = pd.DataFrame(rows, columns=["user", "item", "rating"])
        path = tmp_path / f"{name}.tsv"
        df.to_csv(path, sep="\t", header=header, index=False)
        paths.append(str(path))
    return paths


def test_transfer_plot_checked_before_work(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")  # the folder check is reached only when the plot extra is installed
    source, target = _pair_files(tmp_path)
    bad = str(tmp_path / "no" / "such" / "folder" / "out.png")
    called = []
    monkeypatch.setattr("crossrec.transfer.command.run", lambda *a, **k: called.append(1))
    assert cli.main(["transfer", "--source", source, "--target", target, "--plot", bad, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--plot" in err and "does not exist" in err and not called
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    ok = str(tmp_path / "out.png")
    assert cli.main(["transfer", "--source", source, "--target", target, "--plot", ok, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "matplotlib" in err and "crossrec[plot]" in err and not called


def test_transfer_header_without_flag_names_file_and_flag(tmp_path, capsys):
    source, target = _pair_files(tmp_path, header=True)
    assert cli.main(["transfer", "--source", source, "--target", target, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert source in err and "--header" in err


def test_transfer_duplicates_agree_with_the_library(tmp_path, capsys, monkeypatch):
    source, target = _pair_files(tmp_path, duplicate=True)
    assert cli.main(["transfer", "--source", source, "--target", target, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "duplicate" in err and "--duplicates" in err and source in err
    seen = []
    monkeypatch.setattr(
        "crossrec.transfer.command.run",
        lambda pair, **k: seen.append(pair) or (_ for _ in ()).throw(ValueError("stop")),
    )
    assert cli.main(["transfer", "--source", source, "--target", target, "--duplicates", "last", "--no-progress"]) == 2
    assert len(seen) == 1


def test_demo_and_transfer_use_the_same_cold_start_split():
    source, target, _ = cli.demo_data(seed=0, quick=True)
    train, test = cli.demo_split(source, target, seed=4)
    split = cr.CrossDomain(source, target).cold_start_split(0.5, 0.2, seed=4)  # crossrec transfer's defaults
    assert set(cr.split.test_users(test)) == set(split.cold_user_ids)


def test_info_prints_the_threads_models_use():
    from io import StringIO

    from crossrec import _core
    from crossrec._validation import check_n_threads

    out = StringIO()
    cli.info(out)
    n = check_n_threads(0)
    assert f"threads for n_threads=0: {n} (usable cores)" in out.getvalue()
    assert _core.max_threads() == n  # the C++ side resolves 0 the same way
