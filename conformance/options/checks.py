"""The values of the options of ``pytest conformance``, checked before anything runs.

A typo must never turn into a green run: ``--device foo``, ``--dtype float8``, ``--variant bogus`` or a
candidate that offers none of the algorithms would otherwise skip everything as "not supported" and exit 0.
Each check raises ``OptionError`` with one line naming the bad value and the valid ones; the plugin turns it
into pytest's usage error (exit status 4).
"""

from __future__ import annotations

import re
from typing import Any

from conformance.adapters import UnknownImplementation, resolve
from conformance.adapters.base import Capabilities
from conformance.options import DEFAULT_CHECK_TIMEOUT as DEFAULT_CHECK_TIMEOUT
from conformance.schemas import DEVICE_TYPES, DTYPES
from refimpl.lr_scheduler import MODULES as SCHEDULERS
from refimpl.optim import MODULES as OPTIMIZERS

# The swa_utils with checks of their own (the averaging functions are checked through AveragedModel).
SWA_CHECKED = ("AveragedModel", "SWALR", "update_bn")


class OptionError(Exception):
    """An option or candidate that cannot be run: one line naming the value and the valid ones."""


def load_candidate(impl: str) -> tuple[Any, Capabilities]:
    """The adapter ``--impl`` names and its capabilities. Whatever the candidate's own code raises while
    loading (at import, in its constructor, in ``capabilities()``) is one line naming it, not a traceback."""
    try:
        adapter = resolve(impl)
    except UnknownImplementation as e:
        raise OptionError(str(e)) from None
    except Exception as e:  # the candidate's module or constructor failed: its own bug, reported as such
        raise OptionError(f"--impl={impl}: loading the candidate raised {_first_line(e)}") from None
    try:
        capabilities = adapter.capabilities()
    except Exception as e:
        raise OptionError(f"--impl={impl}: the adapter's capabilities() raised {_first_line(e)}") from None
    if not isinstance(capabilities, Capabilities):
        raise OptionError(
            f"--impl={impl}: capabilities() returned {type(capabilities).__name__}, not "
            "conformance.adapters.Capabilities"
        )
    offered = capabilities.optimizers | capabilities.schedulers | capabilities.swa
    if not offered & {*OPTIMIZERS, *SCHEDULERS, *SWA_CHECKED}:
        raise OptionError(
            f"--impl={impl}: the candidate offers none of the optimizers or schedulers the suite checks "
            f"(declared: {_names(offered)}; checked: {_names(set(OPTIMIZERS))}, and torch's LR schedulers "
            "and swa_utils), so nothing would be tested"
        )
    return adapter, capabilities


def _first_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".splitlines()[0]


def _names(names: set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def device(value: str, capabilities: Capabilities) -> str:
    """``cpu``, ``cuda``, ``cuda:N``, or a device type the candidate declares (with or without ``:N``)."""
    types = sorted(set(DEVICE_TYPES) | set(capabilities.variants))
    match = re.fullmatch(r"([a-z_]+)(:\d+)?", value)
    if not match or match[1] not in types or (match[2] and match[1] == "cpu"):
        raise OptionError(
            f"--device {value}: unknown device; valid: {', '.join(types)}, or TYPE:N (e.g. cuda:1)"
        )
    return value


def split(values: list[str] | None) -> list[str] | None:
    """A repeatable, comma-separated option's values, in order, each once (``None``: not given)."""
    if values is None:
        return None
    out = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return list(dict.fromkeys(out))


def dtypes(values: list[str] | None, default: tuple[str, ...]) -> list[str]:
    """The chosen dtypes; ``all`` is every dtype the harness runs (float64, float32, bfloat16, float16)."""
    chosen = split(values)
    if chosen is None:
        return list(default)
    chosen = list(dict.fromkeys(d for v in chosen for d in (DTYPES if v == "all" else (v,))))
    bad = [d for d in chosen if d not in DTYPES]
    if bad or not chosen:
        raise OptionError(
            f"--dtype {','.join(bad) or '(empty)'}: unknown dtype; valid: {', '.join(DTYPES)}, all "
            "(repeat the option or separate with commas)"
        )
    return chosen


ALL_VARIANTS = "all"


def variants(values: list[str] | None, impl: str, capabilities: Capabilities) -> list[str] | None:
    """The chosen variants (``None``: every variant the candidate offers but its opt-in ones; ``["all"]``:
    every one it offers), each one the candidate declares on some device."""
    chosen = split(values)
    if chosen is None:
        return None
    if ALL_VARIANTS in chosen:
        return [ALL_VARIANTS]
    offered = sorted({v for vs in capabilities.variants.values() for v in vs})
    bad = [v for v in chosen if v not in offered]
    if bad or not chosen:
        raise OptionError(
            f"--variant {','.join(bad) or '(empty)'}: {impl} has no such variant; valid: "
            f"{', '.join(offered)}, {ALL_VARIANTS}"
        )
    return chosen


def selected(chosen: list[str] | None, offered: list[str], capabilities: Capabilities) -> list[str]:
    """The variants to run of a class that offers ``offered``: those ``--variant`` names (``chosen``; one the
    class lacks is then reported "not supported"), every one offered for ``all``, and without the option
    every one offered but the candidate's opt-in variants."""
    if chosen is None:
        return [v for v in offered if v not in capabilities.opt_in]
    return list(offered) if chosen == [ALL_VARIANTS] else list(chosen)


def check_timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise OptionError(
            f"--check-timeout {value}: not a number of seconds; give a positive number, or 0 for no limit"
        )
    return seconds
