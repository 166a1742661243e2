"""``pytest conformance -n 2`` (pytest-xdist) writes exactly the serial run's records and one report."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from run_conformance import ROOT

pytest.importorskip("torch")
pytest.importorskip("xdist")

# Small but varied: vector checks (trajectory, single step) in every variant, and RAdam's property
# tests (per-test seeds), the foreach one a known deviation (a non-strict xfail).
SELECT = "radam and float32"
# What may differ between two runs of the same tests: wall-clock timings.
TIMINGS = {"seconds", "step_median_s"}


def _run(report: os.PathLike[str], *extra: str) -> dict:
    command = [sys.executable, "-m", "pytest", "conformance", "--impl=torch", "-q", "-p", "no:cacheprovider"]
    command += ["--rootdir", str(ROOT), "-k", SELECT, "--report-dir", str(report), *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((report / "results.json").read_text())


def test_two_workers_write_the_serial_runs_records_and_one_report(tmp_path):
    serial = _run(tmp_path / "serial")
    parallel = _run(tmp_path / "parallel", "-n", "2")
    # Workers leave no report of their own: the folder holds the controller's three files, and the record
    # of the command is the controller's (a worker writing last would leave its own argv).
    assert sorted(p.name for p in (tmp_path / "parallel").iterdir()) == [
        "index.html",
        "results.json",
        "summary.md",
    ]
    assert "-n 2" in parallel["environment"]["command"]
    mine, theirs = serial["records"], parallel["records"]
    assert [r["nodeid"] for r in theirs] == [r["nodeid"] for r in mine]  # all of them, in the same order
    for a, b in zip(mine, theirs):
        assert {k: v for k, v in b.items() if k not in TIMINGS} == {
            k: v for k, v in a.items() if k not in TIMINGS
        }, a["nodeid"]
    outcomes = {r["outcome"] for r in mine}
    assert {"passed"} < outcomes, outcomes  # the selection has more than passes to compare
    assert any(r.get("layer") == "property" for r in mine)
    assert parallel["unmatched_deviations"] == serial["unmatched_deviations"]
