#!/usr/bin/env python3
"""Prints one closing line for a meson test log: checks passed and failed.

A test that ran a Check suite counts its individual checks ("Checks: N, Failures: F,
Errors: E"); any other test counts as one. The last line is "checks: N passed, M failed".
"""
import json
import re
import sys

CHECK = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")


def main(path):
    passed = failed = tests = 0
    with open(path, encoding="utf-8") as log:
        for line in log:
            rec = json.loads(line)
            tests += 1
            ok = rec.get("result") == "OK"
            found = CHECK.findall(rec.get("stdout", "") or "")
            if found and ok:
                for n, f, e in found:
                    passed += int(n) - int(f) - int(e)
                    failed += int(f) + int(e)
            elif found:
                for n, f, e in found:
                    passed += int(n) - int(f) - int(e)
                    failed += max(1, int(f) + int(e))
            elif ok:
                passed += 1
            else:
                failed += 1
    print(f"{tests} meson tests")
    print(f"checks: {passed} passed, {failed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
