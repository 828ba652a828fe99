"""
crossrec native kernels (C++). Use the typed wrappers in crossrec.* instead.
"""

from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing

def als_explicit_step(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    Y: typing.Any,
    X: typing.Any,
    regularization: typing.SupportsFloat | typing.SupportsIndex,
    weights: typing.Any = None,
    weighted_lambda: bool = True,
    prior: typing.Any = None,
    prior_weight: typing.Any = None,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
) -> int:
    """
    Explicit ALS half-sweep (exact, Cholesky): updates X in place; returns the number of rows whose system was not positive definite.
    """

def als_implicit_step(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    Y: typing.Any,
    X: typing.Any,
    regularization: typing.SupportsFloat | typing.SupportsIndex,
    alpha: typing.SupportsFloat | typing.SupportsIndex = 1.0,
    solver: str = "cg",
    cg_steps: typing.SupportsInt | typing.SupportsIndex = 3,
    gram: typing.Any = None,
    prior: typing.Any = None,
    prior_weight: typing.Any = None,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    exact_short_rows: bool = True,
) -> int:
    """
    Implicit ALS half-sweep: updates X (float32, C-contiguous) in place; returns the number of rows whose system was not positive definite.
    """

def association_rules(
    offsets: typing.Any,
    items: typing.Any,
    support: typing.Any,
    metric: str = "confidence",
    min_threshold: typing.SupportsFloat | typing.SupportsIndex = 0.8,
    max_consequent: typing.SupportsInt | typing.SupportsIndex = 0,
    max_rules: typing.SupportsInt | typing.SupportsIndex = 9223372036854775807,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
) -> tuple[
    numpy.typing.NDArray[numpy.int64],
    numpy.typing.NDArray[numpy.uint64],
    numpy.typing.NDArray[numpy.float64],
    numpy.typing.NDArray[numpy.float64],
]:
    """
    Rules X -> Y of the itemsets passing metric >= min_threshold: (itemset index, antecedent position mask uint64, antecedent support, consequent support).
    """

def bpr_epoch(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    X: typing.Any,
    Y: typing.Any,
    item_bias: typing.Any = None,
    learning_rate: typing.SupportsFloat | typing.SupportsIndex = 0.009999999776482582,
    regularization: typing.SupportsFloat | typing.SupportsIndex = 0.009999999776482582,
    bias_regularization: typing.SupportsFloat | typing.SupportsIndex = 0.009999999776482582,
    epoch: typing.SupportsInt | typing.SupportsIndex = 0,
    seed: typing.SupportsInt | typing.SupportsIndex = 0,
    user_prior: typing.Any = None,
    user_prior_weight: typing.Any = None,
    item_prior: typing.Any = None,
    item_prior_weight: typing.Any = None,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
) -> tuple[int, float, int]:
    """
    One stratified BPR epoch; updates X, Y (and item_bias) in place; returns (samples, loss sum, correct).
    """

def coclustering_assign(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    item_indptr: typing.Any,
    item_indices: typing.Any,
    item_data: typing.Any,
    user_mean: typing.Any,
    item_mean: typing.Any,
    cltr_u: typing.Any,
    cltr_i: typing.Any,
    user_avg: typing.Any,
    item_avg: typing.Any,
    cocluster_avg: typing.Any,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    min_work: typing.SupportsFloat | typing.SupportsIndex = 30000000.0,
) -> int:
    """
    One co-clustering reassignment (users, then items); updates cltr_u and cltr_i in place and returns
    how many moved.
    """

def coclustering_averages(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    n_items: typing.SupportsInt | typing.SupportsIndex,
    cltr_u: typing.Any,
    cltr_i: typing.Any,
    n_cltr_u: typing.SupportsInt | typing.SupportsIndex,
    n_cltr_i: typing.SupportsInt | typing.SupportsIndex,
    global_mean: typing.SupportsFloat | typing.SupportsIndex,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    min_work: typing.SupportsFloat | typing.SupportsIndex = 30000000.0,
) -> tuple[
    numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]
]:
    """
    Mean ratings of user clusters, item clusters and co-clusters (global mean when empty).
    """

def distill_epoch(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    teacher_items: typing.Any,
    teacher_scores: typing.Any,
    teacher_rest: typing.Any,
    teacher_weights: typing.Any,
    user_factors: typing.Any,
    item_factors: typing.Any,
    item_bias: typing.Any = None,
    user_bias: typing.Any = None,
    ground_truth: str = "bpr",
    loss: str = "ranking",
    alpha: typing.SupportsFloat | typing.SupportsIndex = 0.5,
    temperature: typing.SupportsFloat | typing.SupportsIndex = 2.0,
    learning_rate: typing.SupportsFloat | typing.SupportsIndex = 0.05,
    regularization: typing.SupportsFloat | typing.SupportsIndex = 0.01,
    global_mean: typing.SupportsFloat | typing.SupportsIndex = 0.0,
    n_samples: typing.SupportsInt | typing.SupportsIndex = 16,
    n_negatives: typing.SupportsInt | typing.SupportsIndex = 16,
    seed: typing.SupportsInt | typing.SupportsIndex = 0,
    epoch: typing.SupportsInt | typing.SupportsIndex = 0,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
) -> None:
    """
    One SGD epoch of ground truth + alpha * distillation; updates the factor arrays in place.
    """

def distill_rank_weights(
    teacher_items: typing.Any, teacher_scores: typing.Any, temperature: typing.SupportsFloat | typing.SupportsIndex
) -> numpy.typing.NDArray[numpy.float32]:
    """
    Ranking weights K * softmax(score / T) over each row's items (zero on -1 padding).
    """

def distill_user_gradient(
    loss: str,
    p_u: typing.Any,
    item_factors: typing.Any,
    item_bias: typing.Any,
    teacher_items: typing.Any,
    teacher_scores: typing.Any,
    rest: typing.SupportsFloat | typing.SupportsIndex,
    positions: typing.Any,
    negatives: typing.Any,
    temperature: typing.SupportsFloat | typing.SupportsIndex = 2.0,
) -> tuple[
    float, numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.float32]
]:
    """
    Distillation loss of one user and its gradient w.r.t. p_u, the candidates' item rows and biases (tests).
    """

def encode_baskets(baskets: typing.Any) -> tuple:
    """
    (indptr int64, codes int32, ids) of a sequence of baskets of hashable ids; codes follow first appearance; ids is an int64 array when every id is an int, else a list.
    """

def frequent_itemsets(
    indptr: typing.Any,
    indices: typing.Any,
    n_items: typing.SupportsInt | typing.SupportsIndex,
    min_count: typing.SupportsInt | typing.SupportsIndex,
    max_len: typing.SupportsInt | typing.SupportsIndex = 0,
    max_itemsets: typing.SupportsInt | typing.SupportsIndex = 9223372036854775807,
    algorithm: str = "fpgrowth",
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int32], numpy.typing.NDArray[numpy.int64]]:
    """
    Frequent itemsets of a baskets x items CSR: (offsets int64, items int32 in mining order, counts int64). Raises ValueError past max_itemsets.
    """

def gram_matrix(
    Y: typing.Any, n_threads: typing.SupportsInt | typing.SupportsIndex = 0
) -> numpy.typing.NDArray[numpy.float32]:
    """
    Y^T Y as float32 (f x f), summed in double.
    """

def knn_predict_fixed(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    n_y: typing.SupportsInt | typing.SupportsIndex,
    nb_indptr: typing.Any,
    nb_indices: typing.Any,
    nb_data: typing.Any,
    qx: typing.Any,
    qy: typing.Any,
    centering: str = "none",
    k: typing.SupportsInt | typing.SupportsIndex = 40,
    min_k: typing.SupportsInt | typing.SupportsIndex = 1,
    global_mean: typing.SupportsFloat | typing.SupportsIndex = 0.0,
    x_mean: typing.Any = None,
    bx: typing.Any = None,
    by: typing.Any = None,
    clip: bool = False,
    lo: typing.SupportsFloat | typing.SupportsIndex = 0.0,
    hi: typing.SupportsFloat | typing.SupportsIndex = 0.0,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
) -> tuple[numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.int32]]:
    """
    Ratings for (qx, qy) pairs from the fixed neighbour lists `neighbors` restricted to raters of qy;
    returns (predictions, neighbours used).
    """

def knn_predict_rated(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    n_y: typing.SupportsInt | typing.SupportsIndex,
    sim_data: typing.Any,
    kind: str,
    shrink: typing.SupportsFloat | typing.SupportsIndex,
    min_support: typing.SupportsInt | typing.SupportsIndex,
    qx: typing.Any,
    qy: typing.Any,
    centering: str = "none",
    k: typing.SupportsInt | typing.SupportsIndex = 40,
    min_k: typing.SupportsInt | typing.SupportsIndex = 1,
    global_mean: typing.SupportsFloat | typing.SupportsIndex = 0.0,
    x_mean: typing.Any = None,
    bx: typing.Any = None,
    by: typing.Any = None,
    clip: bool = False,
    lo: typing.SupportsFloat | typing.SupportsIndex = 0.0,
    hi: typing.SupportsFloat | typing.SupportsIndex = 0.0,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
) -> tuple[numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.int32]]:
    """
    Ratings for (qx, qy) pairs from the k most similar x among those who rated qy (Surprise's rule);
    returns (predictions, neighbours used).
    """

def knn_recommend(
    a_indptr: typing.Any,
    a_indices: typing.Any,
    a_data: typing.Any,
    a_cols: typing.SupportsInt | typing.SupportsIndex,
    rows: typing.Any,
    b_indptr: typing.Any,
    b_indices: typing.Any,
    b_data: typing.Any,
    n_items: typing.SupportsInt | typing.SupportsIndex,
    tie_rank: typing.Any,
    fallback_order: typing.Any,
    n: typing.SupportsInt | typing.SupportsIndex = 10,
    exclude_indptr: typing.Any = None,
    exclude_indices: typing.Any = None,
    exclude_rows: typing.Any = None,
    allowed: typing.Any = None,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
) -> tuple[numpy.typing.NDArray[numpy.int32], numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.int32]]:
    """
    Top-n items by A[rows] @ B with ties (and unreached items, score 0) ordered by tie_rank;
    returns (items, scores, number of returned items reached by some entry).
    """

def knn_similarity_row(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    n_y: typing.SupportsInt | typing.SupportsIndex,
    sim_data: typing.Any,
    kind: str,
    shrink: typing.SupportsFloat | typing.SupportsIndex,
    min_support: typing.SupportsInt | typing.SupportsIndex,
    x: typing.SupportsInt | typing.SupportsIndex,
) -> tuple[numpy.typing.NDArray[numpy.int32], numpy.typing.NDArray[numpy.float64]]:
    """
    The similarity row of x as knn_predict_rated ranks it (double): (indices sorted, similarities).
    """

def max_threads() -> int:
    """
    Threads used when n_threads=0.
    """

def nmf_epochs(
    n_epochs: typing.SupportsInt | typing.SupportsIndex,
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    item_indptr: typing.Any,
    item_indices: typing.Any,
    item_data: typing.Any,
    item_pos: typing.Any,
    user_order: typing.Any,
    P: typing.Any,
    Q: typing.Any,
    user_bias: typing.Any = None,
    item_bias: typing.Any = None,
    global_mean: typing.SupportsFloat | typing.SupportsIndex = 0.0,
    reg_pu: typing.SupportsFloat | typing.SupportsIndex = 0.06,
    reg_qi: typing.SupportsFloat | typing.SupportsIndex = 0.06,
    reg_bu: typing.SupportsFloat | typing.SupportsIndex = 0.02,
    reg_bi: typing.SupportsFloat | typing.SupportsIndex = 0.02,
    lr_bu: typing.SupportsFloat | typing.SupportsIndex = 0.005,
    lr_bi: typing.SupportsFloat | typing.SupportsIndex = 0.005,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    min_work: typing.SupportsFloat | typing.SupportsIndex = 30000000.0,
) -> float:
    """
    n_epochs epochs of Surprise's NMF (multiplicative updates; SGD biases when given). Updates P, Q (and
    the biases) in place; returns the sum of squared errors of the last epoch.
    """

def rule_scores(
    basket_indptr: typing.Any,
    basket_indices: typing.Any,
    n_items: typing.SupportsInt | typing.SupportsIndex,
    rows: typing.Any,
    antecedent_indptr: typing.Any,
    antecedent_indices: typing.Any,
    consequent_indptr: typing.Any,
    consequent_indices: typing.Any,
    weights: typing.Any,
    sum_scores: bool = False,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
) -> numpy.typing.NDArray[numpy.float32]:
    """
    Scores (len(rows), n_items): max (or sum) of the weights of the rules each basket row triggers, per consequent item; -inf where none fires.
    """

def sgd_epoch(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    X: typing.Any,
    Y: typing.Any,
    user_bias: typing.Any = None,
    item_bias: typing.Any = None,
    global_mean: typing.SupportsFloat | typing.SupportsIndex = 0.0,
    learning_rate: typing.SupportsFloat | typing.SupportsIndex = 0.004999999888241291,
    regularization: typing.SupportsFloat | typing.SupportsIndex = 0.019999999552965164,
    bias_regularization: typing.SupportsFloat | typing.SupportsIndex = 0.019999999552965164,
    epoch: typing.SupportsInt | typing.SupportsIndex = 0,
    seed: typing.SupportsInt | typing.SupportsIndex = 0,
    weights: typing.Any = None,
    user_prior: typing.Any = None,
    user_prior_weight: typing.Any = None,
    item_prior: typing.Any = None,
    item_prior_weight: typing.Any = None,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    user_bias_prior: typing.Any = None,
) -> float:
    """
    One stratified SGD epoch of biased MF; updates X, Y and the biases in place; returns sum v e^2.
    """

def slope_one_fit(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    item_indptr: typing.Any,
    item_indices: typing.Any,
    item_data: typing.Any,
    n_items: typing.SupportsInt | typing.SupportsIndex,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    min_work: typing.SupportsFloat | typing.SupportsIndex = 30000000.0,
) -> tuple[
    numpy.typing.NDArray[numpy.int64],
    numpy.typing.NDArray[numpy.int32],
    numpy.typing.NDArray[numpy.float32],
    numpy.typing.NDArray[numpy.int32],
]:
    """
    The item x item Slope One table (indptr, indices, dev, freq) over co-rated pairs, rows sorted.
    """

def slope_one_predict(
    table_indptr: typing.Any,
    table_indices: typing.Any,
    dev: typing.Any,
    freq: typing.Any,
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    user_mean: typing.Any,
    item_count: typing.Any,
    global_mean: typing.SupportsFloat | typing.SupportsIndex,
    weighted: bool,
    users: typing.Any,
    items: typing.Any,
    clip: bool = True,
    lo: typing.SupportsFloat | typing.SupportsIndex = 1.0,
    hi: typing.SupportsFloat | typing.SupportsIndex = 5.0,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    min_work: typing.SupportsFloat | typing.SupportsIndex = 30000000.0,
) -> numpy.typing.NDArray[numpy.float32]:
    """
    Slope One predictions of (users[k], items[k]).
    """

def slope_one_scores(
    table_indptr: typing.Any,
    table_indices: typing.Any,
    dev: typing.Any,
    freq: typing.Any,
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    user_mean: typing.Any,
    item_count: typing.Any,
    global_mean: typing.SupportsFloat | typing.SupportsIndex,
    weighted: bool,
    users: typing.Any,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    min_work: typing.SupportsFloat | typing.SupportsIndex = 30000000.0,
) -> numpy.typing.NDArray[numpy.float32]:
    """
    Unclipped Slope One estimates of every item for the given users: (len(users), n_items).
    """

def sort_itemsets(
    offsets: typing.Any, items: typing.Any, n_threads: typing.SupportsInt | typing.SupportsIndex = 0
) -> numpy.typing.NDArray[numpy.int32]:
    """
    A copy of items with each itemset's items sorted ascending.
    """

def svdpp_epoch(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    user_order: typing.Any,
    P: typing.Any,
    Q: typing.Any,
    Y: typing.Any,
    user_bias: typing.Any,
    item_bias: typing.Any,
    global_mean: typing.SupportsFloat | typing.SupportsIndex,
    learning_rates: typing.Annotated[
        collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], "FixedSize(5)"
    ],
    regularizations: typing.Annotated[
        collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], "FixedSize(5)"
    ],
) -> float:
    """
    One sequential SGD epoch of SVD++ (Surprise's update rules); learning_rates and regularizations are
    (bu, bi, pu, qi, yj). Updates P, Q, Y and the biases in place; returns the sum of squared errors.
    """

def svdpp_user_vectors(
    indptr: typing.Any,
    indices: typing.Any,
    P: typing.Any,
    Y: typing.Any,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    min_work: typing.SupportsFloat | typing.SupportsIndex = 30000000.0,
) -> numpy.typing.NDArray[numpy.float32]:
    """
    p_u + |I_u|^-1/2 sum_{j in I_u} y_j for every user (zeros for users without ratings).
    """

def thread_cap() -> int:
    """
    The most threads a kernel starts (4 x hardware threads); larger n_threads are clamped to it.
    """

def topk_similarity(
    indptr: typing.Any,
    indices: typing.Any,
    data: typing.Any,
    n_cols: typing.SupportsInt | typing.SupportsIndex,
    k: typing.SupportsInt | typing.SupportsIndex,
    kind: str = "cosine",
    shrink: typing.SupportsFloat | typing.SupportsIndex = 0.0,
    min_support: typing.SupportsInt | typing.SupportsIndex = 1,
    rows: typing.Any = None,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
    allowed: typing.Any = None,
) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int32], numpy.typing.NDArray[numpy.float32]]:
    """
    Top-k neighbours of each row (or of `rows`) of a CSR matrix: (indptr, indices, data) of a
    (n_query x n_rows) CSR, neighbours sorted by index, zero similarities and the row itself left out;
    `allowed` (uint8 per row, optional): rows flagged 0 are never neighbours.
    """

def topn_from_factors(
    user_factors: typing.Any,
    item_factors: typing.Any,
    item_bias: typing.Any = None,
    n: typing.SupportsInt | typing.SupportsIndex = 10,
    exclude_indptr: typing.Any = None,
    exclude_indices: typing.Any = None,
    exclude_rows: typing.Any = None,
    candidates: typing.Any = None,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
) -> tuple[numpy.typing.NDArray[numpy.int32], numpy.typing.NDArray[numpy.float32]]:
    """
    Top-n items by user_factors @ item_factors.T (+ item_bias) without the full score matrix; n is clamped
    to the number of rankable items (items or candidates, which must be distinct).
    """

def topn_from_scores(
    scores: typing.Any,
    n: typing.SupportsInt | typing.SupportsIndex,
    exclude_indptr: typing.Any = None,
    exclude_indices: typing.Any = None,
    exclude_rows: typing.Any = None,
    candidates: typing.Any = None,
    n_threads: typing.SupportsInt | typing.SupportsIndex = 0,
) -> tuple[numpy.typing.NDArray[numpy.int32], numpy.typing.NDArray[numpy.float32]]:
    """
    Top-n (items, scores) of each row of a dense score block; padded with -1 / -inf; n is clamped to the
    number of rankable items (columns or candidates, which must be distinct).
    """

openmp: bool = True
