#!/bin/sh
# Guest side of `make bench`: one measurement per run, selected by BENCH, printed
# as "@@BENCH <name> <value>" lines for tests/host/bench.py.
#   BENCH=link NETDEV= CLIENT= N=     host set_link off/on, carrier followed here
#   BENCH=probe PF= N=                unbind + bind of the driver
#   BENCH=sriov PF= VFS= N=           sriov_numvfs VFS and back to 0
#   BENCH=events PF= COUNT= VIA=qmp|doorbell   COUNT LINK_CHANGE events for port 0
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
*) report error "unknown BENCH '$BENCH'"; exit 1 ;;
esac
