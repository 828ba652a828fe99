"""Sampled-negative ranking as the cross-domain literature evaluates it: each test interaction's
item is ranked against sampled negatives, and the 1-based rank of the positive is returned.

Two samplers, each reproducing one published evaluation (with a seeded numpy Generator in place
of the original unseeded generator; the distribution of the candidates is the same):

``"disencdr"`` (github cjx96/DisenCDR, ``utils/loader.py`` and ``train_rec.py``)
    The item universe is the items with at least one training interaction in the domain; test rows
    whose user has no training interaction or whose item is outside the universe are skipped. Each
    of the ``n_negatives`` (999) negatives is drawn uniformly from the universe and re-drawn while
    it is in the user's training items: negatives are drawn with replacement (they can repeat) and
    the positive itself can be drawn as a negative. The rank is
    ``(-scores).argsort().argsort()[0] + 1`` over ``[positive, negatives...]``; with a stable sort
    (how we read torch's argsort, whose API does not promise stability) the positive comes first
    among equal scores, so **rank = 1 + the number of negatives scored strictly higher**
    (ties, including a negative that is the positive item itself, favour the positive).

``"cdimf"`` (github aa-samra/cd-imf, ``utils/evaluation.py``)
    The universe is the domain's training items in the training data's item order. The user's
    training items are set below every score (``downvote_seen_items``), then a uniformly random
    subset of ``n_items - n_negatives - 1`` items (over the whole universe: seen items and the
    positive included) is set lower still and the positive's score is restored
    (``downvote_negative_samples``): equivalently, ``n_negatives + 1`` items are kept at random.
    The ranking is their ``topidx``: ``np.argpartition(row, -n)[-n:]`` ordered by
    ``np.argsort(-row[part])``, run on the full universe row, so **ties are broken exactly as
    numpy's introselect and quicksort break them** on that row; the rank is the positive's
    position in that top-n list (infinite when absent), n being the largest cut-off asked for
    (their ``model_evaluate`` slices one list ``[:, :topn]`` the same way); an ``mrr`` without a
    cut-off asks for the whole list of kept candidates.

Both return one rank per evaluated test interaction; :func:`crossrec.evaluate` turns them into
per-user HR@k, NDCG@k (``1/log2(rank+1)`` when rank <= k) and MRR (``1/rank``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .data import Interactions

__all__ = ["SAMPLERS", "sampled_ranks"]

SAMPLERS = ("disencdr", "cdimf")
_BLOCK = 256  # test rows scored at once: bounds the dense (rows, n_items) score block


def _test_rows(test: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """(user index, item index) of every test interaction, in test's id space, row-major."""
    m = test.matrix.tocsr()
    users = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    return users, m.indices.astype(np.int64)


def sampled_ranks(
    model: Any,
    train: Interactions,
    test: Interactions,
    sampler: str,
    n_negatives: int,
    rng: np.random.Generator,
    n_top: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(test user external ids, 1-based ranks as float64) of the evaluated test interactions.

    ``n_top`` bounds the ``"cdimf"`` top list (ranks beyond it are ``inf``); ``n_top`` <= 0 means
    the whole list of kept candidates. Users the model does not know are skipped.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    train_m = train.matrix.tocsr()
    universe = np.flatnonzero(np.diff(train_m.tocsc().indptr) > 0)  # train items, train's order
    n_univ = len(universe)
    if n_univ < n_negatives + 1:
        raise ValueError(
            f"n_negatives={n_negatives} needs at least {n_negatives + 1} items with training "
            f"interactions, and train has {n_univ}"
        )
    model_items = model.item_map_.lookup(train.item_ids[universe], missing="ignore")
    if (model_items < 0).any():
        raise ValueError(
            f"the model does not know {(model_items < 0).sum()} of train's items (e.g. "
            f"{train.item_ids[universe[model_items < 0][0]]!r}); sampled ranking scores every train item"
        )
    univ_pos = np.full(train.n_items, -1, np.int64)
    univ_pos[universe] = np.arange(n_univ)

    t_users, t_items = _test_rows(test)
    user_ext = test.user_ids[t_users]
    # test rows -> train users and universe positions (skip rows DisenCDR's loader skips)
    u_train = train.user_map.lookup(user_ext, missing="ignore")
    i_train = train.item_map.lookup(test.item_ids[t_items], missing="ignore")
    pos = np.where(i_train >= 0, univ_pos[np.maximum(i_train, 0)], -1)
    u_model = model.user_map_.lookup(user_ext, missing="ignore")
    keep = (u_train >= 0) & (pos >= 0) & (u_model >= 0)
    if sampler == "disencdr":
        keep &= np.diff(train_m.indptr)[np.maximum(u_train, 0)] > 0
    rows = np.flatnonzero(keep)
    seen = _seen_universe(train_m, univ_pos, n_univ)
    ranks = np.empty(len(rows))
    for s in range(0, len(rows), _BLOCK):
        r = rows[s : s + _BLOCK]
        scores = np.asarray(model.score_indices(u_model[r].astype(np.int32)), dtype=np.float64)[:, model_items]
        if not np.all(np.isfinite(scores)):
            raise ValueError(f"{type(model).__name__} returned non-finite scores; sampled ranking needs finite ones")
        if sampler == "disencdr":
            ranks[s : s + len(r)] = _disencdr_block(scores, pos[r], seen[u_train[r]], n_negatives, rng)
        else:
            ranks[s : s + len(r)] = _cdimf_block(scores, pos[r], seen[u_train[r]], n_negatives, rng, n_top)
    return user_ext[rows], ranks


def _seen_universe(train_m: sp.csr_matrix, univ_pos: np.ndarray, n_univ: int) -> sp.csr_matrix:
    """Each train user's training items as universe positions (CSR, values 1)."""
    coo = train_m.tocoo()
    out = sp.csr_matrix((np.ones(coo.nnz, np.int8), (coo.row, univ_pos[coo.col])), shape=(train_m.shape[0], n_univ))
    out.sum_duplicates()
    return out


def draw_disencdr_negatives(seen_row: np.ndarray, n_univ: int, n_negatives: int, rng: np.random.Generator):
    """``n_negatives`` universe positions drawn uniformly with replacement, each re-drawn while it
    is among ``seen_row`` (the user's training items), as DisenCDR's loader does."""
    if len(seen_row) >= n_univ:
        raise ValueError("a test user has seen every item: no negative can be drawn (DisenCDR loops forever)")
    seen_set = np.zeros(n_univ, bool)
    seen_set[seen_row] = True
    out = rng.integers(0, n_univ, size=n_negatives)
    bad = np.flatnonzero(seen_set[out])
    while len(bad):  # rejection sampling, as theirs: a uniform draw over the unseen items
        out[bad] = rng.integers(0, n_univ, size=len(bad))
        bad = bad[seen_set[out[bad]]]
    return out


def _disencdr_block(scores, pos, seen: sp.csr_matrix, n_negatives: int, rng) -> np.ndarray:
    n_univ = scores.shape[1]
    out = np.empty(len(pos))
    for j in range(len(pos)):
        row_seen = seen.indices[seen.indptr[j] : seen.indptr[j + 1]]
        neg = draw_disencdr_negatives(row_seen, n_univ, n_negatives, rng)
        out[j] = 1.0 + np.count_nonzero(scores[j, neg] > scores[j, pos[j]])
    return out


def _cdimf_block(scores, pos, seen: sp.csr_matrix, n_negatives: int, rng, n_top: int) -> np.ndarray:
    n_univ = scores.shape[1]
    b = len(pos)
    rows = np.arange(b)
    # downvote_seen_items: training items to (min - 1); then the dropped items lower still.
    seen_value = scores.min(axis=1) - 1.0
    r_seen = np.repeat(rows, np.diff(seen.indptr))
    scores[r_seen, seen.indices] = seen_value[r_seen]
    positive = scores[rows, pos].copy()
    kept = np.zeros((b, n_univ), bool)
    for j in range(b):  # keeping n_negatives + 1 at random == dropping the rest at random
        kept[j, rng.choice(n_univ, size=n_negatives + 1, replace=False)] = True
    scores = np.where(kept, scores, (seen_value - 1.0)[:, None])
    scores[rows, pos] = positive
    n = min(n_univ, n_top if n_top > 0 else n_negatives + 2)
    top = np.empty((b, n), np.int64)
    for j in range(b):  # their topidx, row by row, so numpy breaks ties exactly as there
        part = np.argpartition(scores[j], -n)[-n:]
        top[j] = part[np.argsort(-scores[j, part])]
    hit = top == pos[:, None]
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1.0, np.inf)
