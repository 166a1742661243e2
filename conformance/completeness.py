"""Whether a run went through every check it selected, so that no report passes off part of a run as the
whole: results.json's ``status``, from which every rendering shows an "interrupted after N of M checks"
banner (``conformance.report.model.banner``) when it did not."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from conformance import results

# pytest's exit statuses for a run that did not go through every selected check, and why.
STOPPED = {
    pytest.ExitCode.INTERRUPTED: "interrupted",
    pytest.ExitCode.INTERNAL_ERROR: "the run crashed",
}


def run_status(session: Any, exitstatus: int, why: str | None = None) -> dict[str, Any]:
    """``{"complete", "checks_run", "checks_planned"}`` and, for an incomplete run, the ``message`` every
    report shows (``why``: the reason, if not the exit status's)."""
    done = {r["nodeid"] for r in session.records}
    ran = sum(1 for nodeid in session.planned if nodeid in done)
    complete = ran == len(session.planned) and exitstatus not in STOPPED
    status: dict[str, Any] = {"complete": complete, "checks_run": ran, "checks_planned": len(session.planned)}
    if not complete:
        why = why or STOPPED.get(pytest.ExitCode(exitstatus), "stopped early (-x or --maxfail)")
        status["message"] = f"interrupted after {ran} of {len(session.planned)} checks ({why})"
    return status


def end_stuck(session: Any, seconds: float) -> None:
    """A check's candidate ignored the time limit for twice its length (a native call that never returns, or
    a candidate that took SIGALRM for itself). Called from the watchdog thread while the main thread is
    still inside the candidate: write the report marked interrupted and end the process, the one way left
    not to hang for ever."""
    why = f"a candidate did not return within {seconds:g} s and could not be interrupted"
    session.status = run_status(session, pytest.ExitCode.INTERRUPTED, why)
    try:
        session.report_paths = results.write(session, [], " ".join(sys.argv))
    finally:
        if session.capture is not None:  # the check's output is being captured: say it on the terminal
            session.capture.suspend_global_capture(in_=True)
        line = f"optim-conformance: {session.status['message']}; report: {session.report_dir}"
        print(line, file=sys.stderr)
        os._exit(pytest.ExitCode.INTERRUPTED)
