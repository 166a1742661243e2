"""What the JAX-based adapters (optax, Keras on its JAX backend) share: float64 switched on, dtypes,
versions, torch's state entries and the options these libraries lack, and the adapter protocol's
boilerplate (``JaxAdapter``).

JAX computes in float32 unless ``jax_enable_x64`` is set; the suite's float64 checks need it, and it changes
nothing for float32 arrays (their dtype is explicit), so the adapters set it once when they are built, as a
user asking for float64 does.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from conformance.adapters.base import Capabilities, ClassDeclaration, NotSupported

# The suite's dtype names -> (real, complex) NumPy dtypes that JAX computes in on CPU.
DTYPES = {"float64": (np.float64, np.complex128), "float32": (np.float32, np.complex64)}
# torch's state entries of the classes the JAX libraries port (each adapter declares those its port holds).
TORCH_STATE_KEYS = {
    "SGD": ("momentum_buffer",),
    "Adam": ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "AdamW": ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "Adamax": ("step", "exp_avg", "exp_inf"),
    "NAdam": ("step", "exp_avg", "exp_avg_sq"),
    "RAdam": ("step", "exp_avg", "exp_avg_sq"),
    "RMSprop": ("step", "square_avg", "grad_avg", "momentum_buffer"),
    "Adagrad": ("step", "sum"),
    "Adadelta": ("step", "square_avg", "acc_delta"),
    "Rprop": ("step", "step_size", "prev"),
    "Muon": ("momentum_buffer",),
}
# torch's schedulers that optax and Keras both ship a closed form of (each adapter's schedules module maps
# them; optax has more).
CLOSED_FORM_SCHEDULERS = (
    "StepLR",
    "ExponentialLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
)
# torch options neither optax nor Keras has a counterpart for (a check setting one is "not supported"):
# SGD's momentum has no dampening, Adagrad's lr no decay, and NAdam is Dozat's, without a momentum schedule.
LACKS = {
    "SGD": frozenset({"dampening"}),
    "Adagrad": frozenset({"lr_decay"}),
    "NAdam": frozenset({"momentum_decay"}),
}


def import_jax() -> Any:
    """``jax`` with float64 enabled; a one-line ``NotSupported`` naming the extra when it is not installed."""
    try:
        import jax
    except ImportError as e:
        raise NotSupported(f"JAX is not installed ({e}): pip install 'optim-conformance[optax]'") from None
    jax.config.update("jax_enable_x64", True)
    return jax


def versions(*dists: str) -> str:
    """``"optax 0.2.8, jax 0.10.2, jaxlib 0.10.2"``: the installed versions, for the report's header."""

    def one(dist: str) -> str:
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            return f"{dist} (not installed)"

    return ", ".join(one(d) for d in dists)


def cast(array: Any, dtype: str) -> np.ndarray:
    """A float64/complex128 NumPy array in the run's precision (complex stays complex)."""
    real, cplx = DTYPES[dtype]
    return np.asarray(array, dtype=cplx if np.iscomplexobj(array) else real)


class JaxAdapter:
    """The adapter protocol (``conformance/adapters/base.py``) for a JAX library: a subclass names its
    distributions and builds its runs (``optimizer_run``, ``scheduler_run``); this checks the dtype, which
    JAX on CPU computes in float64 and float32 only, and declares its classes to the harness."""

    name = ""
    dists: tuple[str, ...] = ()  # the distributions whose versions the report's header names

    def version(self) -> str:
        return versions(*self.dists)

    def declared(
        self,
        optimizers: frozenset[str],
        schedulers: frozenset[str],
        lacks: dict[str, frozenset[str]],
        state_keys: dict[str, tuple[str, ...]],
        features: frozenset[str],
        **declaration: Any,
    ) -> Capabilities:
        """Capabilities on CPU in ``DTYPES``; per class the options it lacks and the torch state entries
        its port holds (compared under torch's names). These libraries check none of their arguments
        (validation is torch's API, not arithmetic): "not supported"."""
        declarations = {
            name: ClassDeclaration(
                lacks=lacks.get(name, frozenset()),
                state_keys={k: k for k in state_keys[name]},
                validates=False,
                **declaration,
            )
            for name in optimizers
        }
        return Capabilities(
            optimizers=optimizers,
            schedulers=schedulers,
            dtypes=frozenset(DTYPES),
            variants={"cpu": ("default",)},
            features=features,
            declarations=declarations,
        )

    def make_optimizer(
        self,
        name: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        *,
        dtype: str,
        device: str,
        variant: str,
    ) -> Any:
        if dtype not in DTYPES:
            raise NotSupported(f"the {self.name} adapter runs float64 and float32, not {dtype}")
        return self.optimizer_run(name, groups, hyper, dtype)

    def make_scheduler(
        self,
        specs: list[dict[str, Any]],
        *,
        optimizer: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        device: str,
    ) -> Any:
        return self.scheduler_run(specs, optimizer, groups, hyper)

    def optimizer_run(
        self, name: str, groups: list[dict[str, Any]], hyper: dict[str, Any], dtype: str
    ) -> Any:
        raise NotImplementedError

    def scheduler_run(
        self, specs: list[dict[str, Any]], optimizer: str, groups: list[dict[str, Any]], hyper: dict[str, Any]
    ) -> Any:
        raise NotImplementedError
