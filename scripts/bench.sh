#!/usr/bin/env bash
# Usage: scripts/bench.sh [--cold] [--skip-warm] [--repeat N] [--events N] [--only SECTION]...
#
# Measures and prints the project's figures (tests/host/bench.py says which):
# warm rebuilds after a one-line driver/device change, boot and phase wall
# times, event throughput and loss through QMP and the guest doorbell at FIFO
# depth 64 and 1024, probe and SR-IOV scaling over ports and VFs, and QEMU's
# igb with the upstream igb driver as a side-by-side anchor. Table on the
# terminal, JSON in build/bench/bench.json. Run after `make check`.
# --cold first times a build from nothing (fresh download, no ccache, a build
# folder of its own) phase by phase: fetch, worktrees, QEMU, Linux, initramfs,
# tests; the rows join the table and the JSON, the logs stay in
# build/bench/cold.*/, the cold build itself is removed. --only measures one
# section (warm, phases, events, scaling, anchor, datapath; repeatable).
source "$(dirname "$0")/lib.sh"

cold=0 args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--cold) cold=1 ;;
	--skip-warm) args+=("$1") ;;
	--repeat | --events) need_value "$@"; need_uint "$1" "$2" 1; args+=("$1" "$2"); shift ;;
	--only)
		need_value "$@"
		case "$2" in warm | phases | events | scaling | anchor | datapath) args+=("$1" "$2") ;;
		*) die "--only: '$2' is not warm, phases, events, scaling, anchor or datapath" ;; esac
		shift
		;;
	-h | --help) usage_from_header "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
mkdir -p "$BUILD/bench"

if [ "$cold" = 1 ]; then
	# The cold build lives in a folder of its own; its logs stay, its 3 GB go.
	cold_dir=$(mktemp -d "$BUILD/bench/cold.XXXXXX")
	report=$BUILD/bench/cold.tsv
	: >"$report"
	for step in fetch worktrees qemu linux initramfs check; do
		start=$(date +%s.%N)
		status=ok
		BUILD_DIR=$cold_dir/build XDG_CACHE_HOME=$cold_dir/cache CCACHE_DISABLE=1 \
			make -C "$TOP" "$step" >"$cold_dir/$step.log" 2>&1 || status=failed
		seconds=$(echo "$(date +%s.%N) - $start" | bc)
		note=$status
		[ "$step" = check ] && note="$status: $(grep -E '^[0-9]+ passed, [0-9]+ failed' "$cold_dir/$step.log" | tail -n 1)"
		printf '%s\t%s\t%s\n' "$step" "$seconds" "$note" >>"$report"
		printf '  cold     %-44s %12.1f s      %s\n' "$step" "$seconds" "$note"
		[ "$status" = ok ] || { warn "cold $step failed (log: $cold_dir/$step.log)"; break; }
	done
	rm -rf "$cold_dir/build" "$cold_dir/cache"
	args+=(--cold-report "$report")
fi
exec /usr/bin/python3 "$TOP/tests/host/bench.py" "${args[@]}"
