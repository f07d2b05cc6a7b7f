"""Fail when any engine or fault test was skipped: under CI they must run for real."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

GATED = ("tests.engine.", "tests.faults.")


def main(report: str) -> int:
    skipped = [f"{case.get('classname')}::{case.get('name')}: {skip.get('message', '')}"
               for case in ET.parse(report).iter("testcase") for skip in case.findall("skipped")
               if (case.get("classname") or "").startswith(GATED)]
    for line in skipped:
        print(f"ci: skipped engine test: {line}", file=sys.stderr)
    if skipped:
        print(f"ci: {len(skipped)} engine or fault test(s) skipped; under CI they must run", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
