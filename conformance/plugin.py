"""The pytest plugin behind ``pytest conformance --impl=...``.

It turns every vector case into tests parametrized by dtype, device and variant
(``test_trajectory[adam/amsgrad-wd0.1-float32-cpu-foreach]``), marks what the candidate does not support
as skipped "not supported", turns known deviations into strict xfails, and at the end writes
``results.json`` and the reports into ``--report-dir``.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conformance import bench, parallel, results
from conformance.adapters.base import NotSupported
from conformance.declarations import case_options, declaration, lacking
from conformance.known_deviations import Item, KnownDeviationError, load, tolerance_override
from conformance.options import DEFAULT_CHECK_TIMEOUT, checks, option
from conformance.report_folder import ReportFolderError, claim, release
from conformance.resharding import run_resharded
from conformance.runner import CandidateError, LoadedCase, SuiteError, run_single_steps, run_trajectory
from conformance.schedules import LoadedSchedule, run_schedule, scheduler_classes
from conformance.spec_notes import followed_documentation
from conformance.swa import KIND_CHECKS, SWA_CHECKS, LoadedSwa
from conformance.timeout import CheckTimeout, deadline
from conformance.vectors import DEFAULT_DIR, TORCH_VERSION, VectorError, Vectors

DEFAULT_DTYPES = ("float64", "float32")
CHECKS = {
    "test_trajectory": run_trajectory,
    "test_single_step": run_single_steps,
    "test_schedule": run_schedule,
    **{name: check for name, (check, _) in SWA_CHECKS.items()},
    "test_resume_resharded": run_resharded,
}
# The checks of test_distributed.py: a distributed candidate's alone.
DISTRIBUTED_CHECKS = frozenset({"test_resume_resharded"})
# Checks of scheduler cases: lrs are Python floats whatever the params' dtype, so they run once per case and
# device (``test_schedule[steplr/step_size3-gamma0.5-cpu]``), not per dtype and variant.
SCHEDULE_CHECKS = frozenset({"test_schedule"})


# Warnings the suite itself makes torch give, which say nothing about the candidate: feeding a sparse
# gradient (torch's own optimizers build sparse tensors from it too, e.g. torch/optim/adagrad.py) warns
# that sparse invariant checks are "implicitly disabled", once per run, on every green run.
FILTERED_WARNINGS = ("ignore:Sparse invariant checks are implicitly disabled:UserWarning",)


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
    tolerances: list[Any]
    deviations_file: Path | None
    report_dir: Path
    check_timeout: float = DEFAULT_CHECK_TIMEOUT
    skip_reason: str | None = None
    # The command line as the user typed it (``command_line``), for the report.
    command: str = ""
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
    # torch's own known deviations and tolerance overrides, for the candidate's classes that are torch's own
    # (``torch:MODULE`` re-exporting them): matched only on tests about such classes.
    torch_deviations: list[Any] = field(default_factory=list)
    torch_tolerances: list[Any] = field(default_factory=list)
    torch_version: str | None = None
    # At the end: whether every selected check ran (results.json's "status"), and the files written.
    status: dict[str, Any] | None = None
    report_paths: list[Path] = field(default_factory=list)
    # pytest's capture manager, for the watchdog's last words (``stuck``)
    capture: Any = None

    def stuck(self, seconds: float) -> None:
        """A check's candidate ignored the time limit for twice its length (a native call that never returns,
        or a candidate that took SIGALRM for itself): called from the watchdog thread, it writes the report
        marked interrupted and ends the process, the one way left not to hang for ever."""
        why = f"a candidate did not return within {seconds:g} s and could not be interrupted"
        self.status = run_status(self, pytest.ExitCode.INTERRUPTED, why)
        try:
            self.report_paths = results.write(self, [], self.command)
        finally:
            if self.capture is not None:  # the check's output is being captured: say it on the terminal
                self.capture.suspend_global_capture(in_=True)
            print(f"optim-conformance: {self.status['message']}; report: {self.report_dir}", file=sys.stderr)
            os._exit(pytest.ExitCode.INTERRUPTED)
    # Under xdist, the controller's view of the collection (nodeids in order), to sort the workers' records.
    collection_order: list[str] = field(default_factory=list)


SESSION = pytest.StashKey[Session]()
RECORD = pytest.StashKey[dict[str, Any]]()


def pytest_configure(config: pytest.Config) -> None:
    """Every option, file and the candidate are checked here, before anything runs: a problem is pytest's
    usage error (exit status 4) with one line naming it. The report folder is claimed last."""
    _register_hypothesis_profiles()
    impl = option(config, "--impl", "torch")
    try:
        adapter, capabilities = checks.load_candidate(impl)
        device = checks.device(option(config, "--device", "cpu"), capabilities)
        variants = checks.variants(option(config, "--variant"), impl, capabilities)
        session = Session(
            impl=impl,
            adapter=adapter,
            vectors=Vectors(option(config, "--vectors", DEFAULT_DIR)),
            device=device,
            dtypes=checks.dtypes(option(config, "--dtype"), DEFAULT_DTYPES),
            variants=variants,
            deviations=[],
            tolerances=[],
            deviations_file=None,
            report_dir=Path(option(config, "--report-dir", "reports/latest")),
            check_timeout=checks.check_timeout(option(config, "--check-timeout", str(DEFAULT_CHECK_TIMEOUT))),
            torch_version=_torch_version(),
            command=command_line(config),
        )
        session.vectors.check_hashes()
        session.vectors.validate()
        session.deviations, session.tolerances, session.deviations_file = load(
            impl, option(config, "--known-deviations")
        )
        if impl != "torch" and callable(getattr(adapter, "torch_own", None)):
            session.torch_deviations, session.torch_tolerances, _ = load("torch")
        session.bench_config = bench.config_from(partial(option, config), device, session.variants)
        if configure := getattr(adapter, "configure", None):  # an adapter with options (--world-size)
            configure(partial(option, config))
        if not config.option.collectonly and not parallel.is_worker(config):  # xdist's workers write nothing
            session.lock = claim(session.report_dir)
    except (
        checks.OptionError,
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
    if not parallel.is_worker(config):
        config.pluginmanager.register(parallel.Reporter(session), "optim-conformance-reporter")


def _register_hypothesis_profiles() -> None:
    """The property layer's profiles (``--hypothesis-profile ci|dev|thorough``), registered only when the
    suite runs: a user's own profiles of those names stay theirs in their own sessions."""
    try:
        from conformance.profiles import register
    except ImportError:  # without Hypothesis the property tests skip as not supported
        return
    register()


def _torch_version() -> str | None:
    import importlib.util

    if not importlib.util.find_spec("torch"):
        return None
    import torch

    return str(torch.__version__)




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
        if meta.get("kind", "optimizer") != "optimizer":
            continue
        name = meta["optimizer"]
        variants_of = getattr(session.adapter, "variants_of", None)
        if name in capabilities.optimizers and variants_of:
            offered = list(variants_of(name, device_type))
        else:
            offered = list(capabilities.variants.get(device_type, ("default",)))
        variants = checks.selected(session.variants, offered, capabilities)
        for dtype in session.dtypes:
            for variant in filter(partial(covers, session.adapter, case_id), variants):
                reason = _unsupported(session, capabilities, meta, dtype, variant, offered)
                out.append(Param(case_id, dtype, session.device, variant, reason))
    return out


def covers(adapter: Any, case: str | None, variant: str) -> bool:
    """Whether ``variant`` runs catalogue case ``case`` (``None``: the API and property layers). An adapter
    may run a costly variant over part of the catalogue (``covers(variant, case)``; torch's ``compile``
    compiles every optimizer it builds): what it does not cover is not collected, rather than skipped."""
    hook = getattr(adapter, "covers", None)
    return hook is None or bool(hook(variant, case))


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


def _swa_params(session: Session, check: str) -> list[Param]:
    """One parametrization per swa_utils case of ``check``'s kind and dtype (no variant: torch's swa_utils
    have no implementation switch); "not supported" unless the candidate declares every function the case
    calls in ``Capabilities.swa`` and computes in the dtype."""
    capabilities = session.adapter.capabilities()
    out = []
    for case_id in session.vectors.case_ids():
        meta = session.vectors.describe(case_id)
        if KIND_CHECKS.get(meta.get("kind", "")) != check:
            continue
        missing = sorted(set(meta["functions"]) - capabilities.swa)
        for dtype in session.dtypes:
            reason = session.skip_reason
            if reason is None and missing:
                reason = f"not supported: {session.impl} has no {', '.join(missing)}"
            if reason is None and dtype not in capabilities.dtypes:
                reason = f"not supported: {session.impl} does not compute in {dtype}"
            out.append(Param(case_id, dtype, session.device, "", reason))
    return out


def _unsupported(
    session: Session, capabilities: Any, meta: dict[str, Any], dtype: str, variant: str, offered: list[str]
) -> str | None:
    name = meta["optimizer"]
    if session.skip_reason:
        return session.skip_reason
    if name not in capabilities.optimizers:
        return f"not supported: {session.impl} has no {name}"
    if reason := lacking(session.impl, name, declaration(session.adapter, name), case_options(meta)):
        return reason
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
    name = metafunc.function.__name__
    # test_distributed.py, named on the command line for a candidate of one process (not collected otherwise,
    # ``pytest_ignore_collect``): each of its checks is not supported, with why.
    one_process = name in DISTRIBUTED_CHECKS and not distributed(session.adapter)
    why = f"not supported: {session.impl} runs in one process; {name} is for --impl=torch-zero, torch-fsdp"
    if name in SWA_CHECKS:
        found = _swa_params(session, name)
    else:
        found = _schedule_params(session) if name in SCHEDULE_CHECKS else _params_for(session)
    for p in found:
        if stateless and not p.unsupported:
            p = replace(p, unsupported=f"not supported: {session.impl} cannot load optimizer state")
        if one_process:
            p = replace(p, unsupported=p.unsupported or why)
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


def item_of(session: Session, name: str, param: Param) -> Item:
    """What known deviations and tolerance overrides are matched against for test ``name``: its id, fields,
    the classes it is about and the options it sets (vector cases and API checks)."""
    fields = {"device": param.device, "dtype": param.dtype, "variant": param.variant}
    meta = session.vectors.describe(param.case) if param.case in session.vectors.case_file else None
    if meta is None:  # an API check (its optimizer) or a property test (its class)
        classes = {getattr(param, "optimizer", "") or param.case}
        options: set[str] = set(getattr(param, "options", ()))
    elif meta.get("kind") == "scheduler":
        classes, options = scheduler_classes(meta), set()
    elif results.subject_key(meta) == "swa":  # an AveragedModel or update_bn case
        classes, options = {meta["swa"]}, set()
    else:
        classes, options = {meta["optimizer"]}, case_options(meta)
    return Item(name, fields, frozenset(classes), frozenset(options), session.torch_version)


def _torch_own(session: Session, item: Item) -> bool:
    """Whether every class the test is about is torch's own class (identity) in the candidate."""
    own = getattr(session.adapter, "torch_own", None)
    return bool(item.classes) and own is not None and all(own(c) for c in item.classes)


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
    for item in items:
        param = param_of(item)
        if param is None or param.unsupported:
            continue
        info = item_of(session, item.name, param)
        borrowed = session.torch_deviations if session.torch_deviations and _torch_own(session, info) else []
        for deviation in [*session.deviations, *borrowed]:
            if deviation.matches(info):
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


def tolerance_of(session: Session, name: str, param: Param) -> dict[str, float]:
    """The ``[[tolerance]]`` override for test ``name`` (every check kind reads it through here); a check of
    torch's own classes also has torch's overrides (after the candidate's own)."""
    item = item_of(session, name, param)
    borrowed = session.torch_tolerances if _torch_own(session, item) else []
    return tolerance_override([*session.tolerances, *borrowed], item)


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
        swa, schedule = check in SWA_CHECKS, check in SCHEDULE_CHECKS
        loader = LoadedSwa if swa else LoadedSchedule if schedule else LoadedCase
        try:
            case = loader.load(session.vectors, conformance_param.case)
        except VectorError as e:
            raise SuiteError(f"the vectors are broken, not the candidate: {e}") from None
        if override := tolerance_of(session, node.name, conformance_param):
            case.meta["tolerance"] = {**case.meta.get("tolerance", {}), **override}
        p = conformance_param
        record.update(
            check=check,
            case=p.case,
            dtype=p.dtype,
            device=p.device,
            variant=p.variant,
            **{results.subject_key(case.meta): case.meta[results.subject_key(case.meta)]},
            file=session.vectors.case_file[p.case],
        )
        try:
            where = (p.dtype, p.device, p.variant)
            result = CHECKS[check](session.adapter, case, *where)
        except NotSupported as e:
            record["unsupported"] = str(e)
            result = None
        except (CandidateError, CheckTimeout) as e:
            record["error"] = str(e)
            result = None
        # Outside the except blocks, so the report shows the message, not a chain of tracebacks.
        if "unsupported" in record:
            pytest.skip(not_supported(record["unsupported"]))
        if result is None:
            record["message"] = results.failure_message(session, case, p, check, error=record["error"])
            pytest.fail(record["message"], pytrace=False)
        if result.notes:
            record["notes"] = result.notes
        record.update(
            metrics=result.divergence.to_dict(),
            seconds=result.seconds,
            steps=result.steps_run,
            rtol_final=result.rtol[-1] if result.rtol else None,
            # The median step time: how fast the candidate ran, without a list per record in results.json.
            step_median_s=float(np.median(result.step_seconds)) if result.step_seconds else None,
        )
        if not result.passed and (
            note := followed_documentation(session.adapter, CHECKS[check], case, *where)
        ):
            record["spec_note"] = note.id
            result.details.insert(0, note.message())
        if not result.passed:
            # Kept in the record also when the failure is a known deviation (an xfail), for the report.
            record["message"] = results.failure_message(session, case, p, check, result=result)
            record["per_step"] = result.per_step()
            pytest.fail(record["message"], pytrace=False)

    return run


def not_supported(reason: str) -> str:
    """A skip reason that reads "not supported: ..." once."""
    return reason if reason.startswith("not supported") else f"not supported: {reason}"


PACKAGE = Path(__file__).parent.resolve()


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr or "")
    return reason.removeprefix("Skipped: ")


def _outcome(report: pytest.TestReport, call: pytest.CallInfo[None], param: Param) -> str:
    """The one outcome of a test, as results.json, summary.md, index.html and pytest's own line count it.

    - a known deviation: "xfailed"; a non-strict xfail that passes (a property run whose examples missed
      the deviation) is "passed", not a fixed bug (pytest keeps ``wasxfail`` only on a skipped xfail or a
      non-strict pass; a strict XPASS arrives as a plain failure, and stays one);
    - a skip whose reason is "not supported: ..." (declared up front or raised by the candidate at run
      time, ``NotSupported``): "unsupported"; other skips (no CUDA...): "skipped";
    - a failure raised by anything but the check's own verdict (``pytest.fail``): the suite's "error" (a
      broken vector, Hypothesis finding no example, a bug of the suite), never the candidate's "failed".
    """
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "passed"
    if report.skipped:
        return "unsupported" if _skip_reason(report).startswith("not supported") else "skipped"
    if report.failed and call.excinfo is not None and not call.excinfo.errisinstance(pytest.fail.Exception):
        return "error"
    return report.outcome


def _param_for(session: Session, item: pytest.Item) -> Param | None:
    """The item's ``Param``; for a test of this package without one (an API check with no case for the
    candidate), a stand-in, so that every test of a run is counted in every total."""
    param = param_of(item)
    if param is None and Path(str(item.path)).resolve().is_relative_to(PACKAGE):
        return Param(item.name, "", session.device, "")
    return param


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """One record per check, with the outcome pytest counts, so pytest's counts, the summary line and the
    report agree: a check that errors in setup is a failure, and a non-strict xfail that passes (a property
    run whose examples did not reach the deviation) is reported to pytest as the pass it is."""
    report = yield
    session = item.config.stash.get(SESSION, None)
    param = _param_for(session, item) if session is not None else None
    if session is None or param is None:
        return report
    if call.excinfo is not None and isinstance(call.excinfo.value, CheckTimeout):
        # the innermost frame but the timer's own handler: where the candidate was when time ran out
        where = [e for e in call.excinfo.traceback if Path(e.path).name != "timeout.py"][-1]
        report.longrepr = f"{call.excinfo.value}\n  still running at {where.path}:{where.lineno + 1}"
    if report.when == "call" or (report.when != "call" and report.outcome != "passed"):
        record = item.stash.setdefault(RECORD, {})
        outcome = _outcome(report, call, param)
        if report.passed and hasattr(report, "wasxfail"):
            record["deviation_not_reached"] = True
        report.conformance_outcome = outcome  # type: ignore[attr-defined]  (pytest_report_teststatus)
        record.setdefault("case", param.case)
        meta = session.vectors.describe(param.case) if param.case in session.vectors.case_file else {}
        # The algorithm the record is about: a scheduler case's scheduler (its optimizer only drives it), an
        # swa_utils case's function, an API check's optimizer, a property test's class.
        subject = results.subject_key(meta)
        if subject in meta:
            record.setdefault(subject, meta[subject])
        if getattr(param, "optimizer", ""):
            record.setdefault("optimizer", param.optimizer)
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
        if report.skipped:
            record["unsupported" if outcome == "unsupported" else "skip_reason"] = _skip_reason(report)
        # The process that reports (this one, or xdist's controller) collects it: parallel.Reporter.
        parallel.attach(report, record)
    return report


# The words pytest's own summary line uses for each outcome, so that it and the reports agree.
PYTEST_WORDS = {
    "passed": ("passed", ".", "PASSED"),
    "unsupported": ("not supported", "s", "NOT SUPPORTED"),
    "error": ("error", "E", "ERROR"),
}


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """pytest's line counts what the reports count: "not supported", suite errors, and a non-strict xfail
    that passed as a pass."""
    outcome = getattr(report, "conformance_outcome", None)
    return PYTEST_WORDS.get(outcome) if outcome else None


# pytest's exit statuses for a run that did not go through every selected check, and why.
STOPPED = {
    pytest.ExitCode.INTERRUPTED: "interrupted",
    pytest.ExitCode.INTERNAL_ERROR: "the run crashed",
}


def run_status(session: Session, exitstatus: int, why: str | None = None) -> dict[str, Any]:
    """Whether the run went through every check it selected: results.json's ``status``, from which every
    report shows an "interrupted after N of M checks" banner when it did not (``why``: the reason, if not
    the exit status's)."""
    done = {r["nodeid"] for r in session.records}
    ran = sum(1 for nodeid in session.planned if nodeid in done)
    complete = ran == len(session.planned) and exitstatus not in STOPPED
    status: dict[str, Any] = {"complete": complete, "checks_run": ran, "checks_planned": len(session.planned)}
    if not complete:
        why = why or STOPPED.get(pytest.ExitCode(exitstatus), "stopped early (-x or --maxfail)")
        status["message"] = f"interrupted after {ran} of {len(session.planned)} checks ({why})"
    return status


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(SESSION, None)
    if state is not None and parallel.is_worker(session.config):
        parallel.finish_worker(session.config, state)  # the controller writes the report
        return
    if state is None or not state.records or session.config.option.collectonly:
        return  # nothing ran: the previous report (if any) stays as it is
    state.records = parallel.in_collection_order(state.records, state.collection_order)
    state.planned = state.planned or state.collection_order  # xdist's controller collects nothing itself
    status = run_status(state, exitstatus)
    if not status["complete"] and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # an incomplete run never exits 0
    unmatched = [d for d in state.deviations if d.unused]
    if state.bench_config is not None and not state.skip_reason and status["complete"]:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        names = sorted({r["optimizer"] for r in state.records if r.get("optimizer")})
        progress = reporter.write_line if reporter else (lambda _: None)
        state.bench = bench.run_bench(state.adapter, names, state.bench_config, progress)
    state.status = status
    paths = results.write(state, unmatched, state.command)
    state.report_paths = paths


def command_line(config: pytest.Config) -> str:
    """The command as the user typed it (``pytest --pyargs conformance --impl=torch``), not the path of the
    script that ran: reports travel between machines."""
    program = "python -m pytest" if Path(sys.argv[0]).name == "__main__.py" else "pytest"
    return shlex.join([*program.split(), *config.invocation_params.args])


def distributed(adapter: Any) -> bool:
    """Whether the candidate runs over ranks (it has a ``world_size``): test_distributed.py is for it."""
    return hasattr(adapter, "world_size")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """``test_distributed.py`` only for a distributed candidate (one with a ``world_size``)."""
    session = config.stash.get(SESSION, None)
    if collection_path.name == "test_distributed.py" and session is not None:
        return True if not distributed(session.adapter) else None
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    """Release the report folder's lock, and let an adapter with processes or connections (a distributed
    one's ranks) release them."""
    session = config.stash.get(SESSION, None)
    if session is None:
        return
    if session.lock is not None:
        release(session.lock)
    if close := getattr(session.adapter, "close", None):
        close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    state = terminalreporter.config.stash.get(SESSION, None)
    if state is None or not state.records:
        return
    terminalreporter.write_sep("=", "optim-conformance summary")
    for line in results.summary_lines(state):
        terminalreporter.write_line(line)
