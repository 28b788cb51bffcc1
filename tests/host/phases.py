# SPDX-License-Identifier: GPL-2.0-or-later
"""Boots one guest per configuration of the matrix and runs the guest test
phases in it (tests/guest/phase*.sh), recording every KTAP test point.

    phases.py [--config NAME]... [--phase N]... [--full] [--self-check] [--list]

--full adds the long matrix (ICEMP_FULL=1 does the same). --self-check runs
phase 1 expecting one port too many and passes only if phase 1 fails."""

import argparse
import os
import re
import sys
import time

import results
from guest import Guest, GuestError
from paths import BUILD
OUT = os.path.join(BUILD, "results")

PHASES = {1: "phase1-probe.sh", 2: "phase2-events.sh", 3: "phase3-sriov.sh",
          4: "phase4-reset.sh", 5: "phase5-cycles.sh"}


def config(name, devices=1, ports=4, vfs=8, depth=64, numa=0, phases=(1, 2, 3, 4), env=None):
    run_args = ["--ports", str(ports), "--vfs", str(vfs), "--event-depth", str(depth)]
    nodes = ""
    if numa:
        run_args += ["--numa-nodes", str(numa), "--devices-per-node", str(devices // numa)]
        nodes = ",".join(str(i // (devices // numa)) for i in range(devices))
    else:
        run_args += ["--devices", str(devices)]
    guest_env = {"DEVICES": devices, "PORTS": ports, "VFS": vfs, "DEPTH": depth}
    if nodes:
        guest_env["NODES"] = nodes
    guest_env.update(env or {})
    return {"name": name, "run_args": run_args, "env": guest_env, "phases": phases}


# The default matrix stays within about ten minutes on two cores.
MATRIX = [
    config("p4-vf8-dev2", devices=2, ports=4, vfs=8, phases=(1, 2, 3, 4, 5),
           env={"RESET_CYCLES": 100, "BIND_CYCLES": 100, "VF_CYCLES": 50}),
    config("p1-vf0", ports=1, vfs=0, phases=(1, 2, 3, 4)),
    config("p16-vf64", ports=16, vfs=64, phases=(1, 3)),
    config("numa2", devices=2, ports=2, vfs=4, numa=2, phases=(1, 2)),
]
FULL_MATRIX = [
    config("p16-vf64-events-reset", ports=16, vfs=64, phases=(2, 4)),
    config("p4-depth1024", ports=4, vfs=8, depth=1024, phases=(2,)),
    config("p8-vf32-dev4", devices=4, ports=8, vfs=32, phases=(1, 2, 3, 4)),
    config("numa2x2", devices=4, ports=4, vfs=8, numa=2, phases=(1, 2, 3)),
]

KTAP_POINT = re.compile(r"^(ok|not ok) \d+ (.*?)(?: # (SKIP)\b ?(.*))?$")


def run_phase(guest, cfg, phase, env, expect_failure=False):
    """Runs one phase; records its test points; returns the list of failures."""
    suite = f"phase{phase}"
    test_file = PHASES[phase]
    start = last = time.monotonic()
    points, notes = [], []

    def on_line(line):
        nonlocal last
        match = KTAP_POINT.match(line)
        if match:
            now = time.monotonic()
            points.append((match.group(1) == "ok", match.group(2), match.group(3), match.group(4) or "",
                           now - last, list(notes)))
            notes.clear()
            last = now
        elif line.startswith("# ") or line.startswith("1..0 # SKIP"):
            notes.append(line)

    issues_before = len(guest.issues)
    status, _ = guest.run(suite, test_file, env, timeout=900, on_line=on_line)
    if expect_failure:
        return [p for p in points if not p[0]] or ([] if status == 0 else ["status"])
    for ok, name, skip, why, duration, diag in points:
        result = "skip" if skip else ("pass" if ok else "fail")
        results.record(suite, name, result, cfg["name"], duration, why if skip else "\n".join(diag))
    if not points:
        results.record(suite, "ran test points", "skip" if status == 0 else "fail", cfg["name"],
                       time.monotonic() - start, "\n".join(notes) or f"exit status {status}")
    elif status != 0 and all(p[0] for p in points):
        results.record(suite, "exit status", "fail", cfg["name"], 0, f"exit status {status}")
    new_issues = guest.issues[issues_before:]
    results.record(suite, "no kernel reports on the console", "fail" if new_issues else "pass",
                   cfg["name"], 0, "\n".join(new_issues[:20]))
    print(f"# {cfg['name']}/{suite}: {len(points)} checks in {time.monotonic() - start:.1f} s", flush=True)
    return [p for p in points if not p[0]]


def run_config(cfg, phases, self_check):
    os.makedirs(OUT, exist_ok=True)
    log = os.path.join(OUT, f"{cfg['name']}.console.log")
    start = time.monotonic()
    failed = False
    try:
        guest = Guest(cfg["run_args"], log)
    except Exception as err:  # pylint: disable=broad-except
        results.record("boot", "guest reaches the test agent", "fail", cfg["name"],
                       time.monotonic() - start, f"{err}\nconsole: {log}")
        return False
    results.record("boot", "guest reaches the test agent", "pass", cfg["name"], time.monotonic() - start)
    print(f"# {cfg['name']}: {' '.join(guest.command)}", flush=True)
    try:
        if cfg is MATRIX[0] and not phases:
            status, lines = guest.run("kunit", "kunit.sh", {}, timeout=60)
            record_kunit(cfg, lines)
        if self_check:
            env = dict(cfg["env"], PORTS=cfg["env"]["PORTS"] + 1)
            caught = run_phase(guest, cfg, 1, env, expect_failure=True)
            results.record("self-check", "phase 1 fails when it expects one port too many",
                           "pass" if caught else "fail", cfg["name"], 0,
                           "" if caught else "phase 1 passed with a wrong port count")
        for phase in cfg["phases"]:
            if phases and phase not in phases:
                continue
            failed |= bool(run_phase(guest, cfg, phase, cfg["env"]))
    except GuestError as err:
        results.record("guest", "answered every request", "fail", cfg["name"], 0, f"{err}\nconsole: {log}")
        failed = True
    finally:
        guest.shutdown()
    if not failed and not guest.issues:
        os.replace(log, log + ".passed")
    return not failed


def record_kunit(cfg, lines):
    suite = None
    count = 0
    for line in lines:
        text = line.strip()
        if text.startswith("# Subtest:"):
            suite = text.split(":", 1)[1].strip()
            continue
        match = KTAP_POINT.match(text)
        if match and suite and line.startswith(("    ", "\t")):
            result = "skip" if match.group(3) else ("pass" if match.group(1) == "ok" else "fail")
            results.record("kunit", f"{suite}.{match.group(2)}", result, cfg["name"])
            count += 1
    if count == 0:
        results.record("kunit", "ice_mp suite ran at boot", "fail", cfg["name"], 0,
                       "no KUnit results in /sys/kernel/debug/kunit")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", default=[], help="run only this configuration")
    parser.add_argument("--phase", action="append", type=int, default=[], choices=sorted(PHASES),
                        help="run only this phase")
    parser.add_argument("--full", action="store_true", default=os.environ.get("ICEMP_FULL") == "1")
    parser.add_argument("--self-check", action="store_true")
    parser.add_argument("--list", action="store_true", help="list the configurations")
    args = parser.parse_args()
    matrix = MATRIX + (FULL_MATRIX if args.full else [])
    if args.list:
        for cfg in matrix:
            print(cfg["name"], " ".join(cfg["run_args"]), "phases", cfg["phases"])
        return 0
    names = {cfg["name"] for cfg in matrix}
    for name in args.config:
        if name not in names:
            parser.error(f"unknown configuration {name!r}; known: {', '.join(sorted(names))}")
    ok = True
    for cfg in matrix:
        if args.config and cfg["name"] not in args.config:
            continue
        ok &= run_config(cfg, args.phase, args.self_check and cfg is matrix[0])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
