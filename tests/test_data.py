"""crossrec.Interactions / IdMap: constructors, id types, duplicate policies, bad input, views."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

import crossrec as cr


def df_basic():
    return pd.DataFrame(
        {"u": ["b", "a", "a", "c"], "i": [10, 20, 10, 30], "r": [4.0, 3.0, 5.0, 1.0], "t": [100, 200, 300, 400]}
    )


def as_dict(d):
    """{(user id, item id): value} of an Interactions."""
    return {(d.user_ids[u], d.item_ids[i]): float(v) for u, i, v in zip(d.users, d.items, d.values)}


# ---- constructors -------------------------------------------------------------------------
def test_from_pandas_maps_ids_both_ways():
    d = cr.Interactions.from_pandas(df_basic(), "u", "i", "r", "t")
    assert d.shape == (3, 3) and d.nnz == 4 and d.explicit
    assert list(d.user_ids) == ["a", "b", "c"] and list(d.item_ids) == [10, 20, 30]
    assert as_dict(d) == {("b", 10): 4.0, ("a", 20): 3.0, ("a", 10): 5.0, ("c", 30): 1.0}
    np.testing.assert_array_equal(d.user_index(["c", "a"]), [2, 0])
    assert d.item_index(30)[0] == 2
    m = d.matrix
    assert isinstance(m, sp.csr_matrix) and m.shape == (3, 3) and m[0, 0] == 5.0
    assert m.dtype == np.float32
    ts = dict(zip(zip(d.users, d.items), d.timestamps))
    assert ts[(1, 0)] == 100 and ts[(2, 2)] == 400


def test_implicit_without_rating_column():
    d = cr.Interactions.from_pandas(df_basic(), "u", "i")
    assert not d.explicit and set(d.values) == {1.0}
    w = cr.Interactions.from_pandas(df_basic(), "u", "i", "r", implicit=True)
    assert not w.explicit and as_dict(w)[("a", 10)] == 5.0


@pytest.mark.parametrize(
    "users",
    [
        ["x", "y", "x"],  # str
        [5, 1, 5],  # int
        [1.5, 2.5, 1.5],  # float
        ["x", 3, "x"],  # mixed, unorderable
        [np.int64(7), np.int64(2), np.int64(7)],
    ],
)
def test_id_types(users):
    d = cr.Interactions.from_arrays(users, ["i1", "i2", "i3"], [1.0, 2.0, 3.0])
    assert d.n_users == 2 and d.nnz == 3
    for u, i, v in zip(users, ["i1", "i2", "i3"], [1.0, 2.0, 3.0]):
        assert as_dict(d)[(u, i)] == v
    assert d.user_index(users[0])[0] == d.user_index([users[2]])[0]


def test_datetime_timestamps():
    df = df_basic()
    df["t"] = pd.to_datetime(df["t"], unit="s")
    d = cr.Interactions.from_pandas(df, "u", "i", "r", "t")
    assert sorted(d.timestamps) == [100, 200, 300, 400]


def test_from_csv(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(b"user;item;rating\r\nu1;a;4\r\nu2;b;5\r\nu1;b;2")  # CRLF, no final newline
    d = cr.Interactions.from_csv(p, rating="rating", sep=";")
    assert as_dict(d) == {("u1", "a"): 4.0, ("u2", "b"): 5.0, ("u1", "b"): 2.0}


def test_from_scipy_and_arrays():
    m = sp.csr_matrix(np.array([[0, 2.0, 0], [1.0, 0, 0]]))
    d = cr.Interactions.from_scipy(m, user_ids=["p", "q"], item_ids=["a", "b", "c"])
    assert d.shape == (2, 3) and as_dict(d) == {("p", "b"): 2.0, ("q", "a"): 1.0} and not d.explicit
    d2 = cr.Interactions.from_scipy(sp.coo_matrix(m))
    assert list(d2.user_ids) == [0, 1] and d2.n_items == 3
    # explicit zeros are interactions
    z = sp.csr_matrix((np.array([0.0, 1.0]), np.array([0, 1]), np.array([0, 2])), shape=(1, 2))
    assert cr.Interactions.from_scipy(z).nnz == 2
    with pytest.raises(ValueError, match="shape"):
        cr.Interactions.from_scipy(m, user_ids=["p"])
    with pytest.raises(ValueError, match="scipy.sparse"):
        cr.Interactions.from_scipy(np.eye(2))
    with pytest.raises(ValueError, match="no interactions"):
        cr.Interactions.from_scipy(sp.csr_matrix((2, 2)))
    a = cr.Interactions.from_arrays([1, 2], [3, 4])
    assert not a.explicit and as_dict(a) == {(1, 3): 1.0, (2, 4): 1.0}
    t = cr.Interactions.from_arrays([1, 2], [3, 4], [5.0, 1.0], timestamps=[9, 8])
    assert t.explicit and sorted(t.timestamps) == [8, 9]


# ---- duplicates ---------------------------------------------------------------------------
def dup_df():
    return pd.DataFrame({"u": ["a", "a", "a", "b"], "i": [1, 1, 1, 1], "r": [2.0, 5.0, 3.0, 4.0], "t": [30, 10, 20, 5]})


@pytest.mark.parametrize("policy, want", [("sum", 10.0), ("mean", 10.0 / 3), ("max", 5.0), ("last", 2.0)])
def test_duplicate_policies(policy, want):
    d = cr.Interactions.from_pandas(dup_df(), "u", "i", "r", "t", duplicates=policy)
    assert d.nnz == 2
    assert as_dict(d)[("a", 1)] == pytest.approx(want, rel=1e-6)
    assert as_dict(d)[("b", 1)] == 4.0


def test_last_without_timestamps_is_row_order():
    d = cr.Interactions.from_pandas(dup_df(), "u", "i", "r", duplicates="last")
    assert as_dict(d)[("a", 1)] == 3.0


def test_duplicates_error_names_the_pair():
    with pytest.raises(ValueError, match=r"duplicate \(user, item\).*'a', 1"):
        cr.Interactions.from_pandas(dup_df(), "u", "i", "r")
    with pytest.raises(ValueError, match="duplicates must be one of"):
        cr.Interactions.from_pandas(dup_df(), "u", "i", "r", duplicates="first")


# ---- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_ratings(bad):
    df = df_basic()
    df.loc[2, "r"] = bad
    with pytest.raises(ValueError, match="NaN or infinite.*row 2"):
        cr.Interactions.from_pandas(df, "u", "i", "r")


def test_bad_inputs():
    with pytest.raises(ValueError, match="empty"):
        cr.Interactions.from_pandas(df_basic().iloc[:0], "u", "i", "r")
    with pytest.raises(ValueError, match="column 'x' not in DataFrame"):
        cr.Interactions.from_pandas(df_basic(), "x", "i")
    with pytest.raises(ValueError, match="DataFrame"):
        cr.Interactions.from_pandas({"u": [1]}, "u", "i")
    neg = df_basic().assign(r=[1.0, -2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="negative"):
        cr.Interactions.from_pandas(neg, "u", "i", "r", implicit=True)
    assert cr.Interactions.from_pandas(neg, "u", "i", "r").nnz == 4  # negative ratings are fine when explicit
    with pytest.raises(ValueError, match="not numeric"):
        cr.Interactions.from_pandas(df_basic().assign(r=list("wxyz")), "u", "i", "r")
    with pytest.raises(ValueError, match="missing"):
        cr.Interactions.from_pandas(df_basic().assign(u=["a", None, "b", "c"]), "u", "i")
    with pytest.raises(ValueError, match="timestamp"):
        cr.Interactions.from_pandas(df_basic().assign(t=[1.0, np.nan, 2.0, 3.0]), "u", "i", "r", "t")
    with pytest.raises(ValueError, match="differ in length"):
        cr.Interactions.from_arrays([1, 2], [3])


def test_unknown_ids_in_fixed_space():
    d = cr.Interactions.from_pandas(df_basic(), "u", "i", "r")
    with pytest.raises(cr.UnknownIdError, match="unknown user id.*'zed'"):
        cr.Interactions.from_pandas(pd.DataFrame({"u": ["zed"], "i": [10]}), "u", "i", user_ids=d.user_map)
    with pytest.raises(cr.UnknownIdError, match="unknown item"):
        d.item_index([10, 99])
    np.testing.assert_array_equal(d.item_index([10, 99], missing="ignore"), [0, -1])
    t = cr.Interactions.from_pandas(
        pd.DataFrame({"u": ["c"], "i": [20]}), "u", "i", user_ids=d.user_map, item_ids=d.item_map
    )
    assert t.user_map is d.user_map and t.shape == d.shape


def test_idmap():
    m = cr.IdMap(["x", "y"], "user")
    assert len(m) == 2 and "x" in m and "z" not in m
    assert m == cr.IdMap(np.array(["x", "y"]), "user") and m != cr.IdMap(["y", "x"])
    with pytest.raises(ValueError, match="not unique"):
        cr.IdMap(["x", "x"])
    with pytest.raises(ValueError, match="1-D"):
        cr.IdMap(np.zeros((2, 2)))
    assert m.lookup([]).shape == (0,)


# ---- views --------------------------------------------------------------------------------
def test_subset_binarize_with_values_to_pandas_round_trip():
    d = cr.Interactions.from_pandas(df_basic(), "u", "i", "r", "t")
    s = d.subset(d.values >= 3)
    assert s.nnz == 3 and s.user_map is d.user_map and s.timestamps is not None
    assert d.subset(np.array([0, 3])).nnz == 2
    with pytest.raises(ValueError, match="mask length"):
        d.subset(np.ones(3, bool))
    b = d.binarize(threshold=4)
    assert not b.explicit and b.nnz == 2 and set(b.values) == {1.0}
    w = d.with_values(d.values * 2)
    assert w.values.sum() == pytest.approx(2 * d.values.sum())
    with pytest.raises(ValueError, match="NaN"):
        d.with_values(np.full(4, np.nan))
    back = cr.Interactions.from_pandas(d.to_pandas(), "user", "item", "rating", "timestamp")
    assert as_dict(back) == as_dict(d)
    np.testing.assert_array_equal(back.timestamps, d.timestamps)
    assert "4 ratings" in repr(d) and len(d) == 4


def test_counts_and_matrix_format():
    d = cr.Interactions.from_pandas(df_basic(), "u", "i", "r")
    np.testing.assert_array_equal(d.user_counts(), [2, 1, 1])
    np.testing.assert_array_equal(d.item_counts(), [2, 1, 1])
    m = d.matrix
    assert m.has_sorted_indices and m.indices.dtype == np.int32
    np.testing.assert_array_equal(m.toarray(), [[5, 3, 0], [4, 0, 0], [0, 0, 1]])


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", 1, 2]), st.integers(0, 5), st.integers(1, 5)), min_size=1, max_size=40
    )
)
def test_property_sum_policy_matches_groupby(rows):
    df = pd.DataFrame(rows, columns=["u", "i", "r"]).astype({"r": float})
    df["u"] = df["u"].astype(object)
    d = cr.Interactions.from_pandas(df, "u", "i", "r", duplicates="sum")
    want = {(u, i): r for (u, i), r in df.groupby(["u", "i"], sort=False)["r"].sum().items()}
    assert as_dict(d) == pytest.approx(want)
    assert d.matrix.sum() == pytest.approx(df["r"].sum())
