#!/bin/sh
# Phase 1, probe and netdevs: for every device, the PF ID and class, the bound
# driver, exactly PORTS netdevs with the advertised MACs, dev_port,
# phys_port_name, a physical devlink port each, ethtool driver/link/speed, link
# equal to what QEMU has, the NUMA node (NODES, comma-separated per device; -1
# without NUMA), and unbind + bind giving back the same netdevs.
. /tests/lib.sh

# Plan: 2 PF counts, then per device 6 device checks (class, lspci class and ID,
# driver, netdevs, devlink ports, numa_node), 8 per port (netdev with that
# dev_port, MAC, phys_port_name, devlink port, ethtool driver, carrier equals
# QEMU's link, ethtool link, ethtool speed) and 3 for unbind + bind.
# A device that is not found bails out.
ktap_set_plan $((2 + DEVICES * (6 + 8 * PORTS + 3)))

ifup_all

check "PF count" "$DEVICES" "$(pci_ids $PF_ID | wc -l)"
check "PF count in lspci" "$DEVICES" "$(lspci -n -d $PF_ID | wc -l)"

port_summary() { # pf: "name mac dev_port" of every netdev
	for n in $(netdevs_of "$1"); do
		echo "$n $(cat "/sys/class/net/$n/address") $(cat "/sys/class/net/$n/dev_port")"
	done
}

for i in $(seq 0 $((DEVICES - 1))); do
	need_pf "$i"
	pf=$PF
	d=/sys/bus/pci/devices/$pf
	check "dev$i: class" "0x020000" "$(cat "$d/class")"
	check "dev$i: lspci class and ID" "0200: $PF_ID" "$(lspci -n -s "$pf" | cut -d' ' -f2-3)"
	check "dev$i: driver" "$DRIVER" "$(driver_of "$pf")"
	check "dev$i: netdevs" "$PORTS" "$(netdevs_of "$pf" | wc -l)"
	check "dev$i: devlink ports" "$PORTS" "$(devlink port show | grep -c "^pci/$pf/")"
	# Without NUMA (no NODES) the device has no node: -1.
	node=-1
	[ -n "${NODES:-}" ] && node=$(echo "$NODES" | cut -d, -f$((i + 1)))
	check "dev$i: numa_node" "$node" "$(cat "$d/numa_node")"
	# QEMU's links of the ports (bit p: port p): a failed qom-get fails each check below.
	links=
	if qom_get "ice$i" "x-port-links" && [[ $QMP_RETURN =~ ^[0-9]+$ ]]; then
		links=$QMP_RETURN
	fi
	for p in $(seq 0 $((PORTS - 1))); do
		# Without that netdev, n names none and each check of it below fails.
		n=$(netdev_of "$pf" "$p") || n="(no netdev with dev_port $p)"
		check_true "dev$i p$p: netdev with dev_port $p" test -e "/sys/class/net/$n"
		check "dev$i p$p: MAC" "$(mac_of_port "$i" "$p")" "$(cat "/sys/class/net/$n/address")"
		check "dev$i p$p: phys_port_name" "p$p" "$(cat "/sys/class/net/$n/phys_port_name")"
		check "dev$i p$p: devlink port" "flavour physical port $p" \
			"$(devlink port show | grep " netdev $n " | grep -o 'flavour [a-z]* port [0-9]*')"
		check "dev$i p$p: ethtool driver" "driver: $DRIVER" "$(ethtool -i "$n" | grep '^driver:')"
		if [ -n "$links" ]; then
			check "dev$i p$p: carrier equals QEMU's link" "$(((links >> p) & 1))" "$(carrier "$n")"
		else
			ktap_test_fail "dev$i p$p: carrier equals QEMU's link (qom-get x-port-links: '$QMP_RETURN')"
		fi
		check "dev$i p$p: ethtool link" "Link detected: yes" "$(ethtool "$n" | grep -o 'Link detected: .*')"
		check "dev$i p$p: ethtool speed" "Speed: 100000Mb/s" "$(ethtool "$n" | grep -o 'Speed: .*')"
	done
	# Compared after bind: an empty summary must not match an empty one.
	before=$(port_summary "$pf")
	[ -n "$before" ] || before="(no netdevs before unbind)"
	echo "$pf" >"/sys/bus/pci/drivers/$DRIVER/unbind"
	check "dev$i: no netdevs after unbind" "0" "$(netdevs_of "$pf" | wc -l)"
	check "dev$i: no devlink ports after unbind" "0" "$(devlink port show | grep -c "^pci/$pf/")"
	echo "$pf" >"/sys/bus/pci/drivers/$DRIVER/bind"
	ifup_pf "$pf"
	check "dev$i: same netdevs after bind" "$before" "$(port_summary "$pf")"
done
finish
