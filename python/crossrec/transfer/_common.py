"""Helpers shared by the transfer methods: checking the pair, cloning models, delegating scores."""

from __future__ import annotations

from typing import Optional, TypeVar


from ..models.base import Recommender
from ..models.mf import ALS, FactorRecommender
from .base import TransferRecommender
from .domains import CrossDomain


def check_pair(pair, who: str) -> CrossDomain:
    if not isinstance(pair, CrossDomain):
        raise ValueError(f"{who}.fit expects a crossrec.CrossDomain pair, got {type(pair).__name__}")
    if pair.shared != "users":
        raise ValueError(
            f"{who} transfers shared users; this pair shares {pair.shared!r} "
            "(swap the roles of users and items in both domains first)"
        )
    return pair


M = TypeVar("M", bound=Recommender)


def clone(model: M) -> M:
    """An unfitted copy with the same hyper-parameters."""
    return type(model)(**model.get_params())


def is_fitted(model: Optional[Recommender]) -> bool:
    return model is not None and model.is_fitted


def fitted_on(model: M, data, who: str, role: str) -> M:
    """``model`` if already fitted in ``data``'s id space, else a clone fitted on data."""
    if is_fitted(model):
        if len(model.user_map_) != data.n_users or not model.user_map_ == data.user_map:
            raise ValueError(
                f"{who}: the fitted {role} model was trained in another user id space; fit it on "
                f"pair.{role} (the aligned domain) or pass an unfitted model"
            )
        return model
    fitted = clone(model)
    fitted.fit(data)
    return fitted


def default_factor_model(explicit: Optional[bool] = None, source: bool = False) -> ALS:
    """The model the transfer methods use when given none: a new unfitted ``crossrec.ALS(factors=32,
    iterations=10, regularization=0.1, implicit=None, alpha=10.0)`` (the former ``TransferALS``
    defaults, the data's own feedback kind). ``source=True`` for the model fitted on the source
    domain, with ``explicit`` the kind of that data: :func:`source_start`."""
    return ALS(
        factors=32, iterations=10, regularization=0.1, implicit=None, alpha=10.0, start=source_start(explicit, source)
    )


def source_start(explicit: Optional[bool], source: bool = True) -> str:
    """ALS's random start (:func:`crossrec.models.mf.als_start`) for a transfer method's factor
    model: "wide" for a source model on implicit feedback, whose user rows the methods read (from
    the small start they are ~40 % shorter after ten sweeps, and fine-tuning lost 20 % NDCG@10 on
    Amazon); "small" (ALS's default) otherwise: target models and target-only baselines rank as
    well or better from it on the Amazon validation splits (``benchmarks/results/als_start.md``)."""
    return "wide" if source and explicit is False else "small"


def check_factor_model(model, who: str, role: str) -> FactorRecommender:
    """``model`` if it is a crossrec factor model (ALS, MF, BPR), else a ValueError naming it."""
    if not isinstance(model, FactorRecommender):
        raise ValueError(f"{who}: {role} must be a crossrec factor model (ALS, MF or BPR), got {type(model).__name__}")
    return model


def fitted_factor_models(pair, source_model, target_model, who: str) -> tuple[FactorRecommender, FactorRecommender]:
    """The (source, target) factor models a mapping method reads: each the given model if fitted in
    that domain's id space, else a fitted clone (of the transfer default when None)."""
    source = source_model or default_factor_model(pair.source.explicit, source=True)
    src = check_factor_model(fitted_on(source, pair.source, who, "source"), who, "source_model")
    tgt = check_factor_model(
        fitted_on(target_model or default_factor_model(), pair.target, who, "target"), who, "target_model"
    )
    return src, tgt


class Delegating(TransferRecommender):
    """A transfer model that scores through its fitted target model ``model_``."""

    model_: Recommender

    def _factors(self, user_idx):
        return self.model_.scoring_factors(user_idx)

    def _score_block(self, user_idx):
        return self.model_.score_indices(user_idx)

    def _predict_indices(self, user_idx, item_idx):
        return self.model_.predict_indices(user_idx, item_idx)

    def _item_vectors(self):
        return self.model_.item_vectors()
