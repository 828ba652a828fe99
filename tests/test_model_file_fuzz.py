"""Model files are untrusted input: structure-aware fuzzing of crossrec.load.

Every mutation keeps a valid container (a readable .npz with a JSON header, so checksums and zip
structure are fine) and breaks the content: a sparse index out of range, a non-monotone or
mis-ended ``indptr``, an array one row short or long, a dtype swapped, a NaN or inf, a missing or
extra key, a hyper-parameter of the wrong type, header entries of the wrong JSON type, nesting
thousands deep. Each case is loaded, and if it loads, used (recommend, candidates, predict,
similar_items), in a worker process, so a crash takes down the worker only; the parent records it
and starts a new one.

A mutation that makes the state invalid must give ``ModelFileError`` at load (anything else is a
crash, a raw error or a silent acceptance). The few mutations that leave a valid model (an
optional attribute removed, +inf in a score that may be +inf, an unreferenced extra array) may
load, and the model must then answer without error. The count of cases run is printed in the
terminal summary.
"""

from __future__ import annotations

import collections
import json
import os
import random
import re
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crossrec as cr
from crossrec import io
from conftest import FUZZ_SUMMARY

WORKER = Path(__file__).with_name("model_file_worker.py")
TIMEOUT = 30.0
COUNTS: collections.Counter = collections.Counter()
# Cases per run (about 0.1 s each on a quiet machine): raise them for a longer hunt.
ROUNDS = int(os.environ.get("CROSSREC_FUZZ_ROUNDS", "1"))
EXAMPLES = int(os.environ.get("CROSSREC_FUZZ_EXAMPLES", "150"))

# state a valid model may lack, and values a valid model may hold, so these mutations may load
OPTIONAL_STATE = {
    "neighbors_",
    "train_accuracy_",
    "fallback_mean_",
    "fallback_user_bias_",
    "fallback_item_bias_",
    "item_popularity_",
}
INF_ALLOWED = {"rule_scores_"}
# one entry per epoch: any length is a valid history; cold_users_ is a set of user indices (which
# rows came from the source): any in-range set is valid, so only its range is checkable
FREE_LENGTH = {"loss_history_", "cold_users_"}
# JSON-like records kept to inspect, not used to answer (EMCDR's learnt map, Auto's trial log,
# PTUPCDR's trained network and training record):
# any content is a valid record
RECORDS = re.compile(r"(^|[./])(map_|trials_|network_|training_)[./]")


def _models():
    from contract import small_data

    data = small_data(seed=1)
    implicit = small_data(seed=2, explicit=False)
    features = pd.DataFrame(np.random.default_rng(0).random((60, 4)), index=data.item_ids, columns=list("abcd"))
    user_knn = cr.UserKNN(k=5, centering="baseline").fit(data)
    user_knn.recommend(["u0"], n=2)  # computes and keeps neighbors_
    fitted = {
        "Baseline": cr.Baseline().fit(data),
        "MostPopular": cr.MostPopular().fit(data),
        "Random": cr.Random(seed=3).fit(data),
        "UserKNN": user_knn,
        "ItemKNN": cr.ItemKNN(k=5, neighborhood="fixed").fit(data),
        "ALS-implicit": cr.ALS(factors=4, iterations=2).fit(implicit),
        "ALS-explicit": cr.ALS(factors=4, iterations=2, implicit=False).fit(data),
        "MF": cr.MF(factors=4, iterations=2).fit(data),
        "BPR": cr.BPR(factors=4, iterations=2).fit(implicit),
        "EASE": cr.EASE(l2=10.0).fit(data),
        "DAE": cr.DenoisingAutoencoder(hidden=6, epochs=2).fit(implicit),
        "AssociationRules": cr.AssociationRules(min_support=0.1, min_confidence=0.2).fit(implicit),
        "ContentBased": cr.ContentBased().fit(data, item_features=features),
        "Hybrid": cr.Hybrid([(cr.EASE(l2=10.0), 1.0), (cr.ItemKNN(k=5), 0.5)]).fit(data),
    }
    users = [str(u) for u in data.user_ids[:3]]
    items = [int(i) for i in data.item_ids[:4]]
    out = {name: (model, users, items) for name, model in fitted.items()}
    out.update(_transfer_models())
    return out


def _features(ids):
    rng = np.random.default_rng(2)
    return pd.DataFrame((rng.random((len(ids), 5)) < 0.5).astype(float), index=ids, columns=list("vwxyz"))


def _transfer_models():
    """Every transfer model kind, fitted on the contract's small pair (cold and warm users)."""
    from contract import COLD_USERS, WARM_USERS, small_pair

    from crossrec.transfer import (
        CMF,
        EMCDR,
        Auto,
        CrossDomainContent,
        CrossDomainKNN,
        CrossDomainRules,
        Distill,
        FineTune,
        NoTransfer,
        PTUPCDR,
        SparseDistill,
        TransferALS,
    )

    pair = small_pair(explicit=True)
    als = dict(factors=4, iterations=2, regularization=0.1)
    tuned = FineTune(TransferALS(**als), pull=1.0).fit(pair)
    fitted = {
        "TransferALS": TransferALS(**als).fit(pair.target),
        "FineTune": tuned,
        "CMF": CMF(**als, weights=(0.5, 1.0)).fit(pair),
        "EMCDR": EMCDR(TransferALS(**als), TransferALS(**als), l2=1.0).fit(pair),
        "EMCDR-mlp": EMCDR(TransferALS(**als), TransferALS(**als), mapping="mlp", hidden=4, epochs=5).fit(pair),
        "NoTransfer": NoTransfer(TransferALS(**als)).fit(pair),
        "PTUPCDR": PTUPCDR(TransferALS(**als), TransferALS(**als), hidden=4, epochs=5).fit(pair),
        "Distill": Distill(tuned, cr.MF(factors=4), epochs=2, top_k=5).fit(pair),
        "SparseDistill": SparseDistill(tuned, k=5).fit(pair),
        "Auto": Auto(candidates=["EMCDR"], factors=4, iterations=2, time_budget=60).fit(pair),
        "CrossDomainKNN": CrossDomainKNN(k=5).fit(pair),
        "CrossDomainRules": CrossDomainRules(min_support=2, min_confidence=0.05).fit(small_pair(explicit=False)),
        "CrossDomainContent": CrossDomainContent(_features(pair.source.item_ids), _features(pair.target.item_ids)).fit(
            pair
        ),
    }
    users = [COLD_USERS[0], WARM_USERS[0], WARM_USERS[1]]
    items = [str(i) if isinstance(i, str) else int(i) for i in pair.target.item_ids[:4]]
    return {name: (model, users, items) for name, model in fitted.items()}


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-originals")
    out = {}
    for name, (model, users, items) in _models().items():
        path = folder / f"{name}.crossrec"
        model.save(path)
        out[name] = (io.read_model_file(path), users, items, type(model))
    return out


class Worker:
    """A persistent loader process; restarted after a crash or a hang."""

    def __init__(self):
        self.proc = None

    def start(self):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(cr.__file__).parents[1]), str(WORKER.parent)]))
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def run(self, request: dict) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            return {"outcome": "hang", "detail": f"no answer in {TIMEOUT} s"}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            return {"outcome": "crash", "detail": f"worker died with exit code {code}"}
        return json.loads(line)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()
    FUZZ_SUMMARY.append(
        "model-file fuzz: {} cases run; rejected {}, loaded and answered {}; crashes {}, hangs {}, "
        "raw errors {}, silent acceptances {}".format(
            sum(COUNTS[k] for k in ("rejected", "ok", "crash", "hang", "error", "silent")),
            COUNTS["rejected"],
            COUNTS["ok"],
            COUNTS["crash"],
            COUNTS["hang"],
            COUNTS["error"],
            COUNTS["silent"],
        )
    )


# ---- the mutations -------------------------------------------------------------------------------
def _slots(meta, path=()):
    """Every stored array entry of a header: (kind, npz key, attribute name, path in the header)."""
    if isinstance(meta, dict):
        if "__array__" in meta:
            yield "dense", meta["__array__"], path[-1] if path else "", path
            return
        if "__csr__" in meta:
            yield "csr", meta["__csr__"], path[-1] if path else "", path
            return
        if "__ids__" in meta:
            yield "ids", meta["__ids__"], path[-1] if path else "", path
            return
        for k, v in meta.items():
            yield from _slots(v, path + (k,))
    elif isinstance(meta, list):
        for j, v in enumerate(meta):
            yield from _slots(v, path + (j,))


def _attribute(path) -> str:
    """The fitted attribute or parameter a header path belongs to (innermost name)."""
    names = [p for p in path if isinstance(p, str) and p not in ("state", "params", "__list__", "__model__")]
    return names[-1] if names else ""


def _get(meta, path):
    for p in path:
        meta = meta[p]
    return meta


def _is_index_array(key: str) -> bool:
    return key.endswith("popularity_order_") or ".user_index_." in key or ".item_index_." in key


class Case:
    def __init__(self, header, arrays, choose, integer):
        self.header = json.loads(json.dumps(header))
        self.arrays = {k: v.copy() for k, v in arrays.items()}
        self.choose, self.integer = choose, integer
        self.must_reject = True
        self.raw_header = None  # a header string to write as is (deep nesting)
        self.what = ""
        self.touched = ""  # the array key a mutation changed

    def slots(self, kinds):
        return [s for s in _slots(self.header["model"], ("model",)) if s[0] in kinds]


def m_index(c: Case):
    options = [("csr", k + ".indices") for kind, k, _, _ in c.slots({"csr"}) if c.arrays[k + ".indices"].size]
    options += [("dense", k) for kind, k, _, _ in c.slots({"dense"}) if _is_index_array(k) and c.arrays[k].size]
    if not options:
        return False
    _, key = c.choose(options)
    arr = c.arrays[key]
    pos = c.integer(0, arr.size - 1)
    big = int(np.iinfo(arr.dtype).max) if arr.dtype.kind in "iu" else 10**6
    arr.flat[pos] = c.choose([-1, -2, -(2**31) + 1, max(int(arr.max()) + 1, 10**4), big])
    c.what = f"index {arr.flat[pos]} at {key}[{pos}]"
    c.touched = key
    return True


def m_indptr(c: Case):
    options = [k for _, k, _, _ in c.slots({"csr"})]
    key = c.choose(options) + ".indptr"
    p = c.arrays[key]
    if len(p) > 2 and c.choose([True, False]):
        k = c.integer(1, len(p) - 2)
        p[k] = p[k + 1] + 1 + c.integer(0, 5)
        c.what = f"{key}[{k}] above the next entry"
    else:
        end = c.choose([0, -1])
        p[end] += c.choose([1, 3, -1]) if end == -1 else c.choose([1, 2])
        c.what = f"{key}[{end}] changed"
    return True


def _resize(arr: np.ndarray, c: Case) -> np.ndarray:
    axis = c.integer(0, arr.ndim - 1)
    if arr.shape[axis] == 0 or c.choose([True, False]):
        pad = [(0, 0)] * arr.ndim
        pad[axis] = (0, 1)
        if arr.dtype.kind in "US":
            return np.concatenate([arr, np.asarray(["zz-extra-id"], dtype=arr.dtype)], axis=axis)
        return np.pad(arr, pad, mode="edge" if arr.size else "constant")
    return np.delete(arr, -1, axis=axis)


def m_shape(c: Case):
    options = []
    for kind, key, _, path in c.slots({"dense", "csr", "ids"}):
        name = _attribute(path)
        if name in FREE_LENGTH:
            continue
        if kind == "csr":
            options += [("csr-shape", key, path), ("array", key + ".indices", path), ("array", key + ".data", path)]
        else:
            options.append(("ids" if kind == "ids" else "array", key, path))
    what, key, path = c.choose(options)
    if what == "csr-shape":
        entry = _get(c.header, path)
        axis = c.integer(0, 1)
        entry["shape"][axis] += c.choose([1, -1]) if entry["shape"][axis] > 0 else 1
        c.what = f"shape of {key} -> {entry['shape']}"
    elif what == "ids":
        ids = c.arrays[key]
        if c.choose([True, False]) and len(ids):
            c.arrays[key] = ids[:-1]
        elif ids.dtype.kind in "US":
            c.arrays[key] = np.append(ids, "zz-new-id").astype(ids.dtype.str[:2] + "20")
        else:
            c.arrays[key] = np.append(ids, ids.max() + 1 if len(ids) else 0).astype(ids.dtype)
        c.what = f"ids {key}: {len(ids)} -> {len(c.arrays[key])}"
    else:
        before = c.arrays[key].shape
        c.arrays[key] = _resize(c.arrays[key], c)
        c.what = f"{key}: shape {before} -> {c.arrays[key].shape}"
    c.touched = key
    return True


def m_dtype(c: Case):
    options = []
    for kind, key, _, _ in c.slots({"dense", "csr"}):
        if kind == "csr":
            options += [(key + ".indices", ["float64", "U4"]), (key + ".indptr", ["float64", "U4"])]
            options.append((key + ".data", ["float64", "int64", "complex64", "bool", "U4"]))
        else:
            kindchar = c.arrays[key].dtype.kind
            targets = {"f": ["int64", "complex128", "bool", "U4", "float16"], "i": ["float64", "U4", "bool", "uint8"]}
            targets["u"], targets["b"] = targets["i"], ["float64", "U4"]
            swap = [t for t in targets.get(kindchar, ["float64"]) if np.dtype(t) != c.arrays[key].dtype]
            options.append((key, swap))
    key, targets = c.choose(options)
    target = c.choose(targets)
    arr = c.arrays[key]
    with np.errstate(all="ignore"):
        if arr.dtype.kind in "US":  # text cannot be cast to numbers: numbers of the same shape instead
            c.arrays[key] = np.zeros(arr.shape, target if target[0] != "U" else "float64")
        else:
            c.arrays[key] = arr.astype(target) if target[0] != "U" else arr.astype(str).astype(target)
    c.what = f"{key}: {arr.dtype} -> {target}"
    c.touched = key
    return True


def m_nonfinite(c: Case):
    options = []
    for kind, key, _, path in c.slots({"dense", "csr"}):
        k = key + ".data" if kind == "csr" else key
        if c.arrays[k].dtype.kind == "f" and c.arrays[k].size:
            options.append((k, _attribute(path)))
    scalars = [
        ("model", "state", name)
        for name, v in c.header["model"]["state"].items()
        if isinstance(v, float) and not isinstance(v, bool)
    ]
    if scalars and c.choose([True, False]):
        path = c.choose(scalars)
        value = c.choose([float("nan"), float("inf"), float("-inf")])
        _get(c.header, path[:-1])[path[-1]] = value
        c.what = f"state {path[-1]} = {value}"
        return True
    if not options:
        return False
    key, name = c.choose(options)
    value = c.choose([np.nan, np.inf, -np.inf])
    arr = c.arrays[key]
    arr.flat[c.integer(0, arr.size - 1)] = value
    c.must_reject = not (name in INF_ALLOWED and not np.isnan(value))
    c.what = f"{key} holds {value}"
    c.touched = key
    return True


def _optional(cls, name: str) -> bool:
    """Whether the class declares ``name`` optional (its schema or the base one), or the hand list
    says so: removing an optional attribute leaves a valid model, so loading it is no silent accept."""
    from crossrec.schema import BASE_SCHEMA

    spec = {**BASE_SCHEMA, **(getattr(cls, "state_schema", None) or {})}.get(name)
    return name in OPTIONAL_STATE or (spec is not None and spec.optional)


def m_missing(c: Case):
    state = c.header["model"]["state"]
    if c.choose([True, False]):
        name = c.choose(sorted(state))
        del state[name]
        c.must_reject = not _optional(c.cls, name)
        c.what = f"state {name} removed"
    else:
        key = c.choose(sorted(c.arrays))
        del c.arrays[key]
        c.what = f"array {key} removed"
    return True


def m_extra(c: Case):
    which = c.choose(["state", "param", "array", "state-known-name"])
    model = c.header["model"]
    if which == "state":
        model["state"]["bogus_"] = {"__array__": "state.bogus_"}
        c.arrays["state.bogus_"] = np.zeros(3, np.float32)
    elif which == "state-known-name":
        model["state"]["fit_"] = 1.0  # not a fitted attribute of any model: must not be set
    elif which == "param":
        model["params"]["bogus"] = 1
    else:
        c.arrays["unreferenced"] = np.arange(4)
        c.must_reject = False
    c.what = f"extra {which}"
    return True


def m_param_type(c: Case):
    import typing

    cls = c.cls
    hints = typing.get_type_hints(cls.__init__)
    names = [n for n in c.header["model"]["params"] if n in hints and "dict" not in str(hints[n])]
    if not names:
        return False
    name = c.choose(sorted(names))
    text = str(hints[name])
    numeric = any(t in text for t in ("int", "float", "bool", "Sequence", "Callable")) or hints[name] in (
        int,
        float,
        bool,
    )
    value = "not-a-number" if numeric else 12345
    if "str" in text and numeric:
        value = [1, 2]  # str or number: a list is neither
    c.header["model"]["params"][name] = value
    c.what = f"param {name}={value!r} (annotated {text})"
    return True


def m_header_types(c: Case):
    model = c.header["model"]
    choices = ["class-int", "class-unknown", "params-list", "state-str", "entry-str", "format", "version"]
    csr = c.slots({"csr"})
    if csr:
        choices.append("csr-shape")
    dense = c.slots({"dense"})
    if dense:
        choices.append("array-key")
    which = c.choose(choices)
    if which == "class-int":
        model["class"] = 5
    elif which == "class-unknown":
        model["class"] = "os.system"
    elif which == "params-list":
        model["params"] = [1, 2]
    elif which == "state-str":
        model["state"] = "x"
    elif which == "entry-str":
        name = c.choose(sorted(model["state"]))
        model["state"][name] = "x" if not isinstance(model["state"][name], str) else 17
        c.touched = f"state.{name}."  # a record (RECORDS) may hold any JSON value, a string included
    elif which == "format":
        c.header["format"] = "something-else"
    elif which == "version":
        c.header["version"] = c.choose([2, "1", None])
    elif which == "csr-shape":
        _, _, _, path = c.choose(csr)
        _get(c.header, path)["shape"] = c.choose([["a", 1], [-1, 5], [1e300, 2], [3], None])
    else:
        _, _, _, path = c.choose(dense)
        _get(c.header, path)["__array__"] = c.choose([5, ["x"], "no-such-array"])
    c.what = f"header {which}"
    return True


def m_deep(c: Case):
    depth = c.choose([2_000, 20_000, 200_000])
    where = c.choose(["json", "list", "model"])
    if where == "json":
        nested = "[" * depth + "]" * depth
        header = dict(c.header)
        header["model"] = dict(header["model"], params=dict(header["model"]["params"]))
        text = json.dumps(header)
        c.raw_header = text.replace('"params": {', '"params": {"zz": ' + nested + ", ", 1)
    elif where == "list":
        entry: dict = {"__list__": []}
        for _ in range(min(depth, 20_000)):
            entry = {"__list__": [entry]}
        c.header["model"]["state"]["deep_"] = entry
        c.raw_header = _dumps_deep(c.header)
    else:
        entry = {"class": "crossrec.models.baseline:Baseline", "params": {}, "state": {}}
        for _ in range(min(depth, 20_000)):
            entry = {
                "class": "crossrec.models.hybrid:Hybrid",
                "params": {"models": [[{"__model__": entry}, 1.0]]},
                "state": {},
            }
        c.header["model"] = entry
        c.raw_header = _dumps_deep(c.header)
    c.what = f"nesting {depth} deep in {where}"
    return True


def _dumps_deep(obj) -> str:
    """json.dumps without Python recursion (the writer must not fail where the reader should)."""
    out = []
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, str) and x.startswith("\0"):
            out.append(x[1:])
        elif isinstance(x, dict):
            stack.append("\0}")
            items = list(x.items())
            for j, (k, v) in enumerate(reversed(items)):
                stack.append(v)
                stack.append("\0" + json.dumps(k) + ": ")
                if j < len(items) - 1:
                    stack.append("\0, ")
            stack.append("\0{")
        elif isinstance(x, list):
            stack.append("\0]")
            for j, v in enumerate(reversed(x)):
                stack.append(v)
                if j < len(x) - 1:
                    stack.append("\0, ")
            stack.append("\0[")
        else:
            out.append(json.dumps(x))
    return "".join(out)


MUTATIONS = {
    "index": m_index,
    "indptr": m_indptr,
    "shape": m_shape,
    "dtype": m_dtype,
    "nonfinite": m_nonfinite,
    "missing": m_missing,
    "extra": m_extra,
    "param_type": m_param_type,
    "header_types": m_header_types,
    "deep": m_deep,
}


def _write(case: Case, path: Path) -> None:
    text = case.raw_header if case.raw_header is not None else json.dumps(case.header)
    payload = dict(case.arrays)
    payload["__crossrec_meta__"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **payload)


def run_case(worker, originals, kind, mutation, choose, integer, path) -> None:
    (header, arrays), users, items, cls = originals[kind]
    case = Case(header, arrays, choose, integer)
    case.cls = cls
    if not MUTATIONS[mutation](case):
        return
    if RECORDS.search(case.touched):
        case.must_reject = False
    _write(case, path)
    reply = worker.run({"path": str(path), "users": users, "items": items})
    outcome = reply["outcome"]
    if outcome == "ok" and case.must_reject:
        outcome = "silent"
    COUNTS[outcome] += 1
    assert outcome in ("rejected", "ok"), f"{kind}, {case.what}: {outcome}: {reply['detail']}"


def test_every_kind_and_mutation(worker, originals, tmp_path):
    """Each mutation on every model kind (seeded), so no combination is left to chance."""
    rng = random.Random(20261130)
    for kind in sorted(originals):
        for mutation in MUTATIONS:
            for _ in range(ROUNDS):
                run_case(
                    worker, originals, kind, mutation, rng.choice, rng.randint, tmp_path / f"{kind}-{mutation}.crossrec"
                )


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
@given(data=st.data())
def test_random_mutations(worker, originals, tmp_path_factory, data):
    kind = data.draw(st.sampled_from(sorted(originals)), label="model")
    mutation = data.draw(st.sampled_from(sorted(MUTATIONS)), label="mutation")
    path = tmp_path_factory.getbasetemp() / "fuzz-case.crossrec"
    run_case(
        worker,
        originals,
        kind,
        mutation,
        lambda seq: data.draw(st.sampled_from(list(seq))),
        lambda lo, hi: data.draw(st.integers(lo, hi)),
        path,
    )
