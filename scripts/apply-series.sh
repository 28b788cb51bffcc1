#!/usr/bin/env bash
# Usage: scripts/apply-series.sh [qemu|linux]...
#
# Makes the work trees: base tree + one commit per patch of qemu-patches/ or
# linux-patches/, on branch `ice-mp`.
#  - Default trees (build/qemu, build/linux) are created from the verified orig
#    tarball (scripts/fetch-sources.sh) as a git repo with a reproducible `base`
#    commit and tag, then the series is applied with `git am`.
#  - QEMU_SRC=/path / LINUX_SRC=/path: a git checkout of your own (a `git
#    worktree` too); the series is applied on a new branch `ice-mp` from its
#    current HEAD, which is recorded as the fork's base (re-applies and
#    export-series.sh use the recorded base). A series that does not apply is
#    refused with a message; `git am --abort` leaves the tree exactly as it was.
# A tree whose branch already carries the committed series is left alone (so an
# unchanged series rebuilds nothing). A branch with commits of your own that were
# not exported (make export) is refused unless FORCE=1.
# Uncommitted changes to tracked files: the series is never (re)applied onto
# them (commit or stash first); a tree that already carries the series is built
# with them, with a warning (the tests then do not reflect the patch files).
# A tree with a rebase, git am, bisect, merge, cherry-pick or revert in progress
# (`git rebase -x 'make -C ../.. linux' base`) is not touched: built as it is.
source "$(dirname "$0")/lib.sh"

# Every argument is checked before any tree is touched.
case " $* " in *" -h "* | *" --help "*) usage_from_header "$0"; exit 0 ;; esac
trees_from_args tree "$@"
which=("${TREES[@]}")

# base_label NAME VAR: the subject and body of the base commit, from build/base.env:
# the upstream version first (the cover letters and BASE name it), then the file.
base_label() {
	local name=$1 var=$2 up deb tarball kind
	up=$(eval echo "\${${var}_UPSTREAM:-}")
	deb=$(eval echo "\${${var}_DEB_VERSION:-}")
	tarball=$(eval echo "\${${var}_TARBALL:-}")
	kind=$(eval echo "\${${var}_KIND:-pristine}")
	[ -n "$up" ] && [ -n "$tarball" ] || die "build/base.env has no $var base: run scripts/fetch-sources.sh"
	if [ "$kind" = pristine ]; then
		printf '%s v%s\n\nPristine %s (Debian %s).\n' "$name" "$up" "$(basename "$tarball")" "$deb"
	else
		printf '%s v%s (Debian-patched)\n\nDebian linux-source %s: upstream v%s with Debian'"'"'s patches.\n' "$name" "$up" "$deb" "$up"
	fi
}

# ensure_base_tree TREE VAR NAME: our own work tree on the base build/base.env names.
# A tree on another base (the base was re-resolved or re-pinned) is made again,
# unless it holds work that is not in the patch files.
ensure_base_tree() {
	local tree=$1 var=$2 name=$3 label tarball have mark
	label=$(base_label "$name" "$var")
	tarball=$(eval echo "\${${var}_TARBALL}")
	if [ -e "$tree/.git" ]; then
		have=$(git -C "$tree" log -1 --format=%B base 2>/dev/null | git stripspace || true)
		[ "$have" != "$(echo "$label" | git stripspace)" ] || return 0
		log "$tree is on '$(echo "$have" | head -1)', the base is now '$(echo "$label" | head -1)': making it again"
		if [ "${FORCE:-0}" != 1 ]; then
			tree_state "$tree" | grep -qx clean || die "$tree has uncommitted work or an operation in progress; finish it (or FORCE=1 to drop it)"
			mark=$(series_mark "$tree")
			if git -C "$tree" rev-parse -q --verify "refs/heads/$SERIES_BRANCH" >/dev/null &&
				[ "$(patch_ids_of_range "$tree" "base..$SERIES_BRANCH")" != "$(sed 1d "$mark" 2>/dev/null)" ]; then
				die "$tree: branch $SERIES_BRANCH has commits that were not exported (make export first, or FORCE=1 to drop them)"
			fi
		fi
		rm -rf "$tree"
	fi
	create_base_tree "$tree" "$tarball" "$label"
}

create_base_tree() { # tree tarball label
	local tree=$1 tarball=$2 label=$3 tmp
	[ -f "$tarball" ] || die "$tarball missing: run scripts/fetch-sources.sh"
	log "creating $tree from $(basename "$tarball")"
	tmp=$tree.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	tar --no-same-owner --strip-components=1 -xf "$tarball" -C "$tmp"
	(
		cd "$tmp"
		git init -q -b pristine
		git add -A
		GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
			git "${BASE_IDENT[@]}" commit -q -F - <<<"$label"
		git tag base
	)
	mv "$tmp" "$tree"
}

# cover_description PATCHDIR: the cover letter's subject and body, for the branch description.
cover_description() {
	local cover=$1/0000-cover-letter.patch
	[ -f "$cover" ] || return 0
	awk '
		/^Subject:/ { subject = $0; sub(/^Subject: *(\[[^]]*\] *)?/, "", subject); in_subject = 1; next }
		in_subject && /^[ \t]/ { sub(/^[ \t]+/, ""); subject = subject " " $0; next }
		in_subject { print subject; print ""; in_subject = 0 }
		!body && /^$/ { body = 1; next }
		body && /^[^ ].* \([0-9]+\):$/ { exit }
		body { print }' "$cover" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

apply_series() { # name tree patchdir
	local name=$1 tree=$2 dir=$3 mark op other want have old_head base
	git -C "$tree" rev-parse --git-dir >/dev/null 2>&1 || die "$name: $tree is not a git checkout"
	if op=$(tree_operation "$tree"); then
		log "$name: $tree has a $op in progress: building the tree as it is (no checkout, no apply)"
		return 0
	fi
	# Work trees of one repo share their branches: only one of them can have ice-mp.
	other=$(git -C "$tree" worktree list --porcelain | awk -v me="$(git -C "$tree" rev-parse --show-toplevel)" \
		-v ref="branch refs/heads/$SERIES_BRANCH" '/^worktree / { wt = substr($0, 10) } $0 == ref && wt != me { print wt }')
	[ -z "$other" ] || die "$name: branch $SERIES_BRANCH of $tree is checked out in its sibling worktree $other; use that one, or a repo of its own"
	[ -n "$(series_patches "$dir")" ] || warn "$dir has no patches: $name stays at its base"
	mark=$(series_mark "$tree")
	want=$(patch_ids_of_files "$dir")
	if git -C "$tree" rev-parse -q --verify "refs/heads/$SERIES_BRANCH" >/dev/null; then
		base=$(sed -n 1p "$mark" 2>/dev/null || true)
		if [ -n "$base" ]; then
			have=$(patch_ids_of_range "$tree" "$base..$SERIES_BRANCH")
			if [ "$have" = "$want" ]; then
				checkout_branch "$tree"
				if tree_is_clean "$tree"; then
					log "$name: $tree already carries the series"
				else
					warn "building uncommitted changes in $tree: tests will not reflect the patch files"
					git -C "$tree" status --short --untracked-files=no | head -20 | sed 's/^/    /' >&2
				fi
				return 0
			fi
			if [ "$have" != "$(sed 1d "$mark")" ] && [ "${FORCE:-0}" != 1 ]; then
				die "$name: branch $SERIES_BRANCH in $tree has commits that are not in $dir/ (run 'make export' to keep them, or FORCE=1 to drop them)"
			fi
		elif [ "${FORCE:-0}" != 1 ]; then
			die "$name: $tree already has a branch $SERIES_BRANCH not made by this script (rename it, or FORCE=1 to replace it)"
		fi
	fi
	tree_is_clean "$tree" ||
		die "$name: not applying the series to $tree: tracked files have uncommitted changes; commit or stash them first"
	old_head=$(git -C "$tree" symbolic-ref -q --short HEAD || git -C "$tree" rev-parse HEAD)
	# Our trees: the `base` tag; a fork: the base recorded when the series was first
	# applied there, else its HEAD (which then becomes the recorded base).
	if [ "$tree" = "$BUILD/$name" ] || [ -s "$mark" ]; then
		base=$(series_base "$name" "$tree")
	else
		[ "$old_head" != "$SERIES_BRANCH" ] ||
			die "$name: $tree is on branch $SERIES_BRANCH, which would become the base of the series: check out the commit to apply it on first"
		base=$(git -C "$tree" rev-parse HEAD)
	fi
	log "$name: applying $(series_patches "$dir" | wc -l) patches of $dir/ on $(git -C "$tree" log -1 --format='%h %s' "$base")"
	git -C "$tree" checkout -q -B "$SERIES_BRANCH.new" "$base"
	# shellcheck disable=SC2046
	if [ -n "$(series_patches "$dir")" ] && ! git -C "$tree" -c user.name="${GIT_AUTHOR_NAME:-pci-ice-mp}" -c user.email="${GIT_AUTHOR_EMAIL:-pci-ice-mp@localhost}" \
		am -q --whitespace=nowarn $(series_patches "$dir") >"$BUILD/am-$name.log" 2>&1; then
		git -C "$tree" am --abort >/dev/null 2>&1 || true
		git -C "$tree" checkout -q "$old_head"
		git -C "$tree" branch -q -D "$SERIES_BRANCH.new"
		sed 's/^/    /' "$BUILD/am-$name.log" >&2
		die "$name: the series in $dir/ does not apply to $tree (git am aborted; the tree is as it was)"
	fi
	git -C "$tree" branch -q -M "$SERIES_BRANCH.new" "$SERIES_BRANCH"
	{ echo "$base"; echo "$want"; } >"$mark"
	git -C "$tree" config "branch.$SERIES_BRANCH.description" "$(cover_description "$dir")"
}

checkout_branch() { # tree
	[ "$(git -C "$1" symbolic-ref -q --short HEAD)" = "$SERIES_BRANCH" ] && return 0
	tree_is_clean "$1" || die "$1 has uncommitted changes on another branch; commit or stash them first"
	git -C "$1" checkout -q "$SERIES_BRANCH"
}

mkdir -p "$BUILD"
# shellcheck source=/dev/null
[ -f "$BASE_ENV" ] && source "$BASE_ENV"
for w in "${which[@]}"; do
	case "$w" in
	qemu)
		[ -n "${QEMU_SRC:-}" ] || ensure_base_tree "$QEMU_TREE" QEMU QEMU
		apply_series qemu "$QEMU_TREE" "$TOP/qemu-patches"
		;;
	linux)
		[ -n "${LINUX_SRC:-}" ] || ensure_base_tree "$LINUX_TREE" LINUX Linux
		apply_series linux "$LINUX_TREE" "$TOP/linux-patches"
		;;
	esac
done
