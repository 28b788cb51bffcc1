# SPDX-License-Identifier: GPL-2.0-or-later
"""One booted test guest: QEMU started with QEMU's own python machine package,
the serial console as the channel to the guest's test agent, QMP for the host
side of the tests, and a scan of everything the kernel prints for reports that
fail the run (WARN, BUG, lockdep, KASAN, kmemleak, ...)."""

import json
import os
import re
import select
import subprocess
import sys
import time

from paths import BUILD, QEMU_PYTHON, TOP

# Reports on the console that fail a run whatever the tests said.
KERNEL_ISSUE = re.compile(
    r"(WARNING: |BUG: |Oops|Kernel panic|general protection fault|"
    r"possible circular locking|possible recursive locking|inconsistent lock state|"
    r"suspicious RCU usage|sleeping function called from invalid context|"
    r"KASAN: |UBSAN: |unreferenced object 0x|kernel BUG at|list_add corruption|"
    r"list_del corruption|refcount_t: |ODEBUG: )")


class GuestError(Exception):
    """The guest did not answer in time, died, or broke the protocol."""


class Guest:
    """A guest booted with the arguments scripts/run-qemu.sh --print-args gives."""

    def __init__(self, run_args, console_log, boot_timeout=180):
        sys.path.insert(0, QEMU_PYTHON)
        from qemu.machine import QEMUMachine  # pylint: disable=import-outside-toplevel
        argv = subprocess.run([os.path.join(TOP, "scripts", "run-qemu.sh"), "--print-args",
                               "--mode", "test"] + run_args,
                              check=True, capture_output=True, text=True).stdout.splitlines()
        self.command = argv
        self.vm = QEMUMachine(argv[0], args=argv[1:], name=f"icemp-{os.getpid()}",
                              base_temp_dir=BUILD)
        self.vm.set_console()
        self.console_log = open(console_log, "w", encoding="utf-8", errors="replace")
        self.issues = []
        self._pending = b""
        self.vm.launch()
        # A QMP command that does not answer is a failure, not a hang.
        self.vm._qmp.settimeout(60)  # pylint: disable=protected-access
        self.sock = self.vm.console_socket
        self.read_until(lambda line: line == "@@AGENT-READY", boot_timeout, "boot")

    # --- console ------------------------------------------------------------
    def _lines(self, deadline):
        """Yields console lines until the deadline passes (then GuestError)."""
        while True:
            while b"\n" in self._pending:
                raw, self._pending = self._pending.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                self.console_log.write(line + "\n")
                self.console_log.flush()
                if KERNEL_ISSUE.search(line):
                    self.issues.append(line.strip())
                yield line
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestError("timed out waiting for the guest")
            ready, _, _ = select.select([self.sock], [], [], min(left, 1.0))
            if ready:
                data = self.sock.recv(65536)
                if not data:
                    raise GuestError("the guest console closed (QEMU exited?)")
                self._pending += data
            elif not self.vm.is_running():
                raise GuestError(f"QEMU exited with status {self.vm.exitcode()}")

    def read_until(self, stop, timeout, what):
        out = []
        try:
            for line in self._lines(time.monotonic() + timeout):
                if stop(line):
                    return out
                out.append(line)
        except GuestError as err:
            raise GuestError(f"{what}: {err}") from err
        return out

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")

    # --- the agent protocol -----------------------------------------------------
    def run(self, tag, test_file, env, timeout, on_line=None):
        """Runs a guest test file; answers its host requests; returns (status, lines)."""
        env_words = " ".join(f"{k}={v}" for k, v in env.items())
        self.send(f"run {tag} {test_file} {env_words}")
        lines = []
        deadline = time.monotonic() + timeout
        try:
            for line in self._lines(deadline):
                if line.startswith(f"@@END {tag} "):
                    return int(line.split()[2]), lines
                if line.startswith("@@QMP "):
                    self.send(self._qmp_request(line[6:]))
                elif line.startswith("@@HOST "):
                    self.send(self._host_request(line[7:].split()))
                else:
                    lines.append(line)
                    if on_line:
                        on_line(line)
        except GuestError as err:
            raise GuestError(f"{test_file}: {err}") from err
        raise GuestError(f"{test_file}: no end marker")

    def _qmp_request(self, text):
        try:
            request = json.loads(text)
            reply = self.vm.qmp(request["execute"], request.get("arguments", {}))
        except Exception as err:  # pylint: disable=broad-except
            return f"@@ERR {type(err).__name__}: {err}"
        if "error" in reply:
            return f"@@ERR {reply['error'].get('desc', reply['error'])}"
        return "@@OK " + json.dumps(reply.get("return"))

    def _host_request(self, words):
        """Host-side macros the guest cannot do itself quickly enough."""
        try:
            if words[0] == "storm" and len(words) == 4:
                # Toggle a port's link COUNT times while the VM is stopped, so the
                # FIFO fills deterministically: nothing drains it meanwhile.
                dev, port, count = words[1], int(words[2]), int(words[3])
                self.vm.cmd("stop")
                for k in range(count):
                    self.vm.cmd("qom-set", path=f"/machine/peripheral/{dev}",
                                property=f"x-port{port}-link", value=bool(k % 2))
                self.vm.cmd("cont")
                return "@@OK"
            if words[0] == "inject" and len(words) == 4:
                # COUNT event words through the QOM knob, as fast as QMP goes.
                dev, count, word = words[1], int(words[2]), int(words[3], 0)
                for _ in range(count):
                    self.vm.cmd("qom-set", path=f"/machine/peripheral/{dev}",
                                property="x-inject-event", value=word)
                return "@@OK"
        except Exception as err:  # pylint: disable=broad-except
            return f"@@ERR {type(err).__name__}: {err}"
        return f"@@ERR unknown host request {' '.join(words)}"

    def shutdown(self):
        try:
            self.vm.shutdown(timeout=10)
        except Exception:  # pylint: disable=broad-except
            self.vm.kill()
        # Whatever the kernel printed last still counts.
        self.console_log.close()
