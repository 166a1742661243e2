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

from conformance import __version__, spec_notes
from conformance.paths import display, scrub
from conformance.repro import reproduction, vectors_arg
from conformance.swa import KIND_CHECKS, SWA_CHECKS

OUTCOME_ORDER = ("passed", "failed", "xfailed", "xpassed", "unsupported", "skipped", "error")
# The words of pytest's own summary line (``conformance.plugin.PYTEST_WORDS``): every total reads the same.
# The terminal lists this many "not supported" reasons, most frequent first.
NOT_SUPPORTED_SHOWN = 8
OUTCOME_WORDS = {"unsupported": "not supported", "error": "error (of the suite)"}


def failure_message(
    session: Any, case: Any, param: Any, check: str, *, result: Any = None, error: str = ""
) -> str:
    """Names the case and the vector file, gives the metrics, and ends with a pasteable reproduction.

    Scheduler cases (``kind == "scheduler"``) name the scheduler, count epochs from 0 (right after
    construction) and have no dtype or variant.
    """
    where = f"{param.case} ({display(session.vectors.directory / session.vectors.case_file[param.case])})"
    key = subject_key(case.meta)
    units = {"scheduler": "epoch", "swa": SWA_CHECKS.get(check, (None, "step"))[1]}
    subject, unit = case.meta[key], units.get(key, "step")
    lines = [f"{subject} does not conform: {where}", f"  what it checks: {case.meta['why']}"]
    how = (f"in {param.dtype} " if param.dtype else "") + f"on {param.device}"
    how += f", variant {param.variant}" if param.variant else ""
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
        lines += [f"  {line}" for line in [*result.details, *result.notes]]
    lines.append("  reproduce:")
    lines += [
        "    " + line
        for line in reproduction(
            session.impl, session.adapter, case, param, check, first, vectors_arg(session.vectors.directory)
        ).splitlines()
    ]
    return "\n".join(lines)


def subject_key(meta: dict[str, Any]) -> str:
    """The key of a case's description that names what it tests: ``scheduler`` for a scheduler case (its
    optimizer only drives it), ``swa`` for an AveragedModel or update_bn case, else ``optimizer``."""
    kind = meta.get("kind", "optimizer")
    return "scheduler" if kind == "scheduler" else "swa" if kind in KIND_CHECKS else "optimizer"


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
        "package_version": __version__,
        "vectors": display(session.vectors.directory),
        # the run's --vectors (None: the packaged vectors), for the report's fallback replay lines
        "vectors_option": vectors_arg(session.vectors.directory),
        "vectors_format_version": session.vectors.manifest.get("format_version"),
        "vectors_manifest_sha256": session.vectors.digest,
        "vectors_torch_version": session.vectors.manifest.get("torch_version"),
        "known_deviations_file": display(session.deviations_file) if session.deviations_file else None,
        "command": command,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if session.impl != "torch" and callable(own := getattr(session.adapter, "torch_own", None)):
        # the classes a torch:MODULE candidate re-exports from torch: the matrix marks their verdict torch's
        offered = session.adapter.capabilities()
        env["torch_own"] = sorted(n for n in offered.optimizers | offered.schedulers if own(n))
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
    """``results.json`` and the reports rendered from it. Everything is rendered before anything is written,
    then each file is renamed into place: an interruption while rendering (seconds, with charts) leaves the
    previous set whole, never a new results.json beside an old summary."""
    from conformance.report import render_reports

    data = {
        "format_version": 1,
        # complete, or "interrupted after N of M checks": every report shows which (report.model.banner)
        "status": session.status,
        "environment": environment(session, command),
        "records": session.records,
        "unmatched_deviations": [
            {"test": d.test, "reason": d.reason, "upstream": d.upstream} for d in unmatched
        ],
        "spec_notes": [note.to_dict() for note in spec_notes.load()],
    }
    if getattr(session, "bench", None):
        data["bench"] = session.bench
    # Messages can quote paths (a traceback, an adapter's error): none of this machine's reaches the report.
    text = scrub(json.dumps(data, indent=1, default=_jsonable)) + "\n"
    # Rendered from the JSON as written, exactly as `optconf report` re-renders it later.
    files = {"results.json": text, **render_reports(json.loads(text))}
    for name, content in files.items():
        write_atomic(session.report_dir / name, content)
    return [session.report_dir / name for name in files]


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)


def summary_lines(session: Any) -> list[str]:
    counts = Counter(r["outcome"] for r in session.records)
    total = sum(counts.values())
    parts = [f"{counts[o]} {OUTCOME_WORDS.get(o, o)}" for o in OUTCOME_ORDER if counts[o]]
    lines = [f"optim-conformance: {session.impl}: {', '.join(parts)} (of {total} checks)"]
    if session.status and not session.status["complete"]:
        lines.insert(0, f"INCOMPLETE: {session.status['message']}; the report says so")
    lines += session.notes
    unmatched = [d for d in session.deviations if d.unused]
    for d in unmatched:
        lines.append(f"known deviation matched no test: {d.test or d.classes or d.options} ({d.upstream})")
    reasons = Counter(r.get("unsupported") for r in session.records if r["outcome"] == "unsupported")
    for reason, n in reasons.most_common(NOT_SUPPORTED_SHOWN):
        lines.append(f"  {n} x {reason}")
    if len(reasons) > NOT_SUPPORTED_SHOWN:
        lines.append(
            f"  ... and {len(reasons) - NOT_SUPPORTED_SHOWN} more reasons (summary.md lists them all)"
        )
    not_comparable = sum(1 for r in session.records if r.get("notes"))
    if not_comparable:
        lines.append(f"{not_comparable} checks compared params only (their records' notes say why)")
    if getattr(session, "bench", None):
        from conformance.report.speed import speed_lines

        lines += speed_lines(session.bench)
    lines.append(f"report: {', '.join(str(p) for p in session.report_paths)}")
    return lines
