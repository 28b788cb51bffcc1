#!/bin/sh
# Guest test agent: runs what the host asks, one request a line on the console.
#   run <tag> <test file> [NAME=value]...   runs /tests/<test file>, then prints
#                                           "@@END <tag> <exit status>"
#   poweroff                                powers the guest off
# Test files talk back to the host through lib.sh (host_qmp, host_do).
stty -echo 2>/dev/null
echo "@@AGENT-READY"
while read -r verb tag file rest; do
	case "$verb" in
	run)
		# shellcheck disable=SC2086
		env $rest sh "/tests/$file"
		echo "@@END $tag $?"
		;;
	poweroff) poweroff -f ;;
	"") ;;
	*) echo "@@END $tag 127 unknown request '$verb'" ;;
	esac
done
