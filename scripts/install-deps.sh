#!/usr/bin/env bash
# Usage: scripts/install-deps.sh [--check]
#
# Installs, with apt, every package the pipeline needs to fetch, build and run:
# the QEMU and kernel build dependencies (meson >= 1.5 from <codename>-backports),
# the guest tools (busybox, iproute2, ethtool, pciutils) and the firmware
# (seabios, qemu-system-data), dtc (QEMU 10.2 compiles the device trees the
# "+ds" tarball leaves out), and what the kernel's selftests use in the host root
# the guest reads over virtio-9p (jq, tcpdump, mausezahn from netsniff-ng, socat, ping, smcroute,
# python3-yaml for YNL), and the linters of our own scripts (pylint, shellcheck).
# Adds a <codename>-backports entry (deb and deb-src)
# derived from the system's own apt sources when none is configured.
# Does nothing when everything is present. --check only reports what is missing.
source "$(dirname "$0")/lib.sh"

PACKAGES=(
	build-essential git ca-certificates xz-utils python3 python3-venv pkg-config
	ninja-build libglib2.0-dev libpixman-1-dev libslirp-dev libfdt-dev
	flex bison bc libelf-dev libssl-dev cpio lz4
	busybox-static iproute2 ethtool pciutils
	seabios qemu-system-data ccache
	device-tree-compiler
	python3-ply python3-git
	jq tcpdump netsniff-ng python3-yaml socat iputils-ping smcroute
	clang rsync
	pylint shellcheck
)
# From backports: QEMU 10.0 needs meson >= 1.5 and pycotap for its venv.
BACKPORTS_PACKAGES=(meson python3-pycotap)

check=0
for arg in "$@"; do
	case "$arg" in
	--check) check=1 ;;
	-h | --help) usage_from_header "$0"; exit 0 ;;
	*) die "unknown option '$arg' (see --help)" ;;
	esac
done

step_time
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "cannot tell the Debian codename from /etc/os-release"

missing_packages() {
	local p
	for p in "${PACKAGES[@]}" "${BACKPORTS_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
	done
	# An old meson from the release itself is not enough.
	if have_cmd meson && ! dpkg --compare-versions "$(meson --version)" ge 1.5; then echo meson; fi
}

ensure_backports_source() {
	local file=/etc/apt/sources.list.d/pci-ice-mp-backports.sources uri
	if apt-cache policy 2>/dev/null | grep " $codename-backports/main" >/dev/null &&
		apt-cache showsrc linux 2>/dev/null | grep '^Version: .*~bpo' >/dev/null; then
		return 0
	fi
	if [ ! -f "$file" ]; then
		uri=$(system_debian_uri)
		[ -n "$uri" ] || die "no Debian archive in the apt sources to derive $codename-backports from"
		log "adding $codename-backports (deb, deb-src) from the system's Debian archive"
		cat >"$file" <<SRC
Types: deb deb-src
URIs: $uri
Suites: $codename-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	fi
	return 1
}

if [ "$check" = 1 ]; then
	missing=$(missing_packages | sort -u | tr '\n' ' ')
	[ -z "$missing" ] && { echo "all packages present"; exit 0; }
	echo "missing: $missing"
	exit 1
fi

need_update=0
ensure_backports_source || need_update=1
missing=$(missing_packages | sort -u)
[ -z "$missing" ] && [ "$need_update" = 0 ] && exit 0
[ "$(id -u)" = 0 ] || die "packages missing (${missing//$'\n'/ }); run as root or install them"
log "apt-get update"
apt-get update -q >/dev/null
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
	log "installing: ${missing//$'\n'/ }"
	apt-get install -y -q --no-install-recommends -t "$codename-backports" "${BACKPORTS_PACKAGES[@]}" >/dev/null
	apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/dev/null
fi
missing=$(missing_packages | sort -u)
[ -z "$missing" ] || die "still missing after apt-get install: ${missing//$'\n'/ }"
