#!/usr/bin/env bash
# Usage: scripts/fetch-sources.sh [qemu|linux]...
#
# Downloads the QEMU 10.0.y and Linux 6.12.y orig tarballs from Debian's
# <codename>-backports with `apt-get source --download-only --tar-only` into the
# cache ($XDG_CACHE_HOME/pci-ice-mp/src), verifies them against the SHA-256 of
# apt's signed Sources index, and records the versions in build/base.env.
# The newest 10.0.y / 6.12.y that apt offers is taken unless pinned:
#   QEMU_DEB_VERSION=1:10.0.2+ds-2+deb13u1~bpo12+1  LINUX_DEB_VERSION=6.12.95-1~bpo12+1
# A cached tarball that fails verification is downloaded again.
source "$(dirname "$0")/lib.sh"

# Every argument is checked before anything is installed or downloaded.
case " $* " in *" -h "* | *" --help "*) usage_from_header "$0"; exit 0 ;; esac
trees_from_args source "$@"
which=("${TREES[@]}")

"$TOP/scripts/install-deps.sh"
mkdir -p "$CACHE/src" "$BUILD"

# newest_version PACKAGE PREFIX: the newest source version apt knows that starts with PREFIX.
newest_version() {
	apt-cache showsrc "$1" 2>/dev/null | awk '/^Version:/ { print $2 }' | grep -E "^$2" |
		sort -u | {
		best=""
		while read -r v; do
			if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
		done
		echo "$best"
	}
}

# orig_info PACKAGE VERSION: "<sha256> <file name>" of the orig tarball in apt's Sources index.
orig_info() {
	apt-cache showsrc --only-source "$1" 2>/dev/null | awk -v want="$2" '
		/^Version:/ { ver = $2 }
		/^Checksums-Sha256:/ { on = 1; next }
		/^[^ ]/ { on = 0 }
		on && ver == want && $3 ~ /\.orig\.tar\./ && !done { print $1, $3; done = 1 }'
}

fetch_one() { # package version-prefix pinned-version variable-prefix
	local pkg=$1 prefix=$2 version=$3 var=$4 info sha file
	[ -n "$version" ] || version=$(newest_version "$pkg" "$prefix")
	[ -n "$version" ] || die "apt offers no $pkg source version matching $prefix (is <codename>-backports deb-src configured?)"
	info=$(orig_info "$pkg" "$version")
	[ -n "$info" ] || die "apt knows no orig tarball for $pkg $version (a pinned version that no longer exists?)"
	read -r sha file <<<"$info"
	if [ -f "$CACHE/src/$file" ] && echo "$sha  $CACHE/src/$file" | sha256sum -c --status; then
		log "$pkg $version: cached $file verified"
	else
		rm -f "$CACHE/src/$file"
		log "$pkg $version: downloading $file"
		(cd "$CACHE/src" && apt-get source -q --download-only --tar-only "$pkg=$version" >/dev/null)
		[ -f "$CACHE/src/$file" ] || die "apt-get source did not produce $file"
		echo "$sha  $CACHE/src/$file" | sha256sum -c --status ||
			{ rm -f "$CACHE/src/$file"; die "$file does not match the SHA-256 of apt's index"; }
	fi
	# Drop the debian tarball/dsc apt may bring along; only the orig tarball is used.
	find "$CACHE/src" -maxdepth 1 -name "${pkg}_*" ! -name '*.orig.tar.*' -delete
	set_base "${var}_DEB_VERSION" "$version"
	set_base "${var}_TARBALL" "$CACHE/src/$file"
	set_base "${var}_SHA256" "$sha"
}

set_base() { # key value: keep build/base.env a list of key=value lines
	touch "$BASE_ENV"
	sed -i "/^$1=/d" "$BASE_ENV"
	printf '%s=%q\n' "$1" "$2" >>"$BASE_ENV"
}

for w in "${which[@]}"; do
	case "$w" in
	qemu) fetch_one qemu '1:10\.0\.' "${QEMU_DEB_VERSION:-}" QEMU ;;
	linux) fetch_one linux '6\.12\.' "${LINUX_DEB_VERSION:-}" LINUX ;;
	esac
done
