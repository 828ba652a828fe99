"""Declared shapes, dtypes and ranges of a fitted model's state, and the one checker of them.

A model file is untrusted input: a file with a valid checksum can still hold a sparse index out of
range, a non-monotone ``indptr``, a factor matrix of the wrong width or a NaN, and the kernels
assume valid input (an index out of range corrupts memory). So each model class declares what its
fitted state looks like, as a class attribute::

    state_schema = {
        "user_factors_": Array(("users", "factors"), "float32"),
        "item_factors_": Array(("items", "factors"), "float32"),
        "neighbors_":    Csr(("items", "items"), nullable=True),
        "popularity_order_": Array(("items",), "int32", index_of="items"),
        "global_mean_":  Scalar(float),
    }

and :func:`check_state` checks a loaded model against it: every declared attribute is present
(unless ``optional``) and no undeclared one is; dense arrays have the declared dtype and shape;
CSR matrices are structurally valid (index dtypes, ``indptr`` starting at 0, monotone, ending at
``nnz``, column indices in range) with the declared shape; float values are finite unless
declared otherwise; index arrays point inside the dimension they index. Dimensions are named:
``"users"`` and ``"items"`` are the id maps' sizes, any other name (``"factors"``) is bound by the
first array that uses it and must agree everywhere after. :func:`check_params` checks the
hyper-parameters stored with the state against the constructor's type annotations.

Errors are ``ValueError`` naming the attribute, what it holds and what is allowed; the loader
turns them into :class:`crossrec.ModelFileError` naming the file.
"""

from __future__ import annotations

import collections.abc
import inspect
import numbers
import typing
from typing import Any, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp

from .data import IdMap
from .io import is_registered

Dim = Union[int, str, None, tuple]


class Spec:
    """Base of the state declarations. ``nullable``: the attribute may be None; ``optional``: it
    may be absent (e.g. computed on first use)."""

    def __init__(self, *, nullable: bool = False, optional: bool = False):
        self.nullable = nullable
        self.optional = optional

    def check(self, name: str, value: Any, dims: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def _bind(name: str, axis: int, size: int, dim: Dim, dims: dict) -> None:
    """Check one axis against its declared dimension, binding free dimension names."""
    if dim is None:
        return
    options = dim if isinstance(dim, tuple) else (dim,)
    for option in options:
        if isinstance(option, int) and size == option:
            return
        if isinstance(option, str):
            if option not in dims:
                dims[option] = (size, name)
                return
            if dims[option][0] == size:
                return
    want = " or ".join(
        f"{o!r} = {dims[o][0]} (from {dims[o][1]})" if isinstance(o, str) and o in dims else repr(o) for o in options
    )
    raise ValueError(f"{name} has {size} along axis {axis}; expected {want}")


def _check_shape(name: str, shape: tuple, declared: Sequence[Dim], dims: dict) -> None:
    if len(shape) != len(declared):
        raise ValueError(f"{name} has {len(shape)} dimensions (shape {shape}); expected {len(declared)}")
    for axis, (size, dim) in enumerate(zip(shape, declared)):
        _bind(name, axis, int(size), dim, dims)


def _check_dtype(name: str, dtype: np.dtype, allowed: Union[str, Sequence[str]]) -> None:
    options = (allowed,) if isinstance(allowed, str) else tuple(allowed)
    for option in options:
        if len(option) == 1 and dtype.kind == option:  # a dtype kind: "U", "i", "f"
            return
        if len(option) > 1 and dtype == np.dtype(option):
            return
    raise ValueError(f"{name} has dtype {dtype}; expected {' or '.join(options)}")


def _check_values(name: str, values: np.ndarray, finite: bool, index_of: Optional[str], dims: dict, low=None):
    if finite and values.dtype.kind in "fc" and values.size and not np.all(np.isfinite(values)):
        bad = values.ravel()[~np.isfinite(values.ravel())][0]
        raise ValueError(f"{name} holds a non-finite value ({bad}); expected finite numbers")
    if index_of is not None and values.size:
        bound = dims[index_of][0]
        lo = 0 if low is None else low
        vmin, vmax = int(values.min()), int(values.max())
        if vmin < lo or vmax >= bound:
            bad = vmin if vmin < lo else vmax
            raise ValueError(f"{name} holds index {bad}, outside [{lo}, {bound}) (the {index_of})")


class Array(Spec):
    """A dense numpy array: declared shape (names, ints, None for any, a tuple for alternatives),
    dtype (a full name like ``"float32"`` or a kind like ``"U"``; a list for alternatives),
    ``finite`` floats, and ``index_of``: values are indices into that dimension (``low=-1``
    allows -1 as "none")."""

    def __init__(
        self,
        shape: Sequence[Dim],
        dtype: Union[str, Sequence[str]],
        *,
        finite: bool = True,
        index_of: Optional[str] = None,
        low: Optional[int] = None,
        **kw,
    ):
        super().__init__(**kw)
        self.shape, self.dtype, self.finite, self.index_of, self.low = tuple(shape), dtype, finite, index_of, low

    def check(self, name, value, dims):
        if not isinstance(value, np.ndarray):
            raise ValueError(f"{name} is a {type(value).__name__}; expected a numpy array")
        _check_dtype(name, value.dtype, self.dtype)
        _check_shape(name, value.shape, self.shape, dims)
        if self.index_of is not None and self.index_of not in dims:
            raise ValueError(f"{name}: dimension {self.index_of!r} is unknown")  # pragma: no cover - schema bug
        _check_values(name, value, self.finite, self.index_of, dims, self.low)


def check_csr_structure(name: str, m: Any) -> None:
    """A CSR matrix whose arrays a kernel can trust: integer index arrays, indptr of length
    n_rows + 1 from 0 to nnz, monotone, column indices in [0, n_cols)."""
    if not isinstance(m, sp.csr_matrix):
        raise ValueError(f"{name} is a {type(m).__name__}; expected a scipy.sparse CSR matrix")
    n_rows, n_cols = m.shape
    indptr, indices = m.indptr, m.indices
    for part, arr in (("indptr", indptr), ("indices", indices)):
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise ValueError(f"{name}.{part} must be a 1-D integer array, got {arr.dtype} of shape {arr.shape}")
    if len(indptr) != n_rows + 1:
        raise ValueError(f"{name}.indptr has {len(indptr)} entries; expected n_rows + 1 = {n_rows + 1}")
    if indptr[0] != 0 or indptr[-1] != len(indices) or len(m.data) != len(indices):
        raise ValueError(
            f"{name}: indptr runs from {indptr[0]} to {indptr[-1]} over {len(indices)} indices and "
            f"{len(m.data)} values; expected 0 to nnz with one value per index"
        )
    if n_rows and np.any(np.diff(indptr) < 0):
        row = int(np.argmax(np.diff(indptr) < 0))
        raise ValueError(f"{name}.indptr decreases at row {row}; it must be non-decreasing")
    if len(indices) and (indices.min() < 0 or indices.max() >= n_cols):
        bad = int(indices.min()) if indices.min() < 0 else int(indices.max())
        raise ValueError(f"{name} holds column index {bad}, outside [0, {n_cols})")


class Csr(Spec):
    """A scipy CSR matrix of the declared shape, value dtype, finite values and valid structure;
    ``canonical``: sorted indices without duplicates (what the kernels were given in fit)."""

    def __init__(
        self, shape: Sequence[Dim], dtype: Union[str, Sequence[str]] = "float32", *, finite: bool = True, **kw
    ):
        super().__init__(**kw)
        self.shape, self.dtype, self.finite = tuple(shape), dtype, finite

    def check(self, name, value, dims):
        check_csr_structure(name, value)
        _check_shape(name, value.shape, self.shape, dims)
        _check_dtype(name, value.dtype, self.dtype)
        _check_values(name, value.data, self.finite, None, dims)
        # scipy's has_canonical_format flag is not evidence (a file could not set it, but a stale
        # flag is trusted by scipy): look at the indices themselves
        indices, indptr = value.indices, value.indptr
        if len(indices) > 1:
            increasing = np.diff(indices) > 0
            boundaries = indptr[1:-1]
            increasing[boundaries[(boundaries > 0) & (boundaries < len(indices))] - 1] = True
            if not increasing.all():
                pos = int(np.argmin(increasing)) + 1
                row = int(np.searchsorted(indptr, pos, side="right")) - 1
                raise ValueError(f"{name} has unsorted or repeated column indices in row {row}")
        value.has_canonical_format = True


class Scalar(Spec):
    """A JSON scalar of one of ``types`` (bool is not an int here), finite when a float; optionally
    one of ``choices`` or at least ``minimum``."""

    def __init__(self, *types: type, choices: Optional[Sequence] = None, minimum: Optional[float] = None, **kw):
        super().__init__(**kw)
        self.types, self.choices, self.minimum = types, choices, minimum

    def check(self, name, value, dims):
        if not _is_instance(value, self.types):
            names = " or ".join(t.__name__ for t in self.types)
            raise ValueError(f"{name} is {value!r} ({type(value).__name__}); expected {names}")
        if isinstance(value, float) and not np.isfinite(value):
            raise ValueError(f"{name} is {value!r}; expected a finite number")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{name} is {value!r}; expected one of {list(self.choices)}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{name} is {value!r}; expected >= {self.minimum}")


class IdMapSpec(Spec):
    """An :class:`crossrec.IdMap`; its length names the dimension ``dim``."""

    def __init__(self, dim: str, **kw):
        super().__init__(**kw)
        self.dim = dim

    def check(self, name, value, dims):
        if not isinstance(value, IdMap):
            raise ValueError(f"{name} is a {type(value).__name__}; expected an id map")
        _check_dtype(f"{name} ids", value.ids.dtype, ("i", "u", "f", "U", "S", "b", "O"))  # O: in memory only
        _bind(name, 0, len(value), self.dim, dims)


class ModelList(Spec):
    """A list of fitted crossrec models (each checked by its own schema when it was restored),
    of length ``length`` (a dimension name)."""

    def __init__(self, length: Dim = None, **kw):
        super().__init__(**kw)
        self.length = length

    def check(self, name, value, dims):
        if not isinstance(value, list) or not all(is_registered(v) for v in value):
            raise ValueError(f"{name} must be a list of crossrec models, got {type(value).__name__}")
        _bind(name, 0, len(value), self.length, dims)


class ListOf(Spec):
    """A list of ``length`` items, each checked against ``item``."""

    def __init__(self, item: Spec, length: Dim = None, **kw):
        super().__init__(**kw)
        self.item, self.length = item, length

    def check(self, name, value, dims):
        if not isinstance(value, list):
            raise ValueError(f"{name} is a {type(value).__name__}; expected a list")
        _bind(name, 0, len(value), self.length, dims)
        for k, v in enumerate(value):
            self.item.check(f"{name}[{k}]", v, dims)


class Model(Spec):
    """One crossrec model (checked by its own schema when it was restored); ``users`` / ``items``:
    the dimensions its id spaces must match (e.g. a delegate scoring the parent's users)."""

    def __init__(self, users: Dim = None, items: Dim = None, **kw):
        super().__init__(**kw)
        self.users, self.items = users, items

    def check(self, name, value, dims):
        if not is_registered(value):
            raise ValueError(f"{name} is a {type(value).__name__}; expected a crossrec model")
        if (self.users is not None or self.items is not None) and not value.is_fitted:
            raise ValueError(f"{name} is not fitted; expected a fitted model")
        if self.users is not None:
            _bind(f"{name} users", 0, value.n_users_, self.users, dims)
        if self.items is not None:
            _bind(f"{name} items", 0, value.n_items_, self.items, dims)


class Json(Spec):
    """No constraint beyond being present (JSON values such as a reason string or a trial log)."""

    def check(self, name, value, dims):
        return None


def fitted_attributes(model: Any) -> dict[str, Any]:
    """The fitted state of a model: public attributes ending in ``_`` (what save writes)."""
    return {k: v for k, v in vars(model).items() if k.endswith("_") and not k.startswith("_") and not callable(v)}


#: The state every fitted Recommender has.
BASE_SCHEMA: dict[str, Spec] = {
    "user_map_": IdMapSpec("users"),
    "item_map_": IdMapSpec("items"),
    "seen_": Csr(("users", "items")),
    # unknown="fallback" (optional: files from before it, and models assembled without fit)
    "fallback_mean_": Scalar(float, optional=True),
    "fallback_user_bias_": Array(("users",), "float32", optional=True),
    "fallback_item_bias_": Array(("items",), "float32", optional=True),
    "item_popularity_": Array(("items",), "float32", optional=True),
}


def check_state(model: Any, schema: dict[str, Spec]) -> None:
    """Check ``model``'s fitted attributes against ``schema`` (see the module docstring); raises
    ValueError naming the first attribute that does not fit."""
    state = fitted_attributes(model)
    cls = type(model).__name__
    unknown = sorted(set(state) - set(schema))
    if unknown:
        raise ValueError(f"{cls}: unexpected fitted attribute(s) {unknown}; a {cls} has {sorted(schema)}")
    dims: dict = {}
    # id maps first: they name the dimensions every other attribute is checked against
    order = sorted(schema, key=lambda k: not isinstance(schema[k], IdMapSpec))
    for name in order:
        spec = schema[name]
        if name not in state:
            if spec.optional:
                continue
            raise ValueError(f"{cls}: fitted attribute {name} is missing")
        value = state[name]
        if value is None:
            if spec.nullable:
                continue
            raise ValueError(f"{cls}.{name} is None; expected a value")
        spec.check(f"{cls}.{name}", value, dims)


def check_generic_state(model: Any) -> None:
    """What can be checked of a model that declares no schema: the id maps and ``seen_``, every
    sparse matrix structurally valid, every float array finite, nested models of crossrec."""
    state = fitted_attributes(model)
    cls = type(model).__name__
    dims: dict = {}
    for name in ("user_map_", "item_map_", "seen_"):
        if name not in state:
            raise ValueError(f"{cls}: fitted attribute {name} is missing")
        BASE_SCHEMA[name].check(f"{cls}.{name}", state[name], dims)
    for name, value in state.items():
        if sp.issparse(value):
            check_csr_structure(f"{cls}.{name}", value)
            value = value.data
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise ValueError(f"{cls}.{name} holds non-finite values; expected finite numbers")


# ---- hyper-parameters --------------------------------------------------------------------------
def _is_instance(value: Any, types: Sequence) -> bool:
    for t in types:
        if t is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
            return True
        if t is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return True
        if t not in (float, int) and isinstance(value, t):
            return True
    return False


def _matches(value: Any, annotation: Any) -> bool:
    """Whether ``value`` fits a constructor annotation (the common typing forms; anything else is
    accepted, since an unknown form cannot be judged)."""
    if annotation is Any or annotation is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Union or (origin is not None and type(annotation).__name__ == "UnionType"):
        return any(_matches(value, a) for a in args)
    if annotation is type(None):
        return value is None
    if origin is collections.abc.Callable or annotation is collections.abc.Callable:
        return value is None or callable(value)
    if origin in (list, tuple, collections.abc.Sequence) or annotation in (list, tuple, Sequence):
        if not isinstance(value, (list, tuple)) or isinstance(value, str):
            return False
        # Sequence[X] / list[X]: every element an X (tuple[...] of fixed types is left unchecked)
        if len(args) == 1 and origin is not tuple:
            return all(_matches(v, args[0]) for v in value)
        return True
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    if annotation in (int, float, bool, str):
        if annotation is bool:
            return isinstance(value, (bool, np.bool_))
        return _is_instance(value, (annotation,))
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def check_params(model: Any) -> None:
    """Check the hyper-parameters of a loaded model against its constructor's annotations; raises
    ValueError naming the parameter, its value and the annotated type."""
    cls = type(model)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - annotations this Python cannot evaluate: nothing to check
        return
    for name in model.get_params():
        if name in hints and not _matches(getattr(model, name), hints[name]):
            value = getattr(model, name)
            raise ValueError(
                f"{cls.__name__} parameter {name}={value!r} ({type(value).__name__}) does not fit its type {hints[name]}"
            )
