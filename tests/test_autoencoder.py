import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

import crossrec as cr
from contract import ModelContract, small_data
from crossrec.models.autoencoder import corrupt, dae_loss_and_grads, normalize_rows


def tiny_problem(seed, n=5, items=7, hidden=3):
    rng = np.random.default_rng(seed)
    dense = (rng.random((n, items)) < 0.4).astype(np.float64)
    dense[0, 0] = 2.0  # a count > 1 and a guaranteed non-empty row
    X = sp.csr_matrix(dense)
    params = [
        rng.normal(0, 0.5, (items, hidden)),
        rng.normal(0, 0.1, hidden),
        rng.normal(0, 0.5, (hidden, items)),
        rng.normal(0, 0.1, items),
    ]
    return X, params


def numerical_grads(params, X_in, X, l2, eps=1e-6):
    out = []
    for p in params:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            up, _ = dae_loss_and_grads(params, X_in, X, l2, with_grads=False)
            p[idx] = old - eps
            down, _ = dae_loss_and_grads(params, X_in, X, l2, with_grads=False)
            p[idx] = old
            g[idx] = (up - down) / (2 * eps)
        out.append(g)
    return out


@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_gradients_match_numerical_derivatives(l2):
    X, params = tiny_problem(0)
    X_in = corrupt(normalize_rows(X), 0.5, np.random.default_rng(1))
    _, grads = dae_loss_and_grads(params, X_in, X, l2)
    for name, g, ng in zip(["W1", "b1", "W2", "b2"], grads, numerical_grads(params, X_in, X, l2)):
        np.testing.assert_allclose(g, ng, rtol=1e-5, atol=1e-7, err_msg=name)


@given(st.integers(0, 1000))
def test_gradients_property(seed):
    X, params = tiny_problem(seed, n=3, items=4, hidden=2)
    _, grads = dae_loss_and_grads(params, normalize_rows(X), X, 0.01)
    for g, ng in zip(grads, numerical_grads(params, normalize_rows(X), X, 0.01)):
        np.testing.assert_allclose(g, ng, rtol=1e-4, atol=1e-6)


def test_loss_is_multinomial_log_likelihood():
    X, params = tiny_problem(3)
    W1, b1, W2, b2 = params
    Xd = X.toarray()
    z = np.tanh(normalize_rows(X).toarray() @ W1 + b1) @ W2 + b2
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    expected = -(Xd * log_p).sum() / len(Xd) + 0.1 * ((W1**2).sum() + (W2**2).sum())
    loss, _ = dae_loss_and_grads(params, normalize_rows(X), X, 0.1, with_grads=False)
    assert loss == pytest.approx(expected, rel=1e-12)


def test_corruption_keeps_the_expected_share_and_scale():
    X = sp.csr_matrix(np.ones((200, 100)))
    c = corrupt(X, 0.3, np.random.default_rng(0))
    kept = c.data != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(c.data[kept], 1 / 0.7)
    assert corrupt(X, 0.0, np.random.default_rng(0)) is X


def test_normalize_rows_keeps_empty_rows():
    X = sp.csr_matrix(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(normalize_rows(X).toarray(), [[0.6, 0.8], [0, 0]])


def test_training_lowers_the_loss_and_is_deterministic():
    data = small_data()
    a = cr.DenoisingAutoencoder(hidden=16, epochs=30, seed=4).fit(data)
    b = cr.DenoisingAutoencoder(hidden=16, epochs=30, seed=4).fit(data)
    c = cr.DenoisingAutoencoder(hidden=16, epochs=30, seed=5).fit(data)
    assert a.loss_history_[-1] < a.loss_history_[0]
    np.testing.assert_array_equal(a.W1_, b.W1_)
    assert not np.array_equal(a.W1_, c.W1_)


def test_same_model_on_one_and_two_threads():
    data = small_data()
    a = cr.DenoisingAutoencoder(hidden=16, epochs=5, n_threads=1).fit(data)
    b = cr.DenoisingAutoencoder(hidden=16, epochs=5, n_threads=2).fit(data)
    np.testing.assert_allclose(a.W2_, b.W2_, rtol=1e-4, atol=1e-6)


def test_score_history_folds_in_unseen_users():
    data = small_data()
    m = cr.DenoisingAutoencoder(hidden=8, epochs=3).fit(data)
    rows = data.matrix[[2, 3]]
    np.testing.assert_allclose(m.score_history(rows), m.score_indices(np.array([2, 3])), rtol=1e-6)
    new_user = np.zeros((1, m.n_items_))
    new_user[0, [1, 4, 9]] = 1
    s = m.score_history(new_user)
    assert s.shape == (1, m.n_items_) and np.all(np.isfinite(s))
    with pytest.raises(ValueError, match="columns"):
        m.score_history(np.ones((1, 2)))


def test_progress_bar_runs(capsys):
    cr.DenoisingAutoencoder(hidden=4, epochs=2, progress=True).fit(small_data())


@pytest.mark.parametrize(
    "kw,name",
    [
        ({"hidden": 0}, "hidden"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"l2": float("nan")}, "l2"),
        ({"seed": -1}, "seed"),
        ({"n_threads": -2}, "n_threads"),
    ],
)
def test_bad_parameters(kw, name):
    with pytest.raises(ValueError, match=name):
        cr.DenoisingAutoencoder(**kw).fit(small_data())


class TestDenoisingAutoencoder(ModelContract):
    def make_model(self):
        return cr.DenoisingAutoencoder(hidden=16, epochs=10, seed=1)
