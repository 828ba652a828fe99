"""crossrec.datasets: every reader on the real files (counts from their SOURCE.md), and the generators."""

import numpy as np
import pytest

import crossrec as cr
from crossrec import datasets as D
from conftest import DATA_DIR, data_path


@pytest.fixture(autouse=True)
def _data_env(monkeypatch):
    monkeypatch.setenv("CROSSREC_DATA", str(DATA_DIR))


# ---- locating data ------------------------------------------------------------------------
def test_missing_folder_names_path_and_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CROSSREC_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="CROSSREC_DATA") as e:
        D.movielens_100k()
    assert "nowhere" in str(e.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        D.douban("book", data_dir=tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="u.data.*CROSSREC_DATA"):
        D.movielens_100k(data_dir=tmp_path)  # folder exists, file does not


def test_explicit_data_dir_wins(monkeypatch):
    data_path("douban-book-music")
    monkeypatch.setenv("CROSSREC_DATA", "/nonexistent")
    assert D.douban("music", data_dir=DATA_DIR).nnz == 69_709


def test_bad_names():
    with pytest.raises(ValueError, match="book"):
        D.douban("movie")
    with pytest.raises(ValueError, match="known pairs"):
        D.amazon_pair("sport", "electronic")
    with pytest.raises(ValueError, match="retail"):
        D.fimi("chess")
    with pytest.raises(ValueError, match="1..5"):
        D.movielens_100k_fold(6)


# ---- MovieLens ----------------------------------------------------------------------------
def test_movielens_100k():
    data_path("movielens-100k", "u.data")
    d = D.movielens_100k()
    assert (d.nnz, d.n_users, d.n_items) == (100_000, 943, 1_682)
    assert d.explicit and d.timestamps is not None
    np.testing.assert_array_equal(np.bincount(d.values.astype(int))[1:], [6_110, 11_370, 27_145, 34_174, 21_201])
    assert d.user_ids.min() == 1 and d.item_ids.max() == 1682


@pytest.mark.parametrize("k, n_train, n_test", [(1, 80_000, 20_000), (5, 80_000, 20_000), ("a", 90_570, 9_430)])
def test_movielens_100k_folds(k, n_train, n_test):
    data_path("movielens-100k", "u1.base")
    train, test = D.movielens_100k_fold(k)
    assert (train.nnz, test.nnz) == (n_train, n_test)
    assert train.user_map is test.user_map and train.item_map is test.item_map
    assert not set(zip(train.users, train.items)) & set(zip(test.users, test.items))
    if k == "a":
        assert set(test.user_counts()) == {10}


def test_movielens_100k_folds_partition_u_data():
    data_path("movielens-100k", "u1.base")
    full = D.movielens_100k().to_pandas()
    tests = [D.movielens_100k_fold(k)[1].to_pandas() for k in range(1, 6)]
    keys = [set(zip(t["user"], t["item"])) for t in tests]
    assert sum(map(len, keys)) == 100_000 and set().union(*keys) == set(zip(full["user"], full["item"]))


def test_movielens_100k_items_and_users():
    data_path("movielens-100k", "u.item")
    items = D.movielens_100k_items()
    assert len(items) == 1_682 and list(items.columns[-19:]) == D.ML100K_GENRES
    assert items.loc[1, "title"] == "Toy Story (1995)"
    assert items.loc[1, ["Animation", "Children's", "Comedy"]].tolist() == [1, 1, 1]
    assert items["title"].str.contains("Misérables").any()  # latin-1 decoded
    assert items[D.ML100K_GENRES].isin([0, 1]).all().all()
    users = D.movielens_100k_users()
    assert users.shape == (943, 4) and users.loc[1, "occupation"] == "technician"


def test_movielens_latest_small():
    data_path("movielens-latest-small", "ratings.csv")
    d = D.movielens_latest_small()
    assert (d.nnz, d.n_users, d.n_items) == (100_836, 610, 9_724)
    assert d.values.min() == 0.5 and d.values.max() == 5.0 and d.timestamps is not None
    assert np.count_nonzero(d.values == 4.0) == 26_818
    movies = D.movielens_latest_small_movies(one_hot=True)
    assert len(movies) == 9_742 and movies.loc[1, "genres"][0] == "Adventure"
    assert not any(isinstance(t, str) and t.endswith("\r") for t in movies["title"])
    assert "Adventure" in movies.columns and "(no genres listed)" not in movies.columns
    assert movies["title"].str.contains(",").any()  # quoted titles with commas survive
    tags = D.movielens_latest_small_tags()
    assert len(tags) == 3_683 and not tags["tag"].str.endswith("\r").any()


# ---- cross-domain -------------------------------------------------------------------------
def test_douban():
    data_path("douban-book-music")
    book, music = D.douban("book"), D.douban("music")
    assert (book.nnz, book.n_users, book.n_items) == (96_041, 2_110, 6_777)
    assert (music.nnz, music.n_users, music.n_items) == (69_709, 1_672, 5_567)
    assert len(np.intersect1d(book.user_ids, music.user_ids)) == 1_566
    np.testing.assert_array_equal(np.bincount(book.values.astype(int))[1:], [1_605, 4_207, 21_018, 38_975, 30_236])


@pytest.mark.parametrize(
    "a, b, counts",
    [
        (
            "sport",
            "cloth",
            {"sport": (9_928, 30_796, 92_612, 9_928, 8_326), "cloth": (9_928, 39_008, 87_829, 9_928, 7_540)},
        ),
        (
            "electronic",
            "phone",
            {"phone": (3_325, 17_709, 50_407, 3_325, 2_559), "electronic": (3_325, 38_706, 115_554, 3_325, 2_560)},
        ),
        (
            "sport",
            "phone",
            {"sport": (4_998, 20_845, 50_558, 4_998, 3_698), "phone": (4_998, 13_655, 42_446, 4_998, 3_999)},
        ),
    ],
)
def test_amazon_pairs(a, b, counts):
    data_path("amazon-disencdr")
    pair = D.amazon_pair(a, b)
    assert set(pair) == {a, b}
    user_map = pair[a].train.user_map
    for dom, (n_users, n_train_items, n_train, n_orig, n_test) in counts.items():
        d = pair[dom]
        assert all(x.user_map is user_map for x in d)
        assert d.train.item_map is d.test.item_map is d.test_original.item_map
        assert d.train.n_users == n_users and d.train.nnz == n_train
        assert np.count_nonzero(d.train.item_counts()) == n_train_items
        assert (d.test_original.nnz, d.test.nnz) == (n_orig, n_test)
        assert set(d.test_original.user_counts()) == {1}
        assert not d.train.explicit and str(d.train.item_ids[0]).startswith(dom + ":")
        # test = test_original restricted to items seen in train
        assert np.all(d.train.item_counts()[d.test.items] > 0)
    assert not set(pair[a].train.item_ids) & set(pair[b].train.item_ids)


# ---- Last.fm and baskets ------------------------------------------------------------------
def test_lastfm():
    data_path("lastfm-hetrec2011-2k")
    d = D.lastfm_2k()
    assert (d.nnz, d.n_users, d.n_items) == (92_834, 1_892, 17_632)
    assert not d.explicit and d.values.astype(np.float64).sum() == pytest.approx(69_183_975, rel=1e-6)
    artists = D.lastfm_2k_artists()
    assert len(artists) == 17_632 and artists.loc[1, "name"] == "MALICE MIZER"
    assert artists["name"].str.contains("'").any()  # the copy with apostrophes
    assert D.lastfm_2k_friends().shape == (25_434, 2)


def test_groceries():
    data_path("groceries", "groceries.csv")
    baskets = D.groceries()
    assert len(baskets) == 9_835 and sum(map(len, baskets)) == 43_367
    assert baskets[0] == ["citrus fruit", "semi-finished bread", "margarine", "ready soups"]
    assert max(map(len, baskets)) == 32 and min(map(len, baskets)) == 1
    m, items = D.groceries(as_matrix=True)
    assert m.shape == (9_835, 169) and m.nnz == 43_367
    support = dict(zip(items, np.asarray(m.sum(axis=0)).ravel() / m.shape[0]))
    assert support["whole milk"] == pytest.approx(0.2555, abs=5e-5)
    assert support["rolls/buns"] == pytest.approx(0.1839, abs=5e-5)


@pytest.mark.parametrize(
    "name, n, n_items, occ", [("retail", 88_162, 16_470, 908_576), ("mushroom", 8_124, 119, 186_852)]
)
def test_fimi(name, n, n_items, occ):
    data_path(f"fimi-{name}")
    baskets = D.fimi(name)
    assert len(baskets) == n and sum(map(len, baskets)) == occ
    m, items = D.fimi(name, as_matrix=True)
    assert m.shape == (n, n_items) and m.nnz == occ
    if name == "mushroom":
        assert set(map(len, baskets)) == {23} and items.min() == 1 and items.max() == 119
    else:
        assert items.min() == 0 and items.max() == 16_469


def test_baskets_to_matrix_small():
    m, items = D.baskets_to_matrix([["b", "a"], ["a", "a"], []])
    assert list(items) == ["a", "b"]
    np.testing.assert_array_equal(m.toarray(), [[1, 1], [1, 0], [0, 0]])


# ---- generators ---------------------------------------------------------------------------
def test_synthetic_pair_shape_and_seed():
    s, t = D.synthetic_pair(n_users=300, n_items_source=200, n_items_target=150, density=0.05, seed=3)
    assert s.explicit and t.explicit
    assert (t.n_users, s.n_items, t.n_items) == (300, 200, 150)
    assert set(s.user_ids) <= set(t.user_ids)
    assert not set(s.item_ids) & set(t.item_ids)
    assert t.user_counts().min() >= 2
    assert set(np.unique(t.values)) <= {1, 2, 3, 4, 5}
    s2, t2 = D.synthetic_pair(n_users=300, n_items_source=200, n_items_target=150, density=0.05, seed=3)
    np.testing.assert_array_equal(t.values, t2.values)
    np.testing.assert_array_equal(s.items, s2.items)
    s3, _ = D.synthetic_pair(n_users=300, n_items_source=200, n_items_target=150, density=0.05, seed=4)
    assert not np.array_equal(s.items[:50], s3.items[:50])
    s4, t4 = D.synthetic_pair(n_users=300, n_items_source=200, n_items_target=150, overlap=0.5, explicit=False)
    assert s4.n_users == 150 and t4.n_users == 300 and not t4.explicit and set(t4.values) == {1.0}


def _cross_domain_similarity(relatedness):
    """Correlation, over user pairs, of their cosine similarity in source and in target."""
    s, t = D.synthetic_pair(
        n_users=400,
        n_items_source=300,
        n_items_target=300,
        relatedness=relatedness,
        density=0.06,
        explicit=False,
        seed=11,
    )

    def sim(d):
        m = d.matrix.toarray()
        m /= np.linalg.norm(m, axis=1, keepdims=True)
        return m @ m.T

    iu = np.triu_indices(400, 1)
    return np.corrcoef(sim(s)[iu], sim(t)[iu])[0, 1]


def test_synthetic_pair_relatedness_controls_shared_taste():
    c0, c5, c1 = (_cross_domain_similarity(r) for r in (0.0, 0.5, 1.0))
    assert c1 > c5 > c0
    assert c1 - c0 > 0.05


def test_synthetic_pair_bad_args():
    for kw, match in [
        ({"relatedness": 1.5}, "relatedness"),
        ({"density": 0}, "density"),
        ({"n_users": 1}, "n_users"),
        ({"overlap": 0}, "overlap"),
        ({"seed": -2}, "seed"),
    ]:
        with pytest.raises(ValueError, match=match):
            D.synthetic_pair(**kw)


def test_synthetic_interactions():
    d = D.synthetic_interactions(n_users=2_000, n_items=1_000, nnz=50_000, seed=1)
    assert d.nnz == 50_000 and d.shape == (2_000, 1_000) and not d.explicit
    m = d.matrix
    assert m.has_canonical_format or (np.all(np.diff(m.indptr) >= 0))
    assert len(set(zip(d.users.tolist(), d.items.tolist()))) == 50_000
    pop = np.sort(d.item_counts())[::-1]
    assert pop[:10].sum() > 5 * pop[-10:].sum()  # power law: a heavy head
    d2 = D.synthetic_interactions(n_users=2_000, n_items=1_000, nnz=50_000, seed=1)
    np.testing.assert_array_equal(d.items, d2.items)
    e = D.synthetic_interactions(n_users=500, n_items=400, nnz=5_000, explicit=True)
    assert e.explicit and set(np.unique(e.values)) <= {1, 2, 3, 4, 5}
    with pytest.raises(ValueError, match="too dense"):
        D.synthetic_interactions(n_users=10, n_items=10, nnz=80)
    # the data is usable end to end
    train, test = cr.split.random(d, 0.1, seed=0)
    assert train.nnz + test.nnz == d.nnz


def test_default_locations(monkeypatch, tmp_path):
    monkeypatch.delenv("CROSSREC_DATA")
    monkeypatch.setattr(D, "_candidates", lambda: [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(FileNotFoundError, match="CROSSREC_DATA") as e:
        D.data_dir()
    assert str(tmp_path / "a") in str(e.value)
    (tmp_path / "b").mkdir()
    assert D.data_dir() == tmp_path / "b"


def test_candidates_without_env(monkeypatch, tmp_path):
    monkeypatch.delenv("CROSSREC_DATA")
    monkeypatch.chdir(tmp_path)
    cands = D._candidates()
    assert tmp_path.parent / "shared" / "data" in cands


def test_title_keys_fold_articles_alternates_and_accents():
    from crossrec.datasets import _title_keys

    y1, k1 = _title_keys("Double vie de Véronique, La (Double Life of Veronique, The) (1991)")
    y2, k2 = _title_keys("Double Life of Veronique, The (Double Vie de Véronique, La) (1991)")
    assert y1 == y2 == 1991 and "the double life of veronique" in k1 & k2
    assert _title_keys("Seven (a.k.a. Se7en) (1995)") == (1995, {"seven", "se7en"})
    assert "willy wonka and the chocolate factory" in _title_keys("Willy Wonka & the Chocolate Factory (1971)")[1]
    assert _title_keys("No year here")[0] is None


def test_movielens_item_pair_both_directions():
    data_path("movielens-100k", "u.item")
    data_path("movielens-latest-small", "movies.csv")
    m = cr.datasets.movielens_title_matches()
    counts = m["rule"].value_counts()
    assert (counts["exact"], counts["alternate"], counts["year+-1"]) == (1205, 92, 38)
    # every matched pair has the same year within one and a shared name key
    from crossrec.datasets import _title_keys

    for a, b in zip(m["title_100k"], m["title_latest"]):
        (ya, ka), (yb, kb) = _title_keys(a), _title_keys(b)
        assert abs(ya - yb) <= 1 and ka & kb, (a, b)
    src, tgt = cr.datasets.movielens_item_pair("100k")
    assert (src.n_users, tgt.n_users) == (943, 610) and src.explicit and tgt.explicit
    pair = cr.CrossDomain(src, tgt, shared="items")
    assert len(pair.overlap) == 1319
    back = cr.datasets.movielens_item_pair("latest")
    assert back[0].nnz == tgt.nnz and back[1].nnz == src.nnz
    assert src.nnz == 100_000 - 304  # duplicates of twice-listed films merged
    with pytest.raises(ValueError, match="source"):
        cr.datasets.movielens_item_pair("1m")
