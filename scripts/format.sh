#!/usr/bin/env bash
# Format the tree the way CI checks it: ruff format for Python, clang-format (.clang-format) for C++.
# `scripts/format.sh --check` only reports, as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
CPP=$(git ls-files 'cpp/*.cpp' 'cpp/*.hpp')
if [[ "${1:-}" == "--check" ]]; then
  ruff format --check python tests benchmarks
  # shellcheck disable=SC2086
  clang-format --dry-run -Werror $CPP
else
  ruff format python tests benchmarks
  # shellcheck disable=SC2086
  clang-format -i $CPP
fi
