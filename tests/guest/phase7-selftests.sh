#!/bin/sh
# Phase 7, the kernel's own selftests judge our ports: the suites of the Linux
# tree the guest kernel was built from, unmodified, as the tree's own
# `make -C tools/testing/selftests install` installed them
# (scripts/build-selftests.sh; KSELFTESTS, a path of the host), run in the
# host's root file system, which the guest reads over virtio-9p
# (scripts/run-qemu.sh --host-root), with its own /proc, /sys, /dev, /tmp and /run.
#
# Ports 0..3 of device 0 are NETIFS p1..p4, cabled p1-p2 and p3-p4
# (WIRES=0.0-0.1,0.2-0.3), as net/forwarding expects. drivers/net runs with
# NETIF = port 0 and the remote end, port 1, in the network namespace
# "remote" (REMOTE_TYPE=netns). One test point per suite: ok when the suite
# exits 0, "ok # SKIP <the reason it printed>" when it exits 4 (ksft_skip),
# not ok otherwise, and not ok when it cannot run at all. The suite's own
# result lines become diagnostics of its point.
. /tests/lib.sh

KSELFTESTS=${KSELFTESTS:-}
FORWARDING="min_max_mtu.sh router.sh bridge_vlan_aware.sh no_forwarding.sh local_termination.sh"
DRIVERS="ping.py stats.py"
TOOLS="bash jq tc ip bridge ethtool mausezahn tcpdump python3 socat timeout"
# a suite's deadline, seconds (times TIMEOUT_SCALE)
SUITE_S=1800
ROOT=/host
WIRING=0.0-0.1,0.2-0.3

# Plan: the host root, the tools, the wiring, then one point per suite.
ktap_set_plan $((3 + 5 + 2))

# --- the host's root ------------------------------------------------------------
mount_root() {
	mkdir -p "$ROOT"
	grep -q " $ROOT 9p " /proc/mounts ||
		mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose hostroot "$ROOT" ||
		return 1
	# the host's own /proc, /sys, /dev, /tmp and /run are not the guest's
	grep -q " $ROOT/proc proc " /proc/mounts || mount -t proc proc "$ROOT/proc" || return 1
	grep -q " $ROOT/sys sysfs " /proc/mounts || mount -t sysfs sysfs "$ROOT/sys" || return 1
	grep -q " $ROOT/dev devtmpfs " /proc/mounts || mount -t devtmpfs devtmpfs "$ROOT/dev" || return 1
	grep -q " $ROOT/tmp tmpfs " /proc/mounts || mount -t tmpfs tmpfs "$ROOT/tmp" || return 1
	grep -q " $ROOT/run tmpfs " /proc/mounts || mount -t tmpfs tmpfs "$ROOT/run" || return 1
	[ -d "$ROOT$KSELFTESTS/net/forwarding" ] || { diag "no $KSELFTESTS/net/forwarding in the host root"; return 1; }
}
ROOT_OK=0
[ -n "$KSELFTESTS" ] || diag "KSELFTESTS is empty: the host did not say where the suites are"
if [ -n "$KSELFTESTS" ] && mount_root; then ROOT_OK=1; fi
check "host root over virtio-9p, with the suites of $KSELFTESTS" 1 "$ROOT_OK"

# in_root CMD...: CMD in the host root, with a clean environment plus the
# variables given as NAME=VALUE words before CMD
in_root() {
	chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/tmp TERM=dumb LC_ALL=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 "$@"
}
missing_tools() {
	local t out=""
	[ "$ROOT_OK" = 1 ] || { echo "no host root"; return; }
	for t in $TOOLS; do
		in_root /bin/sh -c "command -v $t" >/dev/null 2>&1 || out="$out $t"
	done
	echo "${out# }"
}
check "the suites' tools in the host root ($TOOLS)" "" "$(missing_tools)"

# --- the ports --------------------------------------------------------------------
PF=""
NETIFS=""
ports_ready() {
	local p n
	[ "$WIRES" = "$WIRING" ] || { diag "WIRES='$WIRES', the suites need '$WIRING'"; return 1; }
	PF=$(pf_of 0) || return 1
	ifup_pf "$PF"
	for p in 0 1 2 3; do
		n=$(netdev_of "$PF" "$p") || { diag "no netdev of port $p"; return 1; }
		NETIFS="$NETIFS $n"
	done
	NETIFS=${NETIFS# }
}
PORTS_OK=0
ports_ready && PORTS_OK=1
check "ports 0..3 of device 0 cabled 0-1 and 2-3 ($NETIFS)" 1 "$PORTS_OK"

# --- the suites ---------------------------------------------------------------------
# suite_point NAME LOG STATUS: the suite's test point from its exit status, with
# its result lines (TEST: ... [ OK ] / KTAP points / SKIP lines) as diagnostics.
suite_point() {
	local why
	grep -E '^(TEST: |SKIP|(not )?ok [0-9]+ |# (Totals|SKIP|XFAIL))' "$2" | sed 's/^/# /'
	case "$3" in
	0) ktap_test_pass "$1" ;;
	4)
		why=$(grep -E 'SKIP' "$2" | tail -n 1 | sed 's/^[#[:space:]]*//; s/[[:space:]][[:space:]]*/ /g')
		skip_point "$1" "${why:-exit status 4 (ksft_skip), no reason printed}"
		;;
	*)
		# the whole log: the host keeps it in build/results/<config>.agent.log
		diag "$1: exit status $3 (124: the deadline of $((SUITE_S * TIMEOUT_SCALE)) s); its log, $(wc -l <"$2") lines:"
		sed 's/^/#   /' "$2"
		ktap_test_fail "$1"
		;;
	esac
}
# run_suite DIR NAME [NAME=VALUE...] -- ARGS...: runs DIR/NAME in the host root
run_suite() {
	local dir="$1" name="$2" log="/tmp/selftest.$2.log" vars=""
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do vars="$vars $1"; shift; done
	[ "$1" = -- ] && shift
	if [ "$ROOT_OK" != 1 ] || [ "$PORTS_OK" != 1 ]; then
		diag "$dir/$name not run: no host root or no ports"
		ktap_test_fail "$dir/$name"
		return
	fi
	# vars: NAME=VALUE words without spaces; $1 and $@ expand in the suite's bash
	# shellcheck disable=SC2086,SC2016
	in_root $vars timeout -k 10 $((SUITE_S * TIMEOUT_SCALE)) \
		/bin/bash -c 'cd "$1" && shift && exec "$@"' suite "$KSELFTESTS/$dir" "./$name" "$@" \
		>"$log" 2>&1 </dev/null
	suite_point "$dir/$name" "$log" $?
}

# net/forwarding: NETIFS on the command line, no veths; a slow machine (TCG)
# A suite stopped at its deadline cannot clean up: each starts from plain ports,
# as a freshly brought-up port is: no master, MTU 1500, no address but the IPv6
# link-local one the kernel makes again when the port comes up. (A port left
# without its link-local address sends no neighbour solicitation for traffic it
# forwards: router.sh's IPv6 cases failed that way after a plain flush.)
clean_ports() {
	local n
	for n in $NETIFS; do
		ip link set dev "$n" down 2>/dev/null
		ip link set dev "$n" nomaster 2>/dev/null
		ip addr flush dev "$n" 2>/dev/null
		ip link set dev "$n" mtu 1500 2>/dev/null
		ip link set dev "$n" up 2>/dev/null
	done
}
for t in $FORWARDING; do
	# shellcheck disable=SC2086
	run_suite net/forwarding "$t" NETIF_CREATE=no PING6=ping KSFT_MACHINE_SLOW=yes -- $NETIFS
	clean_ports
done

# drivers/net: port 0 here (192.0.2.1, 2001:db8::1), port 1 in "remote"
# (192.0.2.2, 2001:db8::2)
LOCAL=$(echo "$NETIFS" | awk '{ print $1 }')
REMOTE=$(echo "$NETIFS" | awk '{ print $2 }')
# The suites open "remote" by name, in the host root's /run/netns (a tmpfs of
# its own): the namespace is made and set up there, with the host root's ip.
rip() { in_root ip "$@"; }
remote_setup() {
	rip netns del remote 2>/dev/null
	clean_ports
	rip netns add remote &&
		rip link set "$REMOTE" netns remote &&
		rip -n remote link set lo up &&
		rip -n remote addr add 192.0.2.2/24 dev "$REMOTE" &&
		rip -n remote -6 addr add 2001:db8::2/64 dev "$REMOTE" nodad &&
		rip -n remote link set "$REMOTE" up &&
		ip addr add 192.0.2.1/24 dev "$LOCAL" &&
		ip -6 addr add 2001:db8::1/64 dev "$LOCAL" nodad &&
		ip link set "$LOCAL" up
}
[ "$PORTS_OK" != 1 ] || remote_setup || { diag "drivers/net: the remote end could not be set up"; PORTS_OK=0; }
for t in $DRIVERS; do
	run_suite drivers/net "$t" NETIF="$LOCAL" LOCAL_V4=192.0.2.1 REMOTE_V4=192.0.2.2 \
		LOCAL_V6=2001:db8::1 REMOTE_V6=2001:db8::2 REMOTE_TYPE=netns REMOTE_ARGS=remote --
done
rip netns del remote 2>/dev/null
ip addr flush dev "$LOCAL" 2>/dev/null

finish
