"""The scheduler half of the harness and the vectors: capabilities honoured, candidate errors named by epoch,
records that name the scheduler, and ``optconf vectors verify|list`` covering the scheduler files."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from run_conformance import conformance

from conformance.adapters.refimpl_adapter import RefimplAdapter
from conformance.catalogue import optimizer_cases, scheduler_cases, swa_cases
from conformance.cli import main
from conformance.generate import all_files, scheduler_files, vector_files, versions
from conformance.vectors import json_bytes, sha256, write_atomically
from conformance.verify import verify

pytest.importorskip("torch")

BAD_EPOCH = 3
STEPLR = "test_schedule and steplr/"


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Fresh vectors (the committed ones may predate the scheduler cases)."""
    directory = tmp_path_factory.mktemp("vectors")
    write_atomically(
        directory, vector_files(optimizer_cases("sgd/")) + scheduler_files(scheduler_cases()), versions()
    )
    return directory


class NoSchedulers(RefimplAdapter):
    """The reference without its schedulers, as an optimizer-only port would declare itself."""

    name = "no-schedulers"

    def capabilities(self) -> Any:
        return replace(super().capabilities(), schedulers=frozenset())


class RaisesAtEpoch3(RefimplAdapter):
    """The reference whose scheduler step fails at the third epoch."""

    name = "raises-at-epoch-3"

    def make_scheduler(self, specs: list[dict[str, Any]], **kwargs: Any) -> Any:
        run = super().make_scheduler(specs, **kwargs)
        step, epochs = run.step, []

        def failing(metric: float | None = None) -> None:
            epochs.append(metric)
            if len(epochs) == BAD_EPOCH:
                raise FloatingPointError("lr went NaN")
            step(metric)

        run.step = failing
        return run


def records(tmp_path: Any) -> list[dict[str, Any]]:
    return json.loads((tmp_path / "report" / "results.json").read_text())["records"]


def test_candidate_without_schedulers_reports_them_not_supported(vectors, tmp_path, capsys):
    code, out = conformance(f"{__name__}:NoSchedulers", STEPLR, tmp_path, capsys, "--vectors", str(vectors))
    assert code == pytest.ExitCode.OK, out[-2000:]
    found = records(tmp_path)
    assert found and all(
        r["outcome"] == "unsupported" and r["scheduler"] in {"StepLR", "MultiStepLR"} for r in found
    )
    assert all("has no" in r["unsupported"] for r in found)


def test_candidate_error_fails_the_case_naming_the_epoch(vectors, tmp_path, capsys):
    code, out = conformance(f"{__name__}:RaisesAtEpoch3", STEPLR, tmp_path, capsys, "--vectors", str(vectors))
    assert code == pytest.ExitCode.TESTS_FAILED
    assert f"epoch {BAD_EPOCH}: candidate raised FloatingPointError: lr went NaN" in out
    assert "StepLR does not conform" in out
    assert all(r["outcome"] == "failed" and r.get("scheduler") for r in records(tmp_path))


def test_torch_passes_with_ids_by_case_and_device(vectors, tmp_path, capsys):
    code, out = conformance("torch", STEPLR, tmp_path, capsys, "--vectors", str(vectors))
    assert code == pytest.ExitCode.OK, out[-2000:]
    found = records(tmp_path)
    assert "test_schedule[steplr/step_size3-gamma0.8-cpu]" in {r["test"] for r in found}
    assert {r["scheduler"] for r in found} == {"StepLR", "MultiStepLR"} and all(
        r["outcome"] == "passed" for r in found
    )
    assert not any("optimizer" in r for r in found)  # the row of the report's matrix is the scheduler


def test_verify_names_a_scheduler_case_whose_values_changed(vectors, tmp_path):
    """An edit that keeps the manifest's hash consistent (a regenerated file from another reference) is caught
    by the regeneration, and the message names the case."""
    copy = tmp_path / "vectors"
    write_atomically(copy, all_files(optimizer_cases(), scheduler_cases(), swa_cases()), versions())
    path = copy / "sched" / "step_lr.json"
    data = json.loads(path.read_text())
    case = "steplr/step_size3-gamma0.8"
    data[case]["expected"]["lr"][50][1] *= 1 + 1e-9
    path.write_bytes(json_bytes(data, compact_rows=True))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["sched/step_lr.json"]["sha256"] = sha256(path.read_bytes())
    (copy / "manifest.json").write_text(json.dumps(manifest))
    problems = verify(copy)
    assert len(problems) >= 1 and all(case in p and "expected values differ" in p for p in problems), problems


def test_list_shows_scheduler_cases(capsys):
    assert main(["vectors", "list", "onecyclelr/"]) == 0
    out = capsys.readouterr().out
    assert "onecyclelr/max_lr0.1-epochs10-steps_per_epoch11-pct_start0.3-linear-three_phase-reload60" in out
    assert "observes: max_lr, epochs, steps_per_epoch" in out
