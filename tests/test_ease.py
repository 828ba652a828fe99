import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

import crossrec as cr
from contract import ModelContract, small_data
from crossrec.models.ease import check_dense_solve_memory, ease_weights


def ridge_reference(X: np.ndarray, l2: float) -> np.ndarray:
    """EASE by definition: with diag(B) = 0 the problem splits into one ridge regression per
    column j of X on the other columns, each solved directly."""
    n = X.shape[1]
    B = np.zeros((n, n))
    for j in range(n):
        others = np.delete(np.arange(n), j)
        A = X[:, others]
        B[others, j] = np.linalg.solve(A.T @ A + l2 * np.eye(n - 1), A.T @ X[:, j])
    return B


def random_binary(rng, n_users=30, n_items=12, density=0.3):
    return (rng.random((n_users, n_items)) < density).astype(np.float64)


def test_weights_match_per_column_ridge(rng):
    X = random_binary(rng)
    np.testing.assert_allclose(ease_weights(sp.csr_matrix(X), 5.0), ridge_reference(X, 5.0), atol=1e-10)


@given(st.integers(0, 10_000), st.floats(0.1, 100.0), st.integers(2, 9))
def test_weights_property(seed, l2, n_items):
    X = random_binary(np.random.default_rng(seed), n_users=15, n_items=n_items)
    B = ease_weights(sp.csr_matrix(X), l2)
    assert np.all(np.diag(B) == 0)
    np.testing.assert_allclose(B, ridge_reference(X, l2), atol=1e-8)


def test_empty_item_column_gets_zero_weights(rng):
    X = random_binary(rng)
    X[:, 3] = 0
    B = ease_weights(sp.csr_matrix(X), 2.0)
    assert np.all(B[3] == 0) and np.all(B[:, 3] == 0)


def test_scores_are_history_times_weights():
    data = small_data(explicit=False)
    m = cr.EASE(l2=20.0).fit(data)
    X = data.matrix.toarray()
    B = ridge_reference(X, 20.0)
    users = np.array([0, 5, 9])
    np.testing.assert_allclose(m.score_indices(users), X[users] @ B, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.score_history(X[users]), m.score_indices(users), rtol=1e-6)


def test_explicit_ratings_are_binarised():
    data = small_data()
    a = cr.EASE(l2=10.0).fit(data)
    b = cr.EASE(l2=10.0).fit(data.binarize())
    np.testing.assert_array_equal(a.weights_, b.weights_)


def test_same_result_on_one_and_two_threads():
    data = small_data()
    a = cr.EASE(n_threads=1).fit(data).recommend(["u1", "u2"], n=8)
    b = cr.EASE(n_threads=2).fit(data).recommend(["u1", "u2"], n=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-5)


def test_refuses_when_the_solve_does_not_fit_memory():
    data = small_data()
    with pytest.raises(MemoryError, match=r"max_memory.*at most \d+ items"):
        cr.EASE(max_memory=1000).fit(data)
    with pytest.raises(MemoryError, match="MemAvailable"):
        check_dense_solve_memory(10**7, None)  # 2.4 PB: more than any machine has
    check_dense_solve_memory(100, 1e9)  # fits: no error


@pytest.mark.parametrize(
    "kw", [{"l2": 0.0}, {"l2": -1.0}, {"l2": float("nan")}, {"l2": "a"}, {"max_memory": -5}, {"n_threads": -1}]
)
def test_bad_parameters(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        cr.EASE(**kw).fit(small_data())


def test_score_history_checks_shape():
    m = cr.EASE().fit(small_data())
    with pytest.raises(ValueError, match="columns"):
        m.score_history(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        m.score_history(np.full((1, m.n_items_), np.nan))


class TestEASE(ModelContract):
    def make_model(self):
        return cr.EASE(l2=50.0)
