"""The one place that coerces user input into the canonical forms the kernels take."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import scipy.sparse as sp

INDEX_DTYPE = np.int32
VALUE_DTYPE = np.float32


def check_n_threads(n_threads: Any) -> int:
    """0 means every usable core; returns a positive thread count."""
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)):
        raise ValueError(f"n_threads must be an integer (0 = all cores), got {n_threads!r}")
    n = int(n_threads)
    if n < 0:
        raise ValueError(f"n_threads must be >= 0 (0 = all cores), got {n}")
    if n == 0:
        try:
            n = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            n = os.cpu_count() or 1
    return n


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(
    value: Any, name: str, minimum: float | None = None, maximum: float | None = None, strict_min: bool = False
) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None and (x < minimum or (strict_min and x == minimum)):
        op = ">" if strict_min else ">="
        raise ValueError(f"{name} must be {op} {minimum}, got {value!r}")
    if maximum is not None and x > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value!r}")
    return x


def check_choice(value: Any, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def as_csr(
    matrix: Any, name: str = "matrix", allow_negative: bool = True, copy: bool = True, dense: bool = True
) -> sp.csr_matrix:
    """The one function that makes the canonical CSR every kernel takes: float32 data, int32
    indices sorted within each row, duplicates summed, finite values.

    copy : False returns ``matrix`` itself when it already is canonical. Canonical is checked from
        the arrays (one O(nnz) pass), never read from scipy's ``has_canonical_format`` flag, which
        goes stale when someone edits ``indices`` in place (and then scipy's own sum_duplicates
        does nothing).
    dense : also accept a dense 2-D array (False: only scipy.sparse matrices).
    """
    if not sp.issparse(matrix):
        if not dense:
            raise ValueError(f"{name} must be a scipy.sparse matrix, got {type(matrix).__name__}")
        arr = np.asarray(matrix)
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {arr.shape}")
        matrix = sp.csr_matrix(arr)
    if matrix.dtype.kind not in "fiub":
        raise ValueError(f"{name} must hold numbers, got dtype {matrix.dtype}")
    if (
        not copy
        and matrix.format == "csr"
        and matrix.data.dtype == VALUE_DTYPE
        and matrix.indices.dtype == INDEX_DTYPE
        and is_canonical_csr(matrix)
    ):
        m = matrix
    else:
        m = sp.csr_matrix(matrix, copy=True)
        # scipy skips sum_duplicates / sort_indices when its flags say they are done: reset them
        m.has_sorted_indices = False
        m.has_canonical_format = False
        m.sum_duplicates()
        m.data = m.data.astype(VALUE_DTYPE, copy=False)
        m.indices = m.indices.astype(INDEX_DTYPE, copy=False)
    if m.nnz and not np.all(np.isfinite(m.data)):
        raise ValueError(f"{name} holds NaN or infinite values")
    if not allow_negative and m.nnz and m.data.min() < 0:
        raise ValueError(f"{name} holds negative values, which are not allowed here")
    if max(m.shape) >= np.iinfo(INDEX_DTYPE).max:
        raise ValueError(f"{name} has a dimension too large for int32 indices: {m.shape}")
    return m


def is_canonical_csr(m: sp.csr_matrix) -> bool:
    """True when every row's column indices are strictly increasing (sorted, no duplicates),
    checked from the arrays themselves."""
    indices, indptr = m.indices, m.indptr
    if len(indices) < 2:
        return True
    increasing = np.diff(indices.astype(np.int64)) > 0
    starts = np.asarray(indptr[1:-1], dtype=np.int64)
    starts = starts[(starts > 0) & (starts < len(indices))]
    increasing[starts - 1] = True  # a row may start below where the previous one ended
    return bool(increasing.all())


def csr_parts(m: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr int64, indices int32, data float32) views for the kernels."""
    return (
        np.ascontiguousarray(m.indptr, dtype=np.int64),
        np.ascontiguousarray(m.indices, dtype=INDEX_DTYPE),
        np.ascontiguousarray(m.data, dtype=VALUE_DTYPE),
    )


def as_factors(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {arr.shape}")
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=VALUE_DTYPE)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


def as_index_array(x: Any, name: str, bound: int | None = None) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or (bound is not None and arr.max() >= bound)):
        bad = arr[(arr < 0) | (arr >= (bound if bound is not None else np.iinfo(np.int64).max))][0]
        raise ValueError(f"{name} holds index {bad}, out of range [0, {bound})")
    return np.ascontiguousarray(arr, dtype=INDEX_DTYPE)


def check_seed(seed: Any) -> int:
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)
