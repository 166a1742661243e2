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

from conformance import bench, completeness, options, results
from conformance.adapters.base import NotSupported
from conformance.known_deviations import KnownDeviationError, load, tolerance_override
from conformance.report_folder import ReportFolderError, claim, release
from conformance.runner import CandidateError, LoadedCase, run_single_steps, run_trajectory
from conformance.schedules import LoadedSchedule, run_schedule, scheduler_classes
from conformance.timeout import CheckTimeout, deadline
from conformance.vectors import DEFAULT_DIR, TORCH_VERSION, VectorError, Vectors

DEFAULT_DTYPES = ("float64", "float32")
CHECKS = {
    "test_trajectory": run_trajectory,
    "test_single_step": run_single_steps,
    "test_schedule": run_schedule,
}
# Checks of scheduler cases: lrs are Python floats whatever the params' dtype, so they run once per case and
# device (``test_schedule[steplr/step_size3-gamma0.5-cpu]``), not per dtype and variant.
SCHEDULE_CHECKS = frozenset({"test_schedule"})


# Warnings the suite itself makes torch give, which say nothing about the candidate: feeding a sparse
# gradient (torch's own optimizers build sparse tensors from it too, e.g. torch/optim/adagrad.py) warns
# that sparse invariant checks are "implicitly disabled", once per run, on every green run.
FILTERED_WARNINGS = ("ignore:Sparse invariant checks are implicitly disabled:UserWarning",)


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
    group.addoption(
        "--check-timeout",
        default=str(options.DEFAULT_CHECK_TIMEOUT),
        help="seconds a check (a property example) may keep the candidate busy before it fails as hung "
        "(default: %(default)s; 0: no limit)",
    )
    bench.add_options(group)
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
    check_timeout: float = options.DEFAULT_CHECK_TIMEOUT
    skip_reason: str | None = None
    # The lock on report_dir, held from configure to unconfigure (no two runs write one folder).
    lock: Any = None
    # The node ids of the checks selected to run: a report covering fewer says it was interrupted.
    planned: list[str] = field(default_factory=list)
    # Lines for the terminal header and summary (vectors made for another torch version, ...).
    notes: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    # --bench: what to time (None without it), and the timings once taken (results.json's "bench").
    bench_config: Any = None
    bench: dict[str, Any] | None = None
    # At the end: whether every selected check ran (results.json's "status"), and the files written.
    status: dict[str, Any] | None = None
    report_paths: list[Path] = field(default_factory=list)
    # pytest's capture manager, for the watchdog's last words (``stuck``)
    capture: Any = None

    def stuck(self, seconds: float) -> None:
        """The watchdog's call: a check's candidate could not be interrupted (``completeness.end_stuck``)."""
        completeness.end_stuck(self, seconds)


SESSION = pytest.StashKey[Session]()
RECORD = pytest.StashKey[dict[str, Any]]()


def pytest_configure(config: pytest.Config) -> None:
    """Every option, file and the candidate are checked here, before anything runs: a problem is pytest's
    usage error (exit status 4) with one line naming it. The report folder is claimed last."""
    impl = config.getoption("--impl")
    try:
        adapter, capabilities = options.load_candidate(impl)
        device = options.device(config.getoption("--device"), capabilities)
        variants = options.variants(config.getoption("--variant"), impl, capabilities)
        session = Session(
            impl=impl,
            adapter=adapter,
            vectors=Vectors(config.getoption("--vectors")),
            device=device,
            dtypes=options.dtypes(config.getoption("--dtype"), DEFAULT_DTYPES),
            variants=variants,
            deviations=[],
            tolerances=[],
            deviations_file=None,
            report_dir=Path(config.getoption("--report-dir")),
            check_timeout=options.check_timeout(config.getoption("--check-timeout")),
        )
        session.vectors.check_hashes()
        session.vectors.validate()
        session.deviations, session.tolerances, session.deviations_file = load(
            impl, config.getoption("--known-deviations")
        )
        session.bench_config = bench.config_from(config.getoption, device, session.variants)
        if not config.option.collectonly:
            session.lock = claim(session.report_dir)
    except (
        options.OptionError,
        VectorError,
        KnownDeviationError,
        NotSupported,
        bench.BenchConfigError,
        ReportFolderError,
    ) as e:
        raise pytest.UsageError(str(e)) from None
    for line in FILTERED_WARNINGS:
        config.addinivalue_line("filterwarnings", line)
    made_for = session.vectors.manifest.get("torch_version")
    if made_for != TORCH_VERSION:
        session.notes.append(
            f"warning: the vectors in {session.vectors.directory} were made for torch {made_for}; this "
            f"harness specifies torch {TORCH_VERSION} (regenerate them: optconf vectors generate --dir ...)"
        )
    device_type = device.split(":")[0]
    if device_type not in capabilities.variants:
        session.skip_reason = f"{impl} does not run on {device}"
    if device_type == "cuda":
        try:
            import torch

            if not torch.cuda.is_available():
                session.skip_reason = "--device cuda: CUDA is not available on this machine"
        except ImportError:
            session.skip_reason = "--device cuda: torch is not installed"
    session.capture = config.pluginmanager.get_plugin("capturemanager")
    config.stash[SESSION] = session


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is not None and session.lock is not None:
        release(session.lock)


def pytest_report_header(config: pytest.Config) -> list[str]:
    session = config.stash.get(SESSION, None)
    if session is None:
        return []
    limit = f"{session.check_timeout:g} s per check" if session.check_timeout else "none"
    return [f"optim-conformance: {session.impl} on {session.device}; time limit: {limit}", *session.notes]


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


def is_check(item: pytest.Item) -> bool:
    """A test of the suite's own (a vector case, a property, an API check, or an API check's "none"
    placeholder), as opposed to one of the user's tests collected in the same session."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return any(name in params for name in PARAM_FIXTURES)


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash.get(SESSION, None)
    if state is not None:
        state.planned = [item.nodeid for item in session.items if is_check(item)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Each check under the time limit (the property layer arms it per example instead: a property test
    runs hundreds of them)."""
    session = item.config.stash.get(SESSION, None)
    if session is None or not is_check(item) or "property_param" in item.callspec.params:
        return (yield)
    with deadline(session.check_timeout, session.stuck):
        return (yield)


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
                # layer, whose examples may or may not reach a deviation in a given run.
                strict = "property_param" not in item.callspec.params
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
        try:
            case = (LoadedSchedule if schedule else LoadedCase).load(session.vectors, conformance_param.case)
        except VectorError as e:
            record["error"] = f"the vectors are at fault, not the candidate: {e}"
            pytest.fail(record["error"], pytrace=False)
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
        except (CandidateError, CheckTimeout) as e:
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
    """One record per check, with the outcome pytest counts, so pytest's counts, the summary line and the
    report agree: a check that errors in setup is a failure, and a non-strict xfail that passes (a property
    run whose examples did not reach the deviation) is reported to pytest as the pass it is."""
    report = yield
    session = item.config.stash.get(SESSION, None)
    if session is None or not is_check(item):
        return report
    if call.excinfo is not None and isinstance(call.excinfo.value, CheckTimeout):
        # the innermost frame but the timer's own handler: where the candidate was when time ran out
        where = [e for e in call.excinfo.traceback if Path(e.path).name != "timeout.py"][-1]
        report.longrepr = f"{call.excinfo.value}\n  still running at {where.path}:{where.lineno + 1}"
    # An API check's "none" placeholder (no case applies to the candidate) has no Param: its skip reason is
    # the "not supported" one.
    reason = report.longrepr[2].removeprefix("Skipped: ") if isinstance(report.longrepr, tuple) else None
    param = param_of(item) or Param(item.name, "", session.device, "", reason)
    if report.when == "call" or (report.when == "setup" and not report.passed):
        record = item.stash.setdefault(RECORD, {})
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            # pytest keeps ``wasxfail`` only on a skipped xfail or a *non-strict* pass; a strict XPASS arrives
            # as a plain failure. A non-strict pass (a property run whose examples missed the deviation) is a
            # pass, not a fixed bug: pytest is told so too, or it would count an "xpassed".
            outcome = "xfailed" if report.skipped else "passed"
            if report.passed:
                del report.wasxfail
                record["deviation_not_reached"] = True
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
        session.records.append(record)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(SESSION, None)
    if state is None or not state.records or session.config.option.collectonly:
        return  # nothing ran: the previous report (if any) stays as it is
    status = completeness.run_status(state, exitstatus)
    if not status["complete"] and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # an incomplete run never exits 0
    unmatched = [d for d in state.deviations if not d.matched]
    if state.bench_config is not None and not state.skip_reason and status["complete"]:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        names = sorted({r["optimizer"] for r in state.records if r.get("optimizer")})
        progress = reporter.write_line if reporter else (lambda _: None)
        state.bench = bench.run_bench(state.adapter, names, state.bench_config, progress)
    state.status = status
    paths = results.write(state, unmatched, " ".join(sys.argv))
    state.report_paths = paths


def pytest_terminal_summary(terminalreporter: Any) -> None:
    state = terminalreporter.config.stash.get(SESSION, None)
    if state is None or not state.records:
        return
    terminalreporter.write_sep("=", "optim-conformance summary")
    for line in results.summary_lines(state):
        terminalreporter.write_line(line)
