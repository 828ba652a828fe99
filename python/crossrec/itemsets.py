"""Frequent itemsets (FP-growth, Apriori) and association rules, mined in C++.

Definitions, for a collection of N baskets (transactions, sets of items):

* the *support count* of an itemset X is the number of baskets that contain every item of X,
  its *support* supp(X) that count divided by N;
* X is *frequent* when supp(X) >= min_support;
* a *rule* X -> Y splits a frequent itemset into a non-empty antecedent X and a non-empty
  consequent Y, with support supp(X u Y), confidence supp(X u Y) / supp(X),
  lift confidence / supp(Y), leverage supp(X u Y) - supp(X) supp(Y) and
  conviction (1 - supp(Y)) / (1 - confidence) (infinite when confidence is 1).

The output matches mlxtend's ``fpgrowth``/``apriori`` and ``association_rules`` (same itemsets,
supports and metrics) as flat arrays, with ``to_pandas()`` for mlxtend's DataFrame layout.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import _core
from ._validation import check_choice, check_float, check_n_threads, check_positive_int
from .data import Interactions

__all__ = ["FrequentItemsets", "frequent_itemsets", "association_rules"]

RULE_METRICS = ("support", "confidence", "lift", "leverage", "conviction")
_DEFAULT_MAX_ITEMSETS = 10_000_000
_DEFAULT_MAX_RULES = 10_000_000


class FrequentItemsets:
    """Frequent itemsets as flat arrays (returned by :func:`frequent_itemsets`).

    Attributes
    ----------
    offsets : (n + 1,) int64
        Itemset ``s`` is ``items[offsets[s]:offsets[s + 1]]``.
    items : int32
        Positions into ``item_ids``, in mining order within each itemset (not sorted; see
        ``sorted_items``).
    counts : (n,) int64
        Support count of each itemset (number of baskets containing it).
    item_ids : (n_items,) array
        The original item ids.
    n_baskets : int
        Number of baskets mined (the support denominator).
    min_count : int
        The absolute support threshold that was applied.
    """

    def __init__(
        self,
        offsets: np.ndarray,
        items: np.ndarray,
        counts: np.ndarray,
        item_ids: np.ndarray,
        n_baskets: int,
        min_count: int,
    ):
        self.offsets = offsets
        self.items = items
        self.counts = counts
        self.item_ids = item_ids
        self.n_baskets = int(n_baskets)
        self.min_count = int(min_count)
        self._sorted: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.counts)

    def __repr__(self) -> str:
        return (
            f"FrequentItemsets({len(self)} itemsets over {len(self.item_ids)} items, "
            f"{self.n_baskets} baskets, min_count={self.min_count})"
        )

    @property
    def support(self) -> np.ndarray:
        """Support fractions, counts / n_baskets (float64)."""
        return self.counts / float(self.n_baskets)

    def sorted_items(self, n_threads: int = 0) -> np.ndarray:
        """A copy of ``items`` sorted ascending within each itemset (computed once, cached)."""
        if self._sorted is None:
            self._sorted = _core.sort_itemsets(self.offsets, self.items, check_n_threads(n_threads))
        return self._sorted

    @property
    def lengths(self) -> np.ndarray:
        """Number of items of each itemset."""
        return np.diff(self.offsets)

    def itemset(self, s: int) -> frozenset:
        """Itemset ``s`` as a frozenset of original ids."""
        return frozenset(self.item_ids[self.items[self.offsets[s] : self.offsets[s + 1]]].tolist())

    def to_dict(self) -> dict:
        """{frozenset of ids: support count}."""
        return dict(zip(itemset_frozensets(self.item_ids, self.items, self.offsets), self.counts.tolist()))

    def to_pandas(self) -> pd.DataFrame:
        """mlxtend's layout: columns ``support`` (fraction) and ``itemsets`` (frozensets of ids)."""
        return pd.DataFrame(
            {
                "support": self.support,
                "itemsets": pd.Series(itemset_frozensets(self.item_ids, self.items, self.offsets), dtype=object),
            }
        )


def frequent_itemsets(
    baskets: Any,
    min_support: float | int = 0.001,
    algorithm: str = "fpgrowth",
    max_len: Optional[int] = None,
    max_itemsets: int = _DEFAULT_MAX_ITEMSETS,
    n_threads: int = 0,
) -> FrequentItemsets:
    """All itemsets contained in at least ``min_support`` of the baskets.

    Parameters
    ----------
    baskets : sequence of baskets, Interactions, scipy sparse matrix, DataFrame or 2-D array
        A sequence (e.g. list) of baskets, each a sequence of hashable item ids (repeats inside a
        basket count once); or ``Interactions`` (each user's items are a basket); or a baskets x
        items sparse matrix (any non-zero entry means "contains", item ids are the column
        numbers); or a one-hot DataFrame / array of 0/1 or bool values as mlxtend takes (item
        ids are the column labels).
    min_support : float or int
        A float in (0, 1] is a fraction of the baskets (an itemset is frequent when
        count / n_baskets >= min_support, compared as mlxtend does); an int >= 1 is an absolute
        count.
    algorithm : {"fpgrowth", "apriori"}
        FP-growth (default, fastest) or level-wise Apriori; both give the same itemsets.
    max_len : int, optional
        Longest itemset to report (None: no limit).
    max_itemsets : int
        Stop with a ValueError once more itemsets than this are found, instead of exhausting
        memory (dense data at low support has exponentially many).
    n_threads : int
        Threads (0 = all cores). The result does not depend on it.

    Returns
    -------
    FrequentItemsets
        Flat arrays; ``.to_pandas()`` gives mlxtend's DataFrame.
    """
    check_choice(algorithm, "algorithm", ("fpgrowth", "apriori"))
    max_len_arg = 0 if max_len is None else check_positive_int(max_len, "max_len")
    max_itemsets = check_positive_int(max_itemsets, "max_itemsets")
    threads = check_n_threads(n_threads)
    indptr, indices, n_items, item_ids = _baskets_csr(baskets)
    n_baskets = len(indptr) - 1
    if n_baskets == 0:
        raise ValueError("baskets: no baskets given")
    min_count = min_support_count(min_support, n_baskets)
    offsets, items, counts = _core.frequent_itemsets(
        indptr, indices, n_items, min_count, max_len_arg, max_itemsets, algorithm, threads
    )
    return FrequentItemsets(offsets, items, counts, item_ids, n_baskets, min_count)


def min_support_count(min_support: float | int, n_baskets: int) -> int:
    """The smallest count c with c / n_baskets >= min_support (fraction), or min_support itself
    when it is an int count."""
    if isinstance(min_support, bool) or not isinstance(min_support, (int, float, np.integer, np.floating)):
        raise ValueError(f"min_support must be a fraction in (0, 1] or an int count, got {min_support!r}")
    if isinstance(min_support, (int, np.integer)):
        if min_support < 1:
            raise ValueError(f"min_support as a count must be >= 1, got {min_support}")
        return int(min_support)
    frac = check_float(min_support, "min_support", 0.0, 1.0, strict_min=True)
    c = max(1, int(np.ceil(frac * n_baskets)))
    # float rounding of frac * n: step to the exact boundary of count / n >= frac
    while c > 1 and (c - 1) / n_baskets >= frac:
        c -= 1
    while c / n_baskets < frac:
        c += 1
    return c


def association_rules(
    itemsets: FrequentItemsets | pd.DataFrame,
    metric: str = "confidence",
    min_threshold: float = 0.8,
    max_rules: int = _DEFAULT_MAX_RULES,
    n_threads: int = 0,
) -> pd.DataFrame:
    """Association rules X -> Y from frequent itemsets, filtered by ``metric >= min_threshold``.

    Parameters
    ----------
    itemsets : FrequentItemsets or DataFrame
        The output of :func:`frequent_itemsets`, or a DataFrame with columns ``support`` and
        ``itemsets`` (frozensets) as mlxtend produces. Every subset of a listed itemset must be
        listed too (true of complete frequent-itemset output; mind ``max_len``, which keeps it).
    metric : {"confidence", "lift", "leverage", "conviction", "support"}
        The measure the threshold applies to (definitions in the module docstring).
    min_threshold : float
        Keep rules with ``metric >= min_threshold``.
    max_rules : int
        Stop with a ValueError once more rules than this pass.
    n_threads : int
        Threads (0 = all cores).

    Returns
    -------
    DataFrame
        Columns ``antecedents``, ``consequents`` (frozensets of ids), ``antecedent support``,
        ``consequent support``, ``support``, ``confidence``, ``lift``, ``leverage``,
        ``conviction``; one row per rule, grouped by itemset.
    """
    r = rule_arrays(itemsets, metric, min_threshold, max_rules=max_rules, n_threads=n_threads)
    ids = r["item_ids"]
    return pd.DataFrame(
        {
            "antecedents": pd.Series(
                itemset_frozensets(ids, r["antecedents"].indices, r["antecedents"].indptr), dtype=object
            ),
            "consequents": pd.Series(
                itemset_frozensets(ids, r["consequents"].indices, r["consequents"].indptr), dtype=object
            ),
            "antecedent support": r["antecedent_support"],
            "consequent support": r["consequent_support"],
            "support": r["support"],
            "confidence": r["confidence"],
            "lift": r["lift"],
            "leverage": r["leverage"],
            "conviction": r["conviction"],
        }
    )


def rule_arrays(
    itemsets: FrequentItemsets | pd.DataFrame,
    metric: str = "confidence",
    min_threshold: float = 0.8,
    max_consequent: Optional[int] = None,
    max_rules: int = _DEFAULT_MAX_RULES,
    n_threads: int = 0,
) -> dict:
    """The rules of :func:`association_rules` as arrays: ``antecedents`` and ``consequents``
    (rules x items CSR matrices over positions in ``item_ids``) and one float64 array per
    metric. ``max_consequent`` limits the consequent size (None: any)."""
    check_choice(metric, "metric", RULE_METRICS)
    threshold = float(min_threshold)
    if np.isnan(threshold):
        raise ValueError("min_threshold must not be NaN")
    max_cons = 0 if max_consequent is None else check_positive_int(max_consequent, "max_consequent")
    max_rules = check_positive_int(max_rules, "max_rules", minimum=0)
    threads = check_n_threads(n_threads)
    offsets, items, support, item_ids = _itemset_arrays(itemsets)
    which, mask, s_x, s_y = _core.association_rules(
        offsets, items, support, metric, threshold, max_cons, max_rules, threads
    )
    # Expand (itemset, antecedent bit mask) into item lists without a Python loop over rules.
    starts = offsets[which]
    lens = offsets[which + 1] - starts
    rule_of = np.repeat(np.arange(len(which)), lens)
    first = np.zeros(len(which) + 1, np.int64)
    np.cumsum(lens, out=first[1:])
    pos = np.arange(first[-1]) - first[:-1][rule_of]
    member = items[starts[rule_of] + pos]
    in_ante = ((mask[rule_of] >> pos.astype(np.uint64)) & np.uint64(1)).astype(bool)
    shape = (len(which), len(item_ids))
    ante = _rows_to_csr(rule_of[in_ante], member[in_ante], shape)
    cons = _rows_to_csr(rule_of[~in_ante], member[~in_ante], shape)
    s_xy = support[which]
    confidence = s_xy / s_x
    with np.errstate(divide="ignore"):
        conviction = np.where(confidence >= 1.0, np.inf, (1.0 - s_y) / np.maximum(1.0 - confidence, 1e-300))
    return {
        "item_ids": item_ids,
        "itemset": which,
        "antecedents": ante,
        "consequents": cons,
        "antecedent_support": s_x,
        "consequent_support": s_y,
        "support": s_xy,
        "confidence": confidence,
        "lift": confidence / s_y,
        "leverage": s_xy - s_x * s_y,
        "conviction": conviction,
    }


# ---- input coercion -----------------------------------------------------------------------
def _baskets_csr(baskets: Any):
    """(indptr int64, indices int32, n_items, item_ids) of any supported basket input."""
    if isinstance(baskets, Interactions):
        m = baskets.matrix
        return m.indptr.astype(np.int64), m.indices.astype(np.int32), m.shape[1], baskets.item_ids
    if isinstance(baskets, pd.DataFrame):
        return _onehot_csr(baskets.to_numpy(), np.asarray(baskets.columns, dtype=object), "baskets")
    if sp.issparse(baskets):
        m = sp.csr_matrix(baskets)
        if m.ndim != 2:
            raise ValueError("baskets: expected a 2-D sparse matrix")
        if m.nnz and not np.all(np.isfinite(m.data)):
            raise ValueError("baskets: sparse matrix holds NaN or infinite values")
        m.eliminate_zeros()
        return (m.indptr.astype(np.int64), m.indices.astype(np.int32), m.shape[1], np.arange(m.shape[1]))
    if isinstance(baskets, np.ndarray):
        if baskets.ndim == 2:
            return _onehot_csr(baskets, np.arange(baskets.shape[1]), "baskets")
        baskets = baskets.tolist()
    if isinstance(baskets, (str, bytes)) or not hasattr(baskets, "__len__"):
        raise ValueError(
            "baskets: expected a sequence of baskets, a sparse matrix or a one-hot DataFrame, "
            f"got {type(baskets).__name__}"
        )
    try:
        indptr, codes, ids = _core.encode_baskets(baskets)
    except TypeError as exc:
        raise ValueError(f"baskets: {exc}") from None
    ids = np.asarray(ids) if isinstance(ids, np.ndarray) else _object_array(ids)
    return indptr, codes, len(ids), ids


def _onehot_csr(values: np.ndarray, columns: np.ndarray, name: str):
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"{name}: one-hot input must be 2-D, got shape {values.shape}")
    if values.dtype != bool:
        if values.dtype.kind not in "fiub":
            try:
                values = values.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: one-hot input must hold 0/1 or True/False") from None
        if values.dtype.kind == "f" and np.isnan(values).any():
            raise ValueError(f"{name}: one-hot input holds NaN")
        if values.size and not np.isin(values, (0, 1)).all():
            raise ValueError(f"{name}: one-hot input must hold only 0/1 or True/False")
    m = sp.csr_matrix(values.astype(bool, copy=False))
    return m.indptr.astype(np.int64), m.indices.astype(np.int32), m.shape[1], columns


def _object_array(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _itemset_arrays(itemsets):
    """(offsets, items sorted per itemset, support fractions, item_ids) for the rule kernel."""
    if isinstance(itemsets, FrequentItemsets):
        return itemsets.offsets, itemsets.sorted_items(), itemsets.support, itemsets.item_ids
    if isinstance(itemsets, pd.DataFrame):
        if not {"support", "itemsets"} <= set(itemsets.columns):
            raise ValueError("itemsets: a DataFrame needs the columns 'support' and 'itemsets'")
        sets = [list(s) for s in itemsets["itemsets"]]
        indptr, codes, ids = _core.encode_baskets(sets)
        ids = np.asarray(ids) if isinstance(ids, np.ndarray) else _object_array(ids)
        support = np.asarray(itemsets["support"], dtype=np.float64)
        return indptr, _core.sort_itemsets(indptr, codes), support, ids
    raise ValueError(f"itemsets: expected FrequentItemsets or a DataFrame, got {type(itemsets).__name__}")


def _rows_to_csr(rows: np.ndarray, cols: np.ndarray, shape) -> sp.csr_matrix:
    """CSR from (row, col) pairs already grouped by row in ascending order."""
    indptr = np.zeros(shape[0] + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sp.csr_matrix((np.ones(len(cols), np.float32), cols.astype(np.int32), indptr), shape=shape)


def itemset_frozensets(ids: np.ndarray, items: np.ndarray, offsets: np.ndarray) -> list:
    """One frozenset of ids per CSR row (object construction only; no per-row arithmetic)."""
    flat = np.asarray(ids, dtype=object)[items].tolist()
    bounds = np.asarray(offsets).tolist()
    return [frozenset(flat[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
