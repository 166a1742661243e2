"""RMSprop, Adadelta, Adagrad, ASGD, Rprop against torch: one table of cases, one differential test.

Each optimizer's own file (test_rmsprop.py, ...) holds its hand-derived checks; what is the same for all
five (pairwise option sweeps in float64 and complex128, two param groups with different hyperparameters,
``None`` gradients, hyperparameters changed mid-run, the error catalogue, sparse-gradient rejection, the
param-group keys) lives here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from differential import (
    assert_close,
    assert_same_error,
    invalid_kwargs,
    pairwise,
    raised,
    random_grads,
    run_pair,
    standard_groups,
    to_torch_grad,
)

import refimpl.optim as ref
from refimpl.optim import SparseGrad

torch = pytest.importorskip("torch")

# float64 against torch's float64 for-loop: the same operations in the same order. What differs is torch's
# CPU kernels fusing multiply-adds (``add`` with ``alpha``, ``addcmul``, ``lerp``): one rounding per step.
# Measured over 25 steps: Rprop 0 (bitwise equal), Adadelta 4e-15, Adagrad 5e-15, RMSprop 3e-14, ASGD 8e-14;
# the largest are on one-element params passing near zero, where the norm-wise error is the element-wise
# one. 1e-12 leaves over an order of magnitude above that and still fails any real formula error (those
# show up at 1e-3 and above).
RTOL = 1e-12


@dataclass(frozen=True)
class Case:
    """One optimizer's differential sweep: pairwise over ``options``, on top of ``hyper``."""

    name: str
    hyper: dict[str, Any]
    options: dict[str, list[Any]]
    second_group: dict[str, Any]  # hyperparameters of the second param group only
    changes: dict[int, list[tuple[int, str, Any]]]  # mid-run assignments to param_groups (see run_pair)
    grads: Any = field(default_factory=lambda: random_grads(none_every=4))


def flipping_grads(t: int, i: int, p: np.ndarray) -> np.ndarray | None:
    """Rprop's inputs: signs that persist for a few steps (step sizes grow to the max) and then flip
    (they shrink to the min), different per element; exact zeros too; ``None`` now and then."""
    if (t + i) % 5 == 0 and (t, i) != (0, 0):
        return None
    rng = np.random.default_rng([7, i])
    period = rng.integers(1, 6, size=p.shape)  # period 1: the sign flips every step
    g = np.where((t // period) % 2 == 0, 1.0, -1.0) * rng.uniform(0.5, 2.0, size=p.shape)
    g = np.where(rng.random(p.shape) < 0.1, 0.0, g)
    if p.dtype.kind == "c":
        g = g + 1j * np.where((t // (period + 1)) % 2 == 0, -1.0, 1.0)
    return np.asarray(g, dtype=p.dtype)


CASES = [
    Case(
        "RMSprop",
        {"lr": 0.01},
        {
            "momentum": [0.0, 0.9],
            "centered": [False, True],
            "weight_decay": [0.0, 0.1],
            "maximize": [False, True],
            # alpha < 0.5: torch's lerp for grad_avg takes its other branch
            "alpha": [0.99, 0.3],
        },
        # a momentum in the second group only: the two groups' states have different keys
        {"lr": 0.003, "momentum": 0.5, "eps": 1e-3},
        {10: [(0, "lr", 0.02)], 15: [(1, "alpha", 0.8)]},
    ),
    Case(
        "Adadelta",
        {"lr": 1.0},
        {
            "rho": [0.9, 0.5],
            "eps": [1e-6, 1e-2],
            "weight_decay": [0.0, 0.1],
            "maximize": [False, True],
        },
        {"lr": 0.5, "rho": 0.7},
        {10: [(0, "lr", 0.3)], 15: [(1, "rho", 0.95)]},
    ),
    Case(
        "Adagrad",
        {"lr": 0.1},
        {
            "lr_decay": [0.0, 0.1],
            "initial_accumulator_value": [0.0, 0.5],
            "eps": [1e-10, 1e-3],
            "weight_decay": [0.0, 0.1],
            "maximize": [False, True],
        },
        {"lr": 0.05, "lr_decay": 0.2},
        {10: [(0, "lr", 0.02)], 15: [(1, "lr_decay", 0.05)]},
    ),
    Case(
        "ASGD",
        {"lr": 0.05},
        {
            "lambd": [1e-4, 0.5],
            "alpha": [0.75, 0.3],
            # t0 small so that the averaging (mu != 1) is exercised; 3.5: mu is not 1/k
            "t0": [0.0, 3.5, 1e6],
            "weight_decay": [0.0, 0.1],
            "maximize": [False, True],
        },
        {"lr": 0.02, "t0": 5.0},
        {10: [(0, "lr", 0.02)], 15: [(1, "lambd", 0.2)]},
    ),
    Case(
        "Rprop",
        {"lr": 0.1},
        {
            "etas": [(0.5, 1.2), (0.3, 1.9)],
            # (0.02, 0.3): the flipping gradients drive step sizes to both bounds within a few steps
            "step_sizes": [(1e-6, 50.0), (0.02, 0.3)],
            "maximize": [False, True],
        },
        # lr 0.5 above a max of 0.3 is clamped on the first step (torch's code, not its docs)
        {"lr": 0.5, "etas": (0.4, 1.5)},
        # an lr change after the state exists has no effect; a step_sizes change does
        {10: [(0, "lr", 0.02)], 15: [(1, "step_sizes", (0.05, 0.2))]},
        grads=flipping_grads,
    ),
]


def _params(case: Case) -> list[tuple[Case, dict[str, Any]]]:
    return [(case, config) for config in pairwise(case.options)]


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize(
    ("case", "config"),
    [p for case in CASES for p in _params(case)],
    ids=lambda x: x.name if isinstance(x, Case) else "-".join(f"{k}={v}" for k, v in x.items()),
)
def test_matches_torch(case: Case, config: dict[str, Any], dtype: Any) -> None:
    ref_traj, torch_traj = run_pair(
        case.name,
        standard_groups(dtype, **case.second_group),
        {**case.hyper, **config},
        case.grads,
        steps=25,
        changes=case.changes,
    )
    assert_close(ref_traj, torch_traj, RTOL)
    assert ref_traj.param_groups == torch_traj.param_groups


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_param_group_keys_match_torch(case: Case) -> None:
    ref_keys = list(getattr(ref, case.name)([np.zeros(2)]).param_groups[0])
    torch_keys = list(getattr(torch.optim, case.name)([torch.zeros(2)]).param_groups[0])
    assert ref_keys == torch_keys


def _error_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for case in CASES:
        module = __import__(f"refimpl.optim.{ref.MODULES[case.name]}", fromlist=["TABLE"])
        cases += [(case.name, kwargs) for kwargs in invalid_kwargs(module.TABLE, {"etas": (0.5, 1.2)})]
    return [
        *cases,
        ("Adagrad", {"fused": True, "foreach": True}),
        ("Adagrad", {"fused": True, "differentiable": True}),
        ("Rprop", {"etas": (0.5, float("nan"))}),
        ("Rprop", {"etas": (1.5, 0.5)}),
        # not validated by torch: accepted by both
        ("ASGD", {"lambd": -1.0, "alpha": -1.0, "t0": -5.0}),
        ("Rprop", {"step_sizes": (1.0, 0.1)}),
    ]


@pytest.mark.parametrize(("name", "kwargs"), _error_cases(), ids=str)
def test_invalid_arguments_raise_as_torch(name: str, kwargs: dict[str, Any]) -> None:
    assert_same_error(name, kwargs)


def assert_same_step_error(name: str, kwargs: dict[str, Any], params: list[np.ndarray], grads: list[Any]):
    """The first ``step`` raises in refimpl what it raises in torch (type and message, or neither)."""

    def torch_step() -> None:
        tensors = [torch.from_numpy(p.copy()).requires_grad_(True) for p in params]
        for t, g in zip(tensors, grads):
            t.grad = None if g is None else to_torch_grad(g)
        getattr(torch.optim, name)(tensors, **kwargs).step()

    expected = raised(torch_step)
    actual = raised(lambda: getattr(ref, name)([p.copy() for p in params], **kwargs).step(grads))
    assert actual == expected, f"{name}({kwargs}).step: refimpl raised {actual}, torch raised {expected}"


SPARSE = SparseGrad(np.array([0, 2]), np.ones((2, 3)), (4, 3))


@pytest.mark.parametrize("name", ["RMSprop", "Adadelta", "ASGD", "Rprop"])
def test_sparse_gradients_rejected_as_torch(name: str) -> None:
    assert_same_step_error(name, {}, [np.zeros((4, 3))], [SPARSE])


@pytest.mark.parametrize(
    ("kwargs", "params", "grads"),
    [
        ({"weight_decay": 0.1}, [np.zeros((4, 3))], [SPARSE]),
        ({"fused": True}, [np.zeros(3, dtype=np.complex128)], [np.ones(3, dtype=np.complex128)]),
        ({"fused": True}, [np.zeros((4, 3))], [SPARSE]),
        # only the first param with a gradient gets the dtype check; the complex one fails later
        ({"fused": True}, [np.zeros(3), np.zeros(3, dtype=np.complex128)], [np.ones(3), np.ones(3, complex)]),
        ({"fused": True}, [np.zeros(3)], [np.ones(3)]),
    ],
    ids=str,
)
def test_adagrad_step_errors_as_torch(kwargs: dict, params: list, grads: list) -> None:
    assert_same_step_error("Adagrad", kwargs, params, grads)
