"""The parametrization of the API checks: one case per optimizer class the candidate has, and per variant,
hyperparameter, invalid argument... as each check declares with ``@check(...)``.

Ids read as ``Class``, ``Class:detail`` and ``Class-variant`` / ``Class:detail-variant``
(``test_param_group_keys[Adam]``, ``test_hyperparameter_change[Adam:betas[0]-foreach]``), so
``-k "[adam] or [adam: or [adam-"`` selects everything about one class. A case that cannot run says why
(``unsupported``), and the plugin reports it as "not supported", never as a failure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance.adapters.base import NotSupported
from conformance.api.setups import SETUPS, Setup
from conformance.declarations import declaration, lacking, options_used
from conformance.options import checks
from conformance.plugin import Param, covers, not_supported

# What each optional feature (``Capabilities.features``) stands for, for the skip reasons.
FEATURES = {
    "torch_api": "its own classes driven through torch.optim's API, as torch and torch:MODULE candidates are",
    "state_dict": "reading and loading optimizer state in torch's layout",
    "complex": "complex params",
    "sparse": "sparse gradients",
}


@dataclass(frozen=True)
class ApiCase(Param):
    """One parametrization of an API check: a ``Param`` of the plugin (so known deviations and results.json
    treat it as any case) whose ``case`` is its id. ``variant`` is empty for checks of the class as a whole;
    ``payload`` carries the data behind ``detail`` (a new value, invalid arguments...)."""

    optimizer: str = ""
    detail: str = ""
    payload: Any = field(default=None, compare=False)
    # The options the case sets away from torch's defaults (known deviations can select by option).
    options: frozenset[str] = frozenset()

    @classmethod
    def make(cls, optimizer: str, detail: str, variant: str, dtype: str, device: str, **rest: Any) -> ApiCase:
        parts = [optimizer, f":{detail}" if detail else "", f"-{variant}" if variant else ""]
        return cls("".join(parts), dtype, device, variant, optimizer=optimizer, detail=detail, **rest)

    @property
    def id(self) -> str:
        return self.case


Details = Callable[[str, Any], Iterable[tuple[str, Any]]]  # (class name, session) -> (id, payload)


@dataclass(frozen=True)
class Spec:
    """What a check runs over.

    ``needs``: the features it requires; ``per_variant``: once per variant of the class;
    ``details(name, session)``: ``(detail id, payload)`` pairs, one case each; ``applies(setup, classes)``:
    whether the check is for this optimizer, given all the candidate's classes; ``limits``: the description
    an adapter's ``unsupported()`` reads (complex params, sparse gradients); ``uses(payload)``: the options a
    detail needs (a class that lacks one is "not supported" for it); ``runs(payload)``: the variants a detail
    runs (a state dict saved by one, loaded in another), each asked of ``unsupported()`` (a check of the class
    as a whole otherwise runs, and asks, its first variant); ``validation``: the check is about argument
    validation ("not supported" for a class declaring it validates nothing); ``variants``: with
    ``per_variant``, only these of the class's variants (a check of one variant's own behaviour).
    """

    needs: tuple[str, ...] = ()
    per_variant: bool = False
    details: Details | None = None
    applies: Callable[[Setup, frozenset[str]], bool] = lambda setup, classes: True
    limits: dict[str, Any] = field(default_factory=dict)
    uses: Callable[[Any], Iterable[str]] = lambda payload: ()
    runs: Callable[[Any], Iterable[str]] = lambda payload: ()
    validation: bool = False
    variants: tuple[str, ...] = ()


def check(**spec: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Declare a test function's cases (see ``Spec``). An exception the candidate raises where the check
    expects none becomes a conformance failure naming it and where it was raised (the check's ``api``
    context writes the message); one raised in the suite's own code stays an error of the suite."""

    def mark(func: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                func(*args, **kwargs)
            except NotSupported as e:  # the candidate cannot run this: never a failure
                skip = e
            except Exception as e:
                api = kwargs.get("api")
                if api is None or not api.raised_by_candidate(e):
                    raise
                api.fail(f"the candidate raised {type(e).__name__}: {e}", f"raised at {api.origin(e)}")
            else:
                return
            pytest.skip(not_supported(str(skip)))

        run.api_spec = Spec(**spec)  # type: ignore[attr-defined]
        return run

    return mark


def api_dtype(session: Any) -> str | None:
    """float64 where the run selects it and the candidate computes in it (semantics compare tightly there),
    else float32 where selected; in a run of bfloat16/float16 only, float32 where the candidate computes in
    it. The API checks compare semantics (groups, hooks, state dicts, hyperparameter changes) with the
    reference's float64 run within the dtype's trajectory tolerance: in a half dtype that is tens of
    percent after a few steps, which hides a one-step difference in semantics, and correct classes whose
    half arithmetic the model does not cover (LBFGS's line search, Muon, SparseAdam's for-loop) still leave
    it. The half arithmetic is the teacher-forced single steps' question (``conformance.halfsteps``).
    Else the first of the run's dtypes."""
    supported = session.adapter.capabilities().dtypes
    chosen = [d for d in session.dtypes if d in supported]
    for preferred in ("float64", "float32"):
        if preferred in chosen:
            return preferred
    if chosen and "float32" in supported:  # the run's dtypes are half ones
        return "float32"
    return chosen[0] if chosen else None


def offered_variants(session: Any, name: str) -> list[str]:
    """Every variant of ``name`` on the run's device."""
    device_type = session.device.split(":")[0]
    offered_by = getattr(session.adapter, "variants_of", None)
    if offered_by:
        return list(offered_by(name, device_type))
    return list(session.adapter.capabilities().variants.get(device_type, ("default",)))


def variants_of(session: Any, name: str) -> list[str]:
    """The variants of ``name`` on the run's device that the run selects (``--variant``, or by default)."""
    offered = offered_variants(session, name)
    chosen = checks.selected(session.variants, offered, session.adapter.capabilities())
    return [v for v in chosen if v in offered and covers(session.adapter, None, v)]


def class_variant(session: Any, name: str) -> str:
    """The variant a check of the class as a whole drives it through: the first the run selects that is not
    an opt-in mode (``--variant differentiable`` alone still checks the class as a whole with its first
    default variant, e.g. torch's for-loop; the opt-in variants have their own per-variant checks)."""
    capabilities = session.adapter.capabilities()
    chosen = [v for v in variants_of(session, name) if v not in capabilities.opt_in]
    default = checks.selected(None, offered_variants(session, name), capabilities)
    return next(iter(chosen or default), "default")


def _unsupported(
    session: Any, spec: Spec, setup: Setup, dtype: str | None, variants: Sequence[str]
) -> str | None:
    if session.skip_reason:
        return session.skip_reason
    if dtype is None:
        return f"not supported: {session.impl} computes in none of {', '.join(session.dtypes)}"
    features = session.adapter.capabilities().features
    for feature in spec.needs:
        if feature not in features:
            return f"not supported: {session.impl} does not declare {feature!r} ({FEATURES[feature]})"
    limits = getattr(session.adapter, "unsupported", None)
    meta = {
        "optimizer": setup.name,  # what a sharded candidate's limits are about (LBFGS, Adafactor, ...)
        "dtype": spec.limits.get("dtype", dtype),
        "gradients": spec.limits.get("gradients"),
        # A check driving torch's API builds its own params: leaf tensors (differentiable=True needs
        # non-leaf ones), unless it is a check of given variants, which builds what they need.
        "leaf_params": "torch_api" in spec.needs and not spec.variants,
    }
    if setup.sparse:
        meta["gradients"] = {"pattern": "sparse"}
    reasons = (limits(meta, dtype, session.device, v) for v in variants) if limits else ()
    return next((r for r in reasons if r), None)


def cases(spec: Spec, session: Any) -> list[ApiCase]:
    """Every case of a check for this candidate, in the reference's class order."""
    classes = frozenset(session.adapter.capabilities().optimizers)
    dtype = api_dtype(session)
    out = []
    for name, setup in SETUPS.items():
        if name not in classes or not spec.applies(setup, classes):
            continue
        declared = declaration(session.adapter, name)
        setup = setup.without(declared.lacks)
        details = list(spec.details(name, session)) if spec.details else [("", None)]
        variants = variants_of(session, name) if spec.per_variant else [""]
        if spec.variants:
            variants = [v for v in variants if v in spec.variants]
        for detail, payload in details:
            used = set(spec.uses(payload))
            # the variants every case of the detail runs (a per-variant case adds its own below)
            shared = list(spec.runs(payload)) or ([] if spec.per_variant else [class_variant(session, name)])
            own = _unsupported(session, spec, setup, dtype, shared)
            own = own or lacking(session.impl, name, declared, used)
            if own is None and spec.validation and not declared.validates:
                own = (
                    f"not supported: {session.impl} declares that its {name} does not validate its arguments"
                )
            for variant in variants:
                reason = own or _unsupported(session, spec, setup, dtype, [variant] if variant else [])
                options = frozenset(options_used(name, setup.hyper) | used)
                out.append(
                    ApiCase.make(
                        name,
                        detail,
                        variant,
                        dtype or "",
                        session.device,
                        unsupported=reason,
                        payload=payload,
                        options=options,
                    )
                )
    return out


# -- which optimizers a check is for (``Spec.applies``) ----------------------------------------------------

TORCH_API = ("torch_api",)


def steps_on_gradients(setup: Setup, classes: frozenset[str]) -> bool:
    """Optimizers stepped with gradients (not a closure)."""
    return not setup.closure


def trains_a_model(setup: Setup, classes: frozenset[str]) -> bool:
    """Optimizers that can train an ``nn.Linear`` stack as it is (dense gradients, no closure)."""
    return not setup.closure and not setup.sparse


def closure_driven(setup: Setup, classes: frozenset[str]) -> bool:
    return setup.closure


def scheduled(setup: Setup, classes: frozenset[str]) -> bool:
    """The one optimizer the scheduler recipes run on: SGD, the tutorials' choice, else the candidate's
    first class that trains a model."""
    chosen = "SGD" if "SGD" in classes else None
    chosen = chosen or next(
        (n for n, s in SETUPS.items() if n in classes and trains_a_model(s, classes)), None
    )
    return setup.name == chosen
