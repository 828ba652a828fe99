"""Frequent itemsets: crossrec's FP-growth (one thread) against pyfim's fpgrowth and mlxtend's
fpgrowth on Groceries and retail, as in bench_itemsets.py: a list of baskets in, the result in
Python out (mlxtend: from its one-hot DataFrame, built untimed). The itemsets must be identical."""

from __future__ import annotations

import pytest
from _suite import data_or_skip, reference, timed
from bench_itemsets import canonical_crossrec, canonical_mlxtend, canonical_pyfim, load, onehot, run

CASES = {  # name: (reader, data folder, min support; --quick min support)
    "groceries": ("groceries", "groceries", 0.001, 0.01),
    "retail": ("retail", "fimi-retail", 0.005, 0.02),
}
PEERS = {"groceries": ["pyfim_fpgrowth", "mlxtend"], "retail": ["pyfim_fpgrowth"]}  # mlxtend: ~10 s on retail


@pytest.fixture(scope="module")
def baskets(quick):
    cache = {}

    def get(case):
        if case not in cache:
            reader, folder, support, quick_support = CASES[case]
            data_or_skip(folder)
            cache[case] = (load(reader), quick_support if quick else support)
        return cache[case]

    return get


@pytest.mark.parametrize(
    "case, library", [(case, lib) for case in CASES for lib in PEERS[case] + ["crossrec"]], ids=lambda v: v
)
def test_frequent_itemsets(benchmark, case, library, baskets, rounds, outcomes):
    data, support = baskets(case)
    group = f"frequent itemsets {case} at {support:.2%}, 1 thread"
    if library == "mlxtend":
        pytest.importorskip("mlxtend")
        frame = onehot(data)
        found, count = timed(benchmark, group, library, lambda: run("mlxtend", None, frame, support), 1)
        outcomes[(group, library)] = canonical_mlxtend(found, len(data))
    else:
        if library.startswith("pyfim"):
            pytest.importorskip("fim")
        found, count = timed(benchmark, group, library, lambda: run(library, data, None, support), rounds)
        canonical = canonical_crossrec if library == "crossrec" else canonical_pyfim
        outcomes[(group, library)] = canonical(found)
    benchmark.extra_info["itemsets"] = count
    if library == "crossrec":
        ours = outcomes[(group, library)]
        theirs = reference(
            outcomes, group, "pyfim_fpgrowth", lambda: canonical_pyfim(run("pyfim_fpgrowth", data, None, support)[0])
        )
        assert ours == theirs  # pyfim drops the 1-itemset of an item in every basket: none here
        if (group, "mlxtend") in outcomes:
            assert ours == outcomes[(group, "mlxtend")]
