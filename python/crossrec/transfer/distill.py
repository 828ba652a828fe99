"""Cross-domain knowledge distillation: a small target-domain factor model (the student) learns
from the target interactions and from a source-informed teacher's top-K scores.

The student scores ``s(u, i) = P[u] . Q[i] + b[i]``. Each epoch (one C++ call) minimises, per user,

    (1 - alpha) * ground truth  +  alpha * distillation  +  L2,

where the ground truth is BPR on the user's target interactions (implicit data) or squared error
on their ratings, and the distillation loss compares the student with the teacher on a candidate
set drawn from the teacher's top-K list (``n_samples`` items) plus ``n_negatives`` random items:

* ``"pointwise"``: squared error to the teacher's standardised scores divided by the temperature;
* ``"ranking"`` (Tang & Wang, KDD 2018): binary cross-entropy with the teacher's top-K items as
  positives, weighted by ``K * softmax(teacher score / T)`` (decaying with teacher rank), and the
  random items as negatives;
* ``"listwise"``: ``|C| T^2 KL(softmax(teacher / T) || softmax(student / T))`` over the candidate
  set C (the factor |C| gives each candidate a gradient of the other losses' size).

Users without target interactions (cold users) learn from the teacher alone, so the student can
serve them: the knowledge of the source domain reaches it only through the teacher's scores.

With a factor teacher the student starts by default from the best rank-f approximation of the
teacher's standardised score matrix (``init="teacher_svd"``, :func:`teacher_svd`: exact, computed
from the factors without a users x items matrix) and the epochs fine-tune it with a small step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .. import _core
from .._validation import (
    as_csr,
    check_choice,
    check_float,
    check_n_threads,
    check_positive_int,
    check_seed,
    csr_parts,
)
from ..data import Interactions
from ..errors import FitError, NotFittedError
from ..models.base import Recommender
from ..models.protocol import check_is_fitted
from ..progress import bar as progress_bar
from .base import TransferRecommender
from .domains import CrossDomain
from ..schema import Array, Model, Scalar

LOSSES = ("pointwise", "ranking", "listwise")
INITS = ("auto", "teacher_svd", "random")
GROUND_TRUTHS = ("auto", "bpr", "squared")
_MOMENT_BLOCK_BYTES = 1 << 27  # dense teacher score block when the teacher has no factors


# ---- low-level steps -------------------------------------------------------------------------
def teacher_knowledge(
    teacher: Recommender, user_ids, item_ids, top_k: int, n_threads: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The teacher's top-K items and standardised scores for the given users, in the given item space.

    Parameters
    ----------
    teacher : fitted Recommender. Users and items are matched by external id; users it does not
        know get an empty row, items it does not know are never recommended.
    user_ids, item_ids : external ids of the student's users and items (row i / column j).
    top_k : length K of each list (capped at the number of shared items).

    Returns
    -------
    items : (n_users, K) int32 indices into ``item_ids``, best first, -1 for an empty row.
    scores : (n_users, K) float32 z-scores: (score - mean_u) / std_u, with the mean and standard
        deviation of the teacher's scores of user u over all shared items. Standardising makes the
        targets independent of the teacher's score scale (ALS, kNN and BPR scores differ widely).
    rest : (n_users,) float32, the mean z-score of the items outside the top-K list,
        ``-sum(top-K z) / (n_items - K)`` (the z-scores of all items sum to zero): the target the
        kernel gives to sampled items the teacher did not list.

    The lists do not exclude the items a user has seen in training (``exclude_seen=False``): the
    teacher's high scores for them agree with the ground truth, and excluding them would make the
    distillation targets contradict the ground-truth loss on exactly those items.
    """
    check_is_fitted(teacher)
    top_k = check_positive_int(top_k, "top_k")
    n_users = len(user_ids)
    t_users = teacher.user_map_.lookup(user_ids, missing="ignore")
    t_items = teacher.item_map_.lookup(item_ids, missing="ignore")
    shared = np.flatnonzero(t_items >= 0)  # student item indices the teacher can score
    cand = np.ascontiguousarray(t_items[shared], np.int32)
    k = min(top_k, len(cand))
    items = np.full((n_users, max(k, 1)), -1, np.int32)
    scores = np.zeros((n_users, max(k, 1)), np.float32)
    rest = np.zeros(n_users, np.float32)
    known = np.flatnonzero(t_users >= 0)
    if k == 0 or len(known) == 0:
        return items, scores, rest
    tu = np.ascontiguousarray(t_users[known], np.int32)
    all_items = len(cand) == teacher.n_items_ and np.array_equal(cand, np.arange(teacher.n_items_))
    top, top_s = teacher.recommend_indices(tu, n=k, exclude_seen=False, candidates=None if all_items else cand)
    mean, std = _teacher_moments(teacher, tu, cand, n_threads)
    z = (top_s.astype(np.float64) - mean[:, None]) / std[:, None]
    valid = top >= 0
    z[~valid] = 0.0
    to_student = np.full(teacher.n_items_, -1, np.int64)
    to_student[cand] = shared
    items[known] = np.where(valid, to_student[np.where(valid, top, 0)], -1)
    scores[known] = z
    n_rest = len(cand) - valid.sum(axis=1)
    rest[known] = np.where(n_rest > 0, -z.sum(axis=1) / np.maximum(n_rest, 1), 0.0)
    return items, scores, rest


def _teacher_moments(
    teacher: Recommender, t_users: np.ndarray, cand: np.ndarray, n_threads: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each user's teacher scores over the candidate items.

    Factor teachers in closed form (no users x items matrix): with s = U q + b,
    mean = U . sum(q) / n + mean(b) and E[s^2] = (U G U' + 2 U . Q'b + b'b) / n, G = Q'Q.
    Other teachers: their dense score blocks, a block of users at a time.
    """
    n = len(cand)
    f = teacher.scoring_factors(t_users)
    if f is not None:
        U, V, b = f
        U = np.asarray(U, np.float64)
        Vc = np.asarray(V, np.float64)[cand]
        bc = np.zeros(n) if b is None else np.asarray(b, np.float64)[cand]
        mean = (U @ Vc.sum(axis=0) + bc.sum()) / n
        second = (np.einsum("ij,jk,ik->i", U, Vc.T @ Vc, U) + 2 * U @ (Vc.T @ bc) + bc @ bc) / n
    else:
        mean = np.empty(len(t_users))
        second = np.empty(len(t_users))
        step = max(1, _MOMENT_BLOCK_BYTES // (8 * max(1, teacher.n_items_)))
        for s in range(0, len(t_users), step):
            block = np.asarray(teacher.score_indices(t_users[s : s + step]), np.float64)[:, cand]
            mean[s : s + step] = block.mean(axis=1)
            second[s : s + step] = (block * block).mean(axis=1)
    var = np.maximum(second - mean * mean, 0.0)
    # A user whose teacher scores are constant has no preference to teach: std 1 keeps z = 0.
    std = np.where(var > 1e-12 * np.maximum(1.0, mean * mean), np.sqrt(var), 1.0)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
        raise ValueError("teacher scores hold NaN or infinite values")
    return mean, std


def teacher_score_factors(
    teacher: Recommender, user_ids, item_ids, *, standardize: bool = True
) -> tuple[np.ndarray, np.ndarray] | None:
    """A factor teacher's score matrix (or its per-user z-scores) as an exact product ``A B'``.

    With the teacher's scores ``S = U V' + 1 b'`` restricted to the given users and items (users
    and items it does not know score 0), returns float64 ``A`` (n_users, F + 2) and ``B``
    (n_items, F + 2) with ``A B' = S`` or, with ``standardize``, ``A B' = Z``, the per-user
    z-scores of :func:`teacher_knowledge` (``(S - mean_u) / std_u`` over the shared items, 0 on the
    others): the columns are the F factors, the item bias and the mean column. None when the
    teacher has no factors (``scoring_factors`` returns None).
    """
    check_is_fitted(teacher)
    n_users, n_items = len(user_ids), len(item_ids)
    t_users = teacher.user_map_.lookup(user_ids, missing="ignore")
    t_items = teacher.item_map_.lookup(item_ids, missing="ignore")
    known_u, known_i = np.flatnonzero(t_users >= 0), np.flatnonzero(t_items >= 0)
    tu = np.ascontiguousarray(t_users[known_u], np.int32)
    ti = np.ascontiguousarray(t_items[known_i], np.int32)
    fac = teacher.scoring_factors(tu)
    if fac is None:
        return None
    U, V = np.asarray(fac[0], np.float64), np.asarray(fac[1], np.float64)
    b = None if fac[2] is None else np.asarray(fac[2], np.float64)
    F = U.shape[1]
    A = np.zeros((n_users, F + 2))
    B = np.zeros((n_items, F + 2))
    A[known_u, :F] = U
    A[known_u, F] = 1.0  # bias column
    B[known_i, :F] = V[ti]
    B[known_i, F] = 0.0 if b is None else b[ti]
    if standardize and len(tu) and len(ti):
        mean, std = _teacher_moments(teacher, tu, ti, 0)
        A[known_u, : F + 1] /= std[:, None]
        A[known_u, F + 1] = -mean / std  # the mean column: B holds 1 on the shared items
        B[known_i, F + 1] = 1.0
    return A, B


def teacher_svd(
    teacher: Recommender, user_ids, item_ids, factors: int, *, standardize: bool = True, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray] | None:
    """The best rank-``factors`` approximation of a factor teacher's score matrix, as student factors.

    With the teacher's scores ``S = U V' + 1 b'`` restricted to the given users and items (users
    and items it does not know score 0), and ``Z`` either ``S`` or, with ``standardize``, the
    per-user z-scores of :func:`teacher_knowledge` (``(S - mean_u) / std_u`` over the shared items,
    0 on the others), this returns ``P`` (n_users, factors) and ``Q`` (n_items, factors), float32,
    such that ``P Q' = scale * Z_f``, ``Z_f`` the truncated SVD of ``Z`` (Eckart-Young: the best
    rank-f approximation in Frobenius norm), with ``sqrt(singular values)`` on each side.

    ``Z`` is never formed: it is ``A B'`` with A, B of width r = F + 2 (F teacher factors, plus
    the bias and mean columns), so QR of A and B and an SVD of the r x r core ``R_a R_b'`` cost
    O((n_users + n_items) r^2). Standardising gives every user the same weight in the
    approximation (NDCG weighs users equally; raw score scales differ by orders of magnitude) and
    makes the factors match the distillation targets (``scale = 1 / temperature``).
    Returns None when the teacher has no factors (``_factors`` is None).
    """
    factors = check_positive_int(factors, "factors")
    low_rank = teacher_score_factors(teacher, user_ids, item_ids, standardize=standardize)
    if low_rank is None:
        return None
    A, B = low_rank
    n_users, n_items = A.shape[0], B.shape[0]
    known_u = np.flatnonzero(np.abs(A).sum(axis=1) > 0)
    known_i = np.flatnonzero(np.abs(B).sum(axis=1) > 0)
    # all-zero columns (no bias, no centring) would make the QR factors arbitrary there
    used = (np.abs(A).sum(axis=0) > 0) & (np.abs(B).sum(axis=0) > 0)
    qa, ra = _orthogonal_factor(A[:, used])
    qb, rb = _orthogonal_factor(B[:, used])
    uc, sv, vct = np.linalg.svd(ra @ rb.T)
    # directions with (numerically) zero singular value carry no score: leave them empty
    k = min(factors, int(np.sum(sv > 1e-6 * max(sv[0], 1e-30))) if len(sv) else 0)
    root = np.sqrt(sv[:k] * float(scale))
    P = np.zeros((n_users, factors), np.float32)
    Q = np.zeros((n_items, factors), np.float32)
    P[:, :k] = (A[:, used] @ (qa @ uc[:, :k])) * root
    Q[:, :k] = (B[:, used] @ (qb @ vct[:k].T)) * root
    # users and items the teacher does not know score exactly 0 (not rounding noise of the QR)
    P[np.setdiff1d(np.arange(n_users), known_u)] = 0.0
    Q[np.setdiff1d(np.arange(n_items), known_i)] = 0.0
    return P, Q


def _orthogonal_factor(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``X = (X M) R`` with ``X M`` orthonormal columns, from the r x r Gram matrix: returns (M, R).

    Used instead of a QR of the tall matrix (one GEMM instead of Householder sweeps: 10 s -> 0.3 s
    for 40k x 130 on a loaded machine). X M spans X's column space; directions whose squared
    singular value is below 1e-12 of the largest are dropped (numerically null: no score there).
    """
    lam, W = np.linalg.eigh(X.T @ X)
    keep = lam > 1e-12 * max(lam.max(initial=0.0), 1e-300)
    root = np.sqrt(lam[keep])
    return W[:, keep] / root, (W[:, keep] * root).T


def rank_weights(teacher_items: np.ndarray, teacher_scores: np.ndarray, temperature: float) -> np.ndarray:
    """Ranking-distillation weights ``K_u * softmax(score / T)`` over each user's list (mean 1 per
    non-empty row, 0 on padding): they decay with the teacher's rank, faster for small T."""
    return _core.distill_rank_weights(
        teacher_items, teacher_scores, check_float(temperature, "temperature", 0.0, strict_min=True)
    )


def distill_epoch(
    train: sp.csr_matrix,
    teacher_items: np.ndarray,
    teacher_scores: np.ndarray,
    teacher_rest: np.ndarray,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    item_bias: np.ndarray | None = None,
    user_bias: np.ndarray | None = None,
    *,
    teacher_weights: np.ndarray | None = None,
    ground_truth: str = "bpr",
    loss: str = "ranking",
    alpha: float = 0.5,
    temperature: float = 2.0,
    learning_rate: float = 0.05,
    regularization: float = 0.01,
    global_mean: float = 0.0,
    n_samples: int = 16,
    n_negatives: int = 16,
    seed: int = 0,
    epoch: int = 0,
    n_threads: int = 0,
) -> None:
    """One SGD epoch of ground truth + ``alpha`` * distillation, updating the factor arrays in place.

    ``train`` is a users x items CSR (ratings for ``ground_truth="squared"``); the teacher arrays
    come from :func:`teacher_knowledge`; ``loss="none"`` or ``alpha=0`` gives a plain epoch of the
    student. The result depends on (seed, epoch) only, not on ``n_threads`` (0: all usable cores;
    the kernel uses no more threads than the work per round justifies). ``teacher_weights``:
    the ranking weights from :func:`rank_weights` (computed once per fit instead of every epoch).
    Factor arrays must be float32 and C-contiguous (they are updated in place, never copied).
    """
    train = as_csr(train, "train")
    indptr, indices, data = csr_parts(train)
    _core.distill_epoch(
        indptr,
        indices,
        data,
        teacher_items,
        teacher_scores,
        teacher_rest,
        teacher_weights,
        user_factors,
        item_factors,
        item_bias,
        user_bias,
        ground_truth,
        loss,
        alpha,
        temperature,
        learning_rate,
        regularization,
        global_mean,
        n_samples,
        n_negatives,
        seed,
        epoch,
        check_n_threads(n_threads),
    )


# ---- the estimator ---------------------------------------------------------------------------
def fitted_teacher(student, pair) -> Recommender:
    """``student.teacher`` as given when fitted; an unfitted teacher of any family is fitted here
    on a copy: a transfer model (CMF, CrossDomainKNN, ...) on the pair, a plain model (EASE,
    ItemKNN, ...) on the target. The copy is kept as ``student.teacher_``; ``teacher`` is left as
    it was. Shared by the distillation students (Distill, SparseDistill)."""
    student.__dict__.pop("teacher_", None)
    try:
        check_is_fitted(student.teacher)
        return student.teacher
    except NotFittedError:
        pass
    copy = type(student.teacher)(**student.teacher.get_params())
    if isinstance(copy, TransferRecommender):
        if not isinstance(pair, CrossDomain):
            raise ValueError(
                f"an unfitted cross-domain teacher ({type(copy).__name__}) needs the CrossDomain pair to fit on"
            )
        copy.fit(pair)
    else:
        copy.fit(pair.target if isinstance(pair, CrossDomain) else pair)
    student.teacher_ = copy
    return copy


class Distill(TransferRecommender):
    """A small factor model distilled from a (cross-domain) teacher.

    Parameters
    ----------
    teacher : Recommender of any family that scores the target items: a fine-tuned, collective or
        mapped factor model, a cross-domain kNN, rules or content model, EASE, an item kNN, ...
        Matched to the target data by external user and item ids. Fitted: used as is; unfitted: a
        copy is fitted in ``fit`` (a transfer model on the pair, any other on the target) and kept
        as ``teacher_``.
    student : unfitted factor model giving the student's size: its ``factors`` (and, unless set
        here, its ``regularization``). A ``BPR`` student (or implicit data) trains on the BPR loss,
        an ``MF`` student (or explicit data) on squared error; see ``ground_truth``.
    loss : "pointwise", "ranking" or "listwise" (see the module docstring).
    temperature : T > 0, softens the teacher's scores (larger = flatter targets and rank weights).
    alpha : weight of the distillation loss in [0, 1]; 0 trains the plain student. On validation
        splits of Douban and Amazon phone->electronic, from a random start 0.5 kept more of the
        teacher's NDCG than 0.8 or 0.95 (and the pointwise loss diverged at alpha >= 0.8 with
        learning rate 0.05: a ``FitError`` says so; lower the learning rate); from the teacher's
        SVD 0.8 with 60 epochs kept the most (ranking loss, learning rate 0.02).
    top_k : length of the teacher's list per user.
    epochs : number of SGD epochs.
    learning_rate : SGD step; None: the student's ``learning_rate`` (0.05 if it has none), at most
        0.02 for the listwise loss, whose softmax gradient (up to |C| T per candidate) diverged at
        0.05 on Douban and on the generated pairs. From the teacher's SVD (``init_``) the default
        is at most 0.02 (pointwise 0.01, listwise 0.005): fine-tuning with 0.05 moved the student
        away from the teacher (warm retention on the Douban validation split 85 % vs 94-99 % at
        0.01-0.02).
    n_samples : teacher items per user and epoch (drawn from the top-K list).
    n_negatives : random items per user and epoch outside the top-K list and the user's history.
    regularization : L2 weight; None takes the student's ``regularization`` (0.01 if it has none).
    ground_truth : "auto", "bpr" or "squared".
    init : "teacher_svd", "random" or "auto". "teacher_svd" starts the student from the best
        rank-``factors`` approximation of the teacher's standardised scores divided by the
        temperature (:func:`teacher_svd`; exact and cheap for factor teachers) and fine-tunes it
        with the epochs; "random" starts from Gaussian factors; "auto" (default) is "teacher_svd"
        when the teacher has factors (``_factors``) and alpha > 0, else "random" (so alpha = 0
        is exactly the plain student).
    init_std : standard deviation of the random initial factors (and of the columns the SVD
        cannot fill when ``factors`` exceeds the teacher's rank).
    seed, n_threads : a seed gives the same model on any thread count; 0 threads = all cores.
    progress : tqdm bar over epochs.

    Attributes
    ----------
    user_factors_, item_factors_ : float32 (n_users, factors), (n_items, factors).
    item_bias_ : float32 (n_items,).
    user_bias_, global_mean_ : rating offsets (zero for the BPR ground truth).
    ground_truth_ : the ground-truth loss used.
    init_ : the initialisation used ("teacher_svd" or "random").
    """

    # The student learns the target domain in the target's own id space from any fitted teacher of
    # that space, so a pair sharing items needs nothing special (no transposition).
    item_sharing = "native"

    state_schema = {
        "init_": Scalar(str, choices=("random", "teacher_svd")),
        "ground_truth_": Scalar(str, choices=("bpr", "squared")),
        "user_factors_": Array(("users", "factors"), "float32"),
        "item_factors_": Array(("items", "factors"), "float32"),
        "item_bias_": Array((("items", 0),), "float32"),
        "user_bias_": Array((("users", 0),), "float32"),
        "global_mean_": Scalar(float),
        # the copy fitted in fit when the teacher was given unfitted (any id space of its own)
        "teacher_": Model(optional=True),
    }

    def __init__(
        self,
        teacher: Recommender,
        student: Recommender,
        loss: str = "ranking",
        temperature: float = 2.0,
        alpha: float = 0.5,
        top_k: int = 50,
        epochs: int = 30,
        learning_rate: float | None = None,
        n_samples: int = 16,
        n_negatives: int = 16,
        regularization: float | None = None,
        ground_truth: str = "auto",
        init: str = "auto",
        init_std: float = 0.1,
        seed: int | None = 0,
        n_threads: int = 0,
        progress: bool = False,
    ):
        self.teacher = teacher
        self.student = student
        self.loss = loss
        self.temperature = temperature
        self.alpha = alpha
        self.top_k = top_k
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.n_samples = n_samples
        self.n_negatives = n_negatives
        self.regularization = regularization
        self.ground_truth = ground_truth
        self.init = init
        self.init_std = init_std
        self.seed = seed
        self.n_threads = n_threads
        self.progress = progress

    # ---- fitting ---------------------------------------------------------------------------
    def _check_params(self) -> dict[str, Any]:
        if not isinstance(self.teacher, Recommender):
            # ValueError, not TypeError: crossrec reports every bad argument as ValueError (errors.py)
            raise ValueError(  # noqa: TRY004
                f"teacher must be a fitted crossrec Recommender, got {type(self.teacher).__name__}"
            )
        factors = _student_param(self.student, "factors")
        if factors is None:
            raise ValueError(
                "student must be a factor model with a 'factors' hyper-parameter (e.g. cr.BPR(factors=16))"
            )
        reg = self.regularization if self.regularization is not None else _student_param(self.student, "regularization")
        return {
            "factors": check_positive_int(factors, "student factors"),
            "loss": check_choice(self.loss, "loss", LOSSES),
            "temperature": check_float(self.temperature, "temperature", 0.0, strict_min=True),
            "alpha": check_float(self.alpha, "alpha", 0.0, 1.0),
            "top_k": check_positive_int(self.top_k, "top_k"),
            "epochs": check_positive_int(self.epochs, "epochs"),
            "learning_rate": None
            if self.learning_rate is None
            else check_float(self.learning_rate, "learning_rate", 0.0, strict_min=True),
            "n_samples": check_positive_int(self.n_samples, "n_samples"),
            "n_negatives": check_positive_int(self.n_negatives, "n_negatives", minimum=0),
            "regularization": check_float(0.01 if reg is None else reg, "regularization", 0.0),
            "ground_truth": check_choice(self.ground_truth, "ground_truth", GROUND_TRUTHS),
            "init": check_choice(self.init, "init", INITS),
            "init_std": check_float(self.init_std, "init_std", 0.0),
            "seed": check_seed(self.seed),
            "n_threads": check_n_threads(self.n_threads),
        }

    def _fitted_teacher(self, pair) -> Recommender:
        return fitted_teacher(self, pair)

    def _default_lr(self, from_svd: bool) -> float:
        lr = _student_param(self.student, "learning_rate")
        lr = 0.05 if lr is None else float(lr)
        if from_svd:  # fine-tuning: small steps keep the student near the teacher's approximation
            return min(lr, {"listwise": 0.005, "pointwise": 0.01}.get(self.loss, 0.02))
        return min(lr, 0.02) if self.loss == "listwise" else lr

    def fit(self, pair: CrossDomain | Interactions) -> Distill:
        """Train the student on a cross-domain pair (its ``target`` domain) or on target Interactions.

        Every user of the target id space is taught, including users without target interactions
        whom the teacher knows (from the source domain).
        """
        p = self._check_params()
        target = getattr(pair, "target", pair)
        if not isinstance(target, Interactions):
            raise ValueError(  # noqa: TRY004 (crossrec reports bad arguments as ValueError)
                f"Distill.fit expects a CrossDomain pair or Interactions, got {type(pair).__name__}"
            )
        teacher = self._fitted_teacher(pair)
        m = self._start_fit(target)
        gt = p["ground_truth"] if p["ground_truth"] != "auto" else _auto_ground_truth(self.student, target)
        if gt == "bpr":
            train = sp.csr_matrix((np.ones(m.nnz, np.float32), m.indices, m.indptr), shape=m.shape)
        else:
            train = as_csr(m, "target ratings")
        t_items, t_scores, t_rest = teacher_knowledge(
            teacher, self.user_map_.ids, self.item_map_.ids, p["top_k"], p["n_threads"]
        )

        n_users, n_items, f = m.shape[0], m.shape[1], p["factors"]
        rng = np.random.default_rng(p["seed"])
        P = (rng.standard_normal((n_users, f)) * p["init_std"]).astype(np.float32)
        Q = (rng.standard_normal((n_items, f)) * p["init_std"]).astype(np.float32)
        self.init_ = "random"
        # alpha = 0 is the plain student: "auto" then ignores the teacher entirely.
        if p["init"] == "teacher_svd" or (p["init"] == "auto" and p["alpha"] > 0):
            svd = teacher_svd(teacher, self.user_map_.ids, self.item_map_.ids, f, scale=1.0 / p["temperature"])
            if svd is None and p["init"] == "teacher_svd":
                raise ValueError(
                    "init='teacher_svd' needs a factor teacher (its _factors returned None); "
                    "use init='random' or 'auto'"
                )
            if svd is not None:
                filled = np.abs(svd[0]).sum(axis=0) + np.abs(svd[1]).sum(axis=0) > 0
                P[:, filled], Q[:, filled] = svd[0][:, filled], svd[1][:, filled]
                self.init_ = "teacher_svd"
        if p["learning_rate"] is None:
            p["learning_rate"] = self._default_lr(self.init_ == "teacher_svd")
        b = np.zeros(n_items, np.float32)
        c = np.zeros(n_users, np.float32) if gt == "squared" else None
        mu = float(train.data.mean()) if gt == "squared" else 0.0
        weights = rank_weights(t_items, t_scores, p["temperature"]) if p["loss"] == "ranking" else None
        bar = progress_bar(bool(self.progress), p["epochs"], "Distill", "epoch")
        with threadpool_limits(1, "blas"):
            for epoch in range(p["epochs"]):
                bar.update(1)
                distill_epoch(
                    train,
                    t_items,
                    t_scores,
                    t_rest,
                    P,
                    Q,
                    b,
                    c,
                    teacher_weights=weights,
                    ground_truth=gt,
                    loss=p["loss"],
                    alpha=p["alpha"],
                    temperature=p["temperature"],
                    learning_rate=p["learning_rate"],
                    regularization=p["regularization"],
                    global_mean=mu,
                    n_samples=p["n_samples"],
                    n_negatives=p["n_negatives"],
                    seed=p["seed"],
                    epoch=epoch,
                    n_threads=p["n_threads"],
                )
                if not (np.isfinite(P).all() and np.isfinite(Q).all() and np.isfinite(b).all()):
                    raise FitError(
                        f"Distill diverged at epoch {epoch} (NaN or infinite factors); "
                        f"lower learning_rate (now {p['learning_rate']}) or alpha"
                    )
        bar.close()
        self.user_factors_, self.item_factors_, self.item_bias_ = P, Q, b
        self.user_bias_ = c if c is not None else np.zeros(n_users, np.float32)
        self.global_mean_ = mu
        self.ground_truth_ = gt
        return self

    # ---- scoring ---------------------------------------------------------------------------
    def _factors(self, user_idx):
        return self.user_factors_[user_idx], self.item_factors_, self.item_bias_

    def _predict_indices(self, user_idx, item_idx):
        if self.ground_truth_ != "squared":
            raise NotImplementedError(
                "this Distill student ranks items (BPR ground truth); "
                "it predicts ratings only with ground_truth='squared'"
            )
        dots = np.einsum("ij,ij->i", self.user_factors_[user_idx], self.item_factors_[item_idx])
        return self.global_mean_ + self.user_bias_[user_idx] + self.item_bias_[item_idx] + dots

    def _item_vectors(self):
        return self.item_factors_

    @property
    def n_parameters_(self) -> int:
        """Number of learned numbers the student serves with."""
        self._check_fitted()
        return int(
            self.user_factors_.size
            + self.item_factors_.size
            + self.item_bias_.size
            + (self.user_bias_.size if self.ground_truth_ == "squared" else 0)
        )


def _student_param(student: Any, name: str):
    if hasattr(student, "get_params"):
        value = student.get_params().get(name)
        if value is not None:
            return value
    return getattr(student, name, None)


def _auto_ground_truth(student: Any, target: Interactions) -> str:
    """BPR for implicit students (BPR, implicit ALS) or implicit data, squared error otherwise."""
    name = type(student).__name__
    if name == "BPR" or _student_param(student, "implicit") is True:
        return "bpr"
    if name == "MF" or _student_param(student, "implicit") is False:
        return "squared"
    return "squared" if target.explicit else "bpr"
