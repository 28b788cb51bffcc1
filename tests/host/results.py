# SPDX-License-Identifier: GPL-2.0-or-later
"""Test results of one `scripts/run-tests.sh` run: each check is printed as a TAP
line and appended to a JSON-lines file ($ICEMP_RESULTS); `summary` writes the
JSON results file and prints the plan and the closing `N passed, N failed`.

    results.py record SUITE TEST pass|fail|skip [--config C] [--duration S] [--why TEXT]
    results.py summary RESULTS.json"""

import json
import os
import sys
import time

PATH = os.environ.get("ICEMP_RESULTS", "")


def record(suite, test, result, config="", duration=0.0, why=""):
    """Prints one TAP line and keeps the result."""
    name = f"{config}/{suite}: {test}" if config else f"{suite}: {test}"
    line = ("ok" if result != "fail" else "not ok") + f" - {name}"
    if result == "skip":
        line += f" # SKIP {why}"
    print(line, flush=True)
    if result == "fail" and why:
        for text in why.splitlines():
            print(f"#   {text}", flush=True)
    if PATH:
        with open(PATH, "a", encoding="utf-8") as out:
            out.write(json.dumps({"config": config, "suite": suite, "test": test,
                                  "result": result, "duration_s": round(duration, 3),
                                  "why": why, "time": time.time()}) + "\n")


def summary(json_path):
    rows = []
    if PATH and os.path.exists(PATH):
        with open(PATH, encoding="utf-8") as src:
            rows = [json.loads(line) for line in src if line.strip()]
    counts = {k: sum(1 for r in rows if r["result"] == k) for k in ("pass", "fail", "skip")}
    with open(json_path, "w", encoding="utf-8") as out:
        json.dump({"counts": counts, "results": rows}, out, indent=1)
    print(f"1..{len(rows)}")
    line = f"{counts['pass']} passed, {counts['fail']} failed"
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
    if len(argv) == 2 and argv[0] == "summary":
        return summary(argv[1])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
