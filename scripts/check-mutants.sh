#!/usr/bin/env bash
# Usage: scripts/check-mutants.sh [--mutant NAME]... [--list] [--check-args] [--check-apply]
#
# Proves that the test suite can fail: every mutant in tests/mutants/ is a
# small, deliberate fault in the device (QEMU) or the driver (Linux). Each one
# is applied to a copy of the work trees, built, and the guest checks its
# header names are run against it; the suite must FAIL, and the checks that
# failed are named ("killed by ..."). A mutant the suite passes has survived:
# that is a failure of the suite. A mutant that no longer applies or builds is
# a failure too (it proves nothing). Before the mutants, the same selections
# run on the unmutated copies and must pass: a red baseline would "kill"
# every mutant.
#
# A mutant file is a git diff against the series with a header:
#   Mutant: <what is broken>
#   Tree: qemu | linux
#   Run: <tests/host/phases.py selection, e.g. --config p4-vf8-dev2 --phase 2>
#
# The copies are shared clones under build/mutant/ (the work trees are never
# touched); their build folders sit beside them like build/qemu-build and
# build/linux-build do, so ccache serves the unchanged files. One TAP line per
# mutant; with ICEMP_RESULTS set (make check), results join that run.
#
#   --mutant NAME   only this mutant (file name without .patch; repeatable)
#   --list          list the mutants and exit
#   --check-args    validate the arguments and mutant headers, then exit
#   --check-apply   check that every mutant applies to its tree's series
#                   branch (nothing is written or built), then exit: a stale
#                   mutant is found in seconds, not after the baseline
source "$(dirname "$0")/lib.sh"

MUTANTS=$TOP/tests/mutants
only=() list=0 check_only=0 apply_only=0
while [ $# -gt 0 ]; do
	case "$1" in
	--mutant) need_value "$@"; [ -f "$MUTANTS/$2.patch" ] || die "no mutant '$2' (see --list)"; only+=("$2"); shift ;;
	--list) list=1 ;;
	--check-args) check_only=1 ;;
	--check-apply) apply_only=1 ;;
	-h | --help) usage_from_header "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done

header() { sed -n "s/^$2: //p;/^diff --git/q" "$1" | head -n 1; }
names=()
for f in "$MUTANTS"/*.patch; do
	name=$(basename "$f" .patch)
	[ ${#only[@]} = 0 ] || [[ " ${only[*]} " == *" $name "* ]] || continue
	case "$(header "$f" Tree)" in qemu | linux) ;; *) die "$f: 'Tree:' must be qemu or linux" ;; esac
	[ -n "$(header "$f" Mutant)" ] || die "$f: no 'Mutant:' line"
	run=$(header "$f" Run)
	[ -n "$run" ] || die "$f: no 'Run:' line"
	# shellcheck disable=SC2086
	/usr/bin/python3 "$TOP/tests/host/phases.py" --validate $run || die "$f: bad 'Run:' selection"
	names+=("$name")
done
[ ${#names[@]} -gt 0 ] || die "no mutants in $MUTANTS"
if [ "$list" = 1 ]; then
	for name in "${names[@]}"; do
		printf '%-36s %-5s %s\n' "$name" "$(header "$MUTANTS/$name.patch" Tree)" "$(header "$MUTANTS/$name.patch" Mutant)"
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

# copy_reset NAME SOURCE: build/mutant/NAME = a shared clone of SOURCE's series branch, pristine.
copy_reset() {
	local name=$1 src=$2 rev
	rev=$(git -C "$src" rev-parse "refs/heads/$SERIES_BRANCH")
	# A copy made from another base (the base was re-resolved) is made again:
	# its tag `base` is what the builds key their folders on.
	if [ -d "$M/$name/.git" ] && [ "$(git -C "$M/$name" rev-parse -q --verify refs/tags/base || true)" != \
		"$(git -C "$src" rev-parse -q --verify refs/tags/base || true)" ]; then
		log "mutants: $src has another base than its copy $M/$name: copying it again"
		rm -rf "$M/$name"
	fi
	if [ ! -d "$M/$name/.git" ]; then
		log "mutants: cloning $src into $M/$name"
		rm -rf "$M/$name"
		git clone -q --shared --no-checkout "$src" "$M/$name"
	fi
	git -C "$M/$name" checkout -q -f --detach "$rev"
	git -C "$M/$name" clean -qfd
	# The base tarball holds files the tree's .gitignore hides from the base
	# commit (QEMU's subprojects/): bring them along as they are.
	git -C "$src" ls-files -z --others --ignored --exclude-standard |
		tar -C "$src" --null -T - -cf - | tar -C "$M/$name" -xf -
}

# build_copy NAME: the build-*.sh of that tree, on the copy (output kept in the log).
build_copy() {
	local out=$M/build-$1.log
	BUILD_DIR=$M QEMU_SRC="" LINUX_SRC="" KASAN=0 "$TOP/scripts/build-$1.sh" >"$out" 2>&1
}

# run_selection RUN JSONL [LOGDIR]: phases.py on the copies (console and agent
# logs in LOGDIR, default build/mutant/results); the failed checks, or nothing.
run_selection() {
	local status=0
	rm -f "$2"
	# shellcheck disable=SC2086
	BUILD_DIR=$M QEMU_SRC="" LINUX_SRC="" KASAN=0 ICEMP_RESULTS=$2 ICEMP_OUT=${3:-} \
		/usr/bin/python3 "$TOP/tests/host/phases.py" --fail-fast $1 >"$2.log" 2>&1 || status=$?
	[ "$status" = 0 ] || echo "runner: tests/host/phases.py exited with status $status"
	/usr/bin/python3 "$TOP/tests/host/results.py" failed "$2"
}

start=$SECONDS
copy_reset qemu "$QEMU_TREE"
copy_reset linux "$LINUX_TREE"
# The guest test files as they are now (never a copy of an older initramfs).
BUILD_DIR=$M "$TOP/scripts/build-initramfs.sh" >"$M/build-initramfs.log" 2>&1 ||
	{ record mutants "initramfs builds" fail --why "$(tail -20 "$M/build-initramfs.log")"; exit 1; }
for tree in qemu linux; do
	build_copy "$tree" || { record mutants "unmutated $tree copy builds" fail --why "$(tail -20 "$M/build-$tree.log")"; exit 1; }
done

# The baseline: every selection the mutants use, unmutated, must be green.
# The selections run side by side, as many as phases.py runs configurations
# at a time (ICEMP_JOBS, else up to 2: a TCG guest keeps one core busy), each
# with its own log folder.
declare -A selections=()
for name in "${names[@]}"; do selections["$(header "$MUTANTS/$name.patch" Run)"]=1; done
jobs=$(guest_jobs)
runs=("${!selections[@]}")
t0=$SECONDS
for k in "${!runs[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
	run_selection "${runs[$k]}" "$M/baseline-$k.jsonl" "$M/baseline-$k" >"$M/baseline-$k.failed" &
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
log "mutants: baseline of ${#runs[@]} selections, $jobs at a time: $((SECONDS - t0)) s"
[ "$red" = 0 ] || exit 1

# Mutants of one tree run one after the other (QEMU first): a mutant's own
# tree is put back before the next one is applied, and rebuilt unmutated only
# when the next mutant is of the other tree (otherwise the next mutant's build
# recompiles the files put back along with its own).
ordered=()
for tree in qemu linux; do
	for name in "${names[@]}"; do
		if [ "$(header "$MUTANTS/$name.patch" Tree)" = "$tree" ]; then ordered+=("$name"); fi
	done
done
dirty=""
for name in "${ordered[@]}"; do
	f=$MUTANTS/$name.patch
	tree=$(header "$f" Tree)
	run=$(header "$f" Run)
	t0=$SECONDS
	if [ -n "$dirty" ]; then
		copy_reset "$dirty" "$(tree_dir "$dirty")"
		if [ "$dirty" != "$tree" ]; then
			build_copy "$dirty" || { record mutants "$name: unmutated $dirty copy rebuilds" fail --why "$(tail -20 "$M/build-$dirty.log")"; exit 1; }
		fi
	fi
	dirty=$tree
	if ! out=$(git -C "$M/$tree" apply "$f" 2>&1); then
		record mutants "$name: applies" fail --why "$out"
		continue
	fi
	if ! build_copy "$tree"; then
		record mutants "$name: builds" fail --why "$(tail -20 "$M/build-$tree.log")"
		continue
	fi
	built=$((SECONDS - t0))
	failed=$(run_selection "$run" "$M/$name.jsonl")
	if [ -n "$failed" ]; then
		record mutants "$name killed ($(header "$f" Mutant))" pass --duration $((SECONDS - t0)) \
			--why "caught by: $(head -n 3 <<<"$failed" | paste -sd ';' -)"
		printf '#   caught by: %s (build %d s, total %d s)\n' "$(head -n 1 <<<"$failed")" "$built" $((SECONDS - t0))
	else
		record mutants "$name killed ($(header "$f" Mutant))" fail --duration $((SECONDS - t0)) \
			--why "SURVIVED: '$run' passed with this fault in $tree"
	fi
done
# The copy is left unmutated (its build is not: the next run's first build redoes those files).
[ -z "$dirty" ] || copy_reset "$dirty" "$(tree_dir "$dirty")"
log "mutants: $((SECONDS - start)) s for ${#names[@]} mutants"
if [ "$standalone" = 1 ]; then
	/usr/bin/python3 "$TOP/tests/host/results.py" summary "$M/mutants.json"
fi
