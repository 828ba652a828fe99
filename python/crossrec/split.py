"""Train/test splits of :class:`~crossrec.Interactions`.

Every split returns ``(train, test)``: two Interactions that partition the input (each interaction
is in exactly one of them) and share its user and item id maps, so an index means the same user or
item in both. Splits are seeded: the same ``seed`` gives the same split.

* :func:`random` - a uniformly random fraction of all interactions goes to test.
* :func:`user_holdout` - per user, a fraction (or ``leave_out`` items) goes to test; the latest
  ones when timestamps exist, random ones otherwise. Keeps >= 1 training interaction per user.
* :func:`temporal` - a global time cut: every test interaction is at least as late as every
  training interaction.
* :func:`cold_start` - the cold-start protocol (below); :func:`cold_start_users` is its
  two-way form without a warm holdout.

The cold-start protocol
-----------------------
One protocol, used by ``crossrec.split``, :meth:`crossrec.CrossDomain.cold_start_split` (whose
candidates are the users active in both domains), ``crossrec transfer``, ``crossrec demo``,
:func:`crossrec.transfer.run` and :class:`crossrec.transfer.Auto`:

1. candidates: the given users with at least one interaction (default: every such user);
2. cold users: ``round(fraction * n_candidates)`` of them, at least one, and at least one
   candidate stays warm; drawn uniformly with the seed. Every interaction of a cold user goes to
   test, so a model fitted on train knows their id but nothing else (in a cross-domain pair: only
   their source history);
3. warm holdout: of every other user, a random ``floor(test_size * n_u)`` of their ``n_u``
   interactions go to test, never their last ``min_train`` ones (``test_size=0``: none);
4. the same seed gives the same split; evaluate the segments ``cold`` and ``warm`` separately
   (``ColdStart.segments`` / ``ColdStartSplit.segments`` give them as external ids).

The EMCDR / PTUPCDR cold-start rating protocol (``protocol="ptupcdr"``)
-----------------------------------------------------------------------
The protocol of PTUPCDR (Zhu et al., WSDM 2022; github easezyc/WSDM2022-PTUPCDR,
``preprocessing.py`` ``DataPreprocessingReady.split``), used by the cold-start rating papers after
EMCDR with beta = 20 %, 50 %, 80 % of the overlapping users cold, scored by MAE and RMSE:

1. candidates: the users of both domains (``CrossDomain.cold_start_split`` passes the overlap);
2. cold ("test") users: ``round(beta * n_candidates)`` of them (Python's round, half to even;
   the same as step 2 above), drawn uniformly without replacement; no clamp, so with few
   candidates every one may be cold, and zero cold users is an error;
3. no warm holdout: the target training set is every interaction of every non-cold user
   (target-only users included), the test set every target interaction of the cold users
   (``test_size`` must be 0 or left out); the source domain is untouched;
4. MAE and RMSE pooled over the test interactions, which is what ``crossrec.evaluate``'s
   ``mae``/``rmse`` compute.

Differences that remain, on purpose: their draw is Python's ``random.sample`` on a set (seed 2020),
ours a seeded numpy Generator (same distribution, other users); and their ``run.py`` reports the
smallest test MAE and, separately, the smallest test RMSE over the training epochs (selection on
test). crossrec selects on validation carved from training (``ColdStartSplit.validation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

import numpy as np

from ._validation import check_choice, check_float, check_positive_int, check_seed
from .data import Indices, Interactions

__all__ = ["random", "user_holdout", "temporal", "cold_start", "ColdStart", "cold_start_users", "test_users"]


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
        assert data.timestamps is not None  # by_time is only asked of data with timestamps
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


@dataclass
class ColdStart:
    """Result of :func:`cold_start`.

    Attributes
    ----------
    train, test : Interactions sharing the data's id maps.
    cold_users : Indices
        Indices of the cold users (all their interactions in test; with ``axis="items"``, items).
    warm_users : Indices
        Indices of the users with training data, never cold.
    """

    train: Interactions
    test: Interactions
    cold_users: Indices
    warm_users: Indices

    @property
    def cold_user_ids(self) -> np.ndarray:
        return _ids(self.train, self.cold_users)

    @property
    def warm_user_ids(self) -> np.ndarray:
        return _ids(self.train, self.warm_users)

    @property
    def segments(self) -> dict[str, np.ndarray]:
        """``{"cold": external ids, "warm": external ids}``, for ``crossrec.evaluate(segments=...)``."""
        return {"cold": self.cold_user_ids, "warm": self.warm_user_ids}


def _ids(data: Interactions, idx: Indices) -> np.ndarray:
    return (data.item_ids if idx.kind == "item" else data.user_ids)[np.asarray(idx)]


COLD_START_PROTOCOLS = ("crossrec", "ptupcdr")


def cold_start(
    data: Interactions,
    fraction: float = 0.5,
    test_size: Optional[float] = None,
    seed: Optional[int] = 0,
    users: Optional[Iterable] = None,
    min_train: int = 1,
    axis: str = "users",
    protocol: str = "crossrec",
) -> ColdStart:
    """The cold-start split (see the protocols in the module docstring).

    Parameters
    ----------
    data : Interactions
    fraction : float in (0, 1)
        Fraction of the candidate users made cold (PTUPCDR's beta).
    test_size : float in [0, 1), optional
        Fraction of each warm user's interactions held out (rounded down). Default 0.2 for
        ``protocol="crossrec"``; ``"ptupcdr"`` has no warm holdout and accepts only 0 or None.
    seed : int or None
        Seed of both draws.
    users : iterable of external user ids, or :class:`~crossrec.data.Indices`, optional
        Candidates to draw the cold users from (e.g. the users a source domain shares with this
        target). Default: every user with at least one interaction. Ids unknown to ``data``
        raise UnknownIdError; candidates without interactions are never chosen.
    min_train : int
        Interactions every warm user keeps in train.
    axis : {"users", "items"}
        Which side is made cold ("items": cold items, for pairs that share items).
    protocol : {"crossrec", "ptupcdr"}
        "crossrec": the protocol above (at least one cold and one warm candidate, warm holdout).
        "ptupcdr": exactly the EMCDR/PTUPCDR protocol (module docstring).

    Returns
    -------
    ColdStart
    """
    data = _check_data(data)
    check_choice(axis, "axis", ("users", "items"))
    check_choice(protocol, "protocol", COLD_START_PROTOCOLS)
    fraction = check_float(fraction, "fraction", 0.0, 1.0, strict_min=True)
    if fraction >= 1.0:
        raise ValueError(f"fraction must be < 1 (some candidate {axis} must stay warm), got {fraction}")
    if protocol == "ptupcdr":
        if test_size is not None and test_size != 0:
            raise ValueError(f"protocol='ptupcdr' has no warm holdout: test_size must be 0 or None, got {test_size!r}")
        test_size = 0.0
    elif test_size is None:
        test_size = 0.2
    test_size = check_float(test_size, "test_size", 0.0, 1.0)
    if test_size >= 1.0:
        raise ValueError(f"test_size must be < 1, got {test_size}")
    min_train = check_positive_int(min_train, "min_train", minimum=0)
    owner = data.users if axis == "users" else data.items
    n_owners = data.n_users if axis == "users" else data.n_items
    counts = np.bincount(owner, minlength=n_owners)
    if users is None:
        pool = np.flatnonzero(counts > 0)
    elif isinstance(users, Indices):
        pool = np.unique(np.asarray(users))
        pool = pool[counts[pool] > 0]
    else:
        lookup = data.user_index if axis == "users" else data.item_index
        pool = np.unique(lookup(list(users)))
        pool = pool[counts[pool] > 0]
    rng = np.random.default_rng(check_seed(seed))
    if protocol == "ptupcdr":
        n_cold = int(round(fraction * len(pool)))  # their round(ratio * len(co_users)), no clamp
        if n_cold == 0:
            raise ValueError(
                f"protocol='ptupcdr': round({fraction} * {len(pool)} candidate {axis}) = 0 cold {axis}; "
                "give more candidates or a larger fraction"
            )
        if n_cold == np.count_nonzero(counts):
            raise ValueError(f"protocol='ptupcdr': every {axis[:-1]} of data would be cold, leaving no training data")
    elif len(pool) < 2:
        raise ValueError(
            f"a cold-start split needs at least 2 candidate {axis} with interactions (one cold, one warm); "
            f"got {len(pool)}"
        )
    else:
        n_cold = min(max(int(round(fraction * len(pool))), 1), len(pool) - 1)
    cold = np.sort(rng.choice(pool, size=n_cold, replace=False)).astype(np.int32)
    is_cold = np.zeros(n_owners, bool)
    is_cold[cold] = True
    test_mask = is_cold[owner]
    # Warm holdout: per owner, a random floor(test_size * count) of its interactions, leaving at
    # least min_train in training. Random keys sorted within each owner.
    keys = rng.random(data.nnz)
    order = np.lexsort((keys, owner))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(data.nnz, np.int64)
    rank[order] = np.arange(data.nnz) - np.repeat(starts, counts)
    n_hold = np.minimum(np.floor(test_size * counts).astype(np.int64), np.maximum(counts - min_train, 0))
    test_mask |= ~test_mask & (rank < n_hold[owner])
    train, test = _split(data, test_mask)
    active_train = np.bincount(owner[~test_mask], minlength=n_owners) > 0
    kind = axis[:-1]
    warm = Indices(np.flatnonzero(active_train & ~is_cold), kind)
    return ColdStart(train, test, Indices(cold, kind), warm)


def cold_start_users(
    data: Interactions, fraction: float = 0.2, seed: Optional[int] = 0, users: Optional[Iterable] = None
) -> tuple[Interactions, Interactions]:
    """Cold-start split without a warm holdout: ``cold_start(..., test_size=0)`` as (train, test).

    Every interaction of ``round(fraction * n_candidates)`` candidate users goes to test (see the
    protocol in the module docstring); ``test_users(test)`` lists them. Candidates: ``users``
    (external ids, e.g. the users a source domain shares with this target), default every user
    with an interaction.
    """
    split = cold_start(data, fraction, test_size=0.0, seed=seed, users=users)
    return split.train, split.test


def test_users(test: Interactions) -> np.ndarray:
    """External ids of the users that have at least one interaction in ``test``."""
    return test.user_ids[np.unique(test.users)]


test_users.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite its name
