"""EMCDR (Man et al., IJCAI 2017): learn a map from source to target user factors, apply it to cold users."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .._validation import check_choice, check_float, check_positive_int, check_seed
from ..models.base import Recommender
from ._common import Delegating, check_pair, clone, fitted_factor_models
from .domains import CrossDomain
from ..schema import Array, Json, Model


def fit_linear_map(S: np.ndarray, T: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression T ~ S @ W + b (intercept not penalised); returns (W, b)."""
    s_mean, t_mean = S.mean(0), T.mean(0)
    Sc, Tc = S - s_mean, T - t_mean
    W = np.linalg.solve(Sc.T @ Sc + l2 * np.eye(S.shape[1]), Sc.T @ Tc)
    return W, t_mean - s_mean @ W


def fit_mlp_map(S: np.ndarray, T: np.ndarray, hidden: int, l2: float, epochs: int, seed: int, lr: float = 0.01) -> dict:
    """One-hidden-layer tanh MLP with a linear skip, T ~ tanh(Z W1 + b1) W2 + Z Ws + b2 on the
    standardised inputs Z, trained by full-batch Adam on mean squared error + l2 * ||weights||^2 / n.

    It starts from the ridge solution (W2 = 0), and a seeded 10 % of the rows is held out for early
    stopping (the parameters with the lowest held-out error, checked every 10 steps, are kept), so
    the MLP can only add to the linear map where that generalises."""
    rng = np.random.default_rng(seed)
    mu, sd = S.mean(0), S.std(0) + 1e-6
    Z = (S - mu) / sd
    hold = np.zeros(len(Z), bool)
    if len(Z) >= 20:
        hold[rng.permutation(len(Z))[: len(Z) // 10]] = True
    Zf, Tf, Zh, Th = Z[~hold], T[~hold], Z[hold], T[hold]
    n, d = Zf.shape
    Ws, b2 = fit_linear_map(Zf, Tf, l2)
    p = {
        "W1": rng.standard_normal((d, hidden)) / np.sqrt(d),
        "b1": np.zeros(hidden),
        "W2": np.zeros((hidden, T.shape[1])),
        "Ws": Ws,
        "b2": b2,
    }
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}

    def held_out_error(q):
        if not hold.any():
            return 0.0
        return float(((np.tanh(Zh @ q["W1"] + q["b1"]) @ q["W2"] + Zh @ q["Ws"] + q["b2"] - Th) ** 2).mean())

    best, best_err = {k: a.copy() for k, a in p.items()}, held_out_error(p)
    for t in range(1, epochs + 1):
        H = np.tanh(Zf @ p["W1"] + p["b1"])
        E = (H @ p["W2"] + Zf @ p["Ws"] + p["b2"] - Tf) * (2.0 / n)
        dH = (E @ p["W2"].T) * (1 - H * H)
        g = {
            "W2": H.T @ E + 2 * l2 / n * p["W2"],
            "Ws": Zf.T @ E + 2 * l2 / n * p["Ws"],
            "b2": E.sum(0),
            "W1": Zf.T @ dH + 2 * l2 / n * p["W1"],
            "b1": dH.sum(0),
        }
        for k in p:
            m[k] = 0.9 * m[k] + 0.1 * g[k]
            v[k] = 0.999 * v[k] + 0.001 * g[k] ** 2
            p[k] -= lr * (m[k] / (1 - 0.9**t)) / (np.sqrt(v[k] / (1 - 0.999**t)) + 1e-8)
        if t % 10 == 0 or t == epochs:
            err = held_out_error(p)
            if not hold.any() or err < best_err:
                best, best_err = {k: a.copy() for k, a in p.items()}, err
    best["mu"], best["sd"] = mu, sd
    return best


def apply_mlp_map(p: dict, S: np.ndarray) -> np.ndarray:
    Z = (S - p["mu"]) / p["sd"]
    return np.tanh(Z @ p["W1"] + p["b1"]) @ p["W2"] + Z @ p["Ws"] + p["b2"]


def source_stats(source) -> np.ndarray:
    """(n_users, 2): shrunk mean-centred average value and log(1 + count) of each user's source rows."""
    m = source.matrix
    n = np.diff(m.indptr).astype(np.float64)
    sums = np.zeros(m.shape[0])
    np.add.at(sums, np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)), m.data.astype(np.float64))
    level = (sums / np.maximum(n, 1) - float(m.data.mean())) * n / (n + 20.0)
    return np.column_stack([level, np.log1p(n)])


class EMCDR(Delegating):
    """Embedding and mapping: fit source and target factor models separately, learn a map from a
    user's source factors to their target factors on the users warm in both domains, and give
    each target-cold user the mapped factors of their source factors. Warm users keep their
    target factors, so warm results equal the target-only model's.

    Parameters
    ----------
    source_model, target_model : FactorRecommender or None
        Factor models (:class:`crossrec.ALS` explicit or implicit, :class:`crossrec.MF`,
        :class:`crossrec.BPR`), fitted on ``pair.source`` / ``pair.target`` or unfitted; None: the
        transfer default ALS. The map works on whole user rows (``user_rows``: the factors and,
        for biased models, the user bias), so a cold user's rating level is mapped too.
    mapping : {"linear", "mlp"}
        Ridge least squares, or a small tanh MLP (with a linear skip) trained by Adam in numpy.
    l2 : float
        Ridge strength of the map.
    hidden, epochs, seed : MLP size, full-batch Adam steps and initialisation seed.
    user_stats : bool
        Also feed the map two summaries of the user's source history: their mean-centred average
        value shrunk toward 0 by ``n / (n + 20)`` (the rating level; for implicit data the values
        are all 1, so it is 0) and ``log(1 + n)`` (activity), ``n`` their source interaction count.

    Attributes
    ----------
    model_ : target model with mapped cold rows; map_ : dict of the map's arrays;
    cold_users_ : shared indices that received mapped factors.
    """

    state_schema = {
        "map_": Json(),  # the learnt map, kept to inspect: serving uses model_'s mapped factors
        "model_": Model(users="users", items="items"),
        "source_model_": Model(users="users"),
        "cold_users_": Array((None,), "int32", index_of="users"),
    }

    def __init__(
        self,
        source_model: Optional[Recommender] = None,
        target_model: Optional[Recommender] = None,
        mapping: str = "linear",
        l2: float = 1.0,
        hidden: int = 64,
        epochs: int = 300,
        seed: int = 0,
        user_stats: bool = False,
    ):
        self.source_model = source_model
        self.target_model = target_model
        self.mapping = mapping
        self.l2 = l2
        self.hidden = hidden
        self.epochs = epochs
        self.seed = seed
        self.user_stats = user_stats

    def fit(self, pair: CrossDomain) -> EMCDR:
        pair = check_pair(pair, "EMCDR")
        check_choice(self.mapping, "mapping", ("linear", "mlp"))
        l2 = check_float(self.l2, "l2", 0.0)
        self._start_fit(pair.target)
        src, tgt = fitted_factor_models(pair, self.source_model, self.target_model, "EMCDR")
        S, T = src.user_rows().astype(np.float64), tgt.user_rows().astype(np.float64)
        if self.user_stats:
            S = np.hstack([S, source_stats(pair.source)])
        in_src = pair.source.user_counts() > 0
        in_tgt = pair.target.user_counts() > 0
        both = in_src & in_tgt
        if both.sum() < 2:
            raise ValueError("EMCDR needs at least 2 users warm in both domains to learn the map")
        cold = np.flatnonzero(in_src & ~in_tgt).astype(np.int32)
        if self.mapping == "linear":
            W, b = fit_linear_map(S[both], T[both], l2)
            self.map_ = {"W": W, "b": b}
            mapped = S[cold] @ W + b
        else:
            p = fit_mlp_map(
                S[both],
                T[both],
                check_positive_int(self.hidden, "hidden"),
                l2,
                check_positive_int(self.epochs, "epochs"),
                check_seed(self.seed),
            )
            self.map_ = p
            mapped = apply_mlp_map(p, S[cold])
        model = clone(tgt)
        for k, v in vars(tgt).items():
            setattr(model, k, v)
        model.set_user_rows(cold, mapped)  # copies the arrays: the caller's target model is untouched
        self.model_, self.source_model_, self.cold_users_ = model, src, cold
        return self
