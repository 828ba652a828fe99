"""Persistence: save/load round trips and every kind of bad file -> ModelFileError, never a crash."""

import json
import os

import numpy as np
import pandas as pd
import pytest

import crossrec as cr
from crossrec import io
from crossrec.schema import Json, Model


def fitted_baseline_data(user_ids=None, item_ids=None):
    rng = np.random.default_rng(0)
    users = user_ids if user_ids is not None else [f"user-{k}" for k in range(12)]
    items = item_ids if item_ids is not None else [f"item/{k}" for k in range(9)]
    rows = [(u, i, float(rng.integers(1, 6))) for u in users for i in items if rng.random() < 0.5]
    df = pd.DataFrame(rows, columns=["u", "i", "r"])
    return cr.Interactions.from_pandas(df, "u", "i", "r")


def fitted_baseline(user_ids=None, item_ids=None):
    return cr.Baseline(reg_user=3.0, iterations=4).fit(fitted_baseline_data(user_ids, item_ids))


@pytest.mark.parametrize("ids", [None, ([3, 1, 2, 10, 7, 8, 9, 11, 12, 13, 14, 15], list(range(100, 109)))])
def test_round_trip(tmp_path, ids):
    model = fitted_baseline(*(ids or (None, None)))
    path = tmp_path / "m.crossrec"
    model.save(path)
    back = cr.load(path)
    assert type(back) is cr.Baseline and back.get_params() == model.get_params()
    np.testing.assert_array_equal(back.user_ids_, model.user_ids_)
    np.testing.assert_array_equal(back.item_ids_, model.item_ids_)
    assert back.user_ids_.dtype.kind == model.user_ids_.dtype.kind or model.user_ids_.dtype == object
    users = list(model.user_ids_[:4])
    a, b = model.recommend(users, n=3), back.recommend(users, n=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1])
    items = list(model.item_ids_[:4])
    np.testing.assert_allclose(model.predict(users, items), back.predict(users, items))
    assert back.seen_.nnz == model.seen_.nnz
    assert os.listdir(tmp_path) == ["m.crossrec"]  # no temporary files left behind


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "m.crossrec"
    fitted_baseline().save(path)
    fitted_baseline().save(str(path))  # str paths too; replaces the old file
    assert os.listdir(tmp_path) == ["m.crossrec"]
    assert isinstance(cr.load(str(path)), cr.Baseline)


def test_failed_save_leaves_no_temp_file(tmp_path):
    model = fitted_baseline()
    model.extra_ = object()  # fitted state that is not declared (and could not be stored without pickle)
    with pytest.raises(cr.ModelFileError, match="extra_"):
        model.save(tmp_path / "m.crossrec")
    assert os.listdir(tmp_path) == []


def test_mixed_type_ids_refused_clearly(tmp_path):
    model = fitted_baseline(user_ids=["a", 1, "b", 2, "c", 3, "d", 4, "e", 5, "f", 6])
    with pytest.raises(cr.ModelFileError, match="mixed"):
        model.save(tmp_path / "m.crossrec")
    assert os.listdir(tmp_path) == []


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "m.crossrec"
    fitted_baseline().save(path)
    return path


def test_truncated_file(saved):
    data = saved.read_bytes()
    for cut in (0, 10, len(data) // 2, len(data) - 30):
        saved.write_bytes(data[:cut])
        with pytest.raises(cr.ModelFileError):
            cr.load(saved)


def test_random_bytes_and_corrupted_bytes(saved, tmp_path):
    rng = np.random.default_rng(1)
    junk = tmp_path / "junk.crossrec"
    junk.write_bytes(rng.bytes(5000))
    with pytest.raises(cr.ModelFileError):
        cr.load(junk)
    data = bytearray(saved.read_bytes())
    for _ in range(60):
        bad = bytearray(data)
        pos = rng.integers(0, len(bad), size=8)
        for p in pos:
            bad[p] ^= 0xFF
        junk.write_bytes(bytes(bad))
        try:
            cr.load(junk)  # a flip inside padding may leave the file readable: then it must load fine
        except cr.ModelFileError:
            pass


def test_foreign_npz(tmp_path):
    p = tmp_path / "foreign.npz"
    np.savez(p, a=np.arange(3))
    with pytest.raises(cr.ModelFileError, match="no header"):
        cr.load(p)
    obj = tmp_path / "pickled.npz"
    np.savez(obj, __crossrec_meta__=np.array([{"x": 1}], dtype=object))
    with pytest.raises(cr.ModelFileError):
        cr.load(obj)  # needs pickle to read: refused


def write_with_header(path, header, arrays=None):
    payload = dict(arrays or {})
    payload["__crossrec_meta__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **payload)


def test_wrong_format_version_and_class(tmp_path):
    p = tmp_path / "m.crossrec"
    write_with_header(p, {"format": "other", "version": 1})
    with pytest.raises(cr.ModelFileError, match="not a crossrec model"):
        cr.load(p)
    write_with_header(p, {"format": io.FORMAT, "version": 999})
    with pytest.raises(cr.ModelFileError, match="version 999"):
        cr.load(p)
    write_with_header(
        p, {"format": io.FORMAT, "version": io.VERSION, "model": {"class": "NoSuchModel", "params": {}, "state": {}}}
    )
    with pytest.raises(cr.ModelFileError, match="NoSuchModel"):
        cr.load(p)
    write_with_header(
        p,
        {
            "format": io.FORMAT,
            "version": io.VERSION,
            "model": {"class": "Baseline", "params": {}, "state": {"x_": {"__array__": "missing"}}},
        },
    )
    with pytest.raises(cr.ModelFileError, match="inconsistent"):
        cr.load(p)
    write_with_header(
        p,
        {
            "format": io.FORMAT,
            "version": io.VERSION,
            "model": {"class": "Baseline", "params": {"nope": 1}, "state": {}},
        },
    )
    with pytest.raises(cr.ModelFileError):
        cr.load(p)
    write_with_header(p, [1, 2])
    with pytest.raises(cr.ModelFileError, match="corrupt model header"):
        cr.load(p)
    p.write_bytes(b"")
    with pytest.raises(cr.ModelFileError):
        cr.load(p)


def test_bad_header_bytes(tmp_path):
    p = tmp_path / "m.crossrec"
    with open(p, "wb") as fh:
        np.savez(fh, __crossrec_meta__=np.frombuffer(b"\xff\xfe{not json", dtype=np.uint8))
    with pytest.raises(cr.ModelFileError, match="corrupt model header"):
        cr.load(p)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        cr.load(tmp_path / "absent.crossrec")


class BaselineWithExtras(cr.Baseline):
    """A model whose declared state holds JSON containers and a nested model."""

    state_schema = {**cr.Baseline.state_schema, "history_": Json(), "info_": Json(), "inner_": Model()}


def test_nested_models_and_containers_round_trip(tmp_path):
    m = BaselineWithExtras(reg_user=3.0, iterations=4).fit(fitted_baseline_data())
    m.history_ = [1.0, 2.5]
    m.info_ = {"a": np.arange(3), "b": (1, "x")}
    m.inner_ = cr.MostPopular().fit(cr.Interactions.from_arrays(["p", "q"], ["i", "j"]))
    m.save(tmp_path / "m.crossrec")
    back = cr.load(tmp_path / "m.crossrec")
    assert back.history_ == [1.0, 2.5]
    np.testing.assert_array_equal(back.info_["a"], np.arange(3))
    assert back.info_["b"] == (1, "x")
    assert isinstance(back.inner_, cr.MostPopular)
    np.testing.assert_array_equal(back.inner_.popularity_, m.inner_.popularity_)


def test_undeclared_state_is_refused_at_save_and_at_load(tmp_path):
    m = fitted_baseline()
    m.extra_ = np.arange(3)
    with pytest.raises(cr.ModelFileError, match="extra_"):
        m.save(tmp_path / "m.crossrec")
    assert os.listdir(tmp_path) == []
    del m.extra_
    m.save(tmp_path / "m.crossrec")
    header, arrays = io.read_model_file(tmp_path / "m.crossrec")
    header["model"]["state"]["extra_"] = {"__array__": "x"}
    arrays["x"] = np.arange(3)
    io.write_model_file(tmp_path / "m.crossrec", {"model": header["model"]}, arrays)
    with pytest.raises(cr.ModelFileError, match="unexpected fitted attribute.*extra_"):
        cr.load(tmp_path / "m.crossrec")


def test_issue_repro_out_of_range_index_is_a_model_file_error(tmp_path):
    """Issue 13: a valid container with index -1 in ItemKNN's stored ratings corrupted the heap."""
    d = cr.Interactions.from_pandas(
        pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [1, 2, 2, 3, 1], "rating": [5.0, 3, 4, 2, 1]}), rating="rating"
    )
    for model in (cr.ItemKNN(k=2), cr.UserKNN(k=2), cr.EASE()):
        path = tmp_path / "k.crossrec"
        model.fit(d).save(path)
        for bad in (-1, 3, 2**31 - 1):
            header, arrays = io.read_model_file(path)
            key = "state.ratings_.indices" if "state.ratings_.indices" in arrays else "state.train_matrix_.indices"
            arrays[key][0] = bad
            io.write_model_file(path, {"model": header["model"]}, arrays)
            with pytest.raises(cr.ModelFileError, match="column index"):
                cr.load(path)


def test_save_follows_umask_and_keeps_an_existing_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "m.crossrec"
        fitted_baseline().save(path)
        assert (os.stat(path).st_mode & 0o777) == 0o644  # like open(path, "w") under umask 022
        os.chmod(path, 0o640)
        fitted_baseline().save(path)
        assert (os.stat(path).st_mode & 0o777) == 0o640  # an overwrite keeps the file's mode
        os.umask(0o077)
        other = tmp_path / "private.crossrec"
        fitted_baseline().save(other)
        assert (os.stat(other).st_mode & 0o777) == 0o600
    finally:
        os.umask(old)


def test_save_removes_temporaries_of_killed_saves(tmp_path):
    import subprocess
    import sys

    # a process that dies: its pid names a temporary that nobody will finish
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".crossrec-{int(dead.stdout)}-abc.tmp"
    stale.write_bytes(b"x" * 100)
    old_style = tmp_path / ".crossrec-zz1.tmp"  # owner unknown and old
    old_style.write_bytes(b"x")
    os.utime(old_style, (0, 0))
    live = tmp_path / f".crossrec-{os.getppid()}-live.tmp"  # a save under way in a live process
    live.write_bytes(b"x")
    fitted_baseline().save(tmp_path / "m.crossrec")
    assert sorted(os.listdir(tmp_path)) == sorted(["m.crossrec", live.name])


def test_file_names_the_class_fully(saved):
    header, _ = io.read_model_file(saved)
    assert header["model"]["class"] == "crossrec.models.baseline:Baseline"


def test_user_subclass_with_a_crossrec_name_does_not_replace_it(tmp_path):
    # A user's class named like a crossrec model registers under its own module, so crossrec's
    # files still load crossrec's class and the user's files load the user's class.
    class Baseline(cr.Baseline):
        pass

    fitted_baseline().save(tmp_path / "ours.crossrec")
    assert type(cr.load(tmp_path / "ours.crossrec")) is cr.Baseline
    theirs = Baseline(reg_user=3.0, iterations=4).fit(cr.Interactions.from_arrays(["a", "b"], ["x", "y"], [1.0, 2.0]))
    theirs.save(tmp_path / "theirs.crossrec")
    assert type(cr.load(tmp_path / "theirs.crossrec")) is Baseline


@pytest.mark.parametrize("name", ["os:system", "builtins:dict", "crossrec.data:IdMap", "mypkg.models:Baseline", "", 3])
def test_unknown_or_foreign_class_refused(tmp_path, name):
    p = tmp_path / "m.crossrec"
    write_with_header(
        p, {"format": io.FORMAT, "version": io.VERSION, "model": {"class": name, "params": {}, "state": {}}}
    )
    with pytest.raises(cr.ModelFileError, match="model class"):
        cr.load(p)


def test_file_with_a_bare_or_moved_crossrec_class_name_still_loads(saved):
    header, arrays = io.read_model_file(saved)
    for old in ("Baseline", "crossrec.models.old_home:Baseline"):
        header["model"]["class"] = old
        write_with_header(saved, header, arrays)
        back = cr.load(saved)
        assert type(back) is cr.Baseline
        np.testing.assert_allclose(
            back.predict(["user-0"], ["item/0"]), fitted_baseline().predict(["user-0"], ["item/0"])
        )


def test_load_checks_the_restored_state(saved):
    # an item id map one item short of the training matrix: the model's validate_state says so
    header, arrays = io.read_model_file(saved)
    key = header["model"]["state"]["item_map_"]["__ids__"]
    arrays[key] = arrays[key][:-1]
    write_with_header(saved, header, arrays)
    with pytest.raises(cr.ModelFileError, match="seen_ has 9 along axis 1; expected 'items' = 8"):
        cr.load(saved)


def test_save_refuses_a_class_that_is_not_a_crossrec_model(tmp_path):
    with pytest.raises(cr.ModelFileError, match="not a crossrec model"):
        io.save(object(), tmp_path / "m.crossrec")
