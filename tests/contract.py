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

    def test_unknown_id_policies(self, fitted, data):
        check_unknown_id_policies(fitted, data, "u0", self.rating_model)

    def test_scoring_protocol(self, fitted, data):
        # the published protocol (crossrec.models.protocol) agrees with the id-based API
        from crossrec.models.protocol import Scorer, check_is_fitted

        assert isinstance(fitted, Scorer) and fitted.is_fitted
        check_is_fitted(fitted)
        with pytest.raises(cr.NotFittedError):
            check_is_fitted(self.make_model())
        u = fitted.user_map_.lookup(["u0", "u3"])
        ids, _ = fitted.recommend(["u0", "u3"], n=4)
        idx, _ = fitted.recommend_indices(u, n=4)
        np.testing.assert_array_equal(fitted.item_ids_[idx], ids)
        factors = fitted.scoring_factors(u)
        if factors is not None:
            U, V, b = factors
            dense = U @ V.T + (0 if b is None else b)
            np.testing.assert_allclose(fitted.score_indices(u), dense, rtol=1e-4, atol=1e-4)
        with pytest.raises(ValueError, match="user_idx"):
            fitted.score_indices([fitted.n_users_])

    def test_deterministic(self, data):
        a = self.make_model().fit(data).recommend(["u2"], n=5)
        b = self.make_model().fit(data).recommend(["u2"], n=5)
        np.testing.assert_array_equal(a[0], b[0])


def small_pair(seed=0, explicit=True, n_users=50, n_source_items=40, n_target_items=30, per_user=10):
    """A small CrossDomain: users u0..u39 rate source items, u10..u49 target items, so u0..u9
    are cold in the target (source data only), u10..u39 warm in both, u40..u49 target only.
    A user's taste (a hidden 2-factor vector) drives both domains, so transfer has signal."""
    rng = np.random.default_rng(seed)
    taste = rng.standard_normal((n_users, 2))
    src_items, tgt_items = rng.standard_normal((n_source_items, 2)), rng.standard_normal((n_target_items, 2))

    def domain(users, items, prefix):
        rows = []
        for u in users:
            for i in rng.choice(len(items), size=per_user, replace=False):
                r = float(np.clip(np.rint(3 + taste[u] @ items[i] + 0.3 * rng.standard_normal()), 1, 5))
                rows.append((f"u{u}", f"{prefix}{i}" if prefix else int(i) * 10, r))
        df = pd.DataFrame(rows, columns=["user", "item", "rating"])
        return cr.Interactions.from_pandas(df, "user", "item", "rating" if explicit else None)

    return cr.CrossDomain(domain(range(40), src_items, "s"), domain(range(10, n_users), tgt_items, None))


COLD_USERS = ["u0", "u3", "u9"]  # source data only
WARM_USERS = ["u10", "u25", "u39", "u45"]  # target data (u45: target only)


def check_unknown_id_policies(model, data, user, rating_model):
    """predict / recommend with unknown="raise" | "fallback" | "nan" (the same for every model):
    ``user`` is a known user of ``data`` (the training data in the model's id space)."""
    from crossrec.models.biases import fit_biases

    with pytest.raises(ValueError, match="unknown must be one of"):
        model.recommend([user], n=3, unknown="skip")
    with pytest.raises(cr.UnknownIdError):
        model.recommend([user, "nobody"], n=3)
    known_ids, known_scores = model.recommend([user], n=3)
    with pytest.warns(cr.FallbackWarning, match=r"1 of 2 users unknown.*'nobody'.*None / NaN"):
        ids, scores = model.recommend([user, "nobody"], n=3, unknown="nan")
    np.testing.assert_array_equal(ids[0], known_ids[0])
    np.testing.assert_allclose(scores[0], known_scores[0], rtol=1e-6)
    assert list(ids[1]) == [None] * 3 and np.isnan(scores[1]).all()
    with pytest.warns(cr.FallbackWarning, match="most popular"):
        ids, scores = model.recommend(["nobody", user], n=3, unknown="fallback")
    counts = np.bincount(data.matrix.indices, minlength=model.n_items_)
    order = np.argsort(-counts, kind="stable")[:3]
    assert sorted(scores[0].tolist(), reverse=True) == sorted(counts[order].astype(float).tolist(), reverse=True)
    assert set(model.item_map_.lookup(list(ids[0]))) <= set(np.flatnonzero(counts >= counts[order[-1]]))
    np.testing.assert_array_equal(ids[1], known_ids[0])
    cand = list(data.item_ids[:4])
    with pytest.warns(cr.FallbackWarning, match="1 of 5 candidate items unknown"):
        ids, _ = model.recommend(["nobody"], n=2, items=cand + ["no-such-item"], unknown="fallback")
    assert set(ids[0]) <= set(cand)
    items = [data.item_ids[0], data.item_ids[1], "no-such-item"]
    users = [user, "nobody", user]
    if not rating_model:
        import warnings

        try:  # implicit models predict preference scores; ranking-only ones refuse
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                p = model.predict(users, items, unknown="nan")
        except NotImplementedError:
            return
        assert any(issubclass(w.category, cr.FallbackWarning) for w in caught)
        assert np.isfinite(p[0]) and np.isnan(p[1:]).all()
        return
    exact = model.predict([user], items[:1])
    with pytest.warns(cr.FallbackWarning, match="2 of 3 .user, item. pairs unknown"):
        p = model.predict(users, items, unknown="nan")
    np.testing.assert_allclose(p[0], exact[0], rtol=1e-6)
    assert np.isnan(p[1:]).all()
    mu, bu, bi = fit_biases(data.matrix, 15.0, 10.0, 1)
    with pytest.warns(cr.FallbackWarning, match="bias baseline"):
        p = model.predict(users, items, unknown="fallback")
    u, i = data.user_index([user])[0], data.item_index([items[1]])[0]
    np.testing.assert_allclose(p, [exact[0], mu + bi[i], mu + bu[u]], rtol=1e-5)


class TransferContract:
    """The contract every transfer model keeps. Subclass once per model and define
    ``make_model(n_threads)``; uses the class-scoped fixtures ``pair`` and ``fitted_transfer``."""

    rating_model = False
    explicit_data = True
    needs_pair = True  # False: fit also takes the target Interactions alone

    def make_model(self, n_threads=0):  # pragma: no cover - overridden
        raise NotImplementedError

    def test_is_a_recommender(self):
        m = self.make_model()
        assert isinstance(m, cr.transfer.TransferRecommender) and isinstance(m, cr.Recommender)

    def test_fit_returns_self_and_is_fitted(self, pair):
        m = self.make_model()
        assert not m.is_fitted
        with pytest.raises(cr.NotFittedError):
            m.recommend(["u10"], n=3)
        assert m.fit(pair) is m and m.is_fitted
        assert isinstance(m, cr.models.protocol.Scorer)

    def test_recommend_cold_and_warm_users(self, fitted_transfer, pair):
        target = pair.target
        ids, scores = fitted_transfer.recommend(COLD_USERS + WARM_USERS, n=5)
        assert ids.shape == scores.shape == (len(COLD_USERS) + len(WARM_USERS), 5)
        assert set(ids.ravel()) <= set(target.item_ids)
        assert np.all(np.isfinite(scores))
        assert np.all(np.diff(scores, axis=1) <= 1e-6)
        for r, u in enumerate(COLD_USERS + WARM_USERS):
            seen = set(target.item_ids[target.matrix[target.user_index(u)[0]].indices])
            assert not (set(ids[r]) & seen)
        # cold users are scored from their source data: not all the same list
        assert len({tuple(row) for row in ids[: len(COLD_USERS)]}) > 1 or not self.personal_cold

    personal_cold = True  # False for a model that gives every cold user the same list (no transfer)

    def test_predict_cold_and_warm_users(self, fitted_transfer, pair):
        users = COLD_USERS + WARM_USERS
        items = list(pair.target.item_ids[: len(users)])
        try:
            p = fitted_transfer.predict(users, items)
        except NotImplementedError:
            assert not self.rating_model  # a ranking-only model may refuse to predict ratings
            return
        assert p.shape == (len(users),) and np.all(np.isfinite(p))  # ratings, or preference scores
        if self.rating_model:
            assert np.all((p > -5) & (p < 11))  # on the rating scale, give or take

    def test_index_protocol_matches_id_api(self, fitted_transfer, pair):
        u = fitted_transfer.user_map_.lookup(COLD_USERS + WARM_USERS)
        ids, scores = fitted_transfer.recommend(COLD_USERS + WARM_USERS, n=4)
        idx, s = fitted_transfer.recommend_indices(u, n=4)
        np.testing.assert_array_equal(fitted_transfer.item_ids_[idx], ids)
        dense = fitted_transfer.score_indices(u)
        assert dense.shape == (len(u), pair.target.n_items)
        np.testing.assert_allclose(np.take_along_axis(dense, idx, axis=1), s, rtol=1e-4, atol=1e-4)

    def test_similar_items(self, fitted_transfer, pair):
        item = pair.target.item_ids[0]
        try:
            ids, _ = fitted_transfer.similar_items([item], n=3)
        except NotImplementedError:
            return  # the model has no item representation
        assert ids.shape == (1, 3) and item not in set(ids.ravel())

    def test_save_load_round_trip(self, fitted_transfer, tmp_path):
        path = tmp_path / "model.crossrec"
        fitted_transfer.save(path)
        loaded = cr.load(path)
        assert type(loaded) is type(fitted_transfer)
        users = COLD_USERS + WARM_USERS
        a, b = fitted_transfer.recommend(users, n=5), loaded.recommend(users, n=5)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], rtol=1e-6)
        if self.rating_model:
            items = list(fitted_transfer.item_ids_[: len(users)])
            np.testing.assert_allclose(fitted_transfer.predict(users, items), loaded.predict(users, items), rtol=1e-6)

    def test_unknown_id_policies(self, fitted_transfer, pair):
        check_unknown_id_policies(fitted_transfer, pair.target, WARM_USERS[0], self.rating_model)

    def test_same_result_on_1_and_2_threads(self, pair):
        one = self.make_model(n_threads=1).fit(pair)
        two = self.make_model(n_threads=2).fit(pair)
        users = COLD_USERS + WARM_USERS
        a, b = one.recommend(users, n=5), two.recommend(users, n=5)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], rtol=1e-5, atol=1e-6)

    def test_bad_input(self, fitted_transfer, pair):
        if self.needs_pair:
            with pytest.raises(ValueError, match="CrossDomain"):
                self.make_model().fit(pair.target)
        with pytest.raises(ValueError):
            self.make_model().fit("not data")
        with pytest.raises(cr.UnknownIdError):
            fitted_transfer.recommend(["nobody"], n=3)
        with pytest.raises(ValueError, match="n must be"):
            fitted_transfer.recommend(["u10"], n=0)
        with pytest.raises(ValueError, match="user_idx"):
            fitted_transfer.score_indices([fitted_transfer.n_users_])
        with pytest.raises(ValueError, match="user_idx"):
            fitted_transfer.recommend_indices(np.array([-1]), n=3)
        with pytest.raises(ValueError, match="differ in length"):
            fitted_transfer.predict(["u10", "u11"], [pair.target.item_ids[0]])
