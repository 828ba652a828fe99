"""Mult-DAE: the denoising autoencoder with a multinomial likelihood (Liang, Krishnan, Hoffman and
Jebara, "Variational Autoencoders for Collaborative Filtering", WWW 2018, section 2.3).

For a user's interaction row x (n_items counts or 0/1):

    x~ = dropout(x / ||x||_2, p)         corruption: each interaction kept with prob 1 - p, kept
                                         entries scaled by 1 / (1 - p)
    h  = tanh(x~ W1 + b1)                 hidden layer (``hidden`` units)
    z  = h W2 + b2                        logits over all items
    loss = -sum_i x_i log softmax(z)_i    multinomial log-likelihood, averaged over the batch
           + l2 (||W1||^2 + ||W2||^2)     weight decay as in the authors' code

trained with Adam. Scoring a user is one forward pass without corruption, so a user unseen in
training is scored from any history (:meth:`DenoisingAutoencoder.score_history`).

Why numpy and not a C++ kernel: the input layer and its gradient are sparse x dense products
(scipy's compiled loops, O(nnz * hidden), touching only the encoder rows of items in the batch), and
the output layer and its gradients are dense batch x hidden x n_items GEMMs that BLAS runs near peak
with the GIL released. Profiled on MovieLens 100K (batch 256, one thread), a step spends ~64 % in the
three dense GEMMs, ~15 % in the softmax and ~21 % in the two sparse products, so a hand-written
kernel could at best shave part of that last fifth.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .. import progress
from .._memory import check_allocation
from .._validation import check_float, check_n_threads, check_positive_int, check_seed
from ..data import Interactions
from ..errors import FitError
from ..progress import wants_progress
from ..schema import Array, Csr, Scalar
from .base import Recommender
from .ease import training_matrix


def normalize_rows(X: sp.csr_matrix) -> sp.csr_matrix:
    """Rows divided by their L2 norm (empty rows stay empty)."""
    X = sp.csr_matrix(X, copy=True)
    sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
    norms = np.sqrt(sq)
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    X.data = X.data * np.repeat(scale, np.diff(X.indptr)).astype(X.dtype)
    return X


def corrupt(X: sp.csr_matrix, dropout: float, rng: np.random.Generator) -> sp.csr_matrix:
    """Inverted dropout on the stored entries: keep each with prob 1 - dropout, scale by 1/(1 - dropout)."""
    if dropout <= 0.0:
        return X
    keep = rng.random(X.nnz) >= dropout
    out = sp.csr_matrix((X.data * keep / (1.0 - dropout), X.indices, X.indptr), shape=X.shape)
    out.data = out.data.astype(X.dtype, copy=False)
    return out


# The dense products over the items are computed in fixed blocks of items, each by single-threaded
# BLAS, the blocks spread over n_threads Python threads (numpy releases the GIL). The partition never
# depends on the thread count and partial sums are added in block order, so a fit is bit-identical on
# any number of threads (multithreaded BLAS splits its work by thread count and was not: 5.7e-7).
ITEM_BLOCK = 2048


class BlockRunner:
    """Runs fn(block) for the fixed item blocks of n_items columns, on n_threads threads."""

    def __init__(self, n_items: int, n_threads: int = 1):
        self.blocks = [slice(s, min(s + ITEM_BLOCK, n_items)) for s in range(0, n_items, ITEM_BLOCK)]
        workers = min(n_threads, len(self.blocks))
        self._pool = ThreadPoolExecutor(workers) if workers > 1 else None

    def map(self, fn) -> list:
        if self._pool is None:
            return [fn(b) for b in self.blocks]
        return list(self._pool.map(fn, self.blocks))

    def __enter__(self) -> "BlockRunner":
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def matmul_items(self, h: np.ndarray, W2: np.ndarray) -> np.ndarray:
        """h @ W2 (W2: hidden x n_items), column block by column block."""
        out = np.empty((h.shape[0], W2.shape[1]), dtype=np.result_type(h, W2))

        def one(b):
            np.matmul(h, W2[:, b], out=out[:, b])

        self.map(one)
        return out


def dae_loss_and_grads(
    params: list[np.ndarray],
    X_in: sp.csr_matrix,
    X_target: sp.csr_matrix,
    l2: float,
    with_grads: bool = True,
    runner: Optional[BlockRunner] = None,
):
    """Loss of one batch and its gradients with respect to params = [W1, b1, W2, b2].

    X_in: the (corrupted, normalised) input rows; X_target: the rows whose multinomial likelihood
    is maximised. Computations run in the dtype of the parameters (float64 for gradient checks).
    runner: the item-block runner (default: one thread); results do not depend on its threads.
    """
    W1, b1, W2, b2 = params
    n = X_in.shape[0]
    runner = runner or BlockRunner(W2.shape[1])
    a = np.asarray(X_in @ W1) + b1
    h = np.tanh(a)
    z = runner.matmul_items(h, W2)
    z += b2
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)  # z now holds exp(z - max)
    sum_e = z.sum(axis=1, keepdims=True)
    T = sp.csr_matrix(X_target)
    rows = np.repeat(np.arange(n), np.diff(T.indptr))
    # log softmax at the target entries only: log(e_ti / sum_e_t)
    log_p = np.log(z[rows, T.indices]) - np.log(sum_e[rows, 0])
    loss = -float(np.dot(T.data, log_p)) / n + l2 * (float(np.sum(W1 * W1)) + float(np.sum(W2 * W2)))
    if not with_grads:
        return loss, None
    t_sum = np.asarray(T.sum(axis=1)).reshape(-1, 1)
    dz = z  # reuse the buffer: softmax * (sum of targets) - target, averaged over the batch
    dz *= (t_sum / sum_e) / n
    dz[rows, T.indices] -= T.data / n  # CSR rows hold each item once
    dW2 = np.empty_like(W2)

    def grad_block(b):
        np.matmul(h.T, dz[:, b], out=dW2[:, b])
        return dz[:, b] @ W2[:, b].T  # this block's share of dh

    parts = runner.map(grad_block)
    dh = parts[0]
    for p in parts[1:]:  # in block order, whatever thread computed each
        dh += p
    dW2 += 2 * l2 * W2
    db2 = dz.sum(axis=0)
    da = dh * (1.0 - h * h)
    dW1 = np.asarray(X_in.T @ da)
    dW1 += 2 * l2 * W1
    db1 = da.sum(axis=0)
    return loss, [dW1, db1, dW2, db2]


class _Adam:
    """Adam (Kingma and Ba 2015) over a list of arrays, updated in place."""

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        c1 = 1.0 - self.beta1**self.t
        c2 = 1.0 - self.beta2**self.t
        step = self.lr * np.sqrt(c2) / c1
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * (g * g)
            p -= step * m / (np.sqrt(v) + self.eps)


class DenoisingAutoencoder(Recommender):
    """Mult-DAE (Liang et al. 2018): a one-hidden-layer denoising autoencoder of user histories.

    Parameters
    ----------
    hidden : int
        Units of the tanh hidden layer (the paper's [I -> 200 -> I]).
    dropout : float in [0, 1)
        Share of each user's (normalised) history dropped from the input during training.
    epochs : int
        Passes over the users.
    batch_size : int
        Users per Adam step.
    learning_rate : float
        Adam step size. The defaults (100 epochs at 3e-3, batch 256) were chosen on a validation
        split of MovieLens 100K; the paper used 200 epochs at 1e-3 (same accuracy there, twice the time).
    l2 : float
        Weight decay lambda on W1 and W2 (added as ``l2 * ||W||^2`` to the batch-mean loss).
    seed : int or None
        Seeds initialisation, shuffling and corruption; a seed gives the same model every time.
    progress : bool
        tqdm progress bar over epochs (``show_progress``: its deprecated name).
    n_threads : int
        BLAS threads (0 = all cores).

    Attributes
    ----------
    W1_, b1_, W2_, b2_ : float32 arrays
        Encoder (n_items x hidden) and decoder (hidden x n_items) weights and biases.
    loss_history_ : (epochs,) array
        Mean training loss of each epoch.

    Notes
    -----
    Explicit ratings are used as binary interactions, implicit weights as counts.
    """

    state_schema = {
        "W1_": Array(("items", "hidden"), "float32"),
        "b1_": Array(("hidden",), "float32"),
        "W2_": Array(("hidden", "items"), "float32"),
        "b2_": Array(("items",), "float32"),
        "loss_history_": Array((None,), "float64"),
        "train_matrix_": Csr(("users", "items")),
        "binary_": Scalar(bool),
    }

    def __init__(
        self,
        hidden: int = 200,
        dropout: float = 0.5,
        epochs: int = 100,
        batch_size: int = 256,
        learning_rate: float = 3e-3,
        l2: float = 0.01,
        seed: Optional[int] = 0,
        progress: bool = False,
        show_progress: Optional[bool] = None,
        n_threads: int = 0,
    ):
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.l2 = l2
        self.seed = seed
        self.progress = progress
        self.show_progress = show_progress
        self.n_threads = n_threads

    def fit(self, data: Interactions) -> "DenoisingAutoencoder":
        self._start_fit(data)
        hidden = check_positive_int(self.hidden, "hidden")
        dropout = check_float(self.dropout, "dropout", 0.0, 1.0)
        if dropout >= 1.0:
            raise ValueError(f"dropout must be < 1 (the share of each history dropped), got {self.dropout!r}")
        epochs = check_positive_int(self.epochs, "epochs")
        batch = check_positive_int(self.batch_size, "batch_size")
        lr = check_float(self.learning_rate, "learning_rate", 0.0, strict_min=True)
        l2 = check_float(self.l2, "l2", 0.0)
        seed = check_seed(self.seed)
        threads = check_n_threads(self.n_threads)

        X = training_matrix(data)
        # W1, W2, their gradients and Adam's two moments (8 x items x hidden floats), plus the batch's
        # dense logits, softmax and gradient (3 x batch x items)
        n_items = X.shape[1]
        check_allocation(
            4.0 * n_items * (8 * hidden + 3 * min(batch, X.shape[0] or 1)),
            f"DenoisingAutoencoder ({n_items} items x {hidden} hidden units, batch {batch})",
            "lower hidden or batch_size, or drop rare items",
        )
        X_in = normalize_rows(X)
        active = np.flatnonzero(np.diff(X.indptr) > 0)  # empty users carry no signal
        rng = np.random.default_rng([seed, 0])
        params = [
            _glorot(rng, n_items, hidden),
            rng.normal(0, 1e-3, hidden).astype(np.float32),
            _glorot(rng, hidden, n_items),
            rng.normal(0, 1e-3, n_items).astype(np.float32),
        ]
        opt = _Adam(params, lr)
        history = np.empty(epochs)
        show = wants_progress(self)
        bar = progress.bar(show, epochs, "Mult-DAE", "epoch")
        # BLAS single-threaded: the runner spreads item blocks over threads instead.
        with BlockRunner(n_items, threads) as runner, threadpool_limits(1, "blas"):
            for epoch in range(epochs):
                erng = np.random.default_rng([seed, 1, epoch])  # one stream per epoch
                order = erng.permutation(active)
                total = 0.0
                for start in range(0, len(order), batch):
                    rows = np.sort(order[start : start + batch])
                    xin = corrupt(X_in[rows], dropout, erng)
                    loss, grads = dae_loss_and_grads(params, xin, X[rows], l2, runner=runner)
                    opt.step(params, grads)
                    total += loss * len(rows)
                history[epoch] = total / max(len(order), 1)
                if not np.isfinite(history[epoch]):
                    raise FitError(
                        f"DenoisingAutoencoder: loss became {history[epoch]} at epoch {epoch}; lower learning_rate"
                    )
                bar.update(1)
                if show:
                    bar.set_postfix(loss=f"{history[epoch]:.4f}")
        bar.close()
        self.W1_, self.b1_, self.W2_, self.b2_ = params
        self.loss_history_ = history
        self.train_matrix_ = X
        self.binary_ = bool(data.explicit)
        return self

    def _forward(self, X_rows: sp.csr_matrix) -> np.ndarray:
        with BlockRunner(self.W2_.shape[1], self._threads()) as runner, threadpool_limits(1, "blas"):
            h = np.tanh(np.asarray(normalize_rows(X_rows) @ self.W1_) + self.b1_)
            z = runner.matmul_items(h, self.W2_)
            z += self.b2_
        return z.astype(np.float32, copy=False)

    def _score_block(self, user_idx):
        # Logits rank items exactly as the softmax does.
        return self._forward(self.train_matrix_[user_idx])

    def score_history(self, history) -> np.ndarray:
        """Scores (logits) of all items for users given by their histories (fold-in, no refit).

        history : (n, n_items) sparse or dense matrix over the model's items (ratings are read as
            0/1 when the model was trained on explicit data, weights as weights otherwise).
        """
        h = self._history_csr(history, self.binary_)
        return self._forward(h)

    def _item_vectors(self):
        return np.ascontiguousarray(self.W2_.T)


def _glorot(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)
