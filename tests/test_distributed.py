"""crossrec.distributed on a LocalCluster with 2 worker processes: the distributed fits give the
single-machine models' factors (float tolerance), the data paths give the same blocks, batch
outputs equal the single-machine ones, a table too large for a worker fails before work starts,
and a worker killed mid-fit changes nothing."""

from __future__ import annotations

import os
import signal

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

import crossrec as cr  # noqa: E402
import crossrec.distributed as crd  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

TOL = 2e-4  # float32 factors of magnitude ~1; the Gram sum is reduced in another order


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="2GiB"
    )
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def dense_ratings(seed=0, n_users=120, n_items=90, density=0.25, explicit=True):
    """Every row and column long enough that no step takes the exact short-row path."""
    rng = np.random.default_rng(seed)
    m = sp.random(n_users, n_items, density=density, random_state=rng, format="csr", dtype=np.float32)
    m.data = np.ceil(m.data * 5).astype(np.float32)
    return cr.Interactions.from_scipy(m, explicit=explicit)


def long_tail(seed=1, n=6000):
    """String ids, skewed item popularity (short rows: the exact short-row path is taken)."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, 500, n)
    i = (rng.pareto(1.0, n) * 30).astype(int) % 400
    df = pd.DataFrame({"user": [f"u{x}" for x in u], "item": [f"i{x}" for x in i], "rating": rng.integers(1, 6, n)})
    return df


def close(a, b, tol=TOL):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max()) <= tol * max(1.0, float(np.abs(b).max()))


@pytest.mark.parametrize(
    "kw, exchange",
    [
        (dict(implicit=True, solver="cg"), "links"),
        (dict(implicit=True, solver="cholesky"), "broadcast"),
        (dict(implicit=False, use_bias=True), "links"),
        (dict(implicit=False, use_bias=False), "broadcast"),
    ],
)
def test_als_equals_single_machine(client, kw, exchange):
    data = dense_ratings(explicit=not kw["implicit"])
    common = dict(factors=6, iterations=3, regularization=0.1, seed=7, **kw)
    got = crd.ALS(**common, n_blocks=3, exchange=exchange).fit(data)
    ref = cr.ALS(**common).fit(data)
    assert got.exchange_ == {"users": exchange, "items": exchange}
    assert close(got.user_factors_, ref.user_factors_) and close(got.item_factors_, ref.item_factors_)
    if not kw["implicit"] and kw.get("use_bias"):
        assert close(got.user_bias_, ref.user_bias_) and close(got.item_bias_, ref.item_bias_)
        assert got.global_mean_ == pytest.approx(ref.global_mean_, rel=1e-6)
    # not a trivially converged fixed point: the factors moved away from the start
    assert np.abs(ref.user_factors_).max() > 0.05
    # and it scores like the local model
    users = data.user_ids[:5]
    assert np.array_equal(got.recommend(users, n=5)[0], ref.recommend(users, n=5)[0])


def test_als_long_tail_with_priors_and_short_rows(client):
    df = long_tail()
    data = cr.Interactions.from_pandas(df, rating="rating", implicit=True, duplicates="sum")
    rng = np.random.default_rng(3)
    prior = rng.standard_normal((data.n_users, 8)).astype(np.float32) * 0.1
    weight = (rng.random(data.n_users) < 0.5).astype(np.float64)
    common = dict(factors=8, iterations=3, regularization=0.05, alpha=2.0, seed=1)
    got = crd.ALS(**common, n_blocks=4).fit(data, user_prior=prior, user_prior_weight=weight)
    ref = cr.ALS(**common).fit(data, user_prior=prior, user_prior_weight=weight)
    assert close(got.user_factors_, ref.user_factors_, 1e-3) and close(got.item_factors_, ref.item_factors_, 1e-3)
    assert got.rows_moved_["users"] > 0


def test_blocks_from_dataframe_parquet_and_memory_agree(client, tmp_path):
    df = long_tail(seed=2)
    local = cr.Interactions.from_pandas(df, rating="rating", duplicates="sum")
    import dask.dataframe as dd

    from_ddf = crd.from_dask_dataframe(dd.from_pandas(df, npartitions=3), rating="rating", n_blocks=3)
    df.to_parquet(tmp_path / "x.parquet")
    from_pq = crd.read_parquet(str(tmp_path / "x.parquet"), rating="rating", n_blocks=5)
    from_mem = crd.from_interactions(local, n_blocks=2)
    for b in (from_ddf, from_pq, from_mem):
        assert b.user_map == local.user_map and b.item_map == local.item_map
        assert b.nnz == local.nnz and b.explicit
        assert (b.to_matrix() != local.matrix).nnz == 0
        by_item = sp.vstack([blk.global_matrix(b.n_users) for blk in client.gather(b.by_item)], format="csr")
        assert (by_item != local.matrix.T.tocsr()).nnz == 0
    with pytest.raises(ValueError, match="duplicate"):
        crd.from_dask_dataframe(dd.from_pandas(df, npartitions=2), rating="rating", duplicates="error")
    with pytest.raises(ValueError, match="column 'nope'"):
        crd.from_dask_dataframe(dd.from_pandas(df, npartitions=2), rating="nope")
    with pytest.raises(ValueError, match="expected crossrec.distributed.Blocks"):
        crd.as_blocks([1, 2, 3])


def test_saved_model_loads_as_single_machine_als(client, tmp_path, capsys):
    data = dense_ratings(explicit=False)
    got = crd.ALS(factors=4, iterations=2, show_progress=True).fit(data)
    assert "crossrec.distributed.ALS" in capsys.readouterr().err  # the tqdm bar
    got.save(tmp_path / "m.crossrec")
    back = cr.load(tmp_path / "m.crossrec")
    assert type(back) is cr.ALS
    assert np.array_equal(back.user_factors_, got.user_factors_)
    assert np.array_equal(back.recommend(data.user_ids[:3], n=4)[0], got.recommend(data.user_ids[:3], n=4)[0])


def test_recommend_all_writes_one_row_per_user(client, tmp_path):
    data = cr.Interactions.from_pandas(long_tail(seed=5), rating="rating", implicit=True, duplicates="sum")
    model = cr.ALS(factors=4, iterations=2).fit(data)
    out = crd.recommend_all(model, n=7, path=str(tmp_path / "recs"), n_blocks=3)
    recs = pd.read_parquet(out)
    assert len(recs) == data.n_users and recs.user.is_unique
    recs = recs.set_index("user").loc[list(data.user_ids)]
    ids, scores = model.recommend(data.user_ids, n=7)
    for r, (i, s) in enumerate(zip(ids, scores)):
        ok = np.array([x is not None for x in i])
        assert list(recs["items"].iloc[r]) == list(i[ok])
        assert np.allclose(recs["scores"].iloc[r], s[ok])
    # a second call replaces the dataset instead of adding to it
    crd.recommend_all(model, n=3, path=out, users=data.user_ids[:10])
    assert len(pd.read_parquet(out)) == 10


def test_item_similarity_equals_single_machine(client):
    data = cr.Interactions.from_pandas(long_tail(seed=6), rating="rating", duplicates="sum")
    for kind in ("cosine", "jaccard"):
        got = crd.item_similarity(data, k=5, kind=kind, n_blocks=3)
        ref = cr.similarity.topk_similarity(data.matrix.T.tocsr(), k=5, kind=kind)
        assert got.shape == ref.shape and (got != ref).nnz == 0
    with pytest.raises(ValueError, match="kind"):
        crd.item_similarity(data, kind="nope")


def test_evaluate_reduces_segments_like_local_metrics(client):
    data = cr.Interactions.from_pandas(long_tail(seed=8), rating="rating", implicit=True, duplicates="sum")
    train, test = cr.split.random(data, test_size=0.3, seed=0)
    model = cr.ALS(factors=4, iterations=3).fit(train)
    seg = data.user_ids[::2]  # external ids, as crossrec.evaluate takes them
    report = crd.evaluate(model, test, k=5, metrics=("ndcg", "recall"), segments={"even": seg}, n_blocks=3)
    users = np.flatnonzero(np.diff(test.matrix.indptr) > 0)
    idx, _ = model.recommend_indices(users, n=5)
    nd = cr.metrics.ndcg_at_k(idx, test.matrix[users], 5)
    assert report.loc["all", "ndcg@5"] == pytest.approx(np.nanmean(nd))
    even = users % 2 == 0
    assert report.loc["even", "ndcg@5"] == pytest.approx(np.nanmean(nd[even]))
    assert report.loc["even", "users"] == even.sum()
    with pytest.raises(ValueError, match="unknown metric"):
        crd.evaluate(model, test, metrics=("nope",))
    with pytest.raises(ValueError, match="internal user indices"):
        crd.evaluate(model, test, segments={"cold": cr.data.Indices([0, 1], "user")})


def test_table_too_large_for_a_worker_fails_before_work(client):
    data = dense_ratings(explicit=False)
    before = set(client.who_has())
    for exchange in ("broadcast", "links"):
        with pytest.raises(crd.WorkerMemoryError, match="MiB"):
            crd.ALS(factors=2_000_000, iterations=1, exchange=exchange).fit(data)
    started = [k for k in set(client.who_has()) - before if "solve" in str(k)]
    assert started == []
    with pytest.raises(ValueError, match="exchange"):
        crd.ALS(exchange="nope").fit(data)


@pytest.mark.parametrize("explicit", [True, False])
def test_finetune_equals_single_machine(client, tmp_path, explicit):
    s, t = cr.datasets.synthetic_pair(200, 120, 100, explicit=explicit, density=0.06, overlap=0.8, seed=1)
    pair = cr.CrossDomain(source=s, target=t, shared="users").cold_start_split(fraction=0.3, seed=0).train
    # implicit: Cholesky rows (CG rows agree to CG truncation only where a block picks the exact
    # short-row path differently from the whole matrix; see test_als_long_tail_with_priors_and_short_rows)
    kw = dict(factors=6, iterations=2, implicit=not explicit, regularization=0.1, seed=2, solver="cholesky")
    ref = cr.transfer.FineTune(cr.ALS(**kw), pull=0.5).fit(pair)
    got = crd.FineTune(cr.ALS(**kw), pull=0.5, n_blocks=3).fit(pair)
    assert type(got.model_) is cr.ALS and np.array_equal(got.cold_users_, ref.cold_users_)
    assert close(got.model_.user_factors_, ref.model_.user_factors_)
    assert close(got.model_.item_factors_, ref.model_.item_factors_)
    got.save(tmp_path / "ft")
    back = cr.load(tmp_path / "ft")
    assert type(back) is cr.transfer.FineTune
    users = pair.target.user_ids[:4]
    assert np.array_equal(back.recommend(users, n=5)[0], ref.recommend(users, n=5)[0])
    with pytest.raises(ValueError, match="crossrec.ALS"):
        crd.FineTune(cr.MF(factors=4)).fit(pair)


@pytest.mark.parametrize("explicit, weights", [(True, (0.5, 1.0)), (False, (1.0, 1.0)), (False, (0.5, 1.0))])
def test_cmf_equals_single_machine(client, tmp_path, explicit, weights):
    s, t = cr.datasets.synthetic_pair(200, 120, 100, explicit=explicit, density=0.06, overlap=0.8, seed=1)
    # users cold in the target (all their target rows held out): explicit CMF maps their rows
    pair = cr.CrossDomain(source=s, target=t, shared="users").cold_start_split(fraction=0.3, seed=0).train
    assert ((pair.source.user_counts() > 0) & (pair.target.user_counts() == 0)).any()
    kw = dict(factors=6, iterations=2, regularization=0.1, seed=2, weights=weights)
    ref = cr.transfer.CMF(**kw).fit(pair)
    got = crd.CMF(**kw, n_blocks=3, exchange="links").fit(pair)
    for name in ("user_factors_", "item_factors_", "source_item_factors_"):
        assert close(getattr(got, name), getattr(ref, name)), name
    assert np.abs(ref.user_factors_).max() > 0.1
    got.save(tmp_path / "cmf")
    back = cr.load(tmp_path / "cmf")
    assert type(back) is cr.transfer.CMF
    users = pair.target.user_ids[:4]
    assert np.array_equal(back.recommend(users, n=5)[0], ref.recommend(users, n=5)[0])


def test_worker_killed_mid_fit_gives_the_undisturbed_result(client, tmp_path):
    df = long_tail(seed=9)
    df.to_parquet(tmp_path / "x.parquet")
    blocks = crd.read_parquet(str(tmp_path / "x.parquet"), rating="rating", implicit=True, n_blocks=4)
    common = dict(factors=6, iterations=3, seed=2, n_blocks=4)
    ref = crd.ALS(**common).fit(blocks)
    # a fit from Parquet equals the single-machine fit of the same rows (same id order)
    local = cr.ALS(factors=6, iterations=3, seed=2).fit(
        cr.Interactions.from_pandas(df, rating="rating", implicit=True, duplicates="sum")
    )
    assert np.array_equal(ref.user_ids_, local.user_ids_)
    assert close(ref.user_factors_, local.user_factors_, 1e-3)
    killed = []

    def kill_one_worker(iteration, _):
        if iteration == 1:
            pid = sorted(client.run(os.getpid).values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    got = crd.ALS(**common, callback=kill_one_worker).fit(blocks)
    assert killed
    assert np.array_equal(got.user_factors_, ref.user_factors_)
    assert np.array_equal(got.item_factors_, ref.item_factors_)
    # the last test of the module: the nanny restarts the worker while the cluster shuts down
