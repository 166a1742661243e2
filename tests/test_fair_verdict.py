"""A fair verdict for third-party libraries: the fakes of tests/fakes, one per situation a real library puts
the suite in, get no failure for behaviour that matches torch's, and every deliberately wrong behaviour still
fails with a message that names it.

Each test runs ``pytest conformance --impl=...`` in process on a small selection and reads what the run wrote
(``results.json``): outcomes per test, notes, "not supported" reasons, messages.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from run_conformance import conformance

from conformance.runner import LoadedCase, run_single_steps, run_trajectory
from conformance.schedules import floored
from conformance.vectors import Vectors

pytest.importorskip("torch")

PORT = "fakes.numpy_port"
# One Adam case of each check and the API checks of Adam, in float64 (the numpy ports have one variant).
ADAM = "(adam/lr0.01- or adam/lr0.01-float or [Adam] or [Adam- or [Adam:) and not Sparse"


def run(impl: str, select: str, tmp_path: Path, capsys: Any, *extra: str) -> tuple[int, str, list[dict]]:
    code, out = conformance(impl, select, tmp_path, capsys, *extra)
    records = json.loads((tmp_path / "report" / "results.json").read_text())["records"]
    return code, out, records


def by_outcome(records: list[dict], outcome: str) -> list[dict]:
    return [r for r in records if r["outcome"] == outcome]


def test_another_state_layout_is_judged_on_its_params_and_named_once(tmp_path, capsys):
    select = "(adam/lr0.01- and forloop and float64) or test_state_dict_structure[Adam-forloop]"
    code, out, records = run("torch:fakes.other_layout", select, tmp_path, capsys)
    assert code == 1, out[-3000:]
    (failed,) = by_outcome(records, "failed")
    assert failed["check"] == "test_state_dict_structure" and "lacks 'exp_avg'" in failed["message"]
    trajectory = next(r for r in records if r["check"] == "test_trajectory")
    assert trajectory["outcome"] == "passed"
    assert any("state: not comparable" in n for n in trajectory["notes"])
    single = next(r for r in records if r["check"] == "test_single_step")
    assert single["outcome"] == "unsupported" and "declare a state-key map" in single["unsupported"]


def test_a_declared_state_key_map_compares_the_state(tmp_path, capsys):
    select = "(adam/ and forloop and float64 and not nadam and not radam and not sparse) or [Adam-forloop]"
    code, out, records = run("torch:fakes.other_layout_mapped", select, tmp_path, capsys)
    assert code == 0, out[-3000:]
    assert not [r for r in records if r.get("notes")], "the mapped state was not compared"
    assert by_outcome(records, "passed")


def test_a_wrong_state_behind_a_key_map_fails_naming_the_key(tmp_path, capsys):
    select = "adam/lr0.01- and forloop and float64 and trajectory"
    code, out, records = run("torch:fakes.other_layout_wrong", select, tmp_path, capsys)
    assert code == 1
    assert (
        "does not conform" in out and "state[0]['exp_avg_sq']" in json.dumps(records)
    ) or "exp_avg_sq" in out


def test_options_a_class_lacks_are_not_supported_never_failures(tmp_path, capsys):
    select = "(sgd/ and not asgd and forloop and float64) or [SGD] or [SGD- or [SGD:"
    code, out, records = run("torch:fakes.missing_options", select, tmp_path, capsys)
    assert code == 0, out[-3000:]
    reasons = " ".join(r.get("unsupported", "") for r in by_outcome(records, "unsupported"))
    for option in ("nesterov", "dampening", "maximize"):
        assert f"not supported: {option}" in reasons, reasons
    assert by_outcome(records, "passed")


def test_a_wrong_class_lacking_options_still_fails(tmp_path, capsys):
    select = "sgd/lr0.1-mom0.9-sparse and forloop and float64 and trajectory"
    code, out, _ = run("torch:fakes.missing_options_wrong", select, tmp_path, capsys)
    assert code == 1 and "SGD does not conform" in out and "momentum buffer" in out, out[-3000:]


def test_a_port_that_declares_no_validation_is_judged_on_its_arithmetic(tmp_path, capsys):
    code, out, records = run(
        f"{PORT}:UnvalidatedAdam", f"{ADAM} or (property and Adam-float64)", tmp_path, capsys
    )
    assert code == 0, out[-3000:]
    validation = [r for r in records if r["check"] == "test_invalid_argument"]
    assert validation and all("does not validate" in r["unsupported"] for r in validation)
    assert next(r for r in records if r["check"] == "test_optimizer_property")["outcome"] == "passed"


def test_validating_nothing_undeclared_fails_only_its_validation_row(tmp_path, capsys):
    select = f"{ADAM} or (property and Adam-float64)"
    code, out, records = run(f"{PORT}:UndeclaredUnvalidatedAdam", select, tmp_path, capsys)
    assert code == 1
    failed = by_outcome(records, "failed")
    assert failed and {r["check"] for r in failed} == {"test_invalid_argument"}, out[-3000:]
    assert "did not raise" in failed[0]["message"]
    assert next(r for r in records if r["check"] == "test_optimizer_property")["outcome"] == "passed"


def test_a_wrong_port_that_validates_nothing_still_fails(tmp_path, capsys):
    select = "adam/lr0.01- and float64 and trajectory"
    code, out, _ = run(f"{PORT}:UnvalidatedAdamWrong", select, tmp_path, capsys)
    assert code == 1 and "Adam does not conform" in out and "sqrt(v_hat) + eps" in out, out[-3000:]


def test_declared_float32_scalars_get_a_derived_tolerance(tmp_path, capsys):
    code, out, records = run(f"{PORT}:Float32ScalarsAdam", ADAM, tmp_path, capsys, "--dtype", "float64")
    assert code == 0, out[-3000:]
    trajectory = next(r for r in records if r["check"] == "test_trajectory")
    assert any("float32 scalar hyperparameters" in n for n in trajectory["notes"])


def test_float32_scalars_undeclared_fail_in_float64(tmp_path, capsys):
    select = "adam/lr0.01- and float64 and trajectory"
    code, out, _ = run(f"{PORT}:Float32ScalarsUndeclared", select, tmp_path, capsys)
    assert code == 1 and "does not conform" in out


def test_a_real_difference_fails_despite_declared_float32_scalars(tmp_path, capsys):
    select = "adam/lr0.01-float64 and (trajectory or single_step)"
    code, out, records = run(f"{PORT}:Float32ScalarsWrong", select, tmp_path, capsys)
    assert code == 1 and len(by_outcome(records, "failed")) == 2, out[-3000:]
    assert "bias corrections" in out and "tolerance widened for float32" in out


def test_float32_scalar_tolerance_stays_far_below_a_wrong_option():
    """The widened tolerance of every Adam case stays 4x below the 1e-3 a wrong option moves (its
    derivation in conformance/scalars.py)."""
    from conformance import scalars

    vectors = Vectors()
    for case_id in vectors.case_ids():
        meta = vectors.describe(case_id)
        if meta.get("kind") == "scheduler" or meta.get("optimizer") != "Adam":
            continue
        case = LoadedCase.load(vectors, case_id)
        for check in (run_trajectory, run_single_steps):
            assert scalars.MARGIN * max(scalars.probe(case, "float32", check)) < 2.5e-4, case_id


RE_EXPORTED = (
    "(asgd/ and float64 and foreach and trajectory) or linearlr/ or test_resume[NAdam or "
    "test_torch_save_load[NAdam or (test_non_contiguous and (SGD or Adam-)) or "
    "(test_group_overrides and ASGD) or (property and RAdam-float64) or steplr/ or sgd/lr0.1-"
)


def test_reexporting_torch_passes_exactly_as_torch(tmp_path, capsys):
    outcomes = {}
    for impl in ("torch", "torch:fakes.reexport"):
        code, out, records = run(impl, RE_EXPORTED, tmp_path / impl.replace(":", "-"), capsys)
        assert code == 0, out[-3000:]
        outcomes[impl] = {r["test"]: r["outcome"] for r in records}
    assert outcomes["torch"] == outcomes["torch:fakes.reexport"]
    assert "xfailed" in outcomes["torch"].values()


def test_a_librarys_own_class_is_not_excused_by_torchs_deviations(tmp_path, capsys):
    select = "asgd/lr0.05-lambd0.5-alpha0.75- and float64 and foreach and trajectory"
    code, out, records = run("torch:fakes.reexport_own_asgd", select, tmp_path, capsys)
    assert code == 1 and by_outcome(records, "failed") and not by_outcome(records, "xfailed"), out[-3000:]
    assert "ASGD does not conform" in out


def test_a_module_importing_torchs_lr_scheduler_has_its_own_classes_tested(tmp_path, capsys):
    select = "steplr/ or (property and StepLR) or (test_scheduler and StepLR)"
    code, out, _ = run("torch:fakes.imports_lr_scheduler", select, tmp_path, capsys)
    assert code == 0, out[-3000:]
    code, out, _ = run("torch:fakes.imports_lr_scheduler_wrong", select, tmp_path / "wrong", capsys)
    assert code == 1 and "StepLR does not conform" in out and "fakes.imports_lr_scheduler_wrong" in out


def test_deviations_match_by_class_and_option(tmp_path, capsys):
    entries = tmp_path / "deviations.toml"
    entries.write_text(
        '[[deviation]]\nclass = "SGD"\noption = "momentum"\nreason = "momentum differs on purpose"\n'
        'upstream = "https://example.org/sgd"\n'
    )
    select = "(sgd/lr0.1- and forloop and float64 and trajectory)"
    code, out, records = run(
        "torch:fakes.missing_options_wrong", select, tmp_path, capsys, "--known-deviations", str(entries)
    )
    assert code == 0, out[-3000:]
    outcomes = {r["case"]: r["outcome"] for r in records}
    assert outcomes["sgd/lr0.1"] == "passed"  # no momentum: not selected by the entry, and right
    assert outcomes["sgd/lr0.1-mom0.5-none3-groups2-changes"] == "xfailed"


def test_tolerance_entries_reach_the_api_checks(tmp_path, capsys):
    entries = tmp_path / "deviations.toml"
    entries.write_text('[[tolerance]]\nclass = "Adam"\nfloat64 = 1e-4\nreason = "float32 scalars"\n')
    select = "test_group_overrides and [Adam"
    code, out, _ = run(f"{PORT}:Float32ScalarsUndeclared", select, tmp_path, capsys)
    assert code == 1
    code, out, _ = run(
        f"{PORT}:Float32ScalarsUndeclared", select, tmp_path / "t", capsys, "--known-deviations", str(entries)
    )
    assert code == 0, out[-3000:]


def test_one_set_of_totals_in_pytest_line_summary_and_page(tmp_path, capsys):
    _, out, records = run(f"{PORT}:UndeclaredUnvalidatedAdam", ADAM, tmp_path, capsys)
    summary = (tmp_path / "report" / "summary.md").read_text()
    page = (tmp_path / "report" / "index.html").read_text()
    counts = {o: len(by_outcome(records, o)) for o in ("passed", "failed", "unsupported")}
    last = out.strip().splitlines()[-1]
    assert f"{counts['passed']} passed" in last and f"{counts['failed']} failed" in last
    assert f"{counts['unsupported']} not supported" in last, last
    assert re.search(rf"\| not supported +\| +{counts['unsupported']} \|", summary)
    assert re.search(rf"\| failed +\| +{counts['failed']} \|", summary)
    assert f'<td>not supported</td><td class="num">{counts["unsupported"]}</td>' in page


def test_zero_expected_values_get_an_absolute_floor():
    """LinearLR to end_factor=0: 0 against 1e-17 is agreement; 1e-10 against 1e-17 (base lr 0.1) is not."""
    from conformance.metrics import trajectory_divergence

    expected = [[0.1], [0.05], [1e-17]]
    for got, passes in ((0.0, True), (1e-10, False)):
        actual = [[0.1], [0.05], [got]]
        scales = floored(expected)
        d = trajectory_divergence(actual, expected, [1e-12] * 3, 2.2e-16, scales)
        assert (d.first_bad_step is None) is passes


def test_the_readmes_declaration_example_is_complete_and_conforms(tmp_path, capsys, monkeypatch):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    (block,) = re.findall(r"```py\n(# keras_port.py.*?)```", readme, re.S)
    (tmp_path / "keras_port.py").write_text(block)
    monkeypatch.syspath_prepend(str(tmp_path))
    select = "adam/lr0.01-float or [Adam-default] or [Adam:lr-default] or test_invalid_argument[Adam:lr"
    code, out, records = run("keras_port:Adapter", select, tmp_path, capsys)
    assert code == 0 and by_outcome(records, "passed"), out[-3000:]


def with_entries(
    text: str, impl: str, select: str, tmp_path: Path, capsys: Any
) -> tuple[int, str, list[dict]]:
    """``run`` with a known-deviations file holding ``text``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    entries = tmp_path / "deviations.toml"
    entries.write_text(text)
    return run(impl, select, tmp_path, capsys, "--known-deviations", str(entries))


def test_tolerance_entries_reach_the_scheduler_property_layer(tmp_path, capsys):
    """float32 rounding of the lrs fails the schedule tolerance, and passes under a ``[[tolerance]]`` entry
    (a float32 lr is within 2^-24 relative of the float64 one per rounding, and the fake's lr compounds one
    rounding an epoch: 30 epochs at most, < 2e-6; 1e-5 allows it), which still fails a real difference."""
    entry = '[[tolerance]]\ntest = "test_scheduler_property[*]"\nfloat64 = 1e-5\nreason = "float32 lrs"\n'
    select = "property and StepLR"
    code, out, _ = run("torch:fakes.imports_lr_scheduler_float32", select, tmp_path, capsys)
    assert code == 1 and "StepLR does not conform" in out, out[-3000:]
    code, out, _ = with_entries(
        entry, "torch:fakes.imports_lr_scheduler_float32", select, tmp_path / "t", capsys
    )
    assert code == 0, out[-3000:]
    code, out, _ = with_entries(
        entry, "torch:fakes.imports_lr_scheduler_wrong", select, tmp_path / "w", capsys
    )
    assert code == 1 and "StepLR does not conform" in out, out[-3000:]


def test_option_entries_reach_the_property_layer(tmp_path, capsys):
    """A property test draws its options: an entry for one option (SGD's momentum, wrong in the fake) makes
    the examples leave it at its default, so the rest of SGD is still judged, and passes; without the entry
    the wrong momentum fails."""
    entry = (
        '[[deviation]]\nclass = "SGD"\noption = "momentum"\nreason = "momentum differs on purpose"\n'
        'upstream = "https://example.org/sgd"\n'
    )
    select = "test_optimizer_property and SGD-float64"
    code, out, _ = run("torch:fakes.missing_options_wrong", select, tmp_path, capsys)
    assert code == 1 and "SGD does not conform" in out, out[-3000:]
    code, out, records = with_entries(
        entry, "torch:fakes.missing_options_wrong", select, tmp_path / "e", capsys
    )
    assert code == 0, out[-3000:]
    checks = [r for r in records if r["check"] == "test_optimizer_property" and r["case"] == "SGD"]
    assert checks and all(r["outcome"] == "passed" for r in checks)
    assert all(r["explained_options"] == {"momentum": "https://example.org/sgd"} for r in checks)
