#!/bin/sh
# Runs every test binary under BUILD/tests and prints one summary line:
#   N passed, N failed
# cmocka tests report in TAP (CMOCKA_MESSAGE_OUTPUT=tap); a binary that dies
# without a plan counts as one failure.
build=${1:-build/check}
passed=0
failed=0
export CMOCKA_MESSAGE_OUTPUT=tap
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TALLY_BUILD="$build"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in $(find "$build/tests/unit" "$build/tests/integration" -type f -perm -u+x 2>/dev/null | sort); do
	name=${t#"$build"/tests/}
	timeout 600 "$t" >"$log" 2>&1
	rc=$?
	ok=$(grep -c '^ok ' "$log")
	bad=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
	if [ "$bad" -ne 0 ]; then
		echo "FAIL $name (exit $rc)"
		sed 's/^/    /' "$log" | tail -40
	else
		echo "ok   $name ($ok)"
	fi
done
# libFuzzer targets (mk/fuzz.mk, docs/fuzzing.md), built by make check into
# FUZZ_BUILD (build/check-fuzz for build/check): each replays its seed
# corpus fixtures/fuzz/<target> once and counts as one test.
fuzzdir=${FUZZ_BUILD:-$build-fuzz}/fuzz
for t in $(find "$fuzzdir" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x 2>/dev/null | sort); do
	name=${t##*/fuzz_}
	timeout 600 "$t" -runs=0 "fixtures/fuzz/$name" >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   fuzz/$name (corpus)"
	else
		failed=$((failed + 1))
		echo "FAIL fuzz/$name (exit $rc)"
		sed 's/^/    /' "$log" | tail -40
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
