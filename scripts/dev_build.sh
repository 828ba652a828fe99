#!/usr/bin/env bash
# Developer build: compiles crossrec._core into python/crossrec/ so that
# `PYTHONPATH=python pytest` runs against the working tree. Release wheels use `pip install .`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
BUILD=${BUILD_DIR:-build/dev}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -Dpybind11_DIR="$($PY -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v $PY)" "$@" >/dev/null
cmake --build "$BUILD" -j"${JOBS:-2}"
# replace, never overwrite in place: a running process may have the old file mapped
for so in "$BUILD"/_core*.so; do cp "$so" "python/crossrec/.$(basename "$so").tmp" && mv -f "python/crossrec/.$(basename "$so").tmp" "python/crossrec/$(basename "$so")"; done
