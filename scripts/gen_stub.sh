#!/usr/bin/env bash
# Regenerates python/crossrec/_core.pyi from the built extension (after scripts/dev_build.sh).
# CI checks the stub against the runtime module with `python -m mypy.stubtest crossrec._core`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=$(mktemp -d)
PYTHONPATH=python $PY -m pybind11_stubgen crossrec._core -o "$OUT" >/dev/null
# pybind11 modules have no __all__ at run time; keep the stub honest about that.
grep -v '^__all__' "$OUT/crossrec/_core.pyi" > python/crossrec/_core.pyi
rm -rf "$OUT"
echo "wrote python/crossrec/_core.pyi"
