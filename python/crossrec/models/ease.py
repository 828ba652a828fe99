"""EASE: the closed-form linear item-item autoencoder (Steck, "Embarrassingly Shallow
Autoencoders for Sparse Data", WWW 2019).

Given the users x items interaction matrix X, EASE learns an items x items weight matrix B with a
zero diagonal that reconstructs X from itself:

    min_B ||X - X B||_F^2 + l2 ||B||_F^2   subject to diag(B) = 0,

whose solution is closed form: with P = (X^T X + l2 I)^-1, B_ij = -P_ij / P_jj (i != j), B_jj = 0.
The score of item j for user u is (X B)_uj. The dense solve needs a few n_items x n_items float64
matrices, so fitting refuses, with a MemoryError naming the limit, when they would not fit.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .._memory import available_memory, check_allocation
from .._validation import check_float, check_n_threads
from ..data import Interactions
from ..schema import Array, Csr, Scalar
from .base import Recommender

# Peak memory of the solve in n_items^2 * 8-byte units: the Gram matrix, numpy.linalg.inv's working
# copy and right-hand side (the identity), and the inverse (B is then built in place from it).
_SOLVE_COPIES = 4


def training_matrix(data: Interactions) -> sp.csr_matrix:
    """The matrix item-based models train on: 1 per interaction for explicit ratings (a rating says
    the user watched/bought the item, as in Steck 2019 and Liang et al. 2018), the stored weights
    (e.g. counts) for implicit data."""
    m = data.matrix
    values = np.ones(m.nnz, np.float32) if data.explicit else m.data.astype(np.float32)
    return sp.csr_matrix((values, m.indices, m.indptr), shape=m.shape)


def check_dense_solve_memory(n_items: int, max_memory: Optional[float], what: str = "EASE") -> None:
    """Raise MemoryError naming the limit when the dense n_items x n_items solve cannot fit."""
    limit = available_memory() if max_memory is None else float(max_memory)
    max_items = int(np.sqrt(limit / (8 * _SOLVE_COPIES))) if limit is not None else None
    check_allocation(
        float(n_items) ** 2 * 8 * _SOLVE_COPIES,
        f"{what}'s dense {n_items} x {n_items} item-item solve ({_SOLVE_COPIES} float64 matrices)",
        f"at most {max_items} items fit (MemAvailable in /proc/meminfo, or ulimit -v). Reduce the item count "
        f"(e.g. drop rare items) or raise max_memory",
        max_memory,
    )


def ease_weights(X: sp.spmatrix, l2: float) -> np.ndarray:
    """EASE item-item weights B (float64, zero diagonal) for the interaction matrix X."""
    X = sp.csr_matrix(X, dtype=np.float64)
    G = (X.T @ X).toarray()
    G[np.diag_indices_from(G)] += l2
    # numpy.linalg.inv, not scipy's cho_factor + potri: scipy 1.17's bundled OpenBLAS 0.3.30
    # segfaults in potrf with 2 threads at ~17,000 items, and scipy's LAPACK wrappers hold the GIL
    # for the whole solve (200 s measured under load), while numpy's gufunc releases it. Measured at
    # 8,000 items (load ~15, benchmarks/ease_solve_compare.py): inv 166 s on 2 threads / 240 s on 1,
    # cho_factor + potri 241 s / 294 s; inv was also the fastest single-threaded.
    P = np.linalg.inv(G)
    del G
    diag = np.diag(P).copy()
    P /= -diag[None, :]
    np.fill_diagonal(P, 0.0)
    return P


class EASE(Recommender):
    """Embarrassingly Shallow AutoEncoder (Steck 2019), an item-item model solved in closed form.

    Parameters
    ----------
    l2 : float
        L2 regularisation lambda > 0 on B. Steck reports 200-1000 to work for MovieLens-sized data.
    max_memory : float, optional
        Byte budget for the dense solve; default: MemAvailable from /proc/meminfo. Fitting raises
        ``MemoryError`` naming this limit when ``3 * n_items^2 * 8`` bytes exceed it.
    n_threads : int
        BLAS/LAPACK threads for the solve and scoring (0 = all cores).

    Attributes
    ----------
    weights_ : (n_items, n_items) float32 array
        B; the scores of a user with history row x are ``x @ B``.

    Notes
    -----
    Explicit ratings are used as binary interactions (see :func:`training_matrix`). Users not seen
    in training can be scored from their history with :meth:`score_history`.
    """

    state_schema = {
        "weights_": Array(("items", "items"), "float32"),
        "train_matrix_": Csr(("users", "items")),
        "binary_": Scalar(bool),
    }

    def __init__(self, l2: float = 500.0, max_memory: Optional[float] = None, n_threads: int = 0):
        self.l2 = l2
        self.max_memory = max_memory
        self.n_threads = n_threads

    def fit(self, data: Interactions) -> "EASE":
        self._start_fit(data)
        l2 = check_float(self.l2, "l2", 0.0, strict_min=True)
        if self.max_memory is not None:
            check_float(self.max_memory, "max_memory", 0.0, strict_min=True)
        threads = check_n_threads(self.n_threads)
        X = training_matrix(data)
        check_dense_solve_memory(X.shape[1], self.max_memory)
        with threadpool_limits(threads, "blas"):
            self.weights_ = ease_weights(X, l2).astype(np.float32)
        self.train_matrix_ = X
        self.binary_ = bool(data.explicit)
        return self

    def _score_block(self, user_idx):
        with threadpool_limits(self._threads(), "blas"):
            return np.asarray(self.train_matrix_[user_idx] @ self.weights_, dtype=np.float32)

    def score_history(self, history) -> np.ndarray:
        """Scores of all items for users given by their histories (fold-in, no refit).

        Parameters
        ----------
        history : (n, n_items) sparse or dense matrix
            Over the model's items (ratings are read as 0/1 when the model was trained on explicit
            data, weights as weights otherwise).

        Returns
        -------
        ndarray
            Dense (n, n_items) float32 scores.
        """
        h = self._history_csr(history, self.binary_)
        with threadpool_limits(self._threads(), "blas"):
            return np.asarray(h @ self.weights_, dtype=np.float32)

    def _item_vectors(self):
        # Column j of B says how item j is predicted from the others: items predicted from the
        # same items are similar.
        return np.ascontiguousarray(self.weights_.T)
