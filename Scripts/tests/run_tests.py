#!/usr/bin/env python3
"""Runs the Python tests of Scripts/ (stdlib unittest) and prints one count line.

  python3 Scripts/tests/run_tests.py [--only test_x.py ...] [--exclude test_x.py ...] [--counts FILE]
The last line is 'python: N passed, N failed, N skipped'; --counts writes the same numbers as
JSON for Scripts/test.sh. Exit 0 only when nothing failed and at least one test ran.
"""
import argparse
import json
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--exclude", nargs="*", default=[])
    ap.add_argument("--counts")
    ap.add_argument("--label", default="python")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    files = sorted(p.name for p in HERE.glob("test_*.py"))
    if args.only is not None:
        files = [f for f in files if f in args.only]
    files = [f for f in files if f not in args.exclude]
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(loader.loadTestsFromName(f[:-3]) for f in files)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    counts = {"passed": passed, "failed": failed, "skipped": skipped,
              "skip_reasons": sorted({reason for _, reason in result.skipped})}
    if args.counts:
        Path(args.counts).write_text(json.dumps(counts))
    print(f"{args.label}: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
