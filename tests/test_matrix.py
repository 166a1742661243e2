"""The cross-library matrix (``optconf report --matrix``): built from small results files written here, one
per situation a cell can be in, through the command line as a user runs it."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conformance.cli import main

PLANT = "<script>alert(1)</script>"


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
        'reason = """lib\'s NAdam has no momentum schedule. More."""\nupstream = "https://example.org/nadam"\n'
    )
    reason = "lib's NAdam has no momentum schedule. More."
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
    assert adam[0].startswith("**conforms** (2 checks; 1 not supported)")
    assert "float64 3.0e-16, float32 2.0e-07" in adam[0]
    assert adam[1].startswith("**conforms**")
    nadam = row(markdown, "NAdam")[0]
    # the reason's first sentence, a link to the entry's line in the deviations file, and the upstream link
    assert "**differs** in 1 of 2 checks: lib's NAdam has no momentum schedule." in nadam
    assert "More." not in nadam
    assert "(../lib.toml#L3)" in nadam and "(https://example.org/nadam)" in nadam
    assert row(markdown, "ASGD")[0] == "**not available**"
    assert row(markdown, "SGD")[0].startswith("**not supported**")
    assert row(markdown, "RMSprop")[0].startswith("**fails**: 1 unexplained failure(s) of 1 checks")
    assert row(markdown, "StepLR")[0].startswith("**conforms** (1 checks); worst error 1.0e-17")
    # every row of torch's lists is there, whatever the runs hold
    assert row(markdown, "CyclicLR") == ["**no checks**", "**no checks**"]
    assert row(markdown, "update_bn") == ["**no checks**", "**no checks**"]
    assert "(lib-1.0/index.html)" in markdown and "lib 1.0" in markdown


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
    assert {"conforms", "differs", "fails", "not-available", "not-supported", "no-checks"} <= set(
        parsed.cells
    )
    # links relative to the output folder
    assert 'href="../lib-1.0/index.html"' in page


def test_matrix_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "results.json"
    bad.write_text("{")
    assert main(["report", "--matrix", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid JSON" in err
