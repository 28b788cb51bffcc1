#!/bin/sh
# Phase 5, robustness cycles on device 0: RESET_CYCLES QEMU-initiated device
# resets, BIND_CYCLES unbind/bind and VF_CYCLES VF enable/disable, then a
# kmemleak scan that must find nothing new. The host fails the run on any
# WARN/BUG/lockdep/KASAN report on the console.
. /tests/lib.sh
ifup_all

RESET_CYCLES=${RESET_CYCLES:-100}
BIND_CYCLES=${BIND_CYCLES:-100}
VF_CYCLES=${VF_CYCLES:-50}
kmemleak=/sys/kernel/debug/kmemleak

pf=$(pf_of 0) || { ktap_exit_fail_msg "device 0 not found"; }
d=/sys/bus/pci/devices/$pf
# Forget what boot itself left: only leaks of the cycles count.
echo scan >$kmemleak
echo clear >$kmemleak

n0=$(netdev_of "$pf" 0)
resets=$(stat_of "$n0" resets)
for c in $(seq 1 "$RESET_CYCLES"); do
	qom_set ice0 x-device-reset true
	[ "$(wait_for $((resets + c)) stat_of "$n0" resets)" = $((resets + c)) ] || break
done
check "device resets completed" "$RESET_CYCLES" "$((c))"
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
fi

echo scan >$kmemleak
leaks=$(grep -c '^unreferenced object' $kmemleak)
[ "$leaks" = 0 ] || cat $kmemleak
check "kmemleak: no new leaks" 0 "$leaks"
finish
