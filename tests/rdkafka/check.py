"""Checks a librdkafka test-runner report (TEST_REPORT json) against a list of test names
(one per line, from tests.txt): every listed test must have PASSED. A test that was skipped (the suite skips what the broker version or the
configuration rules out, and "passes" nothing), failed, or never finished is a failure.

Usage: check.py <names.txt> <report.json>"""

import re
import sys
from pathlib import Path

# The runner writes its report with printf, and a test's "extra" text is not JSON-escaped,
# so the name/state pairs are read with a pattern rather than a JSON parser.
ENTRY = re.compile(r'"name": "([^"]+)", "state": "([A-Z_]+)"')


def listed(path):
    names = []
    for line in Path(path).read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(name)
    return names


def main(tests_file, report_file):
    names = listed(tests_file)
    try:
        states = dict(ENTRY.findall(Path(report_file).read_text(errors="replace")))
    except OSError as e:
        print(f"no test report ({e}): the runner did not finish", file=sys.stderr)
        return 1
    bad = [(n, states.get(n, "NOT IN REPORT")) for n in names if states.get(n) != "PASSED"]
    passed = len(names) - len(bad)
    print(f"== librdkafka suite: {passed} of {len(names)} listed tests passed")
    for name, state in bad:
        print(f"   {name}: {state}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
