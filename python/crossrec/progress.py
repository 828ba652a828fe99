"""Progress bars for work that can take seconds: one option name, ``progress=``, everywhere.

Every fit or job that may run for seconds (epoch loops of ALS / MF / BPR / Mult-DAE, Distill,
Auto, ``transfer.run``, ``evaluate``) takes ``progress: bool`` and shows a tqdm bar on stderr
when it is True. ``show_progress=``, the older name on the factor models and the autoencoder,
still works for now and warns (DeprecationWarning).
"""

from __future__ import annotations

import warnings
from typing import Any


class NoBar:
    """The bar when progress is off: accepts tqdm's calls and does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def bar(enabled: bool, total: int, desc: str, unit: str = "it"):
    """A tqdm bar of ``total`` steps when ``enabled``, else a :class:`NoBar`."""
    if not enabled:
        return NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)


def wants_progress(model: Any) -> bool:
    """``model.progress``, or the deprecated ``show_progress`` when that was given (with a warning)."""
    legacy = getattr(model, "show_progress", None)
    if legacy is not None:
        warnings.warn(
            f"{type(model).__name__}(show_progress=...) is deprecated and will be removed; use progress=",
            DeprecationWarning,
            stacklevel=3,
        )
        return bool(legacy)
    return bool(getattr(model, "progress", False))
