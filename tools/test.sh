#!/usr/bin/env bash
# Builds ember and runs every test: the Meson suites (unit, loopback, multi-process, the
# example, the consumer project), then each fuzz target for a short bounded time.
# Ends with a line "N passed, N failed".
#   EMBER_BUILD=dir         build directory (default: build)
#   EMBER_MESON_ARGS="..."  extra `meson setup` arguments (e.g. -Db_sanitize=address,undefined)
#   EMBER_CPP_ARGS="..."    extra compiler flags, space-separated (meson's cpp_args)
#   EMBER_FUZZ_SECONDS=N    seconds per fuzz target (default 20; 0 skips fuzzing)
#   EMBER_TEST_ARGS="..."   extra `meson test` arguments (e.g. --no-suite consumer)
#   EMBER_NO_BUILD=1        build nothing before the tests: for suites that run the compiler
#                           themselves (CI's compiler checks: --suite headers --suite consumer)
#   EMBER_BUILD_ONLY=1      configure and build, run nothing
#   EMBER_TEST_PROCESSES=N  tests run at once (default: twice the cores, since most tests wait
#                           on sockets and child processes; BENCHMARKS.md, "CI's wall time")
set -uo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh || exit 1
build=${EMBER_BUILD:-build}
if [ ! -f "$build/build.ninja" ]; then
  cpp_args=()
  [ -n "${EMBER_CPP_ARGS:-}" ] && cpp_args=("-Dcpp_args=$EMBER_CPP_ARGS")
  # shellcheck disable=SC2086
  meson setup "$build" ${EMBER_MESON_ARGS:-} "${cpp_args[@]}" || exit 1
fi
no_rebuild=()
if [ "${EMBER_NO_BUILD:-0}" = 1 ]; then
  no_rebuild=(--no-rebuild)
else
  build_start=$(date +%s)
  ninja -C "$build" || { echo "0 passed, 1 failed (build)"; exit 1; }
  echo "test.sh: build took $(( $(date +%s) - build_start )) s"
fi
[ "${EMBER_BUILD_ONLY:-0}" = 1 ] && exit 0
processes=${EMBER_TEST_PROCESSES:-$(( $(nproc) * 2 ))}
# shellcheck disable=SC2086
meson test -C "$build" --print-errorlogs --num-processes "$processes" "${no_rebuild[@]}" ${EMBER_TEST_ARGS:-}
passed=$(/usr/bin/python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["result"] in ("OK","EXPECTEDFAIL")))' "$build/meson-logs/testlog.json")
failed=$(/usr/bin/python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["result"] not in ("OK","EXPECTEDFAIL","SKIP")))' "$build/meson-logs/testlog.json")
fuzz_seconds=${EMBER_FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" != 0 ] && [ -x tools/fuzz.sh ]; then
  # The fuzzers' report goes to our standard output as it comes (not through /dev/stderr,
  # which reopens a redirected log file and truncates it); its last line is the summary.
  fuzz_log=$build/fuzz-summary.log
  tools/fuzz.sh "$fuzz_seconds" 2>&1 | tee "$fuzz_log"
  fuzz_out=$(tail -n 1 "$fuzz_log")
  if [[ $fuzz_out =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
  fi
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
