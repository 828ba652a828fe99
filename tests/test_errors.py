"""Errors a user can act on: each bad call through the public API raises a ValueError subclass (or
the documented crossrec error) whose message names the argument, the value given and what is
allowed. One row per case; the regex must match the message."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import crossrec as cr
from contract import small_data

DATA = small_data()


def fitted(make):
    return make().fit(DATA)


CASES = [
    # data
    (
        "from_arrays(None, [1])",
        lambda: cr.Interactions.from_arrays(None, [1]),
        ValueError,
        r"users must be a 1-D .*None",
    ),
    (
        "from_arrays([1], None)",
        lambda: cr.Interactions.from_arrays([1], None),
        ValueError,
        r"items must be a 1-D .*None",
    ),
    ("from_arrays(5, [1])", lambda: cr.Interactions.from_arrays(5, [1]), ValueError, r"users must be a 1-D .*int 5"),
    ("from_arrays lengths", lambda: cr.Interactions.from_arrays([1, 2], [1]), ValueError, r"differ in length.*2.*1"),
    (
        "from_arrays text values",
        lambda: cr.Interactions.from_arrays([1], [1], ["a"]),
        ValueError,
        r"values must be numbers",
    ),
    ("from_pandas(None)", lambda: cr.Interactions.from_pandas(None), ValueError, r"DataFrame, got NoneType"),
    (
        "from_pandas missing column",
        lambda: cr.Interactions.from_pandas(pd.DataFrame({"u": [1], "item": [1]})),
        ValueError,
        r"column 'user' not in DataFrame \(columns: \['u', 'item'\]\)",
    ),
    (
        "from_pandas duplicates",
        lambda: cr.Interactions.from_pandas(pd.DataFrame({"user": [1, 1], "item": [2, 2]})),
        ValueError,
        r"duplicate \(user, item\) row \(1, 2\).*duplicates='sum'",
    ),
    (
        "from_pandas duplicates policy",
        lambda: cr.Interactions.from_pandas(pd.DataFrame({"user": [1], "item": [1]}), duplicates="x"),
        ValueError,
        r"duplicates must be one of .*'error'.* got 'x'",
    ),
    (
        "from_scipy(ndarray)",
        lambda: cr.Interactions.from_scipy(np.eye(3)),
        ValueError,
        r"scipy.sparse matrix, got ndarray",
    ),
    ("binarize('a')", lambda: DATA.binarize("a"), ValueError, r"threshold must be a number.*'a'"),
    ("subset length", lambda: DATA.subset([True]), ValueError, r"mask length 1 != number of interactions 480"),
    ("unknown id", lambda: DATA.user_index(["zz"]), cr.UnknownIdError, r"unknown user id\(s\): 'zz'"),
    ("split test_size", lambda: cr.split.random(DATA, test_size=2), ValueError, r"test_size must be <= 1.0, got 2"),
    ("split data", lambda: cr.split.random([1, 2]), ValueError, r"data must be crossrec.Interactions, got list"),
    # hyper-parameters and fit
    ("ALS factors=0", lambda: fitted(lambda: cr.ALS(factors=0)), ValueError, r"factors must be >= 1, got 0"),
    (
        "ALS factors='a'",
        lambda: fitted(lambda: cr.ALS(factors="a")),
        ValueError,
        r"factors must be an integer, got 'a'",
    ),
    (
        "ALS solver",
        lambda: fitted(lambda: cr.ALS(solver="x")),
        ValueError,
        r"solver must be one of \['cg', 'cholesky'\], got 'x'",
    ),
    (
        "ALS regularization",
        lambda: fitted(lambda: cr.ALS(regularization=-1.0)),
        ValueError,
        r"regularization must be >= 0",
    ),
    (
        "fit(DataFrame)",
        lambda: cr.ALS().fit(pd.DataFrame({"a": [1]})),
        ValueError,
        r"ALS.fit expects crossrec.Interactions, got DataFrame",
    ),
    (
        "KNN similarity",
        lambda: fitted(lambda: cr.ItemKNN(similarity="x")),
        ValueError,
        r"similarity must be one of .*got 'x'",
    ),
    (
        "KNN centering",
        lambda: fitted(lambda: cr.UserKNN(centering="x")),
        ValueError,
        r"centering must be one of .*got 'x'",
    ),
    ("EASE l2", lambda: fitted(lambda: cr.EASE(l2=0)), ValueError, r"l2 must be > 0"),
    ("DAE dropout", lambda: fitted(lambda: cr.DenoisingAutoencoder(dropout=1.0)), ValueError, r"dropout must be < 1"),
    (
        "MF diverges",
        lambda: fitted(lambda: cr.MF(learning_rate=1e6, iterations=3, factors=4)),
        cr.FitError,
        r"lower learning_rate",
    ),
    ("set_params", lambda: cr.ALS().set_params(foo=1), ValueError, r"ALS has no parameter 'foo'"),
    (
        "Hybrid models",
        lambda: fitted(lambda: cr.Hybrid([cr.EASE()])),
        ValueError,
        r"models\[0\] must be a \(model, weight\) pair",
    ),
    ("ContentBased features", lambda: fitted(cr.ContentBased), ValueError, r"needs item_features"),
    # serving
    ("recommend n=0", lambda: fitted(cr.Baseline).recommend(["u0"], n=0), ValueError, r"n must be >= 1, got 0"),
    (
        "recommend n='a'",
        lambda: fitted(cr.Baseline).recommend(["u0"], n="a"),
        ValueError,
        r"n must be an integer, got 'a'",
    ),
    (
        "recommend n=2.5",
        lambda: fitted(cr.Baseline).recommend(["u0"], n=2.5),
        ValueError,
        r"n must be an integer, got 2.5",
    ),
    (
        "recommend unknown item",
        lambda: fitted(cr.Baseline).recommend(["u0"], items=[99999]),
        cr.UnknownIdError,
        r"unknown item id\(s\): 99999",
    ),
    (
        "predict lengths",
        lambda: fitted(cr.Baseline).predict(["u0", "u1"], [0]),
        ValueError,
        r"users and items differ in length \(2 vs 1\)",
    ),
    (
        "predict unfitted",
        lambda: cr.Baseline().predict(["u0"], [0]),
        cr.NotFittedError,
        r"Baseline is not fitted; call fit first",
    ),
    (
        "similar_items n=0",
        lambda: fitted(lambda: cr.ALS(factors=2, iterations=1)).similar_items([0], n=0),
        ValueError,
        r"n must be >= 1, got 0",
    ),
    (
        "fold_in rows",
        lambda: cr.fold_in(fitted(lambda: cr.ALS(factors=4, iterations=1)), np.zeros((1, 3))),
        ValueError,
        r"rows must be a scipy.sparse matrix, got ndarray",
    ),
    ("load a folder", lambda: cr.load("/"), cr.ModelFileError, r"is not a readable crossrec model file"),
    (
        "recommend exclude_seen",
        lambda: fitted(cr.Baseline).recommend(["u0"], exclude_seen="no"),
        ValueError,
        r"exclude_seen must be True or False, got 'no'",
    ),
    ("load(None)", lambda: cr.load(None), ValueError, r"path must be a file path .*NoneType None"),
    (
        "save to a missing folder",
        lambda: fitted(cr.Baseline).save("/no/such/folder/m.crossrec"),
        FileNotFoundError,
        r"cannot save to '/no/such/folder/m.crossrec': folder '/no/such/folder' does not exist",
    ),
    (
        "recall k='a'",
        lambda: cr.metrics.recall_at_k(np.zeros((1, 3), int), sp.csr_matrix(np.ones((1, 3))), "a"),
        ValueError,
        r"k must be an integer, got 'a'",
    ),
    # evaluation, rules, kernels
    (
        "evaluate metric",
        lambda: cr.evaluate({"b": fitted(cr.Baseline)}, DATA, DATA, metrics=["foo@10"]),
        ValueError,
        r"unknown metric 'foo@10'; known: .*ndcg@K",
    ),
    (
        "evaluate models",
        lambda: cr.evaluate([fitted(cr.Baseline)], DATA, DATA),
        ValueError,
        r"models must be a non-empty dict",
    ),
    (
        "evaluate unfitted",
        lambda: cr.evaluate({"b": cr.Baseline()}, DATA, DATA),
        cr.NotFittedError,
        r"model 'b' is not fitted",
    ),
    (
        "ndcg k=0",
        lambda: cr.metrics.ndcg_at_k(np.zeros((1, 3), int), sp.csr_matrix(np.ones((1, 3))), 0),
        ValueError,
        r"k must be >= 1, got 0",
    ),
    (
        "itemsets support",
        lambda: cr.frequent_itemsets([[1, 2], [2]], min_support=2.0),
        ValueError,
        r"min_support must be <= 1.0, got 2.0",
    ),
    (
        "itemsets algorithm",
        lambda: cr.frequent_itemsets([[1, 2], [2]], min_support=0.5, algorithm="x"),
        ValueError,
        r"algorithm must be one of \['apriori', 'fpgrowth'\], got 'x'",
    ),
    ("topn n=0", lambda: cr.topn_from_scores(np.zeros((2, 3), np.float32), 0), ValueError, r"n must be >= 1, got 0"),
    (
        "topn 1-D",
        lambda: cr.topn_from_scores(np.zeros(3, np.float32), 2),
        ValueError,
        r"scores: expected 2-D array, got 1-D",
    ),
    # transfer
    (
        "CrossDomain target",
        lambda: cr.CrossDomain(DATA, None),
        ValueError,
        r"target must be crossrec.Interactions, got NoneType",
    ),
    (
        "CrossDomain shared",
        lambda: cr.CrossDomain(DATA, DATA, shared="x"),
        ValueError,
        r"shared must be 'users' or 'items', got 'x'",
    ),
    (
        "transfer.run methods",
        lambda: cr.transfer.run(cr.CrossDomain(DATA, DATA), methods=["x"]),
        ValueError,
        r"methods: 'x' is neither a crossrec.transfer.Method nor the name of a default method \(bias, popular",
    ),
    (
        "transfer.run methods str",
        lambda: cr.transfer.run(cr.CrossDomain(DATA, DATA), methods="CMF"),
        ValueError,
        r"methods must be a list",
    ),
    (
        "FineTune data",
        lambda: cr.transfer.FineTune(cr.ALS()).fit(DATA),
        ValueError,
        r"FineTune.fit expects a crossrec.CrossDomain pair, got Interactions",
    ),
    (
        "Distill teacher",
        lambda: cr.transfer.Distill(None, cr.BPR()).fit(cr.CrossDomain(DATA, DATA)),
        ValueError,
        r"teacher must be a fitted crossrec Recommender, got NoneType",
    ),
]


@pytest.mark.parametrize("name, call, error, pattern", CASES, ids=[c[0] for c in CASES])
def test_error_names_argument_value_and_what_is_allowed(name, call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
    assert issubclass(error, (ValueError, cr.CrossrecError, FileNotFoundError))


def test_transfer_run_takes_method_names():
    pair = cr.CrossDomain(small_data(seed=1), small_data(seed=2))
    res = cr.transfer.run(pair, methods=["bias", "CMF"], n_bootstrap=10, factors=4, iterations=2, tune=False)
    assert list(res.times) == ["bias", "CMF"]
