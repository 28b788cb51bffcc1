#!/bin/sh
# Phase 4, reset: a QEMU-initiated device reset, a driver-initiated reset
# (devlink dev reload) and an FLR (sysfs reset) each bring every port back with
# the same name and MAC (and ifindex, but for devlink's driver_reinit, which
# re-creates the netdevs by contract), links re-synced (a port QEMU holds down stays
# down), VFs and their remapped port restored; a reset that never completes
# (x-reset-stuck) fails with the documented error and leaves a driver that
# unbinds and binds again cleanly.
. /tests/lib.sh
ifup_all

snapshot() { # pf: "name:ifindex:mac" of every netdev
	local n out=""
	for n in $(netdevs_of "$1"); do out="$out $n:$(cat "/sys/class/net/$n/ifindex"):$(cat "/sys/class/net/$n/address")"; done
	echo "${out# }"
}
expected_carriers() { # down-port: all ports up but that one
	local out="" port
	for port in $(seq 0 $((PORTS - 1))); do
		if [ "$port" = "$1" ]; then out="$out $port:0"; else out="$out $port:1"; fi
	done
	echo "${out# }"
}
all_carriers() { # value
	local out="" port
	for port in $(seq 0 $((PORTS - 1))); do out="$out $port:$1"; done
	echo "${out# }"
}
vfs_on=0
[ "$VFS" -gt 0 ] && vfs_on=$((VFS < 2 ? VFS : 2))

for i in $(seq 0 $((DEVICES - 1))); do
	pf=$(pf_of "$i") || { ktap_test_fail "dev$i: present"; continue; }
	d=/sys/bus/pci/devices/$pf
	n0=$(netdev_of "$pf" 0)
	down=$((PORTS - 1))
	snap=$(snapshot "$pf")
	set_link "ice$i.p$down" false
	check_eventually "dev$i: p$down down before the resets" "$(expected_carriers $down)" carriers_of "$pf"
	if [ "$vfs_on" -gt 0 ]; then
		echo "$vfs_on" >"$d/sriov_numvfs"
		echo "0 $down" >"$d/vf_port_map"
	fi
	resets=$(stat_of "$n0" resets)

	for kind in device reload flr; do
		case "$kind" in
		device) qom_set "ice$i" x-device-reset true ;;
		reload) check_true "dev$i: devlink dev reload succeeds" devlink dev reload "pci/$pf" ;;
		flr) check_true "dev$i: FLR through sysfs reset succeeds" sh -c "echo 1 >$d/reset" ;;
		esac
		resets=$((resets + 1))
		if [ "$kind" = reload ]; then
			# driver_reinit re-creates netdevs (devlink's contract): names and MACs
			# stay, ifindexes are new and the interfaces come back down.
			n0=$(netdev_of "$pf" 0)
			ifup_pf "$pf"
			check "dev$i $kind: same names and MACs" "$(echo "$snap" | sed 's/:[0-9]*:/::/g')" \
				"$(snapshot "$pf" | sed 's/:[0-9]*:/::/g')"
			snap=$(snapshot "$pf")
		fi
		check_eventually "dev$i $kind: reset counted" "$resets" stat_of "$n0" resets
		check "dev$i $kind: same names, ifindex and MACs" "$snap" "$(snapshot "$pf")"
		check_eventually "dev$i $kind: links re-synced" "$(expected_carriers $down)" carriers_of "$pf"
		if [ "$vfs_on" -gt 0 ]; then
			check "dev$i $kind: VFs still enabled" "$vfs_on" "$(cat "$d/sriov_numvfs")"
			vf0=$(basename "$(readlink "$d/virtfn0")")
			vf_mmio_on "$vf0"
			check "dev$i $kind: VF 0 mapping restored in the device" "$down" "$(reg_read "$vf0" $VF_REG_PORT_ID)"
		fi
	done
	set_link "ice$i.p$down" true
	[ "$vfs_on" -gt 0 ] && echo 0 >"$d/sriov_numvfs"

	qom_set "ice$i" x-reset-stuck true
	check_true "dev$i stuck: devlink dev reload fails" sh -c "! devlink dev reload pci/$pf 2>/dev/null"
	ifup_pf "$pf"
	check "dev$i stuck: the error is logged" 1 "$(dmesg | grep "$pf" | grep -c 'reset timed out' | awk '{ print ($1 > 0) }')"
	check "dev$i stuck: all carriers off" "$(all_carriers 0)" "$(carriers_of "$pf")"
	qom_set "ice$i" x-reset-stuck false
	echo "$pf" >"/sys/bus/pci/drivers/$DRIVER/unbind"
	check "dev$i stuck: unbind leaves no netdevs" 0 "$(netdevs_of "$pf" | wc -l)"
	echo "$pf" >"/sys/bus/pci/drivers/$DRIVER/bind"
	ifup_pf "$pf"
	check "dev$i stuck: bind brings every port back" "$PORTS" "$(netdevs_of "$pf" | wc -l)"
	check_eventually "dev$i stuck: links up after rebind" "$(all_carriers 1)" carriers_of "$pf"
done
finish
