#!/usr/bin/env bash
# Usage: scripts/export-series.sh [--check] [qemu|linux]...
#
# Writes the commits base..ice-mp of each work tree back to qemu-patches/ and
# linux-patches/ with `git format-patch --cover-letter --base`, the cover letter
# taken from the branch description (git branch --edit-description). Output is
# byte-stable (--zero-commit, no signature, the cover letter dated by the
# last patch), so --check can tell whether the
# committed patch files are exactly what the work trees hold: it exports into a
# temporary folder, shows the difference and fails when there is one.
source "$(dirname "$0")/lib.sh"

check=0
which=()
for arg in "$@"; do
	case "$arg" in
	--check) check=1 ;;
	-h | --help) usage_from_header "$0"; exit 0 ;;
	qemu | linux) which+=("$arg") ;;
	*) die "unknown argument '$arg' (see --help)" ;;
	esac
done
[ ${#which[@]} -gt 0 ] || which=(qemu linux)

export_one() { # tree outdir
	local tree=$1 out=$2 base
	git -C "$tree" rev-parse -q --verify "refs/heads/$SERIES_BRANCH" >/dev/null ||
		die "$tree has no branch $SERIES_BRANCH (run 'make worktrees' first)"
	if [ -f "$tree/.git/ice-mp-applied" ] && ! git -C "$tree" rev-parse -q --verify refs/tags/base >/dev/null; then
		base=$(sed -n 1p "$tree/.git/ice-mp-applied")
	else
		base=$(git -C "$tree" rev-parse base)
	fi
	[ -n "$(git -C "$tree" config "branch.$SERIES_BRANCH.description" || true)" ] ||
		warn "$tree: branch $SERIES_BRANCH has no description; the cover letter will be a template"
	mkdir -p "$out"
	find "$out" -maxdepth 1 -name '*.patch' -delete
	# The cover letter is dated like the last patch's author date: stable across re-applies.
	GIT_COMMITTER_DATE=$(git -C "$tree" log -1 --format=%aI "$SERIES_BRANCH") \
		git -C "$tree" format-patch -q --cover-letter --cover-from-description=subject \
		--base="$base" --zero-commit --no-signature -o "$out" "$base..$SERIES_BRANCH" >/dev/null
	git -C "$tree" log -1 --format='%s' "$base" >"$out/BASE"
	git -C "$tree" log -1 --format='%b' "$base" | sed '/^$/d' >>"$out/BASE"
	echo "base-commit: $(git -C "$tree" rev-parse "$base")" >>"$out/BASE"
}

status=0
for w in "${which[@]}"; do
	case "$w" in qemu) tree=$QEMU_TREE ;; linux) tree=$LINUX_TREE ;; esac
	dir=$TOP/$w-patches
	if [ "$check" = 1 ]; then
		tmp=$(mktemp -d)
		export_one "$tree" "$tmp"
		if diff -ru "$dir" "$tmp" >"$tmp.diff"; then
			log "$w-patches/ matches $tree"
		else
			cat "$tmp.diff"
			warn "$w-patches/ differs from the work tree $tree (run 'make export')"
			status=1
		fi
		rm -rf "$tmp" "$tmp.diff"
	else
		export_one "$tree" "$dir"
		log "exported $(series_patches "$dir" | wc -l) patches to $w-patches/"
	fi
done
exit "$status"
