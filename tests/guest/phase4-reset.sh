#!/bin/sh
# Phase 4, reset: a QEMU-initiated device reset, a driver-initiated reset
# (devlink dev reload) and an FLR (sysfs reset) each bring every port back with
# the same name and MAC as before the resets (and the same ifindex, but for
# devlink's driver_reinit, which re-creates the netdevs by contract), links
# re-synced (a port QEMU holds down stays down), VFs and their remapped port
# restored; a device reset that completes only after the driver's timeout is
# a devlink health error the driver recovers from by itself once the device is
# ready; a reset that never completes (x-reset-stuck) fails with the
# documented error (ETIMEDOUT, "reset timed out" logged) and leaves the PF
# without netdevs (the reload resets before it creates the ports), from which
# a reload once the reset completes, and an unbind and bind, recover. As the
# last phase of a session (LAST_PHASE=1) it leaves the last device failed the
# same way, so that the guest's power-off runs the driver's shutdown on a PF
# without ports (the runner checks the console and QEMU's exit).
. /tests/lib.sh

# Plan, per device: 1 (links before the resets), then per reset kind (device,
# reload, flr) 6 checks (reset requested, reset counted, names and MACs as
# before the resets, MAC of each port, ifindexes, links re-synced) plus 2 VF
# checks when VFs are on (vf_checks = 2 or 0); then 8 for the late device reset
# (QMP stuck on, QMP reset, health error, carriers off, QMP stuck off, health
# recovered, links, ifindexes); then 13 for the stuck reset (QMP stuck on, reload fails
# with ETIMEDOUT, error logged, no netdevs, health error, vf_port_map readable,
# QMP stuck off, reload succeeds, ports back, health healthy, unbind, bind,
# links); as
# the last phase 3 more (stuck on, reload fails, no netdevs). A device that is
# not found bails out.
vfs_on=0
[ "$VFS" -gt 0 ] && vfs_on=$((VFS < 2 ? VFS : 2))
vf_checks=$((vfs_on > 0 ? 2 : 0))
left_failed=$((${LAST_PHASE:-0} ? 3 : 0))
ktap_set_plan $((DEVICES * (1 + 3 * (6 + vf_checks) + 8 + 13) + left_failed))

ifup_all

names_macs() { # pf: "name=mac" of every netdev
	local n out=""
	for n in $(netdevs_of "$1"); do out="$out $n=$(cat "/sys/class/net/$n/address")"; done
	echo "${out# }"
}
ifindexes() { # pf: "name=ifindex" of every netdev
	local n out=""
	for n in $(netdevs_of "$1"); do out="$out $n=$(cat "/sys/class/net/$n/ifindex")"; done
	echo "${out# }"
}
port_macs() { # pf: "p<n>=<mac>" of every port, found by dev_port
	local out="" port n
	for port in $(seq 0 $((PORTS - 1))); do
		n=$(netdev_of "$1" "$port") || n=none
		out="$out p$port=$(cat "/sys/class/net/$n/address" 2>/dev/null || echo none)"
	done
	echo "${out# }"
}
expected_port_macs() { # device index: "p<n>=<mac>" as scripts/run-qemu.sh assigns them
	local out="" port
	for port in $(seq 0 $((PORTS - 1))); do out="$out p$port=$(mac_of_port "$1" "$port")"; done
	echo "${out# }"
}
# ifindexes_renewed OLD NEW: "yes" when every ifindex of NEW is new (none
# of OLD's), else the reused ones.
ifindexes_renewed() {
	local reused="" entry
	[ -n "$2" ] || { echo "no netdevs"; return; }
	for entry in $2; do
		case " $1 " in *"=${entry#*=} "*) reused="$reused $entry" ;; esac
	done
	echo "${reused:- yes}" | sed 's/^ //'
}
expected_carriers() { # down-port (or none): all ports up but that one
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
# reload_error pf: how `devlink dev reload` ended: "succeeded", or the errno
# text devlink printed ("devlink answers: <strerror>"), or all it printed.
reload_error() {
	local out
	out=$(devlink dev reload "pci/$1" 2>&1) && { echo succeeded; return; }
	echo "$out" | grep -o 'Connection timed out' || echo "$out" | tr '\n' ' '
}

# The port QEMU holds down through the resets: the last one. With one port
# none is (all links down after a reset would pass whether or not the driver
# re-synced them), and VF 0 is not remapped (it is on port 0 already).
if [ "$PORTS" -gt 1 ]; then down=$((PORTS - 1)) held="p$((PORTS - 1)) held down"; else down=none held="all up"; fi

for i in $(seq 0 $((DEVICES - 1))); do
	need_pf "$i"
	pf=$PF
	d=/sys/bus/pci/devices/$pf
	# What every reset must give back: the names and MACs of now (and the
	# MACs run-qemu.sh assigned, checked separately).
	before_resets=$(names_macs "$pf")
	[ -n "$before_resets" ] || before_resets="(no netdevs before the resets)"
	[ "$down" = none ] || set_link "ice$i.p$down" false
	check_eventually "dev$i: links before the resets ($held)" "$(expected_carriers $down)" carriers_of "$pf"
	if [ "$vfs_on" -gt 0 ]; then
		echo "$vfs_on" >"$d/sriov_numvfs"
		[ "$down" = none ] || echo "0 $down" >"$d/vf_port_map"
	fi
	resets=$(dev_stat "$pf" resets)

	for kind in device reload flr; do
		idx=$(ifindexes "$pf")
		case "$kind" in
		device) check_true "dev$i device: QMP x-device-reset accepted" qom_set "ice$i" x-device-reset true ;;
		reload) check_true "dev$i reload: devlink dev reload succeeds" quiet devlink dev reload "pci/$pf" ;;
		flr) check_true "dev$i flr: FLR through sysfs reset succeeds" sh -c "echo 1 >$d/reset" ;;
		esac
		resets=$((resets + 1))
		if [ "$kind" = reload ]; then
			# driver_reinit re-creates netdevs (devlink's contract): names and MACs
			# stay, ifindexes are new and the interfaces come back down.
			ifup_pf "$pf"
		fi
		check_eventually "dev$i $kind: reset counted" "$resets" dev_stat "$pf" resets
		check "dev$i $kind: names and MACs as before the resets" "$before_resets" "$(names_macs "$pf")"
		check "dev$i $kind: MAC of each port" "$(expected_port_macs "$i")" "$(port_macs "$pf")"
		if [ "$kind" = reload ]; then
			check "dev$i $kind: new ifindexes (netdevs re-created)" yes "$(ifindexes_renewed "$idx" "$(ifindexes "$pf")")"
		else
			check "dev$i $kind: same ifindexes" "$idx" "$(ifindexes "$pf")"
		fi
		check_eventually "dev$i $kind: links re-synced" "$(expected_carriers $down)" carriers_of "$pf"
		if [ "$vfs_on" -gt 0 ]; then
			check "dev$i $kind: VFs still enabled" "$vfs_on" "$(cat "$d/sriov_numvfs")"
			vf0=$(basename "$(readlink "$d/virtfn0")")
			vf_mmio_on "$vf0"
			if [ "$down" = none ]; then
				skip_point "dev$i $kind: VF 0 mapping restored in the device" "one port, VF 0 not remapped"
			else
				check "dev$i $kind: VF 0 mapping restored in the device" "$down" "$(reg_read "$vf0" $VF_REG_PORT_ID)"
			fi
		fi
	done
	[ "$down" = none ] || set_link "ice$i.p$down" true
	[ "$vfs_on" -gt 0 ] && echo 0 >"$d/sriov_numvfs"

	# A device reset that completes only after the driver's timeout: the
	# driver reports it to devlink health (reporter "device"), keeps the ports
	# with their carriers off, and recovers by itself once DEV_STATUS.READY
	# comes back (the health reporter counts one error and one recovery).
	health=$(health_of "$pf")
	errors=${health#*errors=} errors=${errors%% *}
	recovered=${health##*recovered=}
	idx=$(ifindexes "$pf")
	check_true "dev$i late: QMP x-reset-stuck on accepted" qom_set "ice$i" x-reset-stuck true
	check_true "dev$i late: QMP x-device-reset accepted" qom_set "ice$i" x-device-reset true
	check_eventually "dev$i late: the reset that did not complete is a devlink health error" \
		"error errors=$((errors + 1)) recovered=$recovered" health_of "$pf"
	check "dev$i late: the ports stay, carriers off" "$(all_carriers 0)" "$(carriers_of "$pf")"
	check_true "dev$i late: QMP x-reset-stuck off accepted" qom_set "ice$i" x-reset-stuck false
	check_eventually "dev$i late: the late completion is noticed and recovered" \
		"healthy errors=$((errors + 1)) recovered=$((recovered + 1))" health_of "$pf"
	check_eventually "dev$i late: links re-synced after the recovery" "$(all_carriers 1)" carriers_of "$pf"
	check "dev$i late: same ifindexes" "$idx" "$(ifindexes "$pf")"
	errors=$((errors + 1)) recovered=$((recovered + 1))

	# A reset that never completes: devlink reload fails with the driver's
	# timeout (ETIMEDOUT from the DEV_STATUS.READY poll), logged as "reset timed
	# out" for this PF while the reload ran (the log is cleared before).
	check_true "dev$i stuck: QMP x-reset-stuck on accepted" qom_set "ice$i" x-reset-stuck true
	dmesg -c >/dev/null
	check "dev$i stuck: devlink dev reload fails with ETIMEDOUT" "Connection timed out" "$(reload_error "$pf")"
	check "dev$i stuck: 'reset timed out' logged once for this PF" 1 "$(dmesg | grep -cF "$pf: reset timed out")"
	check "dev$i stuck: the failed reload leaves no netdevs" 0 "$(netdevs_of "$pf" | wc -l)"
	check_eventually "dev$i stuck: the failed reload is a devlink health error" \
		"error errors=$((errors + 1)) recovered=$recovered" health_of "$pf"
	check_true "dev$i stuck: vf_port_map readable after the failed reset" quiet cat "$d/vf_port_map"
	check_true "dev$i stuck: QMP x-reset-stuck off accepted" qom_set "ice$i" x-reset-stuck false
	check_true "dev$i stuck: devlink dev reload succeeds once the reset completes" quiet devlink dev reload "pci/$pf"
	check "dev$i stuck: the reload brings every port back" "$PORTS" "$(netdevs_of "$pf" | wc -l)"
	check "dev$i stuck: devlink health healthy again after the reload" \
		"healthy errors=$((errors + 1)) recovered=$recovered" "$(health_of "$pf")"
	echo "$pf" >"/sys/bus/pci/drivers/$DRIVER/unbind"
	check "dev$i stuck: unbind leaves no netdevs" 0 "$(netdevs_of "$pf" | wc -l)"
	echo "$pf" >"/sys/bus/pci/drivers/$DRIVER/bind"
	ifup_pf "$pf"
	check "dev$i stuck: bind brings every port back" "$PORTS" "$(netdevs_of "$pf" | wc -l)"
	check_eventually "dev$i stuck: links up after rebind" "$(all_carriers 1)" carriers_of "$pf"
done
if [ "$left_failed" -gt 0 ]; then
	check_true "dev$i left failed: QMP x-reset-stuck on accepted" qom_set "ice$i" x-reset-stuck true
	check "dev$i left failed: devlink dev reload fails with ETIMEDOUT" "Connection timed out" "$(reload_error "$pf")"
	check "dev$i left failed: no netdevs for the power-off" 0 "$(netdevs_of "$pf" | wc -l)"
fi
finish
