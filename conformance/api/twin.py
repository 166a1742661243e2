"""The candidate and the reference, driven by one script through the adapter protocol.

Every action (construct, step, change a hyperparameter) is applied to both and written to the context's
script; ``check_params`` / ``check_state`` compare them. Where the reference raises, the candidate must raise
the same, and the twin stops: there is nothing more to compare. Going through the protocol, not torch's
API, lets every adapter run these checks, the reference itself included.

Further candidate runs can ``follow`` the twin (a run resumed from a state dict): they get the same inputs
at every later step, so they can be compared with the uninterrupted candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from conformance.api import compare
from conformance.api.context import ApiContext
from conformance.api.setups import SWITCHES

Transfer = Callable[[Any, Any], None]  # (run whose state is saved, fresh run that loads it)


def _load(saved: Any, fresh: Any) -> None:
    fresh.load_state_dict(saved.state_dict())


class Twin:
    """Candidate and reference optimizers over the same initial params and hyperparameters."""

    def __init__(
        self,
        ctx: ApiContext,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any] | None = None,
        *,
        variant: str | None = None,
        label: str = "opt",
    ) -> None:
        self.ctx, self.label = ctx, label
        self.groups, self.hyper = groups, dict(ctx.setup.hyper if hyper is None else hyper)
        self.variant = variant or ctx.variant
        self.initial = [p for g in groups for p in g["params"]]
        self.t = 0
        # Closure evaluations per step (candidate, reference) and what the last step returned.
        self.calls: tuple[list[int], list[int]] = ([], [])
        self.returned: dict[str, Any] = {}
        self.followers: list[Any] = []
        ctx.script.add(f"{label} = {ctx.constructor(groups, self.hyper, self.variant)}")
        built: dict[str, Any] = {}
        self.stopped = ctx.same_outcome(
            "the constructor",
            lambda: built.__setitem__("candidate", ctx.make(groups, self.hyper, self.variant)),
            lambda: built.__setitem__("reference", ctx.make_reference(groups, self.hyper)),
        )
        self.candidate, self.reference = built.get("candidate"), built.get("reference")
        if not self.stopped:
            ctx.observe(label, self.reference.params())

    def inputs(self, grads: list[Any] | None, zero: bool) -> tuple[str, Any]:
        """What step ``self.t`` feeds every run, and its line in the script."""
        setup = self.ctx.setup
        if setup.closure:
            return f"{self.label}.step(closure)  # closure: {setup.objective} at the params", None
        if grads is None:
            grads = setup.gradients(self.t, self.initial, zero=zero)
        nones = [i for i, g in enumerate(grads) if g is None]
        kind = "zeros" if zero else "seeded normal" + (" (row-sparse)" if setup.sparse else "")
        note = f"; params {nones} have none" if nones else ""
        return f"{self.label}.step()  # gradients: {kind}{note}", grads

    def drive(self, run: Any, grads: Any, calls: list[int] | None = None) -> Any:
        """One step of ``run`` with these inputs (a closure-driven one evaluates the setup's closure)."""
        if self.ctx.setup.closure:
            return run.step_closure(self.ctx.setup.closure_for(calls))
        return run.step(grads)

    def step(self, grads: list[Any] | None = None, *, zero: bool = False, check: str = "") -> None:
        """One step of both: ``grads`` as given (``None`` entries: no gradient), else the setup's seeded
        gradients for this step (``zero``: all zeros), or its closure. ``check``: compare the params after
        it, failing with this headline."""
        if self.stopped:
            return
        line, grads = self.inputs(grads, zero)
        self.ctx.script.add(line)
        for c in self.calls:
            c.clear()
        self.stopped = self.ctx.same_outcome(
            f"step {self.t + 1}",
            lambda: self.returned.__setitem__("candidate", self.drive(self.candidate, grads, self.calls[0])),
            lambda: self.returned.__setitem__("reference", self.drive(self.reference, grads, self.calls[1])),
        )
        for follower in self.followers:
            self.drive(follower, grads)
        self.t += 1
        if not self.stopped:
            self.ctx.observe(self.label, self.reference.params())
        if check:
            self.check_params(check)

    def steps(self, n: int, **kwargs: Any) -> None:
        for _ in range(n):
            self.step(**kwargs)

    def set(self, group: int, key: str, value: Any) -> None:
        """``param_groups[group][key] = value`` on both."""
        if self.stopped:
            return
        self.ctx.script.add(f"{self.label}.param_groups[{group}][{key!r}] = {value!r}")
        self.candidate.set_hyperparameter(group, key, value)
        self.reference.set_hyperparameter(group, key, value)

    def resumed(
        self,
        label: str = "resumed",
        variant: str | None = None,
        transfer: Transfer | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> tuple[Any, Any]:
        """Fresh optimizers over the current params, loaded with the state of the twin's: the candidate's (of
        ``variant``, default the twin's; ``transfer(saved_run, fresh_run)`` moves the state, default through
        ``state_dict()``/``load_state_dict()``) and the reference's. ``transform`` edits both saved dicts
        before they are loaded (an older torch's layout). Both follow the twin from now on."""
        if transform is not None:
            edit = transform
            transfer = transfer or (lambda saved, fresh: fresh.load_state_dict(edit(saved.state_dict())))
        variant = variant or self.variant
        other = f", variant {variant}" if variant != self.variant else ""
        self.ctx.script.add(f"state = {self.label}.state_dict()")
        self.ctx.script.add(f"{label} = <the same constructor over {self.label}'s current params{other}>")
        self.ctx.script.add(f"{label}.load_state_dict(state)  # then both go on with the same gradients")
        candidate = self.ctx.make(self._regroup(self.candidate.params()), self.hyper, variant)
        (transfer or _load)(self.candidate, candidate)
        reference = self.ctx.make_reference(self._regroup(self.reference.params()), self.hyper)
        reference.load_state_dict((transform or (lambda d: d))(self.reference.state_dict()))
        self.followers += [candidate, reference]
        return candidate, reference

    def _regroup(self, params: list[Any]) -> list[dict[str, Any]]:
        """``params`` (flat, in group order) in the twin's groups, with the groups' own keys."""
        current = iter(params)
        return [
            {
                **{k: v for k, v in g.items() if k != "params"},
                "params": [np.array(next(current)) for _ in g["params"]],
            }
            for g in self.groups
        ]

    def params(self) -> tuple[list[Any], list[Any]]:
        return self.candidate.params(), self.reference.params()

    def check_params(self, headline: str) -> None:
        """The candidate's params equal the reference's within the check's tolerance."""
        if not self.stopped:
            got, want = self.params()
            self.ctx.expect_params(got, want, headline, f"after step {self.t}", run=self.label)

    def check_state(self, headline: str, *, strict: bool = False) -> None:
        """The candidate's state dict equals the reference's: values within the tolerance, same param
        groups; ``strict``: the layout too (same params with state, every key; see
        ``compare.state_dicts``)."""
        if not self.stopped:
            got, want = self.candidate.state_dict(), self.reference.state_dict()
            # The variant's switches (foreach=False...) are in the candidate's groups, not the reference's.
            problems = compare.state_dicts(got, want, self.ctx.rtol, SWITCHES, self.ctx.declared, strict)
            self.ctx.expect(problems, headline)
