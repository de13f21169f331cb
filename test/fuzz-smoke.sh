#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time ($1, default 5s).
# `go test -fuzz` accepts one target in one package per run, so list them.
set -euo pipefail
fuzztime="${1:-5s}"
cd "$(dirname "$0")/.."
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . | sort | while read -r file; do
  pkg="./$(dirname "${file#./}")"
  grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //' | while read -r target; do
    echo "fuzz ${pkg} ${target} (${fuzztime})"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="${fuzztime}" "${pkg}" >/tmp/fuzz-$$.log 2>&1 || {
      cat /tmp/fuzz-$$.log; exit 1; }
  done
done
