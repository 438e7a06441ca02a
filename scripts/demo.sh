#!/bin/sh
# make demo: the main job end to end, all on 127.0.0.1, in a temporary folder.
#
#   OEM: root key -> quota of 100 units for this appliance that requires the
#        DUTs' attestation by the chip maker's attestation key
#   CM:  tallyd starts, imports the quota, enrols 4 jigs
#   line: 4 tally-jig processes, each on its own simulated USB bus
#         (tally-dutsim: umockdev, 30 DUTs, 2 on the bus at a time), program
#         120 DUTs in parallel through libusb: each DUT proves it is genuine
#         (attestation over a fresh challenge), gets its token bundle, checks
#         it and takes the firmware over DFU. Exactly 100 get tokens and 20
#         are refused (QUOTA_EXHAUSTED). Before the line, one cloned chip
#         presenting a genuine DUT's UID with its own key is refused
#         (ATTESTATION_FAILED) and spends nothing; it is shown on its own and
#         not counted in the final line.
#   OEM: the exported log is reconciled against the quota into the OEM's
#        ledger; the OEM cosigns a receipt, the CM imports it, and the next
#        (incremental) export is verified against the ledger
#
# Ends with one line: demo: OK issued=... refused=... reconciled=... anomalies=...
# (issued/refused: the 4 jigs' summaries; or demo: FAILED ... and a
# non-zero exit).
set -u
bin=$(cd "${1:-build/release}" && pwd) || exit 2
UNITS=100
JIGS=4
DUTS_PER_JIG=30
SLOTS=2

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
mkdir -p "$work/oem" "$work/appliance/data" "$work/pki" "$work/line" "$work/run" "$work/chips"
ctl() { "$bin/tallyctl" -s "$work/run/control.sock" "$@"; }

say "== OEM: making the OEM root key (kept offline by the OEM)"
"$bin/tally-oem" keygen --out "$work/oem/oem-root" >/dev/null || fail "tally-oem keygen"

say "== chip maker: an attestation key pair for the DUTs (the public half goes to the OEM)"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	-out "$work/chips/attestation.key" 2>/dev/null &&
openssl pkey -in "$work/chips/attestation.key" -pubout \
	-out "$work/chips/attestation.pub" 2>/dev/null || fail "DUT attestation key"

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

say "== OEM: signing a quota of $UNITS units of product 'widget' for this appliance,"
say "   requiring every DUT's attestation by the chip maker's key"
head -c 65536 /dev/urandom >"$work/line/widget-1.0.bin"
"$bin/tally-oem" quota create --key "$work/oem/oem-root.key" \
	--appliance-pub "$work/appliance/appliance.pub" --product widget \
	--units $UNITS --firmware "$work/line/widget-1.0.bin" --valid-days 30 \
	--attestation-key "$work/chips/attestation.pub" \
	--out "$work/oem/quota.tq" >"$work/oem/quota.txt" || fail "tally-oem quota create"
grep -q '^attestation required' "$work/oem/quota.txt" || fail "the quota does not require attestation"
say "   $(grep '^attestation required' "$work/oem/quota.txt")"

say "== CM: importing the quota and enrolling $JIGS jigs"
ctl quota import "$work/oem/quota.tq" >/dev/null || fail "tallyctl quota import"
j=1
while [ $j -le $JIGS ]; do
	ctl jig enroll "$work/pki/jig$j.pem" --name "line1-jig$j" >/dev/null ||
		fail "tallyctl jig enroll jig$j"
	j=$((j + 1))
done

# One tally-dutsim (its own umockdev USB bus) per jig, with tally-jig as its
# COMMAND; DUT faults as extra arguments. Output (the jig's lines, then one
# line per DUT) in $work/line/NAME.out.
dutsim() {
	name=$1 conf=$2 prefix=$3 count=$4 cmd=$5
	shift 5
	"$bin/tally-dutsim" --oem-root "$work/oem/oem-root.pub" --product widget \
		--uid-prefix "$prefix" --count "$count" --slots $SLOTS \
		--attestation-key "$work/chips/attestation.key" --dut-timeout 30 "$@" \
		-- "$bin/tally-jig" -c "$conf" "$cmd" \
		>"$work/line/$name.out" 2>"$work/line/$name.err"
}

j=1
while [ $j -le $JIGS ]; do
	cat >"$work/line/jig$j.conf" <<EOF
[jig]
appliance = $listen
appliance_key_id = $key_id
certificate = $work/pki/jig$j.pem
key = $work/pki/jig$j.key
product = widget
firmware = $work/line/widget-1.0.bin

[usb]
slots = $SLOTS
transfer_timeout_ms = 2000
EOF
	j=$((j + 1))
done

say "== Line: a cloned chip shows up first, presenting DUT L1J1-0001's UID with its own key"
dutsim clone "$work/line/jig1.conf" CLONE 1 once --fault 1:clone=L1J1-0001
grep -q '^unit L1J1-0001: refused: ATTESTATION_FAILED' "$work/line/clone.out" ||
	{ cat "$work/line/clone.out" "$work/line/clone.err"; fail "the cloned chip was not refused"; }
say "   jig:  $(grep -h '^unit ' "$work/line/clone.out")"
say "   chip: $(grep -h '^CLONE-0001:' "$work/line/clone.out")"
spent=$(ctl quota list | awk 'NR == 2 { print $4 }')
[ "$spent" = 0 ] || fail "the refused clone spent a unit (issued=$spent)"
say "   nothing spent: 0 of $UNITS units issued; the refusal is in the log (attestation_failed)"

say "== Line: $JIGS jigs, each on its own simulated USB bus (umockdev), program"
say "   $((JIGS * DUTS_PER_JIG)) DUTs through libusb, $SLOTS at a time per jig"
j=1
while [ $j -le $JIGS ]; do
	dutsim "jig$j" "$work/line/jig$j.conf" "L1J$j" $DUTS_PER_JIG run &
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
sample=$(grep -h 'programmed, token' "$work"/line/jig1.out | head -1)
say "   sample: $sample"
uid=$(printf '%s' "$sample" | sed 's/^unit \([^:]*\):.*/\1/')
say "   the same DUT on its USB bus: $(grep -h "^$uid:" "$work"/line/jig1.out)"
say "   sample: $(grep -h 'QUOTA_EXHAUSTED' "$work"/line/jig*.out | head -1)"
usb=$(cat "$work"/line/jig*.out | grep -c '^L1J[0-9]*-[0-9]*: PROGRAMMED bundle=OK dfu=OK ')
say "   $usb DUTs report PROGRAMMED on their USB bus"
[ "$usb" -eq "$issued" ] || fail "$usb DUTs PROGRAMMED on USB, but the jigs say $issued"

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
