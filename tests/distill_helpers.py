"""A generated cross-domain pair and a source-informed factor teacher for the distillation tests.

The pair: users with latent tastes interact with source and target items (top scores under
Gumbel noise); a fraction of users are cold (all their target interactions are held out), the
warm users hold out a few target interactions. The teacher is a truncated SVD of the joint
[source | target train] matrix, so it scores target items for cold users from their source data.
"""

import crossrec as cr
import numpy as np
import scipy.sparse as sp
from crossrec.data import IdMap


def generated_pair(
    seed=0,
    n_users=300,
    n_source=200,
    n_target=150,
    dim=6,
    per_source=20,
    per_target=15,
    cold_fraction=0.3,
    holdout=3,
    noise=1.0,
):
    rng = np.random.default_rng(seed)
    users = rng.standard_normal((n_users, dim))
    src = rng.standard_normal((n_source, dim))
    tgt = rng.standard_normal((n_target, dim))

    def draw(items, per):
        s = users @ items.T + noise * rng.gumbel(size=(n_users, len(items)))
        return np.argsort(-s, axis=1)[:, :per]

    s_top, t_top = draw(src, per_source), draw(tgt, per_target)
    cold = rng.permutation(n_users)[: int(cold_fraction * n_users)]
    is_cold = np.zeros(n_users, bool)
    is_cold[cold] = True
    umap = IdMap(np.array([f"u{u}" for u in range(n_users)]), "user")
    smap = IdMap(np.array([f"s{i}" for i in range(n_source)]), "item")
    tmap = IdMap(np.array([f"t{i}" for i in range(n_target)]), "item")
    rows_tr, cols_tr, rows_te, cols_te = [], [], [], []
    for u in range(n_users):
        items = rng.permutation(t_top[u])
        k = per_target if is_cold[u] else holdout
        rows_te += [u] * k
        cols_te += list(items[:k])
        rows_tr += [u] * (per_target - k)
        cols_tr += list(items[k:])

    def inter(r, c, imap):
        r, c = np.asarray(r, np.int32), np.asarray(c, np.int32)
        return cr.Interactions(r, c, np.ones(len(r), np.float32), umap, imap, explicit=False)

    source = inter(np.repeat(np.arange(n_users), per_source), s_top.ravel(), smap)
    return source, inter(rows_tr, cols_tr, tmap), inter(rows_te, cols_te, tmap), np.sort(cold)


class SVDTeacher(cr.Recommender):
    """Truncated SVD of the joint [source | target] matrix; scores the target items."""

    def __init__(self, factors=16):
        self.factors = factors

    def fit(self, source, target):
        self._start_fit(target)
        joint = sp.hstack([source.matrix, target.matrix]).tocsr().astype(np.float64)
        u, s, vt = sp.linalg.svds(joint, k=self.factors, random_state=0)
        self.user_factors_ = (u * s).astype(np.float32)
        self.item_factors_ = np.ascontiguousarray(vt.T[source.n_items :], dtype=np.float32)
        return self

    def _factors(self, user_idx):
        return self.user_factors_[user_idx], self.item_factors_, None


class StudentSpec(cr.Recommender):
    """Stands in for an unfitted factor student (only its size is read)."""

    def __init__(self, factors=8, regularization=0.01):
        self.factors = factors
        self.regularization = regularization


def ndcg(model, train, test, users, k=10):
    top, _ = model.recommend_indices(users, n=k, exclude_seen=True)
    return cr.metrics.ndcg_at_k(top, test.matrix[users], k)
