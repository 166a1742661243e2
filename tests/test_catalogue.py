"""The case catalogue makes every option observable, and its ids are stable and unique."""

import inspect
from dataclasses import replace

import pytest

from conformance.catalogue import optimizer_cases
from conformance.catalogue.model import Gradients, OptimCase
from conformance.catalogue.observe import IMPLEMENTATION_FLAGS, observed_change
from refimpl.optim import MODULES

torch = pytest.importorskip("torch")

# A case "observes" an option when a plausible wrong value moves the trajectory by >= 1e-3 relative: two
# orders of magnitude above the float32 trajectory tolerance (~1e-5 over tens of steps: float32 eps 1.2e-7
# times the step count), so the mistake is caught in float32 runs, not only float64 ones.
OBSERVABLE = 1e-3

CASES = optimizer_cases()


def torch_defaults(name: str) -> dict:
    signature = inspect.signature(getattr(torch.optim, name).__init__)
    return {p.name: p.default for p in signature.parameters.values() if p.name not in ("self", "params")}


def math_options(name: str) -> set[str]:
    """torch's constructor options that change the math, tuple options element by element."""
    options = set()
    for option, default in torch_defaults(name).items():
        if option in IMPLEMENTATION_FLAGS:
            continue
        if isinstance(default, tuple):
            options |= {f"{option}[{i}]" for i in range(len(default))}
        else:
            options.add(option)
    return options


@pytest.mark.parametrize(
    "case, option",
    [(c, o) for c in CASES for o in c.observes],
    ids=lambda x: x if isinstance(x, str) else x.id,
)
def test_case_makes_its_option_observable(case, option):
    change = observed_change(case, option, torch_defaults(case.optimizer))
    assert change >= OBSERVABLE, f"{case.id}: a wrong {option} changes the trajectory by only {change:.2g}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_math_option_is_observed_by_some_case(name):
    cases = [c for c in CASES if c.optimizer == name]
    assert cases, f"no cases for {name}"
    observed = {o for c in cases for o in c.observes}
    missing = math_options(name) - observed
    assert not missing, f"{name}: no case makes {sorted(missing)} observable"


def test_ids_are_derived_from_content():
    # The id names the optimizer and the options in the order given, flags by name, values appended.
    case = OptimCase("Adam", {"amsgrad": True, "weight_decay": 0.1, "maximize": True}, (), "")
    assert case.id == "adam/amsgrad-wd0.1-maximize"
    assert replace(case, gradients=Gradients("spike", 1e-6), dtype="complex128").id == (
        "adam/amsgrad-wd0.1-maximize-spike-g1e-06-complex128"
    )
