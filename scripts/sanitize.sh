#!/usr/bin/env bash
# Builds the C++ core and its tests under ASan+UBSan, then under TSan, and runs ctest in each.
# The TSan run includes the multi-threaded rank_batch tests (group "batch").
# Usage: scripts/sanitize.sh [build-root]   (default: build/sanitize; uses at most 2 jobs)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/build/sanitize}"
jobs="${RANKER_JOBS:-2}"
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

run() {
  local name="$1" sanitizers="$2"
  local dir="$out/$name"
  echo "== $name: -fsanitize=$sanitizers"
  cmake -S "$root" -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRANKER_BUILD_TESTS=ON -DRANKER_SANITIZE="$sanitizers" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs")
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
run asan-ubsan "address,undefined"
run tsan "thread"
echo "sanitizers: all tests passed"
