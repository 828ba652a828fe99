"""The base of transfer models: ``fit(pair)`` on a :class:`CrossDomain`, and everything a
:class:`crossrec.Recommender` offers (recommend, predict, similar_items, save/load, n_threads)
for the pair's target domain, in the target's id space (the shared users, the target's items)."""

from __future__ import annotations

from ..models.base import Recommender
from .domains import CrossDomain


class TransferRecommender(Recommender):
    """Base class of cross-domain models.

    ``fit(pair)`` trains on a :class:`~crossrec.transfer.CrossDomain` (source and target aligned
    on their shared users) and returns self; the fitted model scores the *target* items for every
    user of the shared id space, including users cold in the target (only source data). It is a
    :class:`~crossrec.models.protocol.Scorer` like every crossrec model, so ``crossrec.evaluate``,
    ``Hybrid``, ``Distill`` (as teacher) and ``crossrec.load`` take it as they take any model.
    """

    def fit(self, pair: CrossDomain) -> TransferRecommender:  # pragma: no cover - abstract
        raise NotImplementedError
