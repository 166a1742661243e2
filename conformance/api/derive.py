"""Hyperparameter changes read off the reference: which keys a param group has, and a valid new value for
each, from the optimizer's validation table (``refimpl.optim.<module>.TABLE``).

"Change a hyperparameter in ``param_groups`` between steps" and "override it for one group" are checked
for every key the reference's param group has, so a key added to an optimizer is covered without anyone
writing a case for it. The new value stays inside the table's bounds:

- a flag is switched;
- a number bounded on both sides moves halfway towards the farther end (``betas[0]`` 0.9 -> 0.45);
- any other number in [0, 1) moves halfway towards 1 (``lr`` 0.001 -> 0.5005, ``eps`` 1e-8 -> 0.5,
  ``weight_decay`` 0 -> 0.5, ``momentum`` 0.9 -> 0.95): most such hyperparameters are fractions in
  practice though their tables bound them below only (RMSprop's ``alpha`` above 1 makes its average
  negative), and a tiny one (``eps``) becomes large enough to show beyond any tolerance;
- a number outside [0, 1) doubles (``d`` 1 -> 2, ``beta2_decay`` -0.8 -> -1.6), as does an integer
  (``ns_steps``, ``max_iter``);
- a tuple changes one element at a time (``betas[0]``, ``betas[1]``).

Names (``line_search_fn``, ``adjust_lr_fn``), unset values (``None``), implementation switches
(``foreach``...) and the keys a setup lists as ``unchanged`` (with its reason) are not changed: there is no
valid "other value" to derive for them. A move that makes the reference's own run blow up (Muon's
Newton-Schulz coefficients doubled diverge) is halved until it does not: a check of a run that broke down
compares nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

import numpy as np

import refimpl.optim
from conformance.api.setups import SETUPS, SWITCHES
from conformance.invalid_inputs import invalid_kwargs, rule_violations
from refimpl.optim import MODULES


@dataclass(frozen=True)
class Change:
    """``param_groups[g][key] = value`` where ``value`` differs from the current one at ``index`` only."""

    key: str
    index: int | None
    value: Any

    @property
    def id(self) -> str:
        return self.key if self.index is None else f"{self.key}[{self.index}]"


def table(name: str) -> Any:
    """The reference's validation table of optimizer ``name``."""
    return importlib.import_module(f"refimpl.optim.{MODULES[name]}").TABLE


@cache
def reference_group(name: str) -> tuple[tuple[str, Any], ...]:
    """The reference's param group (minus ``params``) for the setup's hyperparameters, as items."""
    setup = SETUPS[name]
    optimizer = getattr(refimpl.optim, name)(setup.initial(), **setup.hyper)
    return tuple((k, v) for k, v in optimizer.param_groups[0].items() if k != "params")


def moved(current: Any, bound: Any | None) -> Any:
    """A valid value other than ``current`` (see the module docstring for the rule)."""
    if isinstance(current, bool):
        return not current
    if isinstance(current, int):
        return current * 2 if current else 1
    if bound is not None and bound.low is not None and bound.high is not None:
        far = bound.high if bound.high - current >= current - bound.low else bound.low
        return (current + far) / 2
    value = (current + 1.0) / 2 if 0.0 <= current < 1.0 else current * 2
    if bound is not None and not bound.holds(value):  # e.g. 0 where the table allows <= 0 only
        value = current - 0.5
    return value


@cache
def changes(name: str) -> list[Change]:
    """Every derivable change of optimizer ``name``'s param group, one key (or tuple element) at a time."""
    bounds = table(name).bounds()
    out = []
    for key, current in reference_group(name):
        if key in SWITCHES or key in SETUPS[name].unchanged:
            continue
        if isinstance(current, tuple):
            for i, element in enumerate(current):
                if isinstance(element, (int, float)) and not isinstance(element, bool):
                    value = _settled(name, key, current, i, moved(element, bounds.get((key, i))))
                    out.append(Change(key, i, value))
        elif isinstance(current, (int, float)):
            out.append(
                Change(key, None, _settled(name, key, current, None, moved(current, bounds.get((key, None)))))
            )
    return out


# How many times a move is halved before its run stays bounded (2^-6 of the first move is still far beyond
# every tolerance).
HALVINGS = 6
# A run whose params grew beyond this factor of their initial max-norm in five steps has blown up (the
# derived moves take params from ~2 to ~10 at most: lr 0.5 on unit gradients).
BLOWN_UP = 100.0


def _settled(name: str, key: str, current: Any, index: int | None, new: Any) -> Any:
    """``new`` (the element at ``index`` of a tuple), moved back halfway towards ``current`` until the
    reference's run with the change stays bounded; the full new value of the key."""
    old = current if index is None else current[index]
    for _ in range(HALVINGS):
        value = new if index is None else tuple(new if i == index else v for i, v in enumerate(current))
        if isinstance(new, bool) or _bounded_with(name, key, value):
            return value
        new = type(old)((old + new) / 2) if isinstance(old, float) else new
    return value


def _bounded_with(name: str, key: str, value: Any) -> bool:
    """Whether the reference, changing ``key`` to ``value`` after two steps, stays bounded three more."""
    setup = SETUPS[name]
    scale = max(float(np.max(np.abs(p), initial=0.0)) for p in setup.initial())
    optimizer = getattr(refimpl.optim, name)(setup.groups(setup.initial()), **setup.hyper)
    live = [p for g in optimizer.param_groups for p in g["params"]]
    objective = setup.closure_for()
    try:
        for t in range(5):
            if t == 2:
                optimizer.param_groups[0][key] = value
            optimizer.step(partial(objective, live) if setup.closure else setup.gradients(t, live))
    except Exception:  # an error is behaviour too: the checks compare it with the candidate's
        return True
    return all(np.all(np.isfinite(p)) and np.max(np.abs(p), initial=0.0) <= BLOWN_UP * scale for p in live)


def overrides(name: str) -> dict[str, Any]:
    """All of ``changes(name)`` at once, as one group's overrides (tuple elements combined)."""
    group = dict(reference_group(name))
    out: dict[str, Any] = {}
    for change in changes(name):
        if change.index is None:
            out[change.key] = change.value
        else:
            value = list(out.get(change.key, group[change.key]))
            value[change.index] = change.value[change.index]
            out[change.key] = tuple(value)
    return out


def group_value(name: str, key: str) -> Any:
    """The reference's value of ``key`` in the setup's param group (e.g. its lr)."""
    return dict(reference_group(name))[key]


def invalid_calls(name: str) -> list[tuple[str, dict[str, Any]]]:
    """Every invalid constructor call the reference's table implies, as ``(id, kwargs)``: each bound's value
    just outside its range (NaN where torch rejects it), and each multi-argument rule broken."""
    defaults = getattr(refimpl.optim, name)([SETUPS[name].initial()[0]]).defaults
    calls = invalid_kwargs(table(name), defaults) + rule_violations(table(name), defaults)
    return [(",".join(f"{k}={v!r}".replace(" ", "") for k, v in kw.items()), kw) for kw in calls]
