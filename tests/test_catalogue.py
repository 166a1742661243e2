"""The case catalogue makes every option observable, and its ids are stable and unique."""

import inspect
from dataclasses import replace

import pytest

from conformance.catalogue import optimizer_cases, scheduler_cases, swa_cases
from conformance.catalogue.model import Gradients, OptimCase, SchedCase, SchedSpec
from conformance.catalogue.observe import (
    IMPLEMENTATION_FLAGS,
    observed_change,
    observed_schedule_change,
    observed_swa_change,
)
from conformance.catalogue.swa_model import AVERAGING, AveragedCase
from refimpl.lr_scheduler import MODULES as SCHED_MODULES
from refimpl.optim import MODULES

torch = pytest.importorskip("torch")

# A case "observes" an option when a plausible wrong value moves the trajectory by >= 1e-3 relative: two
# orders of magnitude above the float32 trajectory tolerance (~1e-5 over tens of steps: float32 eps 1.2e-7
# times the step count), so the mistake is caught in float32 runs, not only float64 ones.
OBSERVABLE = 1e-3
# A case that carries its own tolerance (Muon: torch's bfloat16 Newton-Schulz) must show a wrong option an
# order of magnitude above that tolerance instead.
ABOVE_OVERRIDE = 10.0

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
    needed = max([OBSERVABLE, *(ABOVE_OVERRIDE * t for t in (case.tolerance or {}).values())])
    assert change >= needed, (
        f"{case.id}: a wrong {option} changes the trajectory by only {change:.2g} (needs {needed:.2g})"
    )


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


# Schedulers: lrs are float64 Python numbers compared at 1e-12 relative (conformance/schedules.py), so 1e-3
# is far above any tolerance; the same bar as for optimizers keeps the catalogue's promise uniform.
SCHED_CASES = scheduler_cases()
# The abstract base class: no case builds it. swa_utils' SWALR is a scheduler too.
SCHEDULERS = sorted([*(n for n in SCHED_MODULES if n != "LRScheduler"), "SWALR"])
# Constructor options that no lr sequence can show, and why.
UNOBSERVABLE = {
    # Recursive (lr *= gamma each epoch) and, resuming, the constructor's step keeps the groups' lrs: the
    # epoch count is never read. It shows only in the state dict and in the deprecated step(epoch).
    ("ExponentialLR", "last_epoch"),
    # SWALR's lrs depend on its step count only (get_lr reads _step_count, never last_epoch).
    ("SWALR", "last_epoch"),
}


def torch_sched_defaults(name: str) -> dict:
    """The scheduler's constructor options and defaults, ``optimizer`` aside (and ``verbose``, gone in
    torch 2.13)."""
    module = torch.optim.swa_utils if name == "SWALR" else torch.optim.lr_scheduler
    signature = inspect.signature(getattr(module, name).__init__)
    skip = ("self", "optimizer", "verbose")
    return {p.name: p.default for p in signature.parameters.values() if p.name not in skip}


@pytest.mark.parametrize(
    "case, option",
    [(c, o) for c in SCHED_CASES for o in c.observes],
    ids=lambda x: x if isinstance(x, str) else x.id,
)
def test_schedule_case_makes_its_option_observable(case, option):
    assert option in torch_sched_defaults(case.scheduler), f"{case.id}: {option} is not an option"
    change = observed_schedule_change(case, option, torch_sched_defaults(case.scheduler))
    assert change >= OBSERVABLE, f"{case.id}: a wrong {option} changes the lrs by only {change:.2g}"


@pytest.mark.parametrize("name", SCHEDULERS)
def test_every_scheduler_option_is_observed_by_some_case(name):
    cases = [c for c in SCHED_CASES if c.scheduler == name]
    assert cases, f"no cases for {name}"
    assert all(c.steps >= 100 and len(c.groups) == 2 for c in cases), f"{name}: short run or one group"
    observed = {o for c in cases for o in c.observes}
    missing = set(torch_sched_defaults(name)) - observed - {o for n, o in UNOBSERVABLE if n == name}
    assert not missing, f"{name}: no case makes {sorted(missing)} observable"


def test_schedule_ids_are_derived_from_content():
    case = SchedCase("StepLR", {"step_size": 3, "gamma": 0.5}, (), "")
    assert case.id == "steplr/step_size3-gamma0.5"
    nested = SchedCase(
        "SequentialLR",
        {
            "schedulers": (SchedSpec("LinearLR", {"total_iters": 4}), SchedSpec("StepLR", {"step_size": 2})),
            "milestones": [4],
        },
        (),
        "",
        also=(SchedSpec("ExponentialLR", {"gamma": 0.9}),),
        reload_at=50,
    )
    assert nested.id == (
        "sequentiallr/linearlr(total_iters4),steplr(step_size2)-milestones4+exponentiallr(gamma0.9)-reload50"
    )


# swa_utils: AveragedModel's options and update_bn cases' batches, at the same bar.
SWA_CASES = swa_cases()


@pytest.mark.parametrize(
    "case, option",
    [(c, o) for c in SWA_CASES for o in c.observes],
    ids=lambda x: x if isinstance(x, str) else x.id,
)
def test_swa_case_makes_its_option_observable(case, option):
    change = observed_swa_change(case, option)
    assert change >= OBSERVABLE, (
        f"{case.id}: a wrong {option} changes the expected values by only {change:.2g}"
    )


def test_every_averaged_model_option_is_observed_by_some_case():
    signature = inspect.signature(torch.optim.swa_utils.AveragedModel.__init__)
    options = {p for p in signature.parameters if p not in ("self", "model", "device")}
    observed = {o for c in SWA_CASES if isinstance(c, AveragedCase) for o in c.observes}
    assert options - observed == set(), (
        f"AveragedModel: no case makes {sorted(options - observed)} observable"
    )
    # every averaging function torch offers is exercised, with decay observed for the EMA ones
    used = {
        AVERAGING[k, c.options[k]]
        for c in SWA_CASES
        if isinstance(c, AveragedCase)
        for k in AVERAGING_KEYS
        if c.options.get(k)
    }
    assert used == set(AVERAGING.values())


AVERAGING_KEYS = ("avg_fn", "multi_avg_fn")
