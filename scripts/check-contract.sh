#!/usr/bin/env bash
# Usage: scripts/check-contract.sh
#
# Compares the register contract in docs/pci-ice-mp-spec.md with the register
# headers of the QEMU and Linux work trees (scripts/check-contract.py says how).
source "$(dirname "$0")/lib.sh"
case "${1:-}" in -h | --help) usage_from_header "$0"; exit 0 ;; esac
exec /usr/bin/python3 "$TOP/scripts/check-contract.py"
