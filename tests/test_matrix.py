"""The cross-library matrix (``optconf report --matrix``), through the command line as a user runs it:
built from real results files of small runs (the reference, and a fake library with a declared deviation,
a re-exported torch class and classes it lacks), and from small hand-written ones for the situations a
healthy run does not produce (failures, suite errors, checks that did not run)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from run_conformance import ROOT, run_in_root

from conformance.cli import main

PLANT = "<script>alert(1)</script>"
NADAM = "lib's NAdam has no momentum schedule (u_t = beta1 for every t). More."


def record(check: str, outcome: str, **extra: object) -> dict[str, object]:
    return {"check": check, "test": f"{check}[x]", "outcome": outcome, "device": "cpu", **extra}


def results(folder: Path, candidate: str, version: str, records: list[dict], deviations: Path | None) -> Path:
    folder.mkdir(parents=True)
    env = {"candidate": candidate, "candidate_version": version}
    if deviations:
        env["known_deviations_file"] = str(deviations)
    path = folder / "results.json"
    path.write_text(json.dumps({"format_version": 1, "environment": env, "records": records}))
    return path


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    deviations = tmp_path / "lib.toml"
    deviations.write_text(
        '# header\n\n[[deviation]]\nclass = "NAdam"\n'
        'reason = """lib\'s NAdam has no momentum schedule (u_t = beta1 for every t). More."""\nupstream = "https://example.org/nadam"\n'
    )
    reason = NADAM
    lib = [
        record("test_trajectory", "passed", optimizer="Adam", dtype="float64", metrics={"max_rel": 3e-16}),
        record("test_trajectory", "passed", optimizer="Adam", dtype="float32", metrics={"max_rel": 2e-7}),
        record("test_single_step", "unsupported", optimizer="Adam", dtype="float64", unsupported="no x"),
        record("test_trajectory", "passed", optimizer="NAdam", dtype="float64", metrics={"max_rel": 0.0}),
        record(
            "test_trajectory",
            "xfailed",
            optimizer="NAdam",
            dtype="float64",
            deviation={"reason": reason, "upstream": "https://example.org/nadam"},
        ),
        record(
            "test_trajectory",
            "unsupported",
            optimizer="ASGD",
            dtype="float64",
            unsupported="not supported: lib has no ASGD",
        ),
        record(
            "test_trajectory",
            "unsupported",
            optimizer="SGD",
            dtype="float64",
            unsupported="not supported: dampening",
        ),
        record("test_trajectory", "failed", optimizer="RMSprop", dtype="float32", message=PLANT),
        record("test_schedule", "passed", scheduler="StepLR", metrics={"max_rel": 1e-17}),
        # values that conform, an API check that differs: the cell says where the difference is
        record("test_trajectory", "passed", optimizer="Adadelta", dtype="float32", metrics={"max_rel": 1e-7}),
        record(
            "test_resume",
            "xfailed",
            optimizer="Adadelta",
            deviation={"reason": "Design. Loads no torch state. Why."},
        ),
        # a value deviation leads, though an API one matched more checks
        *[record("test_repr", "xfailed", optimizer="Adamax", deviation={"reason": "Own repr."})] * 3,
        record("test_trajectory", "xfailed", optimizer="Adamax", deviation={"reason": "Adamax uses l2."}),
    ]
    torch = [
        record("test_trajectory", "passed", optimizer="Adam", dtype="float64", metrics={"max_rel": 1e-15})
    ]
    return [
        results(tmp_path / "reports" / "lib-1.0", PLANT, "lib 1.0", lib, deviations),
        results(tmp_path / "reports" / "torch-2.13", "torch", "torch 2.13.0", torch, None),
    ]


def row(markdown: str, name: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {name} |"))
    return [cell.strip() for cell in line.strip("|").split(" | ")][1:]


def test_matrix_cells(runs: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--matrix", *map(str, runs)]) == 0
    out = runs[0].parent.parent
    assert f"wrote {out / 'README.md'}" in capsys.readouterr().out
    markdown = (out / "README.md").read_text()
    adam = row(markdown, "Adam")
    assert "float64 3.0e-16, float32 2.0e-07" in adam[1]
    assert adam[0].startswith("**conforms**")
    nadam = row(markdown, "NAdam")[1]
    # the reason's first sentence, a link to the entry's line in the deviations file, and the upstream link
    assert "**differs** in 1 of 2 checks: " + NADAM.removesuffix(" More.") in nadam
    assert "More." not in nadam
    assert "(../lib.toml#L3)" in nadam and "(https://example.org/nadam)" in nadam
    assert adam[1].startswith("**conforms** (2 checks passed; 1 not supported or skipped)")
    assert row(markdown, "ASGD")[1] == "**not available**"
    assert row(markdown, "Adadelta")[1].startswith(
        "**differs** in 1 of 2 checks (its values conform: worst error float32 1.0e-07): "
        "Design. Loads no torch state. ["
    )
    assert row(markdown, "Adamax")[1].startswith("**differs** in 4 of 4 checks: Adamax uses l2. (+1 more)")
    assert row(markdown, "SGD")[1].startswith("**not supported**: no value was compared (dampening)")
    assert row(markdown, "RMSprop")[1].startswith("**fails**: 1 unexplained failure(s) of 1 checks")
    assert row(markdown, "StepLR")[1].startswith("**conforms** (1 checks passed); worst error 1.0e-17")
    # every row of torch's lists is there, whatever the runs hold
    assert row(markdown, "CyclicLR") == ["**not run**: the run has no check of it"] * 2
    assert row(markdown, "update_bn") == ["**not run**: the run has no check of it"] * 2
    assert "(lib-1.0/index.html)" in markdown and "lib 1.0" in markdown
    # torch, the standard, is the first column whatever the order of the runs given
    assert "\n| | [torch](torch-2.13/index.html) | [" in markdown


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "td":
            self.cells.append(dict(attrs).get("class") or "")


def test_matrix_html(runs: list[Path]) -> None:
    out = runs[0].parent.parent / "elsewhere"
    assert main(["report", "--matrix", *map(str, runs), "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert PLANT not in page and "&lt;script&gt;" in page
    parsed = Collect()
    parsed.feed(page)
    assert "script" not in parsed.tags
    assert {"conforms", "differs", "fails", "not-available", "not-supported", "not-run"} <= set(parsed.cells)
    # links relative to the output folder
    assert 'href="../lib-1.0/index.html"' in page


def test_matrix_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "results.json"
    bad.write_text("{")
    assert main(["report", "--matrix", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid JSON" in err


def test_checks_that_did_not_run_never_conform(tmp_path: Path) -> None:
    """Not supported, skipped, a suite error, an API check alone, an incomplete run: none is "conforms"."""
    records = [
        # every value check skipped (e.g. a device the machine lacks), an API check passed
        record("test_trajectory", "skipped", optimizer="Adam", dtype="float64", skip_reason="no CUDA"),
        record("test_defaults", "passed", optimizer="Adam", case="Adam"),
        # only API checks in the run (-k): its values were never compared
        record("test_repr", "passed", optimizer="SGD", case="SGD"),
        # a suite error beside passes
        record("test_trajectory", "passed", optimizer="RMSprop", dtype="float64", metrics={"max_rel": 0.0}),
        record("test_trajectory", "error", optimizer="RMSprop", dtype="float64", message="VectorError"),
        # a scheduler API check is about the schedulers its case names, not the optimizer driving them
        record(
            "test_scheduler_recipe",
            "unsupported",
            optimizer="Adagrad",
            case="Adagrad:ExponentialLR+StepLR",
            unsupported="not supported: lib does not declare 'torch_api'",
        ),
        # where the library has no MultiStepLR, the suite drives torch's with the library's SGD: SGD's check
        record(
            "test_schedule",
            "unsupported",
            scheduler="MultiStepLR",
            unsupported="not supported: lib has no MultiStepLR",
        ),
        record("test_scheduler_recipe", "passed", optimizer="SGD", case="SGD:MultiStepLR"),
        # a composite case a library cannot build names every class it lacks
        record(
            "test_schedule",
            "unsupported",
            scheduler="SequentialLR",
            unsupported="not supported: lib has no ConstantLR, SequentialLR",
        ),
        record(
            "test_schedule",
            "unsupported",
            scheduler="CyclicLR",
            unsupported="optax has no counterpart of CyclicLR",
        ),
        record(
            "test_schedule",
            "unsupported",
            scheduler="ChainedScheduler",
            unsupported="not supported: lib has no StepLR",
        ),
    ]
    path = results(tmp_path / "reports" / "lib", "lib", "1", records, None)
    data = json.loads(path.read_text())
    data["status"] = {"complete": False, "message": "interrupted after 8 of 100 checks"}
    path.write_text(json.dumps(data))
    assert main(["report", "--matrix", str(path)]) == 0
    markdown = (tmp_path / "reports" / "README.md").read_text()
    assert row(markdown, "Adam") == [
        "**not supported**: no value was compared (no CUDA); 1 API/property check(s) passed"
    ]
    assert row(markdown, "SGD") == [
        "**not run**: no value check of it in this run; 2 API/property check(s) passed"
    ]
    assert row(markdown, "RMSprop")[0].startswith("**suite error** in 1 of 2 checks")
    assert row(markdown, "Adagrad")[0].startswith("**not run**")
    for name in ("ExponentialLR", "StepLR"):
        assert row(markdown, name) == ["**not run**: no value check of it in this run"]
    assert row(markdown, "SequentialLR") == row(markdown, "CyclicLR") == ["**not available**"]
    assert row(markdown, "MultiStepLR") == ["**not available**"]
    assert row(markdown, "ChainedScheduler")[0].startswith(
        "**not supported**: no value was compared (lib has no StepLR)"
    )
    assert "1 (INCOMPLETE RUN: rows may be missing)" in markdown
    assert "| **conforms**" not in markdown


# Small real runs: the Adam, RMSprop, SGD, Adamax and StepLR vector cases in float64, one variant (the matrix
# needs one check of each kind of cell, not the whole catalogue).
SELECT = (
    "(adam/lr0.01- or rmsprop/ or (sgd/ and not asgd) or adamax/) and float64 and (forloop or default) "
    "or steplr/"
)
FAKE = "torch:fakes.matrix_lib"
FAKE_DEVIATIONS = Path(__file__).parent / "fakes" / "matrix_lib.toml"


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``reports/`` with the results of ``--impl=refimpl`` and of the fake library, as pytest wrote them."""
    pytest.importorskip("torch")
    reports = tmp_path_factory.mktemp("matrix") / "reports"
    for impl, folder, extra in (
        ("refimpl", "refimpl", []),
        (FAKE, "matrix_lib-1.0", ["--known-deviations", str(FAKE_DEVIATIONS)]),
    ):
        args = ["conformance", f"--impl={impl}", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT)]
        code = run_in_root([*args, "--report-dir", str(reports / folder), "-k", SELECT, *extra])
        assert code == 0, f"{impl}: exit status {code}"
    return reports


def test_matrix_of_real_runs(real_runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # where the fake's deviations file was given from (tests/fakes/matrix_lib.toml)
    out = real_runs.parent / "from-root"
    runs = sorted(map(str, real_runs.glob("*/results.json")))
    assert main(["report", "--matrix", *runs, "--out", str(out)]) == 0
    markdown = (out / "README.md").read_text()
    assert "| | [torch:fakes.matrix_lib](../reports/matrix_lib-1.0/index.html) | [refimpl]" in markdown
    fake = {
        name: row(markdown, name)[0] for name in ("Adam", "Adamax", "RMSprop", "SGD", "StepLR", "Adadelta")
    }
    reference = {name: row(markdown, name)[1] for name in fake}
    # the declared deviation: what differs, and a link to the entry's line in the deviations file
    assert fake["Adam"].startswith("**differs** in ")
    how = "matrix_lib's Adam counts its bias corrections one step ahead: p -= lr / (1 - beta1^(t+1)) * m"
    assert how in fake["Adam"] and "where torch has t." in fake["Adam"]
    assert "Declared" not in fake["Adam"]  # one line: the reason's first sentence
    (href,) = re.findall(r"\[deviation 1\]\(([^)]+)\)", fake["Adam"])
    file, line = (out / href).as_posix().split("#L")
    assert Path(file).resolve() == FAKE_DEVIATIONS.resolve()
    assert FAKE_DEVIATIONS.read_text().splitlines()[int(line) - 1] == "[[deviation]]"
    assert "(https://example.org/matrix_lib/adam)" in fake["Adam"]
    # a class the library lacks is not available, never "differs", though its deviations file names it
    assert (
        fake["Adamax"] == "**not available**"
        and fake["Adadelta"] == "**not run**: the run has no check of it"
    )
    assert re.match(r"\*\*conforms\*\* \(\d+ checks passed\); worst error float64 \d", fake["RMSprop"])
    assert fake["SGD"].startswith("**conforms**") and fake["SGD"].endswith("torch's own class, re-exported")
    assert fake["StepLR"].startswith("**conforms**") and "torch's own" in fake["StepLR"]
    assert all(reference[name].startswith("**conforms**") for name in ("Adam", "Adamax", "RMSprop", "SGD"))
    assert "torch's own" not in " ".join(reference.values())


def test_the_documented_matrix_command(real_runs: Path) -> None:
    """``optconf report --matrix reports/*/results.json``, as the README gives it, from the folder holding
    ``reports/``; the deviations file, given relative to another folder, is not found from there, so the
    "differs" cell links the deviation's section in the library's own report."""
    readme = (ROOT / "README.md").read_text()
    command = "optconf report --matrix reports/*/results.json"
    assert f"`{command}`" in readme
    # the matrix page is linked from the README's first screen
    assert "(reports/README.md)" in "\n".join(readme.splitlines()[:30])
    python = shlex.quote(sys.executable)
    shell = command.replace("optconf", f"{python} -m conformance.cli", 1)
    done = subprocess.run(shell, shell=True, cwd=real_runs.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # written beside the runs' folders, the default output folder
    assert done.stdout.splitlines() == [
        f"wrote {real_runs.resolve() / name}" for name in ("README.md", "index.html")
    ]
    markdown = (real_runs / "README.md").read_text()
    adam = row(markdown, "Adam")[0]
    (href,) = re.findall(r"\[deviation 1\]\(([^)]+)\)", adam)
    page, anchor = href.split("#")
    assert page == "matrix_lib-1.0/index.html"
    report = (real_runs / page).read_text()
    section = report[report.index(f'id="{anchor}"') :]
    assert "bias corrections one step ahead" in section[: section.index("</article>")]
    page = (real_runs / "index.html").read_text()
    assert f'href="{href}"' in page and 'href="https://example.org/matrix_lib/adam"' in page
