# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the guest test files: KTAP output (the kernel's own
# ktap_helpers.sh), checks that name what they expected, bounded waits, the
# host channel (QMP requests over the console) and pci-ice-mp register access.
# shellcheck shell=sh

. /tests/ktap_helpers.sh

PF_ID=1b36:0015
VF_ID=1b36:0016
DRIVER=${DRIVER:-ice-mp}
DEVICES=${DEVICES:-1}
PORTS=${PORTS:-4}
VFS=${VFS:-8}
DEPTH=${DEPTH:-64}
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

ktap_print_header

# check NAME EXPECTED ACTUAL: one test point that says what it expected.
check() {
	if [ "$2" = "$3" ]; then
		ktap_test_pass "$1"
	else
		ktap_print_msg "$1: expected '$2', got '$3'"
		ktap_test_fail "$1"
	fi
}

# check_true NAME CMD...: one test point that passes when CMD succeeds.
check_true() {
	local name=$1
	shift
	if "$@"; then ktap_test_pass "$name"; else ktap_print_msg "$name: '$*' failed"; ktap_test_fail "$name"; fi
}

# wait_for EXPECTED CMD...: polls CMD (every 20 ms, at most WAIT_S seconds) until
# it prints EXPECTED; prints what it printed last. A bounded wait, not a delay.
wait_for() {
	local want=$1 got tries
	shift
	tries=$((WAIT_S * 50))
	while :; do
		got=$("$@" 2>/dev/null)
		[ "$got" = "$want" ] && break
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || break
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

finish() {
	ktap_set_plan $((KTAP_TESTNO - 1)) >/dev/null
	echo "1..$((KTAP_TESTNO - 1))"
	ktap_finished
}

# --- the host channel -------------------------------------------------------
# host_qmp JSON: the host runs this QMP command; QMP_RETURN holds its JSON return
# (or the error text). host_do MACRO ARGS: a host-side macro (see guest_session.py).
host_qmp() {
	echo "@@QMP $1"
	read -r reply
	case "$reply" in
	"@@OK "*) QMP_RETURN=${reply#@@OK } ;;
	*) QMP_RETURN=${reply#@@ERR }; return 1 ;;
	esac
}
host_do() {
	echo "@@HOST $*"
	read -r reply
	case "$reply" in "@@OK"*) return 0 ;; *) ktap_print_msg "host: $reply"; return 1 ;; esac
}
qom_set() { # device property json-value
	host_qmp "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine/peripheral/$1\",\"property\":\"$2\",\"value\":$3}}"
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
bar0() { # pci address: BAR0 start, decimal
	echo $(($(cut -d' ' -f1 "/sys/bus/pci/devices/$1/resource" | head -n 1)))
}
reg_read() { # pci-address offset: decimal
	echo $(($(devmem $(($(bar0 "$1") + $2)) 32)))
}
reg_write() { # pci-address offset value
	devmem $(($(bar0 "$1") + $2)) 32 $(($3))
}
# A VF's BAR decodes once its Memory Space bit is set, as binding any VF driver
# would do (QEMU 10.0 gates VF BARs on the VF's own command register).
vf_mmio_on() { setpci -s "$1" COMMAND=0002:0002; }
# Device i has port-0 MAC 52:54:00:1c:<i>:00 (scripts/run-qemu.sh): its index is MAC byte 4.
dev_index() { echo $(($(reg_read "$1" $REG_PORT_MAC_HI) & 0xff)); }
pf_of() { # device index: its PF address
	local addr
	for addr in $(pci_ids $PF_ID); do
		[ "$(dev_index "$addr")" = "$1" ] && { echo "$addr"; return 0; }
	done
	return 1
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
stat_of() { # netdev stat-name
	ethtool -S "$1" | awk -v name="$2:" '$1 == name { print $2 }'
}
driver_of() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null || echo none; }
mac_of_port() { printf '52:54:00:1c:%02x:%02x' "$1" "$2"; }
