"""The suite catches every mutant in tests/mutants, and passes their control and the reference.

Each mutant runs exactly as a user's candidate would: ``pytest conformance --impl=torch:mutants.<name>``,
restricted to the cases of the class it breaks. The run must fail with a conformance failure (not an
error of the harness), and the control (the same compact code with no mistake) must pass.
"""

from __future__ import annotations

import importlib
import pkgutil

import mutants
import pytest
from run_conformance import conformance

from refimpl.lr_scheduler import MODULES as SCHEDULERS
from refimpl.optim import MODULES

# The swa_utils a mutant may break (their cases: averagedmodel/..., swalr/..., update_bn/...).
SWA_UTILS = ("AveragedModel", "SWALR", "update_bn")

pytest.importorskip("torch")

NOT_MUTANTS = {"compact", "compact_adaptive", "compact_sched", "compact_swa", "control", "kernels"}


def selection(classes: list[str]) -> str:
    """``-k`` for everything about these classes: their vector cases (``adam/...``) and their API checks
    (``[Adam]``, ``[Adam:lr-foreach]``, ``[Adam-forloop]``; see conformance/api/cases.py), schedulers' API
    checks included (``[SGD:StepLR]``, ``[SGD:StepLR:gamma=...]``: the optimizer they drive, then the
    scheduler)."""
    return " or ".join(
        f"{c}/ or [{c}] or [{c}: or [{c}- or :{c}] or :{c}:" for c in (c.lower() for c in classes)
    )


def mutant_classes(module_name: str) -> list[str]:
    """The classes the mutant module defines (not torch's own, which some import to drive theirs)."""
    module = importlib.import_module(f"mutants.{module_name}")
    return [
        name
        for name in [*MODULES, *SCHEDULERS, *SWA_UTILS]
        if hasattr(module, name) and not getattr(module, name).__module__.startswith("torch.")
    ]


# Mutants wrong in bfloat16/float16 alone run per half dtype in tests/test_lowprec.py.
HALF_MUTANTS = "adam_half_"
MUTANTS = sorted(
    m.name
    for m in pkgutil.iter_modules(mutants.__path__)
    if m.name not in NOT_MUTANTS and not m.name.startswith(HALF_MUTANTS)
)


def test_there_are_enough_mutants():
    assert len(MUTANTS) >= 20, f"only {len(MUTANTS)} mutants: {MUTANTS}"


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_is_caught(name, tmp_path, capsys):
    classes = mutant_classes(name)
    assert classes, f"mutants.{name} exports no torch.optim optimizer or scheduler class"
    # A mutant wrong in an opt-in variant alone (VARIANT: differentiable, compile) runs with that variant;
    # FAILURE: the words of the failure that must catch it (the check meant for its fault). CAUGHT_BY = "api"
    # says only the API checks can (tests/test_property_mutants.py leaves it out).
    module = importlib.import_module(f"mutants.{name}")
    variant = ["--variant", module.VARIANT] if hasattr(module, "VARIANT") else []
    # DTYPES: the dtypes its checks run in, where torch itself fails the others (the compile mutant: float32;
    # compiled float64 0-d params lose their updates in torch 2.13, a known deviation of torch's own class).
    dtypes = ["--dtype", module.DTYPES] if hasattr(module, "DTYPES") else []
    args = ["-x", *variant, *dtypes]
    code, out = conformance(f"torch:mutants.{name}", selection(classes), tmp_path, capsys, *args)
    assert code == 1, f"mutants.{name} was not caught:\n{out[-3000:]}"
    assert "does not conform" in out, out[-3000:]
    assert getattr(module, "FAILURE", "does not conform") in out, out[-3000:]


def test_control_passes(tmp_path, capsys):
    classes = mutant_classes("control")
    code, out = conformance("torch:mutants.control", selection(classes), tmp_path, capsys)
    assert code == 0, out[-3000:]
