"""The report a user reads: index.html's structure and self-containment, the matrix's totals, escaping of
every candidate-provided string, rendering without matplotlib, re-rendering with ``optconf report``, and
one-line errors for results files that cannot be read."""

from __future__ import annotations

import importlib.util
import json
import sys
from html.parser import HTMLParser

import pytest
import report_data

from conformance.cli import main
from conformance.report import model, render_html, render_markdown
from conformance.report.html import MAX_DETAILED

VOID = {"meta", "br", "hr", "img", "input", "link", "source", "wbr", "col", "area", "base", "embed", "track"}
PLANT = "<script>alert(1)</script>"


class Structure(HTMLParser):
    """Checks that every element is closed in order, and collects ids, tags and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.ids: set[str] = set()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            self.attributes.append((tag, name, value or ""))
            if name == "id":
                if value in self.ids:
                    self.problems.append(f"duplicate id {value!r}")
                self.ids.add(value or "")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Structure:
    parser = Structure()
    parser.feed(html)
    parser.close()
    assert not parser.problems, parser.problems[:5]
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return parser


def without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import matplotlib`` fail as it does where the plots extra is not installed."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


@pytest.fixture(params=["matplotlib", "no matplotlib"])
def plotting(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both chart paths: matplotlib's (where installed) and the built-in SVG."""
    if request.param == "matplotlib":
        pytest.importorskip("matplotlib")
    else:
        without_matplotlib(monkeypatch)
    return request.param


def test_html_is_well_formed_self_contained_and_has_every_section(plotting):
    data = report_data.mixed()
    data["bench"] = report_data.bench([report_data.bench_row("Adam", "forloop", 1000, 1e-5)])
    page = parse(render_html(data))
    assert {"totals", "matrix", "failures", "speed", "case-0", "case-1"} <= page.ids
    # nothing to fetch: no scripts, stylesheets, images, frames or sources; links only to the upstream issue
    assert not {"script", "link", "img", "iframe", "object", "embed"} & page.tags
    assert not [a for a in page.attributes if a[1] in ("src", "srcset")]
    external = [v for tag, name, v in page.attributes if name == "href" and not v.startswith("#")]
    assert external == ["https://github.com/pytorch/pytorch/issues/125440"]
    assert "<svg" in render_html(data)  # the error-against-step and speed charts, inline
    text = " ".join(page.text)
    for expected in (
        "torch 2.13.0",
        "x86_64",
        "float64, float32",
        "pytest conformance --impl=torch",
        "2026-01-01",
    ):
        assert expected in text
    assert "foreach rounds eta in float32" in text and "replay('x')" in text


def test_matrix_counts_totals_and_denominators():
    (adam_sgd,) = model.matrices(report_data.mixed()["records"])
    assert adam_sgd.columns == [("foreach", "float64"), ("forloop", "float32"), ("forloop", "float64")]
    rows = {name: (cells, total) for name, cells, total in adam_sgd.rows}
    assert rows["Adam"][0][2].text == "2 pass, 1 FAIL / 3"
    assert rows["Adam"][0][0].text == "1 known dev., 1 n/s / 2"
    assert rows["Adam"][0][1].text == ""  # Adam has no forloop float32 record
    assert rows["Adam"][1].text == "2 pass, 1 FAIL, 1 known dev., 1 n/s / 5"
    assert rows["Adam"][1].worst == 0.25 and rows["Adam"][1].status == "failed"
    assert [c.text for c in adam_sgd.column_totals] == [
        "1 known dev., 1 n/s / 2",
        "1 pass / 1",
        "2 pass, 1 FAIL / 3",
    ]
    assert adam_sgd.total.text == "3 pass, 1 FAIL, 1 known dev., 1 n/s / 6"
    for rendered in (render_html(report_data.mixed()), render_markdown(report_data.mixed())):
        assert "3 pass, 1 FAIL, 1 known dev., 1 n/s / 6" in rendered


def test_schedulers_get_a_matrix_of_their_own():
    data = report_data.results(
        [report_data.record("adam/a", "passed"), report_data.record("steplr/a", "failed", scheduler="StepLR")]
    )
    assert [m.title for m in model.matrices(data["records"])] == ["Optimizers", "Schedulers"]


def test_every_candidate_provided_string_is_escaped(plotting):
    data = report_data.mixed()
    data["environment"].update(candidate=PLANT, candidate_version=PLANT, command=f"pytest --impl='{PLANT}'")
    failing = data["records"][2]
    failing.update(
        case=f"adam/{PLANT}",
        test=f"test_trajectory[{PLANT}]",
        message=f"boom {PLANT}\n  reproduce:\n    {PLANT}",
    )
    data["records"][3]["deviation"] = {"reason": PLANT, "upstream": "javascript:alert(1)"}
    data["records"].append(report_data.record(f"adam/{PLANT}", "failed", variant=PLANT, message=PLANT))
    data["unmatched_deviations"] = [{"test": PLANT, "reason": PLANT, "upstream": PLANT}]
    data["bench"] = report_data.bench(
        [
            report_data.bench_row("Adam", PLANT, 1000, 1e-5),
            report_data.bench_row(PLANT, "forloop", 1000, 1e-5),
        ]
    )
    data["bench"]["skipped"].append({"optimizer": PLANT, "variant": PLANT, "size": "", "reason": PLANT})
    html = render_html(data)
    assert "<script" not in html.lower()
    assert not [v for _, n, v in parse(html).attributes if n == "href" and "javascript" in v]
    assert html.count("&lt;script&gt;") >= 8


def test_renders_without_matplotlib_with_every_table(monkeypatch):
    without_matplotlib(monkeypatch)
    data = report_data.mixed()
    data["bench"] = report_data.bench([report_data.bench_row("Adam", "forloop", 1000, 1e-5)])
    html = render_html(data)
    page = parse(html)
    assert "matplotlib" not in html
    assert html.count("<svg") == 3  # the failure's and the deviation's error plots, Adam's speed plot
    assert html.count("<table") == 9  # header, totals, matrix, causes, failures, 2 x metrics, speed, bytes
    assert {"case-0", "case-1", "speed"} <= page.ids


def test_a_non_finite_error_is_drawn_at_the_top_and_labelled():
    from conformance.report.svg import Chart, Series, render

    svg = render(Chart([Series("max rel error", [1, 2, 3], [1e-12, float("inf"), 0.0])], "step", "e"))
    assert "non-finite at top" in svg and "zero at bottom" in svg
    assert "nan" not in svg.lower() and "inf" not in svg.replace("non-finite", "")


def test_many_failures_keep_the_page_small_and_quick(monkeypatch):
    import conformance.report.html

    monkeypatch.setattr(conformance.report.html, "MATPLOTLIB_CHARTS", 2)
    records = [report_data.record(f"adam/{i}", "failed", max_rel=0.1) for i in range(MAX_DETAILED + 5)]
    html = render_html(report_data.results(records))
    page = parse(html)
    assert f"case-{MAX_DETAILED - 1}" in page.ids and f"case-{MAX_DETAILED}" not in page.ids
    assert html.count("<svg") == MAX_DETAILED
    matplotlib_charts = len([i for i in page.ids if i.endswith("-figure_1")])
    assert matplotlib_charts == (2 if importlib.util.find_spec("matplotlib") else 0)


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A real run of the harness on a mutant (Adam with eps inside the sqrt), one case, both checks."""
    pytest.importorskip("torch")
    from run_conformance import ROOT, run_in_root

    out = tmp_path_factory.mktemp("mutant") / "report"
    args = ["conformance/test_optimizers.py", "--impl=torch:mutants.adam_eps_inside_sqrt", "-q", "-p"]
    args += ["no:cacheprovider", "--rootdir", str(ROOT), "--report-dir", str(out)]
    args += ["-k", "adam/lr0.01-eps1e-08-g1e-07-float32-cpu-forloop"]
    assert run_in_root(args) == pytest.ExitCode.TESTS_FAILED
    return {"dir": out, "data": json.loads((out / "results.json").read_text())}


def test_a_failing_run_reports_metrics_error_curve_and_reproduction(failing_run):
    records = failing_run["data"]["records"]
    assert {r["check"] for r in records} == {"test_trajectory", "test_single_step"}
    for r in records:
        assert r["outcome"] == "failed"
        per_step = r["per_step"]
        assert len(per_step["steps"]) == len(per_step["max_rel"]) == len(per_step["rtol"]) > 0
        # the curve crosses the tolerance exactly where the record says the first bad step is
        first = next(s for s, e, t in zip(per_step["steps"], per_step["max_rel"], per_step["rtol"]) if e > t)
        assert first == r["metrics"]["first_bad_step"]
    html = (failing_run["dir"] / "index.html").read_text()
    page = parse(html)
    assert {"case-0", "case-1"} <= page.ids
    assert "mutants.adam_eps_inside_sqrt.Adam(groups" in html  # the pasteable reproduction
    assert "first step beyond tolerance" in html and html.count("<svg") >= 2
    assert "## Failures" in (failing_run["dir"] / "summary.md").read_text()


def test_optconf_report_rerenders_the_same_report(failing_run, tmp_path, capsys):
    assert main(["report", str(failing_run["dir"] / "results.json"), "--out", str(tmp_path)]) == 0
    for name in ("index.html", "summary.md"):
        assert (tmp_path / name).read_text() == (failing_run["dir"] / name).read_text()
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, expected",
    [
        ("{not json", "not valid JSON"),
        ('{"records": []}', "no format_version"),
        ('{"format_version": 99, "environment": {}, "records": []}', "results format 99 is unknown"),
        ('{"format_version": 1, "environment": {}, "records": {}}', "'records' is missing or not a list"),
        (
            '{"format_version": 1, "environment": {}, "records": [{"outcome": "odd"}]}',
            "record 0 has no known",
        ),
        (None, "cannot read"),
    ],
)
def test_an_unreadable_results_file_is_one_line(content, expected, tmp_path, capsys):
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    for argv in (["report", str(path)], ["report", "--diff", str(path), str(path)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and expected in err and str(path) in err, err
