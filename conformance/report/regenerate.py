"""``optconf report --all``: rerun every library's committed report, rebuild the matrix; installs nothing.

For each candidate of ``CANDIDATES`` whose library is importable here, runs ``python -m pytest conformance
--impl=IMPL --report-dir OUT/<library>-<version>`` (a subprocess, as a user runs it) and then ``optconf
report --matrix`` over every ``OUT/*/results.json``. A library that is not installed is named and skipped:
installing is the caller's job (``pip install 'optim-conformance[optax,keras]'``), so the command never
changes the environment it reports on.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@dataclass(frozen=True)
class Candidate:
    impl: str  # --impl
    module: str  # what must be importable
    dist: str  # the distribution whose version names the folder
    folder: str  # "<library>-{version}"
    extra: tuple[str, ...] = ()  # more pytest arguments


CANDIDATES = (
    Candidate("torch", "torch", "torch", "torch-{version}-cpu", ("--bench",)),
    Candidate("optax", "optax", "optax", "optax-{version}"),
    Candidate("keras", "keras", "keras", "keras-{version}"),
    Candidate(
        "torch:pytorch_optimizer", "pytorch_optimizer", "pytorch-optimizer", "pytorch-optimizer-{version}"
    ),
    Candidate("torch:optimi", "optimi", "torch-optimi", "torch-optimi-{version}"),
)


def _version(dist: str) -> str | None:
    try:
        v = version(dist)
    except PackageNotFoundError:
        return None
    # torch's local tag (+cpu) and patch level do not name a different report: "2.13.0+cpu" -> "2.13"
    return ".".join(v.split("+")[0].split(".")[:2]) if dist == "torch" else v


def regenerate(out: Path, only: list[str] | None = None) -> int:
    """Run each installed candidate into ``out`` and rebuild the matrix; the exit status is 0 when every run
    that ran passed (its known deviations included) and the matrix was written."""
    from conformance.report.matrix import write_matrix

    status = 0
    for c in CANDIDATES:
        if only and c.impl not in only:
            continue
        v = _version(c.dist)
        if v is None or importlib.util.find_spec(c.module) is None:
            print(f"skipped {c.impl}: {c.dist} is not installed (optim-conformance[{c.dist}])", flush=True)
            continue
        folder = out / c.folder.format(version=v)
        command = [
            sys.executable,
            "-m",
            "pytest",
            "conformance",
            f"--impl={c.impl}",
            f"--report-dir={folder}",
        ]
        command += [*c.extra, "-q", "-p", "no:cacheprovider"]
        print("running", " ".join(command), flush=True)
        start = time.perf_counter()
        code = subprocess.call(command)
        print(f"{c.impl}: exit status {code} in {time.perf_counter() - start:.0f} s", flush=True)
        status = status or code
    runs = sorted(out.glob("*/results.json"))
    if runs:
        for path in write_matrix(runs, out):
            print(f"wrote {path}")
    return status
