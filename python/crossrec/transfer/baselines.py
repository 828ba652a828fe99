"""The honest no-transfer baseline for a cold-start pair."""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..data import Interactions
from ..models.base import Recommender
from ..models.baseline import MostPopular
from ._common import check_factor_model, clone, default_factor_model
from .base import TransferRecommender
from .domains import CrossDomain
from ..schema import Array, Model


class NoTransfer(TransferRecommender):
    """Target-only model: a factor model for users with target data, and for users without any
    (cold) the best one can do without the source:

    * explicit: the *average* user row of the users with target data (mu + mean bias + mean
      factors . y_i + b_i), not a zero row - so a transfer method's gain is not just that intercept;
    * implicit: popularity (a zero factor row ranks nothing).

    Parameters
    ----------
    model : unfitted factor model (default: the transfer default ALS), or one already fitted on the target
        (then used as is; it is not modified).

    Attributes
    ----------
    model_ : the target model with cold rows filled; popular_ : MostPopular; has_data_ : bool per user.
    """

    state_schema = {
        "has_data_": Array(("users",), "bool"),
        "model_": Model(users="users", items="items", nullable=True),
        "popular_": Model(users="users", items="items"),
    }

    def __init__(self, model: Optional[Recommender] = None):
        self.model = model

    def fit(self, pair: CrossDomain | Interactions) -> NoTransfer:
        """``data``: the target Interactions, or a CrossDomain (its target is used)."""
        data = pair.target if isinstance(pair, CrossDomain) else pair
        if not isinstance(data, Interactions):
            raise ValueError(f"NoTransfer.fit expects a CrossDomain pair or Interactions, got {type(pair).__name__}")
        self._start_fit(data)
        base = self.model if self.model is not None else default_factor_model()
        if base.is_fitted:
            if not base.user_map_ == data.user_map:
                raise ValueError("NoTransfer: the fitted model was trained in another user id space")
            fitted = base
        else:
            fitted = clone(base).fit(data)
        self.has_data_ = data.user_counts() > 0
        model = clone(fitted)
        for k, v in vars(fitted).items():
            setattr(model, k, v)
        if data.explicit and self.has_data_.any():
            factor_model = check_factor_model(model, "NoTransfer", "model")
            rows = factor_model.user_rows()  # factors and bias
            factor_model.set_user_rows(np.flatnonzero(~self.has_data_), rows[self.has_data_].mean(0))
        self.model_ = model
        self.popular_ = MostPopular().fit(data)
        return self

    def _score_block(self, user_idx):
        user_idx = np.asarray(user_idx)
        cold = ~self.has_data_[user_idx]
        if not cold.any() or _explicit(self.model_):
            return np.array(self.model_.score_indices(user_idx), np.float32, copy=True)
        # implicit: a zero row ranks nothing, so cold users get popularity (and only the warm
        # users are scored by the factor model)
        s = np.empty((len(user_idx), self.popular_.n_items_), np.float32)
        s[cold] = self.popular_.score_indices(user_idx[cold])
        if (~cold).any():
            s[~cold] = self.model_.score_indices(user_idx[~cold])
        return s

    def _predict_indices(self, user_idx, item_idx):
        return self.model_.predict_indices(user_idx, item_idx)


def _explicit(model) -> bool:
    if hasattr(model, "implicit_"):
        return not model.implicit_
    return not bool(getattr(model, "implicit", True))
