#!/bin/sh
# Guest side of `make bench`: one measurement per run, selected by BENCH, printed
# as "@@BENCH <name> <value>" lines for tests/host/bench.py.
#   BENCH=link NETDEV= CLIENT= N=     host set_link off/on, carrier followed here
#   BENCH=probe PF= N=                unbind + bind of the driver
#   BENCH=sriov PF= VFS= N=           sriov_numvfs VFS and back to 0
#   BENCH=events PF= COUNT= VIA=qmp|doorbell   COUNT LINK_CHANGE events for port 0
#   BENCH=dp A_MAC= B_MAC= DP_SECONDS= traffic between two cabled netdevs (found by
#                                     MAC), each in a namespace of its own: ping
#                                     latency, TCP throughput, UDP 64-byte frames
#                                     (pps) and 1514-byte frames (Mbit/s)
. /tests/lib.sh >/dev/null

now() { icemp-bench now; }
us_since() { echo $((($(now) - $1) / 1000)); }
report() { echo "@@BENCH $1 $2"; }
wait_carrier() { # netdev value: tight poll, bounded at 5000 reads
	tries=5000
	while [ "$(cat "/sys/class/net/$1/carrier")" != "$2" ] && [ $tries -gt 0 ]; do tries=$((tries - 1)); done
	[ $tries -gt 0 ]
}

case "$BENCH" in
link)
	ip link set "$NETDEV" up
	t0=$(now)
	for k in $(seq 1 "$N"); do
		set_link "$CLIENT" false && wait_carrier "$NETDEV" 0 || { report error link-down; exit 1; }
		set_link "$CLIENT" true && wait_carrier "$NETDEV" 1 || { report error link-up; exit 1; }
	done
	report link_toggle_us $(($(us_since "$t0") / (2 * N)))
	;;
probe)
	for k in $(seq 1 "$N"); do
		echo "$PF" >"/sys/bus/pci/drivers/$DRIVER/unbind"
		t0=$(now)
		echo "$PF" >"/sys/bus/pci/drivers/$DRIVER/bind"
		report probe_us "$(us_since "$t0")"
	done
	;;
sriov)
	for k in $(seq 1 "$N"); do
		t0=$(now)
		echo "$VFS" >"/sys/bus/pci/devices/$PF/sriov_numvfs"
		report sriov_enable_us "$(us_since "$t0")"
		t0=$(now)
		echo 0 >"/sys/bus/pci/devices/$PF/sriov_numvfs"
		report sriov_disable_us "$(us_since "$t0")"
	done
	;;
events)
	n0=$(netdev_of "$PF" 0)
	seen0=$(stat_of "$n0" link_events)
	drop0=$(dev_stat "$PF" events_dropped)
	ovf0=$(dev_stat "$PF" event_overflows)
	word=$((EVENT_LINK_CHANGE << 8))
	t0=$(now)
	if [ "$VIA" = qmp ]; then
		host_do inject ice0 "$COUNT" "$word" || exit 1
	else
		icemp-bench doorbell "/sys/bus/pci/devices/$PF/resource0" "$COUNT" "$word" >/dev/null || exit 1
	fi
	# Done when every event is either delivered or counted as dropped, or
	# after WAIT_S seconds (what is missing then is reported as unaccounted).
	deadline=$(($(now) + WAIT_S * 1000000000))
	while :; do
		seen=$(($(stat_of "$n0" link_events) - seen0))
		dropped=$(($(dev_stat "$PF" events_dropped) - drop0))
		[ $((seen + dropped)) -ge "$COUNT" ] && break
		[ "$(now)" -lt "$deadline" ] || break
		usleep 20000
	done
	elapsed=$(us_since "$t0")
	report events_delivered "$seen"
	report events_dropped "$dropped"
	report events_unaccounted $((COUNT - seen - dropped))
	report overflows $(($(dev_stat "$PF" event_overflows) - ovf0))
	report elapsed_us "$elapsed"
	;;
dp)
	by_mac() { # mac: the netdev with that address
		for d in /sys/class/net/*; do
			[ "$(cat "$d/address")" = "$1" ] && { echo "${d##*/}"; return 0; }
		done
		return 1
	}
	na=$(by_mac "$A_MAC") && nb=$(by_mac "$B_MAC") || { report error "no netdev with $A_MAC or $B_MAC"; exit 1; }
	for end in "ba $na 10.98.0.1" "bb $nb 10.98.0.2"; do
		set -- $end
		ip netns add "$1" && ip link set "$2" netns "$1" && ip -n "$1" link set lo up &&
			ip -n "$1" addr add "$3/24" dev "$2" && ip -n "$1" link set "$2" up ||
			{ report error "setting up $2 in $1"; exit 1; }
	done
	carriers() { echo "$(ip netns exec ba cat "/sys/class/net/$na/carrier") $(ip netns exec bb cat "/sys/class/net/$nb/carrier")"; }
	[ "$(wait_for "1 1" carriers)" = "1 1" ] || { report error "no carrier on $na and $nb"; exit 1; }
	# the first ping also resolves the addresses (ARP), outside the figures
	ip netns exec ba ping -q -c 1 -W 5 10.98.0.2 >/dev/null || { report error "no ping from $na to $nb"; exit 1; }
	rtt=$(ip netns exec ba ping -q -c 20 -i 0.05 10.98.0.2 | sed -n 's|.* = [0-9.]*/\([0-9.]*\)/.*|\1|p')
	report ping_avg_us "$(echo "$rtt" | awk '{ printf "%d", $1 * 1000 }')"
	listening() { ip netns exec bb cat "/proc/net/$1" | grep -c ":$2 00000000:0000 $3"; }
	# sink_run PROTO PORT STATE SIZE: one run; /tmp/sink.out "frames bytes ns"
	# at the sink, /tmp/sent.out the sends that succeeded
	sink_run() {
		ip netns exec bb icemp-bench sink "$1" "$2" 2 >/tmp/sink.out &
		if [ "$(wait_for 1 listening "$1" "$(printf %04X "$2")" "$3")" != 1 ]; then
			report error "no $1 sink on port $2"
			exit 1
		fi
		ip netns exec ba icemp-bench send "$1" 10.98.0.2 "$2" "$4" "$DP_SECONDS" >/tmp/sent.out
		wait
	}
	sink_run tcp 5201 0A 65536
	set -- $(cat /tmp/sink.out)
	report tcp_mbps $(($2 * 8000 / ($3 + 1)))
	sink_run udp 5202 07 18
	set -- $(cat /tmp/sink.out)
	report udp64_pps $(($1 * 1000000000 / ($3 + 1)))
	report udp64_sent_pps $(($(cat /tmp/sent.out) / DP_SECONDS))
	sink_run udp 5203 07 1472
	set -- $(cat /tmp/sink.out)
	report udp1514_mbps $(($1 * 1514 * 8000 / ($3 + 1)))
	ip netns del ba
	ip netns del bb
	;;
*) report error "unknown BENCH '$BENCH'"; exit 1 ;;
esac
