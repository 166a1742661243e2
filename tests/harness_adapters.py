"""Misbehaving candidates for the harness's own tests: the reference wrapped so that it raises, returns
NaN, or returns a param of the wrong shape, on the third step of every run."""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.adapters.refimpl_adapter import RefimplAdapter, RefimplOptimizerRun

BAD_STEP = 3


class _Faulty(RefimplOptimizerRun):
    fault = ""

    def step(self, grads: list[Any]) -> None:
        super().step(grads)
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps == BAD_STEP and self.fault == "raise":
            raise FloatingPointError("kernel launch failed")

    def params(self) -> list[np.ndarray]:
        params = super().params()
        if getattr(self, "steps", 0) >= BAD_STEP and self.fault == "nan":
            params[0] = np.full_like(params[0], np.nan)
        if getattr(self, "steps", 0) >= BAD_STEP and self.fault == "shape":
            params[0] = np.zeros((7, 7))
        return params


def _adapter(fault: str) -> type:
    run = type(f"{fault.title()}Run", (_Faulty,), {"fault": fault})

    class Adapter(RefimplAdapter):
        name = f"faulty-{fault}"

        def make_optimizer(
            self, name: str, groups: list[dict[str, Any]], hyper: dict[str, Any], **kw: Any
        ) -> Any:
            adapter_run = super().make_optimizer(name, groups, hyper, **kw)
            adapter_run.__class__ = run
            return adapter_run

    return Adapter


RaisingAdapter = _adapter("raise")
NaNAdapter = _adapter("nan")
WrongShapeAdapter = _adapter("shape")
