"""``optconf report --diff``: it finds a planted change (a flipped case, a grown divergence, a slower
configuration), ignores changes below its thresholds, matches runs across devices, and fails only on
regressions."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import report_data

from conformance.cli import main
from conformance.report.diff import compare, render
from conformance.tolerances import EPS


def runs() -> tuple[dict, dict]:
    a = report_data.mixed()
    a["bench"] = report_data.bench(
        [
            report_data.bench_row("Adam", "forloop", 1000, 1e-4),
            report_data.bench_row("Adam", "fused", 1000, 1e-5),
        ]
    )
    return a, copy.deepcopy(a)


def test_identical_runs_differ_in_nothing():
    a, b = runs()
    diff = compare(a, b)
    assert (diff.flipped, diff.grown, diff.shrunk, diff.only_a, diff.only_b) == ([], [], [], [], [])
    assert diff.regressions == 0 and [s["verdict"] for s in diff.speed] == ["", ""]


def test_planted_changes_are_found():
    a, b = runs()
    b["records"][0]["outcome"] = "failed"  # adam/a: pass -> FAIL
    b["records"][1]["metrics"]["max_rel"] = 3e-16 * 50  # adam/b: x50 (above the x10 threshold)
    b["records"][5]["metrics"]["max_rel"] = 4e-8 * 3  # sgd/a: x3 (below the threshold)
    b["bench"]["rows"][1]["median"] = 1e-5 * 2  # fused twice as slow
    diff = compare(a, b)
    assert [(k[1], x, y) for k, x, y in diff.flipped] == [("adam/a", "passed", "failed")]
    assert [(k[1], ratio) for k, _, _, ratio in diff.grown] == [("adam/b", 50.0)]
    assert diff.regressions == 2
    assert [(s["b"]["variant"], s["ratio"], s["verdict"]) for s in diff.speed] == [
        ("forloop", 1.0, ""),
        ("fused", 2.0, "slower"),
    ]
    text = render(diff, a, b)
    assert "adam/a" in text and "x50" in text and "slower" in text and "2 regression(s)" in text


def test_errors_under_one_epsilon_do_not_count_as_growth():
    a, b = runs()
    a["records"][0]["metrics"]["max_rel"] = 0.0
    b["records"][0]["metrics"]["max_rel"] = 5 * EPS["float64"]  # exact -> 5 ULPs: x5 against the floor
    assert compare(a, b).grown == []
    b["records"][0]["metrics"]["max_rel"] = float("inf")  # non-finite always counts
    assert [k[1] for k, *_ in compare(a, b).grown] == ["adam/a"]


def test_runs_on_different_devices_are_matched_by_case_dtype_and_variant():
    a, b = runs()
    for r in b["records"]:
        r["device"] = "cuda"
        r["test"] = r["test"].replace("-cpu-", "-cuda-")
    b["records"][2]["outcome"] = "passed"  # adam/c fixed on CUDA
    diff = compare(a, b)
    assert (diff.only_a, diff.only_b) == ([], [])
    assert [(k[1], x, y) for k, x, y in diff.flipped] == [("adam/c", "failed", "passed")]
    assert diff.regressions == 0  # a fix is not a regression


def write(path: Path, data: dict) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_cli_exit_status_says_whether_anything_regressed(tmp_path, capsys):
    a, b = runs()
    pa, pb = write(tmp_path / "a.json", a), write(tmp_path / "b.json", b)
    assert main(["report", "--diff", pa, pb]) == 0
    capsys.readouterr()
    b["records"][0]["outcome"] = "failed"
    write(tmp_path / "b.json", b)
    out = tmp_path / "diff.md"
    assert main(["report", "--diff", pa, pb, "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "adam/a" in printed and out.read_text() == printed


def test_cli_rejects_nonsense_arguments_in_one_line(tmp_path, capsys):
    a, _ = runs()
    pa = write(tmp_path / "a.json", a)
    for argv in (
        ["report"],
        ["report", pa, "--diff", pa, pa],
        ["report", "--diff", pa, pa, "--factor", "0.5"],
    ):
        assert main(argv) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
