#!/bin/sh
# Phase 3, SR-IOV: sriov_numvfs to VFS creates VFS VFs with the VF ID; each VF's
# port, from the driver's vf_port_map and from the VF's own BAR, equals
# VF_PORT_MAP (default vf % PORTS, then a remap); a VF mailbox message written
# through the VF's BAR is counted on the owning port only and answered; a port
# link change reaches exactly the VFs mapped to that port; 0 removes them all.
. /tests/lib.sh

# No VFs: the whole file is one explicit skip ("1..0 # SKIP"), its plan.
[ "$VFS" -gt 0 ] || { ktap_skip_all "configuration has no VFs"; exit 0; }
# Plan, per device: 4 enable checks (sriov_totalvfs, sriov_numvfs, VF IDs,
# vf_port_map lines), 3 per VF (map, VF_PORT_ID, VF_NUMBER), 3 mailbox, 3 link
# change, 4 remap (2 of them skipped with one port: no other port to map to),
# 2 disable.
# A device that is not found bails out.
ktap_set_plan $((DEVICES * (4 + 3 * VFS + 3 + 3 + 4 + 2)))

ifup_all

vf_of() { # pf vf: the VF's PCI address
	basename "$(readlink "/sys/bus/pci/devices/$1/virtfn$2")"
}
vf_link_up() { reg_bit "$1" $VF_REG_PORT_STATUS 0; }
map_port() { # pf vf: the driver's idea of the VF's port
	awk -v vf="$2" '$1 == vf { print $2 }' "/sys/bus/pci/devices/$1/vf_port_map"
}
vf_link_bits() { # pf port-changed: for every VF "vf:<LINK event bit>"
	local out="" vf
	for vf in $(seq 0 $((VFS - 1))); do
		out="$out $vf:$(reg_bit "$(vf_of "$1" "$vf")" $VF_REG_EVENT_STATUS 1)"
	done
	echo "${out# }"
}
expected_link_bits() { # changed-port
	local out="" vf
	for vf in $(seq 0 $((VFS - 1))); do
		if [ $((vf % PORTS)) = "$1" ]; then out="$out $vf:1"; else out="$out $vf:0"; fi
	done
	echo "${out# }"
}
remap_error() { # sysfs-dir "vf port": why writing it to vf_port_map failed
	# (strerror text), or "accepted"
	local err
	if err=$( (echo "$2" >"$1/vf_port_map") 2>&1); then echo accepted; else echo "${err##*: }"; fi
}
mbx_rx_all() { # pf: vf_mbx_rx of every port
	local out="" port
	for port in $(seq 0 $((PORTS - 1))); do out="$out $(stat_of "$(netdev_of "$1" "$port")" vf_mbx_rx)"; done
	echo "${out# }"
}

for i in $(seq 0 $((DEVICES - 1))); do
	need_pf "$i"
	pf=$PF
	d=/sys/bus/pci/devices/$pf
	check "dev$i: sriov_totalvfs" "$VFS" "$(cat "$d/sriov_totalvfs")"
	echo "$VFS" >"$d/sriov_numvfs"
	check "dev$i: sriov_numvfs" "$VFS" "$(cat "$d/sriov_numvfs")"
	vfs_seen=0
	for vf in $(seq 0 $((VFS - 1))); do
		[ "$(lspci -n -s "$(vf_of "$pf" "$vf")" | cut -d' ' -f3)" = "$VF_ID" ] && vfs_seen=$((vfs_seen + 1))
	done
	check "dev$i: VFs with ID $VF_ID" "$VFS" "$vfs_seen"
	for vf in $(seq 0 $((VFS - 1))); do vf_mmio_on "$(vf_of "$pf" "$vf")"; done
	check "dev$i: vf_port_map lines" "$VFS" "$(wc -l <"$d/vf_port_map")"
	for vf in $(seq 0 $((VFS - 1))); do
		vfa=$(vf_of "$pf" "$vf")
		check "dev$i vf$vf: vf_port_map default" "$((vf % PORTS))" "$(map_port "$pf" "$vf")"
		check "dev$i vf$vf: VF_PORT_ID in the VF BAR" "$((vf % PORTS))" "$(reg_read "$vfa" $VF_REG_PORT_ID)"
		check "dev$i vf$vf: VF_NUMBER" "$vf" "$(reg_read "$vfa" $VF_REG_NUMBER)"
	done

	# Mailbox, both ways, for the last VF: counted on its port only and answered.
	vf=$((VFS - 1))
	vfa=$(vf_of "$pf" "$vf")
	owner=$((vf % PORTS))
	rx_before=$(mbx_rx_all "$pf")
	msg=$((0x1234 + vf))
	reg_write "$vfa" $VF_REG_VF2PF_MBX $msg
	check_eventually "dev$i vf$vf: PF answered the mailbox" "$((msg | 0x80000000))" reg_read "$vfa" $VF_REG_PF2VF_MBX
	# One more on the owner, the same elsewhere; a missing counter ("none")
	# becomes "number", which no counter reads.
	want=$(echo "$rx_before" | awk -v o="$owner" '{
		for (k = 1; k <= NF; k++)
			printf "%s%s", (k > 1 ? " " : ""), ($k !~ /^[0-9]+$/ ? "number" : $k + (k - 1 == o))
		print ""
	}')
	check "dev$i vf$vf: vf_mbx_rx counted on port $owner only" "$want" "$(mbx_rx_all "$pf")"
	check "dev$i vf$vf: VF saw the PF message bit" 1 "$(reg_bit "$vfa" $VF_REG_EVENT_STATUS 0)"

	# A link change of port 0 reaches exactly the VFs of port 0.
	for vf in $(seq 0 $((VFS - 1))); do reg_write "$(vf_of "$pf" "$vf")" $VF_REG_EVENT_STATUS 3; done
	set_link "ice$i.p0" false
	check_eventually "dev$i: port 0 link change reached exactly its VFs" "$(expected_link_bits 0)" vf_link_bits "$pf"
	check "dev$i vf0: VF_PORT_STATUS shows link down" 0 "$(vf_link_up "$(vf_of "$pf" 0)")"
	set_link "ice$i.p0" true
	check_eventually "dev$i vf0: VF_PORT_STATUS shows link up again" 1 vf_link_up "$(vf_of "$pf" 0)"

	# Remap VF 0 to the last port through the driver. With one port, VF 0 is
	# on the last port already: no remap that checks could tell from none.
	last=$((PORTS - 1))
	if [ "$PORTS" -gt 1 ]; then
		echo "0 $last" >"$d/vf_port_map"
		check "dev$i vf0: remapped in vf_port_map" "$last" "$(map_port "$pf" 0)"
		check "dev$i vf0: remapped in the VF BAR" "$last" "$(reg_read "$(vf_of "$pf" 0)" $VF_REG_PORT_ID)"
	else
		skip_point "dev$i vf0: remapped in vf_port_map" "one port, nothing to remap to"
		skip_point "dev$i vf0: remapped in the VF BAR" "one port, nothing to remap to"
	fi
	# Refused for the documented reason (ERANGE: no such port), not for any.
	check "dev$i: remap to a port that does not exist is refused with ERANGE" \
		"Numerical result out of range" "$(remap_error "$d" "0 $PORTS")"
	check "dev$i vf0: mapping unchanged after the refused remap" "$last" "$(map_port "$pf" 0)"

	echo 0 >"$d/sriov_numvfs"
	check "dev$i: VFs gone after sriov_numvfs=0" "0" "$(ls -d "$d"/virtfn* 2>/dev/null | wc -l)"
	check "dev$i: vf_port_map empty" "0" "$(wc -l <"$d/vf_port_map")"
done
finish
