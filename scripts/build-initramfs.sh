#!/usr/bin/env bash
# Usage: scripts/build-initramfs.sh
#
# Packs the guest's initramfs (build/initramfs.cpio.gz): static busybox, the
# real tools users check with (ip and devlink from iproute2, ethtool, lspci and
# setpci from pciutils) with the shared libraries they load, the guest init,
# the guest test files of tests/guest/ and the kernel's own KTAP helpers
# (tools/testing/selftests/kselftest/ktap_helpers.sh of the Linux work tree),
# ynltool (tools/net/ynl of the Linux work tree, built there with the netdev
# family only: the queue statistics, `ynltool qstats show`, which no iproute2
# or ethtool reads), and icemp-bench (tests/guest/icemp-bench.c, static) for `make bench`.
source "$(dirname "$0")/lib.sh"

help_only_args "$@"
step_time

TOOLS=(/usr/sbin/ip /usr/sbin/devlink /usr/sbin/ethtool /usr/bin/lspci /usr/bin/setpci)
ktap=$LINUX_TREE/tools/testing/selftests/kselftest/ktap_helpers.sh
[ -f "$ktap" ] || die "$ktap missing (run 'make worktrees')"
for t in /bin/busybox "${TOOLS[@]}"; do [ -x "$t" ] || die "$t missing (run scripts/install-deps.sh)"; done

root=$BUILD/initramfs.root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,tests,etc,var}
# iproute2 keeps its network namespaces in /var/run/netns
ln -s ../run "$root/var/run"
cp /bin/busybox "$root/bin/busybox"
# Busybox applets, but none that would shadow a real tool of TOOLS (/bin comes
# first in the guest's PATH: busybox's own `ip` would stand in for iproute2's).
for applet in $("$root/bin/busybox" --list); do
	[[ " ${TOOLS[*]##*/} " == *" $applet "* ]] && continue
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done

# copy_with_libs FILE: the file and every shared library ldd says it loads, at their paths.
copy_with_libs() {
	local f lib
	for f in "$1" $(ldd "$1" 2>/dev/null | grep -oE '/[^ ]+'); do
		lib=$(readlink -f "$f")
		mkdir -p "$root$(dirname "$f")"
		cp -f "$lib" "$root$f"
	done
}
for t in "${TOOLS[@]}"; do copy_with_libs "$t"; done

gcc -static -O2 -Wall -Werror -o "$root/bin/icemp-bench" "$TOP/tests/guest/icemp-bench.c"
# The tree's own YNL tool; its build writes only files the tree's .gitignore lists.
make -s -C "$LINUX_TREE/tools/net/ynl" -j"$(nproc)" ynltool GENS=netdev \
	>"$BUILD/ynltool.log" 2>&1 || die "building ynltool failed (log: $BUILD/ynltool.log)"
ynl=$LINUX_TREE/tools/net/ynl/ynltool/ynltool
cp "$ynl" "$root/usr/sbin/ynltool"
for f in $(ldd "$ynl" | grep -oE '/[^ ]+'); do copy_with_libs "$f"; done
cp "$TOP/tests/guest/init" "$root/init"
cp "$TOP"/tests/guest/*.sh "$ktap" "$root/tests/"
chmod +x "$root/init" "$root"/tests/*.sh

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 >"$INITRAMFS.tmp")
mv "$INITRAMFS.tmp" "$INITRAMFS"
log "initramfs: $INITRAMFS ($(du -h "$INITRAMFS" | cut -f1))"
