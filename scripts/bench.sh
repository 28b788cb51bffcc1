#!/usr/bin/env bash
# Usage: scripts/bench.sh [--cold] [--skip-warm] [--repeat N] [--events N]
#
# Measures and prints the project's figures (tests/host/bench.py says which):
# warm rebuilds after a one-line driver/device change, boot and phase wall
# times, event throughput and loss through QMP and the guest doorbell at FIFO
# depth 64 and 1024, probe and SR-IOV scaling over ports and VFs, and QEMU's
# igb with the upstream igb driver as a side-by-side anchor. Table on the
# terminal, JSON in build/bench/bench.json. Run after `make check`.
# --cold first times a build from nothing (fresh download, no ccache, a build
# folder of its own) phase by phase: fetch, QEMU, Linux, initramfs, tests.
source "$(dirname "$0")/lib.sh"

cold=0 args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--cold) cold=1 ;;
	--skip-warm) args+=("$1") ;;
	--repeat | --events) need_value "$@"; need_uint "$1" "$2" 1; args+=("$1" "$2"); shift ;;
	-h | --help) usage_from_header "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
mkdir -p "$BUILD/bench"

if [ "$cold" = 1 ]; then
	cold_dir=$(mktemp -d "$BUILD/bench/cold.XXXXXX")
	report=$BUILD/bench/cold.txt
	: >"$report"
	for step in fetch worktrees qemu linux initramfs check; do
		start=$(date +%s.%N)
		BUILD_DIR=$cold_dir/build XDG_CACHE_HOME=$cold_dir/cache CCACHE_DISABLE=1 \
			make -C "$TOP" "$step" >"$cold_dir/$step.log" 2>&1 || warn "cold $step failed (log: $cold_dir/$step.log)"
		printf '  cold     %-44s %12.1f s\n' "$step" "$(echo "$(date +%s.%N) - $start" | bc)" | tee -a "$report"
	done
fi
exec /usr/bin/python3 "$TOP/tests/host/bench.py" "${args[@]}"
