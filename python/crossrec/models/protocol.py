"""The scoring protocol: what crossrec's evaluation, robustness checks, hybrids, transfer methods
and distillation call on a fitted model, published as public names.

Every crossrec model (:class:`crossrec.Recommender` and :class:`crossrec.transfer.TransferRecommender`,
both built on :class:`crossrec.models.base.Recommender`) satisfies :class:`Scorer`; factor
models also satisfy :class:`FactorModel`. Code outside a model's class uses only these names.

How a model implements them (template methods, as in scikit-learn): the public methods below
check that the model is fitted and that the indices are in range, then call one protected hook
the model class overrides:

=========================================  =====================================================
public (call it)                           hook (override it in a model class)
=========================================  =====================================================
``scoring_factors(user_idx)``              ``_factors(user_idx)``: ``(U, V, item_bias or None)``
                                           for factor models, else None (the default)
``score_indices(user_idx)``                ``_score_block(user_idx)``: dense (len, n_items)
                                           scores; the default multiplies ``_factors``
``predict_indices(user_idx, item_idx)``    ``_predict_indices``: ratings of (user, item) pairs
``item_vectors()``                         ``_item_vectors()``: (n_items, d) or None
``recommend_indices(...)``                 (none: built on ``_factors`` / ``_score_block``)
``check_is_fitted(model)``                 ``is_fitted`` (property; default: has ``item_map_``)
=========================================  =====================================================

Indices are the model's internal user and item indices (``model.user_map_`` /
``model.item_map_`` turn external ids into them); public methods taking external ids
(``recommend``, ``predict``, ``score``) are built on these.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from ..data import IdMap
from ..errors import NotFittedError

#: ``(user_rows, item_factors, item_bias or None)``: scores are ``user_rows @ item_factors.T (+ item_bias)``.
FactorView = tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]


@runtime_checkable
class Scorer(Protocol):
    """A fitted model that scores, ranks and (maybe) predicts by internal indices."""

    user_map_: IdMap
    item_map_: IdMap

    @property
    def is_fitted(self) -> bool:
        """True once ``fit`` (or ``load``) has given the model its fitted state."""
        ...

    @property
    def n_users_(self) -> int: ...

    @property
    def n_items_(self) -> int: ...

    def scoring_factors(self, user_idx: Any) -> Optional[FactorView]:
        """``(U, V, item_bias)`` such that the users' scores are ``U @ V.T + item_bias``, or None
        for a model without factors. Lets callers rank or take moments without a dense block."""
        ...

    def score_indices(self, user_idx: Any) -> np.ndarray:
        """Dense (len(user_idx), n_items) scores; higher is better."""
        ...

    def predict_indices(self, user_idx: Any, item_idx: Any) -> np.ndarray:
        """Predicted ratings of the pairs ``(user_idx[k], item_idx[k])``; NotImplementedError for
        a ranking-only model."""
        ...

    def recommend_indices(
        self,
        user_idx: Any,
        n: int = 10,
        exclude_seen: bool = True,
        candidates: Optional[np.ndarray] = None,
        exclude: Optional[sp.csr_matrix] = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n item indices and scores per user (padded with -1 / -inf)."""
        ...

    def item_vectors(self) -> Optional[np.ndarray]:
        """Dense item representations (n_items, d) for similar_items, or None."""
        ...


@runtime_checkable
class FactorModel(Scorer, Protocol):
    """A fitted factor model: user and item rows a transfer method can reuse.

    A *user row* is the user's factors followed by their bias when the model has one
    (``[x_u, b_u]``), so a transfer method carries the rating level with the taste.
    :class:`crossrec.models.mf.FactorRecommender` (ALS, MF, BPR) and ``CMF`` implement it; such a
    model's ``fit`` also takes ``user_init`` / ``user_prior`` rows of ``user_width`` columns.
    """

    user_factors_: np.ndarray
    item_factors_: np.ndarray

    def user_width(self, explicit_data: bool = True) -> int:
        """Columns of a user row when fitted on data of this kind (factors, + 1 for a user bias)."""
        ...

    def user_rows(self) -> np.ndarray:
        """(n_users, user_width) float32 copy of the fitted user rows."""
        ...

    def set_user_rows(self, users: Any, rows: Any) -> Any:
        """Replace the rows of the given user indices (copying the arrays first); returns self."""
        ...


def check_is_fitted(model: Any) -> None:
    """Raise :class:`crossrec.NotFittedError` unless ``model`` is fitted (its ``is_fitted`` is
    True); a ValueError naming the type when it is not a crossrec model at all."""
    fitted = getattr(model, "is_fitted", None)
    if fitted is None:
        raise ValueError(f"expected a crossrec model, got {type(model).__name__}")
    if not fitted:
        raise NotFittedError(f"{type(model).__name__} is not fitted; call fit first")
