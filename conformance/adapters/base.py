"""The adapter protocol: the one small interface through which the harness drives any implementation.

An adapter wraps a candidate (torch.optim, a drop-in library, a JAX/MLX/Keras port, a fused kernel) so the
harness can build an optimizer or scheduler from a name and hyperparameters, step it, and read what it
computed, all in NumPy. Anything the candidate does not support is declared in ``capabilities()`` and
reported as "not supported", never as a failure.

A minimal adapter implements ``capabilities`` and ``make_optimizer`` returning an ``OptimizerRun``;
a ``SchedulingAdapter`` adds ``make_scheduler`` returning a ``SchedulerRun`` for the schedulers it declares
in ``Capabilities.schedulers`` (any other scheduler case is "not supported"); a ``SwaAdapter`` adds
``make_averaged_model`` and ``update_bn`` for the swa_utils it declares in ``Capabilities.swa``. See the
README's "Plugging in an implementation" for a complete example.

A candidate that differs from torch on purpose says so per class with a ``ClassDeclaration`` in
``Capabilities.declarations`` (options it lacks, its state layout, the precision of its scalar
hyperparameters, whether it validates arguments): the harness then reports "not supported: <option>" for
what it lacks, compares its state through the declared key map, and derives its tolerances from the declared
scalar precision, instead of failing it. This part of the protocol is stable: later fields get defaults that
keep today's meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

# An objective evaluated at the candidate's current params: params -> (loss, grads).
Closure = Callable[[list[np.ndarray]], tuple[float, list[np.ndarray]]]


@dataclass(frozen=True)
class ClassDeclaration:
    """What one class of the candidate declares about itself, where it differs from torch's on purpose.

    - ``lacks``: torch constructor options the class does not have (``{"amsgrad", "foreach"}``). A check
      that needs one at a non-default value is "not supported: <option>"; the API checks drop it from their
      setups (so it takes its default) where the check does not need it; the property layer never draws it;
      and the harness never passes such an option to ``make_optimizer``, even at its default. For
      ``torch:MODULE`` candidates it is derived from the constructor's signature (an argument torch's has
      and the class's lacks).
    - ``state_keys``: ``None`` (the default): the state is in torch's layout, ``state_dict()["state"][i]``
      holding torch's keys. A mapping ``{torch key: candidate key}`` (``{"exp_avg": "mu", "exp_avg_sq":
      "nu"}``): only these keys are compared, read under the candidate's names (and teacher forcing loads
      the reference's state under those names: every key the candidate needs must be mapped). An empty
      mapping: the state is not comparable at all; params are still compared and every record says "state:
      not comparable".
    - ``scalar_dtype``: the precision the class keeps its scalar hyperparameters in (``"float32"`` for a
      library that stores ``lr``, ``betas``, ``eps`` as float32 scalars whatever the params' dtype). The
      tolerance of a check in a finer dtype then adds what rounding the scalars to that precision can
      move, measured on the reference (``conformance.scalars``); the derivation is shown in the report.
    - ``validates``: ``False`` for a class that does not check its arguments (many JAX/Keras/MLX APIs): the
      argument-validation checks are "not supported" instead of failing on every bound.
    """

    lacks: frozenset[str] = frozenset()
    state_keys: Mapping[str, str] | None = None
    scalar_dtype: str | None = None
    validates: bool = True

    def merged(self, other: ClassDeclaration) -> ClassDeclaration:
        """This declaration with ``other``'s explicit choices on top (``lacks`` united)."""
        return ClassDeclaration(
            lacks=self.lacks | other.lacks,
            state_keys=other.state_keys if other.state_keys is not None else self.state_keys,
            scalar_dtype=other.scalar_dtype or self.scalar_dtype,
            validates=self.validates and other.validates,
        )


TORCH_LAYOUT = ClassDeclaration()


@dataclass(frozen=True)
class Capabilities:
    """What a candidate supports. ``variants[device_type]`` lists the variants runnable on that device type
    (``"cpu"``, ``"cuda"``); a candidate with a single implementation uses ``("default",)``."""

    optimizers: frozenset[str]
    schedulers: frozenset[str] = frozenset()
    dtypes: frozenset[str] = frozenset({"float64", "float32"})
    variants: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"cpu": ("default",)})
    # Optional behaviours, checked only where declared: "state_dict" (read/load optimizer state in torch's
    # layout), "sparse" (SparseGrad gradients), "complex" (complex params), "torch_api" (the adapter has
    # ``module`` and ``classes()``: the candidate's own classes with torch.optim's API, which the API checks
    # in conformance/test_api/ drive directly: zero_grad, nn.Module params, torch.save, schedulers).
    features: frozenset[str] = frozenset({"state_dict"})
    # Per class name, what the class declares where it differs from torch's on purpose (see
    # ``ClassDeclaration``); a class not listed behaves as torch's (``TORCH_LAYOUT``).
    declarations: Mapping[str, ClassDeclaration] = field(default_factory=dict)
    # The swa_utils functions the candidate has, by torch's names (``AveragedModel``, ``update_bn``,
    # ``get_ema_avg_fn``, ``get_swa_avg_fn``, ``get_ema_multi_avg_fn``, ``get_swa_multi_avg_fn``), run through
    # a ``SwaAdapter``'s methods; SWALR is a scheduler and is declared in ``schedulers``.
    swa: frozenset[str] = frozenset()
    # Variants run only when ``--variant`` names them or says ``all`` (the torch adapter's ``differentiable``,
    # ``compile`` and ``capturable``): modes too slow, or too specialised, for every default run.
    opt_in: frozenset[str] = frozenset()

    def devices(self) -> list[str]:
        return list(self.variants)

    def declaration(self, name: str) -> ClassDeclaration:
        """Class ``name``'s declaration (torch's behaviour where it declares nothing)."""
        return self.declarations.get(name, TORCH_LAYOUT)


class OptimizerRun(Protocol):
    """One live optimizer of the candidate, over params that started as the given NumPy arrays."""

    def step(self, grads: list[Any]) -> None:
        """One step with these gradients (``None``: no gradient; ``SparseGrad``: a sparse one)."""

    def step_closure(self, closure: Closure) -> float:
        """One step of a closure-driven optimizer (LBFGS); returns what its ``step`` returns."""

    def params(self) -> list[np.ndarray]:
        """The current params, in group order, as NumPy arrays (float64 copies are fine)."""

    def state_dict(self) -> dict[str, Any]:
        """The optimizer state in torch's layout: {"state": {index: {key: array}}, "param_groups": [...]}."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict in torch's layout (arrays as NumPy). The run stays the variant it was built as,
        whatever the state dict's param groups say (torch's own ``load_state_dict`` takes ``foreach`` and
        ``fused`` from the saved groups; the harness loads the reference's state to test a variant)."""

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        """``param_groups[group][key] = value`` between steps (the dynamic-lr recipe)."""


class SchedulerRun(Protocol):
    """An optimizer of the candidate with one or more LR schedulers built on it, stepped as a user does.

    Only the schedule is under test: the optimizer's params get no gradients, it is stepped only so that
    torch's step-order check sees ``optimizer.step()`` before ``scheduler.step()``.
    """

    def step(self, metric: float | None = None) -> None:
        """One epoch: ``optimizer.step()``, then every scheduler's ``step()`` in construction order
        (``step(metric)`` for ReduceLROnPlateau)."""

    def group_values(self, key: str) -> list[Any]:
        """``[group[key] for group in optimizer.param_groups]``: lrs, momenta or betas."""

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        """``param_groups[group][key] = value`` between epochs (the "set the lr by hand" recipe)."""

    def state_dict(self) -> Any:
        """A checkpoint of the optimizer and every scheduler, independent of the live objects (a deep copy,
        as ``torch.save`` makes); only ever passed back to ``load_state_dict`` of a fresh run."""

    def load_state_dict(self, state_dict: Any) -> None:
        """Resume from ``state_dict()``: the optimizer's state first, then each scheduler's, as torch's
        docs prescribe (the fresh run was built with the same specs)."""


class AveragedModelRun(Protocol):
    """One live averaged model of the candidate (``AveragedModel``) over a model given as arrays."""

    def update_parameters(self, params: list[np.ndarray], buffers: list[np.ndarray]) -> None:
        """Set the model's params and buffers to these arrays, then ``averaged.update_parameters(model)``."""

    def params(self) -> list[np.ndarray]:
        """The averaged model's params, in the model's order."""

    def buffers(self) -> list[np.ndarray]:
        """The averaged model's buffers (averaged with ``use_buffers``, else copied from the model)."""

    def n_averaged(self) -> int:
        """How many models have been averaged."""


@runtime_checkable
class Adapter(Protocol):
    name: str

    def version(self) -> str: ...

    def capabilities(self) -> Capabilities: ...

    def make_optimizer(
        self,
        name: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        *,
        dtype: str,
        device: str,
        variant: str,
    ) -> OptimizerRun:
        """Build optimizer ``name``; ``groups`` are param-group dicts whose ``params`` are NumPy arrays
        (float64 or complex128: the adapter casts them to ``dtype`` on ``device``)."""
        ...


@runtime_checkable
class SchedulingAdapter(Adapter, Protocol):
    """An adapter that also runs LR schedulers: those named in ``capabilities().schedulers``."""

    def make_scheduler(
        self,
        specs: list[dict[str, Any]],
        *,
        optimizer: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        device: str,
    ) -> SchedulerRun:
        """Build optimizer ``optimizer`` over ``groups`` (param-group dicts, ``params`` NumPy arrays) with
        ``hyper``, then each of ``specs`` on it, in order.

        A spec is ``{"scheduler": torch class name, "kwargs": constructor kwargs without the optimizer}``;
        callables (``lr_lambda``, ``scale_fn``) are already resolved, and for SequentialLR and
        ChainedScheduler ``kwargs["schedulers"]`` is a list of nested specs, to be built on the same
        optimizer first. ``conformance.adapters.sched`` does all of this for a library with torch's API.
        """
        ...


@runtime_checkable
class SwaAdapter(Adapter, Protocol):
    """An adapter that also runs swa_utils: ``AveragedModel`` and ``update_bn``, as far as
    ``capabilities().swa`` declares them (the cases needing anything else are "not supported").
    ``conformance.adapters.swa`` does both for a library with torch's API and for the reference."""

    def make_averaged_model(
        self,
        params: list[np.ndarray],
        buffers: list[np.ndarray],
        options: dict[str, Any],
        dtype: str,
        device: str,
    ) -> AveragedModelRun:
        """The averaged model of a model whose params and buffers start as these arrays (float arrays already
        in ``dtype``; integer buffers stay integers). ``options`` as torch names them: ``use_buffers``, and
        ``avg_fn`` or ``multi_avg_fn`` naming the averaging: ``"ema"`` is the candidate's
        ``get_ema_avg_fn(decay)`` / ``get_ema_multi_avg_fn(decay)`` (``decay`` in ``options``, else the
        factory's default), ``"swa"`` its ``get_swa_avg_fn()`` / ``get_swa_multi_avg_fn()``; neither means
        the default equal-weight average. Raise ``NotSupported`` for what the candidate lacks."""
        ...

    def update_bn(
        self,
        layers: list[dict[str, Any]],
        batches: list[np.ndarray],
        *,
        pairs: bool,
        training: bool,
        dtype: str,
        device: str,
    ) -> dict[str, Any]:
        """Build the model ``layers`` describes, in order: ``{"layer": "Linear", "in", "out", "weight",
        "bias"}`` (arrays; no ``"bias"`` key for a layer without one), ``{"layer": "ReLU"}``, ``{"layer":
        "BatchNorm", "num_features", "eps", "momentum", "weight", "bias", "running_mean", "running_var",
        "num_batches_tracked"}`` (BatchNorm1d/2d/3d by the batches' rank, channels on axis 1); set its
        training mode to ``training``; run the candidate's
        ``update_bn`` over the batches (as ``(batch, target)`` tuples when ``pairs``). Return, per BatchNorm
        layer in order, ``"running_mean"``, ``"running_var"``, ``"num_batches_tracked"`` (arrays) and
        ``"momentum"``, and the model's ``"training"`` mode afterwards."""
        ...


class NotSupported(Exception):
    """Raised by an adapter (or a candidate) for a configuration it cannot run; the harness reports "not
    supported" with the message, never a failure, wherever it is raised (constructor, step, state dict)."""


class CandidateFault(Exception):
    """Raised by an adapter's own code to report the candidate's failure where the candidate's traceback is
    not at hand (a rank of a sharded candidate raised, hung or died in another process): the harness treats
    it as the candidate's error, a conformance failure, not as a bug of the suite's."""
