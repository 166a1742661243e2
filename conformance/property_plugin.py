"""The property-based layer inside ``pytest conformance``: parametrization, the Hypothesis driver, records.

One test per optimizer x dtype x variant (``test_optimizer_property[Adam-float32-cpu-forloop]``) and per
scheduler (``test_scheduler_property[StepLR-cpu]``), with the same "not supported" skips, known deviations
(strict xfails) and tolerance overrides as the vector checks. Each test runs the boundary examples, then
draws examples (``conformance.strategies``), runs each on the reference and the candidate
(``conformance.properties``, ``conformance.schedule_properties``), and on a failure lets Hypothesis shrink
it: the smallest example's reproduction is the failure message, and goes into ``results.json`` with the
example itself.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from conformance import properties, schedule_properties, swa_properties
from conformance.adapters.base import NotSupported
from conformance.declarations import declaration
from conformance.halfsteps import unmodelled
from conformance.known_deviations import explained_options
from conformance.lowprec import HALF
from conformance.options import checks
from conformance.plugin import (
    RECORD,
    SESSION,
    Param,
    Session,
    _torch_own,
    _unsupported,
    covers,
    item_of,
    tolerance_of,
)
from conformance.runner import CandidateError, SuiteError
from conformance.timeout import CheckTimeout, deadline
from refimpl.lr_scheduler import MODULES as SCHEDULER_MODULES
from refimpl.optim import MODULES as OPTIMIZERS

try:
    from hypothesis import example as explicit
    from hypothesis import given, reject, seed, settings
    from hypothesis.errors import FailedHealthCheck, Unsatisfiable

    from conformance import profiles
    from conformance.strategies.edges import edge_examples
    from conformance.strategies.optimizers import SPARSE_ONLY, optimizer_examples
    from conformance.strategies.schedulers import COMPOSITES, NESTABLE, scheduler_examples
    from conformance.strategies.swa import swa_examples
except ImportError:  # pragma: no cover - the harness without Hypothesis: the property layer is skipped
    given, SPARSE_ONLY, COMPOSITES, NESTABLE = None, frozenset(), (), ()

SCHEDULERS = [*(name for name in SCHEDULER_MODULES if name != "LRScheduler"), "SWALR"]
# A scheduler example costs a few hundred microseconds (Python floats only), an optimizer example a few
# milliseconds: scheduler tests draw this many times the profile's examples for the same time.
SCHEDULER_EXAMPLES_FACTOR = 10
NO_HYPOTHESIS = "not supported: the property layer needs hypothesis (pip install hypothesis)"
# The rejection reason of an example the reference refuses to construct: the property layer judges
# arithmetic on valid arguments only; refusing invalid ones is test_invalid_argument's row.
VALIDATION = "refused by the reference's argument validation (test_invalid_argument checks refusals)"
UNSUPPORTED = "not supported by the candidate: "


class PropertyFailure(AssertionError):
    """A drawn example on which the candidate does not conform; carries what the record needs."""

    def __init__(self, message: str, record: dict[str, Any]) -> None:
        super().__init__(message)
        self.record = record


def _offered(session: Session, capabilities: Any, name: str, device_type: str) -> list[str]:
    variants_of = getattr(session.adapter, "variants_of", None)
    if name in capabilities.optimizers and variants_of:
        return list(variants_of(name, device_type))
    return list(capabilities.variants.get(device_type, ("default",)))


def _meta(name: str) -> dict[str, Any]:
    """What ``_unsupported`` reads of a case, for the examples of ``name``."""
    sparse = name in SPARSE_ONLY
    return {"optimizer": name, "dtype": "float64", "gradients": {"pattern": "sparse"} if sparse else None}


def _or_no_hypothesis(reason: str | None) -> str | None:
    return reason if reason or given is not None else NO_HYPOTHESIS


def optimizer_params(session: Session) -> list[Param]:
    """Every optimizer x dtype x variant, with the reason it cannot run where it cannot."""
    capabilities = session.adapter.capabilities()
    device_type = session.device.split(":")[0]
    out = []
    for name in OPTIMIZERS:
        offered = _offered(session, capabilities, name, device_type)
        for dtype in session.dtypes:
            for variant in checks.selected(session.variants, offered, capabilities):
                if not covers(session.adapter, None, variant):
                    continue
                reason = _unsupported(session, capabilities, _meta(name), dtype, variant, offered)
                if reason is None and dtype in HALF and (why := unmodelled(_meta(name), dtype, variant)):
                    reason = f"not supported: {why}"  # as the catalogue's half-precision checks say it
                out.append(Param(name, dtype, session.device, variant, _or_no_hypothesis(reason)))
    return out


def nestable(session: Session) -> tuple[str, ...]:
    """The schedulers a composite example may wrap: those the candidate declares."""
    return tuple(n for n in NESTABLE if n in session.adapter.capabilities().schedulers)


def scheduler_params(session: Session) -> list[Param]:
    """Every scheduler (no dtype or variant: lrs are Python floats), with why it cannot run."""
    declared = session.adapter.capabilities().schedulers
    out = []
    for name in SCHEDULERS:
        reason = session.skip_reason
        if reason is None and name not in declared:
            reason = f"not supported: {session.impl} has no {name}"
        if reason is None and name in COMPOSITES and not nestable(session):
            reason = f"not supported: {session.impl} has no scheduler {name} can wrap"
        out.append(Param(name, "", session.device, "", _or_no_hypothesis(reason)))
    return out


def swa_params(session: Session) -> list[Param]:
    """AveragedModel and update_bn, per dtype (no variant), with why they cannot run where they cannot."""
    capabilities = session.adapter.capabilities()
    out = []
    for name in swa_properties.SWA_SUBJECTS:
        for dtype in session.dtypes:
            reason = session.skip_reason
            if reason is None and name not in capabilities.swa:
                reason = f"not supported: {session.impl} has no {name}"
            if reason is None and dtype not in capabilities.dtypes:
                reason = f"not supported: {session.impl} does not compute in {dtype}"
            out.append(Param(name, dtype, session.device, "", _or_no_hypothesis(reason)))
    return out


PARAMS = {"test_scheduler_property": scheduler_params, "test_swa_property": swa_params}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "property_param" not in metafunc.fixturenames:
        return
    session = metafunc.config.stash[SESSION]
    params = []
    for p in PARAMS.get(metafunc.function.__name__, optimizer_params)(session):
        marks = [pytest.mark.skip(reason=p.unsupported)] if p.unsupported else []
        params.append(pytest.param(p, id=p.id, marks=marks))
    metafunc.parametrize("property_param", params)


@pytest.fixture
def property_param(request: pytest.FixtureRequest) -> Param:
    return request.param


def _sparse_allowed(session: Session, p: Param) -> bool:
    if "sparse" not in session.adapter.capabilities().features:
        return False
    limits = getattr(session.adapter, "unsupported", None)
    meta = {"optimizer": p.case, "dtype": "float64", "gradients": {"pattern": "sparse"}}
    return limits is None or limits(meta, p.dtype, p.device, p.variant) is None


@dataclass
class Kind:
    """What differs between the optimizer and the scheduler properties."""

    strategy: Any
    edges: list[Any]
    check: Callable[
        [Any], Any
    ]  # example -> CheckResult or None (raises Rejected, NotSupported, CandidateError)
    failure: Callable[[Any, Any, str], PropertyFailure]  # (example, result, error) -> failure
    serialize: Callable[[Any], Any]
    factor: int = 1


def _explained(session: Session, name: str, p: Param) -> dict[str, str]:
    """Options a known-deviation entry explains for this class (``option = ...``): the examples leave them
    at their defaults, so that the entry's difference does not hide the rest of the class's verdict."""
    item = item_of(session, name, p)
    borrowed = session.torch_deviations if session.torch_deviations and _torch_own(session, item) else []
    found = explained_options([*session.deviations, *borrowed], item)
    return {option: entry.upstream for option, entry in found.items()}


def _optimizer_kind(
    session: Session, p: Param, override: dict[str, float], explained: dict[str, str]
) -> Kind:
    state: dict[str, Any] = {}

    def check(example: Any) -> Any:
        state["loaded"] = None
        try:
            state["loaded"] = loaded = properties.reference(example, p.dtype)
        except properties.Refused as refused:  # outside the valid domain: argument validation's question
            raise properties.Rejected(VALIDATION) from refused
        properties.require_conditioned(loaded, p.dtype, override)
        return properties.check(session.adapter, loaded, p.dtype, p.device, p.variant, override)

    def failure(example: Any, result: Any, error: str) -> PropertyFailure:
        snippet_first = result.divergence.first_bad_step if result is not None else None
        snippet = properties.reproduction(
            session.impl,
            session.adapter,
            example,
            state["loaded"],
            p.dtype,
            p.device,
            p.variant,
            snippet_first,
        )
        run = f"{session.impl} in {p.dtype} on {p.device}, variant {p.variant}"
        return _failure(
            p.case,
            properties.summary(example),
            run,
            example.to_dict(),
            snippet,
            result,
            error,
            "step",
            p.dtype,
        )

    lacks = declaration(session.adapter, p.case).lacks | frozenset(explained)
    return Kind(
        optimizer_examples(p.case, p.dtype, _sparse_allowed(session, p), lacks),
        edge_examples(p.case, p.dtype, lacks),
        check,
        failure,
        lambda example: example.to_dict(),
    )


def _scheduler_kind(session: Session, p: Param, override: dict[str, float]) -> Kind:
    state: dict[str, Any] = {}

    def check(meta: dict[str, Any]) -> Any:
        state["loaded"] = loaded = schedule_properties.reference_schedule(meta)
        if override:  # the [[tolerance]] entry for this test, as the vector checks apply it
            loaded.meta["tolerance"] = {**loaded.meta.get("tolerance", {}), **override}
        return schedule_properties.check_schedule(session.adapter, loaded, p.device)

    def failure(meta: dict[str, Any], result: Any, error: str) -> PropertyFailure:
        first = result.divergence.first_bad_step if result is not None else None
        loaded_meta = state["loaded"].meta
        snippet = schedule_properties.reproduction(session.impl, session.adapter, loaded_meta, first)
        details = list(result.details) if result is not None else []
        summary = schedule_properties.summary(meta)
        return _failure(
            p.case,
            summary,
            f"{session.impl} on {p.device}",
            meta,
            snippet,
            result,
            error,
            "epoch",
            "float64",
            details,
        )

    return Kind(
        scheduler_examples(p.case, nestable(session)),
        [],
        check,
        failure,
        lambda meta: meta,
        SCHEDULER_EXAMPLES_FACTOR,
    )


def _swa_kind(session: Session, p: Param) -> Kind:
    def check(case: Any) -> Any:
        loaded = swa_properties.reference(case)
        return swa_properties.check(session.adapter, loaded, p.dtype, p.device)

    def failure(case: Any, result: Any, error: str) -> PropertyFailure:
        snippet = swa_properties.reproduction(session.impl, case, p.dtype, p.device)
        unit = "update" if p.case == "AveragedModel" else "pass"
        details = list(result.details) if result is not None else []
        run = f"{session.impl} in {p.dtype} on {p.device}"
        summary = swa_properties.summary(case)
        return _failure(
            p.case, summary, run, swa_properties.to_dict(case), snippet, result, error, unit, p.dtype, details
        )

    return Kind(swa_examples(p.case), [], check, failure, swa_properties.to_dict)


@pytest.fixture
def property_check(request: pytest.FixtureRequest, property_param: Param) -> Callable[[], None]:
    """Run this test's property: boundary examples first, then Hypothesis draws examples until one fails
    (then shrinks it) or the profile's number of examples pass."""
    session: Session = request.config.stash[SESSION]
    node = request.node
    record = node.stash.setdefault(RECORD, {})
    p = property_param
    check_name = request.function.__name__

    def run() -> None:
        record.update(check=check_name, case=p.case, device=p.device, layer="property")
        if check_name == "test_scheduler_property":
            record.update(scheduler=p.case)
            kind = _scheduler_kind(session, p, tolerance_of(session, node.name, p))
        elif check_name == "test_swa_property":
            record.update(swa=p.case, dtype=p.dtype)
            kind = _swa_kind(session, p)
        else:
            record.update(optimizer=p.case, dtype=p.dtype, variant=p.variant)
            explained = _explained(session, node.name, p)
            if explained:  # in results.json: what the examples did not draw, and the entries saying why
                record.update(explained_options=explained)
            kind = _optimizer_kind(session, p, tolerance_of(session, node.name, p), explained)
        digest = hashlib.sha256()
        counts: dict[str, Any] = {"examples": 0, "rejected": {}}

        def skip(reason: str) -> None:
            counts["rejected"][reason] = counts["rejected"].get(reason, 0) + 1
            reject()

        def one(example: Any) -> None:
            counts["examples"] += 1
            digest.update(json.dumps(kind.serialize(example), sort_keys=True).encode())
            try:
                with deadline(session.check_timeout, session.stuck):
                    result = kind.check(example)
            except CheckTimeout as e:  # not retried by Hypothesis (a BaseException): the example would hang
                e.failure = kind.failure(example, None, str(e))
                raise
            except properties.Rejected as e:
                skip(str(e))
            except NotSupported as e:
                skip(UNSUPPORTED + str(e))
            except CandidateError as e:
                raise kind.failure(example, None, str(e)) from None
            if result is not None and not result.passed:  # None: refused, as the reference refuses it
                raise kind.failure(example, result, "")

        profile = profiles.chosen(request.config.getoption("hypothesis_profile", None))
        prop = given(example=kind.strategy)(one)
        for edge in reversed(kind.edges):  # Hypothesis runs explicit examples first, in order
            prop = explicit(example=edge)(prop)
        prop = settings(profile, max_examples=profile.max_examples * kind.factor)(prop)
        if profile.derandomize:  # a fixed seed per test: the same examples every run, others in each test
            prop = seed(zlib.crc32(node.name.encode()))(prop)
        failure, found_none = None, False
        try:
            with profiles.without_local_constants():
                prop()
        except PropertyFailure as e:
            failure = e
        except (Unsatisfiable, FailedHealthCheck):
            found_none = True
        except CheckTimeout as e:
            failure = e.failure
        finally:
            record.update(counts, examples_sha256=digest.hexdigest()[:16])
        if failure is not None:  # outside the except block: the report shows the message, not a chain
            record.update(failure.record)
            pytest.fail(str(failure), pytrace=False)
        if found_none:
            _no_examples(counts["rejected"])

    return run


def _no_examples(rejected: dict[str, int]) -> None:
    """Hypothesis found no example to run: "not supported" where the candidate refused them all, else the
    suite's error (its strategies drew nothing the reference could decide) -- never the candidate's
    failure."""
    reasons = ", ".join(f"{n} x {reason}" for reason, n in sorted(rejected.items(), key=lambda kv: -kv[1]))
    if rejected and all(reason.startswith(UNSUPPORTED) for reason in rejected):
        pytest.skip(f"not supported: the candidate refused every example ({reasons})")
    raise SuiteError(
        f"the property layer found no example to run, a problem of the suite: rejected {reasons}"
    )


def _failure(
    subject: str,
    summary: str,
    run: str,
    example: Any,
    snippet: str,
    result: Any,
    error: str,
    unit: str,
    dtype: str,
    details: list[str] | None = None,
) -> PropertyFailure:
    """The failure of one example: message (with its reproduction) and record entries."""
    lines = [
        f"{subject} does not conform on a property-based example (a boundary example, or one drawn by "
        "Hypothesis and shrunk to the smallest it found)",
        f"  example: {summary}",
        f"  run: {run}",
    ]
    if error:
        lines.append(f"  {error}")
    else:
        d = result.divergence
        first = d.first_bad_step
        tolerance = result.rtol[first - 1] if first and unit == "step" else max(result.rtol)
        lines.append(f"  first {unit} beyond tolerance: {first} (tolerance there {tolerance:.3g})")
        lines.append(
            f"  max rel error {d.max_rel:.3g} (at {unit} {d.worst_step}), max abs error {d.max_abs:.3g}, "
            f"max {d.max_ulp:.3g} ULPs of {dtype}" + (", NON-FINITE values" if d.non_finite else "")
        )
        lines += [f"  {line}" for line in details or []]
    lines.append("  reproduce:")
    lines += ["    " + line for line in snippet.splitlines()]
    message = "\n".join(lines)
    entry: dict[str, Any] = {"message": message, "example": example, "reproduction": snippet}
    if result is not None:
        entry.update(metrics=result.divergence.to_dict())
    else:
        entry["error"] = error
    return PropertyFailure(message, entry)
