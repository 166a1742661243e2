"""Run ``pytest conformance ...`` from the project's tests, in process, as a user would from the shell."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def conformance(
    impl: str,
    select: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
    plugins: Sequence[object] = (),
) -> tuple[int, str]:
    """``pytest conformance --impl=IMPL -k SELECT`` in this process (as pytest's own ``inline_run`` does):
    a fresh session each time, without paying for a new interpreter and torch import per mutant."""
    args = ["conformance", f"--impl={impl}", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT)]
    args += ["--report-dir", str(tmp_path / "report"), "-k", select, *extra]
    capsys.readouterr()
    code = run_in_root(args, plugins)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def run_in_root(args: list[str], plugins: Sequence[object] = ()) -> int:
    """``pytest ARGS`` in this process, from the repository root (where ``conformance`` and vectors are),
    with ``plugins`` (objects with pytest hooks) registered for the run."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return int(pytest.main(args, plugins=list(plugins)))
    finally:
        os.chdir(cwd)
