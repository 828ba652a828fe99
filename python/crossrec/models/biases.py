"""Regularised user and item biases (mu + b_u + b_i): the rating baseline that Baseline, the kNN
estimators and every model's fallback for unknown ids share. No dependency on the model classes."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def fit_biases(
    matrix: sp.csr_matrix,
    reg_user: float = 15.0,
    reg_item: float = 10.0,
    iterations: int = 10,
    global_mean: float | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Global mean and regularised user/item biases by alternating least squares.

    Minimises sum_(u,i) (r_ui - mu - b_u - b_i)^2 + reg_user sum b_u^2 + reg_item sum b_i^2,
    alternating closed-form updates (items first, as Surprise's ``baseline_only`` ALS does):
    b_i = sum_u (r_ui - mu - b_u) / (reg_item + |U_i|), b_u = sum_i (r_ui - mu - b_i) / (reg_user + |I_u|).
    """
    coo = matrix.tocoo()
    # intp indices once (bincount would convert int32 on every call); r - mu hoisted out of the
    # loop: (r - mu) - b is exactly what r - mu - b evaluated, so the results are unchanged.
    u, i, r = coo.row.astype(np.intp), coo.col.astype(np.intp), coo.data.astype(np.float64)
    mu = float(r.mean()) if global_mean is None else float(global_mean)
    n_users, n_items = matrix.shape
    den_u = reg_user + np.bincount(u, minlength=n_users)
    den_i = reg_item + np.bincount(i, minlength=n_items)
    residual = r - mu
    bu = np.zeros(n_users)
    bi = np.zeros(n_items)
    for _ in range(iterations):
        bi = np.bincount(i, weights=residual - bu[u], minlength=n_items) / den_i
        bu = np.bincount(u, weights=residual - bi[i], minlength=n_users) / den_u
    return mu, bu.astype(np.float32), bi.astype(np.float32)
