#!/usr/bin/env bash
# Builds the libFuzzer targets (clang++-14, -Dfuzz=true) in build-fuzz and runs each for a
# while, starting from a seed corpus of valid inputs (wire frames; the data layer's cache
# entries, journals and lookup key lists) written by tests/fuzz/make_seeds.cpp.
#
# usage: tools/fuzz.sh [seconds-per-target]   (default 20)
# env:   EMBER_FUZZ_BUILD  build directory (default build-fuzz, relative to the source root)
#
# Prints each target's executions and exec/s, ends with "N passed, N failed", and exits
# non-zero if any target crashed (the input is saved as <build>/fuzz-artifacts/<target>-crash-*).
set -euo pipefail

seconds=${1:-20}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [seconds-per-target]" >&2
  exit 2
fi

cd "$(dirname "$0")/.."
build=${EMBER_FUZZ_BUILD:-build-fuzz}

if ! command -v clang++-14 >/dev/null 2>&1; then
  echo "fuzz: clang++-14 not found; skipping (apt-get install clang-14 libclang-rt-14-dev)"
  exit 0
fi

# a build failure still ends with the summary line that tools/test.sh reads
if [ ! -f "$build/build.ninja" ] && ! CXX=clang++-14 meson setup "$build" -Dfuzz=true; then
  echo "0 passed, 1 failed (configure)"
  exit 1
fi
# a fuzz target added since the last configure needs one (meson.build checks which exist)
for src in tests/fuzz/fuzz_*.cpp; do
  name=$(basename "$src" .cpp)
  if ! grep -q "^build tests/fuzz/$name:" "$build/build.ninja"; then
    meson setup --reconfigure "$build" >/dev/null || { echo "0 passed, 1 failed (configure)"; exit 1; }
    break
  fi
done
if ! ninja -C "$build" -j2; then
  echo "0 passed, 1 failed (build)"
  exit 1
fi

fuzz_dir=$build/tests/fuzz
targets=()
for exe in "$fuzz_dir"/fuzz_*; do
  [ -f "$exe" ] && [ -x "$exe" ] && targets+=("$(basename "$exe")")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no targets under $fuzz_dir" >&2
  exit 1
fi

# seeds: written by make_fuzz_seeds into a corpus that persists between runs, plus any
# checked-in files under tests/fuzz/seeds/<target>/
corpus_root=$build/fuzz-corpus
"$fuzz_dir/make_fuzz_seeds" "$corpus_root"
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"

# One target for the given time; its exit status goes to <log>.status.
run_target() {
  local target=$1 corpus=$corpus_root/$1 log=$build/fuzz-logs/$1.log extra=() status=0
  mkdir -p "$corpus"
  [ -d "tests/fuzz/seeds/$target" ] && extra+=("tests/fuzz/seeds/$target")
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$fuzz_dir/$target" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -artifact_prefix="$build/fuzz-artifacts/$target-" "$corpus" "${extra[@]}" \
    >"$log" 2>&1 || status=$?
  echo "$status" >"$log.status"
}

# As many targets at once as there are cores (each fuzzer is one process on one core).
jobs=$(nproc 2>/dev/null || echo 2)
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, $jobs at a time"
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$target" &
  running=$((running + 1))
done
wait

passed=0
failed=0
for target in "${targets[@]}"; do
  log=$build/fuzz-logs/$target.log
  status=$(cat "$log.status" 2>/dev/null || echo 1)
  done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)
  if [ "$status" -eq 0 ] && [ -n "$done_line" ]; then
    read -r runs secs < <(sed -E 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1 \2/' <<<"$done_line")
    rate=$(( secs > 0 ? runs / secs : runs ))
    printf '%-28s ok      %12s execs  %9s exec/s\n' "$target" "$runs" "$rate"
    passed=$((passed + 1))
  else
    printf '%-28s FAILED  (exit %s; log %s)\n' "$target" "$status" "$log"
    grep -E 'ERROR|check failed|runtime error|Test unit written|SUMMARY' "$log" | head -n 8 | sed 's/^/    /'
    failed=$((failed + 1))
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
