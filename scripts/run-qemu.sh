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
#   --accel auto|kvm|tcg  accelerator (default auto: KVM when /dev/kvm opens
#                         read-write and the QEMU build has KVM, else TCG;
#                         kvm without both is an error); the choice and why
#                         go to stderr
#   --mode demo|test      demo: a shell; test: the test agent (default demo)
#   --append ARGS         extra kernel command line
#   --qmp PATH            QMP socket (default build/qmp.sock)
#   --print-args          print the machine and device arguments only, one per
#                         line, without console, QMP or display (for the test runner)
#   --dry-run             print the command, do not run it
#
# Device i gets macaddr 52:54:00:1c:<i>:00, so port n of device i has MAC
# 52:54:00:1c:<i>:<n>, and net clients ice<i>.p<n> (QMP: set_link ice0.p1 off).
source "$(dirname "$0")/lib.sh"

devices=1 devices_set=0 ports=4 vfs=8 depth="" numa_nodes=0 per_node="" mem=512 cpus=2 mode=demo
accel=auto append="" qmp=$BUILD/qmp.sock print_args=0 dry_run=0 extra=()
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
	--accel) need_value "$@"; case "$2" in auto | kvm | tcg) accel=$2 ;; *) die "--accel: '$2' is not auto, kvm or tcg" ;; esac; shift ;;
	--mode) need_value "$@"; case "$2" in demo | test) mode=$2 ;; *) die "--mode: '$2' is not demo or test" ;; esac; shift ;;
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
tcg) why="--accel tcg" ;;
esac
log "accelerator: $accel ($why)"

# -nodefaults: no default NIC, VGA or CD-ROM; q35's empty CD-ROM alone costs
# SeaBIOS ~32 s of ATAPI timeouts under TCG before the kernel starts.
smp=$cpus
[ "$numa_nodes" = 0 ] || smp="$cpus,sockets=$numa_nodes,cores=$((cpus / numa_nodes)),threads=1"
args=(-machine q35 -accel "$accel" -smp "$smp" -m "${mem}M" -nodefaults -no-reboot
	-kernel "$kernel" -initrd "$INITRAMFS"
	-append "console=ttyS0 loglevel=5 panic=-1 icemp.mode=$mode${append:+ $append}")
for ((k = 0; k < numa_nodes; k++)); do
	args+=(-object "memory-backend-ram,id=mem$k,size=$((mem / numa_nodes))M"
		-numa "node,nodeid=$k,memdev=mem$k"
		-numa "cpu,node-id=$k,socket-id=$k"
		-device "pxb-pcie,id=pxb$k,bus_nr=$((32 * (k + 1))),numa_node=$k,bus=pcie.0")
done
for ((i = 0; i < devices; i++)); do
	bus=pcie.0
	[ "$numa_nodes" = 0 ] || bus=pxb$((i / per_node))
	props="ports=$ports,vfs=$vfs,macaddr=52:54:00:1c:$(printf %02x "$i"):00${depth:+,event-queue-depth=$depth}"
	args+=(-device "pcie-root-port,id=rp$i,bus=$bus,chassis=$((i + 1)),slot=$((i + 1))"
		-device "pci-ice-mp,id=ice$i,bus=rp$i,$props")
done
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
