"""Fine-tuning: start the target model from the source model's user factors and pull toward them."""

from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp

from .. import factorization as fz
from .._validation import check_float
from ..models.base import Recommender
from ._als import TransferALS
from ._common import Delegating, check_pair, clone, fitted_on, user_vectors
from .domains import CrossDomain
from ..schema import Array, Model


class FineTune(Delegating):
    """Parameter transfer by fine-tuning with a ridge pull toward the source factors.

    The target model is initialised with the source model's user factors (random rows of the
    same scale for users unknown in the source) and trained on the target
    domain with the prior term ``pull * ||x_u - s_u||^2`` for every user ``u`` with source data
    (``s_u`` the source user factors). The target item factors are solved first, given the source
    user factors, so the target item space is expressed in the source's user space. Users cold in
    the target (source data, no target data) keep their source factors ``s_u`` and so get
    recommendations; ``pull=0`` is plain re-initialisation (no prior).

    Parameters
    ----------
    model : Recommender or None
        Unfitted target factor model with the prior hook (``fit(data, user_init=, user_prior=,
        user_prior_weight=)``). None: ``TransferALS()``.
    source_model : Recommender or None
        Source factor model of the same kind and size, fitted on ``pair.source`` (or unfitted, or
        None: a clone of ``model`` is fitted on the source inside ``fit``).
    pull : float >= 0
        Ridge weight toward the source factors (same units as the model's regularization).

    Attributes
    ----------
    model_ : fitted target model (scores through it); source_model_ : the source model;
    cold_users_ : shared indices that took their factors straight from the source.
    """

    state_schema = {
        "model_": Model(users="users", items="items"),
        "source_model_": Model(users="users"),
        "cold_users_": Array((None,), "int32", index_of="users"),
    }

    def __init__(
        self, model: Optional[Recommender] = None, source_model: Optional[Recommender] = None, pull: float = 1.0
    ):
        self.model = model
        self.source_model = source_model
        self.pull = pull

    def fit(self, pair: CrossDomain) -> FineTune:
        pair = check_pair(pair, "FineTune")
        pull = check_float(self.pull, "pull", 0.0)
        base = self.model if self.model is not None else TransferALS()
        self._start_fit(pair.target)
        src = fitted_on(self.source_model if self.source_model is not None else base, pair.source, "FineTune", "source")
        S = user_vectors(src)
        in_src = pair.source.user_counts() > 0
        in_tgt = pair.target.user_counts() > 0
        target = clone(base)
        init = S.copy()
        if init.shape[1] != _user_width(target, pair.target):
            raise ValueError(
                f"FineTune: source user factors have {init.shape[1]} columns but the target model "
                f"needs {_user_width(target, pair.target)}; use the same factors and kind for both"
            )
        rng = np.random.default_rng(0)
        init[~in_src] = rng.standard_normal((int((~in_src).sum()), init.shape[1])) * S[in_src].std()
        weight = np.where(in_src, pull, 0.0)
        kw = {} if isinstance(target, TransferALS) else {"item_init": _items_for(target, pair.target, init)}
        if pull > 0:
            target.fit(pair.target, user_init=init, user_prior=S, user_prior_weight=weight, **kw)
        else:
            target.fit(pair.target, user_init=init, **kw)
        cold = np.flatnonzero(in_src & ~in_tgt).astype(np.int32)
        X = np.array(target.user_factors_, np.float32, copy=True)
        X[cold] = S[cold]
        target.user_factors_ = X
        self.model_, self.source_model_, self.cold_users_ = target, src, cold
        return self


def _items_for(model: Recommender, data, users: np.ndarray) -> np.ndarray:
    """Target item factors solved against the source user rows (one ALS half-step), so a model
    that sweeps users first (crossrec.ALS, MF, BPR) starts in the source's user space instead of
    overwriting the source rows against random item factors."""
    params = model.get_params()
    reg = max(float(params.get("regularization", 0.1)), 1e-3)
    m = data.matrix
    Y = np.zeros((m.shape[1], users.shape[1]), np.float32)
    U = np.ascontiguousarray(users, np.float32)
    if data.explicit:
        mt = fz.kernel_csr(m.T.tocsr())
        centred = sp.csr_matrix((mt.data - np.float32(m.data.mean()), mt.indices, mt.indptr), shape=mt.shape)
        fz.als_explicit_step(centred, U, Y, reg)
    else:
        fz.als_implicit_step(m.T.tocsr(), U, Y, reg, float(params.get("alpha", 1.0)), solver="cholesky")
    return Y


def _user_width(model: Recommender, data) -> int:
    """Columns of the model's user rows: TransferALS says (factors + explicit bias column); other
    factor models (crossrec.ALS, MF, BPR) keep biases apart, so their rows are ``factors`` wide
    and only the factors are transferred (their prior pulls biases toward 0)."""
    if hasattr(model, "user_width"):
        return model.user_width(data.explicit)
    return int(model.get_params()["factors"])
