"""Fuzz suite: every crossrec._core function and the public models' constructors, fit, recommend and
predict, fed corrupted input (dtypes, shapes, NaN/inf/float32 overflow, negative and huge ids and
sizes, empty and one-row data, unsorted/duplicate/non-canonical CSR, huge n/k/factors/n_threads).

Each case runs in a worker process (tests/fuzz_cases.py), so a crash or hang fails the case that
caused it, by name, instead of taking the session down. A case passes when the call either works
with its output invariants intact, or raises a clean exception (ValueError family, a MemoryError
with its estimate); invalid input that is accepted counts as a silent wrong answer.

Two passes: an exhaustive one over every (function, mutation) pair, and a hypothesis-driven one
over random sizes, seeds and pairs of mutations. The number of cases run is printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import fuzz_cases as fc  # noqa: E402

WORKER = Path(__file__).with_name("fuzz_cases.py")
CASE_TIMEOUT = float(os.environ.get("CROSSREC_FUZZ_TIMEOUT", "60"))
SANITIZED = "asan" in os.environ.get("LD_PRELOAD", "")


class Worker:
    """A long-lived worker process; restarted after a crash or a hang."""

    def __init__(self):
        self.proc = None
        self.cases = 0
        self.restarts = -1  # the first start is not a restart

    def _start(self):
        self.restarts += 1
        env = dict(os.environ)
        if not SANITIZED:  # ASan reserves terabytes of address space: no cap under it
            env.setdefault("CROSSREC_FUZZ_AS_LIMIT", str(6 * 2**30))
        env.setdefault("OMP_NUM_THREADS", "2")
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def run(self, case: dict) -> dict:
        import selectors

        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.cases += 1
        self.proc.stdin.write(json.dumps(case) + "\n")
        self.proc.stdin.flush()
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        ready = sel.select(CASE_TIMEOUT)
        sel.close()
        if not ready:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            return {"outcome": "hang"}
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            err = self.proc.stderr.read()[-1500:]
            self.proc = None
            return {"outcome": "crash", "rc": rc, "stderr": err}
        return json.loads(line)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def verdict(case: dict, res: dict) -> str | None:
    """None when the case passed, else why it failed."""
    name = json.dumps(case)
    if res["outcome"] == "builder_error":
        return f"the fuzz suite could not build {name}: {res['trace']}"
    if res["outcome"] in ("crash", "hang"):
        return f"{res['outcome']} (rc {res.get('rc')}) on {name}: {res.get('stderr', '')}"
    if res["outcome"] == "ok":
        if res["violations"]:
            return f"silent wrong answer on {name}: {res['violations']}"
        return None
    if not res["clean"]:
        return f"unclean {res['type']}: {res['message']} on {name}\n{res.get('trace', '')}"
    if res["rule"] == fc.OK:
        return f"valid input refused ({res['type']}: {res['message']}) on {name}"
    return None


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


SIZES = {"rows": 6, "cols": 7, "f": 3}
# Dimensions that size a buffer (n_cols=10**9 allocates a 8 GB transpose): without the worker's
# address-space cap (impossible under ASan) such a case is valid but zero-fills gigabytes at
# sanitizer speed, so the sanitizer run leaves them to the plain run.
SIZE_ARGS = {"n_cols", "n_y", "n_items", "a_cols"}


def sanitizer_skips(spec: dict, mutations) -> bool:
    return SANITIZED and any(
        kind == "count" and spec["count"][t][0] in SIZE_ARGS and value >= 10**9 for kind, t, value in mutations
    )


def exhaustive_core_cases():
    import numpy as np

    cases = []
    for fn, build in fc.CORE.items():
        _, spec = build(np.random.default_rng(0), SIZES)
        cases.append({"target": "core", "fn": fn, "seed": 0, "sizes": SIZES, "mutations": []})
        for kind, t, mut in fc.mutation_list(spec):
            if sanitizer_skips(spec, [(kind, t, mut)]):
                continue
            cases.append({"target": "core", "fn": fn, "seed": 0, "sizes": SIZES, "mutations": [[kind, t, mut]]})
        for th in fc.THREAD_MUTATIONS:
            if fn not in fc.NO_THREADS:
                cases.append({"target": "core", "fn": fn, "seed": 0, "sizes": SIZES, "mutations": [["threads", 0, th]]})
        for sizes in ({"rows": 0, "cols": 7, "f": 3}, {"rows": 1, "cols": 1, "f": 1}, {"rows": 1, "cols": 7, "f": 1}):
            cases.append({"target": "core", "fn": fn, "seed": 1, "sizes": sizes, "mutations": []})
    return cases


def exhaustive_api_cases():
    cases = []
    for model in fc.API_MODELS:
        for p, value, rule in fc.API_PARAMS[model]:
            if SANITIZED and isinstance(value, int) and value >= 10**6:
                continue  # factors=10**7 etc. allocate gigabytes (no address-space cap under ASan)
            cases.append({"target": "api", "model": model, "seed": 0, "param": [p, value], "rule": rule})
        for what, value, rule in fc.API_CALLS:
            cases.append({"target": "api", "model": model, "seed": 0, "call": [what, value], "rule": rule})
    for call, rule in (("none", fc.OK), ("repeat", fc.FAIL), ("minus_two", fc.FAIL), ("float", fc.FAIL)):
        cases.append({"target": "metrics", "seed": 0, "call": call, "rule": rule})
    return cases


def _run_all(worker, cases, label):
    failures = [f for f in (verdict(c, worker.run(c)) for c in cases) if f]
    print(f"\nfuzz {label}: {len(cases)} cases run, {len(failures)} failed")
    assert not failures, "\n\n".join(failures[:20])


def test_exhaustive_core(worker):
    _run_all(worker, exhaustive_core_cases(), "crossrec._core exhaustive")


def test_exhaustive_public_api(worker):
    _run_all(worker, exhaustive_api_cases(), "public API exhaustive")


@st.composite
def random_core_case(draw):
    import numpy as np

    fn = draw(st.sampled_from(sorted(fc.CORE)))
    sizes = {
        "rows": draw(st.integers(0, 12)),
        "cols": draw(st.integers(1, 12)),
        "f": draw(st.integers(1, 5)),
    }
    seed = draw(st.integers(0, 2**16))
    _, spec = fc.CORE[fn](np.random.default_rng(seed), sizes)
    muts = fc.mutation_list(spec) + ([] if fn in fc.NO_THREADS else [("threads", 0, t) for t in fc.THREAD_MUTATIONS])
    picked = draw(st.lists(st.sampled_from(muts), min_size=0, max_size=2)) if muts else []
    picked = [] if sanitizer_skips(spec, picked) else picked
    return {"target": "core", "fn": fn, "seed": seed, "sizes": sizes, "mutations": [list(m) for m in picked]}


RANDOM_CASES = int(os.environ.get("CROSSREC_FUZZ_EXAMPLES", "300"))


@settings(
    max_examples=RANDOM_CASES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=random_core_case())
def test_random_core(worker, case):
    if case["fn"] in ("distill_rank_weights", "distill_user_gradient", "encode_baskets"):
        case["mutations"] = [m for m in case["mutations"] if m[0] != "threads"]
    failure = verdict(case, worker.run(case))
    assert failure is None, failure


@st.composite
def random_api_case(draw):
    model = draw(st.sampled_from(fc.API_MODELS))
    seed = draw(st.integers(0, 2**16))
    options = [("param", p) for p in fc.API_PARAMS[model]] + [("call", c) for c in fc.API_CALLS]
    kind, (what, value, rule) = draw(st.sampled_from(options))
    if SANITIZED and kind == "param" and isinstance(value, int) and value >= 10**6:
        kind, (what, value, rule) = "call", fc.API_CALLS[0]  # see exhaustive_api_cases
    return {"target": "api", "model": model, "seed": seed, kind: [what, value], "rule": rule}


@settings(
    max_examples=int(os.environ.get("CROSSREC_FUZZ_API_EXAMPLES", "60")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=random_api_case())
def test_random_public_api(worker, case):
    failure = verdict(case, worker.run(case))
    assert failure is None, failure


def test_zz_count(worker, capsys):
    """Prints the total (past pytest's capture): every case the worker ran in this module."""
    with capsys.disabled():
        print(f"\nfuzz: {worker.cases} cases run in worker processes ({worker.restarts} worker restarts)")
    assert worker.cases > 0
