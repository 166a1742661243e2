"""What a conformance run tells: failure messages with reproductions, ``results.json``, and the summary.

``results.json`` is the machine-readable record every report is rendered from: one record per test
(outcome, metrics, timing) plus the environment (candidate and version, torch/numpy versions, device,
dtypes, variants, command line).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from conformance.repro import reproduction

OUTCOME_ORDER = ("passed", "failed", "xfailed", "xpassed", "unsupported", "skipped")


def failure_message(
    session: Any, case: Any, param: Any, check: str, *, result: Any = None, error: str = ""
) -> str:
    """Names the case and the vector file, gives the metrics, and ends with a pasteable reproduction.

    Scheduler cases (``kind == "scheduler"``) name the scheduler, count epochs from 0 (right after
    construction) and have no dtype or variant.
    """
    where = f"{param.case} ({session.vectors.directory / session.vectors.case_file[param.case]})"
    schedule = case.meta.get("kind") == "scheduler"
    subject, unit = (case.meta["scheduler"], "epoch") if schedule else (case.meta["optimizer"], "step")
    lines = [f"{subject} does not conform: {where}", f"  what it checks: {case.meta['why']}"]
    how = (
        f"in {param.dtype} on {param.device}, variant {param.variant}"
        if not schedule
        else f"on {param.device}"
    )
    lines.append(f"  run: {check} {how}")
    if error:
        lines.append(f"  {error}")
        first = None
    else:
        d = result.divergence
        first = d.first_bad_step
        tolerance = (
            max(result.rtol) if first is None or check != "test_trajectory" else result.rtol[first - 1]
        )
        lines.append(f"  first {unit} beyond tolerance: {first} (tolerance there {tolerance:.3g})")
        lines.append(
            f"  max rel error {d.max_rel:.3g} (at {unit} {d.worst_step}), max abs error {d.max_abs:.3g}, "
            f"max {d.max_ulp:.3g} ULPs of {param.dtype or 'float64'}"
            + (", NON-FINITE values" if d.non_finite else "")
        )
        lines += [f"  {line}" for line in result.details]
    lines.append("  reproduce:")
    lines += [
        "    " + line
        for line in reproduction(session.impl, session.adapter, case, param, check, first).splitlines()
    ]
    return "\n".join(lines)


def environment(session: Any, command: str) -> dict[str, Any]:
    env: dict[str, Any] = {
        "candidate": session.impl,
        "candidate_version": session.adapter.version(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": session.device,
        "device_name": platform.processor() or platform.machine(),
        "dtypes": session.dtypes,
        "variants": session.variants or "all supported",
        "vectors": str(session.vectors.directory),
        "vectors_torch_version": session.vectors.manifest.get("torch_version"),
        "known_deviations_file": str(session.deviations_file) if session.deviations_file else None,
        "command": command,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if describe := getattr(session.adapter, "environment", None):
        env["distributed"] = describe()  # world size, backend, sharding: the report's distributed section
    try:
        import torch

        env["torch"] = torch.__version__
        if session.device.startswith("cuda") and torch.cuda.is_available():
            env["device_name"] = torch.cuda.get_device_name(torch.device(session.device))
    except ImportError:
        env["torch"] = None
    return env


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary sibling and rename: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.fchmod(fd, 0o644)  # mkstemp makes it private; a report is for everyone who can read the folder
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write(session: Any, unmatched: list[Any], command: str) -> list[Path]:
    from conformance.report import write_reports

    data = {
        "format_version": 1,
        "environment": environment(session, command),
        "records": session.records,
        "unmatched_deviations": [
            {"test": d.test, "reason": d.reason, "upstream": d.upstream} for d in unmatched
        ],
    }
    if getattr(session, "bench", None):
        data["bench"] = session.bench
    out = session.report_dir
    write_atomic(out / "results.json", json.dumps(data, indent=1, default=_jsonable) + "\n")
    # Rendered from the JSON as written, exactly as `optconf report` re-renders it later.
    return [out / "results.json", *write_reports(json.loads((out / "results.json").read_text()), out)]


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)


def summary_lines(session: Any) -> list[str]:
    counts = Counter(r["outcome"] for r in session.records)
    total = sum(counts.values())
    parts = [f"{counts[o]} {o}" for o in OUTCOME_ORDER if counts[o]]
    lines = [f"optim-conformance: {session.impl}: {', '.join(parts)} (of {total} checks)"]
    unmatched = [d for d in session.deviations if d.unused]
    for d in unmatched:
        lines.append(f"known deviation matched no test: {d.test} ({d.upstream})")
    if getattr(session, "bench", None):
        from conformance.report.speed import speed_lines

        lines += speed_lines(session.bench)
    lines.append(f"report: {', '.join(str(p) for p in getattr(session, 'report_paths', []))}")
    return lines
