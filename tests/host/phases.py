# SPDX-License-Identifier: GPL-2.0-or-later
"""Boots one guest per configuration of the matrix and runs the guest test
phases in it (tests/guest/phase*.sh), recording every KTAP test point.

    phases.py [--config NAME]... [--phase N]... [--full] [--shard K/N]
              [--jobs N] [--list [--json]] [--validate] [--needs-kasan] [--needs-phase N]
              [--fail-fast]

--full adds the long matrix (ICEMP_FULL=1 does the same). --shard K/N runs
every N-th configuration of the selection, starting with the K-th (1-based),
so a CI engine can fan the matrix out over N machines. --validate checks the
selection and exits (0 when it would run something). --list prints the
selected configurations (--json: as JSON, with their phases). --fail-fast
ends a configuration's session at its first failed check (for mutant runs,
where one failure is the verdict; the rest would wait out every deadline).
--jobs N runs N configurations side by side (default ICEMP_JOBS, else the
host's cores up to 2): under TCG a guest runs its vCPUs on one host thread
(scripts/run-qemu.sh), so two guests use the two cores the machine has;
p4-selftests (phase 7) runs alone, after the others. Their
TAP lines interleave; every line names its configuration.

Per configuration it records: the boot, "no kernel reports" for every console
window (boot with probe and KUnit, KUnit read-out, each phase, the drain after
the last phase), every KTAP point of every phase, and per phase one check that
the phase declared its plan before its first point, ran exactly that many
points and exited 0. A planned phase that never ran (the guest died, timed
out, the runner broke) is a failed check with the reason. Exit status: 0 when
the run completed (the verdict is in the results), non-zero when the runner
itself broke."""

import argparse
import concurrent.futures
import json
import os
import re
import signal
import sys
import time
import traceback

import results
from guest import Guest, GuestError, leftover_qemus
from paths import BUILD, OUT

PHASES = {1: "phase1-probe.sh", 2: "phase2-events.sh", 3: "phase3-sriov.sh",
          4: "phase4-reset.sh", 5: "phase5-cycles.sh", 6: "phase6-datapath.sh",
          7: "phase7-selftests.sh"}
# A phase's deadline in seconds (times the timeout scale); the kernel's
# selftests (phase 7) are seven suites of their own deadlines.
PHASE_TIMEOUT = {7: 9000}
# KUnit suites the guest kernel must have run at boot.
KUNIT_SUITES = ("ice_mp",)


def config(name, devices=1, ports=4, vfs=8, depth=64, numa=0, phases=(1, 2, 3, 4), env=None, kunit=False,
           kasan=False, wire="", host_root=False, mem=0, alone=False):
    run_args = ["--ports", str(ports), "--vfs", str(vfs), "--event-depth", str(depth)]
    nodes = ""
    if numa:
        run_args += ["--numa-nodes", str(numa), "--devices-per-node", str(devices // numa)]
        nodes = ",".join(str(i // (devices // numa)) for i in range(devices))
    else:
        run_args += ["--devices", str(devices)]
    if wire:
        # cables between ports (scripts/run-qemu.sh --wire); phase 6 passes traffic over them
        run_args += ["--wire", wire]
    if host_root:
        # the host's root file system over virtio-9p: phase 7 runs the kernel's
        # selftests of the Linux tree there
        run_args += ["--host-root"]
    if mem:
        run_args += ["--mem", str(mem)]
    guest_env = {"DEVICES": devices, "PORTS": ports, "VFS": vfs, "DEPTH": depth, "WIRES": wire}
    if nodes:
        guest_env["NODES"] = nodes
    if host_root:
        # the suites as scripts/build-selftests.sh installed them from the Linux tree
        guest_env["KSELFTESTS"] = os.path.abspath(os.path.join(BUILD, "kselftest"))
    guest_env.update(env or {})
    return {"name": name, "run_args": run_args, "env": guest_env, "phases": phases, "kunit": kunit,
            "kasan": kasan, "alone": alone}


# The kernel's own selftests (net/forwarding, drivers/net) on ports cabled as they expect.
# It runs alone, after the others: beside another guest its suites took 2450-2741 s
# instead of 834 s, and no_forwarding.sh ran into its 1800 s deadline.
SELFTESTS = config("p4-selftests", ports=4, vfs=0, phases=(7,), wire="0.0-0.1,0.2-0.3", host_root=True,
                   mem=1024, alone=True)
# The default matrix (make check): the longest sessions come first, so that
# side by side they end together (docs/testing.md has their times).
MATRIX = [
    # Phase 5 with 20 resets, 20 unbind/bind and 10 VF cycles (kmemleak sees a
    # leak per cycle): the 100/100/50 soak is of the full tier.
    config("p4-vf8-dev2", devices=2, ports=4, vfs=8, phases=(1, 2, 3, 4, 5), kunit=True,
           env={"RESET_CYCLES": 20, "BIND_CYCLES": 20, "VF_CYCLES": 10}),
    config("numa2", devices=2, ports=2, vfs=4, numa=2, phases=(1, 2, 6), wire="0.0-1.0,0.1-1.1"),
    config("p16-vf64", ports=16, vfs=64, phases=(1, 3)),
    config("p1-vf0", ports=1, vfs=0, phases=(1, 2, 3, 4)),
]
# The kernel's selftests take over 14 minutes under TCG (measured 834 s, one suite cut short): --full.
FULL_MATRIX = [
    SELFTESTS,
    # The datapath on three cables: inside device 0, across the devices, inside
    # device 1 (make check runs it on numa2's two cables across the NUMA nodes).
    config("p4-vf8-dev2-datapath", devices=2, ports=4, vfs=8, phases=(6,), wire="0.0-0.1,0.2-1.2,1.0-1.1"),
    config("p4-vf8-dev2-soak", devices=2, ports=4, vfs=8, phases=(5,),
           env={"RESET_CYCLES": 100, "BIND_CYCLES": 100, "VF_CYCLES": 50}),
    # Memory safety: the broadest layout on the KASAN kernel (build/linux-kasan-build):
    # its kernel alone takes ~25 minutes to build from nothing, past make check's budget.
    config("p4-vf8-dev2-kasan", devices=2, ports=4, vfs=8, phases=(1, 2, 3, 4), kasan=True),
    # The datapath on the KASAN kernel: 63 checks in 390 s, too long for the default matrix.
    config("p4-vf8-dev2-kasan-datapath", devices=2, ports=4, vfs=8, phases=(6,), kasan=True,
           wire="0.0-0.1,0.2-1.2,1.0-1.1"),
    config("p16-vf64-events-reset", ports=16, vfs=64, phases=(2, 4)),
    config("p4-depth1024", ports=4, vfs=8, depth=1024, phases=(2,)),
    config("p8-vf32-dev4", devices=4, ports=8, vfs=32, phases=(1, 2, 3, 4)),
    config("numa2x2", devices=4, ports=4, vfs=8, numa=2, phases=(1, 2, 3)),
]

class FirstFailure(Exception):
    """--fail-fast: a check failed; the session stops here."""


FAIL_FAST = False
PLAN = re.compile(r"^1\.\.(\d+)(?: # SKIP ?(.*))?$")
POINT = re.compile(r"^(ok|not ok) (\d+) (.*?)(?: # (SKIP|TODO)\b ?(.*))?$")


def check_window(guest, cfg, suite, what):
    """Closes the guest's current console window with its 'no kernel reports' check."""
    issues = guest.end_window(suite)
    results.record(suite, f"no kernel reports on the console ({what})", "fail" if issues else "pass",
                   cfg["name"], 0, "\n".join(issues[:30]))
    if FAIL_FAST and issues:
        raise FirstFailure(f"kernel reports in window {suite}")


class PhaseRun:
    """The KTAP of one phase as it arrives: points, the plan and where it came."""

    def __init__(self):
        self.plan = None            # planned number of points
        self.skip_all = None        # reason of "1..0 # SKIP reason"
        self.plan_late = False      # a point came before the plan
        self.points = []            # (result, name, why, seconds)
        self.problems = []          # protocol problems: numbering, bail out
        self.notes = []
        self.last = time.monotonic()

    def line(self, line):
        plan = PLAN.match(line)
        if plan and self.plan is None:
            self.plan = int(plan.group(1))
            self.skip_all = plan.group(2) if plan.group(2) is not None else None
            return
        if plan:
            self.problems.append(f"a second plan line {line!r}")
            return
        point = POINT.match(line)
        if point:
            now = time.monotonic()
            if self.plan is None:
                self.plan_late = True
            if int(point.group(2)) != len(self.points) + 1:
                self.problems.append(f"point number {point.group(2)} where {len(self.points) + 1} was due")
            if point.group(4) == "SKIP" and point.group(1) == "not ok":
                # A failure does not become a skip by saying so.
                result, why = "fail", f"'not ok ... # SKIP {point.group(5) or ''}': a failed check marked skipped"
            elif point.group(4) == "SKIP":
                result, why = "skip", point.group(5) or "no reason given"
            else:
                result, why = ("pass" if point.group(1) == "ok" else "fail"), "\n".join(self.notes)
            self.points.append((result, point.group(3), why, now - self.last))
            self.notes.clear()
            self.last = now
            if FAIL_FAST and result == "fail":
                raise FirstFailure(point.group(3))
        elif line.startswith("Bail out!"):
            self.problems.append(line)
        elif line.startswith("#"):
            self.notes.append(line)


def run_phase(guest, cfg, phase, last=False, timeout=900):
    """Runs one phase; records its points, its plan check and its console window.
    last: no phase follows in this session (the guest powers off next)."""
    suite = f"phase{phase}"
    start = time.monotonic()
    ktap = PhaseRun()
    # LAST_PHASE=1 lets a phase leave a state for the power-off to handle
    # (phase 4 leaves a device failed, without ports).
    env = dict(cfg["env"], LAST_PHASE=1 if last else 0)
    try:
        status, _ = guest.run(suite, PHASES[phase], env, timeout, ktap.line)
    finally:
        for result, name, why, seconds in ktap.points:
            results.record(suite, name, result, cfg["name"], seconds, why)
    ran = len(ktap.points)
    why = []
    if ktap.plan is None:
        why.append("no plan line (1..N) was printed")
    elif ktap.plan == 0 and ktap.skip_all is None:
        why.append("an empty plan (1..0) without '# SKIP reason': a phase that checks nothing")
    elif ktap.plan_late:
        why.append("the plan came after the first check: it must be declared up front")
    elif ran != ktap.plan:
        why.append(f"ran {ran} of {ktap.plan} planned checks")
    if status != 0:
        why.append(f"exit status {status}")
    why += ktap.problems
    if ktap.skip_all is not None and ktap.plan == 0 and not why:
        results.record(suite, "skipped", "skip", cfg["name"], 0, ktap.skip_all)
    else:
        results.record(suite, f"ran every planned check ({ran} of {ktap.plan}), exit status 0",
                       "fail" if why else "pass", cfg["name"], time.monotonic() - start,
                       "\n".join(why + ktap.notes[-10:]) if why else "")
    check_window(guest, cfg, suite, suite)
    results.note(f"{cfg['name']}/{suite}: {ran} checks in {time.monotonic() - start:.1f} s")


def record_kunit(guest, cfg):
    """The KUnit suites that ran at boot (debugfs): every case, the suite
    result, the suite's plan, and that each expected suite ran."""
    status, lines = guest.run("kunit", "kunit.sh", {}, 60)
    suite, plan, cases, seen = None, None, 0, set()
    why = [] if status == 0 else [f"kunit.sh exit status {status}"]
    for line in lines:
        text = line.strip()
        indented = line.startswith(("    ", "\t"))
        if text.startswith("# Subtest:"):
            suite, plan, cases = text.split(":", 1)[1].strip(), None, 0
            continue
        plan_match = PLAN.match(text)
        if plan_match and indented and suite:
            plan = int(plan_match.group(1))
            continue
        match = POINT.match(text)
        if not match or not suite:
            continue
        result = "fail" if match.group(1) == "not ok" else ("skip" if match.group(4) == "SKIP" else "pass")
        if indented:
            results.record("kunit", f"{suite}.{match.group(3)}", result, cfg["name"],
                           0, match.group(5) or "" if result == "skip" else "")
            cases += 1
        elif match.group(3) == suite:
            problems = []
            if result == "fail":
                problems.append("the suite reported failure")
            if plan is None or plan != cases:
                problems.append(f"ran {cases} cases of a plan of {plan}")
            results.record("kunit", f"{suite}: suite result and plan", "fail" if problems else "pass",
                           cfg["name"], 0, "\n".join(problems))
            seen.add(suite)
            suite = None
    for name in KUNIT_SUITES:
        if name not in seen:
            why.append(f"suite {name} has no results in /sys/kernel/debug/kunit")
    results.record("kunit", f"expected suites ran at boot ({', '.join(KUNIT_SUITES)})",
                   "fail" if why else "pass", cfg["name"], 0, "\n".join(why))
    check_window(guest, cfg, "kunit", "KUnit read-out")


def run_config(cfg, phases):
    os.makedirs(OUT, exist_ok=True)
    prefix = os.path.join(OUT, cfg["name"])
    for old in (".console.log", ".agent.log", ".qemu.log", ".console.log.passed", ".agent.log.passed",
                ".qemu.log.passed"):
        if os.path.exists(prefix + old):
            os.remove(prefix + old)
    planned = [p for p in cfg["phases"] if not phases or p in phases]
    done = []
    start = time.monotonic()
    guest = None
    failure = None
    fails_before = results.FAILS[cfg["name"]]
    try:
        # A KASAN configuration, or every one with KASAN=1 (make check KASAN=1).
        guest = Guest(cfg["run_args"], prefix, kasan=cfg["kasan"] or os.environ.get("KASAN") == "1")
        results.record("boot", "guest reaches the test agent", "pass", cfg["name"], time.monotonic() - start)
        results.note(f"{cfg['name']}: {guest.accelerator()}: {' '.join(guest.command)}")
        for note in guest.notes:
            results.note(f"{cfg['name']}: {note}")
        check_window(guest, cfg, "boot", "probe and KUnit")
        if cfg["kunit"]:
            record_kunit(guest, cfg)
        for phase in planned:
            run_phase(guest, cfg, phase, last=phase == planned[-1], timeout=PHASE_TIMEOUT.get(phase, 900))
            done.append(phase)
        check_window(guest, cfg, "drain", "after the last phase")
        # The session ends as a machine does: the guest powers off, which runs
        # every driver's shutdown callback; QEMU must then exit by itself.
        try:
            issues = guest.poweroff()
        except GuestError:
            # A power-off that never ends (an oops in a .shutdown callback):
            # what the kernel reported is this window's failure, then the session's.
            if guest.pending_issues():
                results.record("shutdown", "no kernel reports on the console (guest power-off)", "fail",
                               cfg["name"], 0, "\n".join(guest.pending_issues()[:30]))
            raise
        results.record("shutdown", "no kernel reports on the console (guest power-off)",
                       "fail" if issues else "pass", cfg["name"], 0, "\n".join(issues[:30]))
    except FirstFailure as err:
        results.note(f"{cfg['name']}: --fail-fast: stopped at the first failure ({err})")
    except GuestError as err:
        failure = guest.with_issues(str(err)) if guest is not None else str(err)
    except Exception:  # pylint: disable=broad-except
        failure = "the runner broke:\n" + traceback.format_exc()
    finally:
        if guest is not None:
            guest.close()
            with open(prefix + ".qemu.log", "w", encoding="utf-8") as log:
                log.write(guest.qemu_output)
    if failure:
        stage = "boot" if guest is None else "guest"
        if guest is not None:
            failure += "\n" + guest.qemu_report()
        results.record(stage, "the guest session completed", "fail", cfg["name"], time.monotonic() - start,
                       f"{failure}\nconsole: {prefix}.console.log\nagent: {prefix}.agent.log")
        for phase in planned:
            if phase not in done:
                results.record(f"phase{phase}", "ran", "fail", cfg["name"], 0,
                               "not run: the guest session ended before it (see above)")
    elif guest is not None:
        # A QEMU that crashed on the way out must not hide behind the
        # passing phases.
        status = "pass" if guest.exit_status == 0 else "fail"
        results.record("shutdown", "QEMU exits with status 0", status, cfg["name"], 0,
                       "" if status == "pass" else guest.qemu_report())
    if results.FAILS[cfg["name"]] == fails_before:
        for log in (".console.log", ".agent.log", ".qemu.log"):
            if os.path.exists(prefix + log):
                os.replace(prefix + log, prefix + log + ".passed")


def select(args):
    matrix = MATRIX + (FULL_MATRIX if args.full else [])
    names = [cfg["name"] for cfg in matrix]
    for name in args.config:
        if name not in names:
            raise ValueError(f"unknown configuration {name!r}; known: {', '.join(names)}"
                             + ("" if args.full else " (--full adds: "
                                + ", ".join(c["name"] for c in FULL_MATRIX) + ")"))
    chosen = [cfg for cfg in matrix if not args.config or cfg["name"] in args.config]
    if args.phase:
        chosen = [cfg for cfg in chosen if set(cfg["phases"]) & set(args.phase)]
        if not chosen:
            raise ValueError(f"no selected configuration runs phase {', '.join(map(str, args.phase))}")
    if args.shard:
        shard, count = args.shard
        chosen = chosen[shard - 1::count]
    return chosen


def shard_arg(text):
    match = re.fullmatch(r"([1-9][0-9]*)/([1-9][0-9]*)", text)
    if not match or int(match.group(1)) > int(match.group(2)):
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N with 1 <= K <= N")
    return int(match.group(1)), int(match.group(2))


def jobs_arg(text):
    if not re.fullmatch(r"[1-9][0-9]?", str(text)) or int(text) > 16:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of jobs from 1 to 16")
    return int(text)


def default_jobs():
    return str(max(1, min(2, len(os.sched_getaffinity(0)))))


def run_all(chosen, phases, jobs):
    """The configurations, JOBS at a time, each in a thread of its own (its
    guest is a QEMU process: the threads only wait on it). When the run is
    stopped (a signal, an error of the runner), every QEMU started is killed
    first, so the other threads' guests end at once instead of at their
    deadlines."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    try:
        for future in [pool.submit(run_config, cfg, phases) for cfg in chosen if not cfg["alone"]]:
            future.result()
        # Configurations whose timing suffers beside another guest, one at a time at the end
        for cfg in chosen:
            if cfg["alone"]:
                run_config(cfg, phases)
    except BaseException:
        for pid in leftover_qemus():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", default=[], help="run only this configuration")
    parser.add_argument("--phase", action="append", type=int, default=[], choices=sorted(PHASES),
                        help="run only this phase")
    parser.add_argument("--full", action="store_true", default=os.environ.get("ICEMP_FULL") == "1")
    parser.add_argument("--shard", type=shard_arg, help="K/N: run the K-th of N shares of the matrix")
    parser.add_argument("--list", action="store_true", help="list the selected configurations")
    parser.add_argument("--json", action="store_true", help="with --list: as JSON")
    parser.add_argument("--validate", action="store_true", help="check the selection and exit")
    parser.add_argument("--needs-kasan", action="store_true",
                        help="exit 0 when the selection boots the KASAN kernel, 1 otherwise")
    parser.add_argument("--needs-phase", type=int, choices=sorted(PHASES),
                        help="exit 0 when the selection runs this phase, 1 otherwise")
    parser.add_argument("--jobs", type=jobs_arg, default=os.environ.get("ICEMP_JOBS") or default_jobs(),
                        help="configurations run side by side (default: ICEMP_JOBS, else the host's cores, "
                             "at most 2: under TCG a guest keeps one core busy)")
    parser.add_argument("--fail-fast", action="store_true",
                        help="end a configuration's session at its first failed check (mutant runs)")
    args = parser.parse_args()
    global FAIL_FAST  # pylint: disable=global-statement
    FAIL_FAST = args.fail_fast
    if args.json and not args.list:
        parser.error("--json goes with --list")
    try:
        chosen = select(args)
    except ValueError as err:
        parser.error(str(err))
    if args.list:
        if args.json:
            print(json.dumps([{"name": c["name"], "phases": list(c["phases"]), "run_args": c["run_args"],
                               "env": c["env"], "kunit": c["kunit"], "kasan": c["kasan"]} for c in chosen], indent=1))
        else:
            for cfg in chosen:
                print(cfg["name"], " ".join(cfg["run_args"]), "phases", cfg["phases"])
        return 0
    if args.validate:
        return 0
    if args.needs_kasan:
        return 0 if any(cfg["kasan"] for cfg in chosen) else 1
    if args.needs_phase:
        return 0 if any(args.needs_phase in cfg["phases"] and (not args.phase or args.needs_phase in args.phase)
                        for cfg in chosen) else 1
    if not chosen:
        # An empty shard is legal (more shards than configurations) and says so.
        print("# this shard has no configuration to run", flush=True)
    # SIGTERM/SIGHUP end the run through the same cleanup as an error.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda num, frame: sys.exit(128 + num))
    try:
        run_all(chosen, args.phase, args.jobs)
    finally:
        left = leftover_qemus()
        results.record("runner", "every QEMU the runner started has exited",
                       "fail" if left else "pass", "", 0,
                       f"still running: {', '.join(map(str, left))} (killed now)" if left else "")
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
