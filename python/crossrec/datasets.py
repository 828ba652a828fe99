"""Readers for the public data sets crossrec is tested on, and generators of synthetic data.

The real files are never shipped with crossrec (most forbid redistribution). Readers look for them
in ``data_dir`` when given, else in ``$CROSSREC_DATA``, else in ``../shared/data`` beside the source
tree or the working directory. Each reader handles its file's quirks (CRLF line ends, latin-1
text, a missing final newline, TAB / ``|`` / ``::`` / comma separators).

Interaction readers return :class:`~crossrec.Interactions` with the files' own ids (integers);
metadata readers return pandas DataFrames indexed by item id; basket readers return a list of
baskets (lists of item names or ids) or, with ``as_matrix=True``, a CSR baskets x items matrix and
the item ids of its columns.

The generators (:func:`synthetic_pair`, :func:`synthetic_interactions`) are code, not data: they
make a two-domain set with a known degree of relatedness, and large sets for scale benchmarks.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any, NamedTuple, Optional, Union

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._memory import check_allocation
from ._validation import INDEX_DTYPE, VALUE_DTYPE, check_float, check_positive_int, check_seed
from .data import IdMap, Interactions

__all__ = [
    "data_dir",
    "movielens_100k",
    "movielens_100k_fold",
    "movielens_100k_items",
    "movielens_100k_users",
    "movielens_latest_small",
    "movielens_latest_small_movies",
    "movielens_latest_small_tags",
    "movielens_title_matches",
    "movielens_item_pair",
    "ML100K_ONLY_OFFSET",
    "movielens_latest_genre_split",
    "douban",
    "amazon_pair",
    "AMAZON_PAIRS",
    "Domain",
    "lastfm_2k",
    "lastfm_2k_artists",
    "lastfm_2k_friends",
    "groceries",
    "fimi",
    "baskets_to_matrix",
    "synthetic_pair",
    "synthetic_interactions",
]

ENV_VAR = "CROSSREC_DATA"
PathLike = Union[str, os.PathLike]

ML100K_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]
AMAZON_PAIRS = (("sport", "cloth"), ("phone", "electronic"), ("sport", "phone"))


# ---- locating files -------------------------------------------------------------------------
def _candidates() -> list[Path]:
    env = os.environ.get(ENV_VAR)
    if env:
        return [Path(env)]
    repo = Path(__file__).resolve().parents[2]  # python/crossrec/datasets.py -> repository root
    return [repo.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]


def data_dir(data_dir: Optional[PathLike] = None) -> Path:
    """The folder holding the data sets: ``data_dir`` if given, else ``$CROSSREC_DATA``, else the
    first existing ``../shared/data`` beside the source tree or the working directory."""
    if data_dir is not None:
        p = Path(data_dir)
        if not p.is_dir():
            raise FileNotFoundError(f"data folder {str(p)!r} does not exist")
        return p
    tried = _candidates()
    for p in tried:
        if p.is_dir():
            return p
    where = ", ".join(repr(str(p)) for p in tried)
    raise FileNotFoundError(
        f"no data folder found (looked in {where}); pass data_dir=... or set the "
        f"environment variable {ENV_VAR} to the folder holding the data sets"
    )


def _file(data_dir_: Optional[PathLike], *parts: str) -> Path:
    base = data_dir(data_dir_)
    p = base.joinpath(*parts)
    if not p.exists():
        raise FileNotFoundError(
            f"data file {str(p)!r} not found (data folder {str(base)!r}; set "
            f"{ENV_VAR} or pass data_dir= to read it from elsewhere)"
        )
    return p


def _read_table(path: Path, sep: str, names: list[str], **kw) -> pd.DataFrame:
    """Headerless delimited file; the C parser copes with CRLF and a missing final newline."""
    return pd.read_csv(path, sep=sep, names=names, header=None, engine="c", **kw)


# ---- MovieLens 100K ---------------------------------------------------------------------------
_ML_COLS = ["user", "item", "rating", "timestamp"]


def _ml100k_frame(path: Path) -> pd.DataFrame:
    return _read_table(
        path, "\t", _ML_COLS, dtype={"user": np.int64, "item": np.int64, "rating": np.float64, "timestamp": np.int64}
    )


def movielens_100k(data_dir: Optional[PathLike] = None) -> Interactions:
    """MovieLens 100K ratings (``u.data``): 100,000 ratings 1-5 with unix timestamps,
    943 users x 1,682 movies, integer ids as in the file."""
    df = _ml100k_frame(_file(data_dir, "movielens-100k", "u.data"))
    return Interactions.from_pandas(df, "user", "item", "rating", "timestamp")


def movielens_100k_fold(k: Union[int, str], data_dir: Optional[PathLike] = None) -> tuple[Interactions, Interactions]:
    """The canonical folds: ``k`` in 1..5 (``u{k}.base`` / ``u{k}.test``, disjoint 80/20 splits)
    or ``"a"`` / ``"b"`` (``ua``/``ub``: exactly 10 test ratings per user).

    Returns (train, test) sharing one id space (every user and item of either file).
    """
    if k not in (1, 2, 3, 4, 5, "a", "b"):
        raise ValueError(f"k must be 1..5, 'a' or 'b', got {k!r}")
    base = _ml100k_frame(_file(data_dir, "movielens-100k", f"u{k}.base"))
    test = _ml100k_frame(_file(data_dir, "movielens-100k", f"u{k}.test"))
    users = IdMap(np.union1d(base["user"], test["user"]), "user")
    items = IdMap(np.union1d(base["item"], test["item"]), "item")
    train, held_out = (
        Interactions.from_pandas(df, "user", "item", "rating", "timestamp", user_ids=users, item_ids=items)
        for df in (base, test)
    )
    return train, held_out


def movielens_100k_items(data_dir: Optional[PathLike] = None) -> pd.DataFrame:
    """Movies of MovieLens 100K (``u.item``, latin-1): DataFrame indexed by ``item`` (movie id)
    with ``title``, ``release_date`` (datetime), ``imdb_url`` and 19 genre columns of 0/1 flags
    (``unknown``, ``Action``, ... ``Western``, in ``u.genre`` order)."""
    cols = ["item", "title", "release_date", "video_release_date", "imdb_url"] + ML100K_GENRES
    df = _read_table(_file(data_dir, "movielens-100k", "u.item"), "|", cols, encoding="latin-1")
    df["release_date"] = pd.to_datetime(df["release_date"], format="%d-%b-%Y", errors="coerce")
    df[ML100K_GENRES] = df[ML100K_GENRES].astype(np.int8)
    return df.drop(columns="video_release_date").set_index("item")


def movielens_100k_users(data_dir: Optional[PathLike] = None) -> pd.DataFrame:
    """Users of MovieLens 100K (``u.user``): indexed by ``user`` with age, gender, occupation, zip."""
    df = _read_table(
        _file(data_dir, "movielens-100k", "u.user"),
        "|",
        ["user", "age", "gender", "occupation", "zip"],
        dtype={"zip": str},
    )
    return df.set_index("user")


# ---- MovieLens latest-small -------------------------------------------------------------------
def movielens_latest_small(data_dir: Optional[PathLike] = None) -> Interactions:
    """ml-latest-small ratings (``ratings.csv``, CRLF): 100,836 ratings 0.5-5 in half stars with
    timestamps, 610 users x 9,724 movies."""
    df = pd.read_csv(_file(data_dir, "movielens-latest-small", "ratings.csv"))
    return Interactions.from_pandas(df, "userId", "movieId", "rating", "timestamp")


def movielens_latest_small_movies(data_dir: Optional[PathLike] = None, one_hot: bool = False) -> pd.DataFrame:
    """ml-latest-small movies: indexed by ``movieId`` with ``title`` and ``genres`` (a list of
    labels; ``(no genres listed)`` gives an empty list). ``one_hot=True`` adds one 0/1 column per
    genre label."""
    df = pd.read_csv(_file(data_dir, "movielens-latest-small", "movies.csv"), index_col="movieId")
    labels = df["genres"].fillna("")
    if one_hot:
        flags = labels.str.get_dummies("|").drop(columns="(no genres listed)", errors="ignore").astype(np.int8)
        df = df.join(flags)
    df["genres"] = [[] if g in ("", "(no genres listed)") else g.split("|") for g in labels]
    return df


def movielens_latest_small_tags(data_dir: Optional[PathLike] = None) -> pd.DataFrame:
    """ml-latest-small free-text tags: columns ``userId``, ``movieId``, ``tag``, ``timestamp``."""
    return pd.read_csv(_file(data_dir, "movielens-latest-small", "tags.csv"), dtype={"tag": str}, keep_default_na=False)


# ---- MovieLens 100K <-> ml-latest-small: two populations rating the same films --------------
ML100K_ONLY_OFFSET = 1_000_000  # shared id of a MovieLens 100K film with no ml-latest match
_TRAILING_ARTICLE = re.compile(
    r"^(.*),\s*(the|a|an|les|la|le|l'|il|el|das|der|die|los|las|lo|un|une)$", flags=re.IGNORECASE
)


def _fold_title(name: str) -> str:
    """Lower case, accents stripped (NFKD), '&' read as 'and', punctuation and spaces collapsed."""
    s = unicodedata.normalize("NFKD", name)
    s = "".join(c for c in s if not unicodedata.combining(c)).lower().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", s).split())


def _title_keys(title: str) -> tuple[Optional[int], set]:
    """(year, name keys) of a MovieLens title such as ``"Postman, The (Postino, Il) (1994)"``:
    the main name and every parenthesised alternate (``a.k.a.`` dropped), each with a trailing
    article moved to the front (``"Postman, The"`` -> ``"the postman"``) and also without a leading
    English article, folded by :func:`_fold_title`."""
    t = str(title).strip()
    year = None
    m = re.match(r"^(.*?)\s*\((\d{4})(?:-\d{0,4})?\)\s*$", t)
    if m:
        t, year = m.group(1), int(m.group(2))
    names = [re.sub(r"\s*\([^()]*\)", "", t).strip()]
    names += [
        re.sub(r"^(a\.k\.a\.|aka)\s*", "", p.strip(), flags=re.IGNORECASE) for p in re.findall(r"\(([^()]*)\)", t)
    ]
    keys = set()
    for name in names:
        m = _TRAILING_ARTICLE.match(name.strip())
        if m:
            art = m.group(2)
            name = art + m.group(1) if art.endswith("'") else f"{art} {m.group(1)}"
        folded = _fold_title(name)
        if folded:
            keys.add(folded)
            bare = re.sub(r"^(the|a|an) ", "", folded)
            if bare:
                keys.add(bare)
    return year, keys


def movielens_title_matches(data_dir: Optional[PathLike] = None) -> pd.DataFrame:
    """Films of MovieLens 100K matched to ml-latest-small by title and year.

    Three rules, each applied only to the films the previous ones left unmatched, and a match
    taken only when exactly one ml-latest film qualifies:

    1. ``exact``: the titles are equal after lower-casing and collapsing white space;
    2. ``alternate``: the same year and a common name key: main title or any parenthesised
       alternate title (``a.k.a.`` dropped), trailing articles moved to the front
       (``"Postman, The"``), accents, punctuation and ``&``/``and`` folded
       (``"Double vie de Véronique, La (Double Life of Veronique, The) (1991)"`` ↔
       ``"Double Life of Veronique, The (Double Vie de Véronique, La) (1991)"``);
    3. ``year+-1``: a common name key with the year one off (release vs festival year,
       ``"Monty Python and the Holy Grail (1974)"`` ↔ ``(1975)``), among ml-latest films not
       matched yet.

    MovieLens 100K lists a few films twice under two ids; both rows then match the same ml-latest
    film. Returns a DataFrame indexed by the MovieLens 100K ``item`` with ``movieId``,
    ``title_100k``, ``title_latest`` and ``rule``. On the shipped files: 1,205 exact, 92 alternate
    and 38 year+-1 matches (1,335 rows for 1,320 distinct ml-latest films; every alternate and
    year+-1 match was read by eye and a random 40 of the exact ones: no false match found).
    """
    a = movielens_100k_items(data_dir)["title"]
    b = pd.read_csv(_file(data_dir, "movielens-latest-small", "movies.csv"), index_col="movieId")["title"]
    plain: dict[str, Any] = {}
    for mid, t in b.items():
        plain.setdefault(" ".join(str(t).lower().split()), mid)
    by_key: dict = {}
    for mid, t in b.items():
        year, keys = _title_keys(t)
        for k in keys:
            by_key.setdefault((k, year), set()).add(mid)
    match, rule = {}, {}
    for item, t in a.items():
        mid = plain.get(" ".join(str(t).lower().split()))
        if mid is not None:
            match[item], rule[item] = mid, "exact"
    for shift, name in ((0, "alternate"), (1, "year+-1")):
        taken = set(match.values())
        for item, t in a.items():
            if item in match:
                continue
            year, keys = _title_keys(t)
            if year is None:
                continue
            years = (year,) if shift == 0 else (year - 1, year + 1)
            cand = set().union(*(by_key.get((k, y), set()) for k in keys for y in years))
            if shift:
                cand -= taken
            if len(cand) == 1:
                match[item], rule[item] = cand.pop(), name
    items = np.array(sorted(match))
    mids = np.array([match[i] for i in items])
    return pd.DataFrame(
        {
            "movieId": mids,
            "title_100k": a.loc[items].to_numpy(),
            "title_latest": b.loc[mids].to_numpy(),
            "rule": [rule[i] for i in items],
        },
        index=pd.Index(items, name="item"),
    )


def movielens_item_pair(source: str = "100k", data_dir: Optional[PathLike] = None) -> tuple[Interactions, Interactions]:
    """MovieLens 100K (943 users, ratings 1997-98) and ml-latest-small (610 users, 1996-2018) as
    two domains that share *items*: the same films rated by two populations two decades apart.

    ``source`` is ``"100k"`` (100K -> latest) or ``"latest"`` (latest -> 100K); returns
    ``(source, target)`` Interactions, both explicit. Films are matched by
    :func:`movielens_title_matches` (1,320 shared films, 1,319 rated in both); a matched film's id is its ml-latest
    ``movieId`` in both domains, a 100K film without a match gets ``ML100K_ONLY_OFFSET + item``
    (never equal to an ml-latest id), ml-latest films keep their ``movieId``. The two 100K rows
    of a film listed twice are merged (a user who rated both keeps the mean rating). User ids are
    the files' own and unrelated across domains (the pair shares films, not people). Use
    ``cr.CrossDomain(src, tgt, shared="items")``.
    """
    if source not in ("100k", "latest"):
        raise ValueError(f"source must be '100k' or 'latest', got {source!r}")
    matches = movielens_title_matches(data_dir)["movieId"]
    old = _ml100k_frame(_file(data_dir, "movielens-100k", "u.data"))
    mapped = old["item"].map(matches)
    old["item"] = np.where(mapped.notna(), mapped.fillna(0).astype(np.int64), ML100K_ONLY_OFFSET + old["item"])
    ml100k = Interactions.from_pandas(old, "user", "item", "rating", "timestamp", duplicates="mean")
    latest = movielens_latest_small(data_dir)
    return (ml100k, latest) if source == "100k" else (latest, ml100k)


def movielens_latest_genre_split(
    genre: str = "Drama", n_tags: int = 300, data_dir: Optional[PathLike] = None
) -> tuple[Interactions, Interactions, pd.DataFrame]:
    """ml-latest-small cut into two domains that share users and one item vocabulary.

    The source holds the ratings of films labelled ``genre``, the target those of every other
    film (for "Drama": 4,361 vs 5,381 films). Returns ``(source, target, features)``: the features
    DataFrame, indexed by ``movieId`` over all films, has one 0/1 column per genre label
    (``genre:<label>``) and the counts of the ``n_tags`` most used free-text tags of ``tags.csv``
    (``tag:<tag>``, lower-cased; about 1,500 films have tags). For
    :class:`crossrec.transfer.CrossDomainContent`.
    """
    n_tags = check_positive_int(n_tags, "n_tags", minimum=0)
    movies = movielens_latest_small_movies(data_dir)
    labels = sorted({g for gs in movies["genres"] for g in gs})
    if genre not in labels:
        raise ValueError(f"genre must be one of {labels}, got {genre!r}")
    feats = pd.DataFrame(
        {
            f"genre:{g}": np.fromiter((g in gs for gs in movies["genres"]), bool, len(movies)).astype(np.float32)
            for g in labels
        },
        index=movies.index,
    )
    tags = movielens_latest_small_tags(data_dir)
    tag = tags["tag"].str.lower().str.strip()
    top = tag.value_counts().index[:n_tags]
    counts = pd.crosstab(tags["movieId"][tag.isin(top)], tag[tag.isin(top)]).astype(np.float32)
    counts.columns = [f"tag:{t}" for t in counts.columns]
    feats = feats.join(counts).fillna(0.0)
    df = pd.read_csv(_file(data_dir, "movielens-latest-small", "ratings.csv"))
    in_genre = set(movies.index[feats[f"genre:{genre}"] > 0])
    mask = df["movieId"].isin(in_genre)
    users = IdMap(np.unique(df["userId"]), "user")
    source, target = (
        Interactions.from_pandas(part, "userId", "movieId", "rating", "timestamp", user_ids=users)
        for part in (df[mask], df[~mask])
    )
    return source, target, feats


# ---- Douban -----------------------------------------------------------------------------------
def douban(domain: str = "book", data_dir: Optional[PathLike] = None) -> Interactions:
    """Douban ratings of one domain: ``"book"`` (96,041 ratings, 2,110 users, 6,777 books) or
    ``"music"`` (69,709 ratings, 1,672 users, 5,567 albums). Ratings 1-5, no timestamps.

    User ids are shared across the two domains (1,566 users rate in both); item ids are per
    domain. Pair them with ``cr.CrossDomain(source=douban("book"), target=douban("music"))``.
    """
    if domain not in ("book", "music"):
        raise ValueError(f"domain must be 'book' or 'music', got {domain!r}")
    df = _read_table(
        _file(data_dir, "douban-book-music", f"douban_{domain}_ratings.dat"),
        "\t",
        ["user", "item", "rating"],
        dtype=np.int64,
    )
    return Interactions.from_pandas(df, "user", "item", "rating")


# ---- Amazon DisenCDR pairs --------------------------------------------------------------------
class Domain(NamedTuple):
    """One domain of a cross-domain pair: training interactions and the two test files."""

    train: Interactions
    test: Interactions  # test_original without items absent from train
    test_original: Interactions  # one held-out interaction per user (leave-one-out)


def amazon_pair(a: str = "sport", b: str = "cloth", data_dir: Optional[PathLike] = None) -> dict[str, Domain]:
    """An Amazon cross-domain pair as published with DisenCDR (implicit, value 1).

    ``a`` and ``b`` name the two domains of one of the pairs in ``AMAZON_PAIRS`` (either order).
    Returns ``{a: Domain(train, test, test_original), b: Domain(...)}``: all six Interactions
    share one user id space (the pair's users 0..N-1, all in both domains); each domain has its
    own item id space covering its train and test_original items, with ids made distinct across
    domains as strings ``"<domain>:<item id>"``.
    """
    if (a, b) not in AMAZON_PAIRS and (b, a) not in AMAZON_PAIRS:
        known = ", ".join(f"{x}-{y}" for x, y in AMAZON_PAIRS)
        raise ValueError(f"unknown Amazon pair {a!r}-{b!r}; known pairs: {known}")
    frames = {}
    for dom, other in ((a, b), (b, a)):
        for part in ("train", "test", "test_original"):
            path = _file(data_dir, "amazon-disencdr", f"{dom}_{other}", f"{part}.txt")
            frames[dom, part] = _read_table(path, "\t", ["user", "item", "value"], dtype=np.int64)
    users = IdMap(np.unique(np.concatenate([f["user"].to_numpy() for f in frames.values()])), "user")
    out = {}
    for dom in (a, b):
        raw_items = np.unique(np.concatenate([frames[dom, p]["item"].to_numpy() for p in ("train", "test_original")]))
        items = IdMap(np.array([f"{dom}:{i}" for i in raw_items]), "item")
        parts = []
        for part in ("train", "test", "test_original"):
            df = frames[dom, part]
            df = df.assign(item=[f"{dom}:{i}" for i in df["item"].to_numpy()])
            parts.append(Interactions.from_pandas(df, "user", "item", None, user_ids=users, item_ids=items))
        out[dom] = Domain(*parts)
    return out


# ---- Last.fm ----------------------------------------------------------------------------------
def lastfm_2k(data_dir: Optional[PathLike] = None) -> Interactions:
    """Last.fm HetRec 2011 listening counts (``user_artists.dat``, CRLF): implicit, weight = play
    count; 92,834 pairs, 1,892 users x 17,632 artists."""
    df = pd.read_csv(_file(data_dir, "lastfm-hetrec2011-2k", "user_artists.dat"), sep="\t")
    return Interactions.from_pandas(df, "userID", "artistID", "weight", implicit=True)


def lastfm_2k_artists(data_dir: Optional[PathLike] = None) -> pd.DataFrame:
    """Last.fm artists: indexed by ``id`` with ``name``, ``url``, ``pictureURL``."""
    return pd.read_csv(
        _file(data_dir, "lastfm-hetrec2011-2k", "artists.dat"),
        sep="\t",
        index_col="id",
        quoting=3,
        keep_default_na=False,
        dtype={"name": str},
    )


def lastfm_2k_friends(data_dir: Optional[PathLike] = None) -> pd.DataFrame:
    """Last.fm friendships (both directions listed): columns ``userID``, ``friendID``."""
    return pd.read_csv(_file(data_dir, "lastfm-hetrec2011-2k", "user_friends.dat"), sep="\t")


# ---- baskets ----------------------------------------------------------------------------------
def baskets_to_matrix(baskets: list[list]) -> tuple[sp.csr_matrix, np.ndarray]:
    """(baskets x items CSR of 1s, item ids of the columns, sorted); repeats within a basket count once."""
    lengths = np.fromiter((len(b) for b in baskets), dtype=np.int64, count=len(baskets))
    flat = np.asarray([x for b in baskets for x in b])
    items, cols = np.unique(flat, return_inverse=True) if len(flat) else (np.empty(0), np.empty(0, np.int64))
    rows = np.repeat(np.arange(len(baskets)), lengths)
    m = sp.csr_matrix((np.ones(len(cols), VALUE_DTYPE), (rows, cols.ravel())), shape=(len(baskets), len(items)))
    m.sum_duplicates()
    m.data[:] = 1.0
    m.indices = m.indices.astype(INDEX_DTYPE)
    return m, items


def _read_lines(path: Path, encoding: str = "utf-8") -> list[str]:
    with open(path, encoding=encoding, newline="") as fh:
        text = fh.read()
    return [ln for ln in text.splitlines() if ln.strip()]  # splitlines: LF, CRLF, no final newline


def groceries(data_dir: Optional[PathLike] = None, as_matrix: bool = False):
    """The arules Groceries baskets (``groceries.csv``): 9,835 baskets over 169 item names
    (ragged comma lists, names may hold spaces and ``/``).

    Returns a list of baskets (lists of item names, file order) or, with ``as_matrix=True``,
    ``(csr, item_names)``."""
    baskets = [
        [x.strip() for x in ln.split(",") if x.strip()]
        for ln in _read_lines(_file(data_dir, "groceries", "groceries.csv"))
    ]
    return baskets_to_matrix(baskets) if as_matrix else baskets


def fimi(name: str = "retail", data_dir: Optional[PathLike] = None, as_matrix: bool = False):
    """A FIMI benchmark file: ``"retail"`` (88,162 baskets, 16,470 items) or ``"mushroom"``
    (8,124 baskets of 23 items, 119 items). Space-separated integer item ids.

    Returns a list of baskets (lists of int ids) or, with ``as_matrix=True``, ``(csr, item_ids)``."""
    if name not in ("retail", "mushroom"):
        raise ValueError(f"name must be 'retail' or 'mushroom', got {name!r}")
    lines = _read_lines(_file(data_dir, f"fimi-{name}", f"{name}.dat"))
    baskets = [[int(x) for x in ln.split()] for ln in lines]
    return baskets_to_matrix(baskets) if as_matrix else baskets


# ---- generators -------------------------------------------------------------------------------
def _sample_domain(
    rng: np.random.Generator,
    P: np.ndarray,
    Q: np.ndarray,
    item_bias: np.ndarray,
    n_per_user: np.ndarray,
    explicit: bool,
    noise: float,
    chunk: int = 2048,
):
    """Each user picks n_per_user[u] distinct items, item i with probability proportional to
    exp(score_ui) (Gumbel top-k), so what users consume depends on their taste (not at random);
    explicit ratings are the standardised score mapped to 1..5 plus Gaussian noise."""
    n_users = P.shape[0]
    user_parts: list[np.ndarray] = []
    item_parts: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for s in range(0, n_users, chunk):
        score = P[s : s + chunk] @ Q.T + item_bias
        keyed = score + rng.gumbel(size=score.shape)
        take = n_per_user[s : s + chunk]
        kmax = int(take.max()) if len(take) else 0
        if kmax == 0:
            continue
        top = np.argpartition(-keyed, kmax - 1, axis=1)[:, :kmax]
        mask = np.arange(kmax)[None, :] < take[:, None]
        rows = np.broadcast_to(np.arange(len(take))[:, None], top.shape)[mask]
        cols = top[mask]
        user_parts.append(rows + s)
        item_parts.append(cols)
        values.append(score[rows, cols])
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.empty(0, dt)
    users, items, score = cat(user_parts, np.int64), cat(item_parts, np.int64), cat(values, np.float64)
    if not explicit:
        return users, items, np.ones(len(items))
    # Ratings: the observed scores standardised, centred at 3.6 (real 5-star sets lean positive).
    z = (score - score.mean()) / max(score.std(), 1e-12)
    return users, items, np.clip(np.rint(3.6 + 1.0 * z + rng.normal(0.0, noise, len(z))), 1, 5)


def synthetic_pair(
    n_users: int = 2000,
    n_items_source: int = 1500,
    n_items_target: int = 1000,
    shared_factors: int = 16,
    relatedness: float = 1.0,
    density: float = 0.02,
    explicit: bool = True,
    overlap: float = 1.0,
    noise: float = 0.5,
    seed: Optional[int] = 0,
) -> tuple[Interactions, Interactions]:
    """A generated two-domain data set (source, target) sharing users.

    A latent-factor model: user u has taste z_u ~ N(0, I) (``shared_factors`` dimensions). In the
    source domain the user's factors are z_u; in the target they are
    ``relatedness * z_u + sqrt(1 - relatedness^2) * w_u`` with w_u an independent draw, so the
    correlation between a user's tastes in the two domains is ``relatedness`` (1: the same taste,
    transfer should help; 0: unrelated, transfer cannot help). Item factors are independent per
    domain, item popularity is log-normal, user activity is log-normal with mean
    ``density * n_items``; a user picks items in proportion to exp(score) (so what is observed
    depends on taste), and explicit ratings are the score mapped to 1..5 with Gaussian ``noise``.

    Parameters
    ----------
    overlap : float in (0, 1]
        Fraction of users present in the source domain (every user is in the target).

    Returns
    -------
    (source, target) : Interactions with user ids ``0..n_users-1`` (shared) and item ids
        ``"s<i>"`` / ``"t<i>"`` (distinct across domains; every generated item is in the id space,
        even if nobody picked it). Every user has >= 2 target interactions; the source holds the
        ``overlap`` fraction of users.
    """
    n_users = check_positive_int(n_users, "n_users", 2)
    n_s = check_positive_int(n_items_source, "n_items_source", 2)
    n_t = check_positive_int(n_items_target, "n_items_target", 2)
    f = check_positive_int(shared_factors, "shared_factors")
    r = check_float(relatedness, "relatedness", 0.0, 1.0)
    dens = check_float(density, "density", 0.0, 1.0, strict_min=True)
    ov = check_float(overlap, "overlap", 0.0, 1.0, strict_min=True)
    noise = check_float(noise, "noise", 0.0)
    rng = np.random.default_rng(check_seed(seed))
    z = rng.normal(size=(n_users, f))
    w = rng.normal(size=(n_users, f))
    p_src, p_tgt = z, r * z + np.sqrt(max(0.0, 1.0 - r * r)) * w
    scale = 1.5 / np.sqrt(f)  # score std ~ 1.5: clear preferences without being deterministic
    activity = rng.lognormal(0.0, 0.6, n_users)
    activity /= activity.mean()

    def domain(P, n_items, prefix, users_in):
        Q = rng.normal(size=(n_items, f)) * scale
        bias = rng.normal(0.0, 0.8, n_items)
        n = np.clip(np.rint(activity * dens * n_items), 2, n_items - 1).astype(np.int64)
        n[~users_in] = 0
        u, i, v = _sample_domain(rng, P, Q, bias, n, explicit, noise)
        item_ids = np.char.add(prefix, np.arange(n_items).astype(str))
        df = pd.DataFrame({"user": u, "item": item_ids[i], "value": v})
        return Interactions.from_pandas(df, "user", "item", "value", implicit=not explicit, item_ids=item_ids)

    in_source = np.zeros(n_users, bool)
    in_source[rng.permutation(n_users)[: max(1, int(round(ov * n_users)))]] = True
    source = domain(p_src, n_s, "s", in_source)
    target = domain(p_tgt, n_t, "t", np.ones(n_users, bool))
    return source, target


def synthetic_interactions(
    n_users: int = 100_000,
    n_items: int = 50_000,
    nnz: int = 5_000_000,
    alpha: float = 1.0,
    explicit: bool = False,
    seed: Optional[int] = 0,
) -> Interactions:
    """Large random interactions for scale benchmarks (vectorised: 5 million in about a second).

    Item popularity follows a power law (the item of popularity rank r is drawn with probability
    proportional to ``(r + 1) ** -alpha``, ranks shuffled over item ids), user activity a milder one
    (exponent ``alpha / 2``). Pairs are distinct; exactly ``nnz`` of them. Values are 1 (implicit)
    or ratings 1-5 (explicit) that lean towards popular items.
    """
    n_users = check_positive_int(n_users, "n_users")
    n_items = check_positive_int(n_items, "n_items")
    nnz = check_positive_int(nnz, "nnz")
    alpha = check_float(alpha, "alpha", 0.0)
    if nnz > 0.5 * n_users * n_items:
        raise ValueError(f"nnz={nnz} is more than half of n_users * n_items={n_users * n_items}: too dense to sample")
    if max(n_users, n_items) >= 2**31 - 1:
        raise ValueError(f"n_users and n_items must be < 2**31 - 1 (int32 indices), got {n_users} and {n_items}")
    # popularity tables (3 float64 arrays per side), then ~6 int64/float64 arrays of about nnz entries
    check_allocation(
        24.0 * (n_users + n_items) + 48.0 * nnz,
        f"synthetic_interactions({n_users}, {n_items}, {nnz})",
        "lower nnz, n_users or n_items",
    )
    rng = np.random.default_rng(check_seed(seed))

    def powerlaw(n, a):
        p = (np.arange(1, n + 1, dtype=np.float64)) ** -a
        return rng.permutation(p / p.sum())

    p_item = np.cumsum(powerlaw(n_items, alpha))
    p_user = np.cumsum(powerlaw(n_users, alpha / 2))

    def draw(cdf, n):  # inverse-CDF sampling; sorted queries make searchsorted cache-friendly
        return np.minimum(np.searchsorted(cdf, np.sort(rng.random(n))), len(cdf) - 1)

    keys = np.empty(0, dtype=np.int64)
    yield_ = 0.9  # fraction of fresh draws that are new pairs; re-estimated each round
    while len(keys) < nnz:  # draw, drop repeated pairs, top up (two or three rounds)
        need = int((nnz - len(keys)) / max(yield_, 0.05) * 1.05) + 16
        before = len(keys)
        u = draw(p_user, need)
        i = rng.permutation(draw(p_item, need))  # shuffled: u and i are independent draws
        keys = np.sort(np.concatenate([keys, u.astype(np.int64) * n_items + i]))
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]  # (np.unique is far slower here)
        yield_ = (len(keys) - before) / need
    if len(keys) > nnz:
        keys = np.sort(keys[rng.permutation(len(keys))[:nnz]])
    users = (keys // n_items).astype(INDEX_DTYPE)
    items = (keys % n_items).astype(INDEX_DTYPE)
    if explicit:
        pop = np.bincount(items, minlength=n_items)
        lean = np.log1p(pop[items]) / np.log1p(pop.max())
        values = np.clip(np.rint(2.5 + 2.0 * lean + rng.normal(0, 1.0, nnz)), 1, 5).astype(VALUE_DTYPE)
    else:
        values = np.ones(nnz, dtype=VALUE_DTYPE)
    # keys are sorted, so (users, items) are already in the canonical order with no duplicates
    return Interactions(
        users,
        items,
        values,
        IdMap(np.arange(n_users), "user"),
        IdMap(np.arange(n_items), "item"),
        explicit=explicit,
        _checked=True,
    )
