# pci-ice-mp: QEMU device + Linux ice multi-port driver, built and tested together.
#
#   make run      build everything from nothing and boot the demo guest
#   make check    build and run the test suite's fast tier (what CI runs)
#   make check-full  build and run everything: the long matrix (KASAN, the
#                 kernel's selftests), the ASan qtest, every mutant
#   make check-mutants  prove the suite fails on each deliberately broken
#                 device/driver of tests/mutants/, through the check its header
#                 names (MUTANT_ARGS="--all" for every one)
#   make check-bases  which upstream bases the series applies to, builds on and
#                 passes phases 1-2 on (not in CI; BASES_ARGS="--smoke --write-docs")
#   make submission  write the series to send upstream into build/submission/ (never sends)
#
# Variables: QEMU_SRC=/path LINUX_SRC=/path (your git checkouts instead of the
# Debian base trees), RUN_ARGS="..." (scripts/run-qemu.sh options),
# TEST_ARGS="..." (scripts/run-tests.sh options), MUTANT_ARGS="..."
# (scripts/check-mutants.sh options), KASAN=1, FORCE=1.

SHELL := /bin/bash
S := scripts
export QEMU_SRC LINUX_SRC KASAN FORCE QEMU_SERIES LINUX_SERIES QEMU_DEB_VERSION LINUX_DEB_VERSION

.PHONY: run check check-full check-mutants build deps fetch worktrees qemu qemu-asan linux linux-kasan initramfs selftests export check-export submission check-bases bench clean help

run: build
	$(S)/run-qemu.sh $(RUN_ARGS)

# The test selection is validated in seconds, before anything is built; one
# make run then builds what the selection needs (the KASAN kernel, the ASan
# QEMU and the selftests only when it runs them), fetching the bases once.
check:
	$(S)/run-tests.sh --check-args $(TEST_ARGS)
	$(MAKE) $$($(S)/run-tests.sh --build-targets $(TEST_ARGS))
	$(S)/run-tests.sh $(TEST_ARGS)

# The full tier: the long matrix (KASAN, the kernel's selftests), the ASan
# qtest and every mutant.
check-full:
	$(MAKE) check TEST_ARGS="--full $(TEST_ARGS)"

check-mutants:
	$(S)/check-mutants.sh --check-args $(MUTANT_ARGS)
	$(MAKE) qemu linux initramfs
	$(S)/check-mutants.sh $(MUTANT_ARGS)

build: qemu linux initramfs selftests

deps:
	$(S)/install-deps.sh

fetch: deps
	$(if $(and $(QEMU_SRC),$(LINUX_SRC)),,$(S)/fetch-sources.sh $(if $(QEMU_SRC),,qemu) $(if $(LINUX_SRC),,linux))

worktrees: fetch
	$(S)/apply-series.sh

qemu: worktrees
	$(S)/build-qemu.sh

qemu-asan: worktrees
	$(S)/build-qemu.sh --asan

linux: worktrees
	$(S)/build-linux.sh

linux-kasan: worktrees
	$(S)/build-linux.sh --kasan

initramfs: worktrees
	$(S)/build-initramfs.sh

# The kernel's selftests guest phase 7 runs (net/forwarding, drivers/net), installed into build/kselftest.
selftests: worktrees
	$(S)/build-selftests.sh

export:
	$(S)/export-series.sh

check-export:
	$(S)/export-series.sh --check

# The arguments and the submitter's identity are checked before the work trees.
# SUBMISSION_ARGS="--assisted-by 'AGENT_NAME:MODEL_VERSION' [-v N] [--rfc] ..."
submission:
	$(S)/submission.sh --check-args $(SUBMISSION_ARGS)
	$(MAKE) worktrees
	$(S)/submission.sh $(SUBMISSION_ARGS)

# Each base in its own build/bases/<tree>-<series>; the arguments are checked first.
check-bases:
	$(S)/check-bases.sh --check-args $(BASES_ARGS)
	$(S)/check-bases.sh $(BASES_ARGS)

bench: build
	$(S)/bench.sh $(BENCH_ARGS)

clean:
	rm -rf build/qemu-build build/qemu-asan-build build/linux-build build/linux-kasan-build build/initramfs* build/results build/mutant

help:
	@sed -n '1,/^$$/p' Makefile
