#!/usr/bin/env bash
# Usage: scripts/submission.sh [--check-args] --assisted-by 'AGENT_NAME:MODEL_VERSION [TOOL]...'
#                              [-v N] [--rfc] [--ack-qemu-ai-policy] [qemu|linux]...
#
# Writes the series of the work trees (commits base..ice-mp of build/linux and
# build/qemu, or of LINUX_SRC / QEMU_SRC) as mail-ready patch files into
# build/submission/linux/ and build/submission/qemu/, the way b4 (kernel) and
# git-publish (QEMU) prepare a series, and build/submission/SEND.txt with the
# commands used and the next steps. It never sends anything and never changes a
# work tree: the commits are rewritten in a temporary repository that borrows
# the tree's objects. build/submission/ is replaced on every run.
#
# Each patch goes out under the submitter's identity: user.name / user.email of
# this repository's git config, or GIT_AUTHOR_NAME / GIT_AUTHOR_EMAIL. Commits
# authored by a placeholder identity (anything the identity check below
# rejects, such as the work trees' own) get the submitter as author; a real
# author is kept. Signed-off-by lines of placeholder identities are dropped; the
# submitter's Signed-off-by is added last (only a human certifies the DCO), after
# an `Assisted-by: AGENT_NAME:MODEL_VERSION [TOOL]...` trailer: the series was
# written with AI assistance, and Linux's
# Documentation/process/coding-assistants.rst asks tool-assisted patches to
# carry that trailer. --assisted-by is required: say which assistant and model
# (the format is checked; basic tools like git, gcc, make are not listed).
#
# It refuses (exit 1, nothing written) when the identity is missing or a
# placeholder: the trees' internal identities, an address without '@' or whose
# domain has no dot, reserved or local domains (localhost, *.localdomain,
# *.local, *.invalid, *.test, *.example, example.com/net/org), no-reply
# addresses, names like root, user, nobody.
#
# Linux: subject prefix [PATCH net-next]; To: and Cc: as `b4 prep --auto-to-cc`
# computes them (the tree's scripts/get_maintainer.pl with b4's default
# options, --nol for To:, --nom for Cc:), the same on every message.
# QEMU: subject prefix [PATCH]; To: the list of the tree's .gitpublish default
# profile (qemu-devel@nongnu.org), Cc: its cccmd (get_maintainer.pl
# --noroles --norolestats --nogit --nogit-fallback), the same on every message,
# as git-publish does. QEMU's docs/devel/code-provenance.rst declines
# contributions that include or derive from AI-generated content, so under
# QEMU's current policy this QEMU series cannot be sent upstream by anyone: it
# is written only with --ack-qemu-ai-policy, with that notice at the top of its
# cover letter and no send command in SEND.txt. Without the flag, naming `qemu`
# is an error and the default (both series) writes Linux only, with a warning.
#
# QEMU fixes: the leading commits of the QEMU series that carry a Fixes: trailer
# and Cc: qemu-stable@nongnu.org (fixes to QEMU's core that the device needs)
# are written each as its own one-patch series into build/submission/qemu-fixes/,
# applied alone to the base (so a fix does not claim the ones before it as
# prerequisites), with their own recipients; the device series in
# build/submission/qemu/ starts after them, its base-commit lists them as
# prerequisite patches and its cover letter names them (Based-on: lines to add
# once they are sent).
#
# The cover letter is the branch description of ice-mp (else the committed
# cover letter), then the upstream base (the subject of the base commit, and
# base-commit: from --base) and the tool-assistance disclosure. Both series
# sit on a release, not on net-next / QEMU master: the cover letter says so,
# and they need a rebase before sending (the script warns). Threading is left
# to git send-email / b4 (every patch a reply to the cover letter).
#
# checkpatch runs on exactly the files written, the cover letter excluded:
# the tree's scripts/checkpatch.pl (--strict for Linux), from a scratch folder
# with --root so nothing is written into the tree. Totals are printed per patch
# and per series; warnings are printed; any error makes the exit status 1.
#
#   --check-args         check the arguments and the identity, then exit
#   --assisted-by VALUE  the Assisted-by trailer: 'AGENT_NAME:MODEL_VERSION [TOOL]...'
#   -v, --version N      reroll count: [PATCH net-next v2 ...], files v2-*.patch (1..99)
#   --rfc                [RFC PATCH ...]
#   --ack-qemu-ai-policy write the QEMU series although QEMU's policy declines it
#                        (for review or an exception discussion, not for sending)
#   qemu|linux           the series to write (default: both)
#
# A work tree with a rebase, git am, cherry-pick, ... in progress or with
# uncommitted changes is refused: wait for it, or commit first.
source "$(dirname "$0")/lib.sh"

check_only=0
version=1
rfc=0
assisted=""
ack_qemu=0
names=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage_from_header "$0"; exit 0 ;;
	--check-args) check_only=1 ;;
	-v | --version)
		need_value "$1" "${2:-}"
		need_uint "$1" "$2" 1 99
		version=$2
		shift
		;;
	--rfc) rfc=1 ;;
	--assisted-by)
		need_value "$1" "${2:-}"
		assisted=$2
		shift
		;;
	--assisted-by=*) assisted=${1#*=} ;;
	--ack-qemu-ai-policy) ack_qemu=1 ;;
	-*) die "unknown option '$1' (see --help)" ;;
	*) names+=("$1") ;;
	esac
	shift
done
trees_from_args series "${names[@]}"

# Regular expressions live in variables: a backslash in [[ =~ ]] can turn '<'
# into a word boundary.
re_bad_addr='[[:space:]<>]'
re_angle='<([^<>]*)>'
re_sob='^[Ss]igned-off-by:[[:space:]]*(.*[^[:space:]])[[:space:]]*<([^<>]*)>[[:space:]]*$'
re_assisted='^[A-Za-z0-9][A-Za-z0-9._+-]*:[A-Za-z0-9][A-Za-z0-9._+/-]*( [A-Za-z0-9][A-Za-z0-9._+-]*)*$'

# placeholder_reason NAME EMAIL: prints why NAME <EMAIL> is not a real person's
# identity and succeeds; fails, printing nothing, when it looks real.
placeholder_reason() {
	local name=$1 email=$2 lname lpart domain
	lname=$(tr '[:upper:]' '[:lower:]' <<<"$name" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
	email=$(tr '[:upper:]' '[:lower:]' <<<"$email")
	if [ -z "$lname" ]; then echo "no name"; return 0; fi
	if [ -z "$email" ]; then echo "no email address"; return 0; fi
	case "$lname" in
	pci-ice-mp | "pci-ice-mp base") echo "'$name' is this project's internal identity"; return 0 ;;
	root | user | username | "user name" | nobody | anonymous | unknown | admin | administrator | \
		"your name" | name | none | test | tester | debian | ubuntu | *maintainers)
		echo "'$name' is not a person's name"; return 0 ;;
	esac
	if [[ $name == *[\<\>]* ]]; then echo "the name contains '<' or '>'"; return 0; fi
	case "$email" in
	pci-ice-mp@localhost | base@pci-ice-mp.invalid) echo "<$email> is this project's internal identity"; return 0 ;;
	esac
	if [[ $email != *@* ]]; then echo "<$email> has no '@'"; return 0; fi
	lpart=${email%@*}
	domain=${email#*@}
	if [[ $lpart == *@* || -z $lpart || $email =~ $re_bad_addr ]]; then
		echo "<$email> is not one address"; return 0
	fi
	if [[ $domain != *.* ]]; then echo "the domain of <$email> has no dot"; return 0; fi
	if ! [[ $domain =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$ ]]; then
		echo "'$domain' is not a domain name"; return 0
	fi
	case "$domain" in
	localhost | localdomain | *.localhost | *.localdomain | *.local | *.invalid | *.test | *.example | \
		example.com | example.net | example.org | *.example.com | *.example.net | *.example.org)
		echo "'$domain' is a reserved or local domain, not a mailbox anyone can reach"; return 0 ;;
	esac
	case "$email" in
	*noreply* | *no-reply*) echo "<$email> is a no-reply address: review replies could not reach it"; return 0 ;;
	esac
	case "$lpart" in
	root | nobody) echo "<$email> is a system account"; return 0 ;;
	esac
	return 1
}

# The submitter: GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL (both), else git config.
if [ -n "${GIT_AUTHOR_NAME:-}" ] || [ -n "${GIT_AUTHOR_EMAIL:-}" ]; then
	[ -n "${GIT_AUTHOR_NAME:-}" ] || die "GIT_AUTHOR_EMAIL is set but GIT_AUTHOR_NAME is not: set both (or neither, to use git config user.name / user.email)"
	[ -n "${GIT_AUTHOR_EMAIL:-}" ] ||
		die "GIT_AUTHOR_NAME is set but GIT_AUTHOR_EMAIL is not: set both (or neither, to use git config user.name / user.email)"
	sub_name=$GIT_AUTHOR_NAME sub_email=$GIT_AUTHOR_EMAIL
	name_src=GIT_AUTHOR_NAME email_src=GIT_AUTHOR_EMAIL
else
	sub_name=$(git -C "$TOP" config user.name || true)
	sub_email=$(git -C "$TOP" config user.email || true)
	name_src="git config user.name" email_src="git config user.email"
fi
if why=$(placeholder_reason "$sub_name" "$sub_email"); then
	die "no real submitter identity ($name_src='$sub_name', $email_src='$sub_email': $why).
The patches are sent under your identity with your Signed-off-by, which certifies
the Developer's Certificate of Origin; only a human can give it. Set yours with
  git config user.name 'Your Name'; git config user.email 'you@your-domain'
(or GIT_AUTHOR_NAME= / GIT_AUTHOR_EMAIL=) and run this again. Nothing was written."
fi
submitter="$sub_name <$sub_email>"

[ -n "$assisted" ] || die "--assisted-by 'AGENT_NAME:MODEL_VERSION [TOOL]...' is required: this series was written
with AI assistance, and Linux's Documentation/process/coding-assistants.rst asks each such
patch to carry 'Assisted-by: AGENT_NAME:MODEL_VERSION [TOOL1] [TOOL2]' (its example:
'Assisted-by: Claude:claude-3-opus coccinelle sparse'). Name the assistant and model that
were used; the script cannot know them. Nothing was written."
[[ $assisted =~ $re_assisted ]] ||
	die "--assisted-by '$assisted': the format is 'AGENT_NAME:MODEL_VERSION [TOOL1] [TOOL2]' (single spaces, no email address)"
read -ra assisted_words <<<"$assisted"
for tool in "${assisted_words[@]:1}"; do
	case "${tool,,}" in
	git | gcc | make | cc | ld | vim | vi | emacs | nano | editor)
		die "--assisted-by: '$tool' is a basic development tool; coding-assistants.rst says those \"should not be listed\"" ;;
	esac
done

skip_qemu=0
if [[ " ${TREES[*]} " == *" qemu "* ]] && [ "$ack_qemu" = 0 ]; then
	if [[ " ${names[*]:-} " == *" qemu "* ]]; then
		die "qemu: not written. QEMU's docs/devel/code-provenance.rst: \"Current QEMU project policy is
to DECLINE any contributions which are believed to include or derive from AI generated content.\"
This series was written with AI assistance, so under that policy nobody can send it to QEMU.
--ack-qemu-ai-policy writes it anyway, marked as such, for review or for a discussion of an
exception on qemu-devel (the policy's 'Exceptions' section); see docs/contributing.md."
	fi
	skip_qemu=1
	TREES=(linux)
fi

[ "$check_only" = 0 ] || exit 0

# Every tree is checked before anything is written.
declare -A TREE BASE TIP
for w in "${TREES[@]}"; do
	case "$w" in qemu) tree=$QEMU_TREE ;; linux) tree=$LINUX_TREE ;; esac
	git -C "$tree" rev-parse --git-dir >/dev/null 2>&1 || die "$w: $tree is not a git work tree (run 'make worktrees')"
	git -C "$tree" rev-parse -q --verify "refs/heads/$SERIES_BRANCH" >/dev/null ||
		die "$w: $tree has no branch $SERIES_BRANCH (run 'make worktrees'; if the tree is being ported, wait for that)"
	case "$(tree_state "$tree")" in
	busy) die "$w: $tree has a $(tree_operation "$tree") in progress; wait for it or finish it, then run this again (nothing was written)" ;;
	dirty) die "$w: $tree has uncommitted changes; commit (and make export) or stash them: a submission is written from commits only (nothing was written)" ;;
	esac
	base=$(series_base "$w" "$tree")
	tip=$(git -C "$tree" rev-parse "refs/heads/$SERIES_BRANCH")
	[ -n "$(git -C "$tree" rev-list "$base..$tip")" ] || die "$w: $tree has no commits on its base"
	[ -z "$(git -C "$tree" rev-list --merges "$base..$tip")" ] || die "$w: $tree has merge commits on its base; a patch series cannot carry them"
	TREE[$w]=$tree BASE[$w]=$base TIP[$w]=$tip
done

OUT=$BUILD/submission
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
STAGE=$TMP/out
mkdir -p "$STAGE"
send_txt=$STAGE/SEND.txt
status=0

# Git in the scratch repositories: no user or system configuration (format.*,
# trailer.*, commit.gpgSign, ...), so the output is what this script says.
sgit() { GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 git "$@"; }

wrap() { printf '%s\n' "$1" | fold -s -w 72 | sed 's/ *$//'; }

email_of() { # "Name <addr>" or "addr" -> addr
	if [[ $1 =~ $re_angle ]]; then echo "${BASH_REMATCH[1]}"; else echo "$1"; fi
}

# rewrite W REPO: the commits base..tip of W's tree, re-made in REPO under the
# submitter with the trailers; sets branch ice-mp of REPO; notes go to $notes.
rewrite() {
	local w=$1 repo=$2 tree=${TREE[$1]} parent=${BASE[$1]} c i=0 an ae ad line n e why new
	local -a who env
	sgit init -q "$repo"
	# format-patch dates and signs the cover letter as the committer.
	sgit -C "$repo" config user.name "$sub_name"
	sgit -C "$repo" config user.email "$sub_email"
	tree_git_path "$tree" objects >"$repo/.git/objects/info/alternates"
	for c in $(git -C "$tree" rev-list --reverse "${BASE[$w]}..${TIP[$w]}"); do
		i=$((i + 1))
		mapfile -t who < <(git -C "$tree" log -1 --format='%an%n%ae%n%aI' "$c")
		an=${who[0]} ae=${who[1]} ad=${who[2]}
		if placeholder_reason "$an" "$ae" >/dev/null; then
			env=(GIT_AUTHOR_NAME="$sub_name" GIT_AUTHOR_EMAIL="$sub_email")
		elif [ "${ae,,}" = "${sub_email,,}" ]; then
			env=(GIT_AUTHOR_NAME="$an" GIT_AUTHOR_EMAIL="$ae" GIT_AUTHOR_DATE="$ad")
		else
			env=(GIT_AUTHOR_NAME="$an" GIT_AUTHOR_EMAIL="$ae" GIT_AUTHOR_DATE="$ad")
			echo "patch $i keeps its author $an <$ae> (an in-body From: line); your Signed-off-by follows theirs" >>"$notes"
		fi
		: >"$TMP/msg"
		while IFS= read -r line; do
			if [[ $line =~ $re_sob ]]; then
				n=${BASH_REMATCH[1]} e=${BASH_REMATCH[2]}
				if why=$(placeholder_reason "$n" "$e"); then continue; fi
				[ "${e,,}" != "${sub_email,,}" ] || continue # added again, last
			fi
			printf '%s\n' "$line" >>"$TMP/msg"
		done < <(git -C "$tree" log -1 --format=%B "$c")
		git stripspace <"$TMP/msg" |
			sgit interpret-trailers --if-exists addIfDifferent \
				--trailer "Assisted-by: $assisted" --trailer "Signed-off-by: $submitter" >"$TMP/msg2"
		new=$(env "${env[@]}" GIT_COMMITTER_NAME="$sub_name" GIT_COMMITTER_EMAIL="$sub_email" \
			GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
			git -C "$repo" commit-tree "$(git -C "$tree" rev-parse "$c^{tree}")" -p "$parent" -F "$TMP/msg2")
		parent=$new
	done
	sgit -C "$repo" branch -f "$SERIES_BRANCH" "$parent"
}

# cover_text W: subject line, blank line, body of the series' cover letter: the
# branch description of the tree, else the committed cover letter's text.
cover_text() {
	local w=$1 tree=${TREE[$1]} desc committed=$TOP/$1-patches/0000-cover-letter.patch
	desc=$(git -C "$tree" config "branch.$SERIES_BRANCH.description" || true)
	if [ -n "$desc" ]; then
		printf '%s\n' "$desc" | git stripspace
		return 0
	fi
	[ -f "$committed" ] || die "$w: branch $SERIES_BRANCH of $tree has no description and there is no $committed"
	echo "branch $SERIES_BRANCH of $tree has no description: the cover letter text is the committed ${committed#"$TOP"/}" >>"$notes"
	git mailinfo "$TMP/cl.msg" "$TMP/cl.patch" <"$committed" | sed -n 's/^Subject: //p'
	echo
	# The text ends where format-patch's shortlog ("Author Name (N):") starts.
	sed '/^[^ ].* ([0-9]*):$/,$d' "$TMP/cl.msg" | git stripspace
}

# recipients FILE...: sets TO and CC (one address per line) the way the field's
# tool for this tree does; placeholder addresses and the submitter are left out.
recipients() {
	local w=$1 tree=${TREE[$1]} line e why
	shift
	local -A seen=()
	local -a to_raw cc_raw gm
	to_raw=() cc_raw=()
	if [ "$w" = linux ]; then
		gm=(./scripts/get_maintainer.pl --nogit --nogit-fallback --nogit-chief-penguins --norolestats)
		mapfile -t to_raw < <(cd "$tree" && "${gm[@]}" --nol "$@")
		mapfile -t cc_raw < <(cd "$tree" && "${gm[@]}" --nom "$@")
		printf '  (cd %q && %s --nol PATCHES)   # To:, as b4 prep --auto-to-cc\n' "$tree" "${gm[*]}" >>"$cmds"
		printf '  (cd %q && %s --nom PATCHES)   # Cc:\n' "$tree" "${gm[*]}" >>"$cmds"
	else
		gm=(./scripts/get_maintainer.pl --noroles --norolestats --nogit --nogit-fallback)
		mapfile -t to_raw < <(git config -f "$tree/.gitpublish" --get gitpublishprofile.default.to 2>/dev/null ||
			echo qemu-devel@nongnu.org)
		mapfile -t cc_raw < <(cd "$tree" && "${gm[@]}" "$@" 2>/dev/null)
		printf '  To: %s   # .gitpublish, profile default\n' "${to_raw[*]}" >>"$cmds"
		printf '  (cd %q && %s PATCHES)   # Cc:, the cccmd of .gitpublish, as git-publish\n' "$tree" "${gm[*]}" >>"$cmds"
	fi
	[ "$(git -C "$tree" rev-parse HEAD)" = "${TIP[$w]}" ] ||
		echo "HEAD of $tree is not $SERIES_BRANCH: get_maintainer.pl read the MAINTAINERS file of the checked-out commit" >>"$notes"
	TO="" CC=""
	for line in "${to_raw[@]}" "${cc_raw[@]}"; do
		[ -n "$line" ] || continue
		e=$(email_of "$line")
		if [ -n "${seen[${e,,}]:-}" ] || [ "${e,,}" = "${sub_email,,}" ]; then continue; fi
		seen[${e,,}]=1
		if why=$(placeholder_reason "${line%%<*}x" "$e"); then
			echo "get_maintainer.pl names $line, left out of the recipients: $why" >>"$notes"
			continue
		fi
		if printf '%s\n' "${to_raw[@]}" | grep -qxF -- "$line"; then TO+=$line$'\n'; else CC+=$line$'\n'; fi
	done
}

run_checkpatch() { # W FILE... -> prints totals; sets CP_ERRORS, CP_SUMMARY
	local w=$1 tree=${TREE[$1]} f out total e=0 wn=0 ch=0 te tw tc
	shift
	local -a cp=("$tree/scripts/checkpatch.pl" "--root=$tree")
	[ "$w" = qemu ] || cp+=(--strict)
	mkdir -p "$TMP/cp"
	printf '  (cd SCRATCH && %s FILE)   # each patch file written, cover letter excluded\n' "${cp[*]}" >>"$cmds"
	for f in "$@"; do
		# A scratch cwd: checkpatch writes its CamelCase cache into the current folder.
		out=$(cd "$TMP/cp" && { PATH=/usr/bin:$PATH "${cp[@]}" "$f" 2>&1 || true; })
		total=$(grep '^total:' <<<"$out" | tail -1 || true)
		if [ -z "$total" ]; then
			total="total: 1 errors, 0 warnings (checkpatch printed no total line)"
			printf '%s\n' "$out" >&2
		fi
		printf '%s: %s: %s\n' "$w" "$(basename "$f")" "$total"
		grep -E -A3 '^(ERROR|WARNING|CHECK)' <<<"$out" | grep -v '^total:' | sed 's/^/    /' || true
		te=$(sed -n 's/^total: \([0-9]*\) errors.*/\1/p' <<<"$total")
		tw=$(sed -n 's/.* \([0-9]*\) warnings.*/\1/p' <<<"$total")
		tc=$(sed -n 's/.* \([0-9]*\) checks.*/\1/p' <<<"$total")
		e=$((e + ${te:-1})) wn=$((wn + ${tw:-0})) ch=$((ch + ${tc:-0}))
		echo "    $(basename "$f"): $total" >>"$TMP/cp.totals"
	done
	CP_ERRORS=$e
	if [ "$w" = qemu ]; then
		CP_SUMMARY="total: $e errors, $wn warnings ($# patches)"
	else
		CP_SUMMARY="total: $e errors, $wn warnings, $ch checks ($# patches)"
	fi
	printf '%s: checkpatch %s\n' "$w" "$CP_SUMMARY"
}

# leading_fixes W: how many commits at the start of W's series are fixes for
# stable (a Fixes: trailer and a Cc: qemu-stable@nongnu.org line).
leading_fixes() {
	local w=$1 tree=${TREE[$1]} c n=0 msg
	[ "$w" = qemu ] || { echo 0; return 0; }
	for c in $(git -C "$tree" rev-list --reverse "${BASE[$w]}..${TIP[$w]}"); do
		msg=$(git -C "$tree" log -1 --format=%B "$c")
		grep -qE '^Fixes: [0-9a-f]{12,} \(".*"\)$' <<<"$msg" || break
		grep -qixF 'Cc: qemu-stable@nongnu.org' <<<"$msg" || break
		n=$((n + 1))
	done
	echo "$n"
}

# write_fix W REPO COMMIT K: the rewritten fix COMMIT of REPO, re-made alone on
# the base, as a one-patch series into $STAGE/W-fixes/ (file number K).
write_fix() {
	local w=$1 repo=$2 c=$3 k=$4 base=${BASE[$1]} idx=$TMP/fix.index t alone out=$STAGE/$1-fixes f line
	local -a who fp rcpt
	mkdir -p "$out"
	rm -f "$idx"
	GIT_INDEX_FILE=$idx sgit -C "$repo" read-tree "$base"
	if sgit -C "$repo" diff "$c^" "$c" | GIT_INDEX_FILE=$idx sgit -C "$repo" apply --cached 2>/dev/null; then
		t=$(GIT_INDEX_FILE=$idx sgit -C "$repo" write-tree)
		mapfile -t who < <(sgit -C "$repo" log -1 --format='%an%n%ae%n%aI' "$c")
		alone=$(GIT_AUTHOR_NAME="${who[0]}" GIT_AUTHOR_EMAIL="${who[1]}" GIT_AUTHOR_DATE="${who[2]}" \
			GIT_COMMITTER_NAME="$sub_name" GIT_COMMITTER_EMAIL="$sub_email" \
			sgit -C "$repo" commit-tree "$t" -p "$base" -m "$(sgit -C "$repo" log -1 --format=%B "$c")")
	else
		alone=$c
		echo "fix $k does not apply to the base without the fixes before it: written on top of them (its base-commit lists them)" >>"$notes"
	fi
	fp=(format-patch -q --no-thread --start-number="$k" --base="$base" --from="$submitter"
		--subject-prefix="$prefix")
	[ "$version" = 1 ] || fp+=(-v "$version")
	sgit -C "$repo" "${fp[@]}" -o "$TMP/fix.pre" -1 "$alone" >/dev/null
	f=$(find "$TMP/fix.pre" -maxdepth 1 -name "*$(printf '%04d' "$k")-*.patch")
	recipients "$w" "$f"
	rm -rf "$TMP/fix.pre"
	rcpt=()
	while IFS= read -r line; do [ -z "$line" ] || rcpt+=(--to="$line"); done <<<"$TO"
	while IFS= read -r line; do [ -z "$line" ] || rcpt+=(--cc="$line"); done <<<"$CC"
	rcpt+=(--cc=qemu-stable@nongnu.org)
	sgit -C "$repo" "${fp[@]}" "${rcpt[@]}" -o "$out" -1 "$alone" >/dev/null
	printf '  git %s -o %s -1 %s   # fix %s, alone on the base\n' \
		"$(printf '%q ' "${fp[@]}" "${rcpt[@]}")" "build/submission/$w-fixes" "${alone:0:12}" "$k" >>"$cmds"
	FIX_FILES+=("$(find "$out" -maxdepth 1 -name "*$(printf '%04d' "$k")-*.patch")")
	FIX_SUBJECTS+=("$(sgit -C "$repo" log -1 --format=%s "$c")")
}

write_series() {
	local w=$1 tree=${TREE[$1]} base=${BASE[$1]} repo=$TMP/$1.git out=$STAGE/$1 prefix base_subject
	local -a fp files
	notes=$TMP/$w.notes cmds=$TMP/$w.cmds
	: >"$notes"
	: >"$cmds"
	: >"$TMP/cp.totals"
	log "$w: rewriting $(git -C "$tree" rev-list --count "$base..${TIP[$w]}") commits of $tree under $submitter"
	[ "$(patch_ids_of_range "$tree" "$base..${TIP[$w]}")" = "$(patch_ids_of_files "$TOP/$w-patches")" ] ||
		echo "the commits of $tree are not the committed $w-patches/ (make export, make check-export, commit): what is sent should be what the repository holds and make check tested" >>"$notes"
	rewrite "$w" "$repo"
	base_subject=$(git -C "$tree" log -1 --format=%s "$base")
	if [ "$w" = linux ]; then prefix="PATCH net-next"; else prefix=PATCH; fi
	[ "$rfc" = 0 ] || prefix="RFC $prefix"

	# Fixes to QEMU's core go first, each on its own; the series starts after them.
	local nfix k from=$base
	nfix=$(leading_fixes "$w")
	FIX_FILES=() FIX_SUBJECTS=()
	for ((k = 1; k <= nfix; k++)); do
		from=$(sgit -C "$repo" rev-list --reverse "$base..$SERIES_BRANCH" | sed -n "${k}p")
		write_fix "$w" "$repo" "$from" "$k"
	done
	if [ "$nfix" -gt 0 ]; then
		run_checkpatch "$w" "${FIX_FILES[@]}"
		[ "$CP_ERRORS" = 0 ] || status=1
		{
			echo "== QEMU fixes: build/submission/$w-fixes/ ($nfix one-patch series, each for master and stable)"
			echo
			echo "Each fixes a bug in QEMU's core that the device series below depends on; each"
			echo "goes on its own, To: qemu-devel, Cc: qemu-stable and its maintainers (in the file),"
			echo "applied alone to the base. The same policy notice as for the series applies."
			echo "checkpatch: $CP_SUMMARY"
			cat "$TMP/cp.totals"
			echo
		} >>"$send_txt"
		: >"$TMP/cp.totals"
	fi

	# The cover letter: the series' own text, the base, the tool assistance.
	cover_text "$w" >"$TMP/$w.cover"
	{
		sed -n 1p "$TMP/$w.cover"
		echo
		if [ "$w" = qemu ]; then
			cat <<-EOF
			NOTICE: this series was written with AI assistance (see the Assisted-by:
			trailers). QEMU's docs/devel/code-provenance.rst: "Current QEMU project
			policy is to DECLINE any contributions which are believed to include or
			derive from AI generated content." Under that policy this series cannot
			be sent to QEMU as a contribution. It was written with
			--ack-qemu-ai-policy for review, or for a discussion of an exception on
			qemu-devel (the policy's "Exceptions" section lists none).

			EOF
		fi
		sed 1,2d "$TMP/$w.cover"
		echo
		if [ "$nfix" -gt 0 ]; then
			wrap "This series needs $nfix fix(es) to QEMU's core, sent on their own for master and stable:"
			printf '  %s\n' "${FIX_SUBJECTS[@]}"
			wrap "Add a Based-on: <message-id> line for each here once they are sent (the base-commit below lists them as prerequisite patches)."
			echo
		fi
		if [ "$version" -gt 1 ]; then
			printf 'Changes in v%s:\n- EDIT: what changed since v%s, with a link to it\n\n' "$version" "$((version - 1))"
		fi
		if [ "$tree" = "$BUILD/$w" ]; then
			if [ "$w" = linux ]; then
				wrap "Base: $base_subject, the release tarball imported as one commit; the base-commit below names that import, not a commit of an upstream tree. netdev takes new features on net-next only: this series has to be rebased onto net-next/main, rebuilt and retested before it is sent."
			else
				wrap "Base: $base_subject, the release tarball imported as one commit; the base-commit below names that import, not a commit of an upstream tree. QEMU takes patches on current master (docs/devel/submitting-a-patch.rst): this series would have to be rebased onto master first."
			fi
		else
			wrap "Base: $base_subject (base-commit below)."
		fi
		echo
		if [ "$w" = linux ]; then
			wrap "Tool assistance: written with the help of an AI coding assistant ($assisted); each patch carries an Assisted-by: trailer, as Documentation/process/coding-assistants.rst asks. The Signed-off-by: lines are the human submitter's own."
		else
			wrap "Tool assistance: written with the help of an AI coding assistant ($assisted); each patch discloses it in an Assisted-by: trailer (the trailer Linux's coding-assistants.rst defines; QEMU's policy defines none, see the notice above)."
		fi
	} >"$TMP/$w.desc"
	sgit -C "$repo" config "branch.$SERIES_BRANCH.description" "$(cat "$TMP/$w.desc")"

	fp=(format-patch -q --cover-letter --cover-from-description=subject --numbered --no-thread
		--base="$base" --subject-prefix="$prefix" --from="$submitter")
	[ "$version" = 1 ] || fp+=(-v "$version")

	# Recipients come from the patches themselves, as b4 / git-publish do.
	sgit -C "$repo" "${fp[@]}" -o "$TMP/$w.pre" "$from..$SERIES_BRANCH" >/dev/null
	mapfile -t files < <(find "$TMP/$w.pre" -maxdepth 1 -name '*.patch' ! -name '*0000-cover-letter.patch' | sort)
	recipients "$w" "${files[@]}"
	local -a rcpt=()
	while IFS= read -r line; do [ -z "$line" ] || rcpt+=(--to="$line"); done <<<"$TO"
	while IFS= read -r line; do [ -z "$line" ] || rcpt+=(--cc="$line"); done <<<"$CC"
	sgit -C "$repo" "${fp[@]}" "${rcpt[@]}" -o "$out" "$from..$SERIES_BRANCH" >/dev/null
	printf '  git %s -o %s %s..%s   # in the scratch repository of the rewritten commits\n' \
		"$(printf '%q ' "${fp[@]}" "${rcpt[@]}")" "build/submission/$w" "${from:0:12}" "$SERIES_BRANCH" >>"$cmds"
	mapfile -t files < <(find "$out" -maxdepth 1 -name '*.patch' ! -name '*0000-cover-letter.patch' | sort)

	# What was written: the submitter's sign-off last, the Assisted-by trailer.
	local f last
	for f in "${files[@]}"; do
		last=$(sed -n '/^---$/q; /^Signed-off-by: /p' "$f" | tail -1)
		[ "$last" = "Signed-off-by: $submitter" ] || die "$w: $(basename "$f"): the last Signed-off-by is '$last', not yours"
		grep -qxF "Assisted-by: $assisted" "$f" || die "$w: $(basename "$f"): no Assisted-by trailer"
	done
	# Placeholder identities in the content (a MAINTAINERS entry, say) cannot be sent.
	local addr
	while read -r addr; do
		why=$(placeholder_reason x "$addr") || continue
		local in=""
		for f in "${files[@]}"; do
			! grep '^+' "$f" | grep -qF -- "$addr" || in+=" $(basename "$f")"
		done
		echo "the patches add the address <$addr> ($why): replace it with a real one (in$in)" >>"$notes"
	done < <(grep -h '^+' "${files[@]}" | grep -v '^+++ ' |
		grep -oE '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}' | sort -u)

	run_checkpatch "$w" "${files[@]}"
	[ "$CP_ERRORS" = 0 ] || status=1
	cp "$TMP/cp.totals" "$TMP/$w.cptotals"
	local summary=$CP_SUMMARY

	# SEND.txt section.
	{
		if [ "$w" = linux ]; then
			echo "== Linux: build/submission/linux/ (${#files[@]} patches and a cover letter)"
		else
			echo "== QEMU: build/submission/qemu/ (${#files[@]} patches and a cover letter)"
			echo
			echo "   NOT FOR SENDING. QEMU's docs/devel/code-provenance.rst: \"Current QEMU"
			echo "   project policy is to DECLINE any contributions which are believed to"
			echo "   include or derive from AI generated content.\" This series was written with"
			echo "   AI assistance, so under that policy nobody can send it to QEMU; no send"
			echo "   command is given here. Written with --ack-qemu-ai-policy for review or for"
			echo "   a discussion of an exception on qemu-devel (none is listed in the policy)."
		fi
		echo
		echo "From / Signed-off-by: $submitter"
		echo "Assisted-by: $assisted"
		echo "Subject prefix: [$prefix$([ "$version" = 1 ] || echo " v$version")]"
		echo "Base: $base_subject, base-commit $base"
		echo "To:"
		printf '%s' "$TO" | sed 's/^/  /'
		echo "Cc:"
		printf '%s' "$CC" | sed 's/^/  /'
		echo "checkpatch: $summary"
		cat "$TMP/$w.cptotals"
		echo
		echo "Commands:"
		cat "$cmds"
		echo
		echo "Before sending:"
		if [ "$w" = linux ]; then
			[ "$tree" != "$BUILD/$w" ] ||
				echo "- Rebase onto net-next/main (netdev takes new features on net-next only), rebuild, retest, run this again."
			echo "- Read every patch. Your Signed-off-by certifies the DCO for all of it;"
			echo "  coding-assistants.rst makes the human submitter responsible for \"Reviewing all"
			echo "  AI-generated code\" and \"Taking full responsibility for the contribution\"."
			echo "- Check that net-next is open (https://netdev.bots.linux.dev/net-next.html)."
		fi
		[ "$version" = 1 ] || echo "- Edit the 'Changes in v$version' section of the cover letter."
		[ "$CP_ERRORS" = 0 ] || echo "- checkpatch reports errors: fix the commits, make export, run this again."
		sed 's/^/- /' "$notes"
		if [ "$w" = linux ]; then
			echo
			echo "Send (nothing has been sent; To:/Cc: are in the files, git send-email threads"
			echo "every patch as a reply to the cover letter by default):"
			echo "  git send-email --dry-run build/submission/linux/*.patch"
			echo "  git send-email build/submission/linux/*.patch"
			echo "Or with b4, from a kernel tree on net-next/main with these commits applied"
			echo "(git am the numbered patches): b4 prep --enroll net-next/main,"
			echo "b4 prep --edit-cover (paste the cover letter), b4 prep --auto-to-cc,"
			echo "b4 prep --check, b4 send --dry-run, b4 send."
		fi
		echo
	} >>"$send_txt"
}

{
	echo "build/submission/ written by scripts/submission.sh $(date -u '+%Y-%m-%d %H:%M UTC')."
	echo "Nothing has been sent. What each upstream's policy asks of the sender: docs/contributing.md."
	echo
} >"$send_txt"
if [ "$skip_qemu" = 1 ]; then
	warn "qemu: not written: QEMU's docs/devel/code-provenance.rst declines contributions that include or derive from AI-generated content, and this series was written with AI assistance (--ack-qemu-ai-policy writes it anyway, not for sending; see docs/contributing.md)"
	{
		echo "== QEMU: not written"
		echo
		echo "QEMU's docs/devel/code-provenance.rst: \"Current QEMU project policy is to DECLINE"
		echo "any contributions which are believed to include or derive from AI generated"
		echo "content.\" This series was written with AI assistance: under that policy nobody"
		echo "can send it to QEMU. --ack-qemu-ai-policy writes it anyway, marked, not for sending."
		echo
	} >>"$send_txt"
fi
for w in "${TREES[@]}"; do
	write_series "$w"
	if [ "$w" = linux ] && [ "${TREE[linux]}" = "$BUILD/linux" ]; then
		warn "linux: based on $(git -C "${TREE[linux]}" log -1 --format=%s "${BASE[linux]}"), not on net-next: netdev takes new features on net-next only; rebase before sending (SEND.txt)"
	elif [ "$w" = linux ]; then
		warn "linux: based on $(git -C "${TREE[linux]}" log -1 --format='%h %s' "${BASE[linux]}"): netdev takes new features on net-next only; make sure that is net-next/main"
	fi
	[ "$w" != qemu ] ||
		warn "qemu: written with --ack-qemu-ai-policy: under QEMU's current policy it cannot be sent upstream (SEND.txt, docs/contributing.md)"
	if [ -s "$TMP/$w.notes" ]; then
		while IFS= read -r line; do warn "$w: $line"; done <"$TMP/$w.notes"
	fi
done

rm -rf "$OUT"
mkdir -p "$BUILD"
mv "$STAGE" "$OUT"
log "wrote $(for w in "${TREES[@]}"; do printf 'build/submission/%s/ ' "$w"; done)and build/submission/SEND.txt (nothing sent)"
[ "$status" = 0 ] || die "checkpatch reports errors in what was written (see above and build/submission/SEND.txt)"
exit 0
