"""Association rules as a recommender: "users who have X also have Y"."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from .. import _core
from .._validation import check_choice, check_float, check_positive_int
from ..data import Interactions
from ..explain import frame
from ..itemsets import itemset_frozensets, frequent_itemsets, rule_arrays
from ..schema import Array, Csr, Scalar
from .base import Recommender

_SCORE_METRICS = ("confidence", "lift", "conviction", "support")


class AssociationRules(Recommender):
    """Recommends the consequents of the association rules a user's items trigger.

    Each user's training items form a basket. ``fit`` mines the itemsets with support >=
    ``min_support`` (FP-growth, at most ``max_len`` items) and keeps the rules X -> {y} with one
    consequent item and confidence >= ``min_confidence``.

    Scores: a rule X -> {y} *fires* for a user whose basket contains all of X. Item y scores the
    maximum (``aggregate="max"``) or the sum (``"sum"``) of ``metric`` over the rules that fire
    and recommend it. Items no rule recommends come after all of those, in order of popularity
    (their score is support(y) - 1, which lies in [-1, 0) below every rule score).

    Parameters
    ----------
    min_support : float or int
        Itemset support threshold: a fraction of users in (0, 1] or an int count of users.
    min_confidence : float
        Keep rules with confidence >= this, in [0, 1].
    metric : {"confidence", "lift", "conviction", "support"}
        Default "confidence": NDCG@10 0.228 against 0.055 for "lift" (which favours rare
        consequents) on MovieLens 100K ratings >= 4 (``benchmarks/results/defaults.md``).
        The rule measure that scores items (all are >= 0; leverage, which can be negative, is
        not offered). Conviction is +inf for rules with confidence 1.
    max_len : int or None
        Longest itemset mined, so antecedents have at most max_len - 1 items. Small values keep
        fitting fast on users with long histories; None means no limit.
    aggregate : {"max", "sum"}
        How the rules recommending the same item combine.
    max_itemsets : int
        Fit stops with a ValueError beyond this many itemsets (lower min_support carefully).
    n_threads : int
        Threads (0 = all cores).
    """

    state_schema = {
        "n_itemsets_": Scalar(int, minimum=0),
        "antecedents_": Csr(("rules", "items")),
        "consequents_": Csr(("rules", "items")),
        "rule_confidence_": Array(("rules",), "float64"),
        "rule_scores_": Array(("rules",), "float32", finite=False),  # conviction is +inf at confidence 1
        "item_support_": Array(("items",), "float32"),
    }

    def __init__(
        self,
        min_support: float | int = 0.01,
        min_confidence: float = 0.1,
        metric: str = "confidence",
        max_len: Optional[int] = 3,
        aggregate: str = "max",
        max_itemsets: int = 10_000_000,
        n_threads: int = 0,
    ):
        self.min_support = min_support
        self.min_confidence = min_confidence
        self.metric = metric
        self.max_len = max_len
        self.aggregate = aggregate
        self.max_itemsets = max_itemsets
        self.n_threads = n_threads

    def fit(self, data: Interactions) -> "AssociationRules":
        """Mine the rules from the users' training items; returns self."""
        check_choice(self.metric, "metric", _SCORE_METRICS)
        check_choice(self.aggregate, "aggregate", ("max", "sum"))
        min_conf = check_float(self.min_confidence, "min_confidence", 0.0, 1.0)
        if self.max_len is not None:
            check_positive_int(self.max_len, "max_len")
        self._start_fit(data)
        threads = self._threads()
        itemsets = frequent_itemsets(
            self.seen_, self.min_support, max_len=self.max_len, max_itemsets=self.max_itemsets, n_threads=threads
        )
        rules = rule_arrays(itemsets, "confidence", min_conf, max_consequent=1, n_threads=threads)
        self.n_itemsets_ = len(itemsets)
        self.antecedents_ = rules["antecedents"]
        self.consequents_ = rules["consequents"]
        self.rule_confidence_ = rules["confidence"]
        self.rule_scores_ = rules[self.metric].astype(np.float32)
        self.item_support_ = (np.diff(self.seen_.tocsc().indptr) / self.seen_.shape[0]).astype(np.float32)
        return self

    def validate_state(self) -> None:
        super().validate_state()
        if hasattr(self, "consequents_") and np.any(np.diff(self.consequents_.indptr) != 1):
            raise ValueError("AssociationRules.consequents_ must hold exactly one item per rule")
        if hasattr(self, "rule_scores_") and np.isnan(self.rule_scores_).any():
            raise ValueError("AssociationRules.rule_scores_ holds NaN; expected numbers (+inf allowed)")

    @property
    def n_rules_(self) -> int:
        return self.antecedents_.shape[0]

    def _score_block(self, user_idx: np.ndarray) -> np.ndarray:
        seen = self.seen_
        scores = _core.rule_scores(
            seen.indptr,
            seen.indices,
            self.n_items_,
            np.asarray(user_idx, np.int32),
            self.antecedents_.indptr,
            self.antecedents_.indices,
            self.consequents_.indptr,
            self.consequents_.indices,
            self.rule_scores_,
            self.aggregate == "sum",
            self._threads(),
        )
        none = np.isneginf(scores)
        if none.any():
            fallback = np.broadcast_to(self.item_support_ - np.float32(1.0), scores.shape)
            scores[none] = fallback[none]
        return scores

    def explain(self, user, item) -> pd.DataFrame:
        """The rules that fire for ``user`` and recommend ``item``: one row per rule (``id`` its
        antecedent as a frozenset of item ids, ``value`` its ``metric`` value, ``weight`` its
        confidence), with the rule(s) that make the score as contributions: every fired rule
        with ``aggregate="sum"``, the best one with ``"max"`` (the others contribute 0). With no
        rule the score is the popularity fallback support(item) - 1 (one row). The rows sum to
        the item's ranking score; see :mod:`crossrec.explain`."""
        self._check_fitted()
        u = int(self.user_map_.lookup(user)[0])
        i = int(self.item_map_.lookup(item)[0])
        basket = np.zeros(self.n_items_, bool)
        basket[self.seen_.indices[self.seen_.indptr[u] : self.seen_.indptr[u + 1]]] = True
        ante, cons = self.antecedents_, self.consequents_
        which = np.flatnonzero(cons.indices[cons.indptr[:-1]] == i)
        fired = [r for r in which if basket[ante.indices[ante.indptr[r] : ante.indptr[r + 1]]].all()]
        score = float(self.score_indices(np.array([u], np.int32))[0, i])
        ids = self.item_map_.ids
        if not fired:
            support = float(self.item_support_[i])
            return frame([("popularity fallback: support - 1", item, support, None, support - 1.0)], score)
        values = self.rule_scores_[fired].astype(np.float64)
        if self.aggregate == "sum":
            shares = values
        else:
            shares = np.zeros(len(fired))
            shares[int(np.argmax(values))] = values.max()
        rows = [
            (
                "rule",
                frozenset(ids[ante.indices[ante.indptr[r] : ante.indptr[r + 1]]].tolist()),
                values[k],
                float(self.rule_confidence_[r]),
                shares[k],
            )
            for k, r in enumerate(fired)
        ]
        rows.sort(key=lambda row: -row[2])
        return frame(rows, score, user=user, item=item)

    def rules_to_pandas(self) -> pd.DataFrame:
        """The kept rules: antecedents (frozensets of item ids), consequent (an item id),
        confidence and score (the ``metric`` value)."""
        self._check_fitted()
        ids = self.item_ids_
        cons = self.consequents_
        return pd.DataFrame(
            {
                "antecedents": itemset_frozensets(ids, self.antecedents_.indices, self.antecedents_.indptr),
                "consequent": ids[cons.indices[cons.indptr[:-1]]],
                "confidence": self.rule_confidence_,
                "score": self.rule_scores_,
            }
        )
