"""``optconf``: the command line. ``optconf vectors generate|verify|list``, ``optconf report``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from conformance import __version__
from conformance.catalogue import optimizer_cases, scheduler_cases, swa_cases
from conformance.report.command import add_report_command
from conformance.vectors import DEFAULT_DIR, FORMAT_VERSION


def _generate(args: argparse.Namespace) -> int:
    from conformance.generate import all_files, versions
    from conformance.vectors import write_atomically

    start = time.perf_counter()
    cases, schedules, swa = optimizer_cases(), scheduler_cases(), swa_cases()
    files = all_files(cases, schedules, swa)
    size = write_atomically(Path(args.dir), files, versions())
    elapsed = time.perf_counter() - start
    print(
        f"wrote {len(cases)} optimizer, {len(schedules)} scheduler and {len(swa)} swa_utils cases in "
        f"{len(files)} files to ",
        end="",
    )
    print(f"{args.dir}: ", end="")
    print(f"{size / 1e6:.2f} MB in {elapsed:.1f} s")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from conformance.vectors import recover
    from conformance.verify import verify

    if recover(Path(args.dir)):
        print(f"{args.dir}: put back the vectors an interrupted generation had set aside", file=sys.stderr)
    problems = verify(Path(args.dir))
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(f"vectors in {args.dir}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"vectors in {args.dir}: intact and reproduced by the reference")
    return 0


def _list(args: argparse.Namespace) -> int:
    """The cases stored in ``--dir`` (what a run against those vectors checks), not the catalogue's."""
    from conformance.vectors import VectorError, Vectors

    try:
        vectors = Vectors(args.dir)
        cases = [vectors.describe(c) for c in vectors.case_ids() if args.filter in c]
    except VectorError as e:
        print(f"optconf vectors list: {e}", file=sys.stderr)
        return 1
    for case in cases:
        print(f"{case['id']}\n    observes: {', '.join(case['observes'])}\n    why: {case['why']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="optconf", description=__doc__)
    parser.add_argument(
        "--version",
        action="version",
        version=f"optconf {__version__} (optim-conformance; reads vectors format {FORMAT_VERSION})",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    vectors = commands.add_parser("vectors", help="golden vectors: generate, verify, list")
    actions = vectors.add_subparsers(dest="action", required=True)
    for name, func, help_text in (
        ("generate", _generate, "regenerate the vectors from the reference (atomically)"),
        ("verify", _verify, "check hashes and that a fresh generation reproduces the stored values"),
        ("list", _list, "list cases and what each makes observable"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument(
            "--dir", default=str(DEFAULT_DIR), help="vectors directory (default: %(default)s)"
        )
        action.set_defaults(func=func)
        if name == "list":
            action.add_argument("filter", nargs="?", default="", help="show only case ids containing this")
    add_report_command(commands)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
