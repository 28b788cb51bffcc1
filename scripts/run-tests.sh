#!/usr/bin/env bash
# Usage: scripts/run-tests.sh [--host-only | --guest-only] [--config NAME]...
#                             [--phase N]... [--full] [--shard K/N] [--jobs N]
#                             [--list [--json]] [--check-args] [--build-targets]
#                             [--mutants | --no-mutants]
#
# Runs the test suite against what `make build` produced and prints one TAP
# line per check, then `N passed, N failed`; exits non-zero on any failure.
# The verdict is a function of the recorded results only: a crash of the
# runner, a timeout, a guest that died, a phase that ran fewer or more checks
# than it planned, a failed check marked skipped, or no result at all is a
# recorded failure with a reason; every skip is listed with its reason.
#
# Two tiers (docs/testing.md has what each runs and its measured time):
# - the default (make check): host checks, the qtest, KUnit, the default
#   matrix through the datapath phase, and a share of the mutants (those
#   changed by the last commits, and a rotation);
# - --full (make check-full): also the long matrix (the KASAN kernel, the
#   kernel's own selftests, the large layouts), the qtest on the ASan build of
#   QEMU, and every mutant.
#
# Host checks: the exported series equal the work trees and the work trees
# have no uncommitted changes (so what was tested is the patch files),
# checkpatch on every patch of both series (--strict for Linux), the register
# contract agrees in the spec and both headers, our own Python and shell
# files pass pylint -E and shellcheck -S error (a call of a method that does
# not exist, a syntax error: code no test runs, like make bench), every
# mutant has a complete header and applies, the pci-ice-mp qtest (its plan
# and every case) with glibc's heap checks and freed memory poisoned, and
# under --full also on the ASan build of QEMU (a leak or a memory error fails
# the case). Guest checks (tests/host/phases.py): a guest per
# configuration of the matrix; per console window (boot, KUnit, each phase,
# drain) a "no kernel reports" check; KUnit from boot; phases 1 probe,
# 2 events, 3 SR-IOV, 4 reset, 5 cycles, 6 datapath; at the end, no QEMU left
# running. Then the mutants (scripts/check-mutants.sh): each deliberate fault
# of tests/mutants/ must turn the suite red through the check it names.
#
#   --host-only, --guest-only   one half only
#   --config NAME, --phase N    a part of the matrix (repeatable; see --list)
#   --full                      the full tier (or ICEMP_FULL=1)
#   --shard K/N                 the K-th of N shares of the configurations
#                               (host checks run in shard 1 only)
#   --jobs N                    guests side by side (default ICEMP_JOBS, else
#                               the cores up to 2; the mutants' baseline too)
#   --list [--json]             print the selected configurations and exit
#   --check-args                validate the arguments and exit (make check
#                               runs this before it builds anything)
#   --build-targets             print the make targets the selection needs
#                               (qemu linux initramfs, and selftests,
#                               linux-kasan, qemu-asan when it runs them)
#   --mutants, --no-mutants     run the mutants or not (default: with the
#                               whole matrix only, not with a part picked by
#                               --config/--phase/--shard/--host-only); the
#                               share, or every mutant with --full
#
# Timeouts are deadlines in seconds times ICEMP_TIMEOUT_SCALE (default 1; 4
# with KASAN=1). Results: build/results/results.json and results.junit.xml;
# console and agent logs of failed guests: build/results/<config>.*.log.
source "$(dirname "$0")/lib.sh"

host=1 guest=1 list=0 check_only=0 build_targets=0 full=${ICEMP_FULL:-0} mutants=auto shard="" phase_args=() list_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--host-only) guest=0 ;;
	--guest-only) host=0 ;;
	--config | --phase) need_value "$@"; phase_args+=("$1" "$2"); shift ;;
	--shard) need_value "$@"; shard=$2; phase_args+=("$1" "$2"); shift ;;
	--jobs) need_value "$@"; check_uint --jobs "$2" 1 16; export ICEMP_JOBS=$2; shift ;;
	--full) full=1 ;;
	--list) list=1 ;;
	--json) list_args+=(--json) ;;
	--check-args) check_only=1 ;;
	--build-targets) build_targets=1 ;;
	--mutants) mutants=1 ;;
	--no-mutants) mutants=0 ;;
	-h | --help) usage_from_header "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
[ "$host" = 1 ] || [ "$guest" = 1 ] || die "--host-only and --guest-only together would run nothing"
[ "$full" = 1 ] && phase_args+=(--full)
[ ${#list_args[@]} = 0 ] || [ "$list" = 1 ] || die "--json goes with --list"
if [ "$guest" = 0 ] && [ ${#phase_args[@]} -gt 0 ]; then
	die "--host-only runs no configuration: --config/--phase/--full/--shard do not apply"
fi
phases() { /usr/bin/python3 "$TOP/tests/host/phases.py" "$@"; }
if [ "$list" = 1 ]; then
	phases --list "${list_args[@]}" "${phase_args[@]}"
	exit
fi
phases --validate "${phase_args[@]}" || die "bad test selection (see above)"
guest_jobs >/dev/null
# The ASan qtest is of the full tier, and host checks run in the first shard only.
asan=0
case "$shard" in "" | 1/*) [ "$host" = 0 ] || asan=$full ;; esac
if [ "$build_targets" = 1 ]; then
	# For make check: one make run builds all the selection needs (one fetch).
	targets=(qemu linux initramfs)
	if [ "$guest" = 1 ]; then
		[ "$KASAN" = 1 ] || ! phases --needs-kasan "${phase_args[@]}" || targets+=(linux-kasan)
		! phases --needs-phase 7 "${phase_args[@]}" || targets+=(selftests)
	fi
	[ "$asan" = 0 ] || targets+=(qemu-asan)
	echo "${targets[*]}"
	exit
fi
if [ "$mutants" = auto ]; then
	mutants=0
	[ "$host" = 1 ] && [ "$guest" = 1 ] && [ ${#phase_args[@]} = 0 ] && mutants=1
fi
mutant_args=()
[ "$full" = 0 ] || mutant_args=(--all)
[ "$mutants" = 0 ] || "$TOP/scripts/check-mutants.sh" --check-args "${mutant_args[@]}" || die "bad mutant files (see above)"
[ "$check_only" = 1 ] && exit 0
# Host checks run once: in the first shard.
case "$shard" in "" | 1/*) ;; *) host=0 ;; esac

mkdir -p "$BUILD/results"
# One run per build folder: two runs would mix their results (every child holds the lock).
exec 8>"$BUILD/results/.lock"
flock -n 8 || die "another run-tests.sh is using $BUILD/results; wait for it or use another BUILD_DIR"
export ICEMP_RESULTS=$BUILD/results/results.jsonl
rm -f "$ICEMP_RESULTS" "$BUILD/results/results.json" "$BUILD/results/results.junit.xml"
record() { /usr/bin/python3 "$TOP/tests/host/results.py" record "$@"; }

check_series_export() {
	local out tree dirty=""
	if out=$("$TOP/scripts/export-series.sh" --check 2>&1); then
		record series "committed patches equal the work trees (format-patch)" pass
	else
		record series "committed patches equal the work trees (format-patch)" fail --why "$(tail -20 <<<"$out")"
	fi
	for tree in "$QEMU_TREE" "$LINUX_TREE"; do
		case "$(tree_state "$tree")" in
		clean) ;;
		busy) dirty+="$tree: a $(tree_operation "$tree") is in progress"$'\n' ;;
		*) dirty+="$tree: $(git -C "$tree" status --porcelain --untracked-files=no | head -5 | tr '\n' ' ')"$'\n' ;;
		esac
	done
	if [ -z "$dirty" ]; then
		record series "work trees have no uncommitted changes or git operation in progress" pass
	else
		record series "work trees have no uncommitted changes or git operation in progress" fail \
			--why "uncommitted changes were built and tested, not the patch files:"$'\n'"$dirty"
	fi
}

check_checkpatch() { # name tree patch-dir options...
	local name=$1 tree=$2 dir=$3 patch out total
	shift 3
	for patch in $(series_patches "$dir"); do
		# /usr/bin first: checkpatch runs spdxcheck.py with the python3 on PATH (needs python3-ply).
		out=$(cd "$tree" && PATH=/usr/bin:$PATH ./scripts/checkpatch.pl "$@" "$patch" 2>&1 || true)
		total=$(grep '^total:' <<<"$out" || echo "no total line")
		if grep -Eq '^total: 0 errors, 0 warnings(, 0 checks)?,' <<<"$total"; then
			record "checkpatch-$name" "$(basename "$patch")" pass
		else
			record "checkpatch-$name" "$(basename "$patch")" fail --why "$(grep -E -A3 '^(ERROR|WARNING|CHECK)' <<<"$out" | head -30)"$'\n'"$total"
		fi
	done
}

# malloc_debug_lib: glibc's malloc debugging library (glibc.malloc.check needs it).
malloc_debug_lib() {
	local lib
	lib=$(gcc -print-file-name=libc_malloc_debug.so.0)
	[ -f "$lib" ] || die "libc_malloc_debug.so.0 not found (glibc >= 2.34 ships it)"
	echo "$lib"
}

# check_qtest GROUP BUILD_DIR: the pci-ice-mp qtest of that build, one result
# per case. Under ASan (group qtest-asan) a leak or a memory error makes QEMU
# exit non-zero, which libqtest turns into a failed case.
check_qtest() {
	local group=$1 build=$2 bin=$2/tests/qtest/pci-ice-mp-test out status line plan="" ran=0
	if [ ! -x "$bin" ]; then
		record "$group" "pci-ice-mp-test built" fail --why "$bin missing (no qtest in the QEMU series?)"
		return
	fi
	status=0
	# Without ASan, glibc's own heap checks (a double free, a corrupted chunk)
	# abort QEMU, and freed memory is poisoned so that a use after free reads garbage.
	local heap=()
	[ "$group" = qtest-asan ] || heap=(LD_PRELOAD="$(malloc_debug_lib)" GLIBC_TUNABLES=glibc.malloc.check=3:glibc.malloc.perturb=165)
	out=$(cd "$build" && env QTEST_QEMU_BINARY=./qemu-system-x86_64 ASAN_OPTIONS=detect_leaks=1 "${heap[@]}" \
		timeout $((600 * ${ICEMP_TIMEOUT_SCALE:-1})) "$bin" --tap -k 2>&1) || status=$?
	while IFS= read -r line; do
		case "$line" in
		1..*) [ -z "$plan" ] && plan=${line#1..} ;;
		"ok "*" # SKIP"*) ran=$((ran + 1)); record "$group" "$(sed -E 's/^ok [0-9]+ //; s/ # SKIP.*//' <<<"$line")" skip --why "${line#* # SKIP}" ;;
		"ok "*) ran=$((ran + 1)); record "$group" "$(sed -E 's/^ok [0-9]+ //' <<<"$line")" pass ;;
		"not ok "*) ran=$((ran + 1)); record "$group" "$(sed -E 's/^not ok [0-9]+ //' <<<"$line")" fail --why "$(grep -E '^(#|\*\*|SUMMARY|==[0-9]+==ERROR)' <<<"$out" | tail -10)" ;;
		esac
	done <<<"$out"
	if [ "$status" = 0 ] && [ -n "$plan" ] && [ "$plan" = "$ran" ] && [ "$ran" -gt 0 ]; then
		record "$group" "pci-ice-mp-test ran its plan ($ran of $plan), exit status 0" pass
	else
		record "$group" "pci-ice-mp-test ran its plan ($ran of ${plan:-no plan}), exit status 0" fail \
			--why "exit status $status"$'\n'"$(tail -15 <<<"$out")"
	fi
}

# check_lint: one result per file of ours; pylint -E (errors only: a missing
# member, an undefined name) on the Python files, shellcheck -S error on the
# shell files (bash scripts and the guest's busybox sh files).
check_lint() {
	local f out
	for f in "$TOP"/tests/host/*.py "$TOP"/scripts/*.py; do
		if out=$(cd "$(dirname "$f")" && pylint -E --disable=import-error --persistent=n \
			--score=n "$(basename "$f")" 2>&1); then
			record lint "pylint -E ${f#"$TOP"/}" pass
		else
			record lint "pylint -E ${f#"$TOP"/}" fail --why "$(head -20 <<<"$out")"
		fi
	done
	for f in "$TOP"/scripts/*.sh "$TOP"/tests/guest/*.sh "$TOP"/tests/guest/init "$TOP"/.ci/run; do
		if out=$(shellcheck -S error "$f" 2>&1); then
			record lint "shellcheck ${f#"$TOP"/}" pass
		else
			record lint "shellcheck ${f#"$TOP"/}" fail --why "$(head -20 <<<"$out")"
		fi
	done
}

# The guest runs the test files baked into the initramfs: rebuild it when any is newer.
refresh_initramfs() {
	local newer
	newer=$(find "$TOP/tests/guest" -newer "$INITRAMFS" -type f 2>/dev/null | head -3)
	if [ ! -f "$INITRAMFS" ] || [ -n "$newer" ]; then
		log "initramfs older than ${newer:-nothing (missing)}: rebuilding it"
		"$TOP/scripts/build-initramfs.sh" >&2
	fi
}

host_checks() {
	check_series_export
	check_checkpatch qemu "$QEMU_TREE" "$TOP/qemu-patches"
	check_checkpatch linux "$LINUX_TREE" "$TOP/linux-patches" --strict --ignore FILE_PATH_CHANGES
	check_lint
	if out=$("$TOP/scripts/check-contract.sh" 2>&1); then
		record contract "spec, QEMU header and Linux header agree" pass
	else
		record contract "spec, QEMU header and Linux header agree" fail --why "$out"
	fi
	if out=$(/usr/bin/python3 "$TOP/tests/host/mutants.py" check 2>&1); then
		record mutants "every mutant's header names what it breaks, its tree, its run and the check that must catch it" pass
	else
		record mutants "every mutant's header names what it breaks, its tree, its run and the check that must catch it" fail --why "$out"
	fi
	if out=$("$TOP/scripts/check-mutants.sh" --check-apply 2>&1); then
		record mutants "every mutant of tests/mutants/ applies to its series" pass
	else
		record mutants "every mutant of tests/mutants/ applies to its series" fail --why "$(grep -v '^ok ' <<<"$out")"
	fi
	check_qtest qtest "$QEMU_BUILD"
	[ "$asan" = 0 ] || check_qtest qtest-asan "$QEMU_ASAN_BUILD"
}
# The host checks run beside the guests (mostly one core for a minute or two,
# where the matrix leaves a core idle near its end); their lines print once
# the guests are done.
host_pid=""
if [ "$host" = 1 ] && [ "$guest" = 1 ]; then
	host_checks >"$BUILD/results/host.tap" 2>&1 &
	host_pid=$!
elif [ "$host" = 1 ]; then
	host_checks
fi
if [ "$guest" = 1 ]; then
	if ! out=$(refresh_initramfs 2>&1); then
		record runner "initramfs with the current guest test files" fail --why "$(tail -20 <<<"$out")"
	else
		status=0
		phases "${phase_args[@]}" || status=$?
		[ "$status" = 0 ] || record runner "the guest runner completed" fail \
			--why "tests/host/phases.py exited with status $status (the traceback is above)"
	fi
fi
if [ -n "$host_pid" ]; then
	status=0
	wait "$host_pid" || status=$?
	cat "$BUILD/results/host.tap"
	[ "$status" = 0 ] || record runner "the host checks completed" fail --why "exit status $status (see above)"
fi
if [ "$mutants" = 1 ]; then
	status=0
	# make check: the matrix that just ran on these builds is the baseline of the
	# mutants whose selections it ran; check-full runs every baseline itself.
	baseline=()
	[ "$full" = 1 ] || [ "$guest" = 0 ] || baseline=(--baseline-from "$ICEMP_RESULTS")
	"$TOP/scripts/check-mutants.sh" "${mutant_args[@]}" "${baseline[@]}" || status=$?
	[ "$status" = 0 ] || record mutants "check-mutants.sh completed" fail --why "exit status $status (see above)"
fi
/usr/bin/python3 "$TOP/tests/host/results.py" summary "$BUILD/results/results.json"
