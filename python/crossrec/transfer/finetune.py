"""Fine-tuning: start the target model from the source model's user rows and pull toward them."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import factorization as fz
from .._validation import check_choice, check_float
from ..models.base import Recommender
from ..models.mf import ALS, FactorRecommender
from ._common import Delegating, check_pair, check_factor_model, clone, default_factor_model, fitted_on
from .domains import CrossDomain
from ..schema import Array, Json, Model
from .mapping import fit_linear_map


class FineTune(Delegating):
    """Parameter transfer by fine-tuning with a ridge pull toward the source user rows.

    A user row is the user's factors followed by their bias when the model has one (``[x_u, b_u]``,
    see :meth:`crossrec.models.mf.FactorRecommender.user_rows`), so the rating level carries over along
    with the taste. The target model starts from the source model's user rows (random factors of
    the same scale, bias 0, for users unknown in the source); its item rows are solved first against
    them, so the target item space is expressed in the source's user space; then it is trained on
    the target domain with the prior term ``pull * ||row_u - s_u||^2`` for every user ``u`` with
    source data; ``pull=0`` is plain re-initialisation (no prior).

    Users cold in the target (source data, no target data) get a row derived from their source
    row: with ``cold_rows="mapped"`` the ridge regression of the fine-tuned target rows on the
    source rows, learnt on the users warm in both domains, applied to the cold users' source rows
    (the expected target row given the source row: a user's source bias and factors predict their
    target ones only in part, and taking them as they are was worse than no transfer on Douban
    ratings); with ``cold_rows="source"`` the source rows as they are (better for implicit
    feedback, where only the ranking counts: Amazon sport->cloth cold NDCG@10 0.053 vs 0.050
    mapped). ``"auto"`` (default): mapped for explicit ratings, source for implicit feedback.

    Parameters
    ----------
    model : FactorRecommender or None
        Unfitted target factor model: :class:`crossrec.ALS` (explicit or implicit),
        :class:`crossrec.MF` or :class:`crossrec.BPR`. None: the transfer default ALS
        (:func:`crossrec.transfer._common.default_factor_model`).
    source_model : FactorRecommender or None
        Source factor model of the same kind and size, fitted on ``pair.source`` (or unfitted, or
        None: a clone of ``model`` is fitted on the source inside ``fit``).
    pull : float >= 0
        Ridge weight toward the source rows (same units as the model's regularization).
    cold_rows : {"auto", "mapped", "source"}
        Rows of the users cold in the target (see above).
    map_l2 : float >= 0
        Ridge strength of the map for ``cold_rows="mapped"``.

    Attributes
    ----------
    model_ : fitted target model (scores through it); source_model_ : the source model;
    cold_users_ : shared indices whose rows came from the source; map_ : {"W", "b"} of the
    cold-row map (identity for ``cold_rows="source"``, or when fewer than 2 users are warm in both).
    """

    state_schema = {
        "model_": Model(users="users", items="items"),
        "source_model_": Model(users="users"),
        "cold_users_": Array((None,), "int32", index_of="users"),
        "map_": Json(optional=True),  # the learnt map of cold users' rows, kept to inspect
    }

    def __init__(
        self,
        model: Optional[Recommender] = None,
        source_model: Optional[Recommender] = None,
        pull: float = 1.0,
        cold_rows: str = "auto",
        map_l2: float = 10.0,
    ):
        self.model = model
        self.source_model = source_model
        self.pull = pull
        self.cold_rows = cold_rows
        self.map_l2 = map_l2

    def fit(self, pair: CrossDomain, warm_start: Optional[Recommender] = None) -> FineTune:
        """Fit on the pair. ``warm_start``: a FineTune fitted on a pair of the same id spaces with a
        target model of the same kind and size (e.g. on a validation split carved from this pair):
        the target model starts from its user and item rows instead of the source rows (the pull
        toward the source rows is the same), so fewer iterations reach the same fit."""
        pair = check_pair(pair, "FineTune")
        pull = check_float(self.pull, "pull", 0.0)
        cold_rows = check_choice(self.cold_rows, "cold_rows", ("auto", "mapped", "source"))
        if cold_rows == "auto":
            cold_rows = "mapped" if pair.target.explicit else "source"
        map_l2 = check_float(self.map_l2, "map_l2", 0.0)
        base = check_factor_model(self.model if self.model is not None else default_factor_model(), "FineTune", "model")
        self._start_fit(pair.target)
        source = self.source_model
        if source is None:  # a clone of the given model, or the transfer default for a source
            source = base if self.model is not None else default_factor_model(pair.source.explicit, source=True)
        src = fitted_on(source, pair.source, "FineTune", "source")
        S = check_factor_model(src, "FineTune", "source_model").user_rows()
        in_src = pair.source.user_counts() > 0
        in_tgt = pair.target.user_counts() > 0
        target = clone(base)
        width = target.user_width(pair.target.explicit)
        if S.shape[1] != width:
            raise ValueError(
                f"FineTune: source user rows have {S.shape[1]} columns but the target model needs {width} "
                "(factors, plus the bias for explicit biased models); use the same factors and kind for both"
            )
        f = _n_factors(target)
        init = S.copy()
        rng = np.random.default_rng(0)
        init[~in_src, :f] = rng.standard_normal((int((~in_src).sum()), f)) * S[in_src, :f].std()
        init[~in_src, f:] = 0.0
        weight = np.where(in_src, pull, 0.0)
        # ALS solves its item rows first when given only user rows; the SGD models need them given
        kw = {} if isinstance(target, ALS) else {"item_init": _items_for(target, pair.target, init)}
        if warm_start is not None:
            init, kw = _warm_rows(warm_start, init.shape, pair.target.n_items)
        if pull > 0:
            target.fit(pair.target, user_init=init, user_prior=S, user_prior_weight=weight, **kw)
        else:
            target.fit(pair.target, user_init=init, **kw)
        cold = np.flatnonzero(in_src & ~in_tgt).astype(np.int32)
        both = in_src & in_tgt
        if cold_rows == "mapped" and both.sum() >= 2:
            W, b = fit_linear_map(S[both].astype(np.float64), target.user_rows()[both].astype(np.float64), map_l2)
        else:
            W, b = np.eye(S.shape[1]), np.zeros(S.shape[1])
        self.map_ = {"W": W, "b": b}
        target.set_user_rows(cold, S[cold] @ W + b)
        self.model_, self.source_model_, self.cold_users_ = target, src, cold
        return self


def _warm_rows(model, user_shape: tuple[int, int], n_items: int) -> tuple[np.ndarray, dict]:
    """The user rows and ``item_init`` of a fitted FineTune's target model, checked against this fit."""
    inner = getattr(model, "model_", None) if isinstance(model, FineTune) and model.is_fitted else None
    if not isinstance(inner, FactorRecommender):
        raise ValueError(f"FineTune: warm_start must be a fitted FineTune, got {type(model).__name__}")
    users, items = inner.user_rows(), inner.item_rows()
    if users.shape != tuple(user_shape) or items.shape != (n_items, user_shape[1]):
        raise ValueError(
            f"FineTune: warm_start has user rows {users.shape} and item rows {items.shape} but this fit needs "
            f"{tuple(user_shape)} and ({n_items}, {user_shape[1]}): fit it on a pair of the same id spaces with "
            "a target model of the same size and kind"
        )
    return users, {"item_init": items}


def _n_factors(model: FactorRecommender) -> int:
    return int(model.get_params()["factors"])


def _items_for(model: FactorRecommender, data, users: np.ndarray) -> np.ndarray:
    """Target item rows solved against the given user rows (one exact ALS half-step), so an SGD
    model (MF, BPR) starts in the source's user space: explicit biased rows ``[y_i, b_i]`` against
    ``[x_u, 1]`` on the ratings minus the mean and the user biases; otherwise factors only."""
    reg = max(float(model.get_params().get("regularization", 0.1)), 1e-3)
    mt = fz.kernel_csr(data.matrix.T.tocsr())
    U = np.ascontiguousarray(users, np.float32)
    Y = np.zeros((mt.shape[0], U.shape[1]), np.float32)
    if data.explicit and model.has_user_bias(True):
        fz.als_biased_step(mt, U, Y, reg, offset=float(data.matrix.data.mean()))
    elif data.explicit:
        fz.als_explicit_step(mt, U, Y, reg)
    else:
        fz.als_implicit_step(mt, U, Y, reg, solver="cholesky")
    return Y
