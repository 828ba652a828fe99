"""Cases of the fuzz suite (tests/test_fuzz.py) and the worker process that runs them.

A case is a JSON-able dict: which entry point ("core" function or "api" scenario), a seed, sizes,
and a list of mutations applied to a valid call. The worker (``python tests/fuzz_cases.py``) reads
one case per line on stdin, builds the call from the seed, runs it and writes one JSON line back:

    {"outcome": "ok" | "error", "type": exception class, "message": ..., "clean": bool,
     "violations": [...]}       # output invariants that failed on an "ok" (a silent wrong answer)

Run in a separate process, so a crash (segfault, abort, OOM kill) or a hang ends the worker, not the
test session; the driver reports the case that was running and starts a new worker.

Each mutation says what must happen:
    FAIL  the input is invalid: a clean exception is required (returning is a silent wrong answer)
    OK    the input is valid (e.g. 100,000 threads, clamped): it must work
    MAY   either works or raises a clean exception (e.g. n = 2**40: clamped, or MemoryError)
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import numpy as np
import scipy.sparse as sp

FAIL, OK, MAY = "fail", "ok", "may"

# ----------------------------------------------------------------------------------------------
# Valid calls of every crossrec._core function. Each builder returns (kwargs, spec); spec lists the
# argument groups the mutations know how to corrupt:
#   csr: [(indptr, indices, data or None, canonical needed, data must be finite)]
#   dense: [(name, must be finite)]   vec: [(name, must be finite)]   index: [(name, may repeat)]
#   count: [(name, minimum)]          real: [name]   (NaN is invalid for each)
# ----------------------------------------------------------------------------------------------


def _csr(rng, n_rows, n_cols, density=0.4, ratings=True):
    m = sp.random(n_rows, n_cols, density=density, format="csr", random_state=rng, dtype=np.float64)
    m.data = (rng.integers(1, 6, m.nnz) if ratings else np.ones(m.nnz)).astype(np.float32)
    m.sum_duplicates()
    m.sort_indices()
    return m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data.astype(np.float32)


def _f32(rng, *shape, scale=0.1):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def b_topn_from_scores(rng, s):
    m, n = s["rows"], s["cols"]
    ip, ix, _ = _csr(rng, m, n, 0.3)
    kw = dict(
        scores=_f32(rng, m, n, scale=1.0),
        n=3,
        exclude_indptr=ip,
        exclude_indices=ix,
        exclude_rows=np.arange(m, dtype=np.int32),
        candidates=rng.permutation(n)[: max(1, n // 2)].astype(np.int32),
        n_threads=1,
    )
    spec = dict(
        csr=[("exclude_indptr", "exclude_indices", None, False, False)],
        dense=[("scores", False)],
        index=[("exclude_rows", True), ("candidates", False)],
        count=[("n", 1)],
    )
    return kw, spec


def b_topn_from_factors(rng, s):
    m, n, f = s["rows"], s["cols"], s["f"]
    ip, ix, _ = _csr(rng, m, n, 0.3)
    kw = dict(
        user_factors=_f32(rng, m, f),
        item_factors=_f32(rng, n, f),
        item_bias=_f32(rng, n),
        n=3,
        exclude_indptr=ip,
        exclude_indices=ix,
        exclude_rows=np.arange(m, dtype=np.int32),
        candidates=rng.permutation(n)[: max(1, n // 2)].astype(np.int32),
        n_threads=1,
    )
    spec = dict(
        csr=[("exclude_indptr", "exclude_indices", None, False, False)],
        dense=[("user_factors", False), ("item_factors", False)],
        vec=[("item_bias", False)],
        index=[("exclude_rows", True), ("candidates", False)],
        count=[("n", 1)],
    )
    return kw, spec


def b_topk_similarity(rng, s):
    m, n = s["rows"], s["cols"]
    ip, ix, d = _csr(rng, m, n)
    kw = dict(indptr=ip, indices=ix, data=d, n_cols=n, k=3, kind="cosine", shrink=0.0, min_support=1, n_threads=1)
    spec = dict(csr=[("indptr", "indices", "data", True, True)], count=[("k", 1), ("n_cols", 0)], real=["shrink"])
    return kw, spec


def b_gram_matrix(rng, s):
    return dict(Y=_f32(rng, s["cols"], s["f"]), n_threads=1), dict(dense=[("Y", True)])


def _als_common(rng, s):
    m, n, f = s["rows"], s["cols"], s["f"]
    ip, ix, d = _csr(rng, m, n)
    return dict(indptr=ip, indices=ix, data=d, Y=_f32(rng, n, f), X=_f32(rng, m, f), regularization=0.1, n_threads=1)


def b_als_implicit_step(rng, s):
    kw = _als_common(rng, s)
    kw.update(alpha=1.0, solver="cg", cg_steps=3)
    spec = dict(
        csr=[("indptr", "indices", "data", True, True)],
        dense=[("Y", True), ("X", True)],
        count=[("cg_steps", 1)],
        real=["regularization", "alpha"],
    )
    return kw, spec


def b_als_explicit_step(rng, s):
    kw = _als_common(rng, s)
    # X is only written by the explicit step (no warm start), so NaN in it is harmless
    spec = dict(
        csr=[("indptr", "indices", "data", True, True)], dense=[("Y", True), ("X", False)], real=["regularization"]
    )
    return kw, spec


def b_sgd_epoch(rng, s):
    m, n, f = s["rows"], s["cols"], s["f"]
    ip, ix, d = _csr(rng, m, n)
    kw = dict(
        indptr=ip,
        indices=ix,
        data=d,
        X=_f32(rng, m, f),
        Y=_f32(rng, n, f),
        user_bias=np.zeros(m, np.float32),
        item_bias=np.zeros(n, np.float32),
        global_mean=3.0,
        learning_rate=0.01,
        regularization=0.02,
        bias_regularization=0.02,
        epoch=0,
        seed=1,
        n_threads=1,
    )
    spec = dict(
        csr=[("indptr", "indices", "data", True, True)],
        dense=[("X", True), ("Y", True)],
        vec=[("user_bias", True), ("item_bias", True)],
        real=["global_mean", "learning_rate", "regularization"],
    )
    return kw, spec


def b_bpr_epoch(rng, s):
    m, n, f = s["rows"], s["cols"], s["f"]
    ip, ix, d = _csr(rng, m, n, ratings=False)
    kw = dict(
        indptr=ip,
        indices=ix,
        data=d,
        X=_f32(rng, m, f),
        Y=_f32(rng, n, f),
        item_bias=np.zeros(n, np.float32),
        learning_rate=0.05,
        regularization=0.01,
        epoch=0,
        seed=1,
        n_threads=1,
    )
    spec = dict(
        csr=[("indptr", "indices", "data", True, True)],
        dense=[("X", True), ("Y", True)],
        vec=[("item_bias", True)],
        real=["learning_rate", "regularization"],
    )
    return kw, spec


def _knn_predict_common(rng, s):
    m, n = s["rows"], s["cols"]
    ip, ix, d = _csr(rng, m, n)
    q = m  # one query per row (none for an empty matrix)
    return dict(
        indptr=ip,
        indices=ix,
        data=d,
        n_y=n,
        qx=rng.integers(0, max(m, 1), q).astype(np.int32),
        qy=rng.integers(0, n, q).astype(np.int32),
        centering="mean",
        k=5,
        min_k=1,
        global_mean=3.0,
        x_mean=np.full(m, 3.0),
        clip=True,
        lo=1.0,
        hi=5.0,
        n_threads=1,
    )


def b_knn_predict_rated(rng, s):
    kw = _knn_predict_common(rng, s)
    kw.update(sim_data=None, kind="pearson", shrink=10.0, min_support=1)
    spec = dict(
        csr=[("indptr", "indices", "data", True, True)],
        index=[("qx", True), ("qy", True)],
        vec=[("x_mean", True)],
        count=[("k", 1), ("min_k", 0), ("n_y", 0)],
        real=["global_mean", "shrink"],
    )
    return kw, spec


def b_knn_predict_fixed(rng, s):
    kw = _knn_predict_common(rng, s)
    m = s["rows"]
    nb_ip, nb_ix, nb_d = _csr(rng, m, m, ratings=False)
    kw.update(nb_indptr=nb_ip, nb_indices=nb_ix, nb_data=nb_d)
    spec = dict(
        csr=[("indptr", "indices", "data", True, True), ("nb_indptr", "nb_indices", "nb_data", False, True)],
        index=[("qx", True), ("qy", True)],
        vec=[("x_mean", True)],
        count=[("k", 1), ("min_k", 0)],
        real=["global_mean"],
    )
    return kw, spec


def b_knn_recommend(rng, s):
    m, n = s["rows"], s["cols"]
    a_ip, a_ix, a_d = _csr(rng, m, n)
    b_ip, b_ix, b_d = _csr(rng, n, n)
    e_ip, e_ix, _ = _csr(rng, m, n, 0.2)
    kw = dict(
        a_indptr=a_ip,
        a_indices=a_ix,
        a_data=a_d,
        a_cols=n,
        rows=np.arange(m, dtype=np.int32),
        b_indptr=b_ip,
        b_indices=b_ix,
        b_data=b_d,
        n_items=n,
        tie_rank=np.arange(n, dtype=np.int32),
        fallback_order=rng.permutation(n).astype(np.int32),
        n=3,
        exclude_indptr=e_ip,
        exclude_indices=e_ix,
        exclude_rows=np.arange(m, dtype=np.int32),
        n_threads=1,
    )
    spec = dict(
        csr=[
            ("a_indptr", "a_indices", "a_data", False, True),
            ("b_indptr", "b_indices", "b_data", False, True),
            ("exclude_indptr", "exclude_indices", None, False, False),
        ],
        index=[("rows", True), ("exclude_rows", True), ("fallback_order", False)],
        count=[("n", 1)],
    )
    return kw, spec


def b_frequent_itemsets(rng, s):
    m, n = s["rows"], s["cols"]
    ip, ix, _ = _csr(rng, m, n, 0.5, ratings=False)
    kw = dict(indptr=ip, indices=ix, n_items=n, min_count=2, max_len=3, max_itemsets=10_000, algorithm="fpgrowth")
    kw["n_threads"] = 1
    spec = dict(
        csr=[("indptr", "indices", None, False, False)],
        count=[("min_count", 1), ("max_len", 0), ("max_itemsets", 1), ("n_items", 0)],
    )
    return kw, spec


def _itemsets(rng, s):
    from crossrec import _core

    m, n = s["rows"], s["cols"]
    ip, ix, _ = _csr(rng, max(m, 4), max(n, 3), 0.6, ratings=False)
    off, items, counts = _core.frequent_itemsets(ip, ix, max(n, 3), 1, 3, 10_000, "fpgrowth", 1)
    items = _core.sort_itemsets(off, items, 1)
    return off, items, counts / max(m, 4)


def b_sort_itemsets(rng, s):
    off, items, _ = _itemsets(rng, s)
    # items are only sorted here, so any int32 value is acceptable (no range to check)
    return dict(offsets=off, items=items, n_threads=1), dict(index=[("items", True, False)])


def b_association_rules(rng, s):
    off, items, support = _itemsets(rng, s)
    kw = dict(
        offsets=off,
        items=items,
        support=support,
        metric="confidence",
        min_threshold=0.1,
        max_consequent=0,
        max_rules=10**7,
        n_threads=1,
    )
    spec = dict(vec=[("support", True)], count=[("max_consequent", 0), ("max_rules", 0)], real=["min_threshold"])
    return kw, spec


def b_rule_scores(rng, s):
    m, n = s["rows"], s["cols"]
    b_ip, b_ix, _ = _csr(rng, m, n, 0.4, ratings=False)
    a_ip, a_ix, _ = _csr(rng, 5, n, 0.3, ratings=False)
    c_ip, c_ix, _ = _csr(rng, 5, n, 0.3, ratings=False)
    kw = dict(
        basket_indptr=b_ip,
        basket_indices=b_ix,
        n_items=n,
        rows=np.arange(m, dtype=np.int32),
        antecedent_indptr=a_ip,
        antecedent_indices=a_ix,
        consequent_indptr=c_ip,
        consequent_indices=c_ix,
        weights=rng.random(5).astype(np.float32),
        sum_scores=False,
        n_threads=1,
    )
    spec = dict(
        csr=[
            ("basket_indptr", "basket_indices", None, False, False),
            ("antecedent_indptr", "antecedent_indices", None, False, False),
        ],
        index=[("rows", True)],
    )
    return kw, spec


def _teacher(rng, m, n, k=3):
    items = np.array([rng.permutation(n)[:k] for _ in range(m)], dtype=np.int32).reshape(m, k)
    scores = np.sort(rng.standard_normal((m, k)).astype(np.float32), axis=1)[:, ::-1].copy()
    return items, scores


def b_distill_epoch(rng, s):
    m, n, f = s["rows"], max(s["cols"], 4), s["f"]
    ip, ix, d = _csr(rng, m, n, ratings=False)
    items, scores = _teacher(rng, m, n)
    kw = dict(
        indptr=ip,
        indices=ix,
        data=d,
        teacher_items=items,
        teacher_scores=scores,
        teacher_rest=np.zeros(m, np.float32),
        teacher_weights=None,
        user_factors=_f32(rng, m, f),
        item_factors=_f32(rng, n, f),
        item_bias=np.zeros(n, np.float32),
        user_bias=None,
        ground_truth="bpr",
        loss="ranking",
        alpha=0.5,
        temperature=2.0,
        learning_rate=0.05,
        regularization=0.01,
        global_mean=0.0,
        n_samples=16,
        n_negatives=4,
        seed=1,
        epoch=0,
        n_threads=1,
    )
    spec = dict(
        csr=[("indptr", "indices", "data", True, True)],
        dense=[("teacher_scores", True), ("user_factors", True), ("item_factors", True)],
        vec=[("item_bias", True), ("teacher_rest", True)],
        count=[("n_samples", 1), ("n_negatives", 0)],
        real=["alpha", "temperature", "learning_rate"],
    )
    return kw, spec


def b_distill_rank_weights(rng, s):
    m, n = s["rows"], max(s["cols"], 4)
    items, scores = _teacher(rng, m, n)
    return dict(teacher_items=items, teacher_scores=scores, temperature=2.0), dict(
        dense=[("teacher_scores", True)], real=["temperature"]
    )


def b_distill_user_gradient(rng, s):
    n, f = max(s["cols"], 4), s["f"]
    items, scores = _teacher(rng, 1, n)
    kw = dict(
        loss="ranking",
        p_u=_f32(rng, f),
        item_factors=_f32(rng, n, f),
        item_bias=np.zeros(n, np.float32),
        teacher_items=items[0],
        teacher_scores=scores[0],
        rest=0.0,
        positions=np.array([0, 1], np.int32),
        negatives=np.array([n - 1], np.int32),
        temperature=2.0,
    )
    spec = dict(
        dense=[("item_factors", False)],
        vec=[("p_u", False), ("teacher_scores", True)],
        index=[("teacher_items", True), ("positions", True), ("negatives", True)],
        real=["rest", "temperature"],
    )
    return kw, spec


def b_encode_baskets(rng, s):
    baskets = [list(rng.integers(0, s["cols"], 3)) for _ in range(s["rows"])]
    return dict(baskets=baskets), dict()


def _ratings(rng, s):
    """A users x items rating matrix and its item-major copy (rows are items), as the rating models
    build them (models/rating_tools.item_major)."""
    m, n = s["rows"], s["cols"]
    ip, ix, d = _csr(rng, m, n)
    mat = sp.csr_matrix((d, ix, ip), shape=(m, n))
    pos = np.argsort(ix, kind="stable").astype(np.int64)
    rows = np.repeat(np.arange(m, dtype=np.int32), np.diff(ip))
    item_ip = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(ix, minlength=n), out=item_ip[1:])
    return mat, (ip, ix, d), (item_ip, rows[pos].astype(np.int32), d[pos].astype(np.float32), pos)


def b_svdpp_epoch(rng, s):
    m, n, f = s["rows"], s["cols"], s["f"]
    _, (ip, ix, d), _ = _ratings(rng, s)
    kw = dict(
        indptr=ip,
        indices=ix,
        data=d,
        user_order=rng.permutation(m).astype(np.int32),
        P=_f32(rng, m, f),
        Q=_f32(rng, n, f),
        Y=_f32(rng, n, f),
        user_bias=np.zeros(m, np.float32),
        item_bias=np.zeros(n, np.float32),
        global_mean=3.0,
        learning_rates=[0.007] * 5,
        regularizations=[0.02] * 5,
    )
    # rows in any order (the within-row order is SGD's visiting order): unsorted/duplicate may pass
    spec = dict(
        csr=[("indptr", "indices", "data", False, True)],
        dense=[("P", True), ("Q", True), ("Y", True)],
        vec=[("user_bias", True), ("item_bias", True)],
        index=[("user_order", True)],
        real=["global_mean"],
    )
    return kw, spec


def b_svdpp_user_vectors(rng, s):
    m, n, f = s["rows"], s["cols"], s["f"]
    _, (ip, ix, _), _ = _ratings(rng, s)
    kw = dict(indptr=ip, indices=ix, P=_f32(rng, m, f), Y=_f32(rng, n, f), n_threads=1)
    # P and Y are read only: non-finite values propagate to the output (MAY)
    spec = dict(csr=[("indptr", "indices", None, False, False)], dense=[("P", False), ("Y", False)])
    return kw, spec


def b_nmf_epochs(rng, s):
    m, n, f = s["rows"], s["cols"], s["f"]
    _, (ip, ix, d), (iip, iix, idd, pos) = _ratings(rng, s)
    kw = dict(
        n_epochs=2,  # not fuzzed: a huge epoch count is a valid request that runs for ever
        indptr=ip,
        indices=ix,
        data=d,
        item_indptr=iip,
        item_indices=iix,
        item_data=idd,
        item_pos=pos,
        user_order=rng.permutation(m).astype(np.int32),
        P=rng.uniform(0, 1, (m, f)).astype(np.float32),
        Q=rng.uniform(0, 1, (n, f)).astype(np.float32),
        user_bias=np.zeros(m, np.float32),
        item_bias=np.zeros(n, np.float32),
        global_mean=3.0,
        n_threads=1,
    )
    spec = dict(
        csr=[("indptr", "indices", "data", False, True), ("item_indptr", "item_indices", "item_data", False, True)],
        dense=[("P", True), ("Q", True)],
        vec=[("user_bias", False), ("item_bias", False)],
        index=[("user_order", True)],
        real=["global_mean", "reg_pu", "lr_bu"],
    )
    kw.update(reg_pu=0.06, lr_bu=0.005)
    return kw, spec


def b_slope_one_fit(rng, s):
    _, (ip, ix, d), (iip, iix, idd, _) = _ratings(rng, s)
    kw = dict(
        indptr=ip, indices=ix, data=d, item_indptr=iip, item_indices=iix, item_data=idd, n_items=s["cols"], n_threads=1
    )
    spec = dict(
        csr=[("indptr", "indices", "data", True, True), ("item_indptr", "item_indices", "item_data", True, True)],
        count=[("n_items", 0)],
    )
    return kw, spec


def _slope_model(rng, s):
    from crossrec import _core

    mat, (ip, ix, d), (iip, iix, idd, _) = _ratings(rng, s)
    t_ip, t_ix, dev, freq = _core.slope_one_fit(ip, ix, d, iip, iix, idd, s["cols"], 1)
    counts = np.diff(ip)
    means = np.array([d[a:b].mean() if b > a else 3.0 for a, b in zip(ip[:-1], ip[1:])], np.float64)
    kw = dict(
        table_indptr=t_ip,
        table_indices=t_ix,
        dev=dev,
        freq=freq,
        indptr=ip,
        indices=ix,
        data=d,
        user_mean=means,
        item_count=np.bincount(ix, minlength=s["cols"]).astype(np.int32),
        global_mean=3.0,
        weighted=True,
        n_threads=1,
    )
    del mat, counts
    spec = dict(
        csr=[("table_indptr", "table_indices", "dev", True, True), ("indptr", "indices", "data", True, True)],
        vec=[("user_mean", True)],
        real=["global_mean"],
    )
    return kw, spec


def b_slope_one_predict(rng, s):
    kw, spec = _slope_model(rng, s)
    m, n = s["rows"], s["cols"]
    kw.update(users=rng.integers(0, max(m, 1), m).astype(np.int32), items=rng.integers(0, n, m).astype(np.int32))
    spec["index"] = [("users", True), ("items", True)]
    return kw, spec


def b_slope_one_scores(rng, s):
    kw, spec = _slope_model(rng, s)
    kw.update(users=np.arange(s["rows"], dtype=np.int32))
    spec["index"] = [("users", True)]
    return kw, spec


def b_coclustering_averages(rng, s):
    m, n = s["rows"], s["cols"]
    _, (ip, ix, d), _ = _ratings(rng, s)
    kw = dict(
        indptr=ip,
        indices=ix,
        data=d,
        n_items=n,
        cltr_u=rng.integers(0, 2, m).astype(np.int32),
        cltr_i=rng.integers(0, 2, n).astype(np.int32),
        n_cltr_u=2,
        n_cltr_i=2,
        global_mean=3.0,
        n_threads=1,
    )
    spec = dict(
        csr=[("indptr", "indices", "data", False, True)],
        index=[("cltr_u", True), ("cltr_i", True)],
        count=[("n_cltr_u", 1), ("n_cltr_i", 1)],
        real=["global_mean"],
    )
    return kw, spec


def b_coclustering_assign(rng, s):
    from crossrec import _core

    m, n = s["rows"], s["cols"]
    _, (ip, ix, d), (iip, iix, idd, _) = _ratings(rng, s)
    cu, ci = rng.integers(0, 2, m).astype(np.int32), rng.integers(0, 2, n).astype(np.int32)
    au, ai, ac = _core.coclustering_averages(ip, ix, d, n, cu, ci, 2, 2, 3.0, 1)
    kw = dict(
        indptr=ip,
        indices=ix,
        data=d,
        item_indptr=iip,
        item_indices=iix,
        item_data=idd,
        user_mean=np.full(m, 3.0),
        item_mean=np.full(n, 3.0),
        cltr_u=cu,
        cltr_i=ci,
        user_avg=au,
        item_avg=ai,
        cocluster_avg=ac,
        n_threads=1,
    )
    spec = dict(
        csr=[("indptr", "indices", "data", False, True), ("item_indptr", "item_indices", "item_data", False, True)],
        vec=[("user_mean", True), ("item_mean", True)],
    )
    return kw, spec


CORE = {name[2:]: fn for name, fn in list(globals().items()) if name.startswith("b_")}
# Kernels without an n_threads argument (sequential by design): no thread mutations.
NO_THREADS = {"distill_rank_weights", "distill_user_gradient", "encode_baskets", "svdpp_epoch"}

# ----------------------------------------------------------------------------------------------
# Mutations: (name, applies to kind, outcome rule). A rule is FAIL/OK/MAY or a callable of the
# group's spec entry giving one of them.
# ----------------------------------------------------------------------------------------------
CSR_MUTATIONS = [
    "unsorted",
    "duplicate",
    "stale_canonical_duplicate",
    "negative_index",
    "index_at_bound",
    "index_2_40",
    "float_indices",
    "indptr_decreasing",
    "indptr_shifted",
    "indptr_last_mismatch",
    "indptr_negative",
    "indptr_huge",
    "indptr_2d",
    "indptr_float",
    "data_nan",
    "data_inf",
    "data_float32_overflow",
    "data_short",
    "data_object",
]
DENSE_MUTATIONS = [
    "nan",
    "inf",
    "float32_overflow",
    "one_dim",
    "three_dim",
    "extra_column",
    "object",
    "fortran",
    "int_dtype",
    "non_contiguous",
]
VEC_MUTATIONS = ["nan", "inf", "float32_overflow", "two_dim", "too_short", "object"]
INDEX_MUTATIONS = ["negative", "at_bound", "2_40", "float", "two_dim", "repeat", "empty", "uint64_huge"]
COUNT_MUTATIONS = [0, -1, 2**31, 2**40, 10**9, 2**63 - 1]
REAL_MUTATIONS = [float("nan"), float("inf"), -1.0, 1e300]
THREAD_MUTATIONS = [-1, 0, 2, 3, 1000, 100_000, 2**40]


def mutation_list(spec: dict) -> list[tuple]:
    """Every (kind, target index, mutation) the spec admits: what the exhaustive pass runs."""
    out = []
    for kind, muts in (
        ("csr", CSR_MUTATIONS),
        ("dense", DENSE_MUTATIONS),
        ("vec", VEC_MUTATIONS),
        ("index", INDEX_MUTATIONS),
        ("count", COUNT_MUTATIONS),
        ("real", REAL_MUTATIONS),
    ):
        for t in range(len(spec.get(kind, []))):
            out += [(kind, t, m) for m in muts]
    return out


def _bound_of_index(fn: str, name: str, kw: dict) -> int:
    """The exclusive upper bound of an index argument (so 'at_bound' is out of range)."""
    n_items = lambda: len(kw["item_factors"]) if "item_factors" in kw else kw["scores"].shape[1]  # noqa: E731
    table = {
        "candidates": n_items,
        "exclude_rows": lambda: len(kw["exclude_indptr"]) - 1,
        "qx": lambda: len(kw["indptr"]) - 1,
        "qy": lambda: kw["n_y"],
        "rows": lambda: len(kw.get("a_indptr", kw.get("basket_indptr"))) - 1,
        "fallback_order": lambda: kw["n_items"],
        "items": lambda: 10**6,
        "teacher_items": lambda: len(kw["item_factors"]),
        "positions": lambda: len(kw["teacher_items"]),
        "negatives": lambda: len(kw["item_factors"]),
        "user_order": lambda: len(kw["indptr"]) - 1,
        "users": lambda: len(kw["indptr"]) - 1,
        "cltr_u": lambda: kw["n_cltr_u"],
        "cltr_i": lambda: kw["n_cltr_i"],
    }
    return int(table[name]())


def apply_mutation(fn: str, kw: dict, spec: dict, kind: str, t: int, mut, rng) -> str:
    """Mutates kw in place; returns the rule (FAIL/OK/MAY) for the result."""
    if kind == "csr":
        ip_name, ix_name, d_name, canonical, finite = spec["csr"][t]
        ip, ix = kw[ip_name].copy(), kw[ix_name].copy()
        d = kw[d_name].copy() if d_name and kw.get(d_name) is not None else None
        rows = np.flatnonzero(np.diff(ip) >= 2)
        nnz = len(ix)
        if mut in ("unsorted", "duplicate", "stale_canonical_duplicate"):
            if not len(rows):
                return MAY
            p = int(ip[rows[0]])
            if mut == "unsorted":
                ix[p], ix[p + 1] = ix[p + 1], ix[p]
            else:
                ix[p + 1] = ix[p]
            rule = FAIL if canonical else MAY
        elif mut in ("negative_index", "index_at_bound", "index_2_40"):
            if not nnz:
                return MAY
            bound = kw.get("n_cols", kw.get("n_y", kw.get("n_items", kw.get("a_cols"))))
            if ip_name == "item_indptr":  # the item-major copy: its rows are items, its columns users
                bound = len(kw["indptr"]) - 1
            elif ip_name == "table_indptr":  # the square item x item Slope One table
                bound = len(kw["table_indptr"]) - 1
            elif ip_name == "indptr" and "table_indptr" in kw:
                bound = len(kw["table_indptr"]) - 1
            elif ip_name == "indptr" and "item_indptr" in kw:
                bound = len(kw["item_indptr"]) - 1
            elif ip_name == "indptr" and "Q" in kw:
                bound = len(kw["Q"])
            if ip_name.startswith("exclude"):
                bound = kw["scores"].shape[1] if "scores" in kw else len(kw.get("item_factors", [])) or kw["n_items"]
            elif ip_name.startswith("nb_"):
                bound = len(kw["indptr"]) - 1
            elif ip_name.startswith("b_"):
                bound = kw["n_items"]
            elif ip_name.startswith("antecedent"):
                bound = kw["n_items"]
            elif ip_name == "indptr" and "item_factors" in kw:
                bound = len(kw["item_factors"])
            elif ip_name == "indptr" and "Y" in kw:
                bound = len(kw["Y"])
            if mut == "index_2_40":
                ix = ix.astype(np.int64)
                ix[0] = 2**40
            else:
                ix[0] = -1 if mut == "negative_index" else bound
            rule = FAIL
        elif mut == "float_indices":
            ix = ix.astype(np.float64)
            rule = FAIL
        elif mut.startswith("indptr"):
            if mut == "indptr_decreasing":
                if len(ip) < 3 or ip[1] == ip[2]:
                    return MAY
                ip[1], ip[2] = ip[2], ip[1]
            elif mut == "indptr_shifted":
                ip = ip + 1
            elif mut == "indptr_last_mismatch":
                ip[-1] += 1
            elif mut == "indptr_negative":
                if len(ip) < 3:
                    return MAY
                ip[1] = -5
            elif mut == "indptr_huge":
                if len(ip) < 3:
                    return MAY
                ip[1] = 2**62
            elif mut == "indptr_2d":
                ip = ip.reshape(1, -1)
            elif mut == "indptr_float":
                ip = ip.astype(np.float64)
            rule = FAIL
        else:  # data
            if d is None or not nnz:
                return MAY
            if mut == "data_nan":
                d[0] = np.nan
            elif mut == "data_inf":
                d[0] = np.inf
            elif mut == "data_float32_overflow":
                d = d.astype(np.float64)
                d[0] = 1e39
            elif mut == "data_short":
                d = d[:-1]
            elif mut == "data_object":
                d = d.astype(object)
            rule = FAIL if (finite or mut in ("data_short", "data_object")) else MAY
        kw[ip_name], kw[ix_name] = ip, ix
        if d_name and d is not None:
            kw[d_name] = d
        return rule
    if kind in ("dense", "vec"):
        name, finite = spec[kind][t]
        a = kw[name]
        if mut in ("nan", "inf", "float32_overflow"):
            was_double = a.dtype == np.float64
            a = a.astype(np.float64 if mut == "float32_overflow" else a.dtype, copy=True)
            if not a.size:
                return MAY
            a.flat[0] = {"nan": np.nan, "inf": np.inf, "float32_overflow": 1e39}[mut]
            kw[name] = a
            # topn scores may hold NaN (never ranked); 1e39 becomes inf in float32, so it is invalid
            # for a finite-checked float32 argument (a float64 argument holds it exactly).
            if mut == "float32_overflow" and was_double:
                return MAY
            return FAIL if finite else MAY
        if mut == "one_dim":
            kw[name] = a.ravel()
        elif mut == "three_dim":
            kw[name] = a[None]
        elif mut == "two_dim":
            kw[name] = a[None, :]
        elif mut == "extra_column":  # may be consistent (one more item or factor): MAY
            kw[name] = np.hstack([a, a[:, :1]])
            return MAY
        elif mut == "too_short":
            kw[name] = a[:-1]
        elif mut == "object":
            kw[name] = a.astype(object)
        elif mut == "fortran":
            kw[name] = np.asfortranarray(a)
            return MAY
        elif mut == "int_dtype":
            kw[name] = a.astype(np.int64)
            return MAY
        elif mut == "non_contiguous":
            kw[name] = np.repeat(a, 2, axis=1)[:, ::2]
            return MAY
        return FAIL if mut not in ("too_short",) or len(a) else MAY
    if kind == "index":
        name, may_repeat, *ranged = spec["index"][t]
        ranged = ranged[0] if ranged else True
        a = np.asarray(kw[name]).copy()
        bound = _bound_of_index(fn, name, kw)
        if mut == "repeat":
            if len(a) < 2 or (a.ndim == 1 and a[0] == a[1]):
                return MAY
            a[1] = a[0]
            kw[name] = a
            return MAY if may_repeat else FAIL
        if mut == "empty":
            kw[name] = a[:0]
            return MAY
        if not a.size:
            return MAY
        if mut == "negative":
            a.flat[0] = -2
        elif mut == "at_bound":
            a.flat[0] = bound
        elif mut == "2_40":
            a = a.astype(np.int64)
            a.flat[0] = 2**40
        elif mut == "uint64_huge":
            a = a.astype(np.uint64)
            a.flat[0] = 2**63 + 5
        elif mut == "float":
            a = a.astype(np.float64)
        elif mut == "two_dim":
            a = a[None]
        kw[name] = a
        return FAIL if ranged or mut in ("float", "two_dim", "2_40", "uint64_huge") else MAY
    if kind == "count":
        name, minimum = spec["count"][t]
        kw[name] = mut
        return FAIL if mut < minimum else MAY
    if kind == "real":
        name = spec["real"][t]
        kw[name] = mut
        return FAIL if np.isnan(mut) else MAY
    if kind == "threads":
        kw["n_threads"] = mut
        return FAIL if mut < 0 else OK
    raise ValueError(kind)


# ----------------------------------------------------------------------------------------------
# Output invariants checked on every "ok" result (a violated one is a silent wrong answer).
# ----------------------------------------------------------------------------------------------
def _topn_invariants(items, scores, kw) -> list[str]:
    bad = []
    n_items = kw["scores"].shape[1] if "scores" in kw else len(kw["item_factors"])
    for r, row in enumerate(np.asarray(items)):
        real = row[row >= 0]
        if len(np.unique(real)) != len(real):
            bad.append(f"row {r} repeats an item: {row.tolist()}")
        if real.size and real.max() >= n_items:
            bad.append(f"row {r} holds item {real.max()} >= {n_items}")
        cand = kw.get("candidates")
        if cand is not None and real.size and not np.isin(real, np.asarray(cand)).all():
            bad.append(f"row {r} holds a non-candidate")
    if not np.isfinite(np.asarray(scores)[np.asarray(items) >= 0]).all() and "scores" not in kw:
        bad.append("a returned item has a non-finite score")
    return bad


def invariants(fn: str, result, kw: dict) -> list[str]:
    if fn in ("topn_from_scores", "topn_from_factors"):
        return _topn_invariants(result[0], result[1], kw)
    if fn in ("als_implicit_step", "als_explicit_step", "sgd_epoch", "bpr_epoch"):
        X = kw["X"]
        if isinstance(X, np.ndarray) and X.dtype == np.float32 and not np.isfinite(X).all():
            return ["X holds NaN/inf after the step"]
    if fn == "topk_similarity":
        ip, ix, _ = result
        for q in range(len(ip) - 1):
            row = ix[ip[q] : ip[q + 1]]
            if len(np.unique(row)) != len(row):
                return [f"neighbour list {q} repeats a neighbour"]
    return []


# ----------------------------------------------------------------------------------------------
# Public API scenarios: a model fitted on small data, then recommend / predict with odd arguments.
# ----------------------------------------------------------------------------------------------
def _small_data(rng, explicit=True, n_users=30, n_items=25):
    import crossrec as cr

    pairs = rng.permutation(n_users * n_items)[: n_users * n_items // 3]
    users, items = pairs // n_items, pairs % n_items
    values = rng.integers(1, 6, len(pairs)).astype(float) if explicit else np.ones(len(pairs))
    return cr.Interactions.from_arrays(users, items, values, explicit=explicit)


def _model(name, **kw):
    import crossrec as cr

    base = {
        "ALS": dict(factors=4, iterations=2),
        "ALS_explicit": dict(factors=4, iterations=2, implicit=False),
        "BPR": dict(factors=4, iterations=2),
        "MF": dict(factors=4, iterations=2),
        "EASE": dict(),
        "ItemKNN": dict(k=5),
        "UserKNN": dict(k=5),
        "Baseline": dict(),
        "MostPopular": dict(),
        "Random": dict(),
        "DenoisingAutoencoder": dict(hidden=4, epochs=2),
        "AssociationRules": dict(),
    }[name]
    cls = getattr(cr, name.split("_")[0])
    return cls(**{**base, **kw})


API_MODELS = [
    "ALS",
    "ALS_explicit",
    "BPR",
    "MF",
    "EASE",
    "ItemKNN",
    "UserKNN",
    "Baseline",
    "MostPopular",
    "Random",
    "DenoisingAutoencoder",
    "AssociationRules",
]
# (hyper-parameter, value, rule)
API_PARAMS = {
    "ALS": [("factors", 10**7, MAY), ("factors", 0, FAIL), ("regularization", float("nan"), FAIL)],
    "ALS_explicit": [("factors", 10**7, MAY), ("regularization", -1.0, FAIL)],
    "BPR": [("learning_rate", 1e6, MAY), ("factors", 10**7, MAY), ("learning_rate", float("inf"), FAIL)],
    "MF": [("learning_rate", 1e6, MAY), ("factors", 10**7, MAY), ("iterations", 0, FAIL)],
    "EASE": [("l2", 0.0, FAIL), ("l2", 1e300, MAY)],
    "ItemKNN": [("k", 10**9, MAY), ("k", 0, FAIL), ("shrink", float("nan"), FAIL)],
    "UserKNN": [("k", 10**9, MAY), ("min_k", 10**9, MAY)],
    "Baseline": [("reg_user", float("nan"), FAIL)],
    "MostPopular": [],
    "Random": [("seed", -1, FAIL)],
    "DenoisingAutoencoder": [("hidden", 10**7, MAY), ("learning_rate", 1e9, MAY), ("dropout", 1.0, FAIL)],
    "AssociationRules": [],
}
# (what, value, rule) applied to recommend / predict / the data
API_CALLS = [
    ("n", 10**9, MAY),
    ("n", 2**40, MAY),
    ("n", 0, FAIL),
    ("n", -1, FAIL),
    ("n", 2**70, MAY),
    ("n_threads", 100_000, FAIL),  # above 1024: refused as a mistake (the C++ layer would clamp it)
    ("n_threads", 1000, OK),
    ("n_threads", -1, FAIL),
    ("n_threads", 2**40, FAIL),
    ("items", "repeat", FAIL),
    ("items", "empty", MAY),
    ("users", "unknown", MAY),  # raise or a documented fallback (the unknown= policy)
    ("users", "empty", MAY),
    ("predict", "unknown_item", MAY),
    ("data", "one_row", MAY),
    ("data", "float32_overflow", FAIL),
    ("data", "nan", FAIL),
    ("data", "huge_ids", MAY),
    ("data", "negative_ids", MAY),
]


def run_api(case: dict):
    import crossrec as cr

    rng = np.random.default_rng(case["seed"])
    name = case["model"]
    explicit = name in ("ALS_explicit", "MF", "Baseline", "ItemKNN", "UserKNN")
    data = _small_data(rng, explicit=explicit)
    users = data.user_ids[:3]
    if case.get("param"):
        p, value = case["param"]
        model = _model(name, **{p: value})
        model.fit(data)
        return model.recommend(users, n=3), None
    what, value = case["call"]
    if what == "data":
        if value == "one_row":
            data = cr.Interactions.from_arrays([1], [2], [4.0], explicit=explicit)
            users = [1]
        elif value in ("float32_overflow", "nan"):
            v = np.full(5, 3.0)
            v[0] = 1e39 if value == "float32_overflow" else np.nan
            data = cr.Interactions.from_arrays([1, 1, 2, 2, 3], [1, 2, 2, 3, 1], v, explicit=True)
            users = [1]
        elif value in ("huge_ids", "negative_ids"):
            big = 2**62 if value == "huge_ids" else -(2**40)
            data = cr.Interactions.from_arrays(
                np.array([big, big, 7, 7]), np.array([big, 3, 3, big]), [4.0, 3.0, 5.0, 1.0], explicit=explicit
            )
            users = [big]
        model = _model(name).fit(data)
        return model.recommend(users, n=2), None
    model = _model(name).fit(data)
    if what == "n":
        return model.recommend(users, n=value), None
    if what == "n_threads":
        if not hasattr(model, "n_threads"):
            return None, "not applicable"
        model.n_threads = value
        return model.recommend(users, n=3), None
    if what == "items":
        items = [data.item_ids[0]] * 3 if value == "repeat" else []
        return model.recommend(users, n=3, items=items), ("recommend", items)
    if what == "users":
        u = ["no such user"] if value == "unknown" else []
        return model.recommend(u, n=3), None
    if what == "predict":
        return model.predict(users[:1], ["no such item"]), None
    raise ValueError(what)


def api_invariants(result, extra) -> list[str]:
    if result is None or not isinstance(result, tuple) or len(result) != 2:
        return []
    ids, scores = result
    bad = []
    for r, row in enumerate(np.asarray(ids, dtype=object)):
        real = [x for x in row if x is not None]
        if len(set(real)) != len(real):
            bad.append(f"recommend row {r} repeats an item: {list(row)}")
    return bad


def run_metrics(case: dict):
    from crossrec import metrics

    rng = np.random.default_rng(case["seed"])
    rel = sp.csr_matrix((rng.random((3, 10)) < 0.3).astype(np.float32))
    rec = np.tile(np.arange(5), (3, 1))
    if case["call"] == "repeat":
        rec[:, 1] = rec[:, 0]
    elif case["call"] == "minus_two":
        rec[0, 0] = -2
    elif case["call"] == "float":
        rec = rec.astype(float)
    out = {k: metrics.RANKING_METRICS[k](rec, rel, 5) for k in metrics.RANKING_METRICS}
    bad = [f"{k} = {np.nanmax(v)} > 1" for k, v in out.items() if np.nanmax(np.r_[v, 0]) > 1 + 1e-12]
    return out, bad


# ----------------------------------------------------------------------------------------------
# The worker
# ----------------------------------------------------------------------------------------------
def _clean(err: BaseException) -> bool:
    """A clean error: what a user can act on (ValueError family, TypeError from argument binding,
    a MemoryError that says how much and why), never a raw C++ or numpy failure."""
    from crossrec.errors import CrossrecError

    if isinstance(err, (CrossrecError, ValueError)):
        return True
    if isinstance(err, TypeError):
        return "incompatible function arguments" in str(err) and "2**" not in str(err)
    if isinstance(err, MemoryError):
        return type(err).__name__ == "MemoryError" and "GiB" in str(err)
    return False


def build_core(case: dict):
    """The call of a core case: (kwargs, rule). Errors here are bugs of the fuzz suite itself."""
    rng = np.random.default_rng(case["seed"])
    kw, spec = CORE[case["fn"]](rng, case["sizes"])
    rule = OK
    for kind, t, mut in case["mutations"]:
        r = apply_mutation(case["fn"], kw, spec, kind, t, mut, rng)
        rule = r if rule == OK else (FAIL if FAIL in (rule, r) else MAY)
    return kw, rule


def run_case(case: dict) -> dict:
    if case["target"] == "core":
        try:
            kw, rule = build_core(case)
        except Exception:  # noqa: BLE001 - reported as the suite's own failure, never as "clean"
            return {"outcome": "builder_error", "trace": traceback.format_exc()[-800:]}
    try:
        if case["target"] == "core":
            from crossrec import _core

            result = getattr(_core, case["fn"])(**kw)
            violations = invariants(case["fn"], result, kw)
        elif case["target"] == "api":
            rule = case["rule"]
            result, extra = run_api(case)
            if extra == "not applicable":
                rule = MAY
            violations = api_invariants(result, extra)
        else:
            rule = case["rule"]
            result, violations = run_metrics(case)
        if rule == FAIL:
            violations.append("invalid input was accepted (expected a clean exception)")
        return {"outcome": "ok", "violations": violations, "rule": rule}
    except BaseException as err:  # noqa: BLE001 - classify everything the call raises
        return {
            "outcome": "error",
            "type": type(err).__name__,
            "message": str(err)[:300],
            "clean": _clean(err),
            "rule": locals().get("rule", MAY),
            "trace": traceback.format_exc()[-600:] if not _clean(err) else "",
        }


def worker() -> None:
    limit = os.environ.get("CROSSREC_FUZZ_AS_LIMIT")
    if limit:  # an address-space cap makes runaway allocations fail fast instead of swapping
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    for line in sys.stdin:
        case = json.loads(line)
        print(json.dumps(run_case(case)), flush=True)


if __name__ == "__main__":
    worker()
