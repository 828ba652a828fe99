"""One ALS (issue 12): every transfer method takes every crossrec factor model it accepts, user rows
carry the bias, and the library's own ALS transfers as well as the transfer default."""

import crossrec as cr
import numpy as np
import pytest
import scipy.sparse as sp
from crossrec import factorization as fz
from crossrec.transfer import CMF, EMCDR, FineTune, NoTransfer
from crossrec.transfer.mapping import fit_linear_map
from test_transfer_methods import cold_ndcg, cold_rmse, make_pair

TINY = dict(factors=6, iterations=4, seed=0)
MODELS = {
    "ALS explicit": (True, lambda: cr.ALS(implicit=False, **TINY)),
    "ALS implicit": (False, lambda: cr.ALS(implicit=True, regularization=1.0, alpha=10.0, **TINY)),
    "MF": (True, lambda: cr.MF(factors=6, iterations=20, learning_rate=0.01, seed=0)),
    "BPR": (False, lambda: cr.BPR(factors=6, iterations=40, seed=0)),
}


@pytest.fixture(scope="module")
def splits():
    return {e: make_pair(e, n_users=300).cold_start_split(fraction=0.5, test_size=0.2, seed=0) for e in (True, False)}


def quality(model, split, explicit):
    return cold_rmse(model, split) if explicit else cold_ndcg(model, split)


def better_or_equal(a, b, explicit):
    return a <= b if explicit else a >= b


# ---- every method accepts every factor model --------------------------------------------------
@pytest.mark.parametrize("kind", list(MODELS))
def test_finetune_and_emcdr_accept_every_factor_model(kind, splits):
    explicit, make = MODELS[kind]
    split = splits[explicit]
    tr = split.train
    src = make().fit(tr.source)
    # a related pair: transfer beats the average user (explicit) / popularity (implicit) on cold users
    base = quality(NoTransfer(make()).fit(tr.target), split, explicit)
    for method in (FineTune(make(), source_model=src, pull=1.0), EMCDR(src, make(), l2=1.0)):
        assert method.fit(tr) is method
        q = quality(method, split, explicit)
        assert better_or_equal(q, base, explicit) and q != base, (kind, type(method).__name__, q, base)
        rows = method.model_.user_rows()
        assert rows.shape[1] == make().user_width(explicit)
        assert np.all(np.isfinite(rows[method.cold_users_]))


@pytest.mark.parametrize("kind", ["ALS explicit", "ALS implicit"])
def test_cmf_accepts_crossrec_als_and_uses_its_hyper_parameters(kind, splits):
    explicit, make = MODELS[kind]
    tr = splits[explicit].train
    given = CMF(model=make(), weights=(1.0, 1.0)).fit(tr)
    p = make().get_params()
    spelled = CMF(
        factors=p["factors"],
        iterations=p["iterations"],
        regularization=p["regularization"] if p["regularization"] is not None else 0.1,
        implicit=p["implicit"],
        alpha=p["alpha"],
        seed=p["seed"],
        weights=(1.0, 1.0),
    ).fit(tr)
    np.testing.assert_array_equal(given.user_rows(), spelled.user_rows())
    assert given.user_rows().shape[1] == make().user_width(explicit)


@pytest.mark.parametrize("kind", ["MF", "BPR"])
def test_cmf_refuses_sgd_models_with_a_clear_error(kind, splits):
    explicit, make = MODELS[kind]
    with pytest.raises(ValueError, match="CMF: model must be a crossrec.ALS"):
        CMF(model=make()).fit(splits[explicit].train)


def test_non_factor_models_are_refused_by_name(splits):
    tr = splits[True].train
    with pytest.raises(ValueError, match="FineTune: model must be a crossrec factor model"):
        FineTune(cr.Baseline()).fit(tr)
    with pytest.raises(ValueError, match="EMCDR: source_model must be a crossrec factor model"):
        EMCDR(cr.Baseline(), cr.ALS(implicit=False, **TINY)).fit(tr)


# ---- biases travel with the factors (reference checks) ----------------------------------------
def test_finetune_transfers_the_bias_of_cold_users(splits):
    split = splits[True]
    tr = split.train
    src = cr.ALS(implicit=False, **TINY).fit(tr.source)
    S = np.hstack([src.user_factors_, src.user_bias_[:, None]])
    cold = split.cold_users
    naive = FineTune(cr.ALS(implicit=False, **TINY), source_model=src, cold_rows="source").fit(tr)
    np.testing.assert_array_equal(naive.model_.user_bias_[cold], src.user_bias_[cold])
    np.testing.assert_array_equal(naive.model_.user_factors_[cold], src.user_factors_[cold])
    mapped = FineTune(cr.ALS(implicit=False, **TINY), source_model=src, map_l2=3.0).fit(tr)
    both = (tr.source.user_counts() > 0) & (tr.target.user_counts() > 0)
    T = np.hstack([mapped.model_.user_factors_, mapped.model_.user_bias_[:, None]]).astype(np.float64)
    # reference ridge with an unpenalised intercept, by the normal equations of the augmented system
    A = np.hstack([S[both], np.ones((both.sum(), 1))]).astype(np.float64)
    P = np.diag(np.r_[np.full(S.shape[1], 3.0), 0.0])
    coef = np.linalg.solve(A.T @ A + P, A.T @ T[both])
    expect = np.hstack([S[cold], np.ones((len(cold), 1))]) @ coef
    np.testing.assert_allclose(mapped.model_.user_bias_[cold], expect[:, -1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mapped.model_.user_factors_[cold], expect[:, :-1], rtol=1e-4, atol=1e-4)


def test_emcdr_maps_the_bias_and_no_transfer_averages_it(splits):
    split = splits[True]
    tr = split.train
    src = cr.ALS(implicit=False, **TINY).fit(tr.source)
    tgt = cr.ALS(implicit=False, **TINY).fit(tr.target)
    m = EMCDR(src, tgt, l2=2.0).fit(tr)
    both = (tr.source.user_counts() > 0) & (tr.target.user_counts() > 0)
    S, T = src.user_rows().astype(np.float64), tgt.user_rows().astype(np.float64)
    W, b = fit_linear_map(S[both], T[both], 2.0)
    cold = split.cold_users
    np.testing.assert_allclose(m.model_.user_bias_[cold], (S[cold] @ W + b)[:, -1], rtol=1e-5, atol=1e-5)
    assert np.ptp(m.model_.user_bias_[cold]) > 0  # a level per user, not one constant
    nt = NoTransfer(tgt).fit(tr.target)
    has = tr.target.user_counts() > 0
    np.testing.assert_allclose(nt.model_.user_bias_[~has], tgt.user_bias_[has].mean(), rtol=1e-5)


def test_als_prior_covers_the_bias():
    d = make_pair(True, n_users=120).cold_start_split(0.5, 0.2, seed=0).train.target
    rng = np.random.default_rng(0)
    prior = rng.normal(size=(d.n_users, 7)).astype(np.float32)
    w = np.zeros(d.n_users)
    w[:10] = 1e7
    m = cr.ALS(implicit=False, **TINY).fit(d, user_prior=prior, user_prior_weight=w)
    np.testing.assert_allclose(m.user_rows()[:10], prior[:10], atol=1e-3)
    assert abs(m.user_bias_[:10] - prior[:10, 6]).max() < 1e-3
    zero = cr.ALS(implicit=False, **TINY).fit(d, user_prior=prior[:, :6], user_prior_weight=w)
    np.testing.assert_allclose(zero.user_bias_[:10], 0.0, atol=1e-3)  # factors-only prior: bias -> 0


def test_als_biased_step_matches_dense_reference(rng):
    R = sp.random(30, 20, density=0.3, format="csr", random_state=3, dtype=np.float32)
    R.data[:] = rng.integers(1, 6, R.nnz)
    Y = rng.normal(size=(20, 5)).astype(np.float32)  # last column: the items' biases
    X = np.zeros((30, 5), np.float32)
    prior = rng.normal(size=(30, 5)).astype(np.float32)
    pw = rng.uniform(0, 2, 30).astype(np.float32)
    offset = rng.normal(size=R.nnz)
    fz.als_biased_step(R, Y, X, 0.3, offset=offset, prior=prior, prior_weight=pw)
    Rs = fz.kernel_csr(R)
    for u in range(30):
        lo, hi = Rs.indptr[u], Rs.indptr[u + 1]
        items = Rs.indices[lo:hi]
        A = np.hstack([Y[items, :4], np.ones((len(items), 1))]).astype(np.float64)
        t = Rs.data[lo:hi] - offset[lo:hi] - Y[items, 4]
        lhs = A.T @ A + (0.3 * len(items) + pw[u]) * np.eye(5)
        np.testing.assert_allclose(X[u], np.linalg.solve(lhs, A.T @ t + pw[u] * prior[u]), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="offset"):
        fz.als_biased_step(R, Y, X, 0.3, offset=np.zeros(3))
    with pytest.raises(ValueError, match="bias last"):
        fz.als_biased_step(R, Y[:, :3], X, 0.3)


def test_mf_bias_prior_matches_one_sgd_step_by_hand():
    m = sp.csr_matrix(np.array([[4.0]], np.float32))
    X, Y = np.full((1, 2), 0.5, np.float32), np.full((1, 2), 0.2, np.float32)
    ub, ib = np.array([0.1], np.float32), np.array([-0.2], np.float32)
    lr, reg, w, t = 0.1, 0.05, 2.0, 1.5
    e = 4.0 - (3.0 + 0.1 - 0.2 + 0.5 * 0.2 * 2)
    fz.sgd_epoch(m, X, Y, ub, ib, 3.0, lr, reg, None, 0, 0, None, np.zeros((1, 2)), w, user_bias_prior=[t])
    np.testing.assert_allclose(ub[0], 0.1 + lr * (e - reg * 0.1 - w * (0.1 - t)), rtol=1e-5)
    with pytest.raises(ValueError, match="user_bias_prior"):
        fz.sgd_epoch(m, X, Y, ub, ib, 3.0, user_bias_prior=[t])  # needs the user prior's weights


def test_mf_fit_takes_rows_with_the_bias():
    d = make_pair(True, n_users=100).cold_start_split(0.5, 0.2, seed=0).train.target
    rows = np.random.default_rng(0).normal(size=(d.n_users, 5)).astype(np.float32)
    no_data = d.user_counts() == 0
    m = cr.MF(factors=4, iterations=3, seed=0).fit(d, user_init=rows, user_prior=rows, user_prior_weight=1.0)
    np.testing.assert_array_equal(m.user_rows()[no_data], rows[no_data])  # SGD never touches them
    assert m.user_width() == 5 and cr.MF(factors=4, use_bias=False).user_width() == 4
    assert cr.BPR(factors=4).user_width(False) == 4


# ---- ALS defaults and the deprecated alias --------------------------------------------------
def test_als_follows_the_data_kind_and_defaults_per_kind(splits):
    explicit, implicit = splits[True].train.target, splits[False].train.target
    a = cr.ALS(factors=4, iterations=2, implicit=None).fit(explicit)
    b = cr.ALS(factors=4, iterations=2, implicit=None).fit(implicit)
    assert (a.implicit_, b.implicit_) == (False, True)
    assert a.regularization_ == cr.models.mf.DEFAULT_REGULARIZATION["explicit"] == 0.1
    assert b.regularization_ == cr.models.mf.DEFAULT_REGULARIZATION["implicit"] == 1.0
    assert a.user_rows().shape[1] == 5 and b.user_rows().shape[1] == 4
    assert cr.ALS(factors=4, regularization=0.3).fit(explicit).regularization_ == 0.3


def test_transfer_als_is_a_deprecated_alias_of_als():
    with pytest.warns(DeprecationWarning, match="TransferALS is deprecated"):
        m = cr.transfer.TransferALS(factors=8)
    assert type(m) is cr.ALS
    assert (
        m.get_params() == cr.ALS(factors=8, iterations=10, regularization=0.1, implicit=None, alpha=10.0).get_params()
    )


# ---- the defect of issue 12, on a generated related pair -------------------------------------
@pytest.mark.parametrize("relatedness,seed", [(1.0, 0), (0.5, 1)])
def test_finetune_with_crossrec_als_is_not_worse_than_no_transfer(relatedness, seed):
    split = make_pair(True, relatedness=relatedness, seed=seed).cold_start_split(0.5, 0.2, seed=0)
    tr = split.train
    als = lambda **kw: cr.ALS(factors=8, iterations=6, implicit=False, seed=0, **kw)  # noqa: E731
    base = cold_rmse(NoTransfer(als()).fit(tr), split)
    tuned = cold_rmse(FineTune(als(), source_model=als().fit(tr.source)).fit(tr), split)
    assert tuned < base
    # what issue 12 measured: the old explicit default (0.01) and source rows copied as they are
    old = FineTune(als(regularization=0.01), als(regularization=0.01).fit(tr.source), cold_rows="source")
    assert cold_rmse(old.fit(tr), split) > base


@pytest.mark.parametrize("kind", ["ALS explicit", "MF"])
def test_distill_takes_a_teacher_fine_tuned_from_any_factor_model(kind, splits):
    explicit, make = MODELS[kind]
    split = splits[explicit]
    tr = split.train
    teacher = FineTune(make(), source_model=make().fit(tr.source)).fit(tr)
    student = cr.transfer.Distill(teacher, cr.MF(factors=4), epochs=3, n_threads=1).fit(tr)
    cold = split.cold_users[:5]
    assert np.all(np.isfinite(student.predict_indices(cold, np.zeros(len(cold), np.int64))))
    assert student.user_factors_.shape == (tr.target.n_users, 4)


def test_implicit_source_models_start_wide_and_the_rest_small(splits):
    """The transfer methods' own source model (presets, and the default when given none) starts
    wide on implicit feedback, so the source user rows they read are user-heavy (models.mf.als_start:
    from the small start fine-tune lost 20 % NDCG@10 on Amazon); target models, target-only
    baselines and every explicit model keep ALS's default small start."""
    from crossrec.transfer.presets import factor_model

    assert factor_model(explicit=False, source=True).start == "wide"
    assert factor_model(explicit=True, source=True).start == factor_model(explicit=False).start == "small"
    for explicit in (True, False):
        split = splits[explicit]
        want = "small" if explicit else "wide"
        ft = FineTune(pull=1.0).fit(split.train)
        em = EMCDR().fit(split.train)
        assert (ft.source_model_.start, ft.model_.start) == (want, "small")
        assert (em.source_model_.start, em.model_.start) == (want, "small")
        assert NoTransfer().fit(split.train).model_.start == "small"
    src = cr.ALS(start="wide", factors=8, iterations=3).fit(splits[False].train.source)
    small = cr.ALS(factors=8, iterations=3).fit(splits[False].train.source)
    # user-heavy: the wide start leaves larger user rows (relative to the item rows) after few sweeps
    ratio = lambda m: np.linalg.norm(m.user_factors_) / np.linalg.norm(m.item_factors_)  # noqa: E731
    assert ratio(src) > ratio(small)
