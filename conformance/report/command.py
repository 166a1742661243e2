"""``optconf report``: re-render a run's report from its ``results.json``, or compare two runs.

- ``optconf report RESULTS.json [--out DIR]`` writes ``summary.md`` and ``index.html`` into DIR (default:
  the folder of RESULTS.json).
- ``optconf report --diff A.json B.json [--factor 10] [--speed-factor 1.25] [--out FILE]`` prints what
  changed from A to B as markdown (and writes it to FILE); exit status 1 when a check regressed (a pass
  that no longer passes, or a divergence grown by more than the factor) or lost coverage (a pass in A that B
  did not run: not supported, skipped or absent; ``--allow-coverage-loss`` accepts that), 0 otherwise.
- ``optconf report --all [--out DIR] [--only IMPL...]`` reruns the committed reports of every installed
  library (:mod:`conformance.report.regenerate`; it installs nothing) and rebuilds the matrix.
- ``optconf report --matrix RUN/results.json... [--out DIR]`` writes the cross-library matrix
  (``README.md``, ``index.html``; :mod:`conformance.report.matrix`) into DIR (default: the folder above the
  first run's folder, ``reports/`` for ``reports/*/results.json``).

A results file that cannot be read gets one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from conformance.report.diff import DEFAULT_FACTOR, DEFAULT_SPEED_FACTOR


def add_report_command(commands: Any) -> None:
    """Register ``report`` on ``optconf``'s subcommands."""
    report = commands.add_parser("report", help="re-render a run's report, or compare two runs (--diff)")
    report.add_argument("results", nargs="?", help="the results.json to render")
    report.add_argument("--diff", nargs=2, metavar=("A.json", "B.json"), help="compare run A with run B")
    report.add_argument(
        "--matrix", nargs="+", metavar="RESULTS.json", help="the cross-library matrix of these runs"
    )
    report.add_argument(
        "--all", action="store_true", help="rerun each installed library's report into --out, then the matrix"
    )
    report.add_argument("--only", nargs="+", metavar="IMPL", help="with --all: these candidates only")
    report.add_argument(
        "--out",
        help="folder for summary.md and index.html (default: beside RESULTS.json); with --diff, a file",
    )
    report.add_argument(
        "--factor",
        type=float,
        default=DEFAULT_FACTOR,
        help="a divergence counts as grown beyond this ratio (default: %(default)g)",
    )
    report.add_argument(
        "--speed-factor",
        type=float,
        default=DEFAULT_SPEED_FACTOR,
        help="flag a step time that changed by more than this ratio (default: %(default)g)",
    )
    report.add_argument(
        "--allow-coverage-loss",
        action="store_true",
        help="with --diff: checks that passed in A and were not run in B do not fail the comparison",
    )
    report.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from conformance.report import ResultsError, load_results, write_reports
    from conformance.report.diff import compare, render
    from conformance.results import write_atomic

    if args.matrix:
        return _matrix(args)
    if args.all:
        from conformance.report.regenerate import regenerate

        return regenerate(Path(args.out or "reports"), args.only)
    if bool(args.diff) == bool(args.results):
        print(
            "optconf report: give either RESULTS.json, --diff A.json B.json or --matrix RESULTS.json...",
            file=sys.stderr,
        )
        return 2
    if args.factor <= 1 or args.speed_factor <= 1:
        print("optconf report: --factor and --speed-factor must be greater than 1", file=sys.stderr)
        return 2
    try:
        if args.diff:
            a, b = (load_results(p) for p in args.diff)
        else:
            data = load_results(args.results)
    except ResultsError as e:
        print(f"optconf report: {e}", file=sys.stderr)
        return 2
    try:
        if args.diff:
            diff = compare(a, b, args.factor, args.speed_factor)
            text = render(diff, a, b)
            print(text, end="")
            if args.out:
                write_atomic(Path(args.out), text)
            return 1 if diff.regressions or (diff.coverage_lost and not args.allow_coverage_loss) else 0
        out = Path(args.out) if args.out else Path(args.results).parent
        for path in write_reports(data, out):
            print(f"wrote {path}")
    except OSError as e:
        print(f"optconf report: cannot write {args.out or out} ({e.strerror or e})", file=sys.stderr)
        return 2
    return 0


def _matrix(args: argparse.Namespace) -> int:
    from conformance.report import ResultsError
    from conformance.report.matrix import write_matrix

    if args.results or args.diff:
        print("optconf report: --matrix takes the results files; give no other RESULTS.json", file=sys.stderr)
        return 2
    try:
        paths = write_matrix(args.matrix, Path(args.out) if args.out else None)
    except ResultsError as e:
        print(f"optconf report: {e}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
    return 0
