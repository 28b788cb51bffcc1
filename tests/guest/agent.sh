#!/bin/sh
# Guest test agent: runs what the host asks, one request a line on its own
# serial port (ttyS1; the kernel console is ttyS0).
#   run <tag> <test file> [NAME=value]...   runs /tests/<test file>, then prints
#                                           "@@END <tag> <exit status>"
#   mark <tag>                              writes "icemp-mark <tag>" into the kernel
#                                           log, then prints "@@END <tag> <status>":
#                                           the host reads the console up to it
#   poweroff                                powers the guest off
# Test files talk back to the host through lib.sh (host_qmp, host_do).
stty -echo 2>/dev/null
echo "@@AGENT-READY"
while read -r verb tag file rest; do
	case "$verb" in
	run)
		# shellcheck disable=SC2086
		env $rest sh "/tests/$file"
		status=$?
		# A test that printed no final newline must not swallow the end line.
		printf '\n@@END %s %s\n' "$tag" "$status"
		;;
	mark)
		# Level 4: printed on the console at loglevel=5.
		echo "<4>icemp-mark $tag" >/dev/kmsg
		printf '\n@@END %s %s\n' "$tag" "$?"
		;;
	poweroff) poweroff -f ;;
	"") ;;
	*) printf '\n@@END %s 127 unknown request %s\n' "${tag:-none}" "$verb" ;;
	esac
done
