"""What an API check knows about its run, and how it fails.

A check gets an ``ApiContext``: the candidate (adapter, and for torch-API candidates their module and
class), the optimizer's setup, the dtype, device and variant, the tolerance, and a ``Script`` recording what
it does. A failure is one message: what is wrong, the differences, the script of what ran, and the command
that reruns just this check.
"""

from __future__ import annotations

import shlex
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import conformance
import refimpl
from conformance import scalars
from conformance.adapters.base import CandidateFault, NotSupported
from conformance.adapters.refimpl_adapter import RefimplAdapter
from conformance.api import compare
from conformance.api.cases import ApiCase, class_variant
from conformance.api.setups import SETUPS, Setup
from conformance.declarations import declaration
from conformance.invalid_inputs import raised
from conformance.plugin import tolerance_of
from conformance.repro import replay_line, vectors_arg
from conformance.tolerances import EPS, GROWTH, TINY, trajectory_rtol

REFERENCE = RefimplAdapter()
# The suite's own code: an exception raised here is the suite's, not the candidate's.
PROJECT_PACKAGES = tuple(Path(m.__file__).parent.resolve() for m in (conformance, refimpl))
# The longest run an API check makes (the scheduler recipes: 10 epochs); for dtypes other than float64 the
# tolerance is the trajectory tolerance after this many steps (``conformance.tolerances``).
MAX_STEPS = 10


@dataclass
class Script:
    """The lines a check ran, in torch.optim's words, for the failure message. Consecutive identical
    steps are counted rather than repeated."""

    lines: list[str] = field(default_factory=list)
    _repeat: list[int] = field(default_factory=list)

    def add(self, line: str) -> None:
        if self.lines and self.lines[-1] == line:
            self._repeat[-1] += 1
            return
        self.lines.append(line)
        self._repeat.append(1)

    def render(self, indent: str = "    ") -> list[str]:
        return [
            f"{indent}{line}" + (f"  # x{n}" if n > 1 else "") for line, n in zip(self.lines, self._repeat)
        ]


def describe_groups(groups: Sequence[dict[str, Any]]) -> str:
    """``[{'params': [(3, 4)]}, {'params': [(5,), ()], 'lr': 0.5}]``: params by shape."""
    parts = []
    for g in groups:
        shapes = ", ".join(str(tuple(getattr(p, "shape", ()))) for p in g["params"])
        extra = "".join(f", {k!r}: {v!r}" for k, v in g.items() if k != "params")
        parts.append(f"{{'params': [{shapes}]{extra}}}")
    return "[" + ", ".join(parts) + "]"


def _error(error: tuple[type, str]) -> str:
    """``Type: message``, the message's first line (some torch errors go on to list every dispatch key)."""
    lines = error[1].splitlines()
    return f"{error[0].__name__}: {lines[0] if lines else ''}" + (" [...]" if len(lines) > 1 else "")


class ApiContext:
    """One API check's view of the run (see the module docstring)."""

    def __init__(
        self, session: Any, case: ApiCase, nodeid: str, doc: str, record: dict[str, Any] | None = None
    ) -> None:
        self.session, self.case, self.nodeid = session, case, nodeid
        # The check's record in results.json: a check may add what the report shows (``spec_note``).
        self.record = {} if record is None else record
        self.doc = " ".join((doc or "").split())
        self.adapter = session.adapter
        self.name = case.optimizer
        # What the class declares: the setup leaves out the options it lacks (they take their defaults).
        self.declared = declaration(self.adapter, case.optimizer)
        # torch's defaults the class has other defaults for (or none) are passed explicitly (test_defaults
        # alone constructs without them: it names the difference).
        explicit, required = getattr(self.adapter, "explicit", None), getattr(self.adapter, "required", None)
        self.explicit: dict[str, Any] = explicit(case.optimizer) if explicit else {}
        # Those the class requires: even the checks of invalid arguments pass them.
        self.required: dict[str, Any] = required(case.optimizer) if required else {}
        self.setup: Setup = SETUPS[case.optimizer].without(self.declared.lacks).given(self.explicit)
        # A check of the class as a whole drives it through the protocol as its first variant.
        self.dtype, self.device = case.dtype, case.device
        self.variant = case.variant or class_variant(session, case.optimizer)
        self.features = self.adapter.capabilities().features
        # float64: the harness's float64 tolerance; lower precisions: the trajectory tolerance after the
        # longest API run (both derived in conformance.tolerances).
        # A [[tolerance]] entry of the candidate's known-deviations file selecting this check wins.
        override = tolerance_of(session, nodeid.rpartition("::")[2], case)
        # (the order of precedence: the deviation file, then the setup's own derived value, then the default)
        self.rtol = (
            override.get(f"{self.dtype}:api")
            or override.get(self.dtype)
            or self.setup.rtol.get(self.dtype)
            or trajectory_rtol(self.dtype, MAX_STEPS)[-1]
        )
        # A class keeping its scalar hyperparameters in a precision no finer than the dtype: the tolerance
        # conformance.scalars derives for the class's API setup, said in every failure.
        self.scalar_note = ""
        if scalars.applies(self.declared.scalar_dtype, self.dtype):
            extra = scalars.api_probe(self.name, self.declared.scalar_dtype, self.declared.lacks)
            self.rtol += scalars.MARGIN * extra
            self.scalar_note = scalars.describe(self.declared.scalar_dtype, [extra])
        # Resuming from a state dict repeats the same operations on the same values: bitwise on CPU. Other
        # devices may reduce in another order from run to run, so they get the tolerance.
        self.resume_rtol = 0.0 if self.device == "cpu" else self.rtol
        self.script = Script()
        self._drift: dict[str, tuple[list[Any], list[float]]] = {}
        self._held: dict[str, list[float]] = {}

    # -- the candidate ----------------------------------------------------------------------------------

    @property
    def module(self) -> Any:
        """The candidate's torch.optim-compatible module (torch-API candidates only)."""
        return self.adapter.module

    @property
    def cls(self) -> type:
        return self.adapter.classes()[self.name]

    def constructor(self, groups: Sequence[dict[str, Any]], hyper: dict[str, Any], variant: str) -> str:
        args = "".join(f", {k}={v!r}" for k, v in hyper.items())
        flag = f"  # variant {variant}" if variant not in ("", "default") else ""
        return f"{self.name}({describe_groups(groups)}{args}){flag}"

    def make(self, groups: list[dict[str, Any]], hyper: dict[str, Any], variant: str | None = None) -> Any:
        """The candidate's optimizer through the adapter protocol (``variant``: default the case's)."""
        variant = variant or self.variant
        return self.adapter.make_optimizer(
            self.name, groups, hyper, dtype=self.dtype, device=self.device, variant=variant
        )

    def make_reference(self, groups: list[dict[str, Any]], hyper: dict[str, Any]) -> Any:
        return REFERENCE.make_optimizer(
            self.name, groups, hyper, dtype=self.reference_dtype, device="cpu", variant="default"
        )

    @property
    def reference_dtype(self) -> str:
        """The reference computes in float64 unless the candidate's dtype is one NumPy has too."""
        return self.dtype if self.dtype in ("float64", "float32") else "float64"

    def overrides(self) -> dict[str, Any]:
        """Every derived change of the class's hyperparameters at once (``derive.overrides``), without the
        options the class lacks."""
        from conformance.api import derive

        return {k: v for k, v in derive.overrides(self.name).items() if k not in self.declared.lacks}

    # -- outcomes ---------------------------------------------------------------------------------------

    def same_outcome(self, what: str, candidate: Callable[[], Any], reference: Callable[[], Any]) -> bool:
        """Run ``reference`` then ``candidate``; if the reference raises, the candidate must raise the same
        (type and message for torch-API candidates; any exception for others). Returns whether both raised,
        so the check stops there; fails if only one did."""
        expected = raised(reference)
        actual = raised(candidate)
        if actual is not None and issubclass(actual[0], NotSupported):
            pytest.skip(f"not supported: {actual[1]}")
        if expected is None and actual is None:
            return False
        if expected is None:
            self.fail(f"{what} raised {_error(actual)}", "the reference does not raise")
        if actual is None:
            self.fail(f"{what} did not raise", f"the reference raises {_error(expected)}")
        if "torch_api" in self.features and actual != expected:
            self.fail(
                f"{what} raised the wrong error",
                f"candidate: {_error(actual)}",
                f"reference: {_error(expected)}",
            )
        return True

    def expect_params(
        self,
        actual: Sequence[Any],
        expected: Sequence[Any],
        headline: str,
        when: str,
        *,
        rtol: float | None = None,
        run: str = "opt",
    ) -> None:
        """Fail with ``headline`` if the params differ beyond ``rtol`` (default: the check's tolerance,
        widened by the setup's ``update_rtol`` of every step the reference has made in run ``run``)."""
        tolerance = self.tolerances(run, expected) if rtol is None else rtol
        floors = self.floors(run, expected, self.rtol if rtol is None else rtol)
        problems = compare.params(actual, expected, tolerance, when, floors)
        if problems:
            self.fail(headline, *problems)

    def observe(self, run: str, expected: Sequence[Any]) -> None:
        """Record the reference's params of ``run`` after a step: each param's updates add up to the room a
        candidate gets where the spec lets an update be rounded coarsely (``Setup.update_rtol``)."""
        arrays = [np.array(e) for e in expected]  # copies: a reference's live params change in place
        last, drift = self._drift.get(run, (arrays, []))
        # A param first seen now (a group added mid-run) starts from here.
        drift = [
            (drift[i] + compare.max_abs(a - last[i])) if i < len(drift) and a.shape == last[i].shape else 0.0
            for i, a in enumerate(arrays)
        ]
        self._held[run] = self._held_by(run, arrays)
        self._drift[run] = (arrays, drift)

    def _held_by(self, run: str, arrays: Sequence[Any]) -> list[float]:
        """Per param of ``run``: the largest magnitude the reference's param has held so far (``arrays``
        included; a param first seen now, or of another shape than before, starts from here)."""
        arrays = [np.asarray(a) for a in arrays]
        held, last = self._held.get(run, []), self._drift.get(run, (arrays, []))[0]
        return [
            max(held[i] if i < len(held) and a.shape == np.shape(last[i]) else 0.0, compare.max_abs(a))
            for i, a in enumerate(arrays)
        ]

    def floors(self, run: str, expected: Sequence[Any], rtol: float) -> list[float]:
        """Per param: the smallest scale its error is measured against (``compare.array_error``).

        A param whose expected value is zero, or has cancelled far below the magnitudes it was computed
        from (a param of 1 moved by -1 + 1e-17), carries the absolute rounding of the operations that made
        it at the largest magnitude it held: relative to its own size that is "100 %". Its error is
        therefore measured against at least ``GROWTH x eps / rtol`` times that magnitude, so that the
        absolute tolerance there is GROWTH (16, the trajectory tolerance's count of roundings,
        ``conformance.tolerances``) eps of the magnitude, as for scheduled values (``schedules.FLOOR``).
        float64 with rtol 1e-10: 3.6e-5 of the magnitude; any value above that is compared relatively, as
        before. A param the reference never moved off 0 has no magnitude: its floor is the dtype's smallest
        normal number (as ``metrics.running_scales``), so a candidate's nonzero value there fails."""
        held = self._held_by(run, expected)
        eps, tiny = EPS.get(self.dtype, EPS["float64"]), TINY.get(self.dtype, TINY["float64"])
        return [max(GROWTH * eps * h / rtol if rtol > 0 else 0.0, tiny) for h in held]

    def tolerances(self, run: str, expected: Sequence[Any]) -> list[float]:
        """The check's tolerance per param of ``run``: ``rtol``, plus ``update_rtol`` times the param's summed
        updates so far relative to its size (the error a coarsely rounded update may leave)."""
        self.observe(run, expected)
        _, drift = self._drift[run]
        scales = [compare.max_abs(e) for e in expected]
        return [self.rtol + self.setup.update_rtol * d / s if s else self.rtol for d, s in zip(drift, scales)]

    def expect(self, problems: Sequence[str], headline: str) -> None:
        if problems:
            self.fail(headline, *problems)

    def raised_by_candidate(self, error: BaseException) -> bool:
        """Whether ``error`` comes from the candidate: raised outside the suite's own packages (conformance,
        refimpl), whose errors are the suite's bugs and must show as such; or reported by an adapter as the
        candidate's (``CandidateFault``: a rank of a sharded candidate that raised)."""
        if isinstance(error, CandidateFault):
            return True
        frames = traceback.extract_tb(error.__traceback__)
        if not frames:
            return False
        innermost = Path(frames[-1].filename).resolve()
        return not any(innermost.is_relative_to(package) for package in PROJECT_PACKAGES)

    def origin(self, error: BaseException) -> str:
        """``file:line in function`` of the innermost frame of ``error``."""
        frame = traceback.extract_tb(error.__traceback__)[-1]
        return f"{frame.filename}:{frame.lineno} in {frame.name}"

    def fail(self, headline: str, *details: str) -> None:
        """Fail the check with the whole story: what, the differences, what ran, how to rerun it."""
        lines = [f"{self.name} does not conform: {headline}"]
        lines.append(f"  check: {self.doc}" if self.doc else f"  check: {self.nodeid}")
        where = f"{self.dtype} on {self.device}" + (
            f", variant {self.case.variant}" if self.case.variant else ""
        )
        lines.append(f"  run: {where}, against the reference (refimpl)")
        lines += [f"  {d}" for d in details[:12]]
        if len(details) > 12:
            lines.append(f"  ... and {len(details) - 12} more")
        if self.scalar_note:
            lines.append(f"  {self.scalar_note}")
        if self.script.lines:
            lines.append("  what ran (the candidate and the reference alike):")
            lines += self.script.render()
        vectors = vectors_arg(self.session.vectors.directory)
        command = ["python", "-m", "pytest", self.nodeid, f"--impl={self.session.impl}"]
        command += [f"--device={self.device}"] if self.device != "cpu" else []
        command += ["--vectors", vectors] if vectors else []
        check = "api:" + self.nodeid.rpartition("::")[2].partition("[")[0]
        lines.append("  reproduce:")
        lines += [
            f"    {line}"
            for line in replay_line(self.session.impl, self.case.id, check, self.case, vectors).splitlines()
        ]
        lines.append(f"    # or, from the checkout that ran it: {shlex.join(command)}")
        pytest.fail("\n".join(lines), pytrace=False)
