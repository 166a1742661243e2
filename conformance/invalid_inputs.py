"""Invalid constructor arguments, derived from the reference's validation tables (``refimpl.optim.*.TABLE``).

The error catalogue of the conformance suite (``conformance/test_api.py``) and the project's differential
tests (``tests/``) both walk the same tables through these functions, so the invalid inputs are defined once,
next to nothing but the ranges they violate. The expected exception is never written here: it is whatever
the reference raises for the same arguments.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

# Values tried, one or two arguments at a time, to break a multi-argument ``Rule``, by the type of the
# argument's default: a flag switched, a number at zero or one, a name that is not one of the accepted ones
# (tuples: each float element as an int, see ``_probes``).
NUMBER_PROBES: tuple[float, ...] = (0.0, 1.0, 0.5)
NAME_PROBE = "not-a-choice"


def invalid_values(bound: Any) -> list[float]:
    """Values just outside a ``Bound``: at an open end, past a closed end, NaN where torch rejects it."""
    values: list[float] = []
    if bound.low is not None:
        values.append(bound.low if bound.low_open else bound.low - max(1.0, abs(bound.low)))
    if bound.high is not None:
        values.append(bound.high if bound.high_open else bound.high + max(1.0, abs(bound.high)))
    if not bound.accepts_nan and values:
        values.append(float("nan"))
    return values


def invalid_kwargs(table: Any, defaults: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One constructor call per invalid value of every bound in ``table``, others at their defaults.

    ``defaults`` supplies the tuple arguments (``betas``) whose single element a bound checks.
    """
    cases = []
    for bound in table.bounds().values():
        for value in invalid_values(bound):
            if bound.index is None:
                arg = value
            else:
                arg = list(defaults[bound.name])
                arg[bound.index] = value
                arg = tuple(arg)
            cases.append({bound.name: arg})
    return cases


def _probes(default: Any) -> list[Any]:
    """Replacement values for one argument, by the type of its default."""
    if isinstance(default, bool):
        return [not default]
    if isinstance(default, (int, float)):
        return [p for p in NUMBER_PROBES if p != default]
    if isinstance(default, tuple):
        return [
            tuple(int(v) if j == i else v for j, v in enumerate(default))
            for i, x in enumerate(default)
            if isinstance(x, float)
        ]
    return [NAME_PROBE]


def rule_violations(table: Any, defaults: Mapping[str, Any]) -> list[dict[str, Any]]:
    """For every ``Rule`` of ``table``: the smallest change of the defaults (one argument, else two) that
    breaks the rule while every ``Bound`` still holds, so the rule's own error is the one raised.

    The search reads the rule's predicate, so a new rule in a table gets its invalid input without anyone
    writing one. Rules over names the defaults lack (computed values) and rules only a tensor argument
    breaks (``Rule.tensors_only``: torch's own error inputs cover them) are left out.
    """
    cases = []
    for rule in (c for c in table.checks if not hasattr(c, "low") and not c.tensors_only):
        if not all(name in defaults for name in rule.names):
            continue
        found = _violation(table, rule, defaults)
        if found is not None:
            cases.append(found)
    return cases


def _violation(table: Any, rule: Any, defaults: Mapping[str, Any]) -> dict[str, Any] | None:
    bounds = list(table.bounds().values())
    for size in (1, 2):
        for names in itertools.combinations(rule.names, size):
            for values in itertools.product(*(_probes(defaults[n]) for n in names)):
                change = dict(zip(names, values))
                hyper = {**defaults, **change}
                if _holds(rule, hyper) is False and all(_holds(b, hyper) is not False for b in bounds):
                    return change
    return None


def _holds(check: Any, hyper: Mapping[str, Any]) -> bool | None:
    """Whether ``check`` passes on ``hyper`` (``None`` when the check cannot even evaluate it)."""
    try:
        if hasattr(check, "low"):
            return bool(check.holds(check.value_of(hyper)))
        return bool(check.holds(hyper))
    except (TypeError, ValueError, KeyError, IndexError):
        return None


def raised(make: Callable[[], Any]) -> tuple[type, str] | None:
    """The exception ``make()`` raises, as ``(type, message)``; ``None`` if it returns."""
    try:
        make()
    except Exception as e:  # the type and message are what is compared
        return type(e), str(e)
    return None
