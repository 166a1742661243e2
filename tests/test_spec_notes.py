"""Spec notes: the data is well-formed, every documented variant differs from the spec on some catalogued case
(so a candidate following the documentation is caught), such a candidate's failure names the note, torch is
never said to follow the documentation, and the report lists every note with the failures it explains."""

from __future__ import annotations

from pathlib import Path

import pytest
import report_data
from run_conformance import conformance

from conformance.catalogue import optimizer_cases, scheduler_cases
from conformance.generate import run_optim_case, run_sched_case
from conformance.metrics import normwise_error
from conformance.report import render_html, render_markdown
from conformance.runner import LoadedCase, run_trajectory
from conformance.schedules import LoadedSchedule, run_schedule, scheduler_classes, values_change
from conformance.spec_notes import SpecNoteError, documented_case, followed_documentation, load

torch = pytest.importorskip("torch")
ROOT = Path(__file__).parent.parent
NOTES = load()
VARIANT_NOTES = [n for n in NOTES if n.variant]
# The bar of tests/test_catalogue.py: a documented variant must move some compared value by >= 1e-3 relative,
# far above every tolerance, so the candidate that follows it fails.
OBSERVABLE = 1e-3


def _observing_case(note):
    """The catalogued case on which the note's documented variant differs most from the spec, and by how much
    (the spec's loaded case, its documented twin, the change)."""
    best = (None, None, 0.0)
    for case in [*optimizer_cases(), *scheduler_cases()]:
        meta = case.describe()
        subjects = scheduler_classes(meta) if meta["kind"] == "scheduler" else {meta["optimizer"]}
        if note.subject not in subjects:
            continue
        if meta["kind"] == "scheduler":
            loaded = LoadedSchedule(case.id, run_sched_case(case))
            documented = documented_case(note, loaded)
            change = values_change(loaded.meta["expected"], documented.meta["expected"])
        else:
            record = run_optim_case(case)
            loaded = LoadedCase(case.id, {**meta, **record.meta}, record.arrays)
            documented = documented_case(note, loaded)
            change = max(
                normwise_error(documented.arrays[k], v) for k, v in record.arrays.items() if "params/" in k
            )
        if change > best[2]:
            best = (loaded, documented, change)
    return best


def test_notes_are_complete_and_point_at_the_reference():
    assert len(NOTES) >= 10 and len({n.id for n in NOTES}) == len(NOTES)
    for note in NOTES:
        # the reference's docstring records the disagreement under the note's id
        assert note.id in (ROOT / note.reference).read_text(), f"{note.reference} does not name {note.id}"
        assert note.source.startswith("https://github.com/pytorch/pytorch/blob/v2.13.0/"), note.id
        assert note.docs.startswith("https://docs.pytorch.org/"), note.id


def test_a_malformed_notes_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "notes.toml"
    bad.write_text('[[note]]\nid = "x"\nsubject = "SGD"\n')
    with pytest.raises(SpecNoteError, match="note #1 lacks"):
        load(bad)


@pytest.mark.parametrize("note", VARIANT_NOTES, ids=lambda n: n.id)
def test_documented_variant_differs_on_some_case(note):
    _, _, change = _observing_case(note)
    assert change >= OBSERVABLE, (
        f"{note.id}: no catalogued case tells the documented variant apart ({change:.2g})"
    )


@pytest.mark.parametrize("note", VARIANT_NOTES, ids=lambda n: n.id)
def test_torch_is_not_said_to_follow_the_documentation(note):
    from conformance.adapters.torch_adapter import TorchAdapter

    loaded, _, _ = _observing_case(note)
    check = run_schedule if loaded.meta.get("kind") == "scheduler" else run_trajectory
    dtype, variant = ("", "") if check is run_schedule else ("float64", "forloop")
    assert followed_documentation(TorchAdapter(), check, loaded, dtype, "cpu", variant) is None


def test_a_candidate_following_the_documentation_is_told_so(tmp_path, capsys):
    code, out = conformance(
        "torch:mutants.adafactor_documented_weight_decay",
        # its trajectories conform (the checks pass torch's defaults); test_defaults names the difference
        "test_defaults and Adafactor",
        tmp_path,
        capsys,
    )
    assert code == 1, out[-3000:]
    assert (
        "follows torch's documentation instead of its code (spec note adafactor-weight-decay-default)" in out
    )
    records = __import__("json").loads((tmp_path / "report" / "results.json").read_text())
    explained = [r for r in records["records"] if r.get("spec_note") == "adafactor-weight-decay-default"]
    assert explained and all(r["outcome"] == "failed" for r in explained)
    assert {n["id"] for n in records["spec_notes"]} == {n.id for n in NOTES}


def test_the_report_lists_every_note_with_its_failures():
    data = report_data.results(
        [
            report_data.record("adafactor/lr0.05", "failed", optimizer="Adafactor", spec_note=NOTES[0].id),
            report_data.record("adam/lr0.1", "passed"),
        ]
    )
    data["spec_notes"] = [n.to_dict() for n in NOTES]
    markdown, html = render_markdown(data), render_html(data)
    assert "## Spec notes: where torch's code and its documentation disagree" in markdown
    assert 'id="spec-notes"' in html
    for note in NOTES:
        assert f"`{note.id}`" in markdown and note.id in html
    row = next(line for line in markdown.splitlines() if f"`{NOTES[0].id}`" in line)
    assert row.rstrip(" |").endswith("1")  # the one failure it explains
