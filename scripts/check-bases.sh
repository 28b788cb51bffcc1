#!/usr/bin/env bash
# Usage: scripts/check-bases.sh [--build] [--smoke] [--bases LIST] [--keep]
#                               [--write-docs] [--check-args]
#
# Which upstream bases the one committed series fits (not part of make check or
# CI; `make check-bases BASES_ARGS=...`). For each base, a release series the
# Debian archive serves (default: qemu-10.0 qemu-10.2 linux-6.12 linux-7.1
# linux-7.2 linux-7.3; Linux 7.3 comes from Debian's linux-source-7.3, which is
# Debian-patched), in a build folder of its own, build/bases/<tree>-<series>,
# with the project's own scripts (BUILD_DIR pointing there):
#   apply  scripts/fetch-sources.sh resolves the series to its newest point
#          release that downloads and verifies; scripts/apply-series.sh applies
#          the committed patch files with git am (always run)
#   build  scripts/build-qemu.sh or scripts/build-linux.sh, under nice -n 19
#          (--build: opt-in, a cold build takes long)
#   smoke  tests/host/phases.py --config p1-vf0 --phase 1 --phase 2 (probe,
#          events) against the base's build, paired with the other side from the
#          default build (build/qemu-build, build/linux-build, as run-qemu.sh
#          finds them; copied into the base's folder first; CHECK_BASES_PARTNER=DIR
#          takes them from another build folder); results in the base's
#          results/ (--smoke; implies --build)
# Each step of each base ends as exactly one of: ok (with its time), FAIL (the
# first failing patch and file(s) for apply, the first compiler error for
# build, the first failed check for smoke), or "not run" with the reason (the
# opt-in was not given, or an earlier step failed). A step is ok only when it
# ran and its result was checked (the branch carries every patch; the binary is
# new and holds the device or the driver's config; the smoke checks passed).
#
# Prints the table and writes it with the exact upstream versions and the date
# to build/bases/table.md; --write-docs also puts it into docs/compatibility.md
# between its marker comments (only with every base: no --bases).
# The work trees and build folders of a base are deleted after it was measured
# (a Linux tree is ~1.5 GB); logs, base.env and results stay. --keep keeps them.
#
#   --bases LIST   comma- or space-separated <tree>-<series> (qemu-10.2,linux-7.3)
#   --check-args   validate the arguments and exit
#
# Exit status: 1 when a requested step failed for a default base (the bases the
# project builds by default: QEMU_SERIES and LINUX_SERIES of scripts/lib.sh,
# whatever the environment says); a failure on any other base is information,
# reported in the table but not fatal; 2 on bad arguments. QEMU_SRC, LINUX_SRC,
# QEMU_DEB_VERSION, LINUX_DEB_VERSION and KASAN are ignored: the bases are the
# archive's.
source "$(dirname "$0")/lib.sh"

ALL_BASES=(qemu-10.0 qemu-10.2 linux-6.12 linux-7.1 linux-7.2 linux-7.3)
SMOKE_ARGS=(--config p1-vf0 --phase 1 --phase 2)
BASES_DIR=$BUILD/bases
PARTNER=${CHECK_BASES_PARTNER:-$BUILD}
DOC=$TOP/docs/compatibility.md
MARK_BEGIN='<!-- check-bases:begin (scripts/check-bases.sh --write-docs writes this table) -->'
MARK_END='<!-- check-bases:end -->'

usage_error() { printf 'error: %s\n' "$*" >&2; exit 2; }

do_build=0 do_smoke=0 keep=0 write_docs=0 check_only=0 bases_given=0
bases=("${ALL_BASES[@]}")
while [ $# -gt 0 ]; do
	case "$1" in
	--build) do_build=1 ;;
	--smoke) do_smoke=1 do_build=1 ;;
	--keep) keep=1 ;;
	--write-docs) write_docs=1 ;;
	--check-args) check_only=1 ;;
	--bases)
		if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "option --bases needs a value (see --help)"; fi
		read -r -a bases <<<"${2//,/ }"
		bases_given=1
		shift
		;;
	-h | --help) usage_from_header "$0"; exit 0 ;;
	*) usage_error "unknown option '$1' (see --help)" ;;
	esac
	shift
done
[ ${#bases[@]} -gt 0 ] || usage_error "--bases: no base named"
declare -A seen=()
for b in "${bases[@]}"; do
	[[ $b =~ ^(qemu|linux)-([0-9.]+)$ ]] || usage_error "--bases: '$b' is not <tree>-<series> with tree qemu or linux (like qemu-10.2, linux-7.3)"
	[[ ${BASH_REMATCH[2]} =~ ^[1-9][0-9]?\.[0-9]{1,2}$ ]] || usage_error "--bases: '$b': a release series is MAJOR.MINOR, like 10.2 or 7.2"
	[ -z "${seen[$b]:-}" ] || usage_error "--bases: '$b' named twice"
	seen[$b]=1
done
if [ "$write_docs" = 1 ] && [ "$bases_given" = 1 ] && [ "$(printf '%s\n' "${bases[@]}" | sort)" != "$(printf '%s\n' "${ALL_BASES[@]}" | sort)" ]; then
	usage_error "--write-docs writes the whole table: run it with every base (without --bases)"
fi
if [ "$write_docs" = 1 ]; then
	if ! grep -qxF "$MARK_BEGIN" "$DOC" 2>/dev/null || ! grep -qxF "$MARK_END" "$DOC"; then
		usage_error "--write-docs: $DOC lacks the marker lines '$MARK_BEGIN' and '$MARK_END'"
	fi
fi
[ "$check_only" = 1 ] && exit 0

# The project's default bases, from lib.sh itself (not from the environment).
# shellcheck disable=SC2016 # expanded by the inner shell
defaults=$(env -u QEMU_SERIES -u LINUX_SERIES -u KASAN bash -c 'source "$1/scripts/lib.sh"; echo "qemu-$QEMU_SERIES linux-$LINUX_SERIES"' _ "$TOP")
for v in QEMU_SRC LINUX_SRC QEMU_DEB_VERSION LINUX_DEB_VERSION; do
	[ -z "${!v:-}" ] || warn "$v is set: ignored (check-bases checks the archive's bases, in build/bases/)"
done

mkdir -p "$BASES_DIR"
exec 9>"$BASES_DIR/.lock"
flock -n 9 || die "another check-bases.sh is running in $BASES_DIR"

# child BASE-DIR TREE SERIES CMD...: a project script with BUILD_DIR=BASE-DIR and
# the series of TREE set, none of the user's forks, pins or KASAN.
child() {
	local dir=$1 tree=$2 series=$3
	shift 3
	local var=QEMU_SERIES
	[ "$tree" = qemu ] || var=LINUX_SERIES
	# No automatic git gc in the throwaway trees (it would detach and outlive the
	# step); fd 9, the lock, is not passed on.
	env -u QEMU_SRC -u LINUX_SRC -u QEMU_DEB_VERSION -u LINUX_DEB_VERSION -u ICEMP_TIMEOUT_SCALE -u ICEMP_TIMEOUT_SCALE_SET \
		GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=gc.auto GIT_CONFIG_VALUE_0=0 \
		KASAN=0 BUILD_DIR="$dir" "$var=$series" "$@" 9>&-
}

dur() { # seconds -> 1m05s
	local s=$1
	if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

cell_escape() { sed -e 's/|/\\|/g' -e 's/[[:space:]]\+/ /g' | cut -c1-260; }

# first_error LOG...: the first compiler (or configure/make) error of the logs,
# paths made relative to the tree.
first_error() {
	local f line
	for f in "$@"; do
		[ -f "$f" ] || continue
		line=$(grep -m1 -E '(: (fatal )?error: |^ERROR: |Error [0-9]+$|error: )' "$f" || true)
		if [ -n "$line" ]; then
			echo "$line" | sed -E "s#$BASES_DIR/[^/]+/(qemu|linux)/##g; s#\.\./(\.\./)*(qemu|linux)/##g"
			return 0
		fi
	done
	echo "no error line found (see the logs)"
}

# apply_fail_text LOG: the apply-series.sh error line, in short.
apply_fail_text() {
	local line
	line=$(grep -m1 '^error: ' "$1" || echo "error: $(tail -1 "$1")")
	line=${line#error: }
	local re='^(qemu|linux): patch ([0-9]+/[0-9]+) [^ ]+ \("(.*)"\) does not apply: (.*) \((git am[^,]*), in '
	if [[ $line =~ $re ]]; then
		printf 'patch %s "%s": %s (%s)' "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}" "${BASH_REMATCH[4]}" "${BASH_REMATCH[5]}"
	else
		printf '%s' "$line"
	fi
}

# smoke_verdict RESULTS.jsonl: empty when the run passed (something recorded, no
# failure, boot and both phases ran their plan); else the first reason.
smoke_verdict() {
	/usr/bin/python3 - "$1" <<'PY'
import json, sys
rows = []
try:
    rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
except OSError:
    pass
if not rows:
    print("no check was recorded")
    sys.exit()
for r in rows:
    if r["result"] == "fail":
        why = (r["why"] or "").strip().splitlines()
        print(f"{r['suite']}: {r['test']}" + (f" ({why[0]})" if why else ""))
        sys.exit()
def passed(suite, prefix):
    return any(r["suite"] == suite and r["test"].startswith(prefix) and r["result"] == "pass" for r in rows)
if not passed("boot", "guest reaches the test agent"):
    print("the guest never reached the test agent")
    sys.exit()
for phase in ("phase1", "phase2"):
    if not passed(phase, "ran every planned check"):
        print(f"{phase} did not run its plan")
        sys.exit()
PY
}

# partner_qemu DIR / partner_kernel DIR: copy the other side from the partner
# build into the base's folder DIR (a snapshot: the default build may be rebuilt
# meanwhile); print what it is, or the reason and fail.
partner_qemu() { # dir
	local dir=$1 src=$PARTNER/qemu-build/qemu-system-x86_64 py=${CHECK_BASES_PARTNER_QEMU_TREE:-$PARTNER/qemu}/python
	[ -x "$src" ] || { echo "no partner QEMU: $src missing (make build first)"; return 1; }
	[ -d "$py/qemu/machine" ] || { echo "no partner QEMU python package: $py/qemu/machine missing"; return 1; }
	mkdir -p "$dir/qemu-build" "$dir/partner-qemu"
	cp -f "$src" "$dir/qemu-build/qemu-system-x86_64"
	rm -rf "$dir/partner-qemu/python"
	cp -r "$py" "$dir/partner-qemu/python"
	link_firmware "$dir/qemu-build"
	"$dir/qemu-build/qemu-system-x86_64" -device help 2>/dev/null | grep -q '"pci-ice-mp"' ||
		{ echo "the partner QEMU ($src) has no pci-ice-mp device"; return 1; }
	echo "$("$src" --version | head -1 | sed 's/^QEMU emulator version /QEMU /') of ${src#"$TOP"/}"
}
partner_kernel() { # dir
	local dir=$1 src=$PARTNER/linux-build/arch/x86/boot/bzImage
	[ -f "$src" ] || { echo "no partner kernel: $src missing (make build first)"; return 1; }
	mkdir -p "$dir/linux-build/arch/x86/boot"
	cp -f "$src" "$dir/linux-build/arch/x86/boot/bzImage"
	echo "Linux $(file -b "$src" | sed -n 's/.*version \([^ ,]*\).*/\1/p') of ${src#"$TOP"/}"
}

declare -A VERSION APPLY BUILD_R SMOKE FAILED
run_base() { # tree-series
	local base=$1 tree=${1%%-*} series=${1#*-} dir rc t0 n want what partner
	dir=$BASES_DIR/$base
	mkdir -p "$dir"
	FAILED[$base]=0
	APPLY[$base]="not run"
	BUILD_R[$base]="not run: opt-in not given (--build)"
	SMOKE[$base]="not run: opt-in not given (--smoke)"
	log "[$base] fetching the base (BUILD_DIR=$dir)"
	t0=$SECONDS
	rc=0
	child "$dir" "$tree" "$series" nice -n 19 "$TOP/scripts/fetch-sources.sh" "$tree" >"$dir/fetch.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ] || [ ! -s "$dir/base.env" ]; then
		VERSION[$base]="${tree^^} $series.y: $(grep -m1 '^error: ' "$dir/fetch.log" | sed 's/^error: //' || echo "fetch-sources.sh failed")"
		APPLY[$base]="FAIL: the source did not fetch (fetch.log)"
		FAILED[$base]=1
		[ "$do_build" = 0 ] || BUILD_R[$base]="not run: apply failed"
		[ "$do_smoke" = 0 ] || SMOKE[$base]="not run: apply failed"
		return 0
	fi
	(
		# shellcheck source=/dev/null
		source "$dir/base.env"
		var=${tree^^}
		up=$(eval echo "\${${var}_UPSTREAM}") deb=$(eval echo "\${${var}_DEB_VERSION}") kind=$(eval echo "\${${var}_KIND}")
		name=QEMU
		[ "$tree" = qemu ] || name=Linux
		if [ "$kind" = pristine ]; then
			echo "$name v$up (Debian $deb, pristine orig tarball)"
		else
			echo "$name v$up (Debian $deb, linux-source-$series: Debian-patched)"
		fi
	) >"$dir/version.txt"
	VERSION[$base]=$(cat "$dir/version.txt")

	log "[$base] ${VERSION[$base]}: applying the series"
	t0=$SECONDS
	rc=0
	child "$dir" "$tree" "$series" nice -n 19 "$TOP/scripts/apply-series.sh" "$tree" >"$dir/apply.log" 2>&1 || rc=$?
	want=$(series_patches "$TOP/$tree-patches" | wc -l)
	if [ "$rc" = 0 ]; then
		n=$(git -C "$dir/$tree" rev-list --count "base..refs/heads/$SERIES_BRANCH" 2>/dev/null || echo "?")
		if [ "$n" = "$want" ] && [ "$(git -C "$dir/$tree" symbolic-ref -q --short HEAD)" = "$SERIES_BRANCH" ] && tree_is_clean "$dir/$tree"; then
			what="ok ($(dur $((SECONDS - t0))))"
			grep -q 'applied with a 3-way merge' "$dir/apply.log" && what="ok, with 3-way merges ($(dur $((SECONDS - t0))))"
			APPLY[$base]=$what
		else
			APPLY[$base]="FAIL: apply-series.sh succeeded but branch $SERIES_BRANCH has $n of $want patches or is not checked out clean"
			FAILED[$base]=1
		fi
	else
		APPLY[$base]="FAIL: $(apply_fail_text "$dir/apply.log")"
		FAILED[$base]=1
	fi
	log "[$base] apply: ${APPLY[$base]}"
	if [ "${APPLY[$base]:0:2}" != ok ]; then
		[ "$do_build" = 0 ] || BUILD_R[$base]="not run: apply failed"
		[ "$do_smoke" = 0 ] || SMOKE[$base]="not run: apply failed"
		cleanup_base "$dir"
		return 0
	fi

	if [ "$do_build" = 1 ]; then
		log "[$base] building (nice -n 19; log: $dir/build.log)"
		t0=$SECONDS
		rc=0
		if [ "$tree" = qemu ]; then
			child "$dir" "$tree" "$series" nice -n 19 "$TOP/scripts/build-qemu.sh" >"$dir/build.log" 2>&1 || rc=$?
			cp -f "$dir/qemu-build/ninja.log" "$dir/build-ninja.log" 2>/dev/null || true
			cp -f "$dir/qemu-build/configure.log" "$dir/build-configure.log" 2>/dev/null || true
			if [ "$rc" = 0 ]; then
				if [ ! -x "$dir/qemu-build/qemu-system-x86_64" ]; then
					BUILD_R[$base]="FAIL: build-qemu.sh succeeded but qemu-system-x86_64 is missing"
				elif ! "$dir/qemu-build/qemu-system-x86_64" -device help 2>/dev/null | grep -q '"pci-ice-mp"'; then
					BUILD_R[$base]="FAIL: the built qemu-system-x86_64 has no pci-ice-mp device"
				elif [ -f "$dir/qemu/tests/qtest/pci-ice-mp-test.c" ] && [ ! -x "$dir/qemu-build/tests/qtest/pci-ice-mp-test" ]; then
					BUILD_R[$base]="FAIL: the pci-ice-mp qtest was not built"
				else
					BUILD_R[$base]="ok ($(dur $((SECONDS - t0))))"
				fi
			else
				BUILD_R[$base]="FAIL: $(first_error "$dir/qemu-build/ninja.log" "$dir/qemu-build/configure.log" "$dir/build.log")"
			fi
		else
			child "$dir" "$tree" "$series" nice -n 19 "$TOP/scripts/build-linux.sh" >"$dir/build.log" 2>&1 || rc=$?
			cp -f "$dir/linux-build/make.log" "$dir/build-make.log" 2>/dev/null || true
			if [ "$rc" = 0 ]; then
				if [ ! -f "$dir/linux-build/arch/x86/boot/bzImage" ]; then
					BUILD_R[$base]="FAIL: build-linux.sh succeeded but there is no bzImage"
				elif ! grep -qx 'CONFIG_ICE_MP_KUNIT_TEST=y' "$dir/linux-build/.config"; then
					BUILD_R[$base]="FAIL: the kernel config lacks CONFIG_ICE_MP_KUNIT_TEST=y (the series' Kconfig)"
				else
					BUILD_R[$base]="ok ($(dur $((SECONDS - t0))))"
				fi
			elif grep -q 'fragment asks' "$dir/build.log"; then
				BUILD_R[$base]="FAIL: config: $(grep -m1 'fragment asks' "$dir/build.log" | sed 's/^warning: //')"
			else
				BUILD_R[$base]="FAIL: $(first_error "$dir/linux-build/make.log" "$dir/build.log")"
			fi
		fi
		[ "${BUILD_R[$base]:0:2}" = ok ] || FAILED[$base]=1
		log "[$base] build: ${BUILD_R[$base]}"
	fi

	if [ "$do_smoke" = 1 ] && [ "${BUILD_R[$base]:0:2}" != ok ]; then
		SMOKE[$base]="not run: build failed"
	elif [ "$do_smoke" = 1 ]; then
		log "[$base] smoke: phases.py ${SMOKE_ARGS[*]} (log: $dir/smoke.log)"
		t0=$SECONDS
		rc=0
		local qemu_src=$dir/qemu initramfs_linux=$dir/linux
		if [ "$tree" = qemu ]; then
			partner=$(partner_kernel "$dir") || rc=$?
			initramfs_linux=${CHECK_BASES_PARTNER_LINUX_TREE:-$PARTNER/linux}
		else
			partner=$(partner_qemu "$dir") || rc=$?
			qemu_src=$dir/partner-qemu
		fi
		if [ "$rc" != 0 ]; then
			SMOKE[$base]="FAIL: $partner"
		elif ! child "$dir" "$tree" "$series" env LINUX_SRC="$initramfs_linux" \
			"$TOP/scripts/build-initramfs.sh" >"$dir/initramfs.log" 2>&1; then
			SMOKE[$base]="FAIL: the initramfs did not build: $(grep -m1 '^error: ' "$dir/initramfs.log" || tail -1 "$dir/initramfs.log")"
		else
			mkdir -p "$dir/results"
			rm -f "$dir/results/results.jsonl" "$dir/results/results.json"
			(
				exec 8>"$dir/results/.lock"
				flock -n 8 || die "another run is using $dir/results"
				child "$dir" "$tree" "$series" env QEMU_SRC="$qemu_src" ICEMP_RESULTS="$dir/results/results.jsonl" \
					/usr/bin/python3 "$TOP/tests/host/phases.py" "${SMOKE_ARGS[@]}"
			) >"$dir/smoke.log" 2>&1 || rc=$?
			child "$dir" "$tree" "$series" env ICEMP_RESULTS="$dir/results/results.jsonl" \
				/usr/bin/python3 "$TOP/tests/host/results.py" summary "$dir/results/results.json" >>"$dir/smoke.log" 2>&1 || true
			what=$(smoke_verdict "$dir/results/results.jsonl")
			if [ "$rc" != 0 ]; then
				SMOKE[$base]="FAIL: phases.py exited with status $rc${what:+; $what}"
			elif [ -n "$what" ]; then
				SMOKE[$base]="FAIL: $what"
			else
				n=$(grep -c '"result": "pass"' "$dir/results/results.jsonl")
				SMOKE[$base]="ok ($(dur $((SECONDS - t0))), $n checks; with $partner)"
			fi
		fi
		[ "${SMOKE[$base]:0:2}" = ok ] || FAILED[$base]=1
		log "[$base] smoke: ${SMOKE[$base]}"
	fi
	cleanup_base "$dir"
}

cleanup_base() { # dir
	local dir=$1
	[ "$keep" = 0 ] || return 0
	case "$dir" in "$BASES_DIR"/?*) ;; *) die "refusing to clean $dir" ;; esac
	rm -rf "$dir/qemu" "$dir/linux" "$dir/qemu.tmp" "$dir/linux.tmp" "$dir/qemu-build" "$dir/linux-build" \
		"$dir/partner-qemu" "$dir/host-path" "$dir/initramfs.root" "$dir/initramfs.cpio.gz"
}

started=$(date -u '+%Y-%m-%d %H:%M UTC')
t_all=$SECONDS
for b in "${bases[@]}"; do
	run_base "$b"
done

series_state() {
	local s
	s=$(git -C "$TOP" log -1 --format='%h "%s" (%cs)' -- qemu-patches linux-patches)
	[ -z "$(git -C "$TOP" status --porcelain -- qemu-patches linux-patches)" ] || s+=", with uncommitted changes to the patch files"
	echo "$s"
}

opts=""
if [ "$do_smoke" = 1 ]; then opts=" --smoke"; elif [ "$do_build" = 1 ]; then opts=" --build"; fi
{
	echo "Measured $started by \`scripts/check-bases.sh$opts\`"\
		"on the series of commit $(series_state); $(nproc) CPUs; $(dur $((SECONDS - t_all))) in all."
	echo "Default bases (a failure there fails the run): ${defaults// /, }."
	echo
	echo "| Base | Source | git am | build | phases 1–2 (p1-vf0) |"
	echo "|---|---|---|---|---|"
	for b in "${bases[@]}"; do
		d=""
		[[ " $defaults " == *" $b "* ]] && d=" (default)"
		printf '| %s%s | %s | %s | %s | %s |\n' "$b" "$d" \
			"$(cell_escape <<<"${VERSION[$b]:-?}")" "$(cell_escape <<<"${APPLY[$b]}")" \
			"$(cell_escape <<<"${BUILD_R[$b]}")" "$(cell_escape <<<"${SMOKE[$b]}")"
	done
} >"$BASES_DIR/table.md.tmp"
mv "$BASES_DIR/table.md.tmp" "$BASES_DIR/table.md"
echo
cat "$BASES_DIR/table.md"
echo
log "table: $BASES_DIR/table.md; logs: $BASES_DIR/<base>/{fetch,apply,build,smoke}.log"

if [ "$write_docs" = 1 ]; then
	awk -v begin="$MARK_BEGIN" -v end="$MARK_END" -v table="$BASES_DIR/table.md" '
		$0 == begin { print; while ((getline line < table) > 0) print line; skip = 1; next }
		$0 == end { skip = 0 }
		!skip { print }' "$DOC" >"$DOC.tmp"
	mv "$DOC.tmp" "$DOC"
	log "wrote the table into $DOC"
fi

fatal=() info=()
for b in "${bases[@]}"; do
	[ "${FAILED[$b]}" = 1 ] || continue
	if [[ " $defaults " == *" $b "* ]]; then fatal+=("$b"); else info+=("$b"); fi
done
[ ${#info[@]} = 0 ] || log "failed on ${info[*]}: information (not a default base), not fatal"
if [ ${#fatal[@]} -gt 0 ]; then
	printf 'error: a requested step failed on the default base(s) %s\n' "${fatal[*]}" >&2
	exit 1
fi
log "no requested step failed on a default base$([ ${#info[@]} = 0 ] || echo " (${info[*]} failed: see the table)")"
