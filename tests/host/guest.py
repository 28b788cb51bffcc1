# SPDX-License-Identifier: GPL-2.0-or-later
"""One booted test guest: QEMU started with QEMU's own python machine package,
two serial ports and QMP.

- ttyS0 is the kernel console. Everything the kernel prints is logged and
  scanned for reports that fail the run (WARN, BUG, lockdep, KASAN, kmemleak,
  ...). The console is cut into windows (boot, each phase, the drain before
  shutdown): the agent writes a marker into the kernel log (/dev/kmsg) at the
  end of a window and the host reads the console up to that marker, so every
  kernel line is attributed to the window it was printed in, whatever the
  timing of the two channels.
- ttyS1 carries the test agent's protocol only (tests/guest/agent.sh): test
  output, `@@QMP`/`@@HOST` requests and `@@END <tag> <status>` lines. No
  printk can land in it.

Every timeout is a deadline in seconds multiplied by the session's scale:
ICEMP_TIMEOUT_SCALE, or 4 for a session on the KASAN kernel unless set.
QEMU runs under `setpriv --pdeathsig KILL`, so it dies with the runner even
when the runner is killed; every other path kills it explicitly."""

import itertools
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

from paths import BUILD, QEMU_PYTHON, TOP

# Reports on the console that fail a window whatever the tests said.
KERNEL_ISSUE = re.compile(
    r"(WARNING: |BUG: |Oops|Kernel panic|general protection fault|Call Trace:|RIP: |"
    r"possible circular locking|possible recursive locking|inconsistent lock state|"
    r"suspicious RCU usage|sleeping function called from invalid context|"
    r"KASAN: |UBSAN: |KFENCE: |unreferenced object 0x|kernel BUG at|list_add corruption|"
    r"list_del corruption|refcount_t: |ODEBUG: |ref_tracker: |INFO: task .* blocked|"
    r"rcu: INFO: |hung_task|soft lockup|hard LOCKUP|"
    # Not WARNs, but each is a driver bug: a TX queue the stack found stalled, pages a
    # page_pool never got back, a netdev whose references were never dropped, a DMA API misuse.
    r"NETDEV WATCHDOG|stalled pool shutdown|unregister_netdevice: waiting for|DMA-API: )")
END_LINE = re.compile(r"^@@END (\S+) (-?\d+)(?: (.*))?$")


def timeout_scale(kasan=False):
    """ICEMP_TIMEOUT_SCALE when the user set it (a whole number from 1 to 20),
    else 4 on the KASAN kernel and 1 otherwise (as scripts/lib.sh does)."""
    user = os.environ.get("ICEMP_TIMEOUT_SCALE_SET", os.environ.get("ICEMP_TIMEOUT_SCALE", ""))
    text = user or ("4" if kasan else "1")
    if not re.fullmatch(r"[1-9][0-9]?", text) or int(text) > 20:
        raise ValueError(f"ICEMP_TIMEOUT_SCALE={text!r}: must be a whole number from 1 to 20")
    return int(text)


timeout_scale()
# PIDs of every QEMU this process started; the runner checks at its end that none is left.
STARTED = []
# Guests' serial numbers (unique names), and the lock guests start under.
SERIAL = itertools.count()
LAUNCH = threading.Lock()


class GuestError(Exception):
    """The guest did not answer in time, died, or broke the protocol."""


class Guest:
    """A guest booted with the arguments scripts/run-qemu.sh --print-args gives.
    Boots in the constructor (GuestError on a timeout: QEMU is killed first);
    close() always ends QEMU."""

    def __init__(self, run_args, log_prefix, kasan=False, boot_timeout=180):
        sys.path.insert(0, QEMU_PYTHON)
        from qemu.machine import QEMUMachine  # pylint: disable=import-outside-toplevel
        self.scale = timeout_scale(kasan)
        # KASAN=1: run-qemu.sh boots the kernel of build/linux-kasan-build.
        proc = subprocess.run([os.path.join(TOP, "scripts", "run-qemu.sh"), "--print-args",
                               "--mode", "test"] + run_args, check=False, capture_output=True, text=True,
                              env=dict(os.environ, KASAN="1" if kasan else "0"))
        self.notes = [line for line in proc.stderr.splitlines() if line.strip()]
        if proc.returncode != 0:
            raise GuestError("run-qemu.sh --print-args failed: " + " / ".join(self.notes[-5:]))
        argv = proc.stdout.splitlines()
        self.command = argv
        self.vm = QEMUMachine(argv[0], args=argv[1:], name=f"icemp-{os.getpid()}-{next(SERIAL)}",
                              base_temp_dir=BUILD, wrapper=["setpriv", "--pdeathsig", "KILL", "--"])
        self.vm.set_console()
        self.console_log = open(log_prefix + ".console.log", "w", encoding="utf-8", errors="replace")
        self.agent_log = open(log_prefix + ".agent.log", "w", encoding="utf-8", errors="replace")
        self.window_issues = []
        self._console_buf = self._agent_buf = b""
        self._console_lines, self._agent_lines = [], []
        self._console_eof = self._agent_eof = False
        self.exit_status, self.qemu_output = None, ""
        self.agent = None
        try:
            # QEMUMachine starts QEMU with every inheritable descriptor: the
            # agent's end is inheritable only until this QEMU has it, and no
            # other guest starts meanwhile (phases.py --jobs).
            with LAUNCH:
                self.agent, agent_qemu = socket.socketpair()
                try:
                    os.set_inheritable(agent_qemu.fileno(), True)
                    # The console (ttyS0) is QEMUMachine's; the agent port is the second -serial: ttyS1.
                    self.vm.add_args("-chardev", f"socket,id=agent,fd={agent_qemu.fileno()}",
                                     "-serial", "chardev:agent")
                    self.vm.launch()
                    STARTED.append(self.vm.get_pid())
                finally:
                    agent_qemu.close()
            # A QMP command that does not answer is a failure, not a hang.
            self.vm._qmp.settimeout(60 * self.scale)  # pylint: disable=protected-access
            self.console = self.vm.console_socket
            deadline = time.monotonic() + boot_timeout * self.scale
            while self._agent_line(deadline, "boot: waiting for @@AGENT-READY") != "@@AGENT-READY":
                pass
        except GuestError as err:
            self.close()
            raise GuestError(self.with_issues(str(err)) + "\n" + self.qemu_report()) from err
        except BaseException:
            self.close()
            raise

    # --- the two channels ------------------------------------------------------
    def _pump(self, deadline, what, exiting=False):
        """Reads what either channel has (waiting until the deadline for something).
        Unless QEMU is expected to exit, a closed agent channel or a QEMU that
        exited is an error."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise GuestError(f"{what}: no answer within the deadline")
        socks = ([] if self._agent_eof else [self.agent]) + ([] if self._console_eof else [self.console])
        ready, _, _ = select.select(socks, [], [], min(left, 1.0))
        if not ready and not exiting and not self.vm.is_running():
            raise GuestError(f"{what}: QEMU exited with status {self.vm.exitcode()}")
        for sock in ready:
            data = sock.recv(65536)
            if sock is self.agent:
                if not data:
                    if not exiting:
                        raise GuestError(f"{what}: the agent channel closed (QEMU exited?)")
                    self._agent_eof = True
                self._agent_buf = self._split(self._agent_buf + data, self._agent_lines, self.agent_log)
            elif not data:
                self._console_eof = True
            else:
                self._console_buf = self._split(self._console_buf + data, self._console_lines,
                                                self.console_log)

    def _split(self, buf, lines, log):
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = raw.decode("utf-8", "replace").rstrip("\r")
            log.write(line + "\n")
            lines.append(line)
        log.flush()
        return buf

    def _agent_line(self, deadline, what):
        while not self._agent_lines:
            self._pump(deadline, what)
        return self._agent_lines.pop(0)

    def _console_until(self, marker, deadline, what):
        """Consumes console lines into the current window up to the marker line."""
        while True:
            while self._console_lines:
                line = self._console_lines.pop(0)
                if KERNEL_ISSUE.search(line):
                    self.window_issues.append(line.strip())
                if line.endswith(marker):
                    return
            if self._console_eof:
                raise GuestError(f"{what}: the console closed before {marker!r}")
            self._pump(deadline, what)

    def pending_issues(self):
        """The kernel reports of the open window and of console lines not yet
        attributed: what a guest that died or timed out printed last."""
        return self.window_issues + [line.strip() for line in self._console_lines
                                     if KERNEL_ISSUE.search(line)]

    def with_issues(self, text):
        """text plus pending_issues()."""
        return text + "".join(f"\n  kernel: {line}" for line in self.pending_issues()[:30])

    def send(self, text):
        self.agent.sendall(text.encode() + b"\n")

    def poweroff(self, timeout=60):
        """Powers the guest off from the inside (`poweroff -f`: the kernel's
        shutdown path, every driver's .shutdown callback, then ACPI power-off)
        and waits, up to the deadline, until QEMU has exited by itself.
        Returns the kernel report lines printed since the last window."""
        deadline = time.monotonic() + timeout * self.scale
        self.send("poweroff")
        while not (self._console_eof and self._agent_eof):
            self._pump(deadline, "poweroff: waiting for QEMU to exit", exiting=True)
        self.vm.wait(timeout=max(1, int(deadline - time.monotonic())))
        for line in self._console_lines:
            if KERNEL_ISSUE.search(line):
                self.window_issues.append(line.strip())
        issues, self.window_issues, self._console_lines = self.window_issues, [], []
        return issues

    # --- console windows -------------------------------------------------------------
    def end_window(self, name, timeout=30):
        """Closes the current console window at a kernel-log marker and opens
        the next; returns the kernel report lines of the window closed."""
        tag = f"mark-{name}"
        deadline = time.monotonic() + timeout * self.scale
        self.send(f"mark {tag}")
        status, _ = self._until_end(tag, deadline, f"window {name}: marker")
        if status != 0:
            raise GuestError(f"window {name}: the agent could not write the kernel-log marker")
        self._console_until(f"icemp-mark {tag}", deadline, f"window {name}: console marker")
        issues, self.window_issues = self.window_issues, []
        return issues

    # --- the agent protocol -----------------------------------------------------
    def _until_end(self, tag, deadline, what, on_line=None):
        lines = []
        while True:
            line = self._agent_line(deadline, what)
            match = END_LINE.match(line)
            if match and match.group(1) == tag:
                return int(match.group(2)), lines
            if line.startswith("@@END "):
                raise GuestError(f"{what}: unexpected end line {line!r}")
            if line.startswith("@@QMP "):
                self.send(self._qmp_request(line[6:]))
            elif line.startswith("@@HOST "):
                self.send(self._host_request(line[7:].split()))
            else:
                lines.append(line)
                if on_line:
                    on_line(line)

    def run(self, tag, test_file, env, timeout, on_line=None):
        """Runs a guest test file; answers its host requests; returns (status, lines)."""
        env_words = " ".join(f"{k}={v}" for k, v in dict(env, TIMEOUT_SCALE=self.scale).items())
        self.send(f"run {tag} {test_file} {env_words}")
        return self._until_end(tag, time.monotonic() + timeout * self.scale, test_file, on_line)

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
                    self.vm.cmd("set_link", name=f"{dev}.p{port}", up=bool(k % 2))
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

    def accelerator(self):
        """'kvm' or 'tcg', as QEMU reports it."""
        return "kvm" if self.vm.cmd("query-kvm").get("enabled") else "tcg"

    def close(self):
        """Ends QEMU on every path: QMP quit, else SIGKILL."""
        try:
            if self.vm.is_running():
                self.vm.shutdown(timeout=10)
        except Exception:  # pylint: disable=broad-except
            pass
        finally:
            pid = self.vm.get_pid()
            if pid is not None and self.vm.is_running():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.vm.kill()
            except Exception:  # pylint: disable=broad-except
                pass
            if self.agent is not None:
                self.agent.close()
            self.console_log.close()
            self.agent_log.close()
            # What QEMU printed (an assertion, an abort message) and how it ended.
            self.exit_status = self.vm.exitcode()
            self.qemu_output = self.vm.get_log() or ""

    def qemu_report(self, lines=20):
        """After close(): QEMU's exit status and the last lines it printed."""
        tail = [line for line in self.qemu_output.splitlines() if line.strip()][-lines:]
        return (f"QEMU exit status {self.exit_status}"
                + "".join(f"\n  qemu: {line}" for line in tail))


def leftover_qemus():
    """PIDs of QEMUs started by this process that are still alive."""
    alive = []
    for pid in STARTED:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        # A zombie is no QEMU left running.
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        alive.append(pid)
    return alive
