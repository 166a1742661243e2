"""The ``pytest11`` entry point: the suite's command-line options, and the switch that loads the plugin.

Installed, optim-conformance is a plugin of *every* pytest session in its environment, the user's own
unrelated tests included; those must run exactly as before. So this module only registers options, and the
plugin proper (``conformance.plugin``: vectors, candidate, report) is loaded only when conformance tests are
in play: an option of ours is on the command line, the arguments name the ``conformance`` package, or its
tests are collected (its ``conftest.py`` then loads it).

Option names such as ``--device`` and ``--dtype`` are common in ML projects' own ``conftest.py``. Each option
has a long name that cannot clash (``--conformance-device``) and a short one (``--device``) that is added
only when no other plugin or initial conftest has taken it, so installing the suite never breaks a user's
command line. The code reads options by their ``conformance_*`` destination, never by the short name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

# How long one check may keep the candidate busy before it fails as hung. The slowest vector check of a full
# `--impl=torch` run took 6 s on the 2-core development machine shared with other jobs (load average 12;
# property tests take up to 16 s there, but the limit applies to each of their examples, milliseconds each),
# and a candidate compiling its kernels on first use (Triton, XLA) may spend tens of seconds in its first
# check. 300 s is 50 times the slowest check and still turns a hung run into one failed check and a report
# within minutes. `--check-timeout 0` disables it (a debugger session).
DEFAULT_CHECK_TIMEOUT = 300.0
CORE = "optim_conformance.core"
# (short name, help, extra addoption arguments); the long name is --conformance-<short name without -->.
OPTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("--impl", "candidate: torch (default), refimpl, torch:MODULE, MODULE:ATTR or a registered name", {}),
    ("--device", "cpu (default), cuda, cuda:N", {}),
    (
        "--dtype",
        "float64, float32 (default both); bfloat16, float16 on request; all: the four; repeatable or "
        "comma-separated",
        {"action": "append"},
    ),
    (
        "--variant",
        "forloop, foreach, fused (default: all supported); differentiable, compile, capturable on request; "
        "all: every one; repeatable or comma-separated",
        {"action": "append"},
    ),
    ("--vectors", "vectors directory (default: the golden vectors shipped in the package)", {}),
    ("--report-dir", "where results.json and the reports go (default: reports/latest)", {}),
    (
        "--known-deviations",
        "TOML file of known deviations (default: the package's known_deviations/<impl>.toml if present)",
        {},
    ),
    (
        "--check-timeout",
        f"seconds a check (a property example) may keep the candidate busy before it fails as hung "
        f"(default {DEFAULT_CHECK_TIMEOUT:g}; 0: no limit)",
        {},
    ),
    ("--world-size", "ranks of a distributed candidate (torch-zero, torch-fsdp); default 2", {"type": int}),
    (
        "--dist-timeout",
        "seconds a rank may take to answer one command before it counts as hung (default 60, or "
        "--check-timeout where given)",
        {"type": float},
    ),
    ("--bench", "also time step() per optimizer x variant x size", {"action": "store_true"}),
    ("--bench-sizes", "TOTAL (one tensor) or TOTAL/COUNT (over COUNT tensors), comma-separated", {}),
    ("--bench-repeats", "timed samples per row (default 5)", {"type": int}),
    ("--bench-dtype", "dtype of the benchmark (default: float32)", {}),
    ("--bench-threads", "CPU threads for torch while timing; 0: torch's default (default: 1)", {"type": int}),
)


def dest(short: str) -> str:
    """The destination an option is read by: ``--report-dir`` -> ``conformance_report_dir``."""
    return "conformance_" + short.lstrip("-").replace("-", "_")


def option(config: pytest.Config, short: str, default: Any = None) -> Any:
    """The value of one of our options (``default`` when not given on the command line)."""
    value = config.getoption(dest(short), None)
    return default if value is None else value


def _taken(parser: pytest.Parser) -> set[str]:
    names: set[str] = set()
    for group in [parser._anonymous, *parser._groups]:
        for opt in group.options:
            names.update(opt.names())
    return names


def add_options(parser: pytest.Parser) -> None:
    """Register the options; a short name another plugin or conftest already has stays theirs."""
    taken = _taken(parser)
    group = parser.getgroup("optim-conformance", "optim-conformance (pytest --pyargs conformance)")
    for short, help_text, extra in OPTIONS:
        names = [f"--conformance-{short[2:]}"] + ([short] if short not in taken else [])
        group.addoption(*names, dest=dest(short), default=None, help=help_text, **extra)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> Any:
    """Register the options once the initial conftests have registered theirs, so that a short name they
    use stays theirs (pytest parses the full command line only after this hook)."""
    result = yield
    add_options(parser)
    return result


def _explicit(config: pytest.Config) -> bool:
    """Whether any option of ours is on the command line."""
    return any(config.getoption(dest(short), None) is not None for short, _, _ in OPTIONS)


def _names_package(config: pytest.Config) -> bool:
    """Whether the run's arguments point into the ``conformance`` package (``--pyargs conformance...`` or a
    path inside it)."""
    package = Path(__file__).resolve().parent
    for arg in config.args:
        target = arg.split("::")[0]
        if config.option.pyargs and target.split(".")[0].split("/")[0] == package.name:
            return True
        path = (config.invocation_params.dir / target).resolve()
        if path == package or package in path.parents:
            return True
    return False


def activate(config: pytest.Config) -> None:
    """Load the plugin proper (idempotent). Its ``pytest_configure`` resolves the candidate and checks the
    vectors; a bad option is then a usage error (exit code 4) when it happens before collection."""
    if config.pluginmanager.has_plugin(CORE):
        return
    from conformance import plugin

    config.pluginmanager.register(plugin, CORE)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # tryfirst: before Hypothesis' plugin loads the profile --hypothesis-profile names (ours are registered
    # by the plugin proper).
    if _explicit(config) or _names_package(config):
        activate(config)
