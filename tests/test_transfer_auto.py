"""Issue 9: relatedness diagnostics, Auto's choice, the negative-transfer guard, gating, CLI."""

import crossrec as cr
import numpy as np
import pandas as pd
import pytest
from crossrec.cli import main as cli_main
from crossrec.transfer import Auto, linear_cka

SIZE = dict(n_users=600, n_items_source=200, n_items_target=150, shared_factors=4, density=0.06, noise=0.3)
SMALL = dict(factors=8, iterations=6)


def pair_of(relatedness, explicit=True, seed=0):
    s, t = cr.datasets.synthetic_pair(relatedness=relatedness, explicit=explicit, seed=seed, **SIZE)
    return cr.CrossDomain(s, t)


def test_linear_cka_reference(rng):
    A = rng.normal(size=(50, 4))
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    assert linear_cka(A, 3.0 * A @ Q + 1.0) == pytest.approx(1.0)  # invariant to rotation, scale, shift
    assert linear_cka(A, rng.normal(size=(50, 4))) < 0.3
    assert 0.0 <= linear_cka(A, A[:, :2]) <= 1.0


def test_diagnostics_partial_overlap_bias_correlation():
    s, t = cr.datasets.synthetic_pair(relatedness=1.0, overlap=0.6, **SIZE)
    pair = cr.CrossDomain(s, t)
    d = cr.transfer.diagnose(pair, **SMALL, gain=False)
    ov = pair.overlap
    level = lambda dom: np.array([dom.values[dom.users == u].mean() for u in ov]) - dom.values.mean()
    assert d["bias_correlation"] == pytest.approx(np.corrcoef(level(pair.source), level(pair.target))[0, 1], abs=1e-6)
    assert d["n_overlap"] == len(ov) < 600


def test_diagnostics_rank_pairs_by_shared_structure():
    d = {r: cr.transfer.diagnose(pair_of(r), **SMALL) for r in (1.0, 0.5, 0.0)}
    for key in ("bias_correlation", "factor_cka", "validation_gain"):
        assert d[1.0][key] > d[0.5][key] > d[0.0][key], key
    assert d[1.0]["n_overlap"] == 600
    assert set(d[1.0].table().index) >= {"factor_cka", "map_r2", "overlap_fraction_source"}


@pytest.fixture(scope="module")
def related_and_control():
    pair = pair_of(1.0)
    return pair.cold_start_split(0.5, 0.2, seed=0), pair.permuted_source(seed=0).cold_start_split(0.5, 0.2, seed=0)


def _cold_rmse(model, split):
    te = split.test
    cold = np.isin(te.users, split.cold_users)
    return cr.metrics.rmse(te.values[cold], model.predict_indices(te.users[cold], te.items[cold]))


def test_auto_picks_transfer_when_it_helps(related_and_control):
    split, _ = related_and_control
    auto = Auto(**SMALL).fit(split.train)
    assert auto.choice_ != "no transfer"
    assert "significant" in auto.reason_ or "best" in auto.reason_
    assert {t["candidate"] for t in auto.trials_} >= {"no transfer", "EMCDR", "CMF"}
    base = cr.transfer.NoTransfer(cr.transfer.TransferALS(**SMALL)).fit(split.train)
    assert _cold_rmse(auto, split) < 0.95 * _cold_rmse(base, split)


def test_auto_refuses_a_permuted_source(related_and_control):
    _, control = related_and_control
    auto = Auto(**SMALL).fit(control.train)
    assert auto.choice_ == "no transfer"
    assert "guard" in auto.reason_
    base = cr.transfer.NoTransfer(cr.transfer.TransferALS(**SMALL)).fit(control.train)
    # naive fine-tuning: cold users take their source rows as they are
    forced = cr.transfer.FineTune(cr.transfer.TransferALS(**SMALL), pull=1.0, cold_rows="source").fit(control.train)
    assert _cold_rmse(auto, control) == pytest.approx(_cold_rmse(base, control), rel=1e-6)
    assert _cold_rmse(forced, control) > 1.05 * _cold_rmse(base, control)  # the harm the guard avoids


def test_auto_time_budget_skips_and_records(related_and_control):
    split, _ = related_and_control
    auto = Auto(**SMALL, time_budget=1e-9).fit(split.train)
    assert auto.choice_ == "no transfer"
    assert all(t["status"].startswith("skipped") for t in auto.trials_ if t["candidate"] != "no transfer")
    with pytest.raises(ValueError, match="candidate"):
        Auto(candidates=["magic"]).fit(split.train)
    with pytest.raises(ValueError, match="time_budget"):
        Auto(time_budget=0).fit(split.train)


def test_gate_routes_only_trusted_users_and_save_load(related_and_control, tmp_path):
    split, _ = related_and_control
    auto = Auto(**SMALL, candidates=["EMCDR"]).fit(split.train)
    n_src = split.train.source.user_counts()
    assert not auto.route_[n_src < max(auto.min_source_, 1)].any()
    path = tmp_path / "auto.crossrec"
    auto.save(path)
    loaded = cr.load(path)
    users = split.train.shared_map.ids[split.cold_users[:4]]
    np.testing.assert_array_equal(auto.recommend(users, n=5)[0], loaded.recommend(users, n=5)[0])


def test_cli_transfer(tmp_path, capsys):
    s, t = cr.datasets.synthetic_pair(relatedness=1.0, seed=1, **dict(SIZE, n_users=300))
    for name, d in (("s.tsv", s), ("t.tsv", t)):
        d.to_pandas()[["user", "item", "rating"]].to_csv(tmp_path / name, sep="\t", header=False, index=False)
    code = cli_main(
        [
            "transfer",
            "--source",
            str(tmp_path / "s.tsv"),
            "--target",
            str(tmp_path / "t.tsv"),
            "--bootstrap",
            "20",
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "300 shared users" in out and "gain over the best target-only baseline" in out
    assert "EMCDR" in out and "cold" in out
    bad = tmp_path / "bad.tsv"
    pd.DataFrame({"user": ["x"], "item": [1], "rating": [1.0]}).to_csv(bad, sep="\t", header=False, index=False)
    assert cli_main(["transfer", "--source", str(bad), "--target", str(tmp_path / "t.tsv"), "--no-progress"]) == 2
    assert "share no users" in capsys.readouterr().err
