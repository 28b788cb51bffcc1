#!/bin/sh
# Prints the PCI address of pci-ice-mp device 0, or with NETDEV_OF=<driver> the
# first netdev of that driver's first device (for tests/host/bench.py).
. /tests/lib.sh >/dev/null
if [ -n "${NETDEV_OF:-}" ]; then
	ls /sys/bus/pci/drivers/"$NETDEV_OF"/*/net/ | head -n 1
elif [ -n "${NETDEV_OF+set}" ]; then
	netdev_of "$(pf_of 0)" 0
else
	pf_of 0
fi
