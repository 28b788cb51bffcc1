# SPDX-License-Identifier: GPL-2.0-or-later
"""Test results of one `scripts/run-tests.sh` run: each check is printed as a TAP
line and appended to a JSON-lines file ($ICEMP_RESULTS); `summary` writes the
JSON results file and JUnit XML beside it, and prints the plan and the closing
`N passed, N failed`. The verdict is a function of the recorded results only:
red when any check failed or when nothing was recorded.

    results.py record SUITE TEST pass|fail|skip [--config C] [--duration S] [--why TEXT]
    results.py summary RESULTS.json [JUNIT.xml]
    results.py failed RESULTS.jsonl     (the failed checks, one per line)"""

import collections
import json
import os
import sys
import threading
import time
import xml.etree.ElementTree as ET

PATH = os.environ.get("ICEMP_RESULTS", "")
# Failures recorded by this process, per configuration ("" = host checks).
FAILS = collections.Counter()
# Configurations may run side by side (phases.py --jobs): a check's lines and
# its row are written as one.
LOCK = threading.Lock()


def note(text):
    """Prints a TAP comment line (# text), whole, beside other threads' lines."""
    with LOCK:
        print(f"# {text}", flush=True)


def record(suite, test, result, config="", duration=0.0, why=""):
    """Prints one TAP line and keeps the result."""
    if result not in ("pass", "fail", "skip"):
        raise ValueError(f"result must be pass, fail or skip, not {result!r}")
    name = name_of({"config": config, "suite": suite, "test": test})
    lines = [("ok" if result != "fail" else "not ok") + f" - {name}"]
    if result == "skip":
        lines[0] += f" # SKIP {why}"
    if result == "fail":
        lines += [f"#   {text}" for text in (why or "").splitlines()]
    with LOCK:
        print("\n".join(lines), flush=True)
        if result == "fail":
            FAILS[config] += 1
        if PATH:
            with open(PATH, "a", encoding="utf-8") as out:
                out.write(json.dumps({"config": config, "suite": suite, "test": test,
                                      "result": result, "duration_s": round(duration, 3),
                                      "why": why, "time": time.time()}) + "\n")


def load(path):
    if not path or not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as src:
        return [json.loads(line) for line in src if line.strip()]


def name_of(row):
    """A check's name as its TAP line gives it: [config/]suite: test."""
    return f"{row['config']}/{row['suite']}: {row['test']}" if row["config"] else f"{row['suite']}: {row['test']}"


def counts_of(rows):
    return {k: sum(1 for r in rows if r["result"] == k) for k in ("pass", "fail", "skip")}


def write_junit(rows, path):
    """JUnit XML: one testsuite per configuration and suite, the way CI systems render it."""
    suites = collections.OrderedDict()
    for row in rows:
        suites.setdefault((row["config"], row["suite"]), []).append(row)
    root = ET.Element("testsuites", name="pci-ice-mp", tests=str(len(rows)),
                      failures=str(counts_of(rows)["fail"]), skipped=str(counts_of(rows)["skip"]))
    for (config, suite), members in suites.items():
        count = counts_of(members)
        node = ET.SubElement(root, "testsuite", name=f"{config}/{suite}" if config else suite,
                             tests=str(len(members)), failures=str(count["fail"]),
                             skipped=str(count["skip"]), errors="0",
                             time=f"{sum(r['duration_s'] for r in members):.3f}")
        for row in members:
            case = ET.SubElement(node, "testcase", classname=f"{config or 'host'}.{suite}",
                                 name=row["test"], time=f"{row['duration_s']:.3f}")
            if row["result"] == "fail":
                ET.SubElement(case, "failure", message=(row["why"] or "failed").splitlines()[0][:200]).text = row["why"]
            elif row["result"] == "skip":
                ET.SubElement(case, "skipped", message=row["why"] or "skipped")
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def summary(json_path, junit_path=None):
    rows = load(PATH)
    counts = counts_of(rows)
    with open(json_path, "w", encoding="utf-8") as out:
        json.dump({"counts": counts, "results": rows}, out, indent=1)
    write_junit(rows, junit_path or os.path.splitext(json_path)[0] + ".junit.xml")
    if not rows:
        print("# no check was recorded: the run is a failure")
    skipped = [row for row in rows if row["result"] == "skip"]
    if skipped:
        # A skip is a check that did not run: every one is named with its reason.
        print(f"# {len(skipped)} skipped:")
        for row in skipped:
            print(f"#   {name_of(row)}: {row['why'] or 'no reason given'}")
    print(f"1..{len(rows)}")
    line = f"{counts['pass']} passed, {counts['fail'] + (0 if rows else 1)} failed"
    if counts["skip"]:
        line += f", {counts['skip']} skipped"
    print(line)
    return 1 if counts["fail"] or not rows else 0


def main(argv):
    if len(argv) >= 4 and argv[0] == "record":
        opts = {"--config": "", "--duration": "0", "--why": ""}
        rest = argv[4:]
        while rest:
            if rest[0] not in opts or len(rest) < 2:
                sys.exit(f"results.py: bad option {rest[0]}")
            opts[rest[0]] = rest[1]
            rest = rest[2:]
        if argv[3] not in ("pass", "fail", "skip"):
            sys.exit(f"results.py: result must be pass, fail or skip, not {argv[3]}")
        record(argv[1], argv[2], argv[3], opts["--config"], float(opts["--duration"]), opts["--why"])
        return 0
    if len(argv) in (2, 3) and argv[0] == "summary":
        return summary(*argv[1:])
    if len(argv) == 2 and argv[0] == "failed":
        for row in load(argv[1]):
            if row["result"] == "fail":
                print(name_of(row))
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
