"""Domains that share items: every transfer method fits by transposition, and reads back exactly
the model fitted on the transposed pair; the cold-start split holds out items; run, the CLI and
the learning-curve axis."""

import numpy as np
import pandas as pd
import pytest

import crossrec as cr
from crossrec.transfer import CMF, EMCDR, Auto, CrossDomainKNN, Distill, FineTune, NoTransfer, TransferRecommender
from crossrec.transfer.presets import factor_model


def item_pair(explicit=True, seed=0, n_items=40, n_users_s=30, n_users_t=25, density=0.25):
    """Two populations (user ids 'a*' and 'b*') rating the same item ids (ints); item 0 only in
    the source, item 1 only in the target."""
    rng = np.random.default_rng(seed)
    taste = rng.standard_normal((n_items, 3))

    def domain(prefix, n_users, drop):
        rows = []
        for u in range(n_users):
            z = rng.standard_normal(3)
            for i in np.flatnonzero(rng.random(n_items) < density):
                if i != drop:
                    rows.append((f"{prefix}{u}", int(i), float(np.clip(np.round(3 + taste[i] @ z), 1, 5))))
        df = pd.DataFrame(rows, columns=["user", "item", "rating"])
        return cr.Interactions.from_pandas(df, "user", "item", "rating" if explicit else None)

    return cr.CrossDomain(domain("a", n_users_s, 1), domain("b", n_users_t, 0), shared="items")


def test_transposed_pair_round_trip():
    pair = item_pair()
    t = pair.transposed()
    assert t.shared == "users" and t.n_shared == pair.n_shared
    np.testing.assert_array_equal(t.overlap, pair.overlap)
    assert (t.target.matrix != pair.target.matrix.T).nnz == 0
    back = t.transposed()
    assert back.shared == "items" and (back.source.matrix != pair.source.matrix).nnz == 0


def test_cold_start_split_holds_out_items():
    pair = item_pair()
    split = pair.cold_start_split(fraction=0.5, test_size=0.2, seed=3)
    cold = split.cold_users
    assert len(cold) == round(0.5 * len(pair.overlap))
    in_train = np.isin(split.train.target.items, cold)
    assert not in_train.any()  # no training interaction of a cold item
    n_cold_target = np.isin(pair.target.items, cold).sum()
    assert np.isin(split.test.items, cold).sum() == n_cold_target  # all of them are tested


def als(explicit=True):
    return factor_model(explicit, factors=4, iterations=3)


METHODS = {
    "fine-tune": lambda e: FineTune(als(e), pull=1.0),
    "EMCDR": lambda e: EMCDR(als(e), als(e), l2=1.0),
    "no transfer": lambda e: NoTransfer(als(e)),
    "CMF": lambda e: CMF(factors=4, iterations=3, weights=(1.0, 1.0)),
    "Auto": lambda e: Auto(candidates=["fine-tune pull=1"], factors=4, iterations=3),
}


@pytest.mark.parametrize("explicit", [True, False])
@pytest.mark.parametrize("name", sorted(METHODS))
def test_item_shared_fit_is_the_transposed_fit(name, explicit, tmp_path):
    make = METHODS[name]
    if not issubclass(type(make(explicit)), TransferRecommender):
        pytest.skip(f"{name} is not a TransferRecommender yet")
    pair = item_pair(explicit)
    train = pair.cold_start_split(0.5, 0.2, 0).train
    model = make(explicit).fit(train)
    ref = make(explicit).fit(train.transposed())  # items play the users
    assert model.user_map_ == train.target.user_map and model.item_map_ == train.target.item_map
    users = np.arange(model.n_users_)
    expected = np.asarray(ref.score_indices(np.arange(ref.n_users_))).T
    np.testing.assert_allclose(model.score_indices(users), expected, rtol=1e-4, atol=1e-4)
    ids, scores = model.recommend(list(model.user_ids_[:3]), n=5)
    assert ids.shape == (3, 5) and np.all(np.diff(scores, axis=1) <= 1e-6)
    seen = train.target.matrix
    for r in range(3):
        assert not set(model.item_map_.lookup(list(ids[r]))) & set(seen[r].indices)
    if explicit:
        u, i = np.arange(6) % model.n_users_, np.arange(6) % model.n_items_
        np.testing.assert_allclose(model.predict_indices(u, i), ref.predict_indices(i, u), rtol=1e-5)
    path = tmp_path / "m.crossrec"
    model.save(path)
    loaded = cr.load(path)
    np.testing.assert_allclose(loaded.score_indices(users[:4]), model.score_indices(users[:4]), rtol=1e-6)
    # refitting on a user-shared pair leaves no transposed state behind
    plain = model.fit(cr.CrossDomain(train.source.transposed(), train.target.transposed()))
    assert "transposed_" not in vars(plain)


def test_cold_items_get_transferred_scores():
    """A cold item's predicted ratings come from the source (FineTune/EMCDR) and differ per item,
    where the target-only fallback gives every cold item the same average row."""
    pair = item_pair(seed=4, density=0.4)
    split = pair.cold_start_split(0.5, 0.0, 0)
    cold = split.cold_users
    ft = FineTune(als(), pull=1.0).fit(split.train)
    base = NoTransfer(als()).fit(split.train)
    user = np.zeros(len(cold), np.int64)
    assert np.ptp(ft.predict_indices(user, cold)) > 1e-3
    np.testing.assert_allclose(np.ptp(base.predict_indices(user, cold)), 0.0, atol=1e-4)


def test_distill_across_families_on_item_shared_pair():
    """A cross-domain kNN teacher (neighbours from the source) taught to a factor student."""
    pair = item_pair(density=0.4)
    train = pair.cold_start_split(0.5, 0.2, 0).train
    teacher = CrossDomainKNN(k=10).fit(train)
    student = Distill(teacher, cr.ALS(factors=4), epochs=3, n_threads=1).fit(train)
    assert student.item_map_ == train.target.item_map
    cold = pair.cold_start_split(0.5, 0.2, 0).cold_users
    s = student.score_indices(np.arange(student.n_users_))[:, cold]
    assert np.isfinite(s).all() and np.ptp(s) > 0


def test_run_on_item_shared_pair_reports_items():
    pair = item_pair(density=0.4)
    methods = [m for m in cr.transfer.default_methods(True, factors=4, iterations=3) if m.name != "CMF"]
    res = cr.transfer.run(pair, methods=methods, n_bootstrap=50, tune=False, factors=4, iterations=3)
    assert res.entity == "item"
    cold_items = set(pair.shared_map.ids[res.split.cold_users])
    assert set(res.report.segments["cold"]) == cold_items
    assert {"fine-tune", "EMCDR"} <= set(res.gains["method"])


def test_target_fraction_keeps_a_share_of_each_warm_users_rows():
    src, tgt = cr.datasets.synthetic_pair(n_users=120, n_items_source=60, n_items_target=50, density=0.1)
    pair = cr.CrossDomain(src, tgt)
    from crossrec.transfer.run import subsample_rows

    split = pair.cold_start_split(0.5, 0.2, 0)
    part = subsample_rows(split.train.target, 0.2, seed=1)
    full_counts, counts = split.train.target.user_counts(), part.user_counts()
    has = full_counts > 0
    assert np.all(counts[has] >= 1) and np.all(counts <= full_counts)
    np.testing.assert_array_equal(counts[has], np.maximum(np.round(0.2 * full_counts[has]), 1))
    methods = cr.transfer.default_methods(True, factors=4, iterations=2)[:4]
    res = cr.transfer.run(
        pair, methods=methods, tune=False, n_bootstrap=20, factors=4, iterations=2, target_fraction=0.2
    )
    assert res.target_fraction == 0.2 and res.split.train.target.nnz == part.nnz
    with pytest.raises(ValueError, match="target_fraction"):
        cr.transfer.run(pair, methods=methods, target_fraction=0.0)


def test_cli_transfer_shared_items(tmp_path):
    pytest.importorskip("matplotlib")  # --plot needs it (the plot extra); the CLI refuses before work without it
    pair = item_pair(density=0.4)
    paths = []
    for name, d in (("s", pair.source), ("t", pair.target)):
        df = pd.DataFrame({"u": d.user_ids[d.users], "i": d.item_ids[d.items], "r": d.values})
        df = df[df["i"].isin(d.item_ids[np.unique(d.items)])]
        p = tmp_path / f"{name}.tsv"
        df.to_csv(p, sep="\t", header=False, index=False)
        paths.append(str(p))
    png = tmp_path / "gain.png"
    from crossrec.cli import main

    args = ["transfer", "--source", paths[0], "--target", paths[1], "--shared", "items"]
    assert main(args + ["--bootstrap", "20", "--no-progress", "--plot", str(png)]) == 0
    assert png.exists() and (tmp_path / "gain-values.png").exists()


def test_diagnose_item_shared_pair():
    d = cr.transfer.diagnose(item_pair(density=0.4), factors=4, iterations=3)
    assert d.values["shared"] == "items" and np.isfinite(d.values["factor_cka"])
