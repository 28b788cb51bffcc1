#!/usr/bin/env bash
# Usage: scripts/run-qemu.sh [options] [-- extra QEMU arguments]
#
# Boots the guest (the bzImage of build/linux-build, or build/linux-kasan-build
# with KASAN=1, and build/initramfs.cpio.gz) on a q35 machine with N pci-ice-mp
# devices, each behind its own PCIe root port, a serial console on this
# terminal and a QMP socket. Prints the exact QEMU command before it runs it.
#
#   --devices N           pci-ice-mp devices (default 1; 0..16); not with
#                         --numa-nodes (use --devices-per-node there)
#   --ports P             ports per device (default 4; 1..16)
#   --vfs V               SR-IOV TotalVFs per device (default 8; 0..64)
#   --event-depth D       event FIFO depth (default: the device's, 64)
#   --numa-nodes K        K NUMA nodes (0: none, the default; or 2..8), one
#                         pxb-pcie expander bus and one CPU socket each; --cpus
#                         and --mem must divide evenly by K
#   --devices-per-node D  with --numa-nodes: D devices per node (default 1;
#                         devices = K*D, at most 16)
#   --mem MIB             guest memory (default 512)
#   --cpus C              vCPUs (default 2)
#   --accel auto|kvm|tcg|mttcg
#                         accelerator (default auto: KVM when /dev/kvm opens
#                         read-write and the QEMU build has KVM, else TCG;
#                         kvm without both is an error); the choice and why
#                         go to stderr. tcg runs the vCPUs on one thread,
#                         mttcg on one each (racy in QEMU 10.2: see below)
#   --mode demo|test      demo: a shell; test: the test agent (default demo)
#   --append ARGS         extra kernel command line
#   --qmp PATH            QMP socket (default build/qmp.sock)
#   --wire SPEC           cable ports back to back, as the kernel's
#                         net/forwarding selftests cable NIC ports: SPEC is a
#                         comma-separated list of cables D.P-D.P (port P of
#                         device D; e.g. 0.0-0.1,0.2-1.2) or D.P-host:PATH (a
#                         unix stream socket QEMU listens on, for a host-side
#                         harness); each port in at most one cable; repeatable
#   --peer-nic MODEL      add two NICs of MODEL (igb or virtio-net-pci), peer0
#                         and peer1, each behind its own root port, cabled to
#                         each other (to compare with them in the same guest)
#   --host-root           give the guest this machine's root file system,
#                         read-only, over virtio-9p (mount tag hostroot; the
#                         guest mounts it at /host): the kernel's selftests and
#                         the tools they need run from there
#   --print-args          print the machine and device arguments only, one per
#                         line, without console, QMP or display (for the test runner)
#   --dry-run             print the command, do not run it
#
# Device i gets macaddr 52:54:00:1c:<i>:00, so port n of device i has MAC
# 52:54:00:1c:<i>:<n>, and net clients ice<i>.p<n> (QMP: set_link ice0.p1 off).
#
# Wiring: the k-th D.P-D.P cable is QEMU hub k with two hubports, wire-ice<D>.p<P>
# (one per end), and nothing else on it; a host cable is a stream netdev
# wire-ice<D>.p<P> listening on PATH (each frame: 4-byte big-endian length, then
# the frame). The device's netdevs list cannot skip a port, so an unwired port
# below a wired one gets a hubport alone on a hub of its own (open-ice<D>.p<P>;
# its frames go nowhere, as with no backend). QEMU warns "hub K is not
# connected to host network" for each hub: expected. A cable carries frames
# only: set_link on one end leaves the other end's link up. --peer-nic: peer<j>
# has MAC 52:54:00:1d:00:0<j>, and their cable is the hub after the D.P-D.P ones.
source "$(dirname "$0")/lib.sh"

devices=1 devices_set=0 ports=4 vfs=8 depth="" numa_nodes=0 per_node="" mem=512 cpus=2 mode=demo
accel=auto append="" qmp=$BUILD/qmp.sock print_args=0 dry_run=0 extra=() wire="" peer_nic="" host_root=0
while [ $# -gt 0 ]; do
	case "$1" in
	--devices) need_value "$@"; need_uint "$1" "$2" 0 16; devices=$2; devices_set=1; shift ;;
	--ports) need_value "$@"; need_uint "$1" "$2" 1 16; ports=$2; shift ;;
	--vfs) need_value "$@"; need_uint "$1" "$2" 0 64; vfs=$2; shift ;;
	--event-depth) need_value "$@"; need_uint "$1" "$2" 2 1024; depth=$2; shift ;;
	--numa-nodes) need_value "$@"; need_uint "$1" "$2" 0 8; numa_nodes=$2; shift ;;
	--devices-per-node) need_value "$@"; need_uint "$1" "$2" 1 8; per_node=$2; shift ;;
	--mem) need_value "$@"; need_uint "$1" "$2" 128 16384; mem=$2; shift ;;
	--cpus) need_value "$@"; need_uint "$1" "$2" 1 8; cpus=$2; shift ;;
	--accel) need_value "$@"; case "$2" in auto | kvm | tcg | mttcg) accel=$2 ;; *) die "--accel: '$2' is not auto, kvm, tcg or mttcg" ;; esac; shift ;;
	--mode) need_value "$@"; case "$2" in demo | test) mode=$2 ;; *) die "--mode: '$2' is not demo or test" ;; esac; shift ;;
	--wire) need_value "$@"; wire+=${wire:+,}$2; shift ;;
	--peer-nic) need_value "$@"; case "$2" in igb | virtio-net-pci) peer_nic=$2 ;; *) die "--peer-nic: '$2' is not igb or virtio-net-pci" ;; esac; shift ;;
	--host-root) host_root=1 ;;
	--append) need_value "$@"; append=$2; shift ;;
	--qmp) need_value "$@"; qmp=$2; shift ;;
	--print-args) print_args=1 ;;
	--dry-run) dry_run=1 ;;
	-h | --help) usage_from_header "$0"; exit 0 ;;
	--) shift; extra=("$@"); break ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
case "$numa_nodes" in
0)
	[ -z "$per_node" ] || die "--devices-per-node needs --numa-nodes 2 or more"
	;;
1)
	die "--numa-nodes 1: one node is a machine without NUMA; use 0 (the default) or 2..8"
	;;
*)
	[ "$devices_set" = 0 ] || die "--devices does not combine with --numa-nodes: there the devices are K x D; use --devices-per-node D"
	[ -n "$per_node" ] || per_node=1
	devices=$((numa_nodes * per_node))
	[ "$devices" -le 16 ] || die "--numa-nodes $numa_nodes x --devices-per-node $per_node is $devices devices; at most 16"
	# One socket per node (a socket split over nodes is an insane topology to the guest).
	[ $((cpus % numa_nodes)) = 0 ] || die "--cpus $cpus does not divide evenly over --numa-nodes $numa_nodes (each node gets one socket of the same size)"
	[ $((mem % numa_nodes)) = 0 ] || die "--mem $mem does not divide evenly over --numa-nodes $numa_nodes (each node gets the same memory)"
	;;
esac

# Wiring (--wire): checked before anything else is looked at. wire_of[D.P] is the
# backend of a cabled port; wire_args the backends (-netdev) of the cables.
declare -A wire_of=() cable_of=()
wire_args=() hubs=0
# wire_end CABLE END: END must be an existing port D.P in no other cable.
wire_end() {
	local d p
	[[ $2 =~ ^([0-9]+)\.([0-9]+)$ ]] || die "--wire: cable '$1' is not D.P-D.P or D.P-host:PATH (device.port, like 0.0-0.1)"
	d=${BASH_REMATCH[1]} p=${BASH_REMATCH[2]}
	check_uint "--wire: cable '$1': device" "$d"
	check_uint "--wire: cable '$1': port" "$p"
	[ "$d" -lt "$devices" ] || die "--wire: cable '$1': no device $d ($devices devices: 0..$((devices - 1)))"
	[ "$p" -lt "$ports" ] || die "--wire: cable '$1': no port $p (--ports $ports: ports 0..$((ports - 1)))"
	[ -z "${cable_of[$2]:-}" ] || die "--wire: port $2 is in cables '${cable_of[$2]}' and '$1'; a port takes one cable"
	cable_of[$2]=$1 wire_of[$2]=wire-ice$d.p$p
}
if [ -n "$wire" ]; then
	[ "$devices" -gt 0 ] || die "--wire: there are no pci-ice-mp devices (--devices 0)"
	rest=$wire,
	while [ -n "$rest" ]; do
		cable=${rest%%,*} rest=${rest#*,}
		[ -n "$cable" ] || die "--wire: '$wire' has an empty cable (two commas in a row, or one at an end)"
		[[ $cable == *-* ]] || die "--wire: cable '$cable' is not D.P-D.P or D.P-host:PATH (device.port, like 0.0-0.1)"
		a=${cable%%-*} b=${cable#*-}
		[ "$a" != "$b" ] || die "--wire: cable '$cable' joins port $a to itself"
		wire_end "$cable" "$a"
		if [[ $b == host:* ]]; then
			path=${b#host:}
			[ -n "$path" ] || die "--wire: cable '$cable' has no socket path after host:"
			[[ $path == /* ]] || path=$PWD/$path
			wire_args+=(-netdev "stream,id=${wire_of[$a]},server=on,addr.type=unix,addr.path=$path")
		else
			wire_end "$cable" "$b"
			wire_args+=(-netdev "hubport,id=${wire_of[$a]},hubid=$hubs" -netdev "hubport,id=${wire_of[$b]},hubid=$hubs")
			hubs=$((hubs + 1))
		fi
	done
fi
if [ -n "$peer_nic" ]; then
	wire_args+=(-netdev "hubport,id=wire-peer0,hubid=$hubs" -netdev "hubport,id=wire-peer1,hubid=$hubs")
	hubs=$((hubs + 1))
fi

kernel=$LINUX_BUILD/arch/x86/boot/bzImage
qemu=$QEMU_BUILD/qemu-system-x86_64
make_build="make build"
[ "$KASAN" = 0 ] || make_build="make build KASAN=1"
for f in "$kernel" "$INITRAMFS" "$qemu"; do [ -e "$f" ] || die "$f missing: run '$make_build' first"; done

# kvm_why_not: why KVM cannot be used (nothing when it can): /dev/kvm must open
# read-write for this user, and this QEMU build must have the KVM accelerator.
kvm_why_not() {
	if [ ! -e /dev/kvm ]; then echo "no /dev/kvm"
	elif ! { [ -r /dev/kvm ] && [ -w /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; }; then
		echo "/dev/kvm not usable: cannot open it read-write"
	elif ! grep -qx kvm <<<"$("$qemu" -accel help 2>/dev/null || true)"; then
		echo "this QEMU build has no KVM accelerator"
	fi
}
case "$accel" in
auto)
	why=$(kvm_why_not)
	if [ -z "$why" ]; then accel=kvm why="/dev/kvm usable"; else accel=tcg; fi
	;;
kvm)
	why=$(kvm_why_not)
	[ -z "$why" ] || die "--accel kvm: $why; use --accel tcg or auto"
	why="--accel kvm"
	;;
tcg | mttcg) why="--accel $accel" ;;
esac
log "accelerator: $accel ($why)"
# QEMU 10.2's TCG resolves a TLB entry's memory section index against the
# newest memory map, while the vCPU flushes its TLB only when it next leaves
# its translated code: between the two, an MMIO access of that vCPU reaches
# the wrong region (seen: msix_table_mmio_write's and iotlb_to_section's
# assertions). One TCG thread flushes every vCPU before it runs again.
case "$accel" in
tcg) accel_arg=tcg,thread=single ;;
mttcg) accel_arg=tcg,thread=multi ;;
*) accel_arg=$accel ;;
esac

# -nodefaults: no default NIC, VGA or CD-ROM; q35's empty CD-ROM alone costs
# SeaBIOS ~32 s of ATAPI timeouts under TCG before the kernel starts.
smp=$cpus
[ "$numa_nodes" = 0 ] || smp="$cpus,sockets=$numa_nodes,cores=$((cpus / numa_nodes)),threads=1"
args=(-machine q35 -accel "$accel_arg" -smp "$smp" -m "${mem}M" -nodefaults -no-reboot
	-kernel "$kernel" -initrd "$INITRAMFS"
	-append "console=ttyS0 loglevel=5 panic=-1 icemp.mode=$mode${append:+ $append}")
for ((k = 0; k < numa_nodes; k++)); do
	args+=(-object "memory-backend-ram,id=mem$k,size=$((mem / numa_nodes))M"
		-numa "node,nodeid=$k,memdev=mem$k"
		-numa "cpu,node-id=$k,socket-id=$k"
		-device "pxb-pcie,id=pxb$k,bus_nr=$((32 * (k + 1))),numa_node=$k,bus=pcie.0")
done
args+=("${wire_args[@]}")
for ((i = 0; i < devices; i++)); do
	bus=pcie.0
	[ "$numa_nodes" = 0 ] || bus=pxb$((i / per_node))
	mac=52:54:00:1c:$(printf %02x "$i"):00
	dev="pci-ice-mp,id=ice$i,bus=rp$i,ports=$ports,vfs=$vfs,macaddr=$mac${depth:+,event-queue-depth=$depth}"
	# A cabled device: netdevs (JSON list syntax only, so the whole -device in
	# JSON) names a backend for each port up to its last cabled one.
	netdevs="" last=-1
	for ((p = 0; p < ports; p++)); do [ -z "${wire_of[$i.$p]:-}" ] || last=$p; done
	for ((p = 0; p <= last; p++)); do
		nd=${wire_of[$i.$p]:-open-ice$i.p$p}
		if [ -z "${wire_of[$i.$p]:-}" ]; then
			args+=(-netdev "hubport,id=$nd,hubid=$hubs")
			hubs=$((hubs + 1))
		fi
		netdevs+=${netdevs:+,}\"$nd\"
	done
	[ -z "$netdevs" ] || dev="{\"driver\":\"pci-ice-mp\",\"id\":\"ice$i\",\"bus\":\"rp$i\",\"ports\":$ports,\"vfs\":$vfs,\"macaddr\":\"$mac\"${depth:+,\"event-queue-depth\":$depth},\"netdevs\":[$netdevs]}"
	args+=(-device "pcie-root-port,id=rp$i,bus=$bus,chassis=$((i + 1)),slot=$((i + 1))" -device "$dev")
done
# The peer NICs' root ports take chassis 17 and 18 (the devices' are 1..16); no
# option ROM (the kernel is booted directly; efi-virtio.rom is not installed).
if [ -n "$peer_nic" ]; then
	for j in 0 1; do
		args+=(-device "pcie-root-port,id=rpp$j,bus=pcie.0,chassis=$((17 + j)),slot=$((17 + j))"
			-device "$peer_nic,id=peer$j,bus=rpp$j,mac=52:54:00:1d:00:0$j,netdev=wire-peer$j,romfile=")
	done
fi
if [ "$host_root" = 1 ]; then
	args+=(-fsdev "local,id=hostroot,path=/,security_model=none,readonly=on"
		-device "virtio-9p-pci,id=hostroot,fsdev=hostroot,mount_tag=hostroot,bus=pcie.0")
fi
args+=("${extra[@]}")

if [ "$print_args" = 1 ]; then
	printf '%s\n' "$qemu" "${args[@]}"
	exit 0
fi
args+=(-display none -vga none -serial mon:stdio -qmp "unix:$qmp,server=on,wait=off")
printf '%q ' "$qemu" "${args[@]}" >&2
printf '\n' >&2
[ "$dry_run" = 1 ] && exit 0
exec "$qemu" "${args[@]}"
