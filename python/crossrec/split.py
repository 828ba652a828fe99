"""Train/test splits of :class:`~crossrec.Interactions`.

Every split returns ``(train, test)``: two Interactions that partition the input (each interaction
is in exactly one of them) and share its user and item id maps, so an index means the same user or
item in both. Splits are seeded: the same ``seed`` gives the same split.

* :func:`random` - a uniformly random fraction of all interactions goes to test.
* :func:`user_holdout` - per user, a fraction (or ``leave_out`` items) goes to test; the latest
  ones when timestamps exist, random ones otherwise. Keeps >= 1 training interaction per user.
* :func:`temporal` - a global time cut: every test interaction is at least as late as every
  training interaction.
* :func:`cold_start_users` - all interactions of a random fraction of users go to test; those
  users have no training data (the cold-start protocol of cross-domain evaluation).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np

from ._validation import check_float, check_positive_int, check_seed
from .data import Interactions

__all__ = ["random", "user_holdout", "temporal", "cold_start_users", "test_users"]


def _check_data(data: Any) -> Interactions:
    if not isinstance(data, Interactions):
        raise ValueError(f"data must be crossrec.Interactions, got {type(data).__name__}")
    if data.nnz == 0:
        raise ValueError("data has no interactions to split")
    return data


def _fraction(test_size: Any, name: str = "test_size") -> float:
    x = check_float(test_size, name, 0.0, 1.0)
    if x <= 0.0 or x >= 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {test_size!r}")
    return x


def _split(data: Interactions, test_mask: np.ndarray) -> tuple[Interactions, Interactions]:
    return data.subset(~test_mask), data.subset(test_mask)


def random(data: Interactions, test_size: float = 0.2, seed: Optional[int] = 0) -> tuple[Interactions, Interactions]:
    """Random split of the interactions.

    Parameters
    ----------
    data : Interactions
    test_size : float in (0, 1)
        Fraction of interactions in test; exactly ``round(test_size * nnz)`` of them.
    seed : int or None

    Returns
    -------
    (train, test) : Interactions sharing ``data``'s id maps. Users or items may end up only in
        test; evaluation treats them as cold.
    """
    data = _check_data(data)
    frac = _fraction(test_size)
    rng = np.random.default_rng(check_seed(seed))
    n_test = int(round(frac * data.nnz))
    mask = np.zeros(data.nnz, dtype=bool)
    mask[rng.permutation(data.nnz)[:n_test]] = True
    return _split(data, mask)


def _rank_within_user(data: Interactions, rng: np.random.Generator, by_time: bool) -> np.ndarray:
    """rank[j] = position of interaction j in its user's order (0 = first to go to test):
    latest first when by_time (ties broken at random), else a random permutation per user."""
    noise = rng.random(data.nnz)
    if by_time:
        order = np.lexsort((noise, -data.timestamps, data.users))
    else:
        order = np.lexsort((noise, data.users))
    counts = data.user_counts()
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sorted_users = data.users[order]
    rank = np.empty(data.nnz, dtype=np.int64)
    rank[order] = np.arange(data.nnz) - starts[sorted_users]
    return rank


def user_holdout(
    data: Interactions,
    test_size: Optional[float] = 0.2,
    leave_out: Optional[int] = None,
    by_time: Optional[bool] = None,
    seed: Optional[int] = 0,
    min_train: int = 1,
) -> tuple[Interactions, Interactions]:
    """Per-user holdout: for every user, some of their interactions go to test.

    Parameters
    ----------
    data : Interactions
    test_size : float in (0, 1), optional
        Fraction of each user's interactions held out, ``round(test_size * n_u)`` of the user's
        ``n_u`` interactions. Ignored when ``leave_out`` is given.
    leave_out : int, optional
        Hold out exactly this many interactions per user (leave-k-out), where possible.
    by_time : bool or None
        True: hold out each user's latest interactions (needs timestamps). False: random ones.
        None (default): by time when ``data`` has timestamps.
    seed : int or None
        Draws the random choice, and breaks timestamp ties.
    min_train : int
        Interactions every user keeps in train when they have that many: a user with ``n_u``
        interactions gives at most ``n_u - min_train`` to test (users with ``n_u <= min_train`` stay
        entirely in train).

    Returns
    -------
    (train, test) : Interactions sharing ``data``'s id maps.
    """
    data = _check_data(data)
    if by_time is None:
        by_time = data.timestamps is not None
    if by_time and data.timestamps is None:
        raise ValueError("by_time=True needs timestamps, and data has none")
    min_train = check_positive_int(min_train, "min_train", minimum=0)
    counts = data.user_counts()
    if leave_out is not None:
        k = check_positive_int(leave_out, "leave_out")
        n_test = np.full(data.n_users, k, dtype=np.int64)
    else:
        if test_size is None:
            raise ValueError("give test_size (a fraction) or leave_out (a count)")
        frac = _fraction(test_size)
        n_test = np.floor(frac * counts + 0.5).astype(np.int64)  # round half up, per user
    n_test = np.clip(np.minimum(n_test, counts - min_train), 0, None)
    rng = np.random.default_rng(check_seed(seed))
    rank = _rank_within_user(data, rng, bool(by_time))
    return _split(data, rank < n_test[data.users])


def temporal(
    data: Interactions, test_size: Optional[float] = 0.2, cutoff: Any = None
) -> tuple[Interactions, Interactions]:
    """Global temporal split: the latest interactions form the test set.

    Parameters
    ----------
    data : Interactions with timestamps
    test_size : float in (0, 1)
        Fraction of interactions in test (the latest ones; ties at the boundary are ordered by
        user and item index, so the split is deterministic). Ignored when ``cutoff`` is given.
    cutoff : int, numpy.datetime64 or pandas.Timestamp, optional
        Interactions with timestamp >= cutoff go to test.

    Returns
    -------
    (train, test) : every training timestamp is <= every test timestamp.
    """
    data = _check_data(data)
    if data.timestamps is None:
        raise ValueError("temporal split needs timestamps, and data has none")
    ts = data.timestamps
    if cutoff is not None:
        if hasattr(cutoff, "to_datetime64"):
            cutoff = cutoff.to_datetime64()
        if isinstance(cutoff, np.datetime64):
            cutoff = cutoff.astype("datetime64[s]").astype(np.int64)
        if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float, np.integer, np.floating)):
            raise ValueError(f"cutoff must be a timestamp (number or datetime), got {cutoff!r}")
        return _split(data, ts >= cutoff)
    if test_size is None:
        raise ValueError("give test_size (a fraction) or cutoff (a timestamp)")
    frac = _fraction(test_size)
    n_test = int(round(frac * data.nnz))
    order = np.argsort(ts, kind="stable")  # interactions are stored by (user, item): stable = deterministic
    mask = np.zeros(data.nnz, dtype=bool)
    mask[order[data.nnz - n_test :]] = True
    return _split(data, mask)


def cold_start_users(
    data: Interactions, fraction: float = 0.2, seed: Optional[int] = 0, users: Optional[Iterable] = None
) -> tuple[Interactions, Interactions]:
    """Cold-start split: every interaction of a random fraction of users goes to test.

    Parameters
    ----------
    data : Interactions
    fraction : float in (0, 1)
        Fraction of the candidate users held out: ``round(fraction * n_candidates)`` users, at
        least one.
    seed : int or None
    users : iterable of external user ids, optional
        Candidates to draw from (e.g. the users a source domain shares with this target domain).
        Default: every user with at least one interaction. Ids unknown to ``data`` raise
        UnknownIdError; candidates without interactions are never chosen.

    Returns
    -------
    (train, test) : the chosen users have no interactions in train, so a model fitted on train
        knows their ids but nothing about them. ``test_users(test)`` lists them.
    """
    data = _check_data(data)
    frac = _fraction(fraction, "fraction")
    counts = data.user_counts()
    if users is None:
        pool = np.flatnonzero(counts > 0)
    else:
        pool = np.unique(data.user_index(list(users)))
        pool = pool[counts[pool] > 0]
    if len(pool) == 0:
        raise ValueError("no candidate users with interactions to hold out")
    n_cold = max(1, int(round(frac * len(pool))))
    rng = np.random.default_rng(check_seed(seed))
    cold = np.zeros(data.n_users, dtype=bool)
    cold[rng.choice(pool, size=n_cold, replace=False)] = True
    return _split(data, cold[data.users])


def test_users(test: Interactions) -> np.ndarray:
    """External ids of the users that have at least one interaction in ``test``."""
    return test.user_ids[np.unique(test.users)]


test_users.__test__ = False  # not a pytest test, despite its name
