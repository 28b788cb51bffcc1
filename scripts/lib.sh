# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for the pci-ice-mp scripts. Source it; do not run it.
# shellcheck shell=bash

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$TOP/build}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/pci-ice-mp
QEMU_BUILD=$BUILD/qemu-build
LINUX_BUILD=$BUILD/linux-build
INITRAMFS=$BUILD/initramfs.cpio.gz
BASE_ENV=$BUILD/base.env
# Work trees: ours under build/ unless the user points at a fork.
QEMU_TREE=${QEMU_SRC:-$BUILD/qemu}
LINUX_TREE=${LINUX_SRC:-$BUILD/linux}
# The branch the series is applied on, in our trees and in user forks.
SERIES_BRANCH=ice-mp

export CCACHE_DIR=${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccache}
export CCACHE_BASEDIR=$TOP
export CCACHE_NOHASHDIR=1
# Work-tree commits are made with fixed identities and dates so the base commit
# id is the same on every machine (the cover letters name it as base-commit).
BASE_IDENT=(-c user.name="pci-ice-mp base" -c user.email="base@pci-ice-mp.invalid")

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# usage_from_header FILE: print the leading comment block of a script as its --help.
usage_from_header() {
	sed -n '2,/^[^#]/{/^#/!q;s/^# \{0,1\}//;p}' "$1"
}

need_value() { # option value
	[ $# -ge 2 ] && [ -n "$2" ] || die "option $1 needs a value (see --help)"
}

need_uint() { # option value [min] [max]
	[[ $2 =~ ^[0-9]+$ ]] || die "option $1: '$2' is not a whole number"
	if [ -n "${3:-}" ] && [ "$2" -lt "$3" ]; then die "option $1: $2 is below the minimum $3"; fi
	if [ -n "${4:-}" ] && [ "$2" -gt "$4" ]; then die "option $1: $2 is above the maximum $4"; fi
}

jobs_count() { nproc 2>/dev/null || echo 2; }

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

tree_is_clean() { # tree
	[ -z "$(git -C "$1" status --porcelain --untracked-files=no)" ]
}

have_cmd() { command -v "$1" >/dev/null 2>&1; }
