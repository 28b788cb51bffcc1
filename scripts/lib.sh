# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for the pci-ice-mp scripts. Source it; do not run it.
# shellcheck shell=bash

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$TOP/build}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/pci-ice-mp
QEMU_BUILD=$BUILD/qemu-build
# The same QEMU with AddressSanitizer, for the qtest only (build-qemu.sh --asan).
QEMU_ASAN_BUILD=$BUILD/qemu-asan-build
# LINUX_BUILD ($BUILD/linux-build, or linux-kasan-build with KASAN=1): set_kasan below.
INITRAMFS=$BUILD/initramfs.cpio.gz
BASE_ENV=$BUILD/base.env
# Work trees: ours under build/ unless the user points at a fork.
QEMU_TREE=${QEMU_SRC:-$BUILD/qemu}
LINUX_TREE=${LINUX_SRC:-$BUILD/linux}
# The branch the series is applied on, in our trees and in user forks.
SERIES_BRANCH=ice-mp
# The upstream release series the patches are based on (scripts/fetch-sources.sh
# resolves each to its newest point release that the archive serves).
QEMU_SERIES=${QEMU_SERIES:-10.2}
LINUX_SERIES=${LINUX_SERIES:-7.2}

export CCACHE_DIR=${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccache}
export CCACHE_BASEDIR=$TOP
export CCACHE_NOHASHDIR=1
# Work-tree commits are made with fixed identities and dates so the base commit
# id is the same on every machine (the cover letters name it as base-commit).
BASE_IDENT=(-c user.name="pci-ice-mp base" -c user.email="base@pci-ice-mp.invalid")

log() { printf '==> %s\n' "$*" >&2; }
# step_time: the script says at its end how long it took, as one line
# "==> step NAME: N s (status S)" (make check's output is the build-step table).
step_time() { trap 'log "step ${0##*/}: $SECONDS s (status $?)"' EXIT; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# usage_from_header FILE: print the leading comment block of a script as its --help.
usage_from_header() {
	sed -n '2,/^[^#]/{/^#/!q;s/^# \{0,1\}//;p}' "$1"
}

# help_only_args "$@": a script that takes no options but --help
help_only_args() {
	local arg
	for arg in "$@"; do
		case "$arg" in
		-h | --help) usage_from_header "$0"; exit 0 ;;
		*) die "unknown option '$arg' (see --help)" ;;
		esac
	done
}

need_value() { # option value
	[ $# -ge 2 ] && [ -n "$2" ] || die "option $1 needs a value (see --help)"
}

# check_uint WHAT VALUE [MIN] [MAX]: VALUE must be a plain decimal whole number
# (digits only, no sign, no leading zero, at most 9 digits) within MIN..MAX;
# dies naming WHAT otherwise. Checked before any shell arithmetic sees it.
check_uint() {
	local what=$1 v=$2 min=${3:-} max=${4:-}
	[[ $v =~ ^[0-9]+$ ]] || die "$what: '$v' is not a whole number (decimal digits only)"
	[ ${#v} -le 9 ] || die "$what: '$v' is too large (more than 9 digits)"
	[[ $v =~ ^(0|[1-9][0-9]*)$ ]] || die "$what: '$v' has a leading zero (write $((10#$v)))"
	if [ -n "$min" ] && [ "$v" -lt "$min" ]; then die "$what: $v is below the minimum $min"; fi
	if [ -n "$max" ] && [ "$v" -gt "$max" ]; then die "$what: $v is above the maximum $max"; fi
	return 0
}

need_uint() { # option value [min] [max]
	check_uint "option $1" "$2" "${3:-}" "${4:-}"
}

# check_series NAME VALUE: a release series is MAJOR.MINOR (10.2, 7.2).
check_series() {
	[[ $2 =~ ^[1-9][0-9]?\.[0-9]{1,2}$ ]] || die "$1='$2': a release series is MAJOR.MINOR, like 10.2 or 7.2"
}

# trees_from_args WHAT ARGS...: TREES = the trees named (qemu, linux), both when
# none is; anything else dies, calling it a WHAT. Checked before any work starts.
trees_from_args() {
	local what=$1 arg
	shift
	TREES=()
	for arg in "$@"; do
		case "$arg" in
		qemu | linux) TREES+=("$arg") ;;
		*) die "unknown $what '$arg' (qemu or linux; see --help)" ;;
		esac
	done
	[ ${#TREES[@]} -gt 0 ] || TREES=(qemu linux)
}

jobs_count() { nproc 2>/dev/null || echo 2; }
# guest_jobs: how many guests run side by side (ICEMP_JOBS, a whole number
# 1..16, else the cores up to 2: under TCG a guest keeps one core busy).
guest_jobs() {
	local n=${ICEMP_JOBS:-}
	[ -n "$n" ] || n=$(($(jobs_count) < 2 ? 1 : 2))
	check_uint ICEMP_JOBS "$n" 1 16
	echo "$n"
}

# series_patches DIR: the patch files of a series, in order (the cover letter excluded).
series_patches() {
	find "$1" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' | sort
}

# patch_ids_of_files DIR / patch_ids_of_range TREE RANGE: stable patch ids, one per line,
# so a work tree can be compared with the committed series whatever the commit ids are.
patch_ids_of_files() {
	local f
	for f in $(series_patches "$1"); do git patch-id --stable <"$f" | cut -d' ' -f1; done
}
patch_ids_of_range() {
	git -C "$1" format-patch --stdout "$2" | git patch-id --stable | cut -d' ' -f1
}

tree_is_clean() { # tree: no uncommitted changes (staged or not) to tracked files
	[ -z "$(git -C "$1" status --porcelain --untracked-files=no)" ]
}

# tree_git_path TREE NAME: the absolute path of NAME in TREE's git dir, right for
# plain checkouts and for `git worktree` trees alike (whose .git is a file).
tree_git_path() {
	git -C "$1" rev-parse --path-format=absolute --git-path "$2"
}

# series_mark TREE: the file apply-series.sh keeps in TREE's git dir: line 1 the
# base commit the series was applied on, then the patch ids of the series.
series_mark() {
	tree_git_path "$1" ice-mp-applied
}

# tree_operation TREE: prints the git operation in progress in TREE (rebase, git am,
# bisect, merge, cherry-pick, revert) and succeeds; fails, printing nothing, when
# there is none. The series scripts never check out or apply in such a tree.
tree_operation() {
	local git_dir
	git_dir=$(git -C "$1" rev-parse --absolute-git-dir 2>/dev/null) || return 1
	if [ -d "$git_dir/rebase-merge" ]; then echo rebase
	elif [ -d "$git_dir/rebase-apply" ] && [ -e "$git_dir/rebase-apply/applying" ]; then echo "git am"
	elif [ -d "$git_dir/rebase-apply" ]; then echo rebase
	elif [ -e "$git_dir/BISECT_LOG" ]; then echo bisect
	elif [ -e "$git_dir/MERGE_HEAD" ]; then echo merge
	elif [ -e "$git_dir/CHERRY_PICK_HEAD" ]; then echo cherry-pick
	elif [ -e "$git_dir/REVERT_HEAD" ]; then echo revert
	else return 1
	fi
}

# tree_state TREE: one word for what a work tree holds, for the build and the
# test runner (anything but `clean` means the tests do not run the committed
# patch files):
#   busy   a rebase, git am, bisect, merge, cherry-pick or revert is in progress
#   dirty  tracked files have uncommitted changes (staged or not)
#   clean  neither
tree_state() {
	if tree_operation "$1" >/dev/null; then echo busy
	elif ! tree_is_clean "$1"; then echo dirty
	else echo clean
	fi
}

# series_base NAME TREE: the commit the series of TREE sits on: the `base` tag in
# our own work trees ($BUILD/qemu, $BUILD/linux), the base recorded by
# apply-series.sh in a fork (QEMU_SRC / LINUX_SRC). Dies when there is none.
series_base() {
	local name=$1 tree=$2 mark base
	if [ "$tree" = "$BUILD/$name" ]; then
		git -C "$tree" rev-parse -q --verify 'refs/tags/base^{commit}' ||
			die "$tree has no tag 'base' (run 'make worktrees')"
		return 0
	fi
	mark=$(series_mark "$tree")
	base=$(sed -n 1p "$mark" 2>/dev/null || true)
	[ -n "$base" ] || die "$tree: no recorded base ($mark missing): apply the series there first (make worktrees)"
	git -C "$tree" rev-parse -q --verify "$base^{commit}" ||
		die "$tree: the recorded base $base (in $mark) is not a commit of this tree"
}

have_cmd() { command -v "$1" >/dev/null 2>&1; }

# The first Debian archive URI of the system's own apt sources.
system_debian_uri() {
	{
		awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' /etc/apt/sources.list.d/*.sources 2>/dev/null
		awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file|cdrom):/) { print $i; break } }' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
	} | grep -v -- '-security' | grep -m1 'debian' || true
}

# link_firmware QEMU_BUILD_DIR: run from a build tree, QEMU looks for firmware in
# its qemu-bundle data dir (default prefix /usr/local) and in pc-bios/; the "+ds"
# tarball has none, so both link to Debian's seabios and qemu-system-data files.
link_firmware() {
	local dir f
	for dir in "$1/qemu-bundle/usr/local/share/qemu" "$1/pc-bios"; do
		mkdir -p "$dir"
		for f in /usr/share/seabios/*.bin /usr/share/qemu/*; do
			[ -e "$dir/${f##*/}" ] || ln -sf "$f" "$dir/"
		done
	done
}

# set_kasan 0|1: KASAN=1 (make KASAN=1, build-linux.sh --kasan) means the guest
# kernel with KASAN, built in a folder of its own ($BUILD/linux-kasan-build) so it
# never replaces the default one ($BUILD/linux-build); run-qemu.sh boots the
# kernel of LINUX_BUILD. ICEMP_TIMEOUT_SCALE (exported; a whole number 1..20)
# multiplies the guest timeouts: 1 by default, 4 with KASAN, unless set.
ICEMP_TIMEOUT_SCALE_SET=${ICEMP_TIMEOUT_SCALE:-}
set_kasan() {
	case "$1" in 0 | 1) ;; *) die "KASAN='$1': must be 0 or 1" ;; esac
	export KASAN=$1
	if [ "$KASAN" = 1 ]; then
		LINUX_BUILD=$BUILD/linux-kasan-build
		ICEMP_TIMEOUT_SCALE=${ICEMP_TIMEOUT_SCALE_SET:-4}
	else
		LINUX_BUILD=$BUILD/linux-build
		ICEMP_TIMEOUT_SCALE=${ICEMP_TIMEOUT_SCALE_SET:-1}
	fi
	check_uint ICEMP_TIMEOUT_SCALE "$ICEMP_TIMEOUT_SCALE" 1 20
	# The runner picks a guest's scale itself (a KASAN guest within a run without
	# KASAN=1): it needs to know whether the user set one.
	export ICEMP_TIMEOUT_SCALE ICEMP_TIMEOUT_SCALE_SET
}
set_kasan "${KASAN:-0}"
