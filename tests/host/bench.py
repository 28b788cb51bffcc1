# SPDX-License-Identifier: GPL-2.0-or-later
"""`make bench`: the figures the project is judged on, measured in one run and
printed as a table; JSON in build/bench/bench.json. Timings are wall-clock on
this machine under TCG: compare figures of one run with each other (the igb
rows are the peer), not across machines.

    bench.py [--skip-warm] [--repeat N]"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from guest import Guest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = (os.environ.get("BUILD_DIR") or os.path.join(TOP, "build"))
QEMU_TREE = (os.environ.get("QEMU_SRC") or os.path.join(BUILD, "qemu"))
LINUX_TREE = (os.environ.get("LINUX_SRC") or os.path.join(BUILD, "linux"))
QEMU_PYTHON = os.path.join(QEMU_TREE, "python")
OUT = os.path.join(BUILD, "bench")
ROWS = []


def row(section, name, values, unit, note=""):
    """Keeps one figure: min/median/max of the values."""
    values = [float(v) for v in values]
    entry = {"section": section, "name": name, "unit": unit, "n": len(values), "note": note,
             "min": min(values), "median": statistics.median(values), "max": max(values)}
    ROWS.append(entry)
    print(f"  {section:8} {name:44} {entry['median']:12.1f} {unit:6} "
          f"(min {entry['min']:.1f}, max {entry['max']:.1f}, n={len(values)}) {note}", flush=True)


def timed(cmd, env=None):
    start = time.monotonic()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return time.monotonic() - start


def boot(name, run_args):
    os.makedirs(OUT, exist_ok=True)
    start = time.monotonic()
    guest = Guest(TOP, QEMU_PYTHON, run_args, os.path.join(OUT, f"{name}.console.log"))
    return guest, time.monotonic() - start


def bench_lines(guest, env, timeout=900):
    status, lines = guest.run("bench", "bench.sh", env, timeout)
    values = {}
    for line in lines:
        if line.startswith("@@BENCH "):
            _, key, value = line.split(None, 2)
            values.setdefault(key, []).append(value)
    if status != 0 or "error" in values:
        raise RuntimeError(f"guest bench {env.get('BENCH')} failed: {values.get('error', status)}")
    return values


def first_pf(guest):
    status, lines = guest.run("pf", "bench-pf.sh", {}, 30)
    return lines[-1].strip() if status == 0 and lines else None


def warm(repeat):
    """A one-line change in the driver / the device → rebuild → phase 1 green."""
    cases = [("driver", LINUX_TREE, "drivers/net/ethernet/intel/ice/ice_mp_main.c",
              [["scripts/build-linux.sh"], ["scripts/build-initramfs.sh"]]),
             ("device", QEMU_TREE, "hw/net/pci-ice-mp.c", [["scripts/build-qemu.sh"]])]
    for what, tree, path, builds in cases:
        source = os.path.join(tree, path)
        if not os.path.exists(source):
            print(f"  warm: {source} missing, skipped")
            continue
        rebuild, green = [], []
        for k in range(repeat):
            with open(source, "a", encoding="utf-8") as edit:
                edit.write(f"/* bench edit {k} */\n")
            try:
                seconds = sum(timed([os.path.join(TOP, *b[0].split("/"))] + b[1:]) for b in builds)
                rebuild.append(seconds)
                env = dict(os.environ, ICEMP_RESULTS=os.path.join(OUT, "warm.jsonl"))
                green.append(seconds + timed(["/usr/bin/python3", os.path.join(TOP, "tests/host/phases.py"),
                                              "--config", "p1-vf0", "--phase", "1"], env))
            finally:
                subprocess.run(["git", "-C", tree, "checkout", "--", path], check=True)
        for b in builds:
            timed([os.path.join(TOP, *b[0].split("/"))] + b[1:])
        row("warm", f"one-line {what} change: rebuild", rebuild, "s")
        row("warm", f"one-line {what} change: rebuild + phase 1 green", green, "s")


def guest_phases():
    """Boot-to-first-test and each phase's wall time, from a test run of the main config."""
    jsonl = os.path.join(OUT, "phases.jsonl")
    if os.path.exists(jsonl):
        os.remove(jsonl)
    env = dict(os.environ, ICEMP_RESULTS=jsonl)
    subprocess.run(["/usr/bin/python3", os.path.join(TOP, "tests/host/phases.py"), "--config", "p4-vf8-dev2"],
                   env=env, check=False, stdout=subprocess.DEVNULL)
    with open(jsonl, encoding="utf-8") as src:
        records = [json.loads(line) for line in src]
    by_suite = {}
    for rec in records:
        by_suite.setdefault(rec["suite"], []).append(rec)
    for suite, recs in sorted(by_suite.items()):
        failed = sum(1 for r in recs if r["result"] == "fail")
        note = f"{len(recs)} checks" + (f", {failed} FAILED" if failed else "")
        row("guest", f"p4-vf8-dev2 {suite} wall time", [sum(r["duration_s"] for r in recs)], "s", note)


def events(count):
    for depth in (64, 1024):
        guest, _ = boot(f"events-d{depth}", ["--ports", "4", "--vfs", "0", "--event-depth", str(depth)])
        try:
            pf = first_pf(guest)
            for via in ("qmp", "doorbell"):
                values = bench_lines(guest, {"BENCH": "events", "PF": pf, "COUNT": count, "VIA": via, "WAIT_S": 120})
                seconds = float(values["elapsed_us"][0]) / 1e6
                delivered = int(values["events_delivered"][0])
                note = (f"dropped {values['events_dropped'][0]}, unaccounted {values['events_unaccounted'][0]}, "
                        f"overflows {values['overflows'][0]}")
                row("events", f"{count} via {via}, depth {depth}: delivered/s", [delivered / seconds], "ev/s", note)
        finally:
            guest.shutdown()


def scaling(repeat):
    for ports in (1, 4, 16):
        guest, boot_s = boot(f"scale-p{ports}", ["--ports", str(ports), "--vfs", "64"])
        try:
            row("scale", f"ports={ports}: boot to agent", [boot_s], "s")
            pf = first_pf(guest)
            values = bench_lines(guest, {"BENCH": "probe", "PF": pf, "N": repeat})
            row("scale", f"ports={ports}: probe (bind)", [int(v) / 1000 for v in values["probe_us"]], "ms")
            for vfs in (16, 64):
                values = bench_lines(guest, {"BENCH": "sriov", "PF": pf, "VFS": vfs, "N": repeat})
                row("scale", f"ports={ports} vfs={vfs}: sriov enable", [int(v) / 1000 for v in values["sriov_enable_us"]], "ms")
                row("scale", f"ports={ports} vfs={vfs}: sriov disable", [int(v) / 1000 for v in values["sriov_disable_us"]], "ms")
        finally:
            guest.shutdown()


def anchor(repeat):
    """Same guest kernel, QEMU's igb with the upstream igb driver, beside one pci-ice-mp."""
    igb = ["--devices", "0", "--", "-netdev", "user,id=igbnet",
           "-device", "pcie-root-port,id=rpigb,bus=pcie.0,chassis=30,slot=30",
           "-device", "igb,netdev=igbnet,bus=rpigb"]
    ice = ["--ports", "4", "--vfs", "8"]
    for name, args, client in (("igb", igb, "igbnet"), ("pci-ice-mp", ice, "ice0.p0")):
        boots, toggles = [], []
        for _ in range(repeat):
            guest, boot_s = boot(f"anchor-{name}", args)
            try:
                boots.append(boot_s)
                status, lines = guest.run("nd", "bench-pf.sh", {"NETDEV_OF": "igb" if name == "igb" else ""}, 30)
                netdev = lines[-1].strip()
                values = bench_lines(guest, {"BENCH": "link", "NETDEV": netdev, "CLIENT": client, "N": 20})
                toggles.append(int(values["link_toggle_us"][0]) / 1000)
            finally:
                guest.shutdown()
        row("anchor", f"{name}: boot to agent", boots, "s")
        row("anchor", f"{name}: link toggle seen in guest", toggles, "ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-warm", action="store_true", help="skip the rebuild figures")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions where it makes sense")
    parser.add_argument("--events", type=int, default=10000, help="events per injection run")
    args = parser.parse_args()
    if args.repeat < 1 or args.events < 1:
        parser.error("--repeat and --events must be at least 1")
    os.makedirs(OUT, exist_ok=True)
    print(f"  {'section':8} {'figure':44} {'median':>12} unit")
    if not args.skip_warm:
        warm(args.repeat)
    guest_phases()
    events(args.events)
    scaling(args.repeat)
    anchor(args.repeat)
    with open(os.path.join(OUT, "bench.json"), "w", encoding="utf-8") as out:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": ROWS}, out, indent=1)
    print(f"JSON: {os.path.join(OUT, 'bench.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
