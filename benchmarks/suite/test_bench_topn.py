"""Batch top-N: crossrec's fused kernels against numpy (matmul, mask, argpartition, sort), as in
bench_topn.py, on generated factors (the kernel's speed does not depend on where they come from)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _suite import reference, timed
from bench_topn import BLOCK, agreement, numpy_topn_from_factors, numpy_topn_from_scores

import crossrec as cr

N = 10
SEEN = 50  # items each user has seen (excluded from the top N)


@pytest.fixture(scope="module")
def factors(quick):
    n_users, n_items, k = (300, 5_000, 32) if quick else (4_000, 50_000, 64)
    rng = np.random.default_rng(0)
    U = rng.normal(size=(n_users, k)).astype(np.float32)
    V = rng.normal(size=(n_items, k)).astype(np.float32)
    cols = np.concatenate([rng.choice(n_items, SEEN, replace=False) for _ in range(n_users)])
    seen = sp.csr_matrix(
        (np.ones(len(cols), np.float32), cols, np.arange(0, len(cols) + 1, SEEN)), shape=(n_users, n_items)
    )
    seen.sort_indices()
    return U, V, seen


@pytest.mark.parametrize("library", ["numpy", "crossrec", "crossrec_1thread"])
def test_topn_from_factors(benchmark, library, factors, rounds, outcomes):
    U, V, seen = factors
    group = f"topn_from_factors {len(U)} users x {len(V)} items, {U.shape[1]} factors"
    if library == "numpy":
        fn = lambda: numpy_topn_from_factors(U, V, seen, N)
    else:
        threads = 1 if library == "crossrec_1thread" else 0
        fn = lambda: cr.topn_from_factors(U, V, N, exclude=seen, n_threads=threads)
    got = outcomes[(group, library)] = timed(benchmark, group, library, fn, rounds)
    if library != "numpy":
        ref = reference(outcomes, group, "numpy", lambda: numpy_topn_from_factors(U, V, seen, N))
        same, diff = agreement(ref, got)
        benchmark.extra_info.update(rows_identical=same, max_score_diff=diff)
        # float32 dot products summed in another order: near-ties may swap, scores agree to rounding
        assert same >= 0.999 and diff < 1e-3


@pytest.mark.parametrize("library", ["numpy", "crossrec"])
def test_topn_from_scores(benchmark, library, factors, rounds, outcomes):
    U, V, seen = factors
    m = min(len(U), BLOCK)
    scores, block_seen = U[:m] @ V.T, seen[:m]
    group = f"topn_from_scores {m} x {len(V)} score block"
    if library == "numpy":  # masks in place: a fresh copy per round, not timed
        got = timed(
            benchmark,
            group,
            library,
            lambda s: numpy_topn_from_scores(s, block_seen, N),
            rounds,
            setup=lambda: ((scores.copy(),), {}),
        )
    else:
        got = timed(benchmark, group, library, lambda: cr.topn_from_scores(scores, N, exclude=block_seen), rounds)
    outcomes[(group, library)] = got
    if library != "numpy":
        ref = reference(outcomes, group, "numpy", lambda: numpy_topn_from_scores(scores.copy(), block_seen, N))
        assert agreement(ref, got) == (1.0, 0.0)  # the same selection on the same scores: identical
