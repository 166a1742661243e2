"""How many bytes one optimizer step must move per parameter element: the numerator of the effective
bandwidth that ``--bench`` reports.

Each entry counts the full-size tensors an ideal kernel has to read and write per element for the
hyperparameters the benchmark uses (``HYPER``), counted from torch 2.13's single-tensor algorithm
(``torch/optim/<name>.py``, ``_single_tensor_<name>``) and the per-parameter state it keeps (the keys listed
below; scalar state such as ``step``, ASGD's ``eta``/``mu`` or NAdam's ``mu_product`` is one number per
tensor and does not count). Multiply by the dtype's size for bytes. A real for-loop implementation moves
more (temporaries); that is exactly what the effective bandwidth exposes.

``tests/test_bench.py`` checks every entry's state count against torch's own optimizer state.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Traffic:
    """Full-size tensor passes per element: ``reads`` and ``writes``; ``state`` names the per-element state
    tensors (as torch's ``optimizer.state`` keys); ``why`` says where the count comes from."""

    reads: int
    writes: int
    state: tuple[str, ...]
    why: str

    @property
    def passes(self) -> int:
        return self.reads + self.writes


# Hyperparameters of the benchmarked configuration: torch's defaults, except SGD with momentum (its common
# use, and the one with state).
HYPER: dict[str, dict[str, object]] = {"SGD": {"momentum": 0.9}}

TRAFFIC: dict[str, Traffic] = {
    "SGD": Traffic(3, 2, ("momentum_buffer",), "reads p, g, buf; writes p, buf (momentum=0.9)"),
    "Adam": Traffic(4, 3, ("exp_avg", "exp_avg_sq"), "reads p, g, m, v; writes p, m, v"),
    "AdamW": Traffic(4, 3, ("exp_avg", "exp_avg_sq"), "reads p, g, m, v; writes p, m, v (decay on p)"),
    "Adamax": Traffic(4, 3, ("exp_avg", "exp_inf"), "reads p, g, m, u; writes p, m, u"),
    "NAdam": Traffic(4, 3, ("exp_avg", "exp_avg_sq"), "reads p, g, m, v; writes p, m, v"),
    "RAdam": Traffic(4, 3, ("exp_avg", "exp_avg_sq"), "reads p, g, m, v; writes p, m, v"),
    "Adadelta": Traffic(
        4, 3, ("square_avg", "acc_delta"), "reads p, g, square_avg, acc_delta; writes p and both"
    ),
    "Adagrad": Traffic(3, 2, ("sum",), "reads p, g, sum; writes p, sum"),
    "RMSprop": Traffic(3, 2, ("square_avg",), "reads p, g, square_avg; writes p, square_avg (defaults)"),
    "Rprop": Traffic(4, 3, ("prev", "step_size"), "reads p, g, prev, step_size; writes p, prev, step_size"),
    "ASGD": Traffic(3, 2, ("ax",), "reads p, g, ax; writes p, ax (eta, mu are scalars)"),
    # Two passes are unavoidable: the step needs the RMS of the params and of the whole update (two
    # reductions) before any element can be written, so p, g and the variance are read twice.
    "Adafactor": Traffic(
        6, 2, ("variance",), "1-D params: pass 1 reads p, g, v, writes v; pass 2 reads p, g, v, writes p"
    ),
}

# Optimizers the per-element bandwidth model does not describe, and why they are not benchmarked.
NOT_BENCHED: dict[str, str] = {
    "LBFGS": "closure-driven: a step is a line search of objective evaluations, not an elementwise update",
    "SparseAdam": "takes sparse gradients only: its cost depends on the rows touched, not on the size",
    "Muon": "compute-bound (Newton-Schulz matrix products on 2-D params): bytes per element do not apply",
}
