#!/bin/sh
# Phase 6, datapath: traffic over the cables of WIRES (the --wire list of
# scripts/run-qemu.sh, e.g. "0.0-0.1,0.2-1.2": device.port pairs), each end in
# a network namespace of its own, so that a frame can only go through the
# device. Per cable: ping both ways with the exact frame counts of the device's
# counters on both ends and none on any other port, a TCP bulk transfer, the
# MTU range (68 and the device's maximum, one beyond each end refused), and a
# link down on one end that stops exactly that cable. Per device with a cable:
# traffic running through a device reset, an FLR and a devlink reload, then
# every cable passes traffic again.
. /tests/lib.sh

WIRES=${WIRES:-}
BULK_BYTES=2097152
MAX_MTU=9000
PINGS=10

# The cables, one "DA PA DB PB" line each; a malformed list bails out.
cables() {
	echo "$WIRES" | tr ',' '\n' | sed -n 's/^\([0-9]*\)\.\([0-9]*\)-\([0-9]*\)\.\([0-9]*\)$/\1 \2 \3 \4/p'
}
[ -n "$WIRES" ] || { echo "1..0 # SKIP no cables (WIRES is empty)"; exit "$KSFT_SKIP"; }
NCABLES=$(cables | wc -l)
[ "$NCABLES" = "$(echo "$WIRES" | tr ',' '\n' | wc -l)" ] || {
	echo "Bail out! WIRES='$WIRES' is not a list of D.P-D.P cables"
	exit 1
}
# The devices with a cable end, one per line.
WDEVS=$(cables | awk '{ print $1; print $3 }' | sort -un)
NWDEVS=$(echo "$WDEVS" | wc -l)

# Plan: per cable 32 checks (ends set up, carriers, ping, its frame counts, no
# frame elsewhere, end a's ethtool -S names, bulk bytes, bulk frame counts, a
# NAPI ID on each end and
# end b's the same after down/up and after a ring resize, MTU range, 67 and
# 9001 refused, MTU 68 on both ends and a ping at it, the same at 9000, link
# down: carrier off, ping fails, the other cables still pass, link up: carrier
# on, ping passes; end a down: b's pings unanswered, counted as missed on a; a
# device reset by QEMU: done, the device counter 0 and rx_missed_errors kept,
# b's next pings counted from there; end a up: ping passes; end a up while
# the device refuses its rings: refused and still down, then up and a ping
# passes once the device takes them); per device with a
# cable 16 (for each of device reset, FLR and reload: the reset was requested,
# every cable passes traffic again; for the device reset and the FLR also: a
# TCP transfer running through it completes and the end on the device keeps
# its NAPI ID; a ring error: a ping fails, the driver resets the device once,
# the frame the stopped ring never sent counts as dropped, not sent, every
# cable passes again; an RX ring stopped by QEMU: its RING_ERROR event heard,
# one stopped ring found, one reset, every cable passes again).
ktap_set_plan $((NCABLES * 32 + NWDEVS * 16))

# No IPv6 anywhere (router solicitations, MLD reports and DAD would add frames
# of their own to the counts): in the initial namespace, for every port, and
# in each end's namespace, where a netdev moved in takes the default.
NO_IPV6="echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 && echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6"
sh -c "$NO_IPV6"
ifup_all

# --- the cables ---------------------------------------------------------------
# Cable k joins end a (namespace wKa, address 10.99.k.1) and end b (wKb,
# 10.99.k.2). END_DEV/END_PORT/END_NETDEV/END_NS/END_IP describe one end.
end_of() { # k a|b: sets END_DEV END_PORT END_NS END_IP END_PEER_IP
	local line
	line=$(cables | sed -n "$(($1 + 1))p")
	set -- "$1" "$2" $line
	if [ "$2" = a ]; then
		END_DEV=$3 END_PORT=$4 END_IP=10.99.$1.1 END_PEER_IP=10.99.$1.2
	else
		END_DEV=$5 END_PORT=$6 END_IP=10.99.$1.2 END_PEER_IP=10.99.$1.1
	fi
	END_NS=w$1$2
}
# The netdev of an end, found in the namespace it was moved to, or in the
# initial namespace (where a reload creates the netdevs again).
NETDEV=""
end_netdev() { # k a|b: NETDEV = the end's netdev name in END_NS, or fails
	end_of "$1" "$2"
	NETDEV=$(cat "/tmp/wire.$1$2" 2>/dev/null) || return 1
	ip -n "$END_NS" link show dev "$NETDEV" >/dev/null 2>&1
}
# setup_end k a|b: moves the end's netdev (in the initial namespace) into the
# end's namespace, addresses it, brings it up, and makes the peer's address a
# permanent neighbour: no ARP, so that every frame counted is the test's own.
setup_end() {
	local pf n
	end_of "$1" "$2"
	pf=$(pf_of "$END_DEV") || { diag "device $END_DEV not found"; return 1; }
	n=$(netdev_of "$pf" "$END_PORT") || { diag "no netdev of device $END_DEV port $END_PORT"; return 1; }
	echo "$n" >"/tmp/wire.$1$2"
	if ! [ -e "/run/netns/$END_NS" ]; then
		ip netns add "$END_NS" 2>/dev/null &&
			ip netns exec "$END_NS" sh -c "$NO_IPV6" || return 1
	fi
	ip link set "$n" netns "$END_NS" || return 1
	ip -n "$END_NS" link set lo up &&
		ip -n "$END_NS" addr add "$END_IP/24" dev "$n" &&
		ip -n "$END_NS" link set "$n" up
}
setup_neigh() { # k: permanent neighbours on both ends
	local a_n b_n a_mac b_mac
	end_netdev "$1" a && a_n=$NETDEV || return 1
	end_netdev "$1" b && b_n=$NETDEV || return 1
	a_mac=$(ip netns exec "w$1a" cat "/sys/class/net/$a_n/address")
	b_mac=$(ip netns exec "w$1b" cat "/sys/class/net/$b_n/address")
	ip -n "w$1a" neigh replace "10.99.$1.2" lladdr "$b_mac" dev "$a_n" nud permanent &&
		ip -n "w$1b" neigh replace "10.99.$1.1" lladdr "$a_mac" dev "$b_n" nud permanent
}
setup_cable() { # k
	setup_end "$1" a && setup_end "$1" b && setup_neigh "$1"
}
ns_carrier() { # k a|b: the carrier of the end's netdev
	end_netdev "$1" "$2" || { echo none; return; }
	ip netns exec "$END_NS" cat "/sys/class/net/$NETDEV/carrier" 2>/dev/null || echo none
}
cable_carriers() { echo "$(ns_carrier "$1" a) $(ns_carrier "$1" b)"; }

# ping_from k a|b count size: "<n> received" (busybox ping's statistics line).
ping_from() {
	local out
	end_of "$1" "$2"
	out=$(ip netns exec "$END_NS" ping -q -c "$3" -i 0.2 -W 2 -s "$4" "$END_PEER_IP" 2>&1)
	echo "$(echo "$out" | sed -n 's/.* \([0-9]*\) packets received.*/\1/p') received"
}
ping_once() { ping_from "$1" a 1 56; }
try_up() { # k a|b: "taken" or "refused" by ip link set up, then the admin state
	local how=taken
	end_netdev "$1" "$2" || return
	ip -n "$END_NS" link set "$NETDEV" up 2>/dev/null || how=refused
	echo "$how $(ip -n "$END_NS" -o link show "$NETDEV" | grep -q '[<,]UP[,>]' && echo UP || echo DOWN)"
}
# The device's counter NAME of an end (ethtool -S in its namespace).
end_stat() { # k a|b name
	end_netdev "$1" "$2" || { echo none; return; }
	ip netns exec "$END_NS" ethtool -S "$NETDEV" 2>/dev/null |
		awk -v name="$3:" '$1 == name { v = $2 } END { print (v == "" ? "none" : v) }'
}
# stat_names k a|b: the names ethtool -S shows for the end, in its order
stat_names() {
	end_netdev "$1" "$2" || { echo none; return; }
	ip netns exec "$END_NS" ethtool -S "$NETDEV" 2>/dev/null |
		awk -F: 'NR > 1 { sub(/^ +/, "", $1); printf "%s%s", sep, $1; sep = " " } END { print "" }'
}
OWN_STATS="link_events vf_mbx_rx vf_mbx_tx hw_tx_packets hw_tx_bytes hw_tx_drops_link hw_tx_drops_bad_len"
OWN_STATS="$OWN_STATS hw_rx_packets hw_rx_bytes hw_rx_drops_no_buf hw_rx_drops_bad_len hw_rx_drops_link"
OWN_STATS="$OWN_STATS hw_desc_errors tx_linearized"
# end_tx k a|b: "tx_packets tx_dropped" of the end's netdev
end_tx() {
	end_netdev "$1" "$2" || { echo "none none"; return; }
	ip netns exec "$END_NS" cat "/sys/class/net/$NETDEV/statistics/tx_packets" \
		"/sys/class/net/$NETDEV/statistics/tx_dropped" | tr '\n' ' ' | sed 's/ $//'
}
# frames k: "a_tx a_rx b_tx b_rx", the device's frame counters of both ends
frames() {
	echo "$(end_stat "$1" a hw_tx_packets) $(end_stat "$1" a hw_rx_packets)" \
		"$(end_stat "$1" b hw_tx_packets) $(end_stat "$1" b hw_rx_packets)"
}
# missed k: "device netdev overruns hw-drops", end a's RX_DROPS_NO_BUF (ethtool -S),
# its rx_missed_errors (ndo_get_stats64) and its queue statistics rx-hw-drop-overruns
# and rx-hw-drops (netdev netlink)
missed() {
	local v
	end_netdev "$1" a || { echo "none none none none"; return; }
	v=$(ip netns exec "$END_NS" cat "/sys/class/net/$NETDEV/statistics/rx_missed_errors" 2>/dev/null)
	echo "$(end_stat "$1" a hw_rx_drops_no_buf) ${v:-none}" \
		"$(qstats "$END_NS" "$NETDEV" rx-hw-drop-overruns rx-hw-drops)"
}
delta() { # before after: the element-wise difference of two number lists
	echo "$1|$2" | awk -F'|' '{
		n = split($1, a, " "); split($2, b, " ")
		for (k = 1; k <= n; k++)
			printf "%s%s", (k > 1 ? " " : ""), (a[k] ~ /^[0-9]+$/ && b[k] ~ /^[0-9]+$/ ? b[k] - a[k] : "none")
		print ""
	}'
}
# others k: the sum of the frame counters (tx + rx) of every port of every
# wired device that is not an end of cable k, wherever its netdev is.
others() {
	local sum=0 j e v d n pf
	for j in $(seq 0 $((NCABLES - 1))); do
		[ "$j" = "$1" ] && continue
		for e in a b; do
			for v in $(end_stat "$j" "$e" hw_tx_packets) $(end_stat "$j" "$e" hw_rx_packets); do
				case "$v" in *[!0-9]* | "") echo none; return ;; esac
				sum=$((sum + v))
			done
		done
	done
	# ports on no cable stay in the initial namespace
	for d in $WDEVS; do
		pf=$(pf_of "$d") || { echo none; return; }
		for n in $(netdevs_of "$pf"); do
			for v in $(stat_of "$n" hw_tx_packets) $(stat_of "$n" hw_rx_packets); do
				case "$v" in *[!0-9]* | "") echo none; return ;; esac
				sum=$((sum + v))
			done
		done
	done
	echo "$sum"
}
set_mtu() { # k mtu: on both ends; prints the MTU each end then has
	local e m out=
	for e in a b; do
		m=none
		if end_netdev "$1" "$e"; then
			ip -n "$END_NS" link set "$NETDEV" mtu "$2" 2>/dev/null
			m=$(ip netns exec "$END_NS" cat "/sys/class/net/$NETDEV/mtu" 2>/dev/null) || m=none
		fi
		out="$out $m"
	done
	echo "${out# }"
}
mtu_range() { # k: "minmtu N maxmtu M" of end a
	end_netdev "$1" a || { echo none; return; }
	ip -d -n "$END_NS" link show "$NETDEV" | grep -o 'minmtu [0-9]* maxmtu [0-9]*'
}
refused() { # k mtu: "refused" when end a does not take that MTU
	end_netdev "$1" a || { echo "no netdev"; return; }
	if ip -n "$END_NS" link set "$NETDEV" mtu "$2" 2>/dev/null; then echo "taken"; else echo "refused"; fi
}
listening() { # ns: how many TCP sockets listen on port 5001 (0x1389); nc
	# listens on IPv6's any address, which takes IPv4 as well
	ip netns exec "$1" cat /proc/net/tcp /proc/net/tcp6 | grep -cE ':1389 0+:0000 0A'
}
# A TCP transfer of BULK_BYTES from end a to end b of cable k, in two halves:
# the server sends half, blocks on a FIFO (the gate) and sends the rest once
# the gate is opened. Across a reset the phase opens the gate right after the
# reset was requested (an FLR is done by then, a device reset is being
# recovered from by the driver): the connection, not a new one, must deliver
# the second half. The server never outlives the transfer.
GATE=/tmp/icemp-gate
THROUGH=/tmp/icemp-through
file_size() { wc -c <"$1"; }
through_start() { # k: returns once b has the first half
	local half=$((BULK_BYTES / 65536 / 2))
	rm -f "$GATE" "$THROUGH"
	mkfifo "$GATE"
	ip netns exec "w$1a" nc -l -p 5001 -e sh -c "dd if=/dev/zero bs=65536 count=$half; cat $GATE; dd if=/dev/zero bs=65536 count=$half" \
		>/dev/null 2>&1 &
	THROUGH_SERVER=$!
	THROUGH_CLIENT=
	[ "$(wait_for 1 listening "w$1a")" = 1 ] || return 0
	ip netns exec "w$1b" timeout $((60 * TIMEOUT_SCALE)) nc 10.99.$1.1 5001 </dev/null >"$THROUGH" 2>/dev/null &
	THROUGH_CLIENT=$!
	# a deadline, not a delay: half of BULK_BYTES through a TCG guest on a
	# loaded host can take longer than the usual WAIT_S
	local wait_s=$WAIT_S
	WAIT_S=$((wait_s * 3))
	wait_for $((BULK_BYTES / 2)) file_size "$THROUGH" >/dev/null
	WAIT_S=$wait_s
}
through_open() { # lets the server send the second half (blocks WAIT_S at most)
	# the server opens the gate once it has sent the first half
	timeout "$WAIT_S" sh -c ": >$GATE"
	return 0
}
# THROUGH_GOT = the bytes b received in all ("none": no transfer), once the
# client has ended. Not for $(...) apart from through_start: a subshell
# cannot wait for a child of its parent.
through_finish() {
	[ -n "$THROUGH_CLIENT" ] && wait "$THROUGH_CLIENT"
	kill "$THROUGH_SERVER" 2>/dev/null
	wait "$THROUGH_SERVER" 2>/dev/null
	THROUGH_GOT=none
	[ -n "$THROUGH_CLIENT" ] && THROUGH_GOT=$(file_size "$THROUGH")
}
bulk() { # k: the whole transfer with nothing in its middle; prints the bytes b received
	through_start "$1"
	through_open
	through_finish
	echo "$THROUGH_GOT"
}
# napi_id k a|b: the NAPI ID through which a datagram from the other end
# reaches a socket on end a|b (SO_INCOMING_NAPI_ID), or "none"
NAPI_PORT=5002
udp_bound() { # ns: 1 when a socket is bound to NAPI_PORT there
	ip netns exec "$1" cat /proc/net/udp | grep -c " 00000000:$(printf %04X "$NAPI_PORT") "
}
napi_id() {
	local from=a out=/tmp/icemp-napi-id pid
	[ "$2" = a ] && from=b
	end_of "$1" "$2"
	rm -f "$out"
	ip netns exec "$END_NS" icemp-bench napi-id "$NAPI_PORT" $((10 * TIMEOUT_SCALE)) >"$out" 2>/dev/null &
	pid=$!
	[ "$(wait_for 1 udp_bound "$END_NS")" = 1 ] &&
		ip netns exec "w$1$from" icemp-bench send udp "$END_IP" "$NAPI_PORT" 64 0 >/dev/null
	wait "$pid"
	grep -xE '[0-9]+' "$out" 2>/dev/null || echo none
}
some_id() { case "$1" in none | 0) echo "no ($1)" ;; *) echo yes ;; esac; }
first_cable_of() { # device: the first cable with an end on it
	cables | awk -v d="$1" '$1 == d || $3 == d { print NR - 1; exit }'
}
cables_passing() { # every cable but k: how many pass a ping
	local j n=0
	for j in $(seq 0 $((NCABLES - 1))); do
		[ "$j" = "$1" ] && continue
		[ "$(ping_from "$j" a 2 56)" = "2 received" ] && n=$((n + 1))
	done
	echo "$n"
}

# --- per cable ----------------------------------------------------------------
for k in $(seq 0 $((NCABLES - 1))); do
	check_true "cable $k ($(cables | sed -n "$((k + 1))p" | awk '{ print $1 "." $2 "-" $3 "." $4 }')): ends in their namespaces, addressed" setup_cable "$k"
done
for k in $(seq 0 $((NCABLES - 1))); do
	c="cable $k"
	check_eventually "$c: carrier on both ends" "1 1" cable_carriers "$k"

	before=$(frames "$k") rest=$(others "$k")
	check "$c: ping a to b" "$PINGS received" "$(ping_from "$k" a "$PINGS" 56)"
	check "$c: frames a tx, a rx, b tx, b rx" "$PINGS $PINGS $PINGS $PINGS" "$(delta "$before" "$(frames "$k")")"
	# "none" (a counter that cannot be read) is never a difference of 0
	check "$c: no frame on any other port" "0" "$(delta "$rest" "$(others "$k")")"
	# the standard counters are in ip -s link and the queue stats only
	check "$c: ethtool -S of end a: the port's and the device's own counters" "$OWN_STATS" "$(stat_names "$k" a)"

	before=$(frames "$k")
	check "$c: TCP bulk a to b, bytes received" "$BULK_BYTES" "$(bulk "$k")"
	# every frame a sent b received, and the other way (ACKs)
	d=$(delta "$before" "$(frames "$k")")
	check "$c: bulk frames sent equal frames received, both ways" "equal" \
		"$(echo "$d" | awk '{ print ($1 == $4 && $2 == $3 && $1 > 0 ? "equal" : "a tx " $1 " b rx " $4 ", b tx " $3 " a rx " $2) }')"

	# A NAPI ID is for good (busy polling, SO_INCOMING_NAPI_ID users): the
	# same after down and up, a ring resize, a device reset and an FLR.
	id_a=$(napi_id "$k" a) id_b=$(napi_id "$k" b)
	check "$c: a socket on each end sees a NAPI ID" "yes yes" "$(some_id "$id_a") $(some_id "$id_b")"
	end_netdev "$k" b && ip -n "$END_NS" link set "$NETDEV" down && ip -n "$END_NS" link set "$NETDEV" up
	# a link down flushes even the permanent neighbours
	wait_for "1 1" cable_carriers "$k" >/dev/null
	setup_neigh "$k"
	check "$c: end b down and up: the same NAPI ID" "$id_b" "$(napi_id "$k" b)"
	end_netdev "$k" b && ip netns exec "$END_NS" ethtool -G "$NETDEV" rx 256 tx 256
	check "$c: end b's rings resized: the same NAPI ID" "$id_b" "$(napi_id "$k" b)"
	end_netdev "$k" b && ip netns exec "$END_NS" ethtool -G "$NETDEV" rx 512 tx 512

	check "$c: MTU range" "minmtu 68 maxmtu $MAX_MTU" "$(mtu_range "$k")"
	check "$c: MTU 67 refused" refused "$(refused "$k" 67)"
	check "$c: MTU $((MAX_MTU + 1)) refused" refused "$(refused "$k" $((MAX_MTU + 1)))"
	# ICMP payload = MTU - 20 (IP) - 8 (ICMP): full-size frames, no fragments
	check "$c: MTU 68 on both ends" "68 68" "$(set_mtu "$k" 68)"
	check "$c: ping at MTU 68" "3 received" "$(ping_from "$k" a 3 40)"
	check "$c: MTU $MAX_MTU on both ends" "$MAX_MTU $MAX_MTU" "$(set_mtu "$k" $MAX_MTU)"
	check "$c: ping at MTU $MAX_MTU" "3 received" "$(ping_from "$k" b 3 $((MAX_MTU - 28)))"
	set_mtu "$k" 1500 >/dev/null

	end_of "$k" a
	set_link "ice$END_DEV.p$END_PORT" false
	check_eventually "$c: link down on end a: carrier off" "0" ns_carrier "$k" a
	check "$c: link down: no ping gets through" "0 received" "$(ping_from "$k" b 2 56)"
	check "$c: link down: every other cable passes" "$((NCABLES - 1))" "$(cables_passing "$k")"
	end_of "$k" a
	set_link "ice$END_DEV.p$END_PORT" true
	check_eventually "$c: link up: carrier on both ends" "1 1" cable_carriers "$k"
	check_eventually "$c: link up: ping passes again" "1 received" ping_once "$k"

	# An end that is down posts no RX buffer: each frame its peer sends is
	# the device's RX_DROPS_NO_BUF, which the driver reports as rx_missed_errors.
	before=$(missed "$k")
	end_netdev "$k" a && ip -n "$END_NS" link set "$NETDEV" down
	check "$c: end a down: no ping from b is answered" "0 received" "$(ping_from "$k" b 3 56)"
	check "$c: end a down: b's 3 frames missed on a (device counter, rx_missed_errors, qstats)" "3 3 3 3" \
		"$(delta "$before" "$(missed "$k")")"
	# A reset QEMU starts clears the device's counters before the driver
	# hears of it: rx_missed_errors keeps its count and counts on from there.
	end_of "$k" a
	pf=$(pf_of "$END_DEV")
	before=$(missed "$k") resets=$(dev_stat "$pf" resets)
	qom_set "ice$END_DEV" x-device-reset true
	check_eventually "$c: end a down, device reset by QEMU: the driver's reset done" \
		"$((resets + 1))" dev_stat "$pf" resets
	check "$c: after that reset: device counter 0, rx_missed_errors and qstats as before" "0 ${before#* }" "$(missed "$k")"
	before=$(missed "$k")
	ping_from "$k" b 3 56 >/dev/null
	check "$c: after that reset: b's 3 frames missed on a (device counter, rx_missed_errors, qstats)" "3 3 3 3" \
		"$(delta "$before" "$(missed "$k")")"
	end_netdev "$k" a && ip -n "$END_NS" link set "$NETDEV" up
	check_eventually "$c: end a up again: ping passes" "1 received" ping_once "$k"

	# A device that refuses the rings (Q_CTRL reads back without them)
	# fails the open: the port stays down, and comes up once it takes them.
	end_netdev "$k" a && ip -n "$END_NS" link set "$NETDEV" down
	qom_set "ice$END_DEV" x-rings-refused true
	check "$c: end a up while the device refuses its rings: refused, still down" "refused DOWN" "$(try_up "$k" a)"
	qom_set "ice$END_DEV" x-rings-refused false
	check "$c: end a up once the device takes them" "taken UP" "$(try_up "$k" a)"
	wait_for "1 1" cable_carriers "$k" >/dev/null
	setup_neigh "$k"
	check_eventually "$c: end a up once the device takes them: ping passes" "1 received" ping_once "$k"
done

# --- resets with traffic running ------------------------------------------------
# every cable passes traffic: the number of cables whose single ping passes
cables_ok() {
	local j n=0
	for j in $(seq 0 $((NCABLES - 1))); do
		[ "$(ping_once "$j")" = "1 received" ] && n=$((n + 1))
	done
	echo "$n"
}
# After a reload the device's netdevs are new, in the initial namespace: the
# cables with an end on it are set up again.
resetup_dev() { # device
	local k line
	for k in $(seq 0 $((NCABLES - 1))); do
		line=$(cables | sed -n "$((k + 1))p")
		set -- "$1" $line
		[ "$2" = "$1" ] && setup_end "$k" a
		[ "$4" = "$1" ] && setup_end "$k" b
		{ [ "$2" = "$1" ] || [ "$4" = "$1" ]; } && setup_neigh "$k"
	done
	return 0
}
# dev_stats pf name...: those device-wide counters, space-separated
dev_stats() {
	local pf=$1 n out=
	shift
	for n in "$@"; do out="$out${out:+ }$(dev_stat "$pf" "$n")"; done
	echo "$out"
}
# dev_stats_since pf before name...: what those counters added since before
dev_stats_since() {
	local pf=$1 before=$2
	shift 2
	delta "$before" "$(dev_stats "$pf" "$@")"
}
for i in $WDEVS; do
	need_pf "$i"
	pf=$PF
	kc=$(first_cable_of "$i")
	# the end of cable kc on this device
	end_of "$kc" a
	side=a
	[ "$END_DEV" = "$i" ] || side=b
	for kind in device flr reload; do
		[ "$kind" = reload ] || id=$(napi_id "$kc" "$side")
		# load, not a check: pings on every cable for about 4 s, through the
		# reset (what they got is not judged, the checks below are)
		pings=
		for k in $(seq 0 $((NCABLES - 1))); do
			end_of "$k" a
			ip netns exec "$END_NS" ping -q -c 40 -i 0.1 -W 1 "$END_PEER_IP" >/dev/null 2>&1 &
			pings="$pings $!"
		done
		# a reload makes new netdevs: no connection can live through it
		[ "$kind" = reload ] || through_start "$kc"
		case $kind in
		device) check_true "dev$i device reset with traffic: requested" qom_set "ice$i" x-device-reset true ;;
		flr) check_true "dev$i FLR with traffic: requested" sh -c "echo 1 >/sys/bus/pci/devices/$pf/reset" ;;
		reload) check_true "dev$i reload with traffic: devlink dev reload succeeds" quiet devlink dev reload "pci/$pf" ;;
		esac
		if [ "$kind" != reload ]; then
			through_open
			through_finish
			check "dev$i $kind: a TCP transfer on cable $kc running through it completes" "$BULK_BYTES" "$THROUGH_GOT"
		fi
		# shellcheck disable=SC2086 # one pid per word
		wait $pings
		[ "$kind" = reload ] && { ifup_pf "$pf"; resetup_dev "$i"; }
		check_eventually "dev$i $kind: every cable passes traffic again" "$NCABLES" cables_ok
		[ "$kind" = reload ] ||
			check "dev$i $kind: cable $kc end $side keeps its NAPI ID" "$id" "$(napi_id "$kc" "$side")"
	done

	# A ring the device stopped: with Bus Master Enable cleared behind the
	# driver's back the next frame's DMA fails, and the device stops that
	# port's rings (Q_STATUS) and signals nothing. The driver's watch finds
	# it and resets the device, once; then every cable passes again.
	# permanent neighbours: the ping is the only frame the ring takes
	setup_neigh "$kc"
	tx_before=$(end_tx "$kc" "$side")
	before=$(dev_stats "$pf" ring_errors resets)
	setpci -s "$pf" COMMAND=0000:0004
	check "dev$i ring error: bus mastering off, a ping from cable $kc end $side gets no answer" "0 received" \
		"$(ping_from "$kc" "$side" 1 56)"
	setpci -s "$pf" COMMAND=0004:0004
	check_eventually "dev$i ring error: one stopped ring found, one device reset" "1 1" dev_stats_since "$pf" "$before" ring_errors resets
	check "dev$i ring error: the ping the stopped ring never sent: tx_packets +0, tx_dropped +1" "0 1" \
		"$(delta "$tx_before" "$(end_tx "$kc" "$side")")"
	check_eventually "dev$i ring error: every cable passes traffic again" "$NCABLES" cables_ok

	# The RX ring of that end stopped by QEMU as a failed DMA would (with
	# bus mastering on, the device's RING_ERROR event reaches the driver,
	# which looks for the stopped ring at once).
	end_of "$kc" "$side"
	before=$(dev_stats "$pf" ring_errors resets ring_error_events)
	qom_set "ice$i" x-ring-error $((END_PORT | 0x200))
	check_eventually "dev$i RX ring stopped by QEMU: its event heard, one stopped ring found, one device reset" \
		"1 1 1" dev_stats_since "$pf" "$before" ring_errors resets ring_error_events
	check_eventually "dev$i RX ring stopped by QEMU: every cable passes traffic again" "$NCABLES" cables_ok
done

# The namespaces go; their netdevs return to the initial namespace.
for k in $(seq 0 $((NCABLES - 1))); do ip netns del "w${k}a" 2>/dev/null; ip netns del "w${k}b" 2>/dev/null; done
echo 0 >/proc/sys/net/ipv6/conf/default/disable_ipv6
echo 0 >/proc/sys/net/ipv6/conf/all/disable_ipv6
finish
