"""The base of transfer models: ``fit(pair)`` on a :class:`CrossDomain`, and everything a
:class:`crossrec.Recommender` offers (recommend, predict, similar_items, save/load, n_threads)
for the pair's target domain, in the target's id space.

Both sides of sharing, one implementation: a pair whose domains share *items* is a pair that
shares *users* once both domains are transposed (:meth:`CrossDomain.transposed`; the shared
items play the users). Unless a class declares ``item_sharing = "native"`` (it handles both
sides itself), ``fit`` on an item-shared pair fits the same method, with the same
hyper-parameters, on the transposed pair (``transposed_``), and the scoring hooks read that
model back transposed: its "user" rows are the target's items, its "item" rows the target's
users. So FineTune pulls the target's *item* rows toward the source's, CMF shares item factors,
EMCDR maps item factors for items cold in the target, NoTransfer gives a cold item the average
item row (the item-less fallback: mu + b_u), and so on, with no second copy of any method.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from .. import schema
from ..explain import frame
from ..models.base import Recommender
from .domains import CrossDomain

_HOOKS = ("_factors", "_score_block", "_predict_indices", "_item_vectors")
_DENSE_LIMIT = 1 << 26  # cache a transposed dense score matrix up to this many entries (256 MiB)


def _unfitted_params(model: Recommender) -> dict[str, Any]:
    """The model's hyper-parameters with fitted models replaced by unfitted copies (they were
    fitted in the untransposed id space; the transposed fit refits them where it needs them)."""
    out = {}
    for k, v in model.get_params().items():
        if isinstance(v, Recommender) and v.is_fitted:
            v = type(v)(**_unfitted_params(v))
        out[k] = v
    return out


def _fit_maybe_transposed(fit: Callable) -> Callable:
    @functools.wraps(fit)
    def wrapper(self, pair, *args, **kwargs):
        if isinstance(pair, CrossDomain) and pair.shared == "items":
            inner = type(self)(**_unfitted_params(self))
            inner.fit(pair.transposed(), *args, **kwargs)
            self._start_fit(pair.target)
            self.transposed_ = inner
            self._transposed_scores = None
            return self
        self.__dict__.pop("transposed_", None)
        return fit(self, pair, *args, **kwargs)

    wrapper.__transposing__ = True  # type: ignore[attr-defined]
    return wrapper


def _hook_maybe_transposed(name: str, hook: Callable) -> Callable:
    @functools.wraps(hook)
    def wrapper(self, *args):
        inner = self.__dict__.get("transposed_")
        if inner is not None:
            return getattr(TransferRecommender, "_transposed" + name)(self, inner, *args)
        return hook(self, *args)

    wrapper.__transposing__ = True  # type: ignore[attr-defined]
    return wrapper


class TransferRecommender(Recommender):
    """Base class of cross-domain models.

    ``fit(pair)`` trains on a :class:`~crossrec.transfer.CrossDomain` and returns self; the fitted
    model scores the *target* items for every user of the target's id space: with shared users,
    including users cold in the target (only source data); with shared items, scoring every
    shared item, including items cold in the target. It is a
    :class:`~crossrec.models.protocol.Scorer` like every crossrec model, so ``crossrec.evaluate``,
    ``Hybrid``, ``Distill`` (as teacher) and ``crossrec.load`` take it as they take any model.

    Class attribute ``item_sharing``: ``"transpose"`` (default; see the module docstring) or
    ``"native"``.
    """

    item_sharing = "transpose"
    transposed_: Optional[Recommender]

    def validate_state(self) -> None:
        """A model fitted on an item-shared pair holds only the id space and ``transposed_`` (the
        same kind of model, fitted on the transposed pair, whose users are this model's items);
        otherwise the class's declared state."""
        if self.__dict__.get("transposed_") is None:
            return super().validate_state()
        schema.check_params(self)
        inner = {"transposed_": schema.Model(users="items", items="users")}
        schema.check_state(self, {**schema.BASE_SCHEMA, **inner})

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.item_sharing != "transpose":
            return
        # Inherited methods count too: a class may take its hooks from a mixin that is no
        # TransferRecommender (e.g. a factor-model base placed before this class in the MRO).
        fit = cls.fit
        if not getattr(fit, "__transposing__", False):
            cls.fit = _fit_maybe_transposed(fit)
        for name in _HOOKS:
            hook = getattr(cls, name)
            if not getattr(hook, "__transposing__", False):
                setattr(cls, name, _hook_maybe_transposed(name, hook))

    def fit(self, pair: CrossDomain) -> TransferRecommender:  # pragma: no cover - abstract
        raise NotImplementedError

    # The base hooks, so a class that overrides only some of them still reads a transposed model.
    def _factors(self, user_idx):  # noqa: D401
        inner = self.__dict__.get("transposed_")
        return None if inner is None else self._transposed_factors(inner, user_idx)

    def _score_block(self, user_idx):
        inner = self.__dict__.get("transposed_")
        if inner is not None:
            return self._transposed_score_block(inner, user_idx)
        return super()._score_block(user_idx)

    def _predict_indices(self, user_idx, item_idx):
        inner = self.__dict__.get("transposed_")
        if inner is not None:
            return self._transposed_predict_indices(inner, user_idx, item_idx)
        return super()._predict_indices(user_idx, item_idx)

    def _item_vectors(self):
        inner = self.__dict__.get("transposed_")
        return None if inner is None else self._transposed_item_vectors(inner)

    for _name in _HOOKS:
        locals()[_name].__transposing__ = True
    del _name

    # ---- reading a model fitted on the transposed pair -------------------------------------
    # Inner "users" are this model's items, inner "items" this model's users. With the inner
    # factor view (U, V, c), inner scores are U @ V.T + c (c per inner item = per outer user), so
    # outer scores are [V, c] @ [U, 1].T.
    def _transposed_factors(self, inner: Recommender, user_idx):
        view = inner.scoring_factors(np.arange(inner.n_users_))
        if view is None:
            return None
        U, V, c = view
        rows = np.asarray(V, np.float32)[user_idx]
        if c is None:
            return rows, np.asarray(U, np.float32), None
        rows = np.hstack([rows, np.asarray(c, np.float32)[user_idx, None]])
        items = np.hstack([np.asarray(U, np.float32), np.ones((U.shape[0], 1), np.float32)])
        return np.ascontiguousarray(rows), np.ascontiguousarray(items), None

    def _transposed_score_block(self, inner: Recommender, user_idx):
        view = self._transposed_factors(inner, user_idx)
        if view is not None:
            return view[0] @ view[1].T
        cached = self.__dict__.get("_transposed_scores")
        if cached is not None:
            return cached[:, user_idx].T
        full = np.asarray(inner.score_indices(np.arange(inner.n_users_)), np.float32)  # outer items x users
        if full.size <= _DENSE_LIMIT:
            self._transposed_scores = full
        return np.ascontiguousarray(full[:, user_idx].T)

    def _transposed_predict_indices(self, inner: Recommender, user_idx, item_idx):
        return inner.predict_indices(item_idx, user_idx)

    def _transposed_item_vectors(self, inner: Recommender):
        view = inner.scoring_factors(np.arange(inner.n_users_))
        return None if view is None else np.asarray(view[0], np.float32)

    # ---- explanations -------------------------------------------------------------------
    def explain(self, user, item) -> pd.DataFrame:
        """How much of the score of (user, item) comes from the source domain.

        The reference is what the target domain alone offers a row it knows nothing about: the
        average over the target's warm rows (users with target training data; items, for a pair
        sharing items) of their scores for the same item (user) - crossrec's ``NoTransfer``. For a
        user (item) cold in the target, everything beyond that reference comes from the source:
        the rows are ``"target-only reference"`` and ``"from the source domain"``. For a warm one
        the difference also holds its own target data, and the second row says so
        (``"own target data and the source, together"``). The score is ``predict`` when the model
        predicts ratings, else the ranking score; the two rows sum to it (see
        :mod:`crossrec.explain`); ``attrs["cold"]`` tells which case applies."""
        self._check_fitted()
        u = int(self.user_map_.lookup(user)[0])
        i = int(self.item_map_.lookup(item)[0])
        items_shared = self.__dict__.get("transposed_") is not None
        counts = np.diff(self.seen_.tocsc().indptr) if items_shared else np.diff(self.seen_.indptr)
        warm = np.flatnonzero(counts > 0).astype(np.int32)
        cold = bool(counts[i if items_shared else u] == 0)
        try:
            score = float(self.predict_indices(np.array([u], np.int32), np.array([i], np.int32))[0])
            if items_shared:
                ref = self.predict_indices(np.full(len(warm), u, np.int32), warm)
            else:
                ref = self.predict_indices(warm, np.full(len(warm), i, np.int32))
        except NotImplementedError:
            score = float(self.score_indices(np.array([u], np.int32))[0, i])
            block = self.score_indices(np.array([u], np.int32))[0] if items_shared else None
            ref = block[warm] if block is not None else _column(self, warm, i)
        base = float(np.mean(np.asarray(ref, np.float64))) if len(warm) else 0.0
        side = "item" if items_shared else "user"
        rows = [
            (f"target-only reference: the average warm {side}", None, None, None, base),
            (
                "from the source domain" if cold else "own target data and the source, together",
                item if items_shared else user,
                None,
                None,
                score - base,
            ),
        ]
        return frame(rows, score, user=user, item=item, cold=cold)


def _column(model: Recommender, users: np.ndarray, item: int, block: int = 4096) -> np.ndarray:
    """Ranking scores of one item for many users, in blocks (no users x items matrix)."""
    out = np.empty(len(users), np.float64)
    for s in range(0, len(users), block):
        out[s : s + block] = model.score_indices(users[s : s + block])[:, item]
    return out
