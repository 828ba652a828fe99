"""Two domains that share users (or items), aligned into one index space, and the cold-start split.

A :class:`CrossDomain` pair holds a ``source`` and a ``target`` :class:`~crossrec.Interactions`
re-indexed so that the *shared* side (users by default) has one id map for both domains: the
union of the two domains' ids, the source's ids first in their original order, then the ids seen
only in the target. Each domain keeps its own map for the other side (its own items). Index ``u``
therefore means the same external user in ``pair.source`` and ``pair.target``, which is what every
transfer method needs: a source model's row ``u`` is a starting point, prior or mapping input for
the target model's row ``u``.

Ids are compared exactly as given (``5`` and ``"5"`` are different ids); when the two domains'
ids are of different types and nothing overlaps, the error says so.

Cold-start protocol (:meth:`CrossDomain.cold_start_split`, documented once in
:mod:`crossrec.split`): pick a seeded fraction of the *overlapping* users (those with
interactions in both domains) and hold out *all* of their target interactions; hold out a
``test_size`` fraction of every other target user's interactions (the warm users). Training keeps
the whole source domain plus the remaining target interactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from .._validation import check_seed
from ..data import IdMap, Indices, Interactions
from ..split import cold_start

SHARED = ("users", "items")


def _union_ids(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a's ids in order, then b's ids not in a (order of b). Exact comparison, no type coercion."""
    ia = pd.Index(a)
    extra = b[ia.get_indexer(pd.Index(b)) < 0] if len(a) else b
    if len(extra) == 0:
        return a
    if a.dtype == extra.dtype or (a.dtype.kind in "iu" and extra.dtype.kind in "iu"):
        return np.concatenate([a, extra])
    out = np.empty(len(a) + len(extra), dtype=object)  # ids of different types: keep both as given
    out[: len(a)] = list(a)
    out[len(a) :] = list(extra)
    return out


def _reindex(data: Interactions, axis: str, new_map: IdMap) -> Interactions:
    """The same interactions with the ``axis`` side ('users' or 'items') mapped into new_map."""
    if axis == "users":
        users = new_map.lookup(data.user_ids)[data.users]
        return Interactions(
            users, data.items, data.values, new_map, data.item_map, timestamps=data.timestamps, explicit=data.explicit
        )
    items = new_map.lookup(data.item_ids)[data.items]
    return Interactions(
        data.users, items, data.values, data.user_map, new_map, timestamps=data.timestamps, explicit=data.explicit
    )


def _type_names(ids: np.ndarray) -> str:
    if ids.dtype != object:
        return str(ids.dtype)
    return "/".join(sorted({type(v).__name__ for v in ids[:1000]}))


class CrossDomain:
    """A source and a target domain aligned on their shared users (or items).

    Parameters
    ----------
    source, target : Interactions
        The two domains. Each may be explicit (ratings) or implicit.
    shared : {"users", "items"}
        Which side the domains share, matched by external id.

    Attributes
    ----------
    source, target : Interactions
        The domains re-indexed on the shared id map (the union of both domains' shared ids).
    shared_map : IdMap
        The shared id space; ``pair.source.user_map is pair.target.user_map is pair.shared_map``
        when ``shared="users"``.
    overlap : Indices (int32, tagged as indices)
        Shared indices with at least one interaction in *both* domains.
    overlap_ids : ndarray
        Their external ids.

    Raises
    ------
    ValueError
        When no shared id has interactions in both domains (the message names the id types when
        they differ, e.g. ``int64`` vs ``str``).

    Examples
    --------
    >>> pair = cr.CrossDomain(books, music, shared="users")
    >>> pair.summary()["n_overlap"]
    1566
    >>> split = pair.cold_start_split(fraction=0.5, test_size=0.2, seed=0)
    >>> model = SomeTransfer().fit(split.train)          # split.train is a CrossDomain
    >>> cold = split.cold_users                           # target user indices (split.cold_user_ids)
    """

    def __init__(self, source: Interactions, target: Interactions, shared: str = "users"):
        for name, d in (("source", source), ("target", target)):
            if not isinstance(d, Interactions):
                raise ValueError(f"{name} must be crossrec.Interactions, got {type(d).__name__}")
            if d.nnz == 0:
                raise ValueError(f"{name} domain has no interactions")
        if shared not in SHARED:
            raise ValueError(f"shared must be 'users' or 'items', got {shared!r}")
        self.shared = shared
        src_ids = source.user_ids if shared == "users" else source.item_ids
        tgt_ids = target.user_ids if shared == "users" else target.item_ids
        same_map = (source.user_map if shared == "users" else source.item_map) is (
            target.user_map if shared == "users" else target.item_map
        )
        if same_map:
            self.shared_map = source.user_map if shared == "users" else source.item_map
            self.source, self.target = source, target
        else:
            self.shared_map = IdMap(_union_ids(np.asarray(src_ids), np.asarray(tgt_ids)), shared[:-1])
            self.source = _reindex(source, shared, self.shared_map)
            self.target = _reindex(target, shared, self.shared_map)
        in_src = self._active(self.source) > 0
        in_tgt = self._active(self.target) > 0
        self.overlap = Indices(np.flatnonzero(in_src & in_tgt), shared[:-1])
        if len(self.overlap) == 0:
            hint = ""
            ts, tt = _type_names(np.asarray(src_ids)), _type_names(np.asarray(tgt_ids))
            if ts != tt:
                hint = (
                    f"; the source {shared[:-1]} ids are {ts} and the target's are {tt} - ids are compared "
                    f"as given, so convert one side (e.g. both to str) if they name the same {shared}"
                )
            raise ValueError(
                f"the source and target domains share no {shared}: no {shared[:-1]} id has interactions in both{hint}"
            )

    def _active(self, d: Interactions) -> np.ndarray:
        return d.user_counts() if self.shared == "users" else d.item_counts()

    # ---- views ---------------------------------------------------------------------------
    @property
    def overlap_ids(self) -> np.ndarray:
        return self.shared_map.ids[self.overlap]

    @property
    def n_shared(self) -> int:
        """Size of the shared id space (union of both domains)."""
        return len(self.shared_map)

    @property
    def explicit(self) -> bool:
        """True when the target domain holds ratings."""
        return self.target.explicit

    def summary(self) -> dict:
        """Overlap report: counts of shared entities per domain and the overlap fractions."""
        n_src = int((self._active(self.source) > 0).sum())
        n_tgt = int((self._active(self.target) > 0).sum())
        n_ov = len(self.overlap)
        return {
            "shared": self.shared,
            "n_source": n_src,
            "n_target": n_tgt,
            "n_union": self.n_shared,
            "n_overlap": n_ov,
            "overlap_fraction_source": n_ov / max(n_src, 1),
            "overlap_fraction_target": n_ov / max(n_tgt, 1),
            "source": repr(self.source),
            "target": repr(self.target),
        }

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"CrossDomain(shared={self.shared!r}, overlap={s['n_overlap']} of {s['n_source']} source / "
            f"{s['n_target']} target {self.shared}; source={self.source!r}, target={self.target!r})"
        )

    def transposed(self) -> CrossDomain:
        """Both domains transposed (users <-> items): a pair sharing items becomes a pair sharing
        users (the shared items play the users) and back. Overlap, shared map and index
        positions are unchanged, so index ``e`` names the same shared entity in both pairs."""
        return CrossDomain(
            self.source.transposed(), self.target.transposed(), "users" if self.shared == "items" else "items"
        )

    def with_target(self, target: Interactions) -> CrossDomain:
        """The same source with another target in the same index space (e.g. a training subset)."""
        if target.user_map is not self.target.user_map or target.item_map is not self.target.item_map:
            raise ValueError("with_target needs a target in this pair's index space (a subset of pair.target)")
        return CrossDomain(self.source, target, self.shared)

    def with_source(self, source: Interactions) -> CrossDomain:
        """The same target with another source in the same index space (e.g. a permuted control)."""
        if source.user_map is not self.source.user_map or source.item_map is not self.source.item_map:
            raise ValueError("with_source needs a source in this pair's index space")
        return CrossDomain(source, self.target, self.shared)

    def permuted_source(self, seed: int = 0) -> CrossDomain:
        """Negative control: the source's shared identities shuffled among the source's own active
        entities. Every marginal (activity per entity, item popularity) is kept; the link between a
        user's source history and their target history is destroyed."""
        rng = np.random.default_rng(check_seed(seed))
        active = np.flatnonzero(self._active(self.source) > 0)
        perm = np.arange(self.n_shared)
        perm[active] = rng.permutation(active)
        s = self.source
        if self.shared == "users":
            d = Interactions(
                perm[s.users].astype(np.int32),
                s.items,
                s.values,
                s.user_map,
                s.item_map,
                timestamps=s.timestamps,
                explicit=s.explicit,
            )
        else:
            d = Interactions(
                s.users,
                perm[s.items].astype(np.int32),
                s.values,
                s.user_map,
                s.item_map,
                timestamps=s.timestamps,
                explicit=s.explicit,
            )
        return self.with_source(d)

    # ---- splits --------------------------------------------------------------------------
    def cold_start_split(
        self,
        fraction: float = 0.5,
        test_size: Optional[float] = None,
        seed: int = 0,
        min_train: int = 1,
        protocol: str = "crossrec",
    ) -> ColdStartSplit:
        """Seeded cold-start split of the target domain: :func:`crossrec.split.cold_start` with the
        overlapping entities as candidates (the protocol is documented there, once).

        Parameters
        ----------
        fraction : float in (0, 1)
            Fraction of the overlapping entities made cold: all their target interactions go to
            the test set (their source interactions stay in training).
        test_size : float in [0, 1), optional
            Fraction of each warm entity's target interactions held out for testing (rounded
            down, and never the last ``min_train`` ones, so every warm entity keeps training data).
            Default 0.2; ``protocol="ptupcdr"`` has none (0 or None only).
        seed : int
            Seed of both draws; the same seed gives the same split.
        protocol : {"crossrec", "ptupcdr"}
            "ptupcdr": the EMCDR/PTUPCDR cold-start rating protocol (beta = ``fraction`` of the
            overlapping users cold, no warm holdout; see :mod:`crossrec.split`).

        Returns
        -------
        ColdStartSplit
            ``train`` (a CrossDomain: the full source + the target's training part), ``test``
            (target Interactions in the same index space), ``cold_users`` / ``warm_users``
            (shared indices; ``cold_user_ids`` / ``warm_user_ids`` for external ids) and
            ``validation(...)`` to carve a validation split out of ``train`` only.
        """
        split = cold_start(
            self.target,
            fraction,
            test_size,
            seed,
            users=self.overlap,
            min_train=min_train,
            axis=self.shared,
            protocol=protocol,
        )
        if len(split.cold_users) == len(self.overlap):  # only possible with protocol="ptupcdr"
            raise ValueError(
                f"fraction={fraction} makes all {len(self.overlap)} overlapping {self.shared} cold, leaving none "
                "to learn the transfer from; use a smaller fraction"
            )
        return ColdStartSplit(
            train=CrossDomain(self.source, split.train, self.shared),
            test=split.test,
            cold_users=split.cold_users,
            warm_users=split.warm_users,
            fraction=float(fraction),
            test_size=0.0 if protocol == "ptupcdr" else (0.2 if test_size is None else float(test_size)),
            seed=seed,
            protocol=protocol,
        )


@dataclass
class ColdStartSplit:
    """Result of :meth:`CrossDomain.cold_start_split`.

    Attributes
    ----------
    train : CrossDomain
        Full source domain + target training interactions. Cold entities are in the shared id
        space but have no target training interaction.
    test : Interactions
        Target test interactions (same index space as ``train.target``): every target interaction
        of the cold entities plus the warm holdout.
    cold_users, warm_users : Indices (int32 arrays tagged as indices)
        Shared indices of the cold entities and of the warm ones (target entities with training
        data). With ``shared="items"`` these are item indices (the names stay for one API).
        ``cold_user_ids`` / ``warm_user_ids`` / ``segments`` give external ids.
    """

    train: CrossDomain
    test: Interactions
    cold_users: np.ndarray
    warm_users: np.ndarray
    fraction: float
    test_size: float
    seed: Optional[int]
    protocol: str = "crossrec"

    def __repr__(self) -> str:
        return (
            f"ColdStartSplit({len(self.cold_users)} cold / {len(self.warm_users)} warm shared entities, "
            f"fraction={self.fraction}, test_size={self.test_size}, seed={self.seed}, protocol={self.protocol!r}; "
            f"test {self.test!r})"
        )

    @property
    def cold_user_ids(self) -> np.ndarray:
        return self.train.shared_map.ids[self.cold_users]

    @property
    def warm_user_ids(self) -> np.ndarray:
        return self.train.shared_map.ids[self.warm_users]

    @property
    def segments(self) -> dict[str, np.ndarray]:
        """``{"cold": external ids, "warm": external ids}``, for ``crossrec.evaluate(segments=...)``."""
        return {"cold": self.cold_user_ids, "warm": self.warm_user_ids}

    def validation(
        self, fraction: Optional[float] = None, test_size: Optional[float] = None, seed: int = 1
    ) -> ColdStartSplit:
        """A cold-start split carved out of ``train`` only (for choosing hyper-parameters).

        Its cold entities are drawn among the training overlap, so the test cold entities (which
        have no target training data) are never used, and its test set is a subset of
        ``train.target``: no test interaction is seen. Defaults: this split's fraction/test_size.
        """
        return self.train.cold_start_split(
            self.fraction if fraction is None else fraction,
            self.test_size if test_size is None else test_size,
            seed,
            protocol=self.protocol,
        )
