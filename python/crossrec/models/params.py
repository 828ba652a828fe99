"""Hyper-parameters as in scikit-learn: ``__init__`` stores them, ``get_params`` / ``set_params``
read and write them by the names of ``__init__``'s arguments, ``repr`` shows them."""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp


_P = TypeVar("_P", bound="Params")


class Params:
    """Mixin giving a class scikit-learn's hyper-parameter protocol."""

    @classmethod
    def param_names(cls) -> list[str]:
        """Names of the hyper-parameters: the arguments of ``__init__`` (no ``*args``/``**kwargs``)."""
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self: _P, **params: Any) -> _P:
        valid = set(self.param_names())
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(
            f"{k}={v!r}" for k, v in self.get_params().items() if not isinstance(v, (np.ndarray, sp.spmatrix))
        )
        return f"{type(self).__name__}({args})"
