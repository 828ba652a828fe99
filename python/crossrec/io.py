"""Saving and loading models without pickle: one .npz holding arrays and a JSON header.

Files are written atomically (temporary file in the same folder, then rename), read with
``allow_pickle=False``, and checked: a corrupt, truncated or foreign file raises ModelFileError.

A model is stored as its class's full name (``"crossrec.models.mf:ALS"``: module and qualified
name), its hyper-parameters (``get_params()``) and its fitted state (public attributes ending in
``_``), nested models, id maps, arrays, sparse matrices and JSON values included. Loading looks
the class up in a registry of model classes (every subclass of crossrec's model bases registers
itself when it is defined), never imports a module named by a file, and raises ModelFileError for
a class that is unknown or not a crossrec model. Files written before classes were named fully
(bare ``"ALS"``) still load when the bare name is unique among crossrec's own classes.

Per-model checks of a loaded state go in the model's ``validate_state()`` (see
:class:`crossrec.models.base.Recommender`): :func:`load` calls it after restoring every
attribute and turns a ValueError it raises into ModelFileError naming the file.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import stat
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .data import IdMap
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
    removed: list[str] = []
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
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise ValueError(f"path must be a file path (str or os.PathLike), got {type(path).__name__} {path!r}")
    path = os.fspath(path)
    header = {"format": FORMAT, "version": VERSION, **meta}
    payload = dict(arrays)
    payload[_META_KEY] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path!r}: folder {folder!r} does not exist")
    remove_stale_temporaries(folder)
    mode = _file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", suffix=_TMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)  # type: ignore[arg-type]  # numpy's stubs read a key as allow_pickle
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
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise ValueError(f"path must be a file path (str or os.PathLike), got {type(path).__name__} {path!r}")
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


# ---- the registry of model classes ------------------------------------------------------------
_REGISTRY: dict[str, type] = {}
_PACKAGE = "crossrec."


def class_key(cls: type) -> str:
    """The name a model file stores for ``cls``: ``"module:qualname"``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def register_model_class(cls: type) -> type:
    """Make ``cls`` loadable (model bases call this for every subclass). The key is the module and
    qualified name, so a user's own class named like a crossrec one does not replace it."""
    _REGISTRY[class_key(cls)] = cls
    return cls


def is_registered(value: Any) -> bool:
    """True when ``value`` is an instance of a registered model class (saved as a nested model)."""
    return _REGISTRY.get(class_key(type(value))) is type(value)


def _resolve(name: Any) -> type:
    if not isinstance(name, str) or not name:
        raise ModelFileError(f"model file names no model class (got {name!r})")
    cls = _REGISTRY.get(name)
    if cls is not None:
        return cls
    module, _, qualname = name.rpartition(":")
    if not module:
        qualname = name  # a file from before full names: the bare class name
    if not module or module.startswith(_PACKAGE):
        # crossrec's own class under an older module path (or a bare name): unique by qualname.
        own = [c for k, c in _REGISTRY.items() if k.startswith(_PACKAGE) and c.__qualname__ == qualname]
        if len(own) == 1:
            return own[0]
    raise ModelFileError(
        f"unknown model class {name!r} in model file: not a crossrec model, or a class whose module "
        "was not imported before load (import it first)"
    )


# ---- save and load ---------------------------------------------------------------------------
def save(model: Any, path: str | os.PathLike) -> None:
    """Write a registered model to ``path`` (npz + JSON header, no pickle, atomic)."""
    if not is_registered(model):
        raise ModelFileError(f"cannot save {type(model).__name__}: not a crossrec model class")
    try:
        model.validate_state()  # what load would refuse is not written
    except ModelFileError:
        raise
    except ValueError as exc:
        raise ModelFileError(f"cannot save {type(model).__name__}: {exc}") from exc
    meta, arrays = _dump(model, "")
    write_model_file(path, {"model": meta}, arrays)


def load(path: str | os.PathLike) -> Any:
    """Load a model saved with ``model.save``; raises ModelFileError for corrupt or foreign files
    and for a state its class's ``validate_state`` rejects. A model file is untrusted input: every
    stored array is checked (:mod:`crossrec.schema`) before a kernel sees it."""
    header, arrays = read_model_file(path)
    try:
        if not isinstance(header.get("model"), dict):
            raise ModelFileError(f"{os.fspath(path)!r}: the header holds no model description")
        return _restore(header["model"], arrays)
    except ModelFileError:
        raise
    except RecursionError:
        raise ModelFileError(f"{os.fspath(path)!r}: model description nested too deeply") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        raise ModelFileError(f"{os.fspath(path)!r}: model file is inconsistent: {exc}") from exc


def _encode(value: Any, key: str, arrays: dict) -> Any:
    if is_registered(value):
        meta, sub = _dump(value, key + "/")
        arrays.update(sub)
        return {"__model__": meta}
    if isinstance(value, IdMap):
        arrays[key] = ids_to_array(value.ids, value.kind)
        return {"__ids__": key, "kind": value.kind}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            arrays[key] = ids_to_array(value, key)
        else:
            arrays[key] = value
        return {"__array__": key}
    if isinstance(value, pd.DataFrame):  # numeric feature tables (e.g. CrossDomainContent's)
        if not all(pd.api.types.is_numeric_dtype(value[c]) for c in value.columns):
            raise ModelFileError(f"cannot save {key!r}: only numeric DataFrames are saved without pickle")
        arrays[key + ".values"] = value.to_numpy(dtype=np.float64)
        arrays[key + ".index"] = ids_to_array(value.index.to_numpy(), key)
        arrays[key + ".columns"] = ids_to_array(np.asarray(value.columns), key)
        return {"__frame__": key}
    if sp.issparse(value):
        m = sp.csr_matrix(value)
        arrays[key + ".indptr"], arrays[key + ".indices"], arrays[key + ".data"] = m.indptr, m.indices, m.data
        return {"__csr__": key, "shape": list(m.shape)}
    if isinstance(value, (list, tuple)):
        return {
            "__list__": [_encode(v, f"{key}.{j}", arrays) for j, v in enumerate(value)],
            "tuple": isinstance(value, tuple),
        }
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ModelFileError(f"cannot save {key}: dict keys must be strings")
        return {"__dict__": {k: _encode(v, f"{key}.{k}", arrays) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ModelFileError(f"cannot save {key!r} of type {type(value).__name__} without pickle")


def _decode(meta: Any, arrays: dict) -> Any:
    if isinstance(meta, dict):
        if "__model__" in meta:
            return _restore(meta["__model__"], arrays)
        if "__ids__" in meta:
            return IdMap(arrays[meta["__ids__"]], meta["kind"])
        if "__array__" in meta:
            return arrays[meta["__array__"]]
        if "__frame__" in meta:
            k = meta["__frame__"]
            return pd.DataFrame(arrays[k + ".values"], index=arrays[k + ".index"], columns=arrays[k + ".columns"])
        if "__csr__" in meta:
            k = meta["__csr__"]
            _check_raw_csr(k, arrays)
            return sp.csr_matrix(
                (arrays[k + ".data"], arrays[k + ".indices"], arrays[k + ".indptr"]), shape=tuple(meta["shape"])
            )
        if "__list__" in meta:
            items = [_decode(v, arrays) for v in meta["__list__"]]
            return tuple(items) if meta.get("tuple") else items
        if "__dict__" in meta:
            return {k: _decode(v, arrays) for k, v in meta["__dict__"].items()}
        raise ModelFileError(f"unknown entry in model header: {sorted(meta)}")
    return meta


def _dump(model: Any, prefix: str) -> tuple[dict, dict]:
    arrays: dict[str, np.ndarray] = {}
    # Callables (training callbacks) are run-time hooks, not model state: saved as None.
    params = {
        k: None if callable(v) and not is_registered(v) else _encode(v, f"{prefix}param.{k}", arrays)
        for k, v in model.get_params().items()
    }
    state = {}
    for k, v in vars(model).items():
        if k.endswith("_") and not k.startswith("_") and not callable(v):
            state[k] = _encode(v, f"{prefix}state.{k}", arrays)
    return {"class": class_key(type(model)), "params": params, "state": state}, arrays


def _check_raw_csr(key: str, arrays: dict) -> None:
    """The stored parts of a sparse matrix before scipy sees them: scipy would silently convert
    strings or floats to indices and drop entries past ``indptr[-1]``."""
    for part, kinds in ((".indptr", "iu"), (".indices", "iu"), (".data", "fiub")):
        if arrays[key + part].dtype.kind not in kinds:
            what = "numbers" if part == ".data" else "integer indices"
            raise ModelFileError(f"{key}{part} has dtype {arrays[key + part].dtype}; expected {what}")
    indptr, n_indices, n_data = arrays[key + ".indptr"], arrays[key + ".indices"].size, arrays[key + ".data"].size
    if indptr.ndim != 1 or indptr.size == 0 or indptr[-1] != n_indices or n_data != n_indices:
        end = indptr[-1] if indptr.ndim == 1 and indptr.size else None
        raise ModelFileError(
            f"{key}: indptr ends at {end} over {n_indices} indices and {n_data} values; expected all three equal"
        )


_STATE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*_$")


def _restore(meta: dict, arrays: dict) -> Any:
    if not isinstance(meta, dict):
        raise ModelFileError(f"model entry must be a JSON object, got {type(meta).__name__}")
    cls = _resolve(meta.get("class"))
    params, state = meta.get("params"), meta.get("state")
    if not isinstance(params, dict) or not isinstance(state, dict):
        raise ModelFileError(f"{cls.__name__}: params and state must be JSON objects")
    accepted = set(inspect.signature(cls).parameters)  # the constructor's arguments
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ModelFileError(f"{cls.__name__} has no parameter(s) {unknown}")
    bad = [k for k in state if not _STATE_NAME.match(k)]
    if bad:
        raise ModelFileError(f"{cls.__name__}: {bad[0]!r} is not a fitted attribute name (a letter first, ending in _)")
    model = cls(**{k: _decode(v, arrays) for k, v in params.items()})
    for k, v in state.items():
        setattr(model, k, _decode(v, arrays))
    model.validate_state()
    return model
