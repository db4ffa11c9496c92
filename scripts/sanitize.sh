#!/usr/bin/env bash
# Builds the C++ core and its tests with sanitizers and runs ctest.
#   scripts/sanitize.sh address   ASan + UBSan
#   scripts/sanitize.sh thread    TSan (includes the multi-threaded rank_batch tests, group "batch")
#   scripts/sanitize.sh           both, one after the other
# Build trees go under $RANKER_SANITIZE_DIR (default build/sanitize); at most $RANKER_JOBS (2) jobs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${RANKER_SANITIZE_DIR:-$root/build/sanitize}"
jobs="${RANKER_JOBS:-2}"
mode="${1:-all}"
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
case "$mode" in
  address) run asan-ubsan "address,undefined" ;;
  thread) run tsan "thread" ;;
  all) run asan-ubsan "address,undefined"; run tsan "thread" ;;
  *) echo "usage: $0 [address|thread|all]" >&2; exit 2 ;;
esac
echo "sanitizers ($mode): all tests passed"
