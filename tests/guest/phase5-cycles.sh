#!/bin/sh
# Phase 5, robustness cycles on device 0: RESET_CYCLES QEMU-initiated device
# resets, BIND_CYCLES unbind/bind and VF_CYCLES VF enable/disable, then a
# kmemleak scan that must find nothing new. The host fails the run on any
# WARN/BUG/lockdep/KASAN report on the console.
. /tests/lib.sh

RESET_CYCLES=${RESET_CYCLES:-100}
BIND_CYCLES=${BIND_CYCLES:-100}
VF_CYCLES=${VF_CYCLES:-50}
need_number RESET_CYCLES 0
need_number BIND_CYCLES 0
need_number VF_CYCLES 0

# Plan: 5 kmemleak checks before the cycles (the file exists, reads, takes
# "scan" - which only an enabled kmemleak does - twice, and "clear"), 2 for the
# resets, 1 for unbind/bind, 1 for the VF cycles (skipped without VFs), 3
# kmemleak checks after them (two scans taken, no leaks). Device 0 not found
# bails out.
ktap_set_plan 12

ifup_all

kmemleak=/sys/kernel/debug/kmemleak
kmemleak_do() { # command: written to kmemleak; fails as the write does
	# (a disabled kmemleak refuses "scan" with EPERM)
	echo "$1" >"$kmemleak"
}

need_pf 0
pf=$PF
d=/sys/bus/pci/devices/$pf
# Forget what boot itself left: only leaks of the cycles count. "0 leaks" means
# something only from a kmemleak that is there and enabled.
check_true "kmemleak: $kmemleak exists" test -f "$kmemleak"
check_true "kmemleak: $kmemleak reads" sh -c "cat $kmemleak >/dev/null"
check_true "kmemleak: scan before the cycles (kmemleak enabled)" kmemleak_do scan
check_true "kmemleak: second scan before the cycles" kmemleak_do scan
check_true "kmemleak: clear before the cycles" kmemleak_do clear

# Device resets: only a reset that was requested and counted is a completed one.
resets=$(dev_stat "$pf" resets)
done_resets=0
for c in $(seq 1 "$RESET_CYCLES"); do
	qom_set ice0 x-device-reset true || break
	[ "$(wait_for $((resets + c)) dev_stat "$pf" resets)" = $((resets + c)) ] || break
	done_resets=$c
done
check "device resets completed" "$RESET_CYCLES" "$done_resets"
check "ports after the resets" "$PORTS" "$(netdevs_of "$pf" | wc -l)"

ok=0
for c in $(seq 1 "$BIND_CYCLES"); do
	echo "$pf" >"/sys/bus/pci/drivers/$DRIVER/unbind" && echo "$pf" >"/sys/bus/pci/drivers/$DRIVER/bind" &&
		[ "$(netdevs_of "$pf" | wc -l)" = "$PORTS" ] && ok=$((ok + 1))
done
check "unbind/bind cycles with every port back" "$BIND_CYCLES" "$ok"

if [ "$VFS" -gt 0 ]; then
	ok=0
	for c in $(seq 1 "$VF_CYCLES"); do
		echo "$VFS" >"$d/sriov_numvfs" && [ "$(ls -d "$d"/virtfn* | wc -l)" = "$VFS" ] &&
			echo 0 >"$d/sriov_numvfs" && ok=$((ok + 1))
	done
	check "VF enable/disable cycles" "$VF_CYCLES" "$ok"
else
	skip_point "VF enable/disable cycles" "configuration has no VFs"
fi

# kmemleak reports an object only when its contents did not change between two
# scans (a new object's first scan sets its checksum): one scan finds no new leak.
check_true "kmemleak: first scan after the cycles" kmemleak_do scan
check_true "kmemleak: second scan after the cycles" kmemleak_do scan
# A report that cannot be read is not "0 leaks".
if report=$(cat "$kmemleak" 2>&1); then
	leaks=$(printf '%s\n' "$report" | grep -c '^unreferenced object')
	[ "$leaks" = 0 ] || printf '%s\n' "$report" | head -n 200 | sed 's/^/# /'
else
	leaks="an unreadable report: $report"
fi
check "kmemleak: no new leaks" 0 "$leaks"
finish
