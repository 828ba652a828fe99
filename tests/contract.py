"""One behavioural contract for every model (implicit's idea): subclass ModelContract once per
model and set ``make_model`` (and ``rating_model`` if it predicts ratings)."""

import numpy as np
import pandas as pd
import pytest

import crossrec as cr


def small_data(seed=0, n_users=40, n_items=60, per_user=12, explicit=True):
    """Random ratings with string user ids and integer item ids (two id types on purpose)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, size=per_user, replace=False)
        for i in items:
            rows.append((f"u{u}", int(i) * 10, float(rng.integers(1, 6))))
    df = pd.DataFrame(rows, columns=["user", "item", "rating"])
    return cr.Interactions.from_pandas(df, "user", "item", "rating" if explicit else None)


class ModelContract:
    """Uses the class-scoped fixtures ``data`` and ``fitted`` from conftest.py."""

    rating_model = False
    explicit_data = True

    def make_model(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def test_fit_returns_self(self, data):
        m = self.make_model()
        assert m.fit(data) is m

    def test_recommend_shapes_ids_and_exclusion(self, fitted, data):
        users = ["u0", "u3", "u7"]
        ids, scores = fitted.recommend(users, n=5)
        assert ids.shape == (3, 5) and scores.shape == (3, 5)
        assert set(ids.ravel()) <= set(data.item_ids)
        for r, u in enumerate(users):
            seen = set(data.item_ids[data.matrix[data.user_index(u)[0]].indices])
            assert not (set(ids[r]) & seen)
            assert np.all(np.diff(scores[r]) <= 1e-6)

    def test_recommend_candidates(self, fitted, data):
        cand = list(data.item_ids[:7])
        ids, _ = fitted.recommend(["u1"], n=3, items=cand, exclude_seen=False)
        assert set(ids.ravel()) <= set(cand)

    def test_unknown_user_raises(self, fitted):
        with pytest.raises(cr.UnknownIdError, match="unknown user"):
            fitted.recommend(["nobody"], n=3)

    def test_predict(self, fitted, data):
        if not self.rating_model:
            pytest.skip("ranking-only model")
        p = fitted.predict(["u0", "u1"], [data.item_ids[0], data.item_ids[1]])
        assert p.shape == (2,) and np.all(np.isfinite(p))

    def test_save_load_round_trip(self, fitted, data, tmp_path):
        path = tmp_path / "model.crossrec"
        fitted.save(path)
        loaded = cr.load(path)
        assert type(loaded) is type(fitted)
        a = fitted.recommend(["u0", "u5"], n=5)
        b = loaded.recommend(["u0", "u5"], n=5)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], rtol=1e-6)

    def test_deterministic(self, data):
        a = self.make_model().fit(data).recommend(["u2"], n=5)
        b = self.make_model().fit(data).recommend(["u2"], n=5)
        np.testing.assert_array_equal(a[0], b[0])
