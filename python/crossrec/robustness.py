"""Robustness to shilling (profile-injection) attacks.

An attacker adds ``n_profiles`` fake users to push one target item ("push attack"). Every fake
profile rates the target with the maximum rating and ``filler_size`` other items, chosen at
random, with filler ratings drawn as in the classic attack models (Lam and Riedl 2004; Mobasher,
Burke, Bhaumik and Williams 2007):

* ``random``: filler ratings ~ N(global mean, global std) of all ratings;
* ``average``: filler rating of item i ~ N(mean_i, std_i), the item's own rating distribution
  (an attacker who knows item means; items with one rating use the global std);
* ``bandwagon``: the ``popular_size`` most rated items get the maximum rating (they make the fake
  user look like many genuine ones), the fillers are random-attack ratings.

Ratings are clipped to the data's range and rounded to the nearest value that occurs in it (so
1-5 stars stay integers, 0.5-5 stay half stars). On implicit data every injected interaction has
weight 1. :func:`evaluate_attack` measures the effect on a model: the prediction shift of the
target (rating models) and the hit rate at n of the target among genuine users, per attack size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from ._validation import check_choice, check_positive_int, check_seed
from .data import IdMap, Interactions

ATTACKS = ("random", "average", "bandwagon")


def _count(value: Any, total: int, name: str, minimum: int = 1) -> int:
    """An int count, or a float in (0, 1) as a fraction of ``total`` (rounded, at least ``minimum``)."""
    if isinstance(value, (float, np.floating)) and 0.0 < value < 1.0:
        return max(minimum, int(round(value * total)))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return check_positive_int(value, name, minimum)


def _fake_ids(existing: np.ndarray, n: int) -> np.ndarray:
    """New user ids not clashing with the existing ones: integers above the maximum for integer
    ids, strings "attack-<k>" otherwise."""
    if existing.dtype.kind in "iu":
        start = int(existing.max()) + 1 if len(existing) else 0
        return np.arange(start, start + n, dtype=existing.dtype)
    taken = set(map(str, existing))
    ids: list[str] = []
    k = 0
    while len(ids) < n:
        name = f"attack-{k}"
        if name not in taken:
            ids.append(name)
        k += 1
    return np.asarray(ids, dtype=object if existing.dtype == object else str)


def _snap(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Clip to the scale's range and round to its nearest value."""
    v = np.clip(values, scale[0], scale[-1])
    pos = np.clip(np.searchsorted(scale, v), 1, len(scale) - 1) if len(scale) > 1 else np.zeros(len(v), int)
    if len(scale) == 1:
        return np.full(len(v), scale[0])
    lower, upper = scale[pos - 1], scale[pos]
    return np.where(v - lower <= upper - v, lower, upper)


@dataclass
class Attack:
    """What :func:`inject` did: the poisoned data and the ids of the fake users."""

    data: Interactions
    fake_user_ids: np.ndarray

    def __iter__(self):  # lets callers unpack ``poisoned, fake = inject(...)``
        return iter((self.data, self.fake_user_ids))

    def __repr__(self) -> str:
        return f"Attack({len(self.fake_user_ids)} fake users; data {self.data!r})"


def inject(
    data: Interactions,
    attack: str = "average",
    target_item: Any = None,
    n_profiles: Any = 0.05,
    filler_size: Any = 0.03,
    popular_size: int = 10,
    seed: Optional[int] = 0,
) -> Attack:
    """Add fake profiles that push ``target_item``.

    Parameters
    ----------
    data : Interactions
        The genuine data (explicit ratings or implicit).
    attack : {"random", "average", "bandwagon"}
    target_item : item id
        The pushed item (an external id of ``data``).
    n_profiles : int or float
        Attack size: number of fake users, or a fraction in (0, 1) of the genuine users.
    filler_size : int or float
        Filler items per fake profile: a count, or a fraction in (0, 1) of the items.
    popular_size : int
        Bandwagon attack: how many of the most rated items every fake profile rates highest.
    seed : int or None

    Returns
    -------
    Attack
        ``(poisoned, fake_user_ids)``: the genuine interactions plus the fake ones (genuine users
        keep their indices, fake users come after them; the item space is unchanged) and the ids of
        the fake users.
    """
    if not isinstance(data, Interactions):
        raise ValueError(f"data must be crossrec.Interactions, got {type(data).__name__}")
    check_choice(attack, "attack", ATTACKS)
    if target_item is None:
        raise ValueError("target_item: give the id of the item to push")
    target = int(data.item_index(target_item)[0])
    n_fake = _count(n_profiles, data.n_users, "n_profiles")
    n_items = data.n_items
    n_filler = min(_count(filler_size, n_items, "filler_size", 0), n_items - 1)
    popular_size = check_positive_int(popular_size, "popular_size", 0)
    rng = np.random.default_rng(check_seed(seed))

    values = data.values.astype(np.float64)
    scale = np.unique(values)
    r_max = scale[-1]
    mu, sigma = float(values.mean()), float(values.std())
    counts = data.item_counts()
    item_mean = np.bincount(data.items, weights=values, minlength=n_items) / np.maximum(counts, 1)
    item_sq = np.bincount(data.items, weights=values**2, minlength=n_items) / np.maximum(counts, 1)
    item_std = np.sqrt(np.maximum(item_sq - item_mean**2, 0.0))
    item_mean = np.where(counts > 0, item_mean, mu)
    item_std = np.where(counts > 1, item_std, sigma)

    selected = np.empty(0, np.int64)
    if attack == "bandwagon" and popular_size:
        order = np.argsort(-counts, kind="stable")
        selected = order[order != target][:popular_size]
    pool = np.setdiff1d(np.arange(n_items), np.append(selected, target))
    n_filler = min(n_filler, len(pool))

    users, items, ratings = [], [], []
    for k in range(n_fake):
        filler = rng.choice(pool, size=n_filler, replace=False)
        if attack == "average":
            r = rng.normal(item_mean[filler], item_std[filler])
        else:
            r = rng.normal(mu, sigma, size=n_filler)
        prof_items = np.concatenate([[target], selected, filler]).astype(np.int64)
        prof_r = np.concatenate([[r_max], np.full(len(selected), r_max), _snap(r, scale)])
        users.append(np.full(len(prof_items), data.n_users + k, np.int64))
        items.append(prof_items)
        ratings.append(prof_r)
    fake_ids = _fake_ids(np.asarray(data.user_ids), n_fake)
    try:
        all_ids = np.concatenate([data.user_ids, fake_ids])
    except (TypeError, ValueError):
        all_ids = np.concatenate([data.user_ids.astype(object), fake_ids.astype(object)])
    umap = IdMap(all_ids, "user")
    new_values = np.concatenate(ratings) if data.explicit else np.ones(sum(len(i) for i in items))
    ts = None
    if data.timestamps is not None:
        ts = np.concatenate([data.timestamps, np.full(len(new_values), data.timestamps.max(), np.int64)])
    poisoned = Interactions(
        np.concatenate([data.users, *users]),
        np.concatenate([data.items, *items]),
        np.concatenate([data.values, new_values]),
        umap,
        data.item_map,
        timestamps=ts,
        explicit=data.explicit,
    )
    return Attack(poisoned, fake_ids)


@dataclass
class AttackResult:
    """The outcome of :func:`evaluate_attack`.

    table : one row per attack size: ``n_profiles``, ``fraction`` (of genuine users),
        ``hit_rate`` (share of genuine users, who had not interacted with the target, that get the
        target in their top n), ``hit_rate_before``, and ``prediction_shift`` (mean over those users
        of ``predict`` after minus before; NaN for models without ``predict``). It is a rating shift
        for rating models; for models whose ``predict`` returns ranking scores (implicit ALS, BPR) it
        is in score units and not comparable across models.
    majority_size : the smallest attack size (fake profiles) at which the target enters the top n
        of more than half of those users; None if no size in the sweep reaches it.
    """

    table: pd.DataFrame
    majority_size: Optional[int]
    target_item: Any
    attack: str

    def __repr__(self) -> str:
        return (
            f"AttackResult({self.attack} attack on item {self.target_item!r}: {len(self.table)} sizes, "
            f"majority at {self.majority_size} fake profiles; .table for details)"
        )


def evaluate_attack(
    model_factory: Callable[[], Any],
    data: Interactions,
    target_item: Any = None,
    attack: str = "average",
    sizes: Sequence = (0.01, 0.02, 0.05, 0.1),
    filler_size: Any = 0.03,
    popular_size: int = 10,
    n: int = 10,
    seed: Optional[int] = 0,
    fit_params: Optional[Mapping[str, Any]] = None,
) -> AttackResult:
    """Prediction shift and hit rate at n of a pushed item, for a sweep of attack sizes.

    Parameters
    ----------
    model_factory : callable
        Returns a new, unfitted model (called once per attack size and once for the clean data).
    target_item : item id, optional
        The pushed item; default :func:`default_target` (a little-rated item).
    sizes : sequence
        Attack sizes as counts or fractions of the genuine users (see :func:`inject`).
    fit_params : dict, optional
        Extra keyword arguments of the model's fit.
    """
    if not isinstance(data, Interactions):
        raise ValueError(f"data must be crossrec.Interactions, got {type(data).__name__}")
    n = check_positive_int(n, "n")
    target_item = default_target(data) if target_item is None else target_item
    target = int(data.item_index(target_item)[0])
    fit_params = dict(fit_params or {})
    # Genuine users who have not interacted with the target: the ones a push attack aims at.
    m = data.matrix
    rated = np.zeros(data.n_users, bool)
    rated[data.users[data.items == target]] = True
    users = np.flatnonzero(~rated & (np.diff(m.indptr) > 0)).astype(np.int32)

    def measure(train: Interactions):
        model = model_factory()
        model.fit(train, **fit_params)
        tgt = int(model.item_map_.lookup(data.item_ids[target])[0])
        uidx = model.user_map_.lookup(data.user_ids[users])
        idx, _ = model.recommend_indices(uidx, n=n)
        hit = float(np.mean((idx == tgt).any(axis=1))) if len(users) else float("nan")
        try:
            pred = np.asarray(model.predict_indices(uidx, np.full(len(uidx), tgt, np.int32)), np.float64)
        except NotImplementedError:
            pred = None
        return hit, pred

    hit0, pred0 = measure(data)
    rows = []
    for size in sizes:
        n_fake = _count(size, data.n_users, "sizes")
        poisoned, _ = inject(data, attack, target_item, n_fake, filler_size, popular_size, seed)
        hit, pred = measure(poisoned)
        shift = float(np.mean(pred - pred0)) if pred is not None and pred0 is not None else float("nan")
        rows.append(
            {
                "n_profiles": n_fake,
                "fraction": n_fake / data.n_users,
                "hit_rate_before": hit0,
                "hit_rate": hit,
                "prediction_shift": shift,
            }
        )
    table = pd.DataFrame(rows)
    major = table.loc[table["hit_rate"] > 0.5, "n_profiles"]
    return AttackResult(table, int(major.min()) if len(major) else None, target_item, attack)


def default_target(data: Interactions, min_count: int = 5) -> Any:
    """A little-rated item worth pushing: the item at the 25th percentile of popularity among the
    items with at least ``min_count`` interactions (ties: lower index)."""
    counts = data.item_counts()
    ok = np.flatnonzero(counts >= min_count)
    if len(ok) == 0:
        ok = np.flatnonzero(counts > 0)
    order = ok[np.argsort(counts[ok], kind="stable")]
    return data.item_ids[order[len(order) // 4]]


def robustness_table(
    factories: Mapping[str, Callable[[], Any]],
    data: Interactions,
    attacks: Sequence[str] = ATTACKS,
    fit_params: Optional[Mapping[str, Mapping]] = None,
    **kwargs,
) -> pd.DataFrame:
    """:func:`evaluate_attack` for every (model, attack): one row per model, attack and size, with
    ``majority_size`` repeated on each row. factories: name -> model factory (a new model is one
    more entry). fit_params: name -> fit keyword arguments for models that need them."""
    frames = []
    for name, factory in factories.items():
        for attack in attacks:
            res = evaluate_attack(factory, data, attack=attack, fit_params=(fit_params or {}).get(name), **kwargs)
            t = res.table.copy()
            t.insert(0, "attack", attack)
            t.insert(0, "model", name)
            t["majority_size"] = res.majority_size
            t["target_item"] = res.target_item
            frames.append(t)
    return pd.concat(frames, ignore_index=True)
