#!/usr/bin/env bash
# Usage: scripts/export-series.sh [--check] [qemu|linux]...
#
# Writes the commits base..ice-mp of each work tree back to qemu-patches/ and
# linux-patches/ with `git format-patch --cover-letter --base`, the cover letter
# taken from the branch description (git branch --edit-description). Output is
# byte-stable (--zero-commit, no signature, the cover letter dated by the
# last patch, 12-digit blob ids on the index lines: git's default length grows
# with the number of objects, so two clones of one tree could differ), so --check can tell whether the
# committed patch files are exactly what the work trees hold: it exports into a
# temporary folder, shows the difference and fails when there is one.
# The base is the `base` tag in our own work trees (build/qemu, build/linux) and
# the base recorded by apply-series.sh in a fork (QEMU_SRC / LINUX_SRC). A fork
# on another base commit than the committed one cannot give the same bytes
# (BASE, base-commit, index lines and context differ): --check then compares
# patch by patch the diff (stable patch id), author and message, and the cover
# letter but for its base-commit line. A tree with a rebase (or am, bisect,
# merge, cherry-pick, revert) in progress is not exported.
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

export_one() { # tree base outdir
	local tree=$1 base=$2 out=$3
	[ -n "$(git -C "$tree" config "branch.$SERIES_BRANCH.description" || true)" ] ||
		warn "$tree: branch $SERIES_BRANCH has no description; the cover letter will be a template"
	mkdir -p "$out"
	find "$out" -maxdepth 1 -name '*.patch' -delete
	# The cover letter is dated like the last patch's author date: stable across re-applies.
	GIT_COMMITTER_DATE=$(git -C "$tree" log -1 --format=%aI "$SERIES_BRANCH") \
		git -C "$tree" -c core.abbrev=12 format-patch -q --cover-letter --cover-from-description=subject \
		--base="$base" --zero-commit --no-signature -o "$out" "$base..$SERIES_BRANCH" >/dev/null
	git -C "$tree" log -1 --format='%s' "$base" >"$out/BASE"
	git -C "$tree" log -1 --format='%b' "$base" | sed '/^$/d' >>"$out/BASE"
	echo "base-commit: $(git -C "$tree" rev-parse "$base")" >>"$out/BASE"
}

# same_series TREE BASE DIR EXPORTED: the commits BASE..ice-mp of TREE are, one by
# one, the patch files of DIR (same stable patch id, author and message), and the
# cover letter of EXPORTED (TREE exported on BASE) is DIR's but for base-commit.
same_series() {
	local tree=$1 base=$2 dir=$3 exported=$4 tmp i n status=0
	local -a files commits
	mapfile -t files < <(series_patches "$dir")
	mapfile -t commits < <(git -C "$tree" rev-list --reverse "$base..$SERIES_BRANCH")
	if [ ${#files[@]} != ${#commits[@]} ]; then
		warn "$tree has ${#commits[@]} commits on its base, $dir/ has ${#files[@]} patches"
		return 1
	fi
	tmp=$(mktemp -d)
	for ((i = 0; i < ${#files[@]}; i++)); do
		n="patch $((i + 1)) ($(basename "${files[i]}"))"
		if [ "$(git patch-id --stable <"${files[i]}" | cut -d' ' -f1)" != \
			"$(git -C "$tree" format-patch --stdout -1 "${commits[i]}" | git patch-id --stable | cut -d' ' -f1)" ]; then
			warn "$n: the diff of commit $(git -C "$tree" log -1 --format='%h %s' "${commits[i]}") differs"
			status=1
		fi
		git mailinfo "$tmp/msg" "$tmp/patch" <"${files[i]}" >"$tmp/info"
		if [ "$(sed -n 's/^Author: //p; s/^Email: //p' "$tmp/info")" != \
			"$(git -C "$tree" log -1 --format='%an%n%ae' "${commits[i]}")" ]; then
			warn "$n: the author of commit $(git -C "$tree" log -1 --format=%h "${commits[i]}") differs"
			status=1
		fi
		{ sed -n 's/^Subject: //p' "$tmp/info"; echo; cat "$tmp/msg"; } | git stripspace >"$tmp/want"
		git -C "$tree" log -1 --format=%B "${commits[i]}" | git stripspace >"$tmp/have"
		if ! diff -u "$tmp/want" "$tmp/have" >"$tmp/msg.diff"; then
			cat "$tmp/msg.diff"
			warn "$n: the message of commit $(git -C "$tree" log -1 --format=%h "${commits[i]}") differs"
			status=1
		fi
	done
	if ! diff -u <(grep -v '^base-commit: ' "$dir/0000-cover-letter.patch" 2>/dev/null) \
		<(grep -v '^base-commit: ' "$exported/0000-cover-letter.patch") >"$tmp/cover.diff"; then
		cat "$tmp/cover.diff"
		warn "the cover letter differs from the branch description of $tree"
		status=1
	fi
	rm -rf "$tmp"
	return "$status"
}

status=0
for w in "${which[@]}"; do
	case "$w" in qemu) tree=$QEMU_TREE ;; linux) tree=$LINUX_TREE ;; esac
	dir=$TOP/$w-patches
	git -C "$tree" rev-parse -q --verify "refs/heads/$SERIES_BRANCH" >/dev/null ||
		die "$w: $tree has no branch $SERIES_BRANCH (run 'make worktrees' first)"
	if op=$(tree_operation "$tree"); then
		# Mid-rebase, branch ice-mp is still the old one: finish first.
		[ "$check" = 1 ] || die "$w: $tree has a $op in progress; finish or abort it, then export"
		warn "$w: $tree has a $op in progress; branch $SERIES_BRANCH is not what the tree holds"
		status=1
		continue
	fi
	tree_is_clean "$tree" || warn "$w: $tree has uncommitted changes; only commits are exported"
	base=$(series_base "$w" "$tree")
	committed=$(sed -n 's/^base-commit: //p' "$dir/BASE" 2>/dev/null || true)
	if [ "$check" = 1 ]; then
		tmp=$(mktemp -d)
		export_one "$tree" "$base" "$tmp"
		if [ -n "$committed" ] && [ "$base" != "$committed" ]; then
			log "$w: $tree is based on $(git -C "$tree" log -1 --format='%h %s' "$base"), not on the committed base ${committed:0:12}: comparing patch by patch (diff, author, message) and the cover letter"
			if same_series "$tree" "$base" "$dir" "$tmp"; then
				log "$w-patches/ matches $tree (on its own base)"
			else
				warn "$w-patches/ differs from the work tree $tree (run 'make export')"
				status=1
			fi
		elif diff -ru "$dir" "$tmp" >"$tmp.diff"; then
			log "$w-patches/ matches $tree"
		else
			cat "$tmp.diff"
			warn "$w-patches/ differs from the work tree $tree (run 'make export')"
			status=1
		fi
		rm -rf "$tmp" "$tmp.diff"
	else
		[ -z "$committed" ] || [ "$base" = "$committed" ] ||
			warn "$w: $tree is based on $(git -C "$tree" log -1 --format='%h %s' "$base"), not on the committed base ${committed:0:12}: $w-patches/BASE and base-commit change"
		export_one "$tree" "$base" "$dir"
		# The branch is saved in the patch files now: apply-series.sh may replace it
		# when they change (without FORCE=1).
		{ echo "$base"; patch_ids_of_files "$dir"; } >"$(series_mark "$tree")"
		log "exported $(series_patches "$dir" | wc -l) patches to $w-patches/"
	fi
done
exit "$status"
