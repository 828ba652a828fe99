"""Association rules across domains (``CrossDomainRules``): source items imply target items.

Every overlapping user (source data and target training data) gives one joint basket of
domain-tagged items: the source items in columns ``0 .. n_source_items - 1`` and the target items
after them, so "book 7" and "music 7" are different items. FP-growth (C++) mines the frequent
itemsets of those baskets and the kept rules are ``X -> {y}`` with every item of ``X`` in the
source and ``y`` in the target. A user's *source* basket then triggers rules and a target item
scores the maximum (or sum) of ``metric`` over the rules recommending it, exactly as
:class:`crossrec.AssociationRules` does within one domain; items no rule reaches come after, by
target popularity. A user cold in the target is served from their source basket alone.

With ``shared="items"`` the roles of users and items swap: an item's "basket" is the set of
users that interacted with it, tagged by domain; rules "source users -> target user" recommend,
for an item cold in the target, the target users whose taste the item's source raters imply.
Such rules are rarely frequent (users of two domains are different people), so item-shared pairs
are better served by :class:`CrossDomainKNN`; the class accepts them for completeness.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import _core
from .._validation import check_choice, check_float, check_positive_int
from ..schema import Array, Csr, Scalar
from .base import TransferRecommender
from ..itemsets import frequent_itemsets, rule_arrays
from .domains import CrossDomain
from .knn import check_any_pair

_SCORE_METRICS = ("confidence", "lift", "conviction", "support")


def _binary(m: sp.csr_matrix, min_value: Optional[float]) -> sp.csr_matrix:
    keep = np.ones(m.nnz, bool) if min_value is None else m.data >= min_value
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))[keep]
    return sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (rows, m.indices[keep])), shape=m.shape)


class CrossDomainRules(TransferRecommender):
    """Cross-domain association rules mined from overlapping users' joint baskets.

    Parameters
    ----------
    min_support : float or int
        Itemset support among the joint baskets: a fraction in (0, 1] or an int count.
    min_confidence : float
        Keep rules with confidence >= this.
    metric : {"lift", "confidence", "conviction", "support"}
        The rule measure that scores items.
    max_len : int or None
        Longest itemset (antecedents have at most max_len - 1 source items).
    aggregate : {"max", "sum"}
        How rules recommending the same item combine.
    min_rating : float or None
        For explicit data, only ratings >= this enter the baskets (None: every interaction).
    max_itemsets : int
        Fit stops with a ValueError beyond this many itemsets.
    n_threads : int
        0 = all cores.

    Attributes
    ----------
    antecedents_ : (n_rules, n_source_items) CSR; consequent_ : (n_rules,) target item index;
    rule_scores_, rule_confidence_ : per rule; n_itemsets_ : itemsets mined.
    """

    item_sharing = "native"  # handles both sides itself

    # "x": shared entities, "sources": the source side's columns, "others": the target's other side
    state_schema = {
        "shared_users_": Scalar(bool),
        "source_baskets_": Csr(("x", "sources")),
        "source_ids_": Array(("sources",), ("i", "u", "f", "U", "S", "b", "O")),
        "other_support_": Array(("others",), "float32"),
        "antecedents_": Csr(("rules", "sources")),
        "consequent_": Array(("rules",), "int32", index_of="others"),
        "rule_confidence_": Array(("rules",), "float64"),
        "rule_scores_": Array(("rules",), "float32", finite=False),  # conviction is +inf at confidence 1
        "n_itemsets_": Scalar(int, minimum=0),
        "n_baskets_": Scalar(int, minimum=0),
    }

    def validate_state(self) -> None:
        super().validate_state()
        if hasattr(self, "source_baskets_"):
            x, others = (self.n_users_, self.n_items_) if self.shared_users_ else (self.n_items_, self.n_users_)
            if self.source_baskets_.shape[0] != x or len(self.other_support_) != others:
                raise ValueError(
                    f"CrossDomainRules: source_baskets_ rows {self.source_baskets_.shape[0]} and other_support_ "
                    f"length {len(self.other_support_)}; expected {x} and {others} from the id maps"
                )
            if np.isnan(self.rule_scores_).any():
                raise ValueError("CrossDomainRules.rule_scores_ holds NaN; expected numbers (+inf allowed)")

    def __init__(
        self,
        min_support: float | int = 0.02,
        min_confidence: float = 0.05,
        metric: str = "confidence",
        max_len: Optional[int] = 2,
        aggregate: str = "sum",
        min_rating: Optional[float] = None,
        max_itemsets: int = 10_000_000,
        n_threads: int = 0,
    ):
        self.min_support = min_support
        self.min_confidence = min_confidence
        self.metric = metric
        self.max_len = max_len
        self.aggregate = aggregate
        self.min_rating = min_rating
        self.max_itemsets = max_itemsets
        self.n_threads = n_threads

    def fit(self, pair: CrossDomain) -> CrossDomainRules:
        pair = check_any_pair(pair, "CrossDomainRules")
        check_choice(self.metric, "metric", _SCORE_METRICS)
        check_choice(self.aggregate, "aggregate", ("max", "sum"))
        min_conf = check_float(self.min_confidence, "min_confidence", 0.0, 1.0)
        if self.max_len is not None and check_positive_int(self.max_len, "max_len") < 2:
            raise ValueError(f"max_len must be >= 2 (a rule needs an antecedent and a consequent), got {self.max_len}")
        min_rating = None if self.min_rating is None else check_float(self.min_rating, "min_rating")
        m = self._start_fit(pair.target)
        threads = self._threads()
        users = pair.shared == "users"
        S = _binary(pair.source.matrix if users else pair.source.matrix.T.tocsr(), min_rating)
        T = _binary(m if users else m.T.tocsr(), min_rating)
        n_src = S.shape[1]
        both = np.flatnonzero((np.diff(S.indptr) > 0) & (np.diff(T.indptr) > 0))
        if len(both) == 0:
            raise ValueError("CrossDomainRules: no shared entity has source and target data to mine rules from")
        joint = sp.hstack([S[both], T[both]], format="csr")
        itemsets = frequent_itemsets(
            joint, self.min_support, max_len=self.max_len, max_itemsets=self.max_itemsets, n_threads=threads
        )
        rules = rule_arrays(itemsets, "confidence", min_conf, max_consequent=1, n_threads=threads)
        # item ids of the mined matrix are its column numbers; keep source -> target rules
        col = np.asarray(rules["item_ids"], np.int64)
        ante, cons = rules["antecedents"], rules["consequents"]
        ante_max = np.full(ante.shape[0], -1, np.int64)
        has = np.diff(ante.indptr) > 0
        ante_max[has] = np.maximum.reduceat(col[ante.indices], ante.indptr[:-1][has])
        cons_col = col[cons.indices[cons.indptr[:-1]]] if cons.shape[0] else np.zeros(0, np.int64)
        keep = has & (ante_max < n_src) & (cons_col >= n_src)
        a = ante[keep].tocoo()
        self.antecedents_ = sp.csr_matrix(
            (np.ones(a.nnz, np.float32), (a.row, col[a.col])), shape=(int(keep.sum()), n_src)
        )
        self.antecedents_.sort_indices()
        self.consequent_ = (cons_col[keep] - n_src).astype(np.int32)
        self.rule_confidence_ = rules["confidence"][keep]
        self.rule_scores_ = rules[self.metric][keep].astype(np.float32)
        self.n_itemsets_ = len(itemsets)
        self.n_baskets_ = len(both)
        self.source_baskets_ = S
        self.shared_users_ = users
        self.source_ids_ = np.asarray(pair.source.item_ids if users else pair.source.user_ids)
        n_other = T.shape[1]
        self.other_support_ = (np.bincount(T.indices, minlength=n_other) / max(T.shape[0], 1)).astype(np.float32)
        return self

    @property
    def n_rules_(self) -> int:
        return len(self.consequent_)

    def _entity_scores(self, entity_idx: np.ndarray) -> np.ndarray:
        """(len(entity_idx), n_other) rule scores of the shared entities' source baskets."""
        n_src = self.source_baskets_.shape[1]
        n_other = len(self.other_support_)
        n = n_src + n_other  # consequents live after the source columns, as when mined
        A = self.antecedents_
        cons = sp.csr_matrix(
            (np.ones(self.n_rules_, np.float32), (np.arange(self.n_rules_), self.consequent_ + n_src)),
            shape=(self.n_rules_, n),
        )
        B = self.source_baskets_
        scores = _core.rule_scores(
            B.indptr.astype(np.int64),
            B.indices.astype(np.int32),
            n,
            np.ascontiguousarray(entity_idx, np.int32),
            A.indptr.astype(np.int64),
            A.indices.astype(np.int32),
            cons.indptr.astype(np.int64),
            cons.indices.astype(np.int32),
            self.rule_scores_,
            self.aggregate == "sum",
            self._threads(),
        )[:, n_src:]
        none = np.isneginf(scores)
        if none.any():
            # unreached: below every rule score, ordered by popularity in the target
            fallback = np.broadcast_to(self.other_support_ - np.float32(1.0), scores.shape)
            scores[none] = fallback[none]
        return scores

    def _score_block(self, user_idx):
        if self.shared_users_:
            return self._entity_scores(np.asarray(user_idx))
        return np.ascontiguousarray(self._entity_scores(np.arange(self.n_items_)).T[np.asarray(user_idx)])

    def rules_to_pandas(self) -> pd.DataFrame:
        """The kept rules: antecedents (frozensets of source ids), consequent (a target id), confidence, score."""
        self._check_fitted()
        if self.shared_users_:
            src_ids, tgt_ids = self.source_ids_, self.item_ids_
        else:
            src_ids, tgt_ids = self.source_ids_, self.user_ids_
        A = self.antecedents_
        return pd.DataFrame(
            {
                "antecedents": [
                    frozenset(src_ids[A.indices[A.indptr[r] : A.indptr[r + 1]]]) for r in range(A.shape[0])
                ],
                "consequent": tgt_ids[self.consequent_],
                "confidence": self.rule_confidence_,
                "score": self.rule_scores_,
            }
        )
