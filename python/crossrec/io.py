"""Saving and loading models without pickle: one .npz holding arrays and a JSON header.

Files are written atomically (temporary file in the same folder, then rename), read with
``allow_pickle=False``, and checked: a corrupt, truncated or foreign file raises ModelFileError.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from typing import Any

import numpy as np

from .errors import ModelFileError

FORMAT = "crossrec-model"
VERSION = 1
_META_KEY = "__crossrec_meta__"


def ids_to_array(ids: np.ndarray, what: str) -> np.ndarray:
    """External ids as an array numpy can store without pickle."""
    ids = np.asarray(ids)
    if ids.dtype.kind in "iufUSb":
        return ids
    values = list(ids)
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=str)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    raise ModelFileError(
        f"{what} ids of mixed or non-scalar types cannot be saved without pickle; map them to strings or integers first"
    )


_TMP_PREFIX = ".crossrec-"
_TMP_SUFFIX = ".tmp"
_STALE_SECONDS = 3600  # a temporary file of unknown owner this old is left over from a killed save


def _umask() -> int:
    """The process umask, read without changing it (os.umask sets it, which races with threads)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - not Linux
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


def _file_mode(path: str) -> int:
    """Permissions for the saved file: an existing file's are kept, a new file follows the umask
    (as ``open(path, "w")`` would); mkstemp's 0600 is only for the temporary file."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(folder: str) -> list[str]:
    """Delete temporary files that killed saves left in ``folder``: those whose writing process is
    gone (the pid is in the name), and unnamed-owner ones older than an hour. Returns their names."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        if not (name.startswith(_TMP_PREFIX) and name.endswith(_TMP_SUFFIX)):
            continue
        full = os.path.join(folder, name)
        owner = name[len(_TMP_PREFIX) :].split("-", 1)[0]
        try:
            if owner.isdigit():
                stale = int(owner) != os.getpid() and not _pid_alive(int(owner))
            else:
                stale = now - os.stat(full).st_mtime > _STALE_SECONDS
            if stale:
                os.unlink(full)
                removed.append(name)
        except OSError:  # raced with another cleaner, or not ours to delete
            continue
    return removed


def write_model_file(path: str | os.PathLike, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Atomically write arrays plus a JSON header to ``path``.

    The data go to a temporary file in the same folder, which replaces ``path`` once complete, so
    a crash or kill never leaves a half-written model; temporaries of earlier killed saves are
    removed. The file's permissions are those an ordinary write gives (umask; an existing file's
    mode is kept)."""
    path = os.fspath(path)
    header = {"format": FORMAT, "version": VERSION, **meta}
    payload = dict(arrays)
    payload[_META_KEY] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temporaries(folder)
    mode = _file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", suffix=_TMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_model_file(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read and check a model file; returns (header, arrays)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except MemoryError:
        raise
    except Exception as exc:  # zipfile/zlib/numpy raise many kinds (NotImplementedError, struct.error, ...)
        raise ModelFileError(f"{path!r} is not a readable crossrec model file (corrupt or truncated): {exc}") from exc
    if _META_KEY not in arrays:
        raise ModelFileError(f"{path!r} is not a crossrec model file (no header)")
    try:
        header = json.loads(arrays.pop(_META_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path!r}: corrupt model header: {exc}") from exc
    except RecursionError:
        raise ModelFileError(f"{path!r}: model header nested too deeply to be a crossrec model") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(
            f"{path!r} is not a crossrec model file (format {header.get('format')!r})"
            if isinstance(header, dict)
            else f"{path!r}: corrupt model header"
        )
    if header.get("version") != VERSION:
        raise ModelFileError(
            f"{path!r}: unsupported model file version {header.get('version')!r} "
            f"(this crossrec reads version {VERSION})"
        )
    return header, arrays


def jsonable(value: Any) -> Any:
    """Hyper-parameters as JSON values (numpy scalars to Python)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value
