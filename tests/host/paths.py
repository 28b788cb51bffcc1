# SPDX-License-Identifier: GPL-2.0-or-later
"""Where things are, resolved from the environment the way scripts/lib.sh does:
BUILD_DIR, QEMU_SRC and LINUX_SRC override the defaults when set and not empty;
ICEMP_OUT, where the guests' console, agent and QEMU logs go (default
BUILD/results), lets runs on one build folder go side by side."""

import os

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BUILD_DIR") or os.path.join(TOP, "build")
QEMU_TREE = os.environ.get("QEMU_SRC") or os.path.join(BUILD, "qemu")
LINUX_TREE = os.environ.get("LINUX_SRC") or os.path.join(BUILD, "linux")
QEMU_PYTHON = os.path.join(QEMU_TREE, "python")
OUT = os.environ.get("ICEMP_OUT") or os.path.join(BUILD, "results")
