#!/usr/bin/env bash
# Usage: scripts/check-mutants.sh [--all | --mutant NAME...] [--since REV] [--per-run K]
#                                 [--baseline-from RESULTS.jsonl]
#                                 [--list] [--check-args] [--check-apply]
#
# Proves that the test suite can fail, and fails where it says it does: every
# mutant in tests/mutants/ is a small, deliberate fault in the device (QEMU) or
# the driver (Linux). Each one is built, the guest selection its header names
# runs against it, and the suite must FAIL through the check its header names
# (Caught-by:). A mutant the suite passes has survived; a mutant that turned
# the suite red only through other checks (a runner error, a timeout, an
# unrelated check) was "killed by the wrong check": both fail the run, and so
# does a mutant that no longer applies or builds. Before the mutants, the same
# selections run unmutated and must pass: a red baseline would "kill" every
# mutant. In make check the matrix that has just passed on the same builds is
# that baseline for each mutant whose selection is one of its configurations
# (--baseline-from; tests/host/mutants.py says when it applies).
#
# Which mutants run (tests/host/mutants.py select; each is printed with why):
# by default those changed since REV (the last 5 commits and uncommitted
# changes: the mutant itself, a file of the tree it changes, or a guest test
# file of its phases) plus a rotation of K (default 3) chosen from the commit
# count, so every mutant runs within a few landings: that is `make check`.
# --all runs every mutant: `make check-full`.
#
# A mutant file is a git diff against the series with a header:
#   Mutant: <what is broken>
#   Tree: qemu | linux
#   Run: <tests/host/phases.py selection, e.g. --config p4-vf8-dev2 --phase 2>
#   Caught-by: <suite>: <test>   (fnmatch pattern of the failed check; repeatable)
#
# Builds are incremental, never from nothing: each tree's build folder is
# copied into slots, build/mutant/s0, s1, ... (rsync; put back the same way
# before a slot's next mutant), and a mutant is built in a slot in a private
# mount namespace in which the mutated files are bound over the work tree's and
# the slot's copy over the build folder: the paths the build recorded stay the
# same, so only the mutated files are compiled and linked. The mutants' guests
# run side by side (ICEMP_JOBS, else up to 2), each on a slot of its own, and
# the next mutant builds on a free slot (one more than guests) while they run.
# The mutants a run does not build are compiled (their objects only), beside
# the last guests. The work trees and
# build folders are never written. One TAP line per mutant; with ICEMP_RESULTS
# set (make check), results join that run.
#
#   --all           every mutant (make check-full)
#   --mutant NAME   only this mutant (file name without .patch; repeatable)
#   --since REV     changes since REV select mutants (default HEAD~5)
#   --per-run K     mutants of the rotation per run (default 3)
#   --baseline-from RESULTS.jsonl
#                   the results of a matrix run on the same builds: the
#                   baseline of a mutant whose selection it ran and passed
#   --list          list the mutants with their Caught-by checks and exit
#   --check-args    validate the arguments and mutant headers, then exit
#   --check-apply   check that every mutant applies to its tree's series
#                   branch (nothing is written or built), then exit: a stale
#                   mutant is found in seconds, not after the baseline
source "$(dirname "$0")/lib.sh"

MUTANTS=$TOP/tests/mutants
only=() list=0 check_only=0 apply_only=0 select_args=() baseline_from=""
while [ $# -gt 0 ]; do
	case "$1" in
	--all) select_args+=(--all) ;;
	--mutant) need_value "$@"; [ -f "$MUTANTS/$2.patch" ] || die "no mutant '$2' (see --list)"; only+=("$2"); select_args+=(--mutant "$2"); shift ;;
	--since) need_value "$@"; git -C "$TOP" rev-parse -q --verify "$2^{commit}" >/dev/null || die "--since: '$2' is no commit"; select_args+=(--since "$2"); shift ;;
	--per-run) need_value "$@"; need_uint "$1" "$2" 1 99; select_args+=(--per-run "$2"); shift ;;
	--baseline-from) need_value "$@"; baseline_from=$2; shift ;;
	--list) list=1 ;;
	--check-args) check_only=1 ;;
	--check-apply) apply_only=1 ;;
	-h | --help) usage_from_header "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
[[ " ${select_args[*]} " != *" --all "* ]] || [ ${#only[@]} = 0 ] || die "--all and --mutant exclude each other"
mutants_py() { /usr/bin/python3 "$TOP/tests/host/mutants.py" "$@"; }

header() { sed -n "s/^$2: //p;/^diff --git/q" "$1" | head -n 1; }
bad=$(mutants_py check) || die "mutant headers:"$'\n'"$bad"
names=()
for f in "$MUTANTS"/*.patch; do
	name=$(basename "$f" .patch)
	[ ${#only[@]} = 0 ] || [[ " ${only[*]} " == *" $name "* ]] || continue
	# shellcheck disable=SC2046
	/usr/bin/python3 "$TOP/tests/host/phases.py" --validate $(header "$f" Run) || die "$f: bad 'Run:' selection"
	names+=("$name")
done
[ ${#names[@]} -gt 0 ] || die "no mutants in $MUTANTS"
if [ "$list" = 1 ]; then
	for name in "${names[@]}"; do
		printf '%-36s %-5s %s\n' "$name" "$(header "$MUTANTS/$name.patch" Tree)" "$(header "$MUTANTS/$name.patch" Mutant)"
		sed -n 's/^Caught-by: /     caught by: /p;/^diff --git/q' "$MUTANTS/$name.patch"
	done
	exit 0
fi
[ "$check_only" = 1 ] && exit 0

# tree_dir qemu|linux: that tree's work tree
tree_dir() { if [ "$1" = qemu ]; then echo "$QEMU_TREE"; else echo "$LINUX_TREE"; fi; }

# applies_to_series PATCH TREE: git apply --check against the series branch of
# TREE through a throw-away index, whatever the work tree holds.
applies_to_series() {
	local index status=0
	index=$(mktemp)
	GIT_INDEX_FILE=$index git -C "$2" read-tree "refs/heads/$SERIES_BRANCH" &&
		GIT_INDEX_FILE=$index git -C "$2" apply --cached --check "$1" 2>&1 || status=1
	rm -f "$index"
	return $status
}
if [ "$apply_only" = 1 ]; then
	status=0
	for name in "${names[@]}"; do
		f=$MUTANTS/$name.patch
		if out=$(applies_to_series "$f" "$(tree_dir "$(header "$f" Tree)")"); then
			echo "ok $name"
		else
			echo "not ok $name: $out"
			status=1
		fi
	done
	exit $status
fi

M=$BUILD/mutant
mkdir -p "$M"
# One run at a time: two builds in one build folder corrupt it. Every child
# (build, guest) inherits the lock, so a run killed halfway still holds it
# until its last process has gone.
exec 9>"$M/.lock"
flock -n 9 || die "another check-mutants.sh (or a build it started) is still running on $M"
standalone=0
if [ -z "${ICEMP_RESULTS:-}" ]; then
	standalone=1
	export ICEMP_RESULTS=$M/mutants.jsonl
	rm -f "$ICEMP_RESULTS"
fi
record() { /usr/bin/python3 "$TOP/tests/host/results.py" record "$@"; }

# The mutants of this run, and why each (printed, and kept in the results).
selection=$(mutants_py select "${select_args[@]}") || die "selecting the mutants failed"
picked=()
while IFS= read -r line; do
	[ -n "$line" ] && picked+=("${line%%: *}")
done <<<"$selection"
printf '# mutants of this run (%d of %d):\n' ${#picked[@]} ${#names[@]}
sed 's/^/#   /' <<<"$selection"
if [ ${#picked[@]} = 0 ]; then
	record mutants "mutants selected: none of ${#names[@]}" pass
	exit 0
fi

# build_dir qemu|linux: that tree's build folder
build_dir() { if [ "$1" = qemu ]; then echo "$QEMU_BUILD"; else echo "$LINUX_BUILD"; fi; }
for tree in qemu linux; do
	[ -d "$(build_dir $tree)" ] || die "$(build_dir $tree) missing: run 'make build' first"
done

# Slots build/mutant/s0, s1, ..., each a BUILD_DIR for phases.py with a copy
# of both build folders and the initramfs: a mutant builds in a free slot
# while the guests of the mutants before it run on the others.
slot_dir() { echo "$M/s$1"; }

# restore SLOT TREE: the slot's copy of TREE's build folder equals the build
# folder again (rsync copies only what differs: the first time everything,
# then what a mutant rebuilt).
restore() {
	rsync -a --delete "$(build_dir "$2")/" "$(slot_dir "$1")/$2-build/"
}

# build_mutant SLOT TREE DIR [ARGS]: builds the slot's copy of TREE's build
# folder (the tree's build script with ARGS) with the files under DIR bound
# over the work tree, in a mount namespace of its own, so the build sees the
# paths it recorded. The log: build/mutant/sSLOT/build-TREE.log.
build_mutant() {
	local slot=$1 tree=$2 dir=$3 ns=(unshare --mount --propagation private) as=()
	shift 3
	[ "$(id -u)" = 0 ] || ns+=(--map-root-user)
	# The kernel's copy keeps its configuration (configuring again costs ~10 s).
	[ "$tree" = qemu ] || as=(--as-configured)
	"${ns[@]}" /bin/bash -euo pipefail -c '
		src=$1 build=$2 copy=$3 dir=$4
		shift 4
		(cd "$dir" && find . -type f -printf "%P\n") | while IFS= read -r f; do
			mount --bind "$dir/$f" "$src/$f"
		done
		mount --bind "$copy" "$build"
		KASAN=0 "$@"' _ "$(tree_dir "$tree")" "$(build_dir "$tree")" "$(slot_dir "$slot")/$tree-build" "$dir" \
		"$TOP/scripts/build-$tree.sh" "${as[@]}" "$@" >"$(slot_dir "$slot")/build-$tree.log" 2>&1
}

# mutate NAME TREE: the files NAME changes, mutated, under build/mutant/NAME.src
# (made from the series branch through a throw-away index, as --check-apply checks).
mutate() {
	local name=$1 src dir=$M/$1.src index status=0
	src=$(tree_dir "$2")
	rm -rf "$dir"
	index=$(mktemp)
	mapfile -t files < <(mutants_py files "$name")
	GIT_INDEX_FILE=$index git -C "$src" read-tree "refs/heads/$SERIES_BRANCH" &&
		GIT_INDEX_FILE=$index git -C "$src" apply --cached "$MUTANTS/$name.patch" &&
		GIT_INDEX_FILE=$index git -C "$src" checkout-index --prefix="$dir/" -- "${files[@]}" || status=1
	rm -f "$index"
	return $status
}

# run_selection SLOT RUN JSONL [LOGDIR]: phases.py on the slot's builds (console
# and agent logs in LOGDIR, default the slot's results/); the failed checks, or nothing.
run_selection() {
	local status=0
	rm -f "$3"
	# shellcheck disable=SC2086
	BUILD_DIR=$(slot_dir "$1") QEMU_SRC=$QEMU_TREE LINUX_SRC=$LINUX_TREE KASAN=0 ICEMP_RESULTS=$3 ICEMP_OUT=${4:-} \
		/usr/bin/python3 "$TOP/tests/host/phases.py" --fail-fast $2 >"$3.log" 2>&1 || status=$?
	[ "$status" = 0 ] || echo "runner: tests/host/phases.py exited with status $status"
	/usr/bin/python3 "$TOP/tests/host/results.py" failed "$3"
}

# compile_check SLOT NAME: the mutant still compiles (its files' objects only,
# no link) in SLOT, for the mutants this run does not build.
compile_check() {
	local slot=$1 name=$2 tree out
	tree=$(header "$MUTANTS/$name.patch" Tree)
	mapfile -t files < <(mutants_py files "$name")
	if ! out=$(mutate "$name" "$tree" 2>&1); then
		record mutants "$name: applies" fail --why "$out"
	elif build_mutant "$slot" "$tree" "$M/$name.src" --objects "${files[@]}"; then
		record mutants "$name: compiles (${files[*]})" pass
	else
		record mutants "$name: compiles (${files[*]})" fail --why "$(tail -20 "$(slot_dir "$slot")/build-$tree.log")"
	fi
	restore "$slot" "$tree"
}

start=$SECONDS
jobs=$(guest_jobs)
slots=$((jobs + 1))
# The guest test files as they are now (never a copy of an older initramfs).
mkdir -p "$(slot_dir 0)"
BUILD_DIR=$(slot_dir 0) LINUX_SRC=$LINUX_TREE "$TOP/scripts/build-initramfs.sh" >"$M/build-initramfs.log" 2>&1 ||
	{ record mutants "initramfs builds" fail --why "$(tail -20 "$M/build-initramfs.log")"; exit 1; }
for ((slot = 0; slot < slots; slot++)); do
	mkdir -p "$(slot_dir "$slot")"
	[ "$slot" = 0 ] || cp "$(slot_dir 0)/initramfs.cpio.gz" "$(slot_dir "$slot")/"
	for tree in qemu linux; do
		restore "$slot" "$tree" || { record mutants "copy of the $tree build folder" fail; exit 1; }
	done
done
log "mutants: build folders copied into $slots slots in $((SECONDS - start)) s"

# The baseline: every selection the chosen mutants use, unmutated, must be
# green. With --baseline-from (make check), a mutant whose selection is one
# configuration of the matrix that run just passed takes its baseline from
# there (tests/host/mutants.py baseline); the other selections run side by
# side, as many as phases.py runs configurations at a time (ICEMP_JOBS, else
# up to 2: a TCG guest keeps one core busy), each with its own log folder, on
# slot 0 (the slots are unmutated).
declare -A selections=()
for name in "${picked[@]}"; do
	run=$(header "$MUTANTS/$name.patch" Run)
	if [ -n "$baseline_from" ] && out=$(mutants_py baseline "$baseline_from" "$name"); then
		record mutants "baseline green: $name (${out#*: })" pass
	else
		selections["$run"]=1
	fi
done
runs=("${!selections[@]}")
t0=$SECONDS
for k in "${!runs[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
	run_selection 0 "${runs[$k]}" "$M/baseline-$k.jsonl" "$M/baseline-$k" >"$M/baseline-$k.failed" &
done
wait || true
red=0
for k in "${!runs[@]}"; do
	failed=$(cat "$M/baseline-$k.failed")
	if [ -n "$failed" ]; then
		record mutants "baseline green: ${runs[$k]}" fail --why "$failed"
		red=1
	elif [ ! -s "$M/baseline-$k.jsonl" ]; then
		record mutants "baseline green: ${runs[$k]}" fail --why "no check was recorded (log: $M/baseline-$k.jsonl.log)"
		red=1
	else
		record mutants "baseline green: ${runs[$k]}" pass
	fi
done
log "mutants: baseline of ${#runs[@]} selections run, $jobs at a time: $((SECONDS - t0)) s"
[ "$red" = 0 ] || exit 1

# verdict NAME: the result of NAME's run (its failed checks in NAME.failed).
verdict() {
	local name=$1 f=$MUTANTS/$1.patch failed what out
	failed=$(cat "$M/$name.failed")
	what="$name killed by its named check ($(header "$f" Mutant))"
	if [ -z "$failed" ]; then
		record mutants "$what" fail --duration "${took[$name]}" \
			--why "SURVIVED: '$(header "$f" Run)' passed with this fault in $(header "$f" Tree)"
	elif out=$(mutants_py verdict "$name" <<<"$failed"); then
		record mutants "$what" pass --duration "${took[$name]}" --why "$out"
		printf '#   %s (build %d s, run %d s)\n' "$out" "${built[$name]}" "${took[$name]}"
	else
		record mutants "$what" fail --duration "${took[$name]}" --why "$out"
	fi
}

# The mutants: up to $jobs guests side by side, each on a slot of its own;
# the next mutant builds on a free slot (put back first from what its last
# mutant rebuilt there) while they run. The mutants this run does not build
# are compiled on a free slot after the last build, beside the guests.
declare -A built=() took=() run_start=()
slot_pid=() slot_name=() dirty=()
for ((slot = 0; slot < slots; slot++)); do slot_pid[slot]="" slot_name[slot]="" dirty[slot]=""; done
running() { local n=0 slot; for ((slot = 0; slot < slots; slot++)); do [ -z "${slot_pid[slot]}" ] || n=$((n + 1)); done; echo "$n"; }
# reap: waits for one guest run to end and records its verdict.
reap() {
	local done_pid="" slot name
	wait -n -p done_pid || true
	for ((slot = 0; slot < slots; slot++)); do
		[ -n "${slot_pid[slot]}" ] && [ "${slot_pid[slot]}" = "$done_pid" ] || continue
		name=${slot_name[slot]}
		took[$name]=$((SECONDS - run_start[$name]))
		verdict "$name"
		slot_pid[slot]="" slot_name[slot]=""
	done
}
free_slot() { local slot; for ((slot = 0; slot < slots; slot++)); do [ -n "${slot_pid[slot]}" ] || { echo "$slot"; return; }; done; }
for name in "${picked[@]}"; do
	f=$MUTANTS/$name.patch
	tree=$(header "$f" Tree)
	while [ "$(running)" -ge "$jobs" ]; do reap; done
	slot=$(free_slot)
	t0=$SECONDS
	[ -z "${dirty[slot]}" ] || restore "$slot" "${dirty[slot]}"
	dirty[slot]=$tree
	if ! out=$(mutate "$name" "$tree" 2>&1); then
		record mutants "$name: applies" fail --why "$out"
		continue
	elif ! build_mutant "$slot" "$tree" "$M/$name.src"; then
		record mutants "$name: builds" fail --why "$(tail -20 "$(slot_dir "$slot")/build-$tree.log")"
		continue
	fi
	built[$name]=$((SECONDS - t0))
	run_start[$name]=$SECONDS
	run_selection "$slot" "$(header "$f" Run)" "$M/$name.jsonl" >"$M/$name.failed" &
	slot_pid[slot]=$! slot_name[slot]=$name
done
t0=$SECONDS
slot=$(free_slot)
[ -z "${dirty[slot]}" ] || restore "$slot" "${dirty[slot]}"
dirty[slot]=""
for name in "${names[@]}"; do
	[[ " ${picked[*]} " == *" $name "* ]] || compile_check "$slot" "$name"
done
log "mutants: compile checks of the $((${#names[@]} - ${#picked[@]})) mutants not run: $((SECONDS - t0)) s (beside the guests)"
while [ "$(running)" -gt 0 ]; do reap; done
log "mutants: $((SECONDS - start)) s for ${#picked[@]} of ${#names[@]} mutants"
if [ "$standalone" = 1 ]; then
	/usr/bin/python3 "$TOP/tests/host/results.py" summary "$M/mutants.json"
fi
