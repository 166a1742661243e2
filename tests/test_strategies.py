"""The property layer's own machinery: strategies drawn from the reference's tables, boundary examples,
running error scales, the conditioning predicates, profiles, and determinism of the examples drawn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from conformance import profiles, properties, schedule_properties  # noqa: E402
from conformance.conditioning import centered_variance  # noqa: E402
from conformance.metrics import running_scales, trajectory_divergence  # noqa: E402
from conformance.strategies.edges import edge_examples  # noqa: E402
from conformance.strategies.hyper import (  # noqa: E402
    argument_strategies,
    constructor_defaults,
    hyperparameters,
    table_of,
)
from conformance.strategies.optimizers import OptimizerExample, optimizer_examples  # noqa: E402
from conformance.strategies.schedulers import scheduler_examples  # noqa: E402
from refimpl.lr_scheduler import MODULES as SCHEDULERS  # noqa: E402
from refimpl.optim import MODULES  # noqa: E402

ROOT = Path(__file__).parent.parent
FEW = settings(max_examples=25, derandomize=True, database=None, deadline=None)
FEW_SLOW = settings(FEW, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("name", list(MODULES))
def test_every_argument_has_a_bound_a_flag_type_or_a_documented_domain(name):
    # argument() raises LookupError for an argument none of these covers
    assert set(argument_strategies(name)) == set(constructor_defaults(name))


@pytest.mark.parametrize("name", list(MODULES))
def test_drawn_hyperparameters_satisfy_the_whole_table(name):
    table, defaults = table_of(name), constructor_defaults(name)

    @FEW
    @given(hyper=hyperparameters(name))
    def valid(hyper):
        table.validate({**defaults, **hyper})  # every Bound and Rule: raises torch's error otherwise

    valid()


@pytest.mark.parametrize("name", ["Adam", "SGD", "Rprop", "Adafactor"])
def test_boundary_examples_reach_every_closed_end_and_stay_inside(name):
    examples = edge_examples(name, "float64")
    drawn = [e.hyper for e in examples]
    for bound in table_of(name).bounds().values():
        for end, open_ in ((bound.low, bound.low_open), (bound.high, bound.high_open)):
            if end is None:
                continue
            values = [bound.value_of({**constructor_defaults(name), **h}) for h in drawn if bound.name in h]
            assert open_ or float(end) in values, f"{name}: {bound.name}[{bound.index}] never at {end}"
            # outside the domain is argument validation, the API layer's test_invalid_argument
            assert all(bound.holds(v) for v in values), f"{name}: {bound.name} outside its domain"


def test_boundary_examples_leave_out_what_the_class_lacks():
    assert not [e for e in edge_examples("Adam", "float64", frozenset({"eps"})) if "eps" in e.hyper]
    assert [e for e in edge_examples("Adam", "float64") if "eps" in e.hyper]


def test_an_example_outside_a_bound_is_refused_by_the_reference():
    negative_lr = replace(edge_examples("SGD", "float64")[0], hyper={"lr": -1.0})
    with pytest.raises(properties.Refused, match="Invalid learning rate"):
        properties.reference(negative_lr, "float64")


@FEW_SLOW
@given(example=optimizer_examples("Adam", "float32"))
def test_examples_round_trip_through_their_json_form(example):
    again = OptimizerExample.from_dict(json.loads(json.dumps(example.to_dict())))
    assert again.to_dict() == example.to_dict()
    for a, b in zip(again.params, example.params, strict=True):
        assert a.dtype == np.float64 and np.array_equal(a, b) and np.array_equal(a, a.astype(np.float32))


@FEW_SLOW
@given(example=optimizer_examples("Muon", "float64"))
def test_muon_examples_are_matrices(example):
    assert all(p.ndim == 2 for p in example.params)


@pytest.mark.parametrize("name", [n for n in SCHEDULERS if n != "LRScheduler"])
def test_scheduler_scripts_mostly_run_on_the_reference(name):
    outcomes = []

    @FEW_SLOW
    @given(meta=scheduler_examples(name, ("StepLR", "LinearLR")))
    def run(meta):
        try:
            outcomes.append(bool(schedule_properties.reference_schedule(meta)))
        except properties.Rejected:
            outcomes.append(False)

    run()
    assert sum(outcomes) >= len(outcomes) // 2, f"{name}: {outcomes.count(False)} of {len(outcomes)} refused"


def test_running_scales_keep_the_largest_magnitude_per_name_from_the_start():
    names = [["param 0", "state"], ["param 0", "state"]]
    expected = [[np.array([1e-8]), np.array([3.0])], [np.array([-4.0]), np.array([1.0])]]
    scales = running_scales(names, expected, {"param 0": np.array([2.0, -1.0])}, floor=0.5)
    assert scales == [[2.0, 3.0], [4.0, 3.0]]
    assert running_scales([["x"]], [[np.zeros(2)]], {}, floor=0.5) == [[0.5]]


def test_a_cancelling_step_is_measured_at_its_operands_scale():
    # 1 - (1 - 1e-8): float32 rounds the update to 1 and ends at 0, the exact answer is 1e-8
    actual, expected, start = [[np.array(0.0)]], [[np.array(1e-8)]], {"p": np.array(1.0)}
    per_step = trajectory_divergence(actual, expected, [1e-6], 1e-7)
    running = trajectory_divergence(
        actual, expected, [1e-6], 1e-7, running_scales([["p"]], expected, start, 0)
    )
    assert per_step.first_bad_step == 1 and per_step.max_rel == 1.0
    assert running.first_bad_step is None and running.max_rel == pytest.approx(1e-8)


def _rmsprop_case(v: float, m: float, eps: float) -> SimpleNamespace:
    meta = {
        "steps": 1,
        "checkpoints": [1],
        "groups": [{"shapes": [[1]]}],
        "checkpoint_param_groups": {"1": [{"centered": True, "eps": eps}]},
    }
    arrays = {"state/1/0/square_avg": np.array([v]), "state/1/0/grad_avg": np.array([m])}
    return SimpleNamespace(meta=meta, arrays=arrays)


def test_a_zero_centered_variance_is_a_singular_point():
    assert not centered_variance(_rmsprop_case(4.0, 2.0, 1e-8), "float64")  # v = m^2: sqrt at 0
    assert centered_variance(_rmsprop_case(4.0, 1.0, 1e-8), "float64")
    # a variance of 1e-12 v: its rounding (~4e-16) moves sqrt(1e-12) by 2e-10 relative, past half of
    # float64's 1e-10 tolerance, unless an eps much larger than the root hides it
    assert not centered_variance(_rmsprop_case(1.0, 1 - 5e-13, 0.0), "float64")
    assert not centered_variance(_rmsprop_case(1.0, 1 - 5e-13, 1.0), "float64")
    assert centered_variance(_rmsprop_case(1.0, 1 - 5e-13, 1e3), "float64")


def test_profiles_are_registered_and_ci_is_deterministic():
    profiles.register()  # what conformance/conftest.py does at import, before Hypothesis loads a profile
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.database is None and ci.deadline is None
    assert settings.get_profile("thorough").max_examples > settings.get_profile("dev").max_examples
    assert profiles.chosen(None) == ci


def _digests(tmp_path: Path, hash_seed: str, select: str) -> dict[str, str]:
    report = tmp_path / f"report-{hash_seed}"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "conformance/test_properties.py",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    command += ["-k", select, "--report-dir", str(report)]
    subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": hash_seed}, capture_output=True)
    records = json.loads((report / "results.json").read_text())["records"]
    return {r["test"]: r["examples_sha256"] for r in records if r.get("examples_sha256")}


def test_the_same_examples_are_drawn_under_any_hash_seed_and_selection(tmp_path):
    pytest.importorskip("torch")
    alone = _digests(tmp_path, "0", "SGD-float32-cpu-forloop or StepLR-")
    with_others = _digests(tmp_path, "4242", "SGD-float32-cpu-forloop or Adam-float64-cpu-forloop or StepLR-")
    assert alone and all(with_others[test] == digest for test, digest in alone.items())
