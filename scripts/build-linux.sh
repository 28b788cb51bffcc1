#!/usr/bin/env bash
# Usage: scripts/build-linux.sh [--kasan] [--as-configured] [--objects SRC...]
#
# Builds the guest kernel (bzImage) from the Linux work tree (build/linux, or
# LINUX_SRC) out of tree in build/linux-build: tinyconfig plus the fragment
# scripts/config/guest.config merged with the tree's own merge_config.sh, ice
# built in with its KUnit suite, and the debug options the test runner relies
# on. Every option the fragment asks for must end up set as asked, or the build
# stops and names it. --kasan (or KASAN=1) adds scripts/config/kasan.config and
# builds in build/linux-kasan-build instead, so the default kernel stays; the
# KASAN guest is slower (run-qemu.sh boots it when KASAN=1, and the guest
# timeouts scale by ICEMP_TIMEOUT_SCALE, 4 unless set).
# ccache is used when present; an unchanged config rebuilds nothing; a new
# base commit empties the build folder first.
#
#   --kasan          the KASAN kernel (as KASAN=1)
#   --as-configured  build with the .config the build folder has, without
#                    configuring again (a mutant: a copy of a built folder)
#   --objects SRC... compile only the objects of these C files of the tree
#                    (a compile check of the mutants), no image
source "$(dirname "$0")/lib.sh"

objects=() configure=1
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage_from_header "$0"; exit 0 ;;
	--kasan) set_kasan 1 ;; # as KASAN=1: LINUX_BUILD is build/linux-kasan-build
	--as-configured) configure=0 ;;
	--objects) shift; objects=("$@"); [ ${#objects[@]} -gt 0 ] || die "--objects needs source files"; break ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
step_time
[ -f "$LINUX_TREE/Kbuild" ] || die "$LINUX_TREE is not a Linux tree (run 'make worktrees')"

fragments=("$TOP/scripts/config/guest.config")
[ "$KASAN" = 0 ] || fragments+=("$TOP/scripts/config/kasan.config")
cc=gcc
have_cmd ccache && cc="ccache gcc"
kmake() { make -C "$LINUX_TREE" O="$LINUX_BUILD" CC="$cc" -j"$(jobs_count)" "$@"; }

if [ "$configure" = 0 ]; then
	[ -f "$LINUX_BUILD/.config" ] || die "--as-configured: $LINUX_BUILD has no .config"
else
	# Files generated in the build folder from an older base look newer than the
	# sources of a freshly unpacked base (tarball dates): a new base starts afresh.
	base_id=$(series_base linux "$LINUX_TREE")
	if [ "$(cat "$LINUX_BUILD/.ice-mp-base" 2>/dev/null)" != "$base_id" ]; then
		[ ! -d "$LINUX_BUILD" ] || log "the Linux base changed: emptying $LINUX_BUILD"
		rm -rf "$LINUX_BUILD"
	fi
	mkdir -p "$LINUX_BUILD"
	echo "$base_id" >"$LINUX_BUILD/.ice-mp-base"
	log "configuring Linux: tinyconfig + ${fragments[*]##*/}"
	kmake -s tinyconfig >/dev/null
	"$LINUX_TREE/scripts/kconfig/merge_config.sh" -m -O "$LINUX_BUILD" "$LINUX_BUILD/.config" "${fragments[@]}" >"$LINUX_BUILD/merge.log" 2>&1
	kmake -s olddefconfig >/dev/null

	# merge_config.sh only warns; a requested option that did not stick is an error here.
	bad=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) opt=${line%%=*} want=$line ;;
		"# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}; want="" ;;
		*) continue ;;
		esac
		got=$(grep -E "^$opt=" "$LINUX_BUILD/.config" || true)
		if [ "$got" != "$want" ]; then
			warn "$opt: fragment asks '${want:-not set}', .config has '${got:-not set}'"
			bad=1
		fi
	done < <(cat "${fragments[@]}")
	[ "$bad" = 0 ] || die "the guest kernel config does not match the fragment (see above)"
fi

targets=(bzImage)
if [ ${#objects[@]} -gt 0 ]; then
	targets=()
	for src in "${objects[@]}"; do
		case "$src" in *.c) targets+=("${src%.c}.o") ;; *) die "--objects: $src is no C file" ;; esac
	done
fi
log "building Linux ${targets[*]}"
kmake "${targets[@]}" >"$LINUX_BUILD/make.log" 2>&1 ||
	{ grep -E -B2 -A6 'error|Error' "$LINUX_BUILD/make.log" | head -60 >&2; die "Linux build failed (log: $LINUX_BUILD/make.log)"; }
log "kernel: $LINUX_BUILD/arch/x86/boot/bzImage"
