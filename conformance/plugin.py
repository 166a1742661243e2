"""The pytest plugin behind ``pytest conformance --impl=...``.

It turns every vector case into tests parametrized by dtype, device and variant
(``test_trajectory[adam/amsgrad-wd0.1-float32-cpu-foreach]``), marks what the candidate does not support
as skipped "not supported", turns known deviations into strict xfails, and at the end writes
``results.json`` and the reports into ``--report-dir``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conformance import bench, parallel, results
from conformance.adapters import UnknownImplementation, resolve
from conformance.adapters.base import NotSupported
from conformance.adapters.distributed import adapter as distributed
from conformance.known_deviations import KnownDeviationError, load, tolerance_override
from conformance.resharding import run_resharded
from conformance.runner import CandidateError, LoadedCase, run_single_steps, run_trajectory
from conformance.schedules import LoadedSchedule, run_schedule, scheduler_classes
from conformance.vectors import DEFAULT_DIR, VectorError, Vectors

DEFAULT_DTYPES = ("float64", "float32")
CHECKS = {
    "test_trajectory": run_trajectory,
    "test_single_step": run_single_steps,
    "test_schedule": run_schedule,
    "test_resume_resharded": run_resharded,
}
# Checks of scheduler cases: lrs are Python floats whatever the params' dtype, so they run once per case and
# device (``test_schedule[steplr/step_size3-gamma0.5-cpu]``), not per dtype and variant.
SCHEDULE_CHECKS = frozenset({"test_schedule"})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("optim-conformance")
    group.addoption("--impl", default="torch", help="candidate: torch, refimpl, torch:MODULE, MODULE:ATTR")
    group.addoption("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    group.addoption(
        "--dtype",
        action="append",
        default=None,
        help="float64, float32 (default both); bfloat16, float16 on request",
    )
    group.addoption(
        "--variant", action="append", default=None, help="forloop, foreach, fused (default: all supported)"
    )
    group.addoption("--vectors", default=str(DEFAULT_DIR), help="vectors directory")
    group.addoption("--report-dir", default="reports/latest", help="where results.json and the reports go")
    bench.add_options(group)
    distributed.add_options(group)
    group.addoption(
        "--known-deviations",
        default=None,
        help="TOML file of known deviations (default: conformance/known_deviations/<impl>.toml if present)",
    )


@dataclass
class Session:
    """What the whole run shares: the candidate, the vectors, the deviations, and the records so far."""

    impl: str
    adapter: Any
    vectors: Vectors
    device: str
    dtypes: list[str]
    variants: list[str] | None
    deviations: list[Any]
    tolerances: list[dict[str, Any]]
    deviations_file: Path | None
    report_dir: Path
    skip_reason: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    # --bench: what to time (None without it), and the timings once taken (results.json's "bench").
    bench_config: Any = None
    bench: dict[str, Any] | None = None
    # Under xdist, the controller's view of the collection (nodeids in order), to sort the workers' records.
    collection_order: list[str] = field(default_factory=list)


SESSION = pytest.StashKey[Session]()
RECORD = pytest.StashKey[dict[str, Any]]()


def _split(values: list[str] | None, default: tuple[str, ...] | None) -> list[str] | None:
    if values is None:
        return list(default) if default else None
    return [v for value in values for v in value.split(",") if v]


def pytest_configure(config: pytest.Config) -> None:
    impl = config.getoption("--impl")
    try:
        adapter = resolve(impl)
        vectors = Vectors(config.getoption("--vectors"))
        vectors.check_hashes()
        deviations, tolerances, deviations_file = load(impl, config.getoption("--known-deviations"))
        if configure := getattr(adapter, "configure", None):  # an adapter with options (--world-size)
            configure(config.getoption)
    except (UnknownImplementation, VectorError, KnownDeviationError, NotSupported) as e:
        raise pytest.UsageError(str(e)) from None
    device = config.getoption("--device")
    session = Session(
        impl=impl,
        adapter=adapter,
        vectors=vectors,
        device=device,
        dtypes=_split(config.getoption("--dtype"), DEFAULT_DTYPES),
        variants=_split(config.getoption("--variant"), None),
        deviations=deviations,
        tolerances=tolerances,
        deviations_file=deviations_file,
        report_dir=Path(config.getoption("--report-dir")),
    )
    try:
        session.bench_config = bench.config_from(config.getoption, device, session.variants)
    except bench.BenchConfigError as e:
        raise pytest.UsageError(str(e)) from None
    device_type = device.split(":")[0]
    if device_type not in adapter.capabilities().variants:
        session.skip_reason = f"{impl} does not run on {device}"
    if device_type == "cuda":
        try:
            import torch

            if not torch.cuda.is_available():
                session.skip_reason = "--device cuda: CUDA is not available on this machine"
        except ImportError:
            session.skip_reason = "--device cuda: torch is not installed"
    config.stash[SESSION] = session
    if not parallel.is_worker(config):
        config.pluginmanager.register(parallel.Reporter(session), "optim-conformance-reporter")


@dataclass(frozen=True)
class Param:
    """One parametrization: case x dtype x device x variant, and why it cannot run (if it cannot). Scheduler
    cases have no dtype or variant (empty: left out of the id)."""

    case: str
    dtype: str
    device: str
    variant: str
    unsupported: str | None = None

    @property
    def id(self) -> str:
        return "-".join(part for part in (self.case, self.dtype, self.device, self.variant) if part)


def _params_for(session: Session) -> list[Param]:
    capabilities = session.adapter.capabilities()
    device_type = session.device.split(":")[0]
    out = []
    for case_id in session.vectors.case_ids():
        meta = session.vectors.describe(case_id)
        if meta.get("kind") == "scheduler":
            continue
        name = meta["optimizer"]
        variants_of = getattr(session.adapter, "variants_of", None)
        if name in capabilities.optimizers and variants_of:
            offered = list(variants_of(name, device_type))
        else:
            offered = list(capabilities.variants.get(device_type, ("default",)))
        variants = session.variants or offered
        for dtype in session.dtypes:
            for variant in variants:
                reason = _unsupported(session, capabilities, meta, dtype, variant, offered)
                out.append(Param(case_id, dtype, session.device, variant, reason))
    return out


def _schedule_params(session: Session) -> list[Param]:
    """One parametrization per scheduler case; "not supported" unless the candidate declares every scheduler
    class the case builds (nested ones included) in ``Capabilities.schedulers``."""
    declared = session.adapter.capabilities().schedulers
    out = []
    for case_id in session.vectors.case_ids():
        meta = session.vectors.describe(case_id)
        if meta.get("kind") != "scheduler":
            continue
        missing = sorted(scheduler_classes(meta) - declared)
        reason = session.skip_reason or (
            f"not supported: {session.impl} has no {', '.join(missing)}" if missing else None
        )
        out.append(Param(case_id, "", session.device, "", reason))
    return out


def _unsupported(
    session: Session, capabilities: Any, meta: dict[str, Any], dtype: str, variant: str, offered: list[str]
) -> str | None:
    name = meta["optimizer"]
    if session.skip_reason:
        return session.skip_reason
    if name not in capabilities.optimizers:
        return f"not supported: {session.impl} has no {name}"
    if dtype not in capabilities.dtypes:
        return f"not supported: {session.impl} does not compute in {dtype}"
    if variant not in offered:
        return f"not supported: {name} has no {variant} variant on {session.device}"
    if meta["dtype"].startswith("complex") and (
        "complex" not in capabilities.features or dtype in ("bfloat16",)
    ):
        return f"not supported: complex params in {dtype}"
    if (meta.get("gradients") or {}).get("pattern") == "sparse" and "sparse" not in capabilities.features:
        return "not supported: sparse gradients"
    # An adapter may know finer limits (torch's fused kernels take neither complex params nor sparse grads).
    limits = getattr(session.adapter, "unsupported", None)
    return limits(meta, dtype, session.device, variant) if limits else None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_param" not in metafunc.fixturenames:
        return
    session = metafunc.config.stash[SESSION]
    params = []
    # Teacher forcing loads the reference's optimizer state: adapters without that feature cannot run it.
    stateless = metafunc.function.__name__ == "test_single_step" and (
        "state_dict" not in session.adapter.capabilities().features
    )
    schedules = metafunc.function.__name__ in SCHEDULE_CHECKS
    for p in _schedule_params(session) if schedules else _params_for(session):
        if stateless and not p.unsupported:
            p = replace(p, unsupported=f"not supported: {session.impl} cannot load optimizer state")
        marks = [pytest.mark.skip(reason=p.unsupported)] if p.unsupported else []
        params.append(pytest.param(p, id=p.id, marks=marks))
    metafunc.parametrize("conformance_param", params)


# The fixtures whose parameter is a ``Param``: vector cases, the property-based layer's optimizers, and the
# API checks' cases (conformance/test_api/).
PARAM_FIXTURES = ("conformance_param", "property_param", "api_case")


def param_of(item: pytest.Item) -> Param | None:
    params = getattr(getattr(item, "callspec", None), "params", {})
    found = (params.get(name) for name in PARAM_FIXTURES)
    return next((p for p in found if isinstance(p, Param)), None)  # not NOTSET (an empty parametrization)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = config.stash.get(SESSION, None)
    if session is None:
        return
    import importlib.util

    torch_version = None
    if importlib.util.find_spec("torch"):
        import torch

        torch_version = torch.__version__
    for item in items:
        param = param_of(item)
        if param is None or param.unsupported:
            continue
        fields = {"device": param.device, "dtype": param.dtype, "variant": param.variant}
        for deviation in session.deviations:
            if deviation.matches(item.name, fields, torch_version):
                deviation.matched += 1
                # Strict (a fixed deviation fails the run until its entry goes), except for the property
                # layer, whose examples may or may not reach a deviation in a given run, and for entries
                # inherited from torch's file, whose bug a wrapper of torch may route around (ZeRO's resume
                # does not show torch's NAdam cast).
                strict = "property_param" not in item.callspec.params and not deviation.inherited
                item.add_marker(
                    pytest.mark.xfail(strict=strict, reason=f"{deviation.reason} ({deviation.upstream})")
                )
                item.stash[RECORD] = {
                    "deviation": {"reason": deviation.reason, "upstream": deviation.upstream}
                }
                break


@pytest.fixture
def conformance_param(request: pytest.FixtureRequest) -> Param:
    return request.param


@pytest.fixture
def conformance_check(request: pytest.FixtureRequest, conformance_param: Param) -> Any:
    """Run this test's check (trajectory or single step) and fail with the divergence and a reproduction."""
    session = request.config.stash[SESSION]
    node = request.node
    record = node.stash.setdefault(RECORD, {})
    check = request.function.__name__

    def run() -> None:
        schedule = check in SCHEDULE_CHECKS
        case = (LoadedSchedule if schedule else LoadedCase).load(session.vectors, conformance_param.case)
        if override := tolerance_override(session.tolerances, node.name):
            case.meta["tolerance"] = {**case.meta.get("tolerance", {}), **override}
        p = conformance_param
        record.update(
            check=check,
            case=p.case,
            dtype=p.dtype,
            device=p.device,
            variant=p.variant,
            **({"scheduler": case.meta["scheduler"]} if schedule else {"optimizer": case.meta["optimizer"]}),
            file=session.vectors.case_file[p.case],
        )
        try:
            result = CHECKS[check](session.adapter, case, p.dtype, p.device, p.variant)
        except NotSupported as e:
            record["unsupported"] = str(e)
            result = None
        except CandidateError as e:
            record["error"] = str(e)
            result = None
        # Outside the except blocks, so the report shows the message, not a chain of tracebacks.
        if "unsupported" in record:
            pytest.skip(f"not supported: {record['unsupported']}")
        if result is None:
            record["message"] = results.failure_message(session, case, p, check, error=record["error"])
            pytest.fail(record["message"], pytrace=False)
        record.update(
            metrics=result.divergence.to_dict(),
            seconds=result.seconds,
            steps=result.steps_run,
            rtol_final=result.rtol[-1] if result.rtol else None,
            # The median step time: how fast the candidate ran, without a list per record in results.json.
            step_median_s=float(np.median(result.step_seconds)) if result.step_seconds else None,
        )
        if not result.passed:
            # Kept in the record also when the failure is a known deviation (an xfail), for the report.
            record["message"] = results.failure_message(session, case, p, check, result=result)
            record["per_step"] = result.per_step()
            pytest.fail(record["message"], pytrace=False)

    return run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    session = item.config.stash.get(SESSION, None)
    param = param_of(item)
    if session is None or param is None:
        return report
    if report.when == "call" or (report.when == "setup" and report.skipped):
        record = item.stash.setdefault(RECORD, {})
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            # pytest keeps ``wasxfail`` only on a skipped xfail or a *non-strict* pass; a strict XPASS arrives
            # as a plain failure. A non-strict pass (a property run whose examples missed the deviation) is a
            # pass, not a fixed bug.
            outcome = "xfailed" if report.skipped else "passed"
        elif report.skipped and param.unsupported:
            outcome = "unsupported"
        record.setdefault("case", param.case)
        meta = session.vectors.describe(param.case) if param.case in session.vectors.case_file else {}
        # The algorithm the record is about: a scheduler case's scheduler (its optimizer only drives it).
        subject = "scheduler" if meta.get("kind") == "scheduler" else "optimizer"
        if subject in meta:
            record.setdefault(subject, meta[subject])
        record.update(
            test=item.name,
            nodeid=item.nodeid,
            outcome=outcome,
            dtype=param.dtype,
            device=param.device,
            variant=param.variant,
            check=item.originalname,
        )
        if report.failed and "message" not in record:
            record["message"] = str(report.longrepr)[:4000]
        if param.unsupported:
            record["unsupported"] = param.unsupported
        parallel.attach(report, record)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(SESSION, None)
    if state is not None and parallel.is_worker(session.config):
        parallel.finish_worker(session.config, state)  # the controller writes the report
        return
    if state is None or not state.records:
        return
    state.records = parallel.in_collection_order(state.records, state.collection_order)
    unmatched = [d for d in state.deviations if d.unused]
    if state.bench_config is not None and not state.skip_reason:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        names = sorted({r["optimizer"] for r in state.records if r.get("optimizer")})
        progress = reporter.write_line if reporter else (lambda _: None)
        state.bench = bench.run_bench(state.adapter, names, state.bench_config, progress)
    paths = results.write(state, unmatched, " ".join(sys.argv))
    state.report_paths = paths


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """``test_distributed.py`` only for a distributed candidate (one with a ``world_size``)."""
    session = config.stash.get(SESSION, None)
    if collection_path.name == "test_distributed.py" and session is not None:
        return True if not hasattr(session.adapter, "world_size") else None
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    """Let an adapter with processes or connections (a distributed one's ranks) release them."""
    session = config.stash.get(SESSION, None)
    if session is not None and (close := getattr(session.adapter, "close", None)):
        close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    state = terminalreporter.config.stash.get(SESSION, None)
    if state is None or not state.records:
        return
    for line in results.summary_lines(state):
        terminalreporter.write_line(line)
