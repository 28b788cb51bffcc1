# SPDX-License-Identifier: GPL-2.0-or-later
"""`make bench`: the figures the project is judged on, measured in one run and
printed as a table; JSON in build/bench/bench.json. Timings are wall-clock on
this machine under TCG: compare figures of one run with each other (the igb
rows are the peer), not across machines.

    bench.py [--skip-warm] [--repeat N] [--events N] [--cold-report FILE]"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from guest import Guest
from paths import BUILD, LINUX_TREE, QEMU_TREE, TOP
OUT = os.path.join(BUILD, "bench")
ROWS = []


def row(section, name, values, unit, note=""):
    """Keeps one figure: min/median/max of the values."""
    values = [float(v) for v in values]
    entry = {"section": section, "name": name, "unit": unit, "n": len(values), "note": note,
             "min": min(values), "median": statistics.median(values), "max": max(values)}
    ROWS.append(entry)
    digits = 2 if unit == "x" else 1
    print(f"  {section:8} {name:62} {entry['median']:12.{digits}f} {unit:6} "
          f"(min {entry['min']:.1f}, max {entry['max']:.1f}, n={len(values)}) {note}", flush=True)
    return entry["median"]


def timed(cmd, env=None):
    start = time.monotonic()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return time.monotonic() - start


def boot(name, run_args):
    os.makedirs(OUT, exist_ok=True)
    start = time.monotonic()
    guest = Guest(run_args, os.path.join(OUT, name))
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


def uncommitted(tree, path):
    """Why the bench must not edit PATH of TREE (it has uncommitted changes, is
    untracked, or git cannot tell), or None when it holds exactly a commit."""
    try:
        out = subprocess.run(["git", "-C", tree, "status", "--porcelain", "--", path],
                             check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        return f"git cannot tell whether it has uncommitted changes ({err})"
    return "it has uncommitted changes" if out.strip() else None


def restore(source, original, backup):
    """Puts the exact original bytes of SOURCE back, and checks they are."""
    with open(source, "wb") as out:
        out.write(original)
    with open(source, "rb") as back:
        if back.read() != original:
            raise RuntimeError(f"{source} could not be restored; its original is in {backup}")


def warm(repeat):
    """A one-line change in the driver / the device → rebuild → phase 1 green.
    The edit is a comment appended to a source file whose exact bytes are put back
    afterwards (also on Ctrl-C or a failed build); a file with uncommitted changes
    is never touched: its rows are skipped."""
    cases = [("driver", LINUX_TREE, "drivers/net/ethernet/intel/ice/ice_mp_main.c",
              [["scripts/build-linux.sh"], ["scripts/build-initramfs.sh"]]),
             ("device", QEMU_TREE, "hw/net/pci-ice-mp.c", [["scripts/build-qemu.sh"]])]
    for what, tree, path, builds in cases:
        source = os.path.join(tree, path)
        if not os.path.exists(source):
            print(f"  warm: {source} missing, skipped")
            continue
        why = uncommitted(tree, path)
        if why:
            print(f"  warm: {source}: {why}; the one-line {what} change rows are skipped "
                  "(the bench never edits uncommitted work: commit or stash it to measure them)", flush=True)
            continue
        with open(source, "rb") as src:
            original = src.read()
        # A copy on disk too, should even the restore be interrupted.
        backup = os.path.join(OUT, f"warm-{what}-{os.path.basename(path)}.orig")
        with open(backup, "wb") as out:
            out.write(original)
        rebuild, green = [], []
        restored = True
        try:
            for k in range(repeat):
                restored = False
                try:
                    with open(source, "ab") as edit:
                        edit.write(f"/* bench edit {k} */\n".encode())
                    seconds = sum(timed([os.path.join(TOP, *b[0].split("/"))] + b[1:]) for b in builds)
                    rebuild.append(seconds)
                    env = dict(os.environ, ICEMP_RESULTS=os.path.join(OUT, "warm.jsonl"))
                    green.append(seconds + timed(["/usr/bin/python3", os.path.join(TOP, "tests/host/phases.py"),
                                                  "--config", "p1-vf0", "--phase", "1"], env))
                finally:
                    restore(source, original, backup)
                    restored = True
        finally:
            if restored:
                os.remove(backup)
            else:
                print(f"  warm: {source} may not be as it was: its original bytes are in {backup}", flush=True)
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
                values = bench_lines(guest, {"BENCH": "events", "PF": pf, "COUNT": count, "VIA": via, "WAIT_S": 60})
                seconds = float(values["elapsed_us"][0]) / 1e6
                delivered = int(values["events_delivered"][0])
                note = (f"dropped {values['events_dropped'][0]}, unaccounted {values['events_unaccounted'][0]}, "
                        f"overflows {values['overflows'][0]}")
                row("events", f"{count} via {via}, depth {depth}: delivered/s", [delivered / seconds], "ev/s", note)
        finally:
            guest.close()


def growth(xs, ys):
    """Least-squares fit y = a + b*x over the medians (slope, r^2) and a verdict from
    the slopes of consecutive segments: 'flat' when the fitted change over the range
    is under a quarter of the mean; 'linear' when every segment rises and the steepest
    is at most twice the shallowest; else 'super-linear' or 'sub-linear' by whether
    the last segment is steeper than the first."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (my + slope * (x - mx))) ** 2 for x, y in zip(xs, ys))
    r2 = 1.0 - ss_res / ss_tot if ss_tot else 1.0
    segments = [(y1 - y0) / (x1 - x0) for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:])]
    if abs(slope) * (max(xs) - min(xs)) < 0.25 * my:
        verdict = "flat"
    elif min(segments) > 0 and max(segments) <= 2 * min(segments):
        verdict = "linear"
    elif segments[-1] > segments[0]:
        verdict = "super-linear"
    else:
        verdict = "sub-linear"
    return {"slope": slope, "r2": r2, "segment_slopes": segments, "verdict": verdict}


GROWTH = []


def report_growth(what, per, xs, ys, unit):
    fit = growth(xs, ys)
    fit.update({"figure": what, "x": xs, "y": ys, "unit": f"{unit}/{per}"})
    GROWTH.append(fit)
    print(f"  growth   {what:62} {fit['verdict']:>12} ({fit['slope']:+.2f} {unit}/{per}, r2 {fit['r2']:.2f})",
          flush=True)


def scaling(repeat):
    """Probe and sriov_numvfs enable/disable over ports 1, 4, 16 (1..max) and VFs 0..64:
    VFs 0 is the probe (bind with SR-IOV off), then enable/disable of 1, 16 and 64 VFs."""
    port_grid, vf_grid = (1, 4, 16), (1, 16, 64)
    grid = {}
    for ports in port_grid:
        guest, boot_s = boot(f"scale-p{ports}", ["--ports", str(ports), "--vfs", str(max(vf_grid))])
        try:
            row("scale", f"ports={ports}: boot to agent", [boot_s], "s")
            pf = first_pf(guest)
            values = bench_lines(guest, {"BENCH": "probe", "PF": pf, "N": repeat})
            grid[(ports, 0, "probe")] = row("scale", f"ports={ports}: probe (bind)",
                                            [int(v) / 1000 for v in values["probe_us"]], "ms")
            for vfs in vf_grid:
                values = bench_lines(guest, {"BENCH": "sriov", "PF": pf, "VFS": vfs, "N": repeat})
                for step in ("enable", "disable"):
                    grid[(ports, vfs, step)] = row(
                        "scale", f"ports={ports} vfs={vfs}: sriov {step}",
                        [int(v) / 1000 for v in values[f"sriov_{step}_us"]], "ms")
        finally:
            guest.close()
    print("\n  scale grid, median ms (VFs 0 = probe; enable / disable for 1..64 VFs)")
    print(f"  {'ports':>5} {'probe':>9}" + "".join(f" {f'{v} VFs':>17}" for v in vf_grid))
    for ports in port_grid:
        cells = "".join(f" {grid[(ports, v, 'enable')]:8.0f}/{grid[(ports, v, 'disable')]:<8.0f}"
                        for v in vf_grid)
        print(f"  {ports:5} {grid[(ports, 0, 'probe')]:9.0f}{cells}")
    print()
    report_growth("probe over ports", "port", list(port_grid),
                  [grid[(p, 0, "probe")] for p in port_grid], "ms")
    for ports in port_grid:
        for step in ("enable", "disable"):
            report_growth(f"sriov {step} over VFs (ports={ports})", "VF", list(vf_grid),
                          [grid[(ports, v, step)] for v in vf_grid], "ms")


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
                guest.close()
        row("anchor", f"{name}: boot to agent", boots, "s")
        row("anchor", f"{name}: link toggle seen in guest", toggles, "ms")


# The datapath figures of bench.sh BENCH=dp: (key, label, unit, higher is better)
DP_FIGURES = (("tcp_mbps", "TCP throughput", "Mbit/s", True),
              ("udp64_pps", "UDP 64-byte frames received", "pps", True),
              ("udp1514_mbps", "UDP 1514-byte frames received", "Mbit/s", True),
              ("ping_avg_us", "ping round trip (avg of 20)", "us", False))
OURS_MACS = ("52:54:00:1c:00:00", "52:54:00:1c:00:01")    # run-qemu.sh: device 0, ports 0 and 1
PEER_MACS = ("52:54:00:1d:00:00", "52:54:00:1d:00:01")    # run-qemu.sh --peer-nic: peer0, peer1


def datapath(repeat, seconds=3):
    """Port-to-port traffic over one cable, ours beside a peer NIC in the same
    guest: pci-ice-mp ports 0.0-0.1 cabled, and two NICs of the peer model
    cabled to each other (run-qemu.sh --wire, --peer-nic). One guest per peer
    model, so our figures are measured in each; every figure is the median of
    `repeat` guests."""
    for model in ("igb", "virtio-net-pci"):
        figures = {}
        for _ in range(repeat):
            guest, _ = boot(f"datapath-{model}", ["--ports", "2", "--vfs", "0", "--wire", "0.0-0.1",
                                                  "--peer-nic", model])
            try:
                for who, macs in (("pci-ice-mp", OURS_MACS), (model, PEER_MACS)):
                    values = bench_lines(guest, {"BENCH": "dp", "A_MAC": macs[0], "B_MAC": macs[1],
                                                 "DP_SECONDS": seconds})
                    for key, _, _, _ in DP_FIGURES:
                        figures.setdefault((who, key), []).append(int(values[key][0]))
            finally:
                guest.close()
        for key, label, unit, higher in DP_FIGURES:
            ours = row("datapath", f"pci-ice-mp: {label} (beside {model})", figures[("pci-ice-mp", key)], unit)
            peer = row("datapath", f"{model}: {label}", figures[(model, key)], unit)
            if ours and peer:
                ratio = ours / peer if higher else peer / ours
                row("datapath", f"pci-ice-mp / {model}: {label}", [ratio], "x",
                    "above 1: ours better")


def cold(report):
    """The rows scripts/bench.sh --cold measured: one per step, then the total."""
    total = 0.0
    with open(report, encoding="utf-8") as src:
        for line in src:
            step, seconds, note = line.rstrip("\n").split("\t", 2)
            total += float(seconds)
            row("cold", f"from nothing: {step}", [seconds], "s", note)
    row("cold", "from nothing: total", [total], "s")


SECTIONS = ("warm", "phases", "events", "scaling", "anchor", "datapath")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-warm", action="store_true", help="skip the rebuild figures")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions where it makes sense")
    parser.add_argument("--events", type=int, default=10000, help="events per injection run")
    parser.add_argument("--only", action="append", default=[], choices=SECTIONS,
                        help="measure only this section (repeatable)")
    parser.add_argument("--cold-report", help="the cold build's step times (from scripts/bench.sh --cold)")
    args = parser.parse_args()
    if args.repeat < 1 or args.events < 1:
        parser.error("--repeat and --events must be at least 1")
    os.makedirs(OUT, exist_ok=True)
    print(f"  {'section':8} {'figure':62} {'median':>12} unit")
    if args.cold_report:
        cold(args.cold_report)
    only = set(args.only) or set(SECTIONS)
    if not args.skip_warm and "warm" in only:
        warm(args.repeat)
    if "phases" in only:
        guest_phases()
    if "events" in only:
        events(args.events)
    if "scaling" in only:
        scaling(args.repeat)
    if "anchor" in only:
        anchor(args.repeat)
    if "datapath" in only:
        datapath(args.repeat)
    with open(os.path.join(OUT, "bench.json"), "w", encoding="utf-8") as out:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": ROWS,
                   "growth": GROWTH}, out, indent=1)
    print(f"JSON: {os.path.join(OUT, 'bench.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
