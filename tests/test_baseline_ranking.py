"""Baseline / MostPopular rank through the fused factor kernel: same lists as the dense scores."""

import numpy as np
import pytest

import crossrec as cr
from contract import small_data


@pytest.mark.parametrize("make", [cr.Baseline, cr.MostPopular])
def test_factor_ranking_equals_dense_ranking(make):
    data = small_data(seed=4, n_users=30, n_items=50, per_user=10)
    model = make().fit(data)
    users = np.arange(data.n_users, dtype=np.int32)
    fast_items, fast_scores = model.recommend_indices(users, n=8)
    dense = model.score_indices(users)
    ref_items, ref_scores = cr.topn_from_scores(
        np.ascontiguousarray(dense, np.float32), 8, exclude=model.seen_, exclude_rows=users
    )
    np.testing.assert_allclose(fast_scores, ref_scores, rtol=1e-6, atol=1e-6)
    # identical lists, except where two scores are equal to float32 rounding
    differ = fast_items != ref_items
    assert np.all(np.isclose(fast_scores[differ], ref_scores[differ], atol=1e-6))
    assert model.scoring_factors(users[:3])[0].dtype == np.float32
