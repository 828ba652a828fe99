"""One option name for progress bars, ``progress=``, on everything that can take seconds; the old
``show_progress=`` still works and warns."""

import inspect

import pytest

import crossrec as cr
from contract import small_data, small_pair

LONG_RUNNING = [cr.ALS, cr.MF, cr.BPR, cr.DenoisingAutoencoder, cr.transfer.Distill, cr.transfer.Auto]


@pytest.mark.parametrize("cls", LONG_RUNNING, ids=lambda c: c.__name__)
def test_long_running_models_take_progress(cls):
    assert inspect.signature(cls.__init__).parameters["progress"].default is False


@pytest.mark.parametrize("fn", [cr.evaluate, cr.transfer.run], ids=lambda f: f.__name__)
def test_long_running_functions_take_progress(fn):
    assert inspect.signature(fn).parameters["progress"].default is False


@pytest.mark.parametrize(
    "make",
    [
        lambda: cr.ALS(factors=3, iterations=2, progress=True),
        lambda: cr.MF(factors=3, iterations=2, progress=True),
        lambda: cr.BPR(factors=3, iterations=2, progress=True),
        lambda: cr.DenoisingAutoencoder(hidden=3, epochs=2, progress=True),
    ],
    ids=["ALS", "MF", "BPR", "DAE"],
)
def test_progress_draws_a_bar_on_stderr(make, capsys):
    make().fit(small_data())
    err = capsys.readouterr().err
    assert "2/2" in err and "epoch" in err


def test_transfer_models_draw_bars(capsys):
    pair = small_pair(explicit=True)
    teacher = cr.transfer.FineTune(cr.transfer.TransferALS(factors=4, iterations=2), pull=1.0).fit(pair)
    cr.transfer.Distill(teacher, cr.MF(factors=4), epochs=3, top_k=5, progress=True).fit(pair)
    assert "Distill" in capsys.readouterr().err
    cr.transfer.Auto(candidates=["EMCDR"], factors=4, iterations=2, progress=True).fit(pair)
    assert "Auto" in capsys.readouterr().err


@pytest.mark.parametrize("cls", [cr.ALS, cr.MF, cr.BPR], ids=lambda c: c.__name__)
def test_show_progress_is_deprecated_but_works(cls, capsys):
    with pytest.warns(DeprecationWarning, match=r"show_progress=\.\.\.\) is deprecated.*use progress="):
        cls(factors=3, iterations=2, show_progress=True).fit(small_data())
    assert "2/2" in capsys.readouterr().err
    with pytest.warns(DeprecationWarning):
        cr.DenoisingAutoencoder(hidden=3, epochs=2, show_progress=False).fit(small_data())
    assert capsys.readouterr().err == ""
