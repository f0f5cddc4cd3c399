#!/usr/bin/env bash
# The whole test suite: normal build, ASan/UBSan build, a bounded fuzz run.
# FUZZ_SECONDS overrides the 30 s each fuzz target gets.
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
meson test -C build --print-errorlogs --num-processes 2 | tee build.test.log || rc=1

section "build with AddressSanitizer + UndefinedBehaviorSanitizer"
setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
section "tests under ASan/UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --num-processes 2 --no-suite slow | tee build-asan.test.log || rc=1

section "libFuzzer targets, ${FUZZ_SECONDS:-30}s each (clang)"
if command -v clang >/dev/null 2>&1; then
	[ -f build-fuzz/build.ninja ] ||
		CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false >build-fuzz.setup.log 2>&1 ||
		{ cat build-fuzz.setup.log; exit 1; }
	ninja -C build-fuzz >build-fuzz.ninja.log 2>&1 || { cat build-fuzz.ninja.log; exit 1; }
	for fuzzer in build-fuzz/tests/fuzz/fuzz_*; do
		name=${fuzzer##*/fuzz_}
		case $name in *_replay | *.p) continue ;; esac
		[ -x "$fuzzer" ] || continue
		# the fuzzer adds inputs to its corpus directory: give it a copy, keep the repo clean
		work=$(mktemp -d)
		cp -r "tests/fuzz/corpus/$name/." "$work/"
		mkdir -p build-fuzz/artifacts
		if ASAN_OPTIONS=abort_on_error=1 "$fuzzer" -max_total_time="${FUZZ_SECONDS:-30}" \
			-timeout=5 -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$name-" \
			"$work" >"build-fuzz/fuzz-$name.log" 2>&1; then
			grep -E '^(Done|stat::number_of_executed_units)' "build-fuzz/fuzz-$name.log" || true
		else
			echo "fuzz_$name FOUND A CRASH (input in build-fuzz/artifacts/):"
			tail -40 "build-fuzz/fuzz-$name.log"
			rc=1
		fi
		rm -rf "$work"
	done
else
	echo "clang not installed: fuzzing skipped"
fi

# the closing tally of both test runs, in the plain form CI reads
count() { awk -v k="$1" '$1 == k ":" { n += $2 } END { print n + 0 }' build.test.log build-asan.test.log; }
passed=$(count Ok)
failed=$(( $(count Fail) + $(count Timeout) ))
skipped=$(count Skipped)
echo
if [ $rc -eq 0 ]; then echo "ALL TEST SUITES PASSED"; else echo "SOME TESTS FAILED"; fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $rc
