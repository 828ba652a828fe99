"""The crossrec command: demo on generated and real data, info, errors."""

import os
import subprocess
import sys
from pathlib import Path

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
