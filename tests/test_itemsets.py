"""Frequent itemsets: FP-growth and Apriori against a brute-force enumerator, the peers (pyfim,
mlxtend) and the known counts on the real basket files."""

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

import crossrec as cr
from crossrec import _core
from crossrec.itemsets import min_support_count
from conftest import data_path

ALGORITHMS = ["fpgrowth", "apriori"]


# ---- references and readers ------------------------------------------------------------------
def brute_force(baskets, min_count, max_len=None):
    """{frozenset: count} of every itemset in >= min_count baskets, by trying every subset of
    the items that occur."""
    sets = [frozenset(b) for b in baskets]
    items = sorted(set().union(*sets)) if sets else []
    out = {}
    for k in range(1, (max_len or len(items)) + 1):
        found = False
        for combo in itertools.combinations(items, k):
            c = frozenset(combo)
            n = sum(c <= s for s in sets)
            if n >= min_count:
                out[c] = n
                found = True
        if not found:
            break  # downward closure: no frequent k-itemset, no frequent (k+1)-itemset
    return out


def groceries(strip_lines_only=False):
    """The Groceries baskets (crossrec.datasets). The item "cream cheese " is spelt with a
    trailing space in the file; strip_lines_only=True gives the tempting parse that strips whole
    lines only, which turns it into a second item where it ends a line."""
    path = data_path("groceries", "groceries.csv")
    if strip_lines_only:
        with open(path) as f:
            return [ln.strip().split(",") for ln in f.read().splitlines() if ln.strip()]
    return cr.datasets.groceries(data_dir=path.parents[1])


def fimi(name):
    return cr.datasets.fimi(name, data_dir=data_path(f"fimi-{name}", f"{name}.dat").parents[1])


def as_dict(result):
    d = result.to_dict()
    assert len(d) == len(result), "an itemset was reported twice"
    return d


def pyfim_dict(baskets, min_support):
    fim = pytest.importorskip("fim")
    return {frozenset(s): c for s, c in fim.fpgrowth(baskets, supp=100 * min_support, zmin=1)}


def padded_table(lengths, flat_ids, counts):
    """Itemsets of integer ids as rows (sorted ids padded with a sentinel, then the count) in a
    canonical row order (by a 64-bit row hash): compared exactly with assert_array_equal, without
    building a Python object per itemset. A hash collision could only make equal inputs compare
    unequal, never the reverse."""
    lengths = np.asarray(lengths)
    width = int(lengths.max()) if len(lengths) else 0
    table = np.full((len(lengths), width + 1), np.iinfo(np.int64).max, np.int64)
    row = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.cumsum(lengths) - lengths
    table[row, np.arange(len(row)) - starts[row]] = flat_ids
    table[:, :width].sort(axis=1)
    table[:, width] = counts
    weights = np.random.default_rng(0).integers(1, 2**62, size=width + 1, dtype=np.int64) | 1
    with np.errstate(over="ignore"):
        key = (table * weights).sum(axis=1)
    return table[np.argsort(key, kind="stable")]


def ours_table(r):
    return padded_table(r.lengths, r.item_ids[r.items], r.counts)


def pyfim_table(baskets, min_support):
    fim = pytest.importorskip("fim")
    found = fim.fpgrowth(baskets, supp=100 * min_support, zmin=1)
    sets = [s for s, _ in found]
    return padded_table(
        np.fromiter(map(len, sets), np.int64, len(sets)),
        np.fromiter(itertools.chain.from_iterable(sets), np.int64),
        np.fromiter((c for _, c in found), np.int64, len(found)),
    )


# ---- correctness on small data ---------------------------------------------------------------
baskets_strategy = st.lists(st.lists(st.integers(0, 7), max_size=7), min_size=1, max_size=25)


@given(
    baskets=baskets_strategy,
    min_count=st.integers(1, 5),
    max_len=st.sampled_from([None, 1, 2, 3]),
    algorithm=st.sampled_from(ALGORITHMS),
    threads=st.sampled_from([1, 2]),
)
def test_matches_brute_force(baskets, min_count, max_len, algorithm, threads):
    got = cr.frequent_itemsets(baskets, min_count, algorithm=algorithm, max_len=max_len, n_threads=threads)
    assert as_dict(got) == brute_force(baskets, min_count, max_len)


@given(
    baskets=st.lists(st.lists(st.sampled_from("abcdefghij"), max_size=9), min_size=1, max_size=40),
    min_count=st.integers(1, 4),
)
def test_fpgrowth_equals_apriori(baskets, min_count):
    a = cr.frequent_itemsets(baskets, min_count, algorithm="fpgrowth")
    b = cr.frequent_itemsets(baskets, min_count, algorithm="apriori")
    assert as_dict(a) == as_dict(b)
    # both of Apriori's counting methods (basket scan, bit rows), pinned through _core
    indptr, codes, ids = _core.encode_baskets(baskets)
    for method in ("apriori_scan", "apriori_bits"):
        offsets, items, counts = _core.frequent_itemsets(indptr, codes, len(ids), min_count, algorithm=method)
        got = cr.FrequentItemsets(offsets, items, counts, np.asarray(ids, dtype=object), len(baskets), min_count)
        assert as_dict(got) == as_dict(a)


def test_sorted_items_and_support_is_count_over_baskets():
    baskets = [[3, 1], [1, 2, 3], [3], [2, 1]]
    r = cr.frequent_itemsets(baskets, 2)
    srt = r.sorted_items()
    for s in range(len(r)):
        span = slice(r.offsets[s], r.offsets[s + 1])
        ids = r.item_ids[r.items[span]]
        assert list(srt[span]) == sorted(r.items[span])
        assert r.counts[s] == sum(set(ids.tolist()) <= set(b) for b in baskets)
    np.testing.assert_allclose(r.support, r.counts / 4)
    assert as_dict(r) == {
        frozenset({1}): 3,
        frozenset({3}): 3,
        frozenset({2}): 2,
        frozenset({1, 3}): 2,
        frozenset({1, 2}): 2,
    }


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_edge_cases(algorithm):
    fi = lambda b, s, **kw: as_dict(cr.frequent_itemsets(b, s, algorithm=algorithm, **kw))  # noqa: E731
    assert fi([[], [], []], 1) == {}  # only empty baskets
    assert fi([["x"]], 1) == {frozenset({"x"}): 1}  # one basket, one item
    assert fi([[1, 1, 1, 2]], 1) == {frozenset({1}): 1, frozenset({2}): 1, frozenset({1, 2}): 1}  # repeats
    assert fi([[1, 2], [1, 2], [1, 2]], 1.0) == brute_force([[1, 2]] * 3, 3)  # constant baskets, support 1
    assert fi([[1], [2], [3]], 2) == {}  # nothing frequent
    # an item in every basket is a frequent 1-itemset (pyfim drops this case, see mushroom test)
    assert fi([[0, 1], [0, 2], [0]], 3) == {frozenset({0}): 3}
    ties = [[1, 2], [2, 3], [3, 1]]  # equal frequencies everywhere
    assert fi(ties, 1) == brute_force(ties, 1)


def test_item_in_every_basket_is_reported_like_mlxtend():
    # pyfim leaves out the 1-itemset of an item that is in every basket (see test_mushroom);
    # mlxtend reports it, and so do we
    mlx = pytest.importorskip("mlxtend.frequent_patterns")
    onehot = pd.DataFrame({"a": [True] * 4, "b": [True, False, True, False], "c": [False, True, True, True]})
    theirs = mlx.fpgrowth(onehot, min_support=0.5, use_colnames=True)
    ours = cr.frequent_itemsets(onehot, 0.5).to_pandas()
    assert dict(zip(ours["itemsets"], ours["support"])) == dict(zip(theirs["itemsets"], theirs["support"]))
    assert frozenset({"a"}) in set(ours["itemsets"])


def test_min_support_fraction_follows_count_over_n():
    # 0.3 * 10 = 3.0000000000000004 in floating point: the count threshold must still be 3
    assert min_support_count(0.3, 10) == 3
    assert min_support_count(0.001, 9835) == 10
    assert min_support_count(0.1, 8124) == 813
    assert min_support_count(1.0, 7) == 7
    assert min_support_count(5, 7) == 5
    for n in range(1, 60):
        for frac in (0.05, 0.1, 0.2, 0.3, 0.7, 1 / 3):
            c = min_support_count(frac, n)
            assert c / n >= frac and (c == 1 or (c - 1) / n < frac)


def test_input_forms_agree():
    rng = np.random.default_rng(0)
    dense = rng.random((60, 9)) < 0.4
    cols = [f"i{j}" for j in range(9)]
    lists = [[cols[j] for j in np.flatnonzero(row)] for row in dense]
    ref = as_dict(cr.frequent_itemsets(lists, 0.1))
    onehot = pd.DataFrame(dense, columns=cols)
    assert as_dict(cr.frequent_itemsets(onehot, 0.1)) == ref
    assert as_dict(cr.frequent_itemsets(onehot.astype(int), 0.1)) == ref
    by_index = {
        frozenset(cols[j] for j in s): c
        for s, c in as_dict(cr.frequent_itemsets(sp.csr_matrix(dense.astype(np.float32)), 0.1)).items()
    }
    assert by_index == ref
    np_ids = {frozenset(cols[j] for j in s): c for s, c in as_dict(cr.frequent_itemsets(dense, 0.1)).items()}
    assert np_ids == ref
    assert as_dict(cr.frequent_itemsets(tuple(tuple(b) for b in lists), 0.1)) == ref
    assert as_dict(cr.frequent_itemsets(pd.Series(lists, index=np.arange(60) * 7), 0.1)) == ref  # by position
    assert as_dict(cr.frequent_itemsets([set(b) for b in lists], 0.1)) == ref
    pairs = pd.DataFrame([(u, i) for u, b in enumerate(lists) for i in b], columns=["user", "item"])
    users_as_baskets = cr.Interactions.from_pandas(pairs, "user", "item")
    # users with no items are not in Interactions: compare with the same count threshold
    assert as_dict(cr.frequent_itemsets(users_as_baskets, 6)) == as_dict(cr.frequent_itemsets(lists, 6))


def test_to_pandas_matches_mlxtend():
    mlx = pytest.importorskip("mlxtend.frequent_patterns")
    rng = np.random.default_rng(1)
    onehot = pd.DataFrame(rng.random((80, 10)) < 0.35, columns=[f"c{j}" for j in range(10)])
    ours = cr.frequent_itemsets(onehot, 0.05).to_pandas()
    theirs = mlx.fpgrowth(onehot, min_support=0.05, use_colnames=True)
    a = dict(zip(ours["itemsets"], ours["support"]))
    b = dict(zip(theirs["itemsets"], theirs["support"]))
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-12)
    assert list(ours.columns) == ["support", "itemsets"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_same_output_on_one_and_two_threads(algorithm):
    rng = np.random.default_rng(2)
    baskets = [list(rng.choice(30, size=rng.integers(0, 12), replace=False)) for _ in range(400)]
    a = cr.frequent_itemsets(baskets, 8, algorithm=algorithm, n_threads=1)
    b = cr.frequent_itemsets(baskets, 8, algorithm=algorithm, n_threads=2)
    for name in ("offsets", "items", "counts"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_concurrent_calls_give_identical_results():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(3)
    baskets = [list(rng.choice(25, size=8, replace=False)) for _ in range(300)]
    ref = cr.frequent_itemsets(baskets, 10)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: cr.frequent_itemsets(baskets, 10, n_threads=2), range(6)))
    for r in results:
        np.testing.assert_array_equal(r.items, ref.items)
        np.testing.assert_array_equal(r.counts, ref.counts)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_max_itemsets_stops_with_clear_error(algorithm):
    dense = [list(range(20))] * 5  # 2^20 - 1 frequent itemsets
    with pytest.raises(ValueError, match="max_itemsets=1000"):
        cr.frequent_itemsets(dense, 1, algorithm=algorithm, max_itemsets=1000)
    assert len(cr.frequent_itemsets(dense, 1, algorithm=algorithm, max_len=2, max_itemsets=1000)) == 20 + 190


# ---- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5, float("nan"), True, "0.1", -3])
def test_bad_min_support(bad):
    with pytest.raises(ValueError, match="min_support"):
        cr.frequent_itemsets([[1, 2]], bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match="no baskets"):
        cr.frequent_itemsets([], 0.1)
    with pytest.raises(ValueError, match="algorithm"):
        cr.frequent_itemsets([[1]], 1, algorithm="eclat")
    with pytest.raises(ValueError, match="max_len"):
        cr.frequent_itemsets([[1]], 1, max_len=0)
    with pytest.raises(ValueError, match="max_itemsets"):
        cr.frequent_itemsets([[1]], 1, max_itemsets=0)
    with pytest.raises(ValueError, match="n_threads"):
        cr.frequent_itemsets([[1]], 1, n_threads=-1)
    with pytest.raises(ValueError, match="NaN"):
        cr.frequent_itemsets(pd.DataFrame({"a": [1.0, np.nan], "b": [0.0, 1.0]}), 1)
    with pytest.raises(ValueError, match="0/1"):
        cr.frequent_itemsets(pd.DataFrame({"a": [2, 0], "b": [0, 1]}), 1)
    with pytest.raises(ValueError, match="basket 1 is a string"):
        cr.frequent_itemsets([["a"], "ab"], 1)
    with pytest.raises(ValueError, match="baskets"):
        cr.frequent_itemsets([[1], [[2]]], 1)  # an unhashable item id
    with pytest.raises(ValueError, match="baskets"):
        cr.frequent_itemsets(42, 1)
    with pytest.raises(ValueError, match="NaN"):
        cr.frequent_itemsets(sp.csr_matrix(np.array([[np.nan, 1.0]])), 1)


def test_core_rejects_corrupt_csr():
    ok = dict(indptr=np.array([0, 2, 3]), indices=np.array([0, 1, 1], np.int32), n_items=2, min_count=1)
    assert len(_core.frequent_itemsets(**ok)[2]) == 3
    bad_cases = [
        (dict(indptr=np.array([0, 3, 2])), "indptr"),  # not monotone (and mismatch)
        (dict(indptr=np.array([0, 2, 4])), "indptr\\[-1\\]"),  # does not cover indices
        (dict(indptr=np.array([1, 2, 3])), "indptr\\[0\\]"),
        (dict(indices=np.array([0, 5, 1], np.int32)), "out of range"),
        (dict(indices=np.array([0, -1, 1], np.int32)), "out of range"),
        (dict(indices=np.array([0.0, 1.0, 1.0])), "integer"),
        (dict(indptr=np.array([[0, 2, 3]])), "1-D"),
        (dict(min_count=0), "min_count"),
        (dict(n_items=-1), "n_cols"),
    ]
    for change, message in bad_cases:
        with pytest.raises(ValueError, match=message):
            _core.frequent_itemsets(**{**ok, **change})
    with pytest.raises(ValueError, match="algorithm"):
        _core.frequent_itemsets(**ok, algorithm="eclat")
    with pytest.raises(ValueError, match="max_len"):
        _core.frequent_itemsets(**ok, max_len=-1)
    with pytest.raises(ValueError, match="n_threads"):
        _core.frequent_itemsets(**ok, n_threads=-2)


# ---- the real basket files (known counts) ----------------------------------------------------
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_groceries(algorithm):
    baskets = groceries()
    r = cr.frequent_itemsets(baskets, 0.001, algorithm=algorithm)
    # 169 items (as SOURCE.md counts) and 13,492 itemsets at 0.1 %; pyfim agrees on this input
    assert len(r.item_ids) == 169 and r.min_count == 10
    assert len(r) == 13492
    assert as_dict(r) == pyfim_dict(baskets, 0.001)
    top = dict(zip(r.to_pandas()["itemsets"], r.support))
    assert top[frozenset({"whole milk"})] == pytest.approx(0.2555, abs=5e-5)


def test_groceries_line_strip_parse_gives_the_13488_of_the_issue():
    # Stripping whole lines only turns "cream cheese " into "cream cheese" where it ends a line,
    # so one item becomes two (171 in all); that parse is where the issue's 13,488 comes from.
    # The file has 169 items and 13,492 itemsets at 0.1 % (what arules reports). On the same
    # input, the same answer as pyfim.
    baskets = groceries(strip_lines_only=True)
    r = cr.frequent_itemsets(baskets, 0.001)
    assert len(r.item_ids) == 171 and len(r) == 13488
    assert as_dict(r) == pyfim_dict(baskets, 0.001)


@pytest.mark.parametrize("min_support,expected", [(0.005, 580), (0.0005, 19242)])
def test_retail(min_support, expected):
    baskets = fimi("retail")
    assert len(baskets) == 88162
    r = cr.frequent_itemsets(baskets, min_support)
    assert len(r) == expected
    np.testing.assert_array_equal(ours_table(r), pyfim_table(baskets, min_support))
    if expected == 580:
        np.testing.assert_array_equal(
            ours_table(cr.frequent_itemsets(baskets, min_support, algorithm="apriori")), ours_table(r)
        )


def test_mushroom():
    baskets = fimi("mushroom")
    r = cr.frequent_itemsets(baskets, 0.1)
    # Item 85 is in all 8,124 baskets: {85} is frequent (support 1.0) and mlxtend reports it, but
    # pyfim leaves it out (it treats items in every transaction as part of the empty set), hence
    # the issue's 574,430. Everything else is identical.
    assert len(r) == 574431
    ours = ours_table(r)
    singleton_85 = (ours[:, 0] == 85) & (ours[:, 1] == np.iinfo(np.int64).max)
    assert ours[singleton_85, -1].tolist() == [8124]
    ref = pyfim_table(baskets, 0.1)
    assert len(ref) == 574430
    np.testing.assert_array_equal(ours[~singleton_85], ref)
