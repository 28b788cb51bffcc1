# QEMU devices of the test build (scripts/build-qemu.sh, --without-default-devices):
# what scripts/run-qemu.sh, the qtest and make bench put into a guest, and nothing else.
CONFIG_Q35=y
CONFIG_PXB=y
CONFIG_PCIE_PORT=y
CONFIG_PCI_ICE_MP=y
CONFIG_IGB_PCI_EXPRESS=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_9P=y
# What the list needs besides, that QEMU 10.2's Kconfig does not select:
# igb links against e1000x_common.c, which only the e1000 models build,
# pxb-pcie's CXL variant against hw/cxl, and hw/cxl against the CXL type 3
# device (its stubs lack what cxl-mailbox-utils.c calls).
CONFIG_E1000E_PCI_EXPRESS=y
CONFIG_CXL=y
CONFIG_CXL_MEM_DEVICE=y
