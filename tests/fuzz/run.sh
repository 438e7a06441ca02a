#!/bin/sh
# Runs libFuzzer targets for a set time each (make fuzz, mk/fuzz.mk):
#   tests/fuzz/run.sh BUILD SECONDS TARGET...
# Each target BUILD/fuzz/fuzz_<target> fuzzes with BUILD/corpus/<target>
# (new inputs, created) and fixtures/fuzz/<target> (the seeds, read only);
# a crashing input goes to BUILD/crashes/<target>/, the whole output to
# BUILD/logs/<target>.log. Prints one line per target (executions, final
# coverage, corpus size, crashes) and exits 1 when any target crashed.
build=$1
secs=$2
shift 2
[ -n "$build" ] && [ -n "$secs" ] || { echo "usage: $0 BUILD SECONDS TARGET..." >&2; exit 2; }
bad=0
printf '%-12s %12s %8s %8s %8s  %s\n' target executions exec/s cov corpus result
for t in "$@"; do
	bin=$build/fuzz/fuzz_$t
	corpus=$build/corpus/$t
	crashes=$build/crashes/$t
	log=$build/logs/$t.log
	mkdir -p "$corpus" "$crashes" "$build/logs"
	"$bin" -max_total_time="$secs" -print_final_stats=1 -close_fd_mask=2 \
	    -timeout=30 -rss_limit_mb=4096 -artifact_prefix="$crashes/" \
	    "$corpus" "fixtures/fuzz/$t" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p')
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="CRASH (exit $rc): $(ls "$crashes" | tr '\n' ' ')"
		bad=1
	fi
	printf '%-12s %12s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
	    "${corp:-?}" "$result"
	[ "$rc" -eq 0 ] || grep -E 'ERROR|SUMMARY|abort|fuzz:' "$log" | head -5 | sed 's/^/    /'
done
exit $bad
