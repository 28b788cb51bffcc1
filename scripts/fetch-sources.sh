#!/usr/bin/env bash
# Usage: scripts/fetch-sources.sh [--candidates] [qemu|linux]...
#
# Resolves and downloads the base sources of both series from Debian's archive
# into the cache ($XDG_CACHE_HOME/pci-ice-mp/src) and records what it used in
# build/base.env (Debian version, upstream version, file, SHA-256).
#
# A base is a release series, QEMU_SERIES (default 10.2) and LINUX_SERIES
# (default 7.2). It resolves to the newest point release of that series whose
# source actually downloads and verifies: the candidates are every version the
# archive's signed indices list for the series, newest first, one per distinct
# file; the first that downloads and matches the index's SHA-256 wins. (The
# indices list versions the archive does not serve: their downloads answer 404
# and the next candidate is tried.) Pristine orig tarballs come from the
# `linux` / `qemu` source packages; a Linux series with no served orig tarball
# falls back to Debian's binary package linux-source-<series> (Debian-patched;
# recorded as such). Pin an exact Debian version with QEMU_DEB_VERSION= /
# LINUX_DEB_VERSION= (then nothing else is tried; for Linux, that version's orig
# tarball, else its linux-source-<series> package, so the LINUX_DEB_VERSION that
# base.env records for a linux-source base can be pinned too).
#
# The indices are read with a private apt configuration in the cache (deb-src
# of the system's own Debian archive for bookworm-backports, trixie,
# trixie-backports, forky, sid and experimental, and the binary indices of
# trixie-backports and sid for linux-source-*): the system's apt sources are not
# changed. They are refreshed when older than 6 hours (APT_REFRESH=1: now).
# --candidates prints the candidates of each series, newest first, and exits.
# A cached file that fails verification is downloaded again.
source "$(dirname "$0")/lib.sh"

candidates_only=0
args=()
for arg in "$@"; do
	case "$arg" in
	-h | --help) usage_from_header "$0"; exit 0 ;;
	--candidates) candidates_only=1 ;;
	*) args+=("$arg") ;;
	esac
done
step_time
# Every argument is checked before anything is installed or downloaded.
trees_from_args source "${args[@]}"
which=("${TREES[@]}")
check_series QEMU_SERIES "$QEMU_SERIES"
check_series LINUX_SERIES "$LINUX_SERIES"

"$TOP/scripts/install-deps.sh"
mkdir -p "$CACHE/src" "$BUILD"

APT_DIR=$CACHE/apt
APT_OPTS=(
	-o "Dir::Etc::SourceList=$APT_DIR/sources.list"
	-o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d"
	-o "Dir::State::Lists=$APT_DIR/lists"
	-o "Dir::Cache=$APT_DIR/cache"
	-o "Dir::Etc::Preferences=/dev/null"
	-o "Dir::Etc::PreferencesParts=$APT_DIR/preferences.d"
	-o "Debug::NoLocking=1"
)
papt() { apt-get "${APT_OPTS[@]}" "$@"; }
pcache() { apt-cache "${APT_OPTS[@]}" "$@"; }

private_apt_update() {
	local uri keyring=/usr/share/keyrings/debian-archive-keyring.gpg want
	uri=$(system_debian_uri)
	[ -n "$uri" ] || die "no Debian archive in the system's apt sources to read the source indices from"
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/sources.list.d" "$APT_DIR/preferences.d"
	want=$(cat <<SRC
deb-src [signed-by=$keyring] $uri bookworm-backports trixie trixie-backports forky sid experimental main
deb [signed-by=$keyring] $uri trixie-backports sid main
SRC
)
	# One-line format takes one suite per line.
	want=$(echo "$want" | awk '{ n = split($0, w, " "); for (i = 4; i < n; i++) print w[1], w[2], w[3], w[i], w[n] }')
	if [ "$(cat "$APT_DIR/sources.list" 2>/dev/null)" != "$want" ]; then
		echo "$want" >"$APT_DIR/sources.list"
		rm -f "$APT_DIR/lists/"*_* 2>/dev/null || true
	fi
	if [ "${APT_REFRESH:-0}" = 1 ] || [ ! -e "$APT_DIR/updated" ] ||
		[ -n "$(find "$APT_DIR/updated" -mmin +360)" ]; then
		log "reading the archive's source indices (private apt lists in $APT_DIR)"
		papt -q update >"$APT_DIR/update.log" 2>&1 ||
			{ sed 's/^/    /' "$APT_DIR/update.log" | tail -10 >&2; die "apt-get update of the private source lists failed"; }
		touch "$APT_DIR/updated"
	fi
}

# series_regex SERIES: the upstream versions of a series, "7.2" -> 7.2 and 7.2.N.
series_regex() { echo "^(1:)?${1//./\\.}(\\.[0-9]+)?[-+]"; }

# source_candidates PACKAGE SERIES: "<debian version> <sha256> <orig file>", one per
# distinct orig tarball, newest version first.
source_candidates() {
	pcache showsrc --only-source "$1" 2>/dev/null | awk '
		/^Package:/ { ver = ""; on = 0 }
		/^Version:/ { ver = $2 }
		/^Checksums-Sha256:/ { on = 1; next }
		/^[^ ]/ { on = 0 }
		on && $3 ~ /\.orig\.tar\./ { print ver, $1, $3 }' |
		grep -E "$(series_regex "$2")" | sort_versions_desc | awk '!seen[$3]++'
}

# binary_candidates PACKAGE: "<debian version> <sha256> <deb file>", newest first.
binary_candidates() {
	# A series without such a package lists none (not an error: --candidates prints it empty).
	{ pcache show "$1" 2>/dev/null || true; } | awk '
		/^Version:/ { ver = $2 }
		/^SHA256:/ { sha = $2 }
		/^Filename:/ { n = split($2, p, "/"); file = p[n] }
		/^$/ && ver != "" { print ver, sha, file; ver = "" }' | sort_versions_desc | awk '!seen[$3]++'
}

sort_versions_desc() { # lines "<debian version> ...": newest first (dpkg's order)
	python3 -c '
import sys, subprocess, functools
lines = [l.rstrip("\n") for l in sys.stdin if l.strip()]
def cmp(a, b):
    va, vb = a.split()[0], b.split()[0]
    if va == vb: return 0
    return -1 if subprocess.run(["dpkg", "--compare-versions", va, "gt", vb]).returncode == 0 else 1
for l in sorted(lines, key=functools.cmp_to_key(cmp)): print(l)'
}

upstream_of() { # debian version -> upstream version: 1:10.2.2+ds-1 -> 10.2.2
	local v=${1#*:}
	v=${v%-*}
	echo "${v%%+*}"
}

verified() { [ -f "$2" ] && echo "$1  $2" | sha256sum -c --status; }

# try_source PACKAGE VERSION SHA FILE: download FILE (an orig tarball) unless cached and verified.
try_source() {
	local pkg=$1 version=$2 sha=$3 file=$4
	if verified "$sha" "$CACHE/src/$file"; then
		log "$pkg $version: cached $file verified"
		return 0
	fi
	rm -f "$CACHE/src/$file"
	log "$pkg $version: downloading $file"
	if ! (cd "$CACHE/src" && papt source -q --download-only --tar-only "$pkg=$version") >"$APT_DIR/download.log" 2>&1; then
		warn "$pkg $version: $file does not download ($(sed -n 's/^E: Failed to fetch [^ ]*  *\([0-9][0-9][0-9]  *[A-Za-z ]*[A-Za-z]\).*/\1/p' "$APT_DIR/download.log" | head -1 | grep . || echo 'apt-get source failed'))"
		rm -f "$CACHE/src/$file"
		return 1
	fi
	find "$CACHE/src" -maxdepth 1 -name "${pkg}_*" ! -name '*.orig.tar.*' -delete
	verified "$sha" "$CACHE/src/$file" ||
		{ warn "$pkg $version: $file does not match the SHA-256 of the index"; rm -f "$CACHE/src/$file"; return 1; }
}

# try_linux_source_deb VERSION SHA DEB: the tarball inside Debian's linux-source-<series> package.
try_linux_source_deb() {
	local version=$1 sha=$2 deb=$3 out tmp
	out=$CACHE/src/${deb%.deb}.tar.xz
	# $out.sha256: line 1 the SHA-256 of the verified .deb it came from, line 2 its own
	# (a cached tarball is checked against both before every use, like an orig tarball).
	if [ -f "$out" ] && [ "$(sed -n 1p "$out.sha256" 2>/dev/null)" = "$sha" ] &&
		verified "$(sed -n 2p "$out.sha256")" "$out"; then
		log "linux-source $version: cached $(basename "$out") (from a verified $deb)"
		echo "$out"
		return 0
	fi
	tmp=$(mktemp -d)
	log "linux-source $version: downloading $deb"
	if ! (cd "$tmp" && papt download -q "linux-source-$LINUX_SERIES=$version") >"$APT_DIR/download.log" 2>&1 ||
		! verified "$sha" "$tmp/$deb"; then
		warn "linux-source-$LINUX_SERIES $version: $deb does not download or verify"
		rm -rf "$tmp"
		return 1
	fi
	dpkg-deb --fsys-tarfile "$tmp/$deb" | tar -xO "./usr/src/linux-source-$LINUX_SERIES.tar.xz" >"$out.tmp" ||
		{ rm -rf "$tmp" "$out.tmp"; warn "$deb has no usr/src/linux-source-$LINUX_SERIES.tar.xz"; return 1; }
	rm -rf "$tmp"
	mv "$out.tmp" "$out"
	{ echo "$sha"; sha256sum "$out" | cut -d' ' -f1; } >"$out.sha256"
	echo "$out"
}

set_base() { # key value: keep build/base.env a list of key=value lines
	touch "$BASE_ENV"
	sed -i "/^$1=/d" "$BASE_ENV"
	printf '%s=%q\n' "$1" "$2" >>"$BASE_ENV"
}

record() { # VAR debian-version upstream tarball sha kind
	set_base "$1_DEB_VERSION" "$2"
	set_base "$1_UPSTREAM" "$3"
	set_base "$1_TARBALL" "$4"
	set_base "$1_SHA256" "$5"
	set_base "$1_KIND" "$6"
	log "$1 base: $3 ($6, Debian $2)"
}

resolve() { # pkg series pin VAR
	local pkg=$1 series=$2 pin=$3 var=$4 version sha file tried=0 out
	local -a cands
	mapfile -t cands < <(source_candidates "$pkg" "$series")
	if [ -n "$pin" ]; then
		mapfile -t cands < <(printf '%s\n' "${cands[@]}" | awk -v v="$pin" '$1 == v')
		# Linux: a pinned version may be a linux-source-<series> package (the fallback below).
		[ ${#cands[@]} -gt 0 ] && [ -n "${cands[0]}" ] || [ "$pkg" = linux ] ||
			die "$pkg: the pinned version $pin has no orig tarball in the indices of series $series"
	fi
	if [ "$candidates_only" = 1 ]; then
		printf '%s %s:' "$pkg" "$series"; printf ' %s' "${cands[@]%% *}"; echo
		[ "$pkg" != linux ] || { printf 'linux-source-%s:' "$series"; binary_candidates "linux-source-$series" | awk '{ printf " %s", $1 }'; echo; }
		return 0
	fi
	for c in "${cands[@]}"; do
		[ -n "$c" ] || continue
		read -r version sha file <<<"$c"
		tried=$((tried + 1))
		if try_source "$pkg" "$version" "$sha" "$file"; then
			record "$var" "$version" "$(upstream_of "$version")" "$CACHE/src/$file" "$sha" pristine
			return 0
		fi
	done
	if [ "$pkg" = linux ]; then
		while read -r version sha file; do
			[ -n "$version" ] || continue
			tried=$((tried + 1))
			if out=$(try_linux_source_deb "$version" "$sha" "$file"); then
				record "$var" "$version" "$(upstream_of "$version")" "$out" "$(sha256sum "$out" | cut -d' ' -f1)" "debian-linux-source"
				return 0
			fi
		done < <(binary_candidates "linux-source-$series" | awk -v v="$pin" 'v == "" || $1 == v')
	fi
	[ -z "$pin" ] || die "$pkg $series: the pinned version $pin: neither an orig tarball nor a linux-source-$series package of it downloads and verifies ($tried tried)"
	die "$pkg $series: none of the $tried candidates the indices list downloads and verifies"
}

private_apt_update
for w in "${which[@]}"; do
	case "$w" in
	qemu) resolve qemu "$QEMU_SERIES" "${QEMU_DEB_VERSION:-}" QEMU ;;
	linux) resolve linux "$LINUX_SERIES" "${LINUX_DEB_VERSION:-}" LINUX ;;
	esac
done
