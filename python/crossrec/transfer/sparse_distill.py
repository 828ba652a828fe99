"""A sparse item-to-item student distilled from a (cross-domain) teacher: ``SparseDistill``.

The student scores a user by summing, over the items of the user's history, sparse rows of a
learnt item-to-item weight matrix ``W``:

    s(u, j) = sum_{i in history(u)} W[i, j]

where the history is the user's target interactions and, when the pair shares users, their
source interactions too (weighted by ``source_weight``): a user cold in the target is served from
the source history alone, so the source domain's knowledge reaches cold users through ``W``.

``W`` is learnt to reproduce the teacher's per-user standardised scores ``Z`` (the targets of
:func:`crossrec.transfer.distill.teacher_knowledge`) by ridge regression, then sparsified:

1. dense ridge ``W* = argmin ||X W - Z||^2 + lambda ||W||^2`` with X the users x history-items
   matrix. Z is never formed: for a factor teacher it is exactly ``A B'`` (width F + 2,
   :func:`teacher_score_factors`); for any other teacher it is replaced by its rank-``rank``
   randomised SVD computed from dense score blocks. So ``W* = M B'`` with
   ``(X'X + lambda I) M = X'A`` solved by block conjugate gradients (X'X is never formed either);
2. each row of ``W*`` keeps its ``k`` largest weights (the target items that history item
   promotes most);

Why another family: a low-rank student of the teacher's own kind cannot keep the teacher's ranking
at a quarter of its serving cost (the best rank-64 approximation of a 128-factor ALS teacher keeps
about 80 % of its NDCG@10 on the Amazon pairs). A user's history is short, so the student touches
``sum_i nnz(W[i])`` weights to score a user (``serving_cost_``), against ``F x n_items``
multiply-adds for a factor teacher, and it ranks only the items its history reaches (the rest are
ordered by popularity, after them).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

from .._memory import check_allocation
from .._validation import as_index_array, check_float, check_n_threads, check_positive_int, check_seed
from ..data import Interactions
from ..models.base import Recommender
from ..models.knn import neighbourhood_topn
from ..schema import Array, Csr, Model, Scalar
from .base import TransferRecommender
from .distill import fitted_teacher, teacher_score_factors
from .domains import CrossDomain

_BLOCK_BYTES = 1 << 27  # dense row blocks of W* (and of teacher scores) up to 128 MiB


def student_history(pair: CrossDomain | Interactions, source_weight: float) -> tuple[sp.csr_matrix, int]:
    """The users x history-items matrix X of the student and how many of its columns are source items.

    A pair sharing users gives ``[source_weight * source | target]`` (binary interactions, rows
    aligned on the target's users); target Interactions, or a pair sharing items (whose source users
    are other people), give the target alone."""
    target = pair.target if isinstance(pair, CrossDomain) else pair
    t = target.matrix
    t = sp.csr_matrix((np.ones(t.nnz, np.float32), t.indices, t.indptr), shape=t.shape)
    if isinstance(pair, CrossDomain) and pair.shared == "users" and source_weight > 0:
        s = pair.source.matrix
        s = sp.csr_matrix((np.full(s.nnz, source_weight, np.float32), s.indices, s.indptr), shape=s.shape)
        x = sp.hstack([s, t], format="csr", dtype=np.float32)
        n_source = s.shape[1]
    else:
        x, n_source = t, 0
    x.sort_indices()
    return x, n_source


def _block_cg(x: sp.csr_matrix, lam: float, rhs: np.ndarray, iterations: int, tol: float = 1e-6) -> np.ndarray:
    """Solve ``(X'X + lam I) M = rhs`` column by column by conjugate gradients, all columns at once
    (Jacobi preconditioner; X'X only applied as X'(X v), never formed)."""
    xt = x.T.tocsr()
    diag = np.asarray(x.multiply(x).sum(axis=0)).ravel() + lam
    inv = 1.0 / diag[:, None]

    def apply(v):
        return xt @ (x @ v) + lam * v

    m = rhs * inv  # the Jacobi solution: a good start for ridge systems with a diagonal-heavy X'X
    r = rhs - apply(m)
    z = r * inv
    p = z.copy()
    rz = np.einsum("ij,ij->j", r, z)
    norm0 = np.sqrt(np.einsum("ij,ij->j", rhs, rhs)) + 1e-300
    for _ in range(iterations):
        if np.all(np.sqrt(np.einsum("ij,ij->j", r, r)) <= tol * norm0):
            break
        q = apply(p)
        step = rz / np.maximum(np.einsum("ij,ij->j", p, q), 1e-300)
        m += p * step
        r -= q * step
        z = r * inv
        rz_new = np.einsum("ij,ij->j", r, z)
        p = z + p * (rz_new / np.maximum(rz, 1e-300))
        rz = rz_new
    return m


def _randomized_score_factors(
    teacher: Recommender, user_ids, item_ids, rank: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``Z ~ A B'``: a rank-``rank`` randomised SVD (two passes over dense score blocks) of the
    per-user standardised scores of a teacher without factors (users/items it does not know: 0)."""
    n_users, n_items = len(user_ids), len(item_ids)
    t_users = teacher.user_map_.lookup(user_ids, missing="ignore")
    t_items = teacher.item_map_.lookup(item_ids, missing="ignore")
    known_u, known_i = np.flatnonzero(t_users >= 0), np.flatnonzero(t_items >= 0)
    rng = np.random.default_rng(seed)
    width = min(rank + 10, max(1, len(known_i)))
    omega = rng.standard_normal((len(known_i), width))
    step = max(1, _BLOCK_BYTES // (8 * max(1, teacher.n_items_)))

    def z_blocks():
        for s in range(0, len(known_u), step):
            rows = np.ascontiguousarray(t_users[known_u[s : s + step]], np.int32)
            block = np.asarray(teacher.score_indices(rows), np.float64)[:, t_items[known_i]]
            block -= block.mean(axis=1, keepdims=True)
            std = block.std(axis=1, keepdims=True)
            yield s, block / np.where(std > 1e-12, std, 1.0)

    y = np.zeros((len(known_u), width))
    for s, z in z_blocks():
        y[s : s + len(z)] = z @ omega
    q, _ = np.linalg.qr(y)
    bt = np.zeros((width, len(known_i)))  # B' = Q' Z
    for s, z in z_blocks():
        bt += q[s : s + len(z)].T @ z
    a = np.zeros((n_users, width))
    b = np.zeros((n_items, width))
    a[known_u] = q
    b[known_i] = bt.T
    return a, b


def sparse_student_weights(
    x: sp.csr_matrix,
    a: np.ndarray,
    b: np.ndarray,
    k: int,
    regularization: float,
    *,
    cg_iterations: int = 50,
) -> sp.csr_matrix:
    """The sparse weights W (history items x target items, ``k`` per row at most) of the student
    ``X W ~ A B'`` (see the module docstring). Returns float32 CSR with sorted indices."""
    n_feat, n_items = x.shape[1], b.shape[0]
    k = min(k, n_items)
    check_allocation(
        8.0 * n_feat * (a.shape[1] * 4 + k * 2), f"SparseDistill weights ({n_feat} history items x {k} kept)", "lower k"
    )
    m = _block_cg(x, regularization, np.asarray(x.T @ a), cg_iterations)
    used = np.flatnonzero(np.diff(x.tocsc().indptr) > 0)  # history items nobody has: empty rows
    cols = np.empty((len(used), k), np.int64)
    vals = np.empty((len(used), k), np.float32)
    # float32 products: W* has n_history_items x n_items entries (the fit's dominant cost); the
    # selection only needs each row's order, which float32 keeps but for near-ties
    m32 = m.astype(np.float32)
    bt = np.ascontiguousarray(b.T, np.float32)
    step = max(1, _BLOCK_BYTES // (4 * max(1, n_items)))
    for s in range(0, len(used), step):
        block = m32[used[s : s + step]] @ bt
        if k < n_items:
            part = np.argpartition(-block, k - 1, axis=1)[:, :k]
        else:
            part = np.tile(np.arange(n_items), (len(block), 1))
        cols[s : s + step] = part
        vals[s : s + step] = np.take_along_axis(block, part, axis=1)
    rows = np.repeat(used, k)
    w = sp.csr_matrix((vals.ravel(), (rows, cols.ravel())), shape=(n_feat, n_items), dtype=np.float32)
    w.sort_indices()
    return w


def keep_largest(weights: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The ``k`` largest weights of each row of a CSR matrix (ties: the smaller column index), as
    float32 CSR with sorted indices. ``keep_largest(sparse_student_weights(.., K), k)`` equals
    ``sparse_student_weights(.., k)`` for k <= K (both keep the top of the same ridge rows)."""
    k = check_positive_int(k, "k")
    w = sp.csr_matrix(weights, dtype=np.float32)
    w.sort_indices()
    counts = np.diff(w.indptr)
    rows = np.repeat(np.arange(w.shape[0]), counts)
    # order within each row by (-value, column): lexsort's last key is the primary one
    order = np.lexsort((w.indices, -w.data, rows))
    rank = np.arange(w.nnz) - np.repeat(w.indptr[:-1], counts)
    keep = order[rank < k]
    out = sp.csr_matrix((w.data[keep], (rows[keep], w.indices[keep])), shape=w.shape, dtype=np.float32)
    out.sort_indices()
    return out


class SparseDistill(TransferRecommender):
    """A sparse item-to-item student distilled from a teacher (see the module docstring).

    Parameters
    ----------
    teacher : Recommender that scores the target items (a fitted transfer model, ALS, EASE, ...),
        matched by external user and item ids. Fitted: used as is; unfitted: a copy is fitted in
        ``fit`` (a transfer model on the pair, any other on the target) and kept as ``teacher_``.
    k : target items kept per history item (row of W). A user with h history items costs at most
        ``h * k`` multiply-adds to score. On the validation splits of Douban book->music and the
        Amazon phone->electronic and sport->phone pairs (``benchmarks/bench_distill_pareto.py``) the
        smallest k keeping 95 % of a 128-factor ALS teacher's NDCG@10 was 10, 2 and 10; the default
        20 leaves a margin.
    regularization : ridge weight lambda of the regression on the teacher's scores (validation chose
        1000 on two of those three pairs, 100 on phone->electronic, over 10 and 10000 on Douban).
    source_weight : weight of the source history against the target history (pairs sharing users;
        0 ignores the source: cold users are then served popularity).
    rank : width of the randomised SVD of a teacher without factors (factor teachers are exact).
    cg_iterations : conjugate-gradient iterations of the ridge solve.
    seed : seeds the randomised SVD. n_threads : 0 = all cores (serving).

    Attributes
    ----------
    history_ : users x history-items CSR (source items first, then target items).
    weights_ : history-items x target-items CSR, the student.
    n_source_items_ : how many history columns are source items.
    popularity_order_ : target items by training popularity (ties and unreached items).
    """

    item_sharing = "native"  # the student lives in the target's id space (like Distill)

    state_schema = {
        "history_": Csr(("users", "features")),
        "weights_": Csr(("features", "items")),
        "n_source_items_": Scalar(int, minimum=0),
        "popularity_order_": Array(("items",), "int32", index_of="items"),
        "teacher_": Model(optional=True),
    }

    def __init__(
        self,
        teacher: Recommender,
        k: int = 20,
        regularization: float = 1000.0,
        source_weight: float = 1.0,
        rank: int = 128,
        cg_iterations: int = 50,
        seed: int | None = 0,
        n_threads: int = 0,
    ):
        self.teacher = teacher
        self.k = k
        self.regularization = regularization
        self.source_weight = source_weight
        self.rank = rank
        self.cg_iterations = cg_iterations
        self.seed = seed
        self.n_threads = n_threads

    def validate_state(self) -> None:
        super().validate_state()
        if hasattr(self, "history_") and self.n_source_items_ > self.history_.shape[1]:
            raise ValueError(
                f"SparseDistill.n_source_items_ = {self.n_source_items_} exceeds the "
                f"{self.history_.shape[1]} history columns"
            )

    def _check_params(self) -> dict[str, Any]:
        if not isinstance(self.teacher, Recommender):
            raise ValueError(  # noqa: TRY004 (crossrec reports bad arguments as ValueError)
                f"teacher must be a crossrec Recommender, got {type(self.teacher).__name__}"
            )
        return {
            "k": check_positive_int(self.k, "k"),
            "regularization": check_float(self.regularization, "regularization", 0.0, strict_min=True),
            "source_weight": check_float(self.source_weight, "source_weight", 0.0),
            "rank": check_positive_int(self.rank, "rank"),
            "cg_iterations": check_positive_int(self.cg_iterations, "cg_iterations"),
            "seed": check_seed(self.seed),
            "n_threads": check_n_threads(self.n_threads),
        }

    def fit(self, pair: CrossDomain | Interactions) -> SparseDistill:
        """Learn W on a cross-domain pair (every target user, cold ones from their source history)
        or on target Interactions (target history only)."""
        p = self._check_params()
        target = pair.target if isinstance(pair, CrossDomain) else pair
        if not isinstance(target, Interactions):
            raise ValueError(  # noqa: TRY004
                f"SparseDistill.fit expects a CrossDomain pair or Interactions, got {type(pair).__name__}"
            )
        teacher = fitted_teacher(self, pair)
        m = self._start_fit(target)
        x, n_source = student_history(pair, p["source_weight"])
        low_rank = teacher_score_factors(teacher, self.user_map_.ids, self.item_map_.ids)
        if low_rank is None:
            low_rank = _randomized_score_factors(teacher, self.user_map_.ids, self.item_map_.ids, p["rank"], p["seed"])
        a, b = low_rank
        self.weights_ = sparse_student_weights(x, a, b, p["k"], p["regularization"], cg_iterations=p["cg_iterations"])
        self.history_ = x
        self.n_source_items_ = int(n_source)
        popularity = np.bincount(m.indices, minlength=m.shape[1])
        self.popularity_order_ = np.argsort(-popularity, kind="stable").astype(np.int32)
        return self

    # ---- serving ----------------------------------------------------------------------
    def _score_block(self, user_idx):
        return np.asarray((self.history_[user_idx] @ self.weights_).toarray(), np.float32)

    def recommend_indices(
        self,
        user_idx: np.ndarray,
        n: int = 10,
        exclude_seen: bool = True,
        candidates: Optional[np.ndarray] = None,
        exclude: Optional[sp.csr_matrix] = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n items of ``history @ W`` in C++ (sparse accumulation; items the history does not
        reach, and ties, ordered by popularity)."""
        self._check_fitted()
        n = check_positive_int(n, "n")
        candidates, n = self._candidates_and_width(candidates, n)
        user_idx = as_index_array(user_idx, "user_idx", self.n_users_)
        if exclude is None and exclude_seen:
            exclude = self.seen_
        items, scores, _ = neighbourhood_topn(
            self.history_,
            self.weights_,
            user_idx,
            self.n_items_,
            self.popularity_order_,
            n,
            exclude,
            candidates,
            self._threads(),
        )
        return items, scores

    def pruned(self, k: int) -> SparseDistill:
        """A smaller student: a copy keeping the ``k`` largest weights of each row of W (k <= the
        fitted ``k``). Equal to fitting with ``k`` (the rows are truncations of the same ridge
        solution), without refitting: one fit with a large k gives the whole size/quality curve."""
        self._check_fitted()
        k = check_positive_int(k, "k")
        if k > self.k:
            raise ValueError(f"k = {k} exceeds the fitted k = {self.k}; pruning can only remove weights")
        out = type(self)(**self.get_params())
        out.k = k
        out.__dict__.update({n: v for n, v in self.__dict__.items() if n.endswith("_") and not n.startswith("_")})
        out.weights_ = keep_largest(self.weights_, k)
        return out

    # ---- size -------------------------------------------------------------------------
    @property
    def n_parameters_(self) -> int:
        """Learnt numbers the student serves with: the kept weights of W."""
        self._check_fitted()
        return int(self.weights_.nnz)

    @property
    def serving_cost_(self) -> np.ndarray:
        """Per user, the multiply-adds that score them: ``sum_{i in history(u)} nnz(W[i])``."""
        self._check_fitted()
        per_row = np.diff(self.weights_.indptr).astype(np.int64)
        h = self.history_
        return np.bincount(
            np.repeat(np.arange(h.shape[0]), np.diff(h.indptr)), weights=per_row[h.indices], minlength=h.shape[0]
        ).astype(np.int64)
