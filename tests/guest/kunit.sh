#!/bin/sh
# KUnit: the results of the suites that ran at boot (CONFIG_KUNIT_DEBUGFS), as KTAP.
for suite in /sys/kernel/debug/kunit/*/; do
	[ -f "$suite/results" ] && cat "$suite/results"
done
