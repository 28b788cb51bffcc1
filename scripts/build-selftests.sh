#!/usr/bin/env bash
# Usage: scripts/build-selftests.sh
#
# Builds and installs, the kernel's own way (make -C tools/testing/selftests
# TARGETS=... install), the selftests that guest phase 7 runs on our ports:
# net/forwarding, drivers/net and the net/lib they share (its YNL library and
# specs, and the BPF objects drivers/net/ping.py loads), from the Linux work
# tree (build/linux, or LINUX_SRC), unmodified. The tree's UAPI headers are
# installed into build/linux-headers first (the selftests compile against
# them); the build goes to build/kselftest-build, the installed suites to
# build/kselftest, which the guest reads from the host's root file system
# (scripts/run-qemu.sh --host-root). Nothing is written into the source tree.
# An unchanged tree rebuilds only what changed; the install is made afresh.
source "$(dirname "$0")/lib.sh"

help_only_args "$@"
step_time
[ -f "$LINUX_TREE/Kbuild" ] || die "$LINUX_TREE is not a Linux tree (run 'make worktrees')"

targets="net/lib net/forwarding drivers/net"
headers=$BUILD/linux-headers
out=$BUILD/kselftest-build
dest=$BUILD/kselftest
# A new base starts afresh (tarball dates look older than generated files).
base_id=$(series_base linux "$LINUX_TREE")
if [ "$(cat "$out/.ice-mp-base" 2>/dev/null)" != "$base_id" ]; then
	rm -rf "$headers" "$out"
fi
mkdir -p "$out"
echo "$base_id" >"$out/.ice-mp-base"

log "installing the Linux UAPI headers into $headers"
make -s -C "$LINUX_TREE" O="$headers/build" INSTALL_HDR_PATH="$headers" headers_install \
	>"$out/headers.log" 2>&1 || { tail -20 "$out/headers.log" >&2; die "headers_install failed (log: $out/headers.log)"; }

log "building and installing the selftests: $targets"
rm -rf "$dest"
make -C "$LINUX_TREE/tools/testing/selftests" TARGETS="$targets" O="$out" -j"$(jobs_count)" \
	KHDR_INCLUDES="-isystem $headers/include" INSTALL_PATH="$dest" install >"$out/make.log" 2>&1 ||
	{ grep -E -B2 -A6 'error|Error' "$out/make.log" | head -40 >&2; die "selftests build failed (log: $out/make.log)"; }
for f in net/forwarding/router.sh drivers/net/ping.py net/lib/xdp_dummy.bpf.o; do
	[ -e "$dest/$f" ] || die "the selftests install has no $f (log: $out/make.log)"
done
log "selftests: $dest"
