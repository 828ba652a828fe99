"""Factor models against implicit (ALS, BPR) and Surprise (SVD), one thread each, as in
bench_als.py, bench_bpr.py and bench_mf.py: same objective, hyper-parameters and (ALS) initial
factors; accuracy by the same top-N code (crossrec.topn_from_factors), training items excluded."""

from __future__ import annotations

import numpy as np
import pytest
from _common import ml100k
from _suite import data_or_skip, reference, timed
from bench_als import ndcg, split
from bench_mf import predict
from threadpoolctl import threadpool_limits

import crossrec as cr


@pytest.fixture(scope="module")
def ml_positive(quick):
    """ML-100K ratings >= 4 as implicit interactions, random 80/20 split (seed 0)."""
    data_or_skip("movielens-100k", "u.data")
    df = ml100k()
    df = df[df.rating >= 4]
    if quick:
        df = df[df.user <= 150]
    return split(cr.Interactions.from_pandas(df, "user", "item").matrix)


# ---- implicit ALS ------------------------------------------------------------------------------
@pytest.mark.parametrize("library", ["implicit", "crossrec"])
def test_als(benchmark, library, ml_positive, quick, rounds, outcomes):
    pytest.importorskip("implicit")
    from implicit.als import AlternatingLeastSquares

    train, test = ml_positive
    factors, iterations, alpha = (16, 5, 1.0) if quick else (64, 15, 1.0)
    group = f"implicit ALS, ML-100K >= 4, {factors} factors, {iterations} iterations, 1 thread"
    # the same start for both (implicit's own init: uniform [0, 0.01)); confidence 1 + alpha r
    # for both (implicit's convention is alpha r, so it gets the data 1 + alpha r and alpha 1)
    rng = np.random.default_rng(0)
    user_init = (rng.random((train.shape[0], factors)) * 0.01).astype(np.float32)
    item_init = (rng.random((train.shape[1], factors)) * 0.01).astype(np.float32)
    confidence = train.copy()
    confidence.data = 1.0 + alpha * confidence.data

    def peer():
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=factors, iterations=iterations, regularization=0.01, alpha=1.0, random_state=0, num_threads=1
            )
            model.user_factors, model.item_factors = user_init.copy(), item_init.copy()
            model.fit(confidence, show_progress=False)
        return ndcg(model.user_factors, model.item_factors, train, test)

    def ours():
        data = cr.Interactions.from_scipy(train)
        model = cr.ALS(factors=factors, iterations=iterations, regularization=0.01, alpha=alpha, n_threads=1, seed=0)
        model.fit(data, user_init=user_init, item_init=item_init)
        return ndcg(model.user_factors_, model.item_factors_, train, test)

    result = outcomes[(group, library)] = timed(
        benchmark, group, library, ours if library == "crossrec" else peer, rounds
    )
    benchmark.extra_info["ndcg@10"] = result
    if library == "crossrec":  # the same objective from the same start: the same accuracy
        assert result == pytest.approx(reference(outcomes, group, "implicit", peer), rel=0.03)


# ---- BPR -------------------------------------------------------------------------------------
@pytest.mark.parametrize("library", ["implicit", "crossrec"])
def test_bpr(benchmark, library, ml_positive, quick, rounds, outcomes):
    pytest.importorskip("implicit")
    from implicit.bpr import BayesianPersonalizedRanking

    train, test = ml_positive
    factors, epochs = (16, 20) if quick else (64, 100)
    group = f"BPR, ML-100K >= 4, {factors} factors, {epochs} epochs, 1 thread"
    users = np.flatnonzero(np.diff(test.indptr) > 0).astype(np.int32)

    def score(user_factors, item_factors):
        rec, _ = cr.topn_from_factors(
            np.ascontiguousarray(user_factors[users]), item_factors, 10, exclude=train, exclude_rows=users
        )
        return float(np.nanmean(cr.metrics.ndcg_at_k(rec, test[users], 10)))

    def peer():
        model = BayesianPersonalizedRanking(
            factors=factors, iterations=epochs, learning_rate=0.05, regularization=0.01, num_threads=1, random_state=0
        )
        model.fit(train, show_progress=False)
        return score(model.user_factors, model.item_factors)

    def ours():
        model = cr.BPR(factors=factors, iterations=epochs, learning_rate=0.05, regularization=0.01, n_threads=1, seed=0)
        model.fit(cr.Interactions.from_scipy(train))
        rec, _ = model.recommend_indices(users, n=10)
        return float(np.nanmean(cr.metrics.ndcg_at_k(rec, test[users], 10)))

    result = outcomes[(group, library)] = timed(
        benchmark, group, library, ours if library == "crossrec" else peer, rounds
    )
    benchmark.extra_info["ndcg@10"] = result
    if library == "crossrec":  # stochastic and sampled differently: at least as good, within noise
        assert result >= 0.9 * reference(outcomes, group, "implicit", peer)


# ---- explicit MF against Surprise's SVD -----------------------------------------------------------
@pytest.fixture(scope="module")
def ml_fold(quick):
    """ML-100K fold u1 (train, test); --quick: its first 150 users."""
    data_or_skip("movielens-100k", "u1.base")
    tr, te = ml100k("u1.base"), ml100k("u1.test")
    if quick:
        tr, te = tr[tr.user <= 150], te[te.user <= 150]
    return tr, te


@pytest.mark.parametrize("library", ["surprise", "crossrec"])
def test_svd(benchmark, library, ml_fold, quick, rounds, outcomes):
    pytest.importorskip("surprise")
    from surprise import SVD, Dataset, Reader

    tr, te = ml_fold
    epochs = 5 if quick else 20
    group = f"SVD (biased MF, SGD), ML-100K u1, 100 factors, {epochs} epochs, 1 thread"
    truth = te.rating.to_numpy(float)

    def peer():
        trainset = Dataset.load_from_df(tr[["user", "item", "rating"]], Reader(rating_scale=(1, 5)))
        algo = SVD(n_epochs=epochs, random_state=0).fit(trainset.build_full_trainset())
        pred = np.array([p.est for p in algo.test(list(zip(te.user, te.item, te.rating.astype(float))))])
        return cr.metrics.rmse(truth, pred)

    def ours():  # Surprise's defaults: 100 factors, lr 0.005, reg 0.02
        model = cr.MF(iterations=epochs, seed=0, n_threads=1).fit(
            cr.Interactions.from_pandas(tr, "user", "item", "rating")
        )
        return cr.metrics.rmse(truth, predict(model, te.user.values, te.item.values))

    result = outcomes[(group, library)] = timed(
        benchmark, group, library, ours if library == "crossrec" else peer, rounds
    )
    benchmark.extra_info["rmse"] = result
    if library == "crossrec":  # the same model and update; different random streams
        assert abs(result - reference(outcomes, group, "surprise", peer)) < 0.01
