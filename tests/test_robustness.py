import numpy as np
import pandas as pd
import pytest

import crossrec as cr
from contract import small_data
from crossrec.robustness import default_target, evaluate_attack, inject, robustness_table


def ratings_data(seed=0, n_users=300, n_items=80):
    """Ratings with item-specific means (so the average attack is distinguishable from random)."""
    rng = np.random.default_rng(seed)
    item_mu = rng.uniform(1.5, 4.5, n_items)
    rows = []
    pop = rng.zipf(1.6, n_items).astype(float)
    p = pop / pop.sum()
    for u in range(n_users):
        for i in rng.choice(n_items, 12, replace=False, p=p):
            rows.append((u, int(i), float(np.clip(np.round(rng.normal(item_mu[i], 0.8)), 1, 5))))
    df = pd.DataFrame(rows, columns=["user", "item", "rating"])
    return cr.Interactions.from_pandas(df, "user", "item", "rating")


def fake_part(data, attack):
    fake = attack.data.user_index(attack.fake_user_ids)
    mask = np.isin(attack.data.users, fake)
    return attack.data.subset(mask), mask


@pytest.mark.parametrize("kind", ["random", "average", "bandwagon"])
def test_profiles_have_the_intended_shape(kind):
    data = ratings_data()
    target = data.item_ids[5]
    attack = inject(data, kind, target_item=target, n_profiles=0.1, filler_size=10, popular_size=4, seed=1)
    poisoned, fake_ids = attack
    assert len(fake_ids) == 30 and len(set(fake_ids)) == 30
    assert not set(fake_ids) & set(data.user_ids)
    np.testing.assert_array_equal(poisoned.user_ids[: data.n_users], data.user_ids)  # genuine users keep indices
    np.testing.assert_array_equal(poisoned.item_ids, data.item_ids)
    fake, mask = fake_part(data, attack)
    # the genuine interactions are untouched
    genuine = poisoned.subset(~mask)
    np.testing.assert_array_equal(genuine.matrix.toarray()[: data.n_users], data.matrix.toarray())
    per_user = np.bincount(fake.users)[data.n_users :]
    expected = 1 + 10 + (4 if kind == "bandwagon" else 0)
    assert np.all(per_user == expected)
    # the target gets the maximum rating from every fake user
    t = fake.items == data.item_index(target)[0]
    assert t.sum() == 30 and np.all(fake.values[t] == data.values.max())
    # ratings stay on the data's scale
    assert set(np.unique(fake.values)) <= set(np.unique(data.values))


def test_random_attack_filler_follows_the_global_distribution():
    data = ratings_data()
    attack = inject(data, "random", target_item=data.item_ids[0], n_profiles=400, filler_size=40, seed=2)
    fake, _ = fake_part(data, attack)
    filler = fake.values[fake.items != 0]
    mu, sd = data.values.mean(), data.values.std()
    assert abs(filler.mean() - mu) < 0.05
    # clipping to 1..5 and rounding shrink the spread a little, never grow it much
    assert 0.75 * sd < filler.std() < 1.15 * sd


def test_average_attack_filler_follows_item_means():
    data = ratings_data()
    attack = inject(data, "average", target_item=data.item_ids[0], n_profiles=500, filler_size=40, seed=3)
    fake, _ = fake_part(data, attack)
    counts = data.item_counts()
    item_mean = np.bincount(data.items, data.values, data.n_items) / np.maximum(counts, 1)
    fake_mean = np.bincount(fake.items, fake.values, data.n_items) / np.maximum(
        np.bincount(fake.items, minlength=data.n_items), 1
    )
    ok = (counts >= 20) & (np.arange(data.n_items) != 0)
    assert np.corrcoef(item_mean[ok], fake_mean[ok])[0, 1] > 0.9
    assert np.abs(item_mean[ok] - fake_mean[ok]).mean() < 0.3


def test_bandwagon_rates_the_most_popular_items_highest():
    data = ratings_data()
    target = data.item_ids[-1]
    attack = inject(data, "bandwagon", target_item=target, n_profiles=20, filler_size=5, popular_size=3, seed=0)
    fake, _ = fake_part(data, attack)
    top3 = np.argsort(-data.item_counts(), kind="stable")[:3]
    for i in top3:
        sel = fake.items == i
        assert sel.sum() == 20 and np.all(fake.values[sel] == data.values.max())


def test_implicit_data_gets_weight_one_and_sizes_as_fractions():
    data = small_data(explicit=False)
    attack = inject(data, "average", target_item=data.item_ids[0], n_profiles=0.25, filler_size=0.1)
    assert len(attack.fake_user_ids) == 10
    fake, _ = fake_part(data, attack)
    assert np.all(fake.values == 1) and not attack.data.explicit
    assert np.all(np.bincount(fake.users)[data.n_users :] == 1 + 6)


def test_seed_gives_the_same_attack():
    data = ratings_data()
    a = inject(data, "random", data.item_ids[3], 10, 8, seed=5).data
    b = inject(data, "random", data.item_ids[3], 10, 8, seed=5).data
    c = inject(data, "random", data.item_ids[3], 10, 8, seed=6).data
    np.testing.assert_array_equal(a.matrix.toarray(), b.matrix.toarray())
    assert not np.array_equal(a.matrix.toarray(), c.matrix.toarray())


def test_bad_arguments():
    data = ratings_data()
    with pytest.raises(ValueError, match="attack"):
        inject(data, "nuke", target_item=data.item_ids[0])
    with pytest.raises(ValueError, match="target_item"):
        inject(data, "random")
    with pytest.raises(cr.UnknownIdError):
        inject(data, "random", target_item="no such item")
    with pytest.raises(ValueError, match="n_profiles"):
        inject(data, "random", data.item_ids[0], n_profiles=0)
    with pytest.raises(ValueError, match="filler_size"):
        inject(data, "random", data.item_ids[0], filler_size=-3)
    with pytest.raises(ValueError, match="data"):
        inject(data.matrix, "random", 0)


def test_evaluate_attack_measures_shift_and_hit_rate():
    data = ratings_data()
    target = default_target(data)
    res = evaluate_attack(cr.Baseline, data, target_item=target, attack="average", sizes=[3, 0.2, 0.5], filler_size=8)
    t = res.table
    assert list(t["n_profiles"]) == [3, 60, 150]
    assert np.all(np.diff(t["prediction_shift"]) > 0) and t["prediction_shift"].iloc[0] > 0
    assert np.all(t["hit_rate"] >= t["hit_rate_before"])
    assert t["hit_rate"].iloc[-1] > 0.5 and res.majority_size == t.loc[t["hit_rate"] > 0.5, "n_profiles"].min()
    assert "majority at" in repr(res) and len(repr(res)) < 300
    attack = inject(data, "average", target_item=target, n_profiles=50, filler_size=8)
    assert repr(attack).startswith("Attack(50 fake users") and len(repr(attack)) < 300
    # ranking-only model: no prediction shift
    res2 = evaluate_attack(lambda: cr.EASE(l2=50), data, target_item=target, sizes=[0.3], filler_size=8)
    assert np.isnan(res2.table["prediction_shift"]).all() and res2.table["hit_rate"].iloc[0] > 0


def test_robustness_table_covers_every_model_and_attack():
    data = ratings_data(n_users=120)
    F = pd.DataFrame(np.eye(data.n_items)[:, :10], index=data.item_ids)
    table = robustness_table(
        {"pop": cr.MostPopular, "content": cr.ContentBased},
        data,
        attacks=["random", "bandwagon"],
        fit_params={"content": {"item_features": F}},
        sizes=[0.1],
        filler_size=5,
    )
    assert len(table) == 4 and set(table["model"]) == {"pop", "content"}
    assert {"majority_size", "hit_rate", "prediction_shift"} <= set(table.columns)
