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
#    export-series.sh use the recorded base).
#  - `git am -3` when the tree has the preimage blobs the patches name (their
#    `index` lines): a clone of upstream has them (our trees come from pristine
#    tarballs, so the blob ids are upstream's), and a hunk whose context drifted
#    is then merged; plain `git am` otherwise. A series that does not apply is
#    refused with one line naming the patch and the file(s) that failed; the am
#    is aborted, the original branch checked out again, the temporary branch
#    deleted, and the tree checked to be exactly as it was (HEAD, refs, status).
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
	# Debian's linux-source tarball carries Debian's top-level .gitignore, which
	# ignores everything (`/*`): its files are added regardless of .gitignore.
	create_base_tree "$tree" "$tarball" "$label" "$([ "$(eval echo "\${${var}_KIND:-pristine}")" = pristine ] || echo --force)"
}

create_base_tree() { # tree tarball label [--force: git add ignored files too]
	local tree=$1 tarball=$2 label=$3 force=${4:-} tmp
	[ -f "$tarball" ] || die "$tarball missing: run scripts/fetch-sources.sh"
	log "creating $tree from $(basename "$tarball")"
	tmp=$tree.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	tar --no-same-owner --strip-components=1 -xf "$tarball" -C "$tmp"
	(
		cd "$tmp"
		git init -q -b pristine
		# 90,000 loose objects: without this the next git am starts a
		# background `git gc --auto` that repacks the whole Linux tree for
		# minutes, on the cores the builds run on
		git config gc.auto 0
		git add -A ${force:+"$force"}
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

# preimage_blobs PATCH...: the blob ids (as abbreviated in the `index <pre>..<post>`
# lines) the patches need from the tree they are applied to: every preimage that
# is not a new file and not the postimage of an earlier patch of the series.
preimage_blobs() {
	awk '/^index [0-9a-f]+\.\.[0-9a-f]+/ {
		split($2, id, /\.\./)
		if (id[1] !~ /^0+$/ && !(id[1] in made)) need[id[1]] = 1
		made[id[2]] = 1
	}
	END { for (b in need) print b }' "$@"
}

# missing_blobs TREE PATCH...: "<missing> <needed>": how many of the preimage blobs
# of the patches TREE's object store lacks. A clone of upstream has them all (our
# base trees come from pristine tarballs, so their blob ids are upstream's).
missing_blobs() {
	local tree=$1 needed
	shift
	needed=$(preimage_blobs "$@")
	[ -n "$needed" ] || { echo "0 0"; return 0; }
	git -C "$tree" cat-file --batch-check <<<"$needed" |
		awk -v n="$(wc -l <<<"$needed")" '$2 != "blob" { m++ } END { print m + 0, n }'
}

# am_failed_files TREE LOG: the files a stopped `git am` could not apply, one per
# line: the unmerged paths of a 3-way merge and the paths of git apply's errors.
am_failed_files() {
	{
		git -C "$1" diff --name-only --diff-filter=U 2>/dev/null || true
		sed -n -E \
			-e 's/^error: patch failed: (.*):[0-9]+$/\1/p' \
			-e 's/^error: (.*): (patch does not apply|does not exist in index|already exists in (index|working directory)|No such file or directory|does not match index|wrong type)$/\1/p' \
			-e 's/^error: sha1 information is lacking or useless \((.*)\)\.$/\1/p' \
			-e 's/^CONFLICT \([^)]*\): Merge conflict in (.*)$/\1/p' \
			-e 's/^CONFLICT \([^)]*\): (.*) deleted in .*$/\1/p' "$2"
	} | awk 'NF && !seen[$0]++'
}

# fork_state TREE: what must be the same after a failed apply: HEAD (branch and
# commit), ORIG_HEAD, every ref, and `git status` (untracked files included).
fork_state() {
	git -C "$1" symbolic-ref -q HEAD || echo "detached"
	git -C "$1" rev-parse HEAD
	echo "ORIG_HEAD $(git -C "$1" rev-parse -q --verify ORIG_HEAD || true)"
	git -C "$1" for-each-ref --format='%(refname) %(objectname)'
	git -C "$1" status --porcelain=v1 --untracked-files=all
}

apply_series() { # name tree patchdir
	local name=$1 tree=$2 dir=$3 mark op other want have old_head base merged missing needed am_mode orig_head
	local -a patches am_opts
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
	# A 3-way apply whose merges changed a patch's context: the patch ids of the
	# files it was made from (the mark then holds those of the commits it made).
	merged=$mark-3way
	want=$(patch_ids_of_files "$dir")
	if git -C "$tree" rev-parse -q --verify "refs/heads/$SERIES_BRANCH" >/dev/null; then
		base=$(sed -n 1p "$mark" 2>/dev/null || true)
		if [ -n "$base" ]; then
			have=$(patch_ids_of_range "$tree" "$base..$SERIES_BRANCH")
			if [ "$have" = "$want" ] || { [ "$have" = "$(sed 1d "$mark")" ] && [ -s "$merged" ] && [ "$(cat "$merged")" = "$want" ]; }; then
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
	mapfile -t patches < <(series_patches "$dir")
	# git am -3 when the tree has every preimage blob the patches name (a clone of
	# upstream, our own base trees): a hunk whose context drifted is then merged.
	# Without them -3 cannot help and only muddles the error: plain git am.
	read -r missing needed < <(missing_blobs "$tree" "${patches[@]}")
	am_opts=(--whitespace=nowarn) am_mode="git am"
	if [ "$missing" = 0 ]; then
		am_opts+=(-3) am_mode="git am -3"
		log "$name: $tree has the preimage blobs of the patches ($needed): git am -3 (3-way merge where context drifted)"
	else
		log "$name: $tree lacks $missing of the $needed preimage blobs of the patches (another release than the series' base, or not a clone of upstream): plain git am"
	fi
	log "$name: applying ${#patches[@]} patches of $dir/ on $(git -C "$tree" log -1 --format='%h %s' "$base")"
	local before am_log=$BUILD/am-$name.log
	before=$(fork_state "$tree")
	orig_head=$(git -C "$tree" rev-parse -q --verify ORIG_HEAD || true)
	git -C "$tree" checkout -q -B "$SERIES_BRANCH.new" "$base"
	if [ ${#patches[@]} -gt 0 ] && ! git -C "$tree" -c user.name="${GIT_AUTHOR_NAME:-pci-ice-mp}" -c user.email="${GIT_AUTHOR_EMAIL:-pci-ice-mp@localhost}" \
		am "${am_opts[@]}" "${patches[@]}" >"$am_log" 2>&1; then
		apply_failed "$name" "$tree" "$dir" "$old_head" "$before" "$am_log" "$am_mode" "$orig_head" "${patches[@]}"
	fi
	git -C "$tree" branch -q -M "$SERIES_BRANCH.new" "$SERIES_BRANCH"
	local made three_way
	made=$(patch_ids_of_range "$tree" "$base..$SERIES_BRANCH")
	three_way=$(awk '/^Applying: / { cur = substr($0, 11) } /^Falling back to patching base and 3-way merge/ { print "    " cur }' "$am_log")
	if [ -n "$three_way" ]; then
		log "$name: applied with a 3-way merge (the context had drifted):"
		echo "$three_way" >&2
	fi
	if [ "$made" = "$want" ]; then
		{ echo "$base"; echo "$want"; } >"$mark"
		rm -f "$merged"
	else
		# The merges changed some patch's context: the commits are not byte for
		# byte the patch files (make check's series check will say so; make export
		# from this tree writes them back).
		{ echo "$base"; echo "$made"; } >"$mark"
		echo "$want" >"$merged"
		warn "$name: the 3-way merges changed the context of some patches: branch $SERIES_BRANCH of $tree differs from $dir/ in context lines"
	fi
	git -C "$tree" config "branch.$SERIES_BRANCH.description" "$(cover_description "$dir")"
}

# apply_failed NAME TREE DIR OLD_HEAD BEFORE AM_LOG AM_MODE ORIG_HEAD PATCH...: git am stopped.
# Names the patch and the file(s) in one line, aborts the am, puts TREE back on
# OLD_HEAD, deletes the temporary branch, puts back ORIG_HEAD (git am sets it;
# empty: there was none) and checks TREE is exactly as it was
# (fork_state BEFORE); dies either way.
apply_failed() {
	local name=$1 tree=$2 dir=$3 old_head=$4 before=$5 am_log=$6 am_mode=$7 orig_head=$8 num="" files subject what after
	shift 8
	num=$(cat "$(tree_git_path "$tree" rebase-apply/next)" 2>/dev/null || true)
	files=$(am_failed_files "$tree" "$am_log" | paste -sd, - | sed 's/,/, /g')
	subject=$(sed -n 's/^Patch failed at [0-9]* //p' "$am_log" | head -1)
	git -C "$tree" am --abort >/dev/null 2>&1 || true
	git -C "$tree" checkout -q "$old_head" 2>/dev/null || git -C "$tree" checkout -q -f "$old_head"
	git -C "$tree" branch -q -D "$SERIES_BRANCH.new" 2>/dev/null || true
	if [ -n "$orig_head" ]; then
		git -C "$tree" update-ref --no-deref ORIG_HEAD "$orig_head"
	else
		git -C "$tree" update-ref --no-deref -d ORIG_HEAD 2>/dev/null || true
	fi
	sed 's/^/    /' "$am_log" | tail -25 >&2
	if [[ $num =~ ^[0-9]+$ ]] && [ "$num" -ge 1 ] && [ "$num" -le $# ]; then
		local file=${!num}
		[ -n "$subject" ] || subject=$(sed -n 's/^Subject: *\(\[[^]]*\] *\)\{0,1\}//p' "$file" | head -1)
		what="patch $num/$# ${file##*/} (\"$subject\") does not apply: ${files:-git am named no file (see its output above)}"
	else
		what="git am failed before it applied any patch (see its output above)"
	fi
	after=$(fork_state "$tree")
	if [ "$after" != "$before" ]; then
		diff <(echo "$before") <(echo "$after") | head -20 | sed 's/^/    /' >&2
		die "$name: $what; $am_mode aborted, but $tree is NOT as it was (the differences are above)"
	fi
	die "$name: $what ($am_mode, in $tree); aborted: $tree is as it was ($old_head at $(git -C "$tree" rev-parse --short HEAD), nothing changed)"
}

checkout_branch() { # tree
	[ "$(git -C "$1" symbolic-ref -q --short HEAD)" = "$SERIES_BRANCH" ] && return 0
	tree_is_clean "$1" || die "$1 has uncommitted changes on another branch; commit or stash them first"
	git -C "$1" checkout -q "$SERIES_BRANCH"
}

step_time
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
