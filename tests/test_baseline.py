import numpy as np
import scipy.sparse as sp

import crossrec as cr
from contract import ModelContract
from crossrec.models.baseline import fit_biases


def test_fit_biases_converges_to_ridge_solution(rng):
    m = sp.random(30, 20, density=0.3, format="csr", random_state=1, dtype=np.float64)
    m.data = rng.integers(1, 6, m.nnz).astype(np.float64)
    mu, bu, bi = fit_biases(m, 2.0, 3.0, iterations=500)
    # reference: solve the joint ridge system directly
    coo = m.tocoo()
    A = np.zeros((m.nnz, 30 + 20))
    A[np.arange(m.nnz), coo.row] = 1
    A[np.arange(m.nnz), 30 + coo.col] = 1
    reg = np.diag(np.r_[np.full(30, 2.0), np.full(20, 3.0)])
    x = np.linalg.solve(A.T @ A + reg, A.T @ (coo.data - coo.data.mean()))
    np.testing.assert_allclose(bu, x[:30], atol=1e-4)
    np.testing.assert_allclose(bi, x[30:], atol=1e-4)


class TestBaseline(ModelContract):
    rating_model = True

    def make_model(self):
        return cr.Baseline()


class TestMostPopular(ModelContract):
    rating_model = True

    def make_model(self):
        return cr.MostPopular()


class TestRandom(ModelContract):
    def make_model(self):
        return cr.Random(seed=3)
