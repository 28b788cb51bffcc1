#!/bin/sh
# Phase 2, events: set_link and the QOM knobs on port k flip the carrier of
# exactly port k's netdev (every other port of every device unchanged); the
# fault bit; an event storm larger than the FIFO (overflow detected, exact drop
# count, links end right); events the guest injects through EVENT_DOORBELL.
. /tests/lib.sh

# Plan, per device: per port 2 set_link checks, plus "other devices unchanged"
# when there is another device (others = 1 or 0); 2 QOM link knob checks,
# 3 fault checks, 5 storm checks, 5 injected-event checks. A device that is not
# found bails out.
others=$((DEVICES > 1))
ktap_set_plan $((DEVICES * (PORTS * (2 + others) + 2 + 3 + 5 + 5)))

ifup_all

all_up() { # the "port:carrier" list with every port up
	local out="" p
	for p in $(seq 0 $((PORTS - 1))); do out="$out $p:1"; done
	echo "${out# }"
}
with_down() { # port: the list with that port down
	local out="" p
	for p in $(seq 0 $((PORTS - 1))); do
		if [ "$p" = "$1" ]; then out="$out $p:0"; else out="$out $p:1"; fi
	done
	echo "${out# }"
}
link_events_all() { # pf: link_events of every port
	local out="" port
	for port in $(seq 0 $((PORTS - 1))); do out="$out $(stat_of "$(netdev_of "$1" "$port")" link_events)"; done
	echo "${out# }"
}
plus_one_at() { # port list: the list with 1 added at that port; what is not
	# a number (a missing counter) becomes "number", which no counter reads
	echo "$2" | awk -v at="$1" '{
		for (k = 1; k <= NF; k++)
			printf "%s%s", (k > 1 ? " " : ""), ($k !~ /^[0-9]+$/ ? "number" : $k + (k - 1 == at))
		print ""
	}'
}
others_unchanged() { # device index to skip: every other device still all up
	local j
	for j in $(seq 0 $((DEVICES - 1))); do
		[ "$j" = "$1" ] && continue
		[ "$(carriers_of "$(pf_of "$j")")" = "$(all_up)" ] || return 1
	done
}

for i in $(seq 0 $((DEVICES - 1))); do
	need_pf "$i"
	pf=$PF
	for p in $(seq 0 $((PORTS - 1))); do
		set_link "ice$i.p$p" false
		check_eventually "dev$i p$p: set_link off drops only p$p" "$(with_down "$p")" carriers_of "$pf"
		# Only meaningful with another device whose events must not cross over.
		[ "$others" = 1 ] && check_true "dev$i p$p: other devices unchanged" others_unchanged "$i"
		set_link "ice$i.p$p" true
		check_eventually "dev$i p$p: set_link on restores all" "$(all_up)" carriers_of "$pf"
	done
	# QEMU's x-port-links follows set_link (phase 1 compares it with the carriers).
	p=$((PORTS - 1))
	set_link "ice$i.p$p" false
	qom_get "ice$i" x-port-links
	check "dev$i p$p: x-port-links after set_link off" "$((((1 << PORTS) - 1) & ~(1 << p)))" "$QMP_RETURN"
	set_link "ice$i.p$p" true
	qom_get "ice$i" x-port-links
	check "dev$i p$p: x-port-links after set_link on" "$(((1 << PORTS) - 1))" "$QMP_RETURN"
	qom_set "ice$i" x-port-faults 1
	check_eventually "dev$i p0: fault bit drops the carrier" "$(with_down 0)" carriers_of "$pf"
	check "dev$i p0: PORT_STATUS has FAULT" 1 "$(reg_bit "$pf" $REG_PORT_STATUS 4)"
	qom_set "ice$i" x-port-faults 0
	check_eventually "dev$i p0: fault cleared" "$(all_up)" carriers_of "$pf"

	# Storm: the host stops the VM, toggles port 0 STORM times (FIFO depth DEPTH),
	# then lets it run: exactly STORM - DEPTH events are dropped, one overflow.
	storm=$((DEPTH * 3 + 1))
	n0=$(netdev_of "$pf" 0)
	overflows=$(dev_stat "$pf" event_overflows)
	dropped=$(dev_stat "$pf" events_dropped)
	host_do storm "ice$i" 0 "$storm"
	check_eventually "dev$i: storm ends with p0 down (odd toggles)" "$(with_down 0)" carriers_of "$pf"
	check_eventually "dev$i: storm overflow counted once" "$((overflows + 1))" dev_stat "$pf" event_overflows
	check "dev$i: storm dropped exactly STORM-DEPTH" "$((dropped + storm - DEPTH))" "$(dev_stat "$pf" events_dropped)"
	check "dev$i: overflow flag cleared by the driver" 0 "$(reg_bit "$pf" $REG_EVENT_STATUS 1)"
	set_link "ice$i.p0" true
	check_eventually "dev$i: p0 back up after the storm" "$(all_up)" carriers_of "$pf"

	# Guest-injected events (self-test path of EVENT_DOORBELL).
	p=$((PORTS - 1))
	np=$(netdev_of "$pf" "$p")
	before=$(stat_of "$np" link_events)
	before_all=$(link_events_all "$pf")
	reg_write "$pf" $REG_EVENT_DOORBELL $(((EVENT_LINK_CHANGE << 8) | p))
	check_eventually "dev$i p$p: injected LINK_CHANGE counted on p$p" "$((before + 1))" stat_of "$np" link_events
	# The whole vector: one more on p$p, every other port unchanged (a check
	# that can fail with one port too, unlike "not counted on p0" was).
	check "dev$i p$p: injected LINK_CHANGE counted on p$p only" "$(plus_one_at "$p" "$before_all")" "$(link_events_all "$pf")"
	bad=$(dev_stat "$pf" bad_port_events)
	reg_write "$pf" $REG_EVENT_DOORBELL $(((EVENT_LINK_CHANGE << 8) | 200))
	check_eventually "dev$i: event for port 200 counted as bad" "$((bad + 1))" dev_stat "$pf" bad_port_events
	unknown=$(dev_stat "$pf" unknown_events)
	reg_write "$pf" $REG_EVENT_DOORBELL $(((9 << 8) | 0))
	check_eventually "dev$i: event type 9 counted as unknown" "$((unknown + 1))" dev_stat "$pf" unknown_events
	check "dev$i: links unchanged by injected events" "$(all_up)" "$(carriers_of "$pf")"
done
finish
