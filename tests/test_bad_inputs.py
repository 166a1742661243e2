"""Never a false green, never a lost report: every bad option, file or entry, and every hanging, crashing or
careless candidate, gets the outcome it should (issue 16's battery, one test per input).

Options and files are refused up front with pytest's usage error (exit status 4) and one line naming the bad
value and the valid ones; candidates are judged on what they compute, never on what an earlier check did to
the harness; a report says when it covers less than the run selected.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from run_conformance import ROOT, conformance

from conformance.cli import main
from conformance.report.model import REPRODUCE_MARK, details
from conformance.report_folder import claim
from conformance.vectors import DEFAULT_DIR, Vectors, npz_bytes, recover, write_atomically

pytest.importorskip("torch")

USAGE = pytest.ExitCode.USAGE_ERROR
# One small case: its trajectory and single-step checks in float64 on the for-loop variant (2 checks).
ONE = "sgd/lr0.1-float64-cpu-forloop"


def error_line(out: str, *needles: str) -> str:
    """The one output line holding every needle (the usage error), asserting there is exactly one."""
    lines = [line for line in out.splitlines() if all(n in line for n in needles)]
    assert len(lines) == 1, out[-3000:]
    return lines[0]


def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> str:
    """Write a candidate module ``name`` where this process imports it; returns its name."""
    folder = tmp_path / "candidates"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(folder))
    return name


def vectors_copy(tmp_path: Path) -> Path:
    target = tmp_path / "vectors"
    shutil.copytree(DEFAULT_DIR, target)
    return target


def rehash(vectors: Path, relative: str) -> None:
    """Record an edited file's sha256 in the manifest: the edit passes the hash check, as a hand-built or
    buggy generator's file would, and only the schema can catch it."""
    manifest = json.loads((vectors / "manifest.json").read_text())
    data = (vectors / relative).read_bytes()
    manifest["files"][relative]["sha256"] = hashlib.sha256(data).hexdigest()
    (vectors / "manifest.json").write_text(json.dumps(manifest))


def results(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "report" / "results.json").read_text())


# --- options ---------------------------------------------------------------------------------------


def test_unknown_device_is_a_usage_error(tmp_path, capsys):
    code, out = conformance("torch", ONE, tmp_path, capsys, "--device", "foo")
    assert code == USAGE
    assert "valid: cpu, cuda" in error_line(out, "--device foo")


def test_unknown_dtype_is_a_usage_error(tmp_path, capsys):
    code, out = conformance("torch", ONE, tmp_path, capsys, "--dtype", "float8")
    assert code == USAGE
    assert "valid: float64, float32, bfloat16, float16" in error_line(out, "--dtype float8")


def test_empty_dtype_is_a_usage_error(tmp_path, capsys):
    code, out = conformance("torch", ONE, tmp_path, capsys, "--dtype", ",")
    assert code == USAGE
    assert "valid: float64" in error_line(out, "--dtype (empty)")


def test_unknown_variant_is_a_usage_error(tmp_path, capsys):
    code, out = conformance("torch", ONE, tmp_path, capsys, "--variant", "bogus")
    assert code == USAGE
    valid = "valid: capturable, compile, default, differentiable, foreach, forloop, fused, all"
    assert valid in error_line(out, "--variant bogus")


def test_bad_check_timeout_is_a_usage_error(tmp_path, capsys):
    code, out = conformance("torch", ONE, tmp_path, capsys, "--check-timeout", "-1")
    assert code == USAGE
    error_line(out, "--check-timeout -1", "positive number")


def test_a_candidate_with_nothing_to_test_is_a_usage_error(tmp_path, capsys):
    code, out = conformance("torch:json", ONE, tmp_path, capsys)
    assert code == USAGE
    assert "nothing would be tested" in error_line(out, "--impl=torch:json")


def test_an_unwritable_report_folder_is_refused_before_any_check_and_leaves_nothing(tmp_path, capsys):
    blocker = tmp_path / "report"
    blocker.write_text("a file where the report folder should go")  # as root, permissions would not stop us
    code, out = conformance("torch", ONE, tmp_path, capsys)
    assert code == USAGE
    error_line(out, f"--report-dir {blocker}", "cannot write there")
    assert "passed" not in out and sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_a_second_run_into_a_locked_report_folder_is_refused(tmp_path, capsys):
    lock = claim(tmp_path / "report")  # another run holds the folder
    try:
        code, out = conformance("torch", ONE, tmp_path, capsys)
    finally:
        lock.release()
    assert code == USAGE
    error_line(out, "another optim-conformance run is writing its report there")
    assert not (tmp_path / "report" / "results.json").exists()


# --- known-deviations files ---------------------------------------------------------------------------


ENTRY = '[[deviation]]\ntest = "test_trajectory[sgd/*]"\nreason = "r"\nupstream = "u"\n'


@pytest.mark.parametrize(
    "text, expected",
    [
        # the typo that made a NaN-writing candidate "16 xfailed, rc 0": the condition must not vanish
        (
            ENTRY + 'dtyp = "float32"',
            "deviation #1: unknown key 'dtyp' (did you mean 'dtype'?); valid keys: class",
        ),
        (ENTRY + 'dtype = "float8"', "deviation #1: dtype: 'float8' is not one of float64, float32"),
        (ENTRY + 'torch = "=>2.13"', "deviation #1: torch: '=>2.13' is not a version specifier"),
        (ENTRY.replace('"test_trajectory[sgd/*]"', "5"), "deviation #1: test: 5 is not a test pattern"),
        ('deviation = "oops"\n', "deviation: 'oops' is not of type 'array'"),
        (
            '[[tolerance]]\ntest = "test_trajectory[sgd/*]"\nreason = "r"\nflaot32 = 1e-4\n',
            "tolerance #1: unknown key 'flaot32' (did you mean 'float32'?)",
        ),
    ],
    ids=[
        "unknown key",
        "unknown dtype",
        "bad version specifier",
        "wrong type",
        "not a list",
        "tolerance typo",
    ],
)
def test_a_malformed_deviation_file_is_a_usage_error(text, expected, tmp_path, capsys):
    path = tmp_path / "deviations.toml"
    path.write_text(text)
    code, out = conformance("torch", ONE, tmp_path, capsys, "--known-deviations", str(path))
    assert code == USAGE
    assert expected in error_line(out, str(path))


# --- vectors --------------------------------------------------------------------------------------------


def test_a_malformed_manifest_is_a_usage_error_naming_it(tmp_path, capsys):
    vectors = vectors_copy(tmp_path)
    manifest = json.loads((vectors / "manifest.json").read_text())
    manifest["files"] = list(manifest["files"])
    (vectors / "manifest.json").write_text(json.dumps(manifest))
    code, out = conformance("torch", ONE, tmp_path, capsys, "--vectors", str(vectors))
    assert code == USAGE
    assert "files: " in error_line(out, str(vectors / "manifest.json"), "not a valid manifest")


def test_a_case_description_without_steps_is_a_usage_error_naming_file_and_case(tmp_path, capsys):
    vectors = vectors_copy(tmp_path)
    path = vectors / "optim" / "sgd.json"
    cases = json.loads(path.read_text())
    del cases["sgd/lr0.1"]["steps"]
    path.write_text(json.dumps(cases))
    rehash(vectors, "optim/sgd.json")
    code, out = conformance("torch", ONE, tmp_path, capsys, "--vectors", str(vectors))
    assert code == USAGE
    error_line(out, f"{path} (case sgd/lr0.1)", "'steps' is a required property")


def test_a_vector_array_of_the_wrong_shape_is_blamed_on_the_vectors(tmp_path, capsys):
    vectors = vectors_copy(tmp_path)
    path = vectors / "optim" / "sgd.npz"
    with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["sgd/lr0.1/init/0"] = arrays["sgd/lr0.1/init/0"].reshape(4, 3)  # described as (3, 4)
    path.write_bytes(npz_bytes(arrays))
    rehash(vectors, "optim/sgd.npz")
    code, out = conformance("torch", ONE, tmp_path, capsys, "--vectors", str(vectors))
    assert code == pytest.ExitCode.TESTS_FAILED
    # an error of the suite, not a failure of the candidate
    assert "the vectors are broken, not the candidate" in out and "2 errors" in out
    assert "array init/0 has shape (4, 3), the case's description implies (3, 4)" in out
    assert "candidate raised" not in out


def test_a_manifest_made_for_another_torch_is_reported(tmp_path, capsys):
    vectors = vectors_copy(tmp_path)
    manifest = json.loads((vectors / "manifest.json").read_text())
    manifest["torch_version"] = "2.12.0"
    (vectors / "manifest.json").write_text(json.dumps(manifest))
    code, out = conformance("torch", ONE, tmp_path, capsys, "--vectors", str(vectors))
    assert code == pytest.ExitCode.OK
    # in the summary, where a user reads the verdict (and in the header, which -q leaves out)
    summary = out[out.index("optim-conformance summary") :]
    assert "were made for torch 2.12.0; this harness specifies torch 2.13.0" in summary


def test_reproductions_load_the_vectors_the_run_used(tmp_path, capsys):
    vectors = vectors_copy(tmp_path)
    nan = "harness_adapters:NaNAdapter"
    code, out = conformance(nan, "sgd/lr0.1-float64", tmp_path, capsys, "--vectors", str(vectors))
    assert code == pytest.ExitCode.TESTS_FAILED
    assert f"vectors={str(vectors)!r}" in out
    # The report's own replay line, for a failure whose message carries no reproduction (an error pytest
    # caught outside the harness's message), reads the run's --vectors too, and runs.
    data = json.loads((tmp_path / "report" / "results.json").read_text())
    assert data["environment"]["vectors_option"] == str(vectors)
    for record in data["records"]:
        record["message"] = record.get("message", "").partition(REPRODUCE_MARK)[0]
    failures = [d for d in details(data) if d.outcome == "failed"]
    assert failures
    for failure in failures:
        assert f"vectors={str(vectors)!r}" in failure.reproduction, failure.reproduction
    capsys.readouterr()
    exec(failures[0].reproduction, {})
    assert "sgd/lr0.1" in capsys.readouterr().out


# --- candidates that fail to load -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, expected",
    [
        ("x = 1 / 0\n", "loading the candidate raised ZeroDivisionError: division by zero"),
        ("def broken(:\n", "loading the candidate raised SyntaxError"),
    ],
    ids=["raises at import", "does not parse"],
)
def test_a_module_that_fails_at_import_is_a_usage_error(source, expected, tmp_path, capsys, monkeypatch):
    name = module(tmp_path, monkeypatch, f"broken_{len(source)}", source)
    code, out = conformance(f"{name}:Adapter", ONE, tmp_path, capsys)
    assert code == USAGE
    assert expected in error_line(out, f"--impl={name}:Adapter")


ADAPTER = """
    from conformance.adapters.refimpl_adapter import RefimplAdapter

    class Adapter(RefimplAdapter):
        def __init__(self):
            {init}

        def capabilities(self):
            {capabilities}
"""


@pytest.mark.parametrize(
    "init, capabilities, expected",
    [
        ("raise RuntimeError('no device found')", "pass", "loading the candidate raised RuntimeError"),
        ("pass", "raise KeyError('dtypes')", "the adapter's capabilities() raised KeyError"),
        ("pass", "return {'optimizers': ['SGD']}", "capabilities() returned dict"),
    ],
    ids=["constructor raises", "capabilities raises", "capabilities of the wrong type"],
)
def test_an_adapter_that_fails_to_start_is_a_usage_error(
    init, capabilities, expected, tmp_path, capsys, monkeypatch
):
    name = module(
        tmp_path,
        monkeypatch,
        f"failing_{abs(hash((init, capabilities))) % 10**8}",
        ADAPTER.format(init=init, capabilities=capabilities),
    )
    code, out = conformance(f"{name}:Adapter", ONE, tmp_path, capsys)
    assert code == USAGE
    assert expected in error_line(out, f"--impl={name}:Adapter")


# --- candidates that hang, interrupt or misbehave -------------------------------------------------------

HUNG = """
    import time
    import torch

    class SGD(torch.optim.SGD):
        def step(self, closure=None):
            while True:  # never returns; swallows what an ``except Exception`` would
                try:
                    time.sleep(0.01)
                except Exception:
                    pass
"""


def test_a_hung_check_fails_with_the_time_limit_and_the_run_goes_on(tmp_path, capsys, monkeypatch):
    name = module(tmp_path, monkeypatch, "hung_sgd", HUNG)
    code, _ = conformance(f"torch:{name}", ONE, tmp_path, capsys, "--check-timeout", "0.5")
    assert code == pytest.ExitCode.TESTS_FAILED
    data = results(tmp_path)
    assert data["status"]["complete"] and len(data["records"]) == 2  # both checks ran, one after the other
    left = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert left == ["index.html", "results.json", "summary.md"]  # no lock or temporary file left behind
    for record in data["records"]:
        assert record["outcome"] == "failed"
        assert "candidate did not return within 0.5 s" in record["message"]


STUCK = """
    import signal
    import time
    import torch

    class SGD(torch.optim.SGD):
        def __init__(self, *args, **kwargs):
            signal.signal(signal.SIGALRM, signal.SIG_IGN)  # takes the timer's signal for itself
            super().__init__(*args, **kwargs)

        def step(self, closure=None):
            while True:
                time.sleep(0.01)
"""


def test_a_candidate_that_cannot_be_interrupted_ends_the_run_with_a_marked_report(tmp_path):
    # Like a native call that never returns, it never sees the timer: the watchdog ends the run after twice
    # the limit. That ends the process, so this test runs its own.
    (tmp_path / "stuck_sgd.py").write_text(textwrap.dedent(STUCK))
    select = "test_trajectory and sgd/lr0.1-float64-cpu"  # one check (its __init__ hides the variants)
    command = [sys.executable, "-m", "pytest", "conformance", "--impl=torch:stuck_sgd", "-k", select, "-q"]
    command += ["-p", "no:cacheprovider", "--check-timeout", "1", "--report-dir", str(tmp_path / "report")]
    path = os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == pytest.ExitCode.INTERRUPTED, done.stdout[-2000:] + done.stderr[-2000:]
    message = "interrupted after 0 of 1 checks (a candidate did not return within 1 s and could not be "
    message += "interrupted)"
    assert results(tmp_path)["status"]["message"] == message
    assert message in done.stderr


def test_a_hung_property_example_fails_with_the_time_limit(tmp_path, capsys, monkeypatch):
    name = module(tmp_path, monkeypatch, "hung_sgd_property", HUNG)
    select = "test_optimizer_property and [SGD-float64-cpu-forloop"
    code, _ = conformance(f"torch:{name}", select, tmp_path, capsys, "--check-timeout", "0.5")
    assert code == pytest.ExitCode.TESTS_FAILED
    (record,) = results(tmp_path)["records"]
    assert record["outcome"] == "failed"
    assert "candidate did not return within 0.5 s" in record["message"] and "reproduce:" in record["message"]


def test_an_interrupted_run_says_so_in_every_report_and_exits_non_zero(tmp_path, capsys, monkeypatch):
    name = module(
        tmp_path,
        monkeypatch,
        "interrupted_sgd",
        """
        import torch

        Adam = torch.optim.Adam

        class SGD(torch.optim.SGD):
            def step(self, closure=None):
                raise KeyboardInterrupt  # as Ctrl-C in the middle of the run
        """,
    )
    select = "(test_trajectory or test_single_step) and (adam/lr0.01-float64 or sgd/lr0.1-float64)"
    select += " and forloop"
    code, out = conformance(f"torch:{name}", select, tmp_path, capsys)
    assert code == pytest.ExitCode.INTERRUPTED
    data = results(tmp_path)
    message = "interrupted after 1 of 4 checks (interrupted)"
    assert data["status"] == {"complete": False, "checks_run": 1, "checks_planned": 4, "message": message}
    for report in ("summary.md", "index.html"):
        assert f"INCOMPLETE RUN: {message}" in (tmp_path / "report" / report).read_text()
    assert f"INCOMPLETE: {message}" in out


def test_an_interrupted_run_that_checked_nothing_leaves_the_previous_report(tmp_path, capsys, monkeypatch):
    name = module(
        tmp_path,
        monkeypatch,
        "interrupted_at_once",
        """
        import torch

        class SGD(torch.optim.SGD):
            def step(self, closure=None):
                raise KeyboardInterrupt
        """,
    )
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "results.json").write_text("previous")
    code, _ = conformance(f"torch:{name}", ONE, tmp_path, capsys)
    assert code == pytest.ExitCode.INTERRUPTED
    assert (folder / "results.json").read_text() == "previous"


CARELESS = """
    import numpy as np
    from conformance.adapters.base import Capabilities

    class Run:
        # Right arithmetic, careless memory: works in the arrays it is given (no copy in float64), scales
        # the given gradients in place, and returns its live arrays.
        def __init__(self, groups, hyper, dtype):
            self.lr = hyper["lr"]
            self.live = [np.asarray(p, dtype=dtype) for g in groups for p in g["params"]]

        def step(self, grads):
            for p, g in zip(self.live, grads):
                if g is not None:
                    g *= self.lr
                    p -= g.astype(p.dtype)

        def params(self):
            return self.live

        def set_hyperparameter(self, group, key, value):
            setattr(self, key, value)

    class Careless:
        name = "careless"

        def version(self):
            return "1"

        def capabilities(self):
            return Capabilities(optimizers=frozenset({"SGD"}), features=frozenset())

        def make_optimizer(self, name, groups, hyper, *, dtype, device, variant):
            return Run(groups, hyper, dtype)
"""


def test_a_careless_adapter_cannot_change_a_later_checks_verdict(tmp_path, capsys, monkeypatch):
    name = module(tmp_path, monkeypatch, "careless_sgd", CARELESS)
    # the float64 check runs first; without copies it would move the float32 check's starting point
    code, out = conformance(f"{name}:Careless", "test_trajectory and sgd/lr0.1-float", tmp_path, capsys)
    assert code == pytest.ExitCode.OK, out[-3000:]
    assert [r["outcome"] for r in results(tmp_path)["records"]] == ["passed", "passed"]


def test_the_vectors_cache_is_read_only():
    arrays = Vectors().arrays("sgd/lr0.1")
    with pytest.raises(ValueError, match="read-only"):
        arrays["init/0"][0, 0] = 1.0


# --- vectors generate, list, verify -------------------------------------------------------------------


def sgd_files() -> list:
    from conformance.catalogue import optimizer_cases
    from conformance.generate import vector_files

    return vector_files([c for c in optimizer_cases("sgd/") if c.id == "sgd/lr0.1"])


def tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def test_an_interrupted_swap_is_recovered(tmp_path, monkeypatch):
    from conformance.generate import versions

    target = tmp_path / "vectors"
    write_atomically(target, sgd_files(), versions())
    before = tree(target)
    replace = os.replace
    calls = []

    def interrupted(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the old tree is aside, the new one not yet in place
            raise KeyboardInterrupt
        replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, sgd_files(), versions())
    monkeypatch.setattr(os, "replace", replace)
    assert not target.exists()
    with pytest.raises(Exception, match="interrupted `optconf vectors generate` left the previous vectors"):
        Vectors(target)
    assert recover(target) and tree(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors"]


def test_generated_vectors_have_normal_permissions(tmp_path):
    from conformance.generate import versions

    write_atomically(tmp_path / "vectors", sgd_files(), versions())
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "vectors").stat().st_mode & 0o777 == 0o777 & ~umask


def test_list_reads_the_dir_it_is_given(tmp_path, capsys):
    from conformance.generate import versions

    write_atomically(tmp_path / "vectors", sgd_files(), versions())
    assert main(["vectors", "list", "--dir", str(tmp_path / "vectors")]) == 0
    assert re.findall(r"^\S+", capsys.readouterr().out, re.M) == ["sgd/lr0.1"]


# --- report --diff ------------------------------------------------------------------------------------


def test_diff_fails_on_checks_that_are_no_longer_looked_at(tmp_path, capsys):
    import report_data

    a = report_data.mixed()
    b = json.loads(json.dumps(a))
    passed = next(r for r in b["records"] if r["outcome"] == "passed")
    passed.update(outcome="skipped", unsupported="not supported: the new version dropped it")
    paths = []
    for name, data in (("a.json", a), ("b.json", b)):
        paths.append(str(tmp_path / name))
        Path(paths[-1]).write_text(json.dumps(data))
    assert main(["report", "--diff", *paths]) == 1
    out = capsys.readouterr().out
    assert "0 regression(s)" in out and "1 check(s) lost coverage" in out and "## Coverage lost (1)" in out
    assert main(["report", "--diff", *paths, "--allow-coverage-loss"]) == 0


# --- one set of counts --------------------------------------------------------------------------------


def test_pytest_the_summary_and_the_report_count_alike(tmp_path, capsys):
    # A known deviation on a property test that this run's examples do not reach: a non-strict xfail that
    # passes. pytest would count it "xpassed", the summary "passed" and the report neither.
    path = tmp_path / "deviations.toml"
    path.write_text(
        '[[deviation]]\ntest = "test_optimizer_property[SGD-float64-*]"\nreason = "r"\nupstream = "u"\n'
    )
    select = "sgd/lr0.1-float64-cpu-forloop or test_optimizer_property and [SGD-float64-cpu-forloop"
    code, out = conformance("torch", select, tmp_path, capsys, "--known-deviations", str(path))
    assert code == pytest.ExitCode.OK, out[-3000:]
    assert re.search(r"\b3 passed, \d+ deselected", out) and "xpass" not in out.lower()
    header, summary = out.index("optim-conformance summary"), out.index("optim-conformance: torch: 3 passed")
    assert header < summary and "XPASSES" not in out[:summary]
    assert [r["outcome"] for r in results(tmp_path)["records"]].count("passed") == 3
    summary_md = (tmp_path / "report" / "summary.md").read_text()
    assert re.search(r"^\| passed +\| +3 \|$", summary_md, re.M)
    assert re.search(r"^\| xpassed +\| +0 \|$", summary_md, re.M)


def test_torchs_sparse_warning_does_not_show_on_a_green_run(tmp_path, capsys):
    import torch

    select = "test_trajectory and sgd/lr0.1-mom0.9-sparse-float64-cpu-forloop"
    always = torch.is_warn_always_enabled()
    torch.set_warn_always(True)  # torch warns once per process: an earlier test may have had the warning
    try:
        code, out = conformance("torch", select, tmp_path, capsys)
    finally:
        torch.set_warn_always(always)
    assert code == pytest.ExitCode.OK, out[-3000:]
    assert "Sparse invariant checks" not in out and "warnings summary" not in out


# --- the command line's folders -----------------------------------------------------------------------


def test_generate_into_a_folder_that_cannot_be_written_is_one_line_before_generating(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["vectors", "generate", "--dir", str(blocker / "vectors")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--dir {blocker / 'vectors'}: cannot write there" in err


def test_report_into_a_folder_that_cannot_be_written_is_one_line(tmp_path, capsys):
    import report_data

    (tmp_path / "results.json").write_text(json.dumps(report_data.mixed()))
    (tmp_path / "file").write_text("not a folder")
    assert main(["report", str(tmp_path / "results.json"), "--out", str(tmp_path / "file" / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "optconf report: cannot write" in err
