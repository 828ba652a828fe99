"""The one place that coerces user input into the canonical forms the kernels take."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _core

INDEX_DTYPE = np.int32
VALUE_DTYPE = np.float32


# n_threads above this is refused as a mistake; between the thread cap (4 x the hardware threads,
# crossrec._core.thread_cap()) and this it is clamped to the cap: more threads only add stacks and
# scratch (100,000 threads crashed the process, 1,000 aborted under an 8 GB address-space limit).
MAX_N_THREADS = 1024


def check_n_threads(n_threads: Any) -> int:
    """0 means every usable core; returns the thread count the kernels will use, in
    [1, min(n_threads, 4 x hardware threads)]."""
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)):
        raise ValueError(f"n_threads must be an integer in [0, {MAX_N_THREADS}] (0 = all cores), got {n_threads!r}")
    n = int(n_threads)
    if n < 0 or n > MAX_N_THREADS:
        raise ValueError(
            f"n_threads must be in [0, {MAX_N_THREADS}] (0 = all cores; above 4 x the hardware threads it is "
            f"clamped to that), got {n}"
        )
    if n == 0:
        try:
            n = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            n = os.cpu_count() or 1
    return max(1, min(n, _core.thread_cap()))


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


FLOAT32_MAX = float(np.finfo(np.float32).max)


def as_float32(values: Any, name: str) -> np.ndarray:
    """Values as float32, refusing NaN/inf and finite values that float32 cannot hold (|x| > 3.4e38
    would silently become inf in the cast)."""
    arr = np.asarray(values)
    if arr.size and arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.size and arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            bad = np.flatnonzero(~np.isfinite(arr.ravel()))[0]
            raise ValueError(f"{name} holds NaN or infinite values (first at position {bad})")
        big = np.abs(arr) > FLOAT32_MAX
        if big.any():
            bad = np.flatnonzero(big.ravel())[0]
            raise ValueError(
                f"{name} holds {arr.ravel()[bad]!r} at position {bad}, beyond float32's range "
                f"(|x| <= {FLOAT32_MAX:.4g}); rescale the values"
            )
    elif arr.size and arr.dtype.kind in "iu" and np.abs(arr.astype(np.float64)).max() > FLOAT32_MAX:
        raise ValueError(f"{name} holds values beyond float32's range (|x| <= {FLOAT32_MAX:.4g})")
    return arr.astype(VALUE_DTYPE, copy=False)


def check_sparse_structure(matrix: Any, name: str) -> None:
    """Refuse what scipy itself would refuse (indices out of range, indptr not monotone, wrong
    lengths), before any conversion: scipy's own converters trust the structure and may read out of
    bounds on a matrix built with check=False or edited in place."""
    if getattr(matrix, "format", None) == "coo":
        row, col = np.asarray(matrix.row), np.asarray(matrix.col)
        n_rows, n_cols = matrix.shape
        if not (len(row) == len(col) == len(matrix.data)):
            raise ValueError(f"{name} is not a valid sparse matrix: row, col and data differ in length")
        if len(row) and (row.min() < 0 or row.max() >= n_rows or col.min() < 0 or col.max() >= n_cols):
            raise ValueError(f"{name} is not a valid sparse matrix: a row or column index is out of {matrix.shape}")
        return
    check = getattr(matrix, "check_format", None)
    if check is None:
        return
    try:
        check(full_check=True)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} is not a valid sparse matrix: {err}") from None


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
    check_sparse_structure(matrix, name)
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
        m.data = as_float32(m.data, f"{name}.data")
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
    return np.ascontiguousarray(as_float32(arr, name))


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
