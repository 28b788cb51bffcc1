#!/usr/bin/env bash
# Usage: scripts/build-qemu.sh [--asan] [--objects SRC...]
#
# Builds qemu-system-x86_64 and the pci-ice-mp qtest from the QEMU work tree
# (build/qemu, or QEMU_SRC) into build/qemu-build: x86_64-softmmu only, TCG,
# slirp, virtio-9p (the guest's view of the host root for the kernel's
# selftests), no other optional features, only the devices of
# scripts/config/qemu-devices.mak (q35, PCIe ports, pxb-pcie, pci-ice-mp, igb,
# virtio-net, virtio-9p), no debug info (-g) but in the ASan build,
# --python=/usr/bin/python3, ccache when present
# (through its compiler links in /usr/lib/ccache: QEMU's configure names the
# compiler in meson's cross file, where meson does not add ccache itself).
# Reconfigures (in an emptied build folder) only when the source tree, its base
# commit or the options changed; ninja
# rebuilds only what a changed patch touched.
#
#   --asan   the same build with AddressSanitizer (and LeakSanitizer) into
#            build/qemu-asan-build, for the qtest run under ASan (make check-full)
#   --objects SRC...  compile only the objects of these source files (paths in
#            the tree; a compile check of the mutants), no link
#
# The Debian "+ds" tarball has no firmware blobs: configure runs with bzip2
# hidden (meson would otherwise unpack the stripped edk2 images) and
# --disable-install-blobs, and the build's pc-bios/ links to Debian's seabios
# and qemu-system-data files at run time. The QEMU sources are not touched.
source "$(dirname "$0")/lib.sh"

asan=0 objects=()
while [ $# -gt 0 ]; do
	case "$1" in
	--asan) asan=1 ;;
	--objects) shift; objects=("$@"); [ ${#objects[@]} -gt 0 ] || die "--objects needs source files"; break ;;
	-h | --help) usage_from_header "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
step_time
[ -f "$QEMU_TREE/configure" ] || die "$QEMU_TREE is not a QEMU tree (run 'make worktrees')"

# The devices are those of scripts/config/qemu-devices.mak (configure takes a
# name below the tree's configs/devices/x86_64-softmmu/: a relative path to ours).
devices=$(realpath --relative-to="$QEMU_TREE/configs/devices/x86_64-softmmu" "$TOP/scripts/config/qemu-devices")
CONFIGURE_ARGS=(
	--target-list=x86_64-softmmu --python=/usr/bin/python3
	--without-default-features --enable-tcg --enable-slirp --enable-pixman --enable-attr --enable-virtfs
	--without-default-devices --with-devices-x86_64="$devices"
	--disable-install-blobs --disable-docs
)
if [ "$asan" = 1 ]; then
	# ASan's reports name source lines: this build keeps its debug info.
	CONFIGURE_ARGS+=(--enable-asan)
	QEMU_BUILD=$QEMU_ASAN_BUILD
else
	CONFIGURE_ARGS+=(--disable-debug-info)
fi

# A PATH without bzip2: every host tool stays reachable through links, made
# again on every run so a tool installed since (dtc) is found.
host_path=$BUILD/host-path
rm -rf "$host_path.tmp"
mkdir -p "$host_path.tmp"
for f in /usr/bin/* /bin/*; do
	case ${f##*/} in bzip2 | bunzip2) ;; *) ln -sf "$f" "$host_path.tmp/" ;; esac
done
rm -rf "$host_path"
mv "$host_path.tmp" "$host_path"
export PATH=$host_path:/usr/local/sbin:/usr/sbin:/sbin
[ -d /usr/lib/ccache ] && have_cmd ccache && PATH=/usr/lib/ccache:$PATH

# The base commit is part of the stamp: files generated from an older base look
# newer than the sources of a freshly unpacked one (tarball dates).
stamp="$(cd "$QEMU_TREE" && pwd) $(series_base qemu "$QEMU_TREE") ${CONFIGURE_ARGS[*]}"
if [ ! -f "$QEMU_BUILD/build.ninja" ] || [ "$(cat "$QEMU_BUILD/.ice-mp-configured" 2>/dev/null)" != "$stamp" ]; then
	log "configuring QEMU in $QEMU_BUILD"
	rm -rf "$QEMU_BUILD"
	mkdir -p "$QEMU_BUILD"
	(cd "$QEMU_BUILD" && "$(cd "$QEMU_TREE" && pwd)/configure" "${CONFIGURE_ARGS[@]}" >configure.log 2>&1) ||
		{ tail -20 "$QEMU_BUILD/configure.log" >&2; die "QEMU configure failed (log: $QEMU_BUILD/configure.log)"; }
	echo "$stamp" >"$QEMU_BUILD/.ice-mp-configured"
fi

targets=(qemu-system-x86_64)
[ -f "$QEMU_TREE/tests/qtest/pci-ice-mp-test.c" ] && targets+=(tests/qtest/pci-ice-mp-test)
if [ ${#objects[@]} -gt 0 ]; then
	# meson names an object after its source path, '/' turned into '_'.
	all=$(ninja -C "$QEMU_BUILD" -t targets all)
	targets=()
	for src in "${objects[@]}"; do
		obj=$(sed -n "s|^\([^:]*/${src//\//_}\.o\): .*|\1|p" <<<"$all" | head -n 1)
		[ -n "$obj" ] || die "no object of $src in $QEMU_BUILD"
		targets+=("$obj")
	done
fi
log "building QEMU: ${targets[*]}"
ninja -C "$QEMU_BUILD" "${targets[@]}" >"$QEMU_BUILD/ninja.log" 2>&1 ||
	{ grep -E -B2 -A8 'error|FAILED' "$QEMU_BUILD/ninja.log" | head -60 >&2; die "QEMU build failed (log: $QEMU_BUILD/ninja.log)"; }

[ ${#objects[@]} -gt 0 ] || link_firmware "$QEMU_BUILD"
