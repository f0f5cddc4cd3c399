#!/usr/bin/env bash
# The whole test suite: normal build, ASan/UBSan build, a bounded fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."
rc=0

section() { echo; echo "==== $*"; }

setup() { # dir, options...
	local dir=$1; shift
	[ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log"; exit 1; }
	ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { cat "$dir.ninja.log"; exit 1; }
}

section "build (debugoptimized, -Werror)"
setup build
section "unit and integration tests"
meson test -C build --print-errorlogs --num-processes 2 || rc=1

section "build with AddressSanitizer + UndefinedBehaviorSanitizer"
setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
section "tests under ASan/UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --num-processes 2 --no-suite slow || rc=1

echo
if [ $rc -eq 0 ]; then echo "ALL TEST SUITES PASSED"; else echo "SOME TESTS FAILED"; fi
exit $rc
