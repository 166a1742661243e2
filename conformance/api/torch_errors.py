"""torch's own error inputs for its optimizers, as data: every literal entry of ``optim_error_inputs_func_*``
in torch 2.13's ``torch/testing/_internal/common_optimizers.py`` (shipped in the wheel) that runs on CPU.

Listed here rather than imported: that module needs torch's test dependencies, and a candidate that is not
torch must not need torch's testing internals. The entries are torch's (params, kwargs, the error's type
and the regex torch's tests match its message with, whether construction or the first step raises); on CPU
they instantiate to 124 cases over the 15 classes (``tests/test_api_layer.py`` counts them). The check
(``test_torch_error_input``) wants the candidate's error to match torch's regex and the reference to raise
the same where it can represent the input (a sparse-layout param has no NumPy form).

Params are named, built by ``conformance.api.torch_side``: ``"default"`` (a 2-D param, as torch's test
uses for Muon's sake), ``"bare"`` (the param itself, not in a list), ``"duplicate"`` (one param twice),
``"duplicate_across_groups"``, ``"named_and_unnamed"`` (``[("weight", p), p2]``),
``"named_and_unnamed_groups"``, ``"complex"``, ``"non_2d"``, ``"sparse"``, ``"sparse_in_group"``. A
``Tensor(value)`` in kwargs is a tensor of that value (torch's default dtype).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from refimpl.optim import MODULES

SOURCE = "https://github.com/pytorch/pytorch/blob/v2.13.0/torch/testing/_internal/common_optimizers.py"


@dataclass(frozen=True)
class Tensor:
    """A tensor argument (``torch.tensor(value)``; an array for the reference)."""

    value: Any


@dataclass(frozen=True)
class ErrorInput:
    desc: str
    error: str  # "TypeError", "ValueError", "RuntimeError", or "UserWarning" (a warning, not an exception)
    regex: str
    params: str = "default"
    kwargs: dict[str, Any] = field(default_factory=dict)
    on_step: bool = False

    @property
    def id(self) -> str:
        return self.desc.replace(" ", "_")


# ``get_error_inputs_for_all_optims``: every class.
COMMON = (
    ErrorInput(
        "invalid param type",
        "TypeError",
        "params argument given to the optimizer should be an iterable of Tensors or dicts",
        params="bare",
    ),
    ErrorInput(
        "a param group cannot have duplicate parameters",
        "UserWarning",
        ".*a parameter group with duplicate parameters.*",
        params="duplicate",
    ),
    ErrorInput(
        "duplicate parameters should not occur across param groups either",
        "ValueError",
        "some parameters appear in more than one parameter group",
        params="duplicate_across_groups",
    ),
    ErrorInput(
        "Tensor lr must be 1-element",
        "ValueError",
        "Tensor lr must be 1-element",
        kwargs={"lr": Tensor([0.001, 0.001])},
    ),
    ErrorInput(
        "all optimizer params should be with/without names",
        "ValueError",
        "all optimizer params should be with/without names. Some param names are missing",
        params="named_and_unnamed",
    ),
    ErrorInput(
        "all optimizer param groups should be with/without names.",
        "ValueError",
        "all optimizer param groups should be with/without names. "
        "cannot add param group with names to the optimizer",
        params="named_and_unnamed_groups",
    ),
)

_BETA1 = ErrorInput(
    "beta1 should be between 0 and 1",
    "ValueError",
    "Invalid beta parameter at index 0: 1.0",
    kwargs={"lr": 1e-2, "betas": (1.0, 0.0)},
)
_ADAM = (
    _BETA1,
    ErrorInput(
        "weight_decay should > 0",
        "ValueError",
        "Invalid weight_decay value: -1",
        kwargs={"lr": 1e-2, "weight_decay": -1},
    ),
    ErrorInput(
        "lr as Tensor doesn't work with foreach & not capturable",
        "ValueError",
        "lr as a Tensor is not supported for capturable=False and foreach=True",
        kwargs={"lr": Tensor(0.001), "foreach": True},
    ),
    ErrorInput(
        "betas must be either both floats or both Tensors",
        "ValueError",
        "betas must be either both floats or both Tensors",
        kwargs={"lr": 1e-2, "betas": (0.9, Tensor(0.99))},
    ),
    ErrorInput(
        "betas must be either both floats or both Tensors (first a Tensor)",
        "ValueError",
        "betas must be either both floats or both Tensors",
        kwargs={"lr": 1e-2, "betas": (Tensor(0.9), 0.99)},
    ),
    ErrorInput(
        "betas[0] as a Tensor is not supported for capturable=False and foreach=True",
        "ValueError",
        r"betas\[0\] as a Tensor is not supported for capturable=False and foreach=True",
        kwargs={"lr": 1e-2, "betas": (Tensor(0.9), Tensor(0.99)), "foreach": True},
    ),
)
_COMPLEX_AT_STEP = "{} does not support complex parameters"

# The class-specific entries that run on CPU (the CUDA-only fused/foreach ones are left out, as torch does).
SPECIFIC: dict[str, tuple[ErrorInput, ...]] = {
    "Adadelta": (
        ErrorInput(
            "rho should be between 0 and 1",
            "ValueError",
            "Invalid rho value: 1.1",
            kwargs={"lr": 1e-2, "rho": 1.1},
        ),
    ),
    "Adafactor": (
        ErrorInput(
            "epsilon1 should be >= 0", "ValueError", "epsilon1 should be >= 0", kwargs={"eps": (-1e-30, 1e-3)}
        ),
        ErrorInput("invalid d", "ValueError", "Clipping threshold d should be >= 1", kwargs={"d": 0.0}),
        ErrorInput(
            "invalid beta2_decay", "ValueError", "beta2_decay should be <= 0", kwargs={"beta2_decay": 0.8}
        ),
        ErrorInput(
            "does not support complex parameters",
            "RuntimeError",
            "Adafactor does not support complex parameters",
            params="complex",
            on_step=True,
        ),
    ),
    "Adagrad": (
        ErrorInput(
            "lr_decay must be bigger than 0",
            "ValueError",
            "Invalid lr_decay value: -0.5",
            kwargs={"lr": 1e-2, "lr_decay": -0.5},
        ),
    ),
    "Adam": _ADAM,
    "AdamW": _ADAM,
    "Adamax": (
        ErrorInput(
            "beta2 should be between 0 and 1",
            "ValueError",
            "Invalid beta parameter at index 1: 1.0",
            kwargs={"lr": 1e-2, "betas": (0.0, 1.0)},
        ),
    ),
    "ASGD": (
        ErrorInput(
            "weight_decay should > 0",
            "ValueError",
            "Invalid weight_decay value: -0.5",
            kwargs={"lr": 1e-2, "weight_decay": -0.5},
        ),
    ),
    "LBFGS": (),
    "Muon": (
        ErrorInput(
            "only support 2D parameters", "ValueError", "Muon only supports 2D parameters", params="non_2d"
        ),
        ErrorInput(
            "only support `original` and `match_rms_adamw`",
            "ValueError",
            "Adjust learning rate function arbitrary is not supported",
            kwargs={"adjust_lr_fn": "arbitrary"},
        ),
        ErrorInput(
            "does not support complex parameters",
            "RuntimeError",
            "Muon does not support complex parameters",
            params="complex",
            on_step=True,
        ),
    ),
    "NAdam": (
        _BETA1,
        ErrorInput(
            "momentum_decay should > 0",
            "ValueError",
            "Invalid momentum_decay value: -0.2",
            kwargs={"lr": 1e-2, "momentum_decay": -0.2},
        ),
    ),
    "RAdam": (
        _BETA1,
        ErrorInput(
            "weight_decay should > 0",
            "ValueError",
            "Invalid weight_decay value: -1",
            kwargs={"lr": 1e-2, "weight_decay": -1},
        ),
    ),
    "RMSprop": (
        ErrorInput(
            "momentum should be between 0 and 1",
            "ValueError",
            "Invalid momentum value: -1.0",
            kwargs={"lr": 1e-2, "momentum": -1.0},
        ),
    ),
    "Rprop": (
        ErrorInput(
            "0 < eta1 < 1 < eta2",
            "ValueError",
            "Invalid eta values: 1.0, 0.5",
            kwargs={"lr": 1e-2, "etas": (1.0, 0.5)},
        ),
    ),
    "SGD": (
        ErrorInput(
            "momentum should be between 0 and 1",
            "ValueError",
            "Invalid momentum value: -0.5",
            kwargs={"lr": 1e-2, "momentum": -0.5},
        ),
    ),
    "SparseAdam": (
        _BETA1,
        ErrorInput(
            "dense params required",
            "ValueError",
            "SparseAdam requires dense parameter tensors",
            params="sparse",
        ),
        ErrorInput(
            "dense params required in param_groups",
            "ValueError",
            "SparseAdam requires dense parameter tensors",
            params="sparse_in_group",
        ),
        ErrorInput(
            "complex not supported",
            "ValueError",
            "SparseAdam does not support complex parameters",
            params="complex",
        ),
    ),
}
assert set(SPECIFIC) == set(MODULES), "every optimizer needs its entry (empty: only the common inputs)"


def error_inputs(name: str) -> list[ErrorInput]:
    """torch's CPU error inputs for optimizer ``name``: the common ones, then its own."""
    return [*COMMON, *SPECIFIC[name]]
