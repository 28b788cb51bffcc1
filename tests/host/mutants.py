# SPDX-License-Identifier: GPL-2.0-or-later
"""The mutants of tests/mutants/: their headers, which of them a run takes, and
whether a failed run killed a mutant with the check its header names.

    mutants.py check                       every header complete (exit 1 names what is not)
    mutants.py select [--all] [--since REV] [--per-run K] [--mutant NAME]...
                                           "NAME: why" per mutant to run, in run order
    mutants.py files NAME                  the files of the tree the mutant changes
    mutants.py verdict NAME < FAILED       killed as named / by the wrong check
    mutants.py baseline RESULTS.jsonl NAME...
                                           whether this run's matrix is the mutants' baseline

A mutant file starts with its header, then the diff against its tree's series:

    Mutant: <what is broken>
    Tree: qemu | linux
    Run: <tests/host/phases.py selection, e.g. --config numa2 --phase 6>
    Caught-by: <suite>: <test>      (a pattern, fnmatch; repeatable)

A Caught-by pattern is matched against each failed check's name as the TAP line
prints it, with and without its configuration ("numa2/phase6: x" and
"phase6: x"). A run that failed only through other checks (a runner error, a
timeout, an unrelated check) did not prove that the named check can fail.

Which mutants `make check` runs (select without --all): every mutant changed
since REV (default: the last 5 commits, plus uncommitted changes) -- the
mutant file itself (new, or its Run: line or its diff changed), a file of its
tree that it changes (compared section by section in the series' patch files,
whatever their names), or a guest test file of a phase its selection runs --
and a rotation: the mutants sorted by name fall into SLOTS slots (every
SLOTS-th one), and the run takes slot (number of commits up to HEAD) mod SLOTS.
SLOTS is prime, so landings of any size but a multiple of it step through every
slot: every mutant runs at least once in SLOTS landings.

The baseline (the same selection without the fault must be green, or a red
run would "kill" every mutant): `make check` has just run the matrix on the
same builds, so a mutant whose selection is one configuration of that matrix
takes its baseline from there (`baseline`): the configuration ran every phase
of the selection, failed nothing, and the checks the header names passed in
it. Standalone and under --all (make check-full) the selection itself runs
unmutated first: the exact baseline (a phase alone in a fresh guest)."""

import fnmatch
import json
import os
import re
import subprocess
import sys

import results

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MUTANTS = os.path.join(TOP, "tests", "mutants")
SERIES = {"qemu": "qemu-patches", "linux": "linux-patches"}
SLOTS = 7
DEFAULT_SINCE = "HEAD~5"
HEADER = re.compile(r"^(Mutant|Tree|Run|Caught-by): (.*)$")


def git(*args, check=True):
    out = subprocess.run(["git", "-C", TOP, *args], capture_output=True, text=True, check=False)
    if check and out.returncode:
        raise RuntimeError(f"git {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout if out.returncode == 0 else None


def parse(text):
    """(header dict with Caught-by as a list, the diff)."""
    head = {"Caught-by": []}
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("diff --git "):
            return head, "".join(lines[i:])
        match = HEADER.match(line.rstrip("\n"))
        if match and match.group(1) == "Caught-by":
            head["Caught-by"].append(match.group(2).strip())
        elif match and match.group(1) not in head:
            head[match.group(1)] = match.group(2).strip()
    return head, ""


def load(name):
    with open(os.path.join(MUTANTS, name + ".patch"), encoding="utf-8") as src:
        return parse(src.read())


def names():
    return sorted(f[:-len(".patch")] for f in os.listdir(MUTANTS) if f.endswith(".patch"))


def changed_files(diff):
    """The paths of the tree a diff changes."""
    return sorted(set(re.findall(r"^diff --git a/(\S+) b/", diff, re.M)))


def problems(name):
    head, diff = load(name)
    why = [f"no '{key}:' line" for key in ("Mutant", "Tree", "Run") if not head.get(key)]
    if head.get("Tree") and head["Tree"] not in SERIES:
        why.append(f"'Tree: {head['Tree']}' is not qemu or linux")
    if not head["Caught-by"]:
        why.append("no 'Caught-by:' line (the check that must catch it)")
    if not diff:
        why.append("no diff")
    return why


def sections(series_files):
    """{path of the tree: the text of its diff sections} over a series' patch files (in order),
    without the index lines (which change whenever another patch changes the file before)."""
    out = {}
    for text in series_files:
        path = None
        for line in text.splitlines():
            if line.startswith("diff --git a/"):
                path = line.split()[2][2:]
                out.setdefault(path, [])
            elif line == "-- " or line.startswith("index "):
                if line == "-- ":
                    path = None
            elif path:
                out[path].append(line)
    return {path: "\n".join(lines) for path, lines in out.items()}


def series_now(tree):
    folder = os.path.join(TOP, SERIES[tree])
    files = sorted(f for f in os.listdir(folder) if re.match(r"\d{4}-.*\.patch$", f) and not f.startswith("0000-"))
    texts = []
    for name in files:
        with open(os.path.join(folder, name), encoding="utf-8") as src:
            texts.append(src.read())
    return texts


def series_at(tree, rev):
    listing = git("ls-tree", "--name-only", f"{rev}:{SERIES[tree]}", check=False) or ""
    files = sorted(f for f in listing.split() if re.match(r"\d{4}-.*\.patch$", f) and not f.startswith("0000-"))
    return [git("show", f"{rev}:{SERIES[tree]}/{name}") for name in files]


def phases_of(run):
    out = subprocess.run([sys.executable, os.path.join(TOP, "tests", "host", "phases.py"), "--list", "--json",
                          *run.split()], capture_output=True, text=True, check=True)
    chosen = {int(n) for n in re.findall(r"--phase (\d+)", run)}
    found = set()
    for cfg in json.loads(out.stdout):
        found |= set(cfg["phases"])
    return sorted(chosen & found if chosen else found)


def why_changed(name, since, tree_changes):
    """The reasons the mutant NAME must run for the changes since SINCE (empty: none)."""
    head, diff = load(name)
    why = []
    old = git("show", f"{since}:tests/mutants/{name}.patch", check=False)
    if old is None:
        why.append(f"new since {since}")
    else:
        old_head, old_diff = parse(old)
        if old_head.get("Run") != head.get("Run"):
            why.append("its Run: selection changed")
        if old_diff != diff:
            why.append("its diff changed")
    for path in changed_files(diff):
        if path in tree_changes.get(head["Tree"], ()):
            why.append(f"{path} changed in the series")
    guest = set((git("diff", "--name-only", since, "--", "tests/guest") or "").split())
    for phase in phases_of(head["Run"]):
        for path in sorted(guest):
            if re.match(rf"tests/guest/phase{phase}-", path):
                why.append(f"{path} changed")
    return why


def select(all_, since, per_run, only):
    chosen = only or names()
    if all_ or only:
        return [(name, "all mutants" if all_ else "named") for name in chosen]
    if git("rev-parse", "-q", "--verify", since + "^{commit}", check=False) is None:
        # A history shorter than the window: everything since the first commit.
        since = git("rev-list", "--max-parents=0", "HEAD").split()[-1]
    tree_changes = {}
    for tree in SERIES:
        old, new = sections(series_at(tree, since)), sections(series_now(tree))
        tree_changes[tree] = {path for path in set(old) | set(new) if old.get(path) != new.get(path)}
    count = int(git("rev-list", "--count", "HEAD").strip())
    slots = max(1, min(SLOTS, -(-len(chosen) // per_run)))
    slot = count % slots
    picked = []
    for index, name in enumerate(chosen):
        why = why_changed(name, since, tree_changes)
        if index % slots == slot:
            why.append(f"rotation slot {slot} of {slots} (commit count {count})")
        if why:
            picked.append((name, "; ".join(why)))
    return picked


def names_it(patterns, check):
    """Whether a Caught-by pattern names CHECK ("[config/]suite: test"), with
    or without its configuration."""
    bare = check.split("/", 1)[1] if re.match(r"^[^/:]+/", check) else check
    return any(fnmatch.fnmatchcase(check, p) or fnmatch.fnmatchcase(bare, p) for p in patterns)


def verdict(name, failed):
    """(kill as named?, message)."""
    patterns = load(name)[0]["Caught-by"]
    named = [check for check in failed if names_it(patterns, check)]
    if named:
        return True, "caught by: " + "; ".join(named[:3])
    return False, ("killed by the wrong check: " + "; ".join(failed[:3]) + " -- the header names: "
                   + " | ".join(patterns))


def matrix_baseline(name, rows):
    """(usable?, why): this run's matrix as the baseline of mutant NAME."""
    head = load(name)[0]
    run = head["Run"]
    configs = re.findall(r"--config (\S+)", run)
    if len(configs) != 1:
        return False, f"'{run}' is not one configuration"
    mine = [row for row in rows if row["config"] == configs[0]]
    if not mine:
        return False, f"the matrix did not run {configs[0]}"
    failed = [row for row in mine if row["result"] == "fail"]
    if failed:
        return False, f"{configs[0]} failed {len(failed)} checks in the matrix"
    suites = {row["suite"] for row in mine}
    missing = [p for p in re.findall(r"--phase (\d+)", run) if f"phase{p}" not in suites]
    if missing or "shutdown" not in suites:
        return False, f"the matrix ran {configs[0]} without " + (f"phase {', '.join(missing)}" if missing else "its shutdown")
    named = [row for row in mine if names_it(head["Caught-by"], results.name_of(row))]
    if not named:
        return False, f"no check the header names ran in {configs[0]}"
    return True, f"{len(named)} named checks passed in the matrix's {configs[0]}"


def main(argv):
    if argv[:1] == ["check"]:
        bad = [f"{name}: {why}" for name in names() for why in problems(name)]
        print("\n".join(bad))
        return 1 if bad else 0
    if argv[:1] == ["select"]:
        all_, since, per_run, only, rest = False, DEFAULT_SINCE, 3, [], argv[1:]
        while rest:
            if rest[0] == "--all":
                all_, rest = True, rest[1:]
            elif rest[0] in ("--since", "--per-run", "--mutant") and len(rest) > 1:
                if rest[0] == "--since":
                    since = rest[1]
                elif rest[0] == "--per-run":
                    per_run = int(rest[1])
                else:
                    only.append(rest[1])
                rest = rest[2:]
            else:
                sys.exit(f"mutants.py select: bad argument {rest[0]!r}")
        for name, why in select(all_, since, per_run, only):
            print(f"{name}: {why}")
        return 0
    if len(argv) == 2 and argv[0] == "files":
        print("\n".join(changed_files(load(argv[1])[1])))
        return 0
    if len(argv) == 2 and argv[0] == "verdict":
        failed = [line.strip() for line in sys.stdin if line.strip()]
        right, message = verdict(argv[1], failed)
        print(message)
        return 0 if right else 1
    if len(argv) >= 3 and argv[0] == "baseline":
        rows = results.load(argv[1])
        usable = True
        for name in argv[2:]:
            good, why = matrix_baseline(name, rows)
            usable = usable and good
            print(f"{name}: {why}")
        return 0 if usable else 1
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
