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
    assert "PTUPCDR" not in {t["candidate"] for t in auto.trials_}  # opt-in only
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


# ---- issue 15: the candidates registry, warm starts, the guard on implicit feedback ---------


def test_registered_candidate_is_tried_and_can_win(related_and_control, monkeypatch):
    from crossrec.transfer import presets

    split, _ = related_and_control
    # a candidate that is one entry in the registry: EMCDR with the user statistics and weak ridge
    cand = presets.Candidate(lambda f: cr.transfer.EMCDR(f.source, f.target, l2=0.1, user_stats=True), cost=0.0)
    monkeypatch.setitem(presets.AUTO_CANDIDATES, "EMCDR test entry", cand)
    auto = Auto(**SMALL, candidates=["EMCDR test entry"]).fit(split.train)
    trial = {t["candidate"]: t for t in auto.trials_}["EMCDR test entry"]
    assert trial["status"] == "fitted" and "cold" in trial
    assert auto.choice_ == "EMCDR test entry"  # significant on the related pair, the only candidate
    with pytest.raises(ValueError, match="Candidate"):
        presets.register_candidate("bad", lambda f: None)


def test_auto_defaults_are_candidates():
    from crossrec.transfer.presets import auto_candidates

    for explicit in (True, False):
        cands = auto_candidates(explicit)
        assert {"no transfer", "EMCDR", "fine-tune pull=1", "CMF"} <= set(cands)
        # registered, tried only when asked for (its fit costs ~14 EMCDR fits)
        assert "PTUPCDR" in cands and not cands["PTUPCDR"].default


def test_auto_tries_an_opt_in_candidate_only_when_named(related_and_control):
    split, _ = related_and_control
    auto = Auto(**SMALL, candidates=["PTUPCDR"]).fit(split.train)
    assert [t["candidate"] for t in auto.trials_] == ["no transfer", "PTUPCDR"]
    assert auto.trials_[1]["status"] == "fitted"


def _implicit_loss(model, data):
    """Mean squared error of the scores on the observed entries (1) plus unobserved (0), a proxy
    of the implicit ALS objective that falls as the fit converges."""
    s = model.score_indices(np.arange(data.n_users))
    y = data.matrix.toarray() > 0
    return float(((s - y) ** 2).mean())


def test_cmf_and_finetune_warm_start_continue_a_fit():
    pair = pair_of(1.0, explicit=False)
    split = pair.cold_start_split(0.3, 0.2, seed=0)
    for cls, kw in ((cr.transfer.CMF, dict(weights=(1.0, 1.0))), (cr.transfer.FineTune, {})):
        make = (
            (lambda it: cls(factors=8, iterations=it, **kw))
            if cls is cr.transfer.CMF
            else (lambda it: cls(cr.ALS(factors=8, iterations=it, implicit=True, regularization=1.0), **kw))
        )
        first = make(4).fit(split.train)
        warm = make(1).fit(pair, warm_start=first)  # continued on the whole pair
        cold = make(1).fit(pair)
        assert _implicit_loss(warm, pair.target) < _implicit_loss(cold, pair.target), cls.__name__
        wrong = cls(factors=4, **kw) if cls is cr.transfer.CMF else cls(cr.ALS(factors=4, implicit=True), **kw)
        with pytest.raises(ValueError, match="warm_start"):
            wrong.fit(pair, warm_start=first)  # rows of 8 factors for a 4-factor fit
        with pytest.raises(ValueError, match="warm_start"):
            make(1).fit(pair, warm_start=cr.ALS(factors=8).fit(pair.target))


@pytest.fixture(scope="module")
def implicit_related_and_unrelated():
    pair = pair_of(1.0, explicit=False, seed=3)
    return pair.cold_start_split(0.5, 0.2, seed=0), pair.permuted_source(seed=0).cold_start_split(0.5, 0.2, seed=0)


def test_auto_implicit_accepts_related_and_refuses_unrelated(implicit_related_and_unrelated):
    related, unrelated = implicit_related_and_unrelated
    # 15 sweeps: at 6, implicit ALS from its small random start is still far from converged, and
    # any start from larger rows (even a permuted source's) beats it on warm users
    yes = Auto(factors=8, iterations=15).fit(related.train)
    no = Auto(factors=8, iterations=15).fit(unrelated.train)
    assert yes.choice_ != "no transfer", yes.trials_
    assert yes.route_[related.cold_users].any()
    assert yes.transfer_for_warm_ and yes.warm_route_[related.warm_users].all()  # CMF helps warm users here
    assert no.choice_ == "no transfer" and "guard" in no.reason_
    assert not no.route_.any() and not no.transfer_for_warm_
