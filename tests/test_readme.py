"""README's python code blocks run as written, in order, in one namespace, so README cannot
silently lie: a renamed argument, a removed function or a changed result fails here.

Blocks that read a data set that is absent are skipped (and so are the blocks after them, which
use their variables); a block that needs a service (a Dask scheduler) is only compiled. Blocks that take minutes (the transfer and distillation examples) are
marked slow: they run in CI and with ``--runslow``. The claims README makes in its comments
about small examples are checked after the block that makes them."""

import re
import warnings

import numpy as np
import pytest

from conftest import REPO

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
SLOW_MARKERS = ("cr.transfer.run(", "Distill(", "Auto(")
# blocks that need a service this test cannot have: a running Dask scheduler at an address of the
# reader's own (they are still compiled, so a syntax error or a renamed module import fails here)
NEEDS_SERVICE = {'Client("scheduler': "a running Dask scheduler"}


def _check_quick_start(ns):
    np.testing.assert_array_equal(ns["ids"], [[3, 4, 5]])


def _check_overlapping(ns):
    model = ns["model"]
    users, sims = model.similar_users([1], n=2)
    np.testing.assert_array_equal(users, [[2, 4]])
    np.testing.assert_allclose(sims, [[0.58, 0.55]], atol=0.005)
    ids, scores = model.recommend([1], n=3)
    assert list(ids[0]) == [4, 5, None]
    np.testing.assert_allclose(scores[0, :2], [2.90, 2.21], atol=0.005)
    np.testing.assert_allclose(model.predict([1, 1], [4, 5]), [5.0, 3.96], atol=0.005)


def _check_cross_domain(ns):
    assert ns["pair"].summary()["n_overlap"] == 1566


CHECKS = {
    "three users who share no item": _check_quick_start,
    "model.similar_users([1], n=2)": _check_overlapping,
    "pair.summary()": _check_cross_domain,
}

_namespace: dict = {}
_failed: list[int] = []


def test_readme_has_code_blocks():
    assert len(BLOCKS) >= 4


def _params():
    for k, block in enumerate(BLOCKS):
        marks = [pytest.mark.slow] if any(m in block for m in SLOW_MARKERS) else []
        yield pytest.param(k, block, id=f"block{k}", marks=marks)


@pytest.mark.parametrize("k, block", list(_params()))
def test_readme_block(k, block):
    for marker, what in NEEDS_SERVICE.items():
        if marker in block:
            compile(block, f"README.md python block {k}", "exec")
            pytest.skip(f"README block {k} needs {what}")
    if _failed:
        pytest.skip(f"README block {_failed[0]} did not run; later blocks use its variables")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # README shows its warnings as comments
            exec(compile(block, f"README.md python block {k}", "exec"), _namespace)
    except FileNotFoundError as exc:
        _failed.append(k)
        pytest.skip(f"README block {k} needs a data set that is absent: {exc}")
    except BaseException:
        _failed.append(k)
        raise
    # the quick-start text that introduces a block names it; match on the block or the text before it
    for key, check in CHECKS.items():
        if key in block or key in _text_before(block):
            check(_namespace)


def _text_before(block: str) -> str:
    text = (REPO / "README.md").read_text()
    end = text.index(block)
    return text[max(0, end - 400) : end]
