#!/usr/bin/env python3
"""Grades one run of the MCP conformance suite against a requirement set and an expected-failures
file (used by scripts/conformance.sh).

    grade.py --output SUITE-STDOUT --requirements REQ.yaml --baseline BASELINE.yml \
             --leg client|server --label TEXT --exit-code N [--seconds S]

Reads the suite's summary lines (`✓ name: …` / `✗ name: …`), the requirement set's scenarios for
this leg (scored, and `not_scored`), and the baseline's entries for this leg. Checks, beyond the
suite's own baseline verdict (its exit code, which covers per-check entries too):
  - every scenario the set names for this leg was run;
  - a scenario listed whole in the baseline fails (listed but passing: stale, remove the line),
    scored or not, so an extension scenario leaves the file when the issue that brings it lands;
  - a not-scored scenario that fails is listed (the suite never fails a run for those).
Prints one `ok - …` or `not ok - …` line with the counts, and the reasons; exits 1 on any problem.
"""
import argparse
import re
import sys


def yaml_lists(path):
    """The two-level lists of the suite's simple YAML files: {section: [item, ...]}; a
    `- scenario: X` item with a following `leg: Y` becomes (X, Y)."""
    sections, section, item = {}, None, None
    for raw in open(path, encoding="utf-8"):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        top = re.match(r"^([A-Za-z_]+):\s*$", line)
        if top:
            section = top.group(1)
            sections[section] = []
            continue
        entry = re.match(r"^\s*-\s+(?:scenario:\s*)?(\S+)\s*$", line)
        if entry and section:
            item = [entry.group(1), None]
            sections[section].append(item)
            continue
        leg = re.match(r"^\s+leg:\s*(\S+)\s*$", line)
        if leg and item is not None:
            item[1] = leg.group(1)
    return sections


def main():
    ap = argparse.ArgumentParser()
    for name in ("output", "requirements", "baseline", "leg", "label"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--exit-code", type=int, required=True)
    ap.add_argument("--seconds", type=int, default=None)
    a = ap.parse_args()

    results = {}
    for line in open(a.output, encoding="utf-8", errors="replace"):
        m = re.match(r"^\s*([✓✗])\s+(\S+):\s+\d+ passed", re.sub(r"\x1b\[[0-9;]*m", "", line))
        if m:
            results[m.group(2)] = m.group(1) == "✓"
    req = yaml_lists(a.requirements)
    scored = [s for s, _ in req.get(a.leg, [])]
    not_scored = [s for s, leg in req.get("not_scored", []) if leg == a.leg]
    entries = [s for s, _ in yaml_lists(a.baseline).get(a.leg, [])]
    whole = {e for e in entries if ":" not in e}
    per_check = {e.split(":", 1)[0] for e in entries if ":" in e}

    problems = []
    if a.exit_code != 0:
        problems.append(f"the suite's baseline verdict failed (exit {a.exit_code}): its summary follows")
    for s in scored + not_scored:
        if s not in results:
            problems.append(f"{s}: named by the requirement set but not run")
    for s in sorted(whole):
        if results.get(s) is True:
            problems.append(f"{s}: passes but is listed in {a.baseline}: remove the line")
        elif s not in results:
            problems.append(f"{s}: listed in {a.baseline} but not run by this set")
    for s in not_scored:
        if results.get(s) is False and s not in whole and s not in per_check:
            problems.append(f"{s} (not scored): fails and is not listed in {a.baseline}")

    def count(names):
        run = [s for s in names if s in results]
        return len(run), sum(results[s] for s in run)

    n_req, ok_req = count(scored)
    n_ns, ok_ns = count(not_scored)
    partial = sorted(s for s in per_check if results.get(s) is False)
    text = (f"{a.label}: {ok_req} of {len(scored)} required scenarios pass, "
            f"{n_req - ok_req} expected failures"
            + (f" (of which {len(partial)} for listed checks only: {', '.join(partial)})" if partial else "")
            + f"; not scored: {ok_ns} of {len(not_scored)} pass, {n_ns - ok_ns} expected failures"
            + (f" ({a.seconds} s)" if a.seconds is not None else ""))
    if problems:
        print(f"not ok - {text}")
        for p in problems:
            print(f"#   {p}")
        return 1
    print(f"ok - {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
