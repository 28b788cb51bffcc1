# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the guest test files: KTAP output (the kernel's own
# ktap_helpers.sh), checks that name what they expected, bounded waits, the
# host channel (QMP requests over the agent's serial line) and pci-ice-mp
# register access.
#
# A test file sources this file, then states its plan (`ktap_set_plan N`, N
# computed from the layout: DEVICES, PORTS, VFS, ...) before anything can print
# a test point, and ends with `finish`: the file exits 0 only if exactly N
# points passed or were skipped and every host request succeeded.
# shellcheck shell=sh

. /tests/ktap_helpers.sh

PF_ID=1af4:10f0
VF_ID=1af4:10f1
DRIVER=${DRIVER:-ice-mp}
DEVICES=${DEVICES:-1}
PORTS=${PORTS:-4}
VFS=${VFS:-8}
DEPTH=${DEPTH:-64}
# Every timeout of the guest files is multiplied by TIMEOUT_SCALE (a whole
# number >= 1 the host passes for slow machines).
TIMEOUT_SCALE=${TIMEOUT_SCALE:-1}
WAIT_S=${WAIT_S:-10}

# Register offsets (docs/pci-ice-mp-spec.md)
REG_MP_CAPS=0x000
REG_MP_PORT_COUNT=0x004
REG_MP_MAGIC=0x008
REG_PORT_STATUS=0x010
REG_EVENT_DOORBELL=0x100
REG_EVENT_STATUS=0x104
REG_PORT_MAC_HI=0x404
VF_REG_PORT_ID=0x000
VF_REG_PORT_STATUS=0x004
VF_REG_NUMBER=0x008
VF_REG_VF2PF_MBX=0x010
VF_REG_PF2VF_MBX=0x014
VF_REG_EVENT_STATUS=0x018
EVENT_LINK_CHANGE=1
EVENT_VF_MAILBOX=3

# The guest's busybox runs its own applets before looking at PATH: its ip
# would shadow iproute2's (which has netns, -n, -d and -j).
ip() { /usr/sbin/ip "$@"; }

ktap_print_header

# diag TEXT: a KTAP diagnostic; every line of TEXT gets its "# ".
diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# need_number NAME MIN: bails out unless variable NAME is a whole number >= MIN
# (decimal, no leading zeros: the shell would read 010 as octal).
need_number() {
	local value
	eval "value=\${$1}"
	case "$value" in
	0 | [1-9] | [1-9]*[0-9])
		case "$value" in *[!0-9]*) ;; *) [ "$value" -ge "$2" ] && return 0 ;; esac ;;
	esac
	echo "Bail out! $1='$value' is not a whole number >= $2"
	exit 1
}
need_number TIMEOUT_SCALE 1
need_number WAIT_S 1
need_number DEVICES 1
need_number PORTS 1
need_number VFS 0
need_number DEPTH 2
WAIT_S=$((WAIT_S * TIMEOUT_SCALE))

# check NAME EXPECTED ACTUAL: one test point that says what it expected.
check() {
	if [ "$2" = "$3" ]; then
		ktap_test_pass "$1"
	else
		diag "$1: expected '$2', got '$3'"
		ktap_test_fail "$1"
	fi
}

# check_true NAME CMD...: one test point that passes when CMD succeeds.
check_true() {
	local name=$1
	shift
	if "$@"; then ktap_test_pass "$name"; else diag "$name: '$*' failed"; ktap_test_fail "$name"; fi
}

# quiet CMD...: runs CMD; what it printed becomes diagnostics, only if it fails
# (keeps tool chatter such as devlink's "reload_actions_performed" out of KTAP).
quiet() {
	local out
	out=$("$@" 2>&1) && return 0
	set -- $? "$*"
	[ -z "$out" ] || diag "$2: $out"
	return "$1"
}

# skip_point NAME WHY: one skipped test point, "ok N NAME # SKIP WHY" (the
# kernel's ktap_test_skip gives no reason).
skip_point() {
	echo "ok $KTAP_TESTNO $1 # SKIP $2"
	KTAP_TESTNO=$((KTAP_TESTNO + 1))
	KTAP_CNT_SKIP=$((KTAP_CNT_SKIP + 1))
}

# uptime_cs: UPTIME_CS = time since boot in centiseconds, from /proc/uptime
# ("123.45 ..."; always two decimals). A clock, unlike counting polls.
uptime_cs() {
	local up frac
	read -r up _ </proc/uptime
	frac=${up#*.}
	UPTIME_CS=$((${up%.*} * 100 + ${frac#0}))
}

# wait_for EXPECTED CMD...: runs CMD every 20 ms until it prints EXPECTED or
# WAIT_S seconds (already scaled by TIMEOUT_SCALE) have passed on the clock;
# prints what CMD printed last. A bounded wait, not a delay: CMD runs at least
# once, and once more after the deadline if the last try started before it.
wait_for() {
	local want=$1 got deadline
	shift
	uptime_cs
	deadline=$((UPTIME_CS + WAIT_S * 100))
	while :; do
		got=$("$@" 2>/dev/null)
		[ "$got" = "$want" ] && break
		uptime_cs
		[ "$UPTIME_CS" -lt "$deadline" ] || break
		usleep 20000
	done
	echo "$got"
}

# check_eventually NAME EXPECTED CMD...
check_eventually() {
	local name=$1 want=$2
	shift 2
	check "$name" "$want" "$(wait_for "$want" "$@")"
}

# finish: ends a test file. ktap_finished exits 0 only if passes + skips equal
# the plan; a failed host request (HOST_ERRORS) fails the file as well, even
# where no check depended on it.
finish() {
	if [ "$HOST_ERRORS" -gt 0 ]; then
		diag "$HOST_ERRORS host request(s) failed (see the '# host:' lines)"
		ktap_print_totals
		exit "$KSFT_FAIL"
	fi
	ktap_finished
}

# --- the host channel -------------------------------------------------------
# host_qmp JSON: the host runs this QMP command; QMP_RETURN holds its JSON return
# (or the error text). host_do MACRO ARGS: a host-side macro (see tests/host/guest.py).
# A failure prints "# host: <error>" and counts in HOST_ERRORS, which fails the
# file at finish. Never call them inside $(...): the request would not reach the
# host and the count would be lost.
HOST_ERRORS=0
host_qmp() {
	local reply
	echo "@@QMP $1"
	read -r reply
	case "$reply" in
	"@@OK "*) QMP_RETURN=${reply#@@OK } ;;
	*)
		QMP_RETURN=${reply#@@ERR }
		HOST_ERRORS=$((HOST_ERRORS + 1))
		diag "host: QMP $1 failed: ${QMP_RETURN:-no reply}"
		return 1
		;;
	esac
}
host_do() {
	local reply
	echo "@@HOST $*"
	read -r reply
	case "$reply" in
	"@@OK"*) return 0 ;;
	*)
		HOST_ERRORS=$((HOST_ERRORS + 1))
		diag "host: $* failed: ${reply:-no reply}"
		return 1
		;;
	esac
}
qom_set() { # device property json-value
	host_qmp "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine/peripheral/$1\",\"property\":\"$2\",\"value\":$3}}"
}
qom_get() { # device property: QMP_RETURN = its JSON value
	host_qmp "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/$1\",\"property\":\"$2\"}}"
}
set_link() { # net-client up(true|false)
	host_qmp "{\"execute\":\"set_link\",\"arguments\":{\"name\":\"$1\",\"up\":$2}}"
}

# --- devices -------------------------------------------------------------------
pci_ids() { # vendor:device: PCI addresses with that ID
	local dir
	for dir in /sys/bus/pci/devices/*; do
		[ "$(cat "$dir/vendor"):$(cat "$dir/device")" = "0x${1%:*}:0x${1#*:}" ] && echo "${dir##*/}"
	done
}
bar0() { # pci address: BAR0 start, decimal; fails for no device or an unassigned BAR
	local line
	line=$(head -n 1 "/sys/bus/pci/devices/$1/resource" 2>/dev/null) || return 1
	line=${line%% *}
	case "$line" in 0x*[!0]*) echo $((line)) ;; *) return 1 ;; esac
}
# reg_read pci-address offset: the register, decimal. When there is no BAR to
# read (no such device), prints "no BAR0 at '<address>'" and fails: a value that
# no check expects, rather than a read of physical address 0.
reg_read() {
	local base value
	base=$(bar0 "$1") || { echo "no BAR0 at '$1'"; return 1; }
	value=$(devmem $((base + $2)) 32) || { echo "devmem failed at '$1' + $2"; return 1; }
	echo $((value))
}
reg_bit() { # pci-address offset bit: 0 or 1 (or reg_read's error text)
	local value
	value=$(reg_read "$1" "$2") || { echo "$value"; return 1; }
	echo $(((value >> $3) & 1))
}
reg_write() { # pci-address offset value
	local base
	base=$(bar0 "$1") || { diag "no BAR0 at '$1' to write"; return 1; }
	devmem $((base + $2)) 32 $(($3))
}
# A VF's BAR decodes once its Memory Space bit is set, as binding any VF driver
# would do (QEMU 10.0 gates VF BARs on the VF's own command register).
# An empty address would select every device: refused.
vf_mmio_on() { [ -n "$1" ] && setpci -s "$1" COMMAND=0002:0002; }
# Device i has port-0 MAC 52:54:00:1c:<i>:00 (scripts/run-qemu.sh): its index is MAC byte 4.
dev_index() {
	local value
	value=$(reg_read "$1" $REG_PORT_MAC_HI) || { echo none; return 1; }
	echo $((value & 0xff))
}
pf_of() { # device index: its PF address
	local addr
	for addr in $(pci_ids $PF_ID); do
		[ "$(dev_index "$addr")" = "$1" ] && { echo "$addr"; return 0; }
	done
	return 1
}
# need_pf INDEX: PF = the address of device INDEX, or bail out (the missing
# points make the run fail against the plan, and so does the exit status).
need_pf() {
	PF=$(pf_of "$1") || ktap_exit_fail_msg "device $1 not found (no PF $PF_ID with port-0 MAC $(mac_of_port "$1" 0))"
}
netdevs_of() { ls "/sys/bus/pci/devices/$1/net" 2>/dev/null | sort; }
netdev_of() { # pf port
	local dev
	for dev in $(netdevs_of "$1"); do
		[ "$(cat "/sys/class/net/$dev/dev_port")" = "$2" ] && { echo "$dev"; return 0; }
	done
	return 1
}
# Carrier is only defined for an interface that is up: bring a PF's netdevs up.
ifup_pf() {
	local dev
	for dev in $(netdevs_of "$1"); do ip link set "$dev" up; done
}
ifup_all() {
	local addr
	for addr in $(pci_ids $PF_ID); do ifup_pf "$addr"; done
}
carrier() { cat "/sys/class/net/$1/carrier" 2>/dev/null || echo none; }
carriers_of() { # pf: "port:carrier" for every port
	local out="" port
	for port in $(seq 0 $((PORTS - 1))); do out="$out $port:$(carrier "$(netdev_of "$1" "$port")")"; done
	echo "${out# }"
}
stat_of() { # netdev stat-name: the ethtool -S counter, or "none"
	local value
	value=$(ethtool -S "$1" 2>/dev/null | awk -v name="$2:" '$1 == name { print $2 }')
	echo "${value:-none}"
}
json_field() { # json key: the first value of "key" in one line of JSON (quotes dropped)
	printf '%s' "$1" | grep -o "\"$2\":[^,}]*" | head -n 1 | cut -d: -f2- | tr -d '"'
}
qstats() { # netns netdev name...: the netdev's queue statistics ("ynltool qstats show"), "none" for one it lacks
	local ns=$1 dev=$2
	shift 2
	ip netns exec "$ns" ynltool qstats show 2>/dev/null | awk -v dev="$dev" -v names="$*" '
		/^[^ \t]/ { on = ($1 == dev) }
		on { for (i = 1; i < NF; i++) val[$i] = $(i + 1) }
		END { n = split(names, want, " ")
		      for (k = 1; k <= n; k++) printf "%s%s", (k > 1 ? " " : ""), ((want[k] ":") in val ? val[want[k] ":"] : "none")
		      print "" }'
}
dev_stat() { # pf name: a device-wide counter (devlink health diagnose of reporter "device"), or "none"
	local value
	value=$(json_field "$(devlink -j health diagnose "pci/$1" reporter device 2>/dev/null)" "$2")
	echo "${value:-none}"
}
health_of() { # pf: "<state> errors=<n> recovered=<n>" of the devlink health reporter "device"
	local out
	out=$(devlink -j health show "pci/$1" reporter device 2>/dev/null) || { echo none; return; }
	echo "$(json_field "$out" state) errors=$(json_field "$out" error) recovered=$(json_field "$out" recover)"
}
driver_of() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null || echo none; }
mac_of_port() { printf '52:54:00:1c:%02x:%02x' "$1" "$2"; }
