#!/bin/sh
# make demo: the main job end to end, all on 127.0.0.1, in a temporary folder.
#
#   OEM: root key -> quota of 100 units for this appliance
#   CM:  tallyd starts, imports the quota, enrols 4 jigs
#   line: 4 tally-jig processes program 120 simulated DUTs in parallel,
#         so exactly 100 get tokens and 20 are refused (QUOTA_EXHAUSTED)
#   OEM: the exported log is reconciled against the quota into the OEM's
#        ledger; the OEM cosigns a receipt, the CM imports it, and the next
#        (incremental) export is verified against the ledger
#
# Ends with one line: demo: OK issued=... refused=... reconciled=... anomalies=...
# (or demo: FAILED ... and a non-zero exit).
set -u
bin=$(cd "${1:-build/release}" && pwd) || exit 2
UNITS=100
JIGS=4
DUTS_PER_JIG=30

work=$(mktemp -d /tmp/tally-demo.XXXXXX) || exit 2
tallyd_pid=""
jig_pids=""

say() { printf '%s\n' "$*"; }
fail() {
	say "demo: FAILED $*"
	exit 1
}
cleanup() {
	for p in $jig_pids; do kill "$p" 2>/dev/null; done
	if [ -n "$tallyd_pid" ] && kill -0 "$tallyd_pid" 2>/dev/null; then
		kill -TERM "$tallyd_pid" 2>/dev/null
		i=0
		while kill -0 "$tallyd_pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$tallyd_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
[ -n "${DEMO_KEEP:-}" ] && trap - EXIT
trap 'exit 1' INT TERM

umask 077
mkdir -p "$work/oem" "$work/appliance/data" "$work/pki" "$work/line" "$work/run"
ctl() { "$bin/tallyctl" -s "$work/run/control.sock" "$@"; }

say "== OEM: making the OEM root key (kept offline by the OEM)"
"$bin/tally-oem" keygen --out "$work/oem/oem-root" >/dev/null || fail "tally-oem keygen"

say "== CM: making a jig CA and $JIGS jig certificates (the CM's own PKI)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj "/O=Demo CM/CN=demo jig CA" -keyout "$work/pki/ca.key" \
	-out "$work/pki/ca.pem" 2>/dev/null || fail "jig CA"
j=1
while [ $j -le $JIGS ]; do
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/O=Demo CM/CN=line1-jig$j" -keyout "$work/pki/jig$j.key" \
		-out "$work/pki/jig$j.csr" 2>/dev/null &&
	openssl x509 -req -in "$work/pki/jig$j.csr" -CA "$work/pki/ca.pem" \
		-CAkey "$work/pki/ca.key" -CAcreateserial -days 30 \
		-out "$work/pki/jig$j.pem" 2>/dev/null || fail "jig certificate $j"
	j=$((j + 1))
done

say "== CM: starting tallyd (first start creates the appliance key)"
cat >"$work/appliance/tallyd.conf" <<EOF
[tallyd]
listen = 127.0.0.1:0
data_dir = $work/appliance/data
key = $work/appliance/appliance.key
oem_root = $work/oem/oem-root.pub
jig_ca = $work/pki/ca.pem
control_socket = $work/run/control.sock
control_group = $(id -gn)
EOF
"$bin/tallyd" -c "$work/appliance/tallyd.conf" --foreground \
	2>"$work/appliance/tallyd.log" &
tallyd_pid=$!
i=0
until ctl status >/dev/null 2>&1; do
	kill -0 "$tallyd_pid" 2>/dev/null || { cat "$work/appliance/tallyd.log"; fail "tallyd did not start"; }
	[ $i -lt 100 ] || fail "tallyd did not answer on its control socket"
	sleep 0.1
	i=$((i + 1))
done
listen=$(ctl status | sed -n 's/^jig listener: *\([^ ]*\).*/\1/p')
[ -n "$listen" ] || fail "no listen address in tallyctl status"
say "   tallyd is serving jigs on $listen"

ctl identity --out "$work/appliance/appliance.pub" >"$work/appliance/identity.txt" ||
	fail "tallyctl identity"
key_id=$(sed -n 's/^key ID: *//p' "$work/appliance/identity.txt")
[ -n "$key_id" ] || fail "no key id in tallyctl identity"
say "   appliance key ID $key_id"

say "== OEM: signing a quota of $UNITS units of product 'widget' for this appliance"
head -c 65536 /dev/urandom >"$work/line/widget-1.0.bin"
"$bin/tally-oem" quota create --key "$work/oem/oem-root.key" \
	--appliance-pub "$work/appliance/appliance.pub" --product widget \
	--units $UNITS --firmware "$work/line/widget-1.0.bin" --valid-days 30 \
	--out "$work/oem/quota.tq" >/dev/null || fail "tally-oem quota create"

say "== CM: importing the quota and enrolling $JIGS jigs"
ctl quota import "$work/oem/quota.tq" >/dev/null || fail "tallyctl quota import"
j=1
while [ $j -le $JIGS ]; do
	ctl jig enroll "$work/pki/jig$j.pem" --name "line1-jig$j" >/dev/null ||
		fail "tallyctl jig enroll jig$j"
	j=$((j + 1))
done

say "== Line: $JIGS jigs program $((JIGS * DUTS_PER_JIG)) simulated DUTs in parallel"
j=1
while [ $j -le $JIGS ]; do
	cat >"$work/line/jig$j.conf" <<EOF
[jig]
appliance = $listen
appliance_key_id = $key_id
certificate = $work/pki/jig$j.pem
key = $work/pki/jig$j.key
oem_root = $work/oem/oem-root.pub
product = widget
firmware = $work/line/widget-1.0.bin

[simulate]
duts = $DUTS_PER_JIG
uid_prefix = L1J$j
EOF
	"$bin/tally-jig" -c "$work/line/jig$j.conf" run >"$work/line/jig$j.out" \
		2>"$work/line/jig$j.err" &
	jig_pids="$jig_pids $!"
	j=$((j + 1))
done
for p in $jig_pids; do wait "$p" || true; done
jig_pids=""

issued=0
refused=0
failed=0
j=1
while [ $j -le $JIGS ]; do
	sum=$(grep '^jig: programmed=' "$work/line/jig$j.out")
	[ -n "$sum" ] || { cat "$work/line/jig$j.err"; fail "jig$j printed no summary"; }
	say "   line1-jig$j: ${sum#jig: }"
	p=$(printf '%s' "$sum" | sed 's/.*programmed=\([0-9]*\).*/\1/')
	r=$(printf '%s' "$sum" | sed 's/.*refused=\([0-9]*\).*/\1/')
	f=$(printf '%s' "$sum" | sed 's/.*failed=\([0-9]*\).*/\1/')
	issued=$((issued + p))
	refused=$((refused + r))
	failed=$((failed + f))
	j=$((j + 1))
done
exhausted=$(cat "$work"/line/jig*.out | grep -c 'QUOTA_EXHAUSTED')
say "   programmed $issued units; $refused refused ($exhausted for QUOTA_EXHAUSTED); $failed failed"
say "   sample: $(grep -h 'programmed, token' "$work"/line/jig1.out | head -1)"
say "   sample: $(grep -h 'QUOTA_EXHAUSTED' "$work"/line/jig*.out | head -1)"

say "== CM: exporting the signed log for the OEM"
ctl log export --out "$work/export.tlx" >/dev/null || fail "tallyctl log export"
say "   $(ctl checkpoint | head -3 | tr '\n' ' ')"

say "== OEM: reconciling the export against the quota, into the OEM's ledger"
mkdir -p "$work/oem/ledger"
"$bin/tally-oem" reconcile --ledger "$work/oem/ledger" --root "$work/oem/oem-root.pub" \
	--html "$work/oem/report.html" "$work/export.tlx" >"$work/reconcile.txt" 2>&1
rc=$?
sed 's/^/   /' "$work/reconcile.txt"
reconciled=$(sed -n 's/^ *tokens: *\([0-9]*\).*$/\1/p' "$work/reconcile.txt" | head -1)
anomalies=$(sed -n 's/^ *anomalies: *\([0-9]*\).*$/\1/p' "$work/reconcile.txt" | head -1)
[ -n "$reconciled" ] && [ -n "$anomalies" ] || fail "reconcile printed no report (exit $rc)"
[ "$rc" -eq 0 ] || fail "issued=$issued refused=$refused reconciled=$reconciled anomalies=$anomalies (reconcile exit $rc)"
say "   HTML report for the OEM's managers: $work/oem/report.html"

say "== OEM: cosigning the verified checkpoint as a receipt; CM imports it"
"$bin/tally-oem" receipt --key "$work/oem/oem-root.key" --ledger "$work/oem/ledger" \
	--appliance "$key_id" --out "$work/oem/receipt.txt" >/dev/null ||
	fail "tally-oem receipt"
ctl receipt import "$work/oem/receipt.txt" | sed 's/^/   /' || fail "tallyctl receipt import"

say "== CM: the next export starts at the receipt (incremental); the OEM checks it"
ctl log export --out "$work/export2.tlx" >/dev/null || fail "tallyctl log export (after the receipt)"
"$bin/tally-oem" reconcile --ledger "$work/oem/ledger" --root "$work/oem/oem-root.pub" \
	"$work/export2.tlx" >"$work/reconcile2.txt" 2>&1 ||
	{ cat "$work/reconcile2.txt"; fail "second reconcile against the ledger"; }
say "   $(grep -m1 -i 'entries' "$work/reconcile2.txt" | sed 's/^ *//'), consistent with the receipted checkpoint"

summary="issued=$issued refused=$refused reconciled=$reconciled anomalies=$anomalies"
if [ "$issued" -eq $UNITS ] && [ "$exhausted" -eq $((JIGS * DUTS_PER_JIG - UNITS)) ] &&
	[ "$refused" -eq "$exhausted" ] && [ "$failed" -eq 0 ] &&
	[ "$reconciled" -eq $UNITS ] && [ "$anomalies" -eq 0 ]; then
	say "== stopping tallyd"
	kill -TERM "$tallyd_pid" && wait "$tallyd_pid"
	tallyd_pid=""
	say "demo: OK $summary"
	exit 0
fi
fail "$summary"
