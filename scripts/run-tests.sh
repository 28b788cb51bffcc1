#!/usr/bin/env bash
# Usage: scripts/run-tests.sh [--host-only | --guest-only] [--config NAME]...
#                             [--phase N]... [--full] [--list]
#
# Runs the test suite against what `make build` produced and prints one TAP
# line per check, then `N passed, N failed`; exits non-zero on any failure.
# Host checks: the exported series equal the work trees, checkpatch on every
# patch of both series (--strict for Linux), the register contract agrees in the
# spec and both headers, the pci-ice-mp qtest. Guest checks (tests/host/phases.py):
# a guest per configuration of the matrix, KUnit results from boot, the runner
# self-check, phases 1 probe, 2 events, 3 SR-IOV, 4 reset, 5 cycles, and a scan
# of the console for kernel reports. --full (or ICEMP_FULL=1) adds the long
# matrix; --config/--phase pick a part; --list shows the configurations.
# Results: build/results/results.json; console logs of failed guests are kept
# as build/results/<config>.console.log.
source "$(dirname "$0")/lib.sh"

host=1 guest=1 phase_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--host-only) guest=0 ;;
	--guest-only) host=0 ;;
	--config | --phase) need_value "$@"; phase_args+=("$1" "$2"); shift ;;
	--full) phase_args+=(--full) ;;
	--list) exec /usr/bin/python3 "$TOP/tests/host/phases.py" --list ;;
	-h | --help) usage_from_header "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done

mkdir -p "$BUILD/results"
export ICEMP_RESULTS=$BUILD/results/results.jsonl
rm -f "$ICEMP_RESULTS"
record() { /usr/bin/python3 "$TOP/tests/host/results.py" record "$@"; }

check_series_export() {
	local out
	if out=$("$TOP/scripts/export-series.sh" --check 2>&1); then
		record series "committed patches equal the work trees (format-patch)" pass
	else
		record series "committed patches equal the work trees (format-patch)" fail --why "$(tail -20 <<<"$out")"
	fi
}

check_checkpatch() { # name tree patch-dir options...
	local name=$1 tree=$2 dir=$3 patch out total
	shift 3
	for patch in $(series_patches "$dir"); do
		# /usr/bin first: checkpatch runs spdxcheck.py with the python3 on PATH (needs python3-ply).
		out=$(cd "$tree" && PATH=/usr/bin:$PATH ./scripts/checkpatch.pl "$@" "$patch" 2>&1 || true)
		total=$(grep '^total:' <<<"$out" || echo "no total line")
		if grep -Eq '^total: 0 errors, 0 warnings(, 0 checks)?,' <<<"$total"; then
			record "checkpatch-$name" "$(basename "$patch")" pass
		else
			record "checkpatch-$name" "$(basename "$patch")" fail --why "$(grep -E -A3 '^(ERROR|WARNING|CHECK)' <<<"$out" | head -30)"$'\n'"$total"
		fi
	done
}

check_qtest() {
	local bin=$QEMU_BUILD/tests/qtest/pci-ice-mp-test out status line
	if [ ! -x "$bin" ]; then
		record qtest "pci-ice-mp-test built" fail --why "$bin missing (no qtest in the QEMU series?)"
		return
	fi
	status=0
	out=$(cd "$QEMU_BUILD" && QTEST_QEMU_BINARY=./qemu-system-x86_64 timeout 600 "$bin" --tap -k 2>&1) || status=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "*" # SKIP"*) record qtest "${line#ok * }" skip --why "${line#* # SKIP}" ;;
		"ok "*) record qtest "$(sed -E 's/^ok [0-9]+ //' <<<"$line")" pass ;;
		"not ok "*) record qtest "$(sed -E 's/^not ok [0-9]+ //' <<<"$line")" fail --why "$(grep -E '^(#|\*\*)' <<<"$out" | tail -10)" ;;
		esac
	done <<<"$out"
	[ "$status" = 0 ] || record qtest "pci-ice-mp-test exit status" fail --why "exit status $status"$'\n'"$(tail -15 <<<"$out")"
}

if [ "$host" = 1 ]; then
	check_series_export
	check_checkpatch qemu "$QEMU_TREE" "$TOP/qemu-patches"
	check_checkpatch linux "$LINUX_TREE" "$TOP/linux-patches" --strict --ignore FILE_PATH_CHANGES
	if out=$("$TOP/scripts/check-contract.sh" 2>&1); then
		record contract "spec, QEMU header and Linux header agree" pass
	else
		record contract "spec, QEMU header and Linux header agree" fail --why "$out"
	fi
	check_qtest
fi
if [ "$guest" = 1 ]; then
	/usr/bin/python3 "$TOP/tests/host/phases.py" --self-check "${phase_args[@]}" || true
fi
/usr/bin/python3 "$TOP/tests/host/results.py" summary "$BUILD/results/results.json"
