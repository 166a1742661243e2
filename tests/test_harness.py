"""The harness's behaviour on bad input and misbehaving candidates: one-line errors, failures that name
what went wrong, and runs that go on past a broken case."""

from __future__ import annotations

import json
import shutil

import pytest
from run_conformance import ROOT, conformance

from conformance.vectors import DEFAULT_DIR

pytest.importorskip("torch")

SGD = "sgd/"


def test_unknown_impl_is_one_line_listing_the_available(tmp_path, capsys):
    code, out = conformance("nonexistent", SGD, tmp_path, capsys)
    assert code == pytest.ExitCode.USAGE_ERROR
    line = [line for line in out.splitlines() if "--impl=nonexistent" in line]
    assert len(line) == 1 and "available: torch, refimpl" in line[0]


def test_cuda_without_cuda_skips_with_a_reason(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, out = conformance("torch", SGD, tmp_path, capsys, "--device", "cuda", "-rs")
    assert code == pytest.ExitCode.OK, out[-2000:]
    assert "CUDA is not available" in out
    assert " passed" not in out.splitlines()[-1]


@pytest.mark.parametrize(
    "adapter, expected",
    [
        ("RaisingAdapter", "step 3: candidate raised FloatingPointError: kernel launch failed"),
        ("NaNAdapter", "NON-FINITE"),
        ("WrongShapeAdapter", "param 0 has shape (7, 7)"),
    ],
)
def test_misbehaving_adapter_fails_each_case_and_the_run_goes_on(adapter, expected, tmp_path, capsys):
    code, out = conformance(f"harness_adapters:{adapter}", SGD, tmp_path, capsys)
    assert code == pytest.ExitCode.TESTS_FAILED
    assert expected in out
    records = json.loads((tmp_path / "report" / "results.json").read_text())["records"]
    trajectories = [r for r in records if r["check"] == "test_trajectory"]
    # every SGD case ran (and failed) in both default dtypes: one broken case does not stop the others
    assert len(trajectories) >= 2 * 8 and all(r["outcome"] == "failed" for r in trajectories)


@pytest.mark.parametrize("damage", ["edit", "truncate", "delete"])
def test_corrupt_vectors_give_one_line_pointing_at_verify(damage, tmp_path, capsys):
    vectors = tmp_path / "vectors"
    shutil.copytree(DEFAULT_DIR, vectors)
    target = vectors / "optim" / "sgd.npz"
    if damage == "edit":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    else:
        target.unlink()
    code, out = conformance("torch", SGD, tmp_path, capsys, "--vectors", str(vectors))
    assert code == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in out.splitlines() if "sgd.npz" in line]
    assert len(lines) == 1 and "optconf vectors verify" in lines[0] and "sgd/" in lines[0]


def test_refimpl_passes_everything(tmp_path, capsys):
    code, out = conformance("refimpl", "trajectory or single_step", tmp_path, capsys)
    assert code == pytest.ExitCode.OK, out[-3000:]


def test_known_deviations_are_strict_xfails_and_unmatched_entries_are_reported(tmp_path, capsys):
    deviations = tmp_path / "deviations.toml"
    deviations.write_text(
        '[[deviation]]\ntest = "test_trajectory[sgd/lr0.1-float64-*]"\nreason = "claimed"\n'
        'upstream = "https://example.invalid/1"\n\n'
        '[[deviation]]\ntest = "test_trajectory[nosuch/*]"\nreason = "stale"\nupstream = "https://example.invalid/2"\n'
    )
    code, out = conformance("refimpl", SGD, tmp_path, capsys, "--known-deviations", str(deviations))
    # refimpl conforms, so the claimed deviation passes: a strict xfail that passes fails the run
    assert code == pytest.ExitCode.TESTS_FAILED
    assert "XPASS(strict)" in out
    assert "known deviation matched no test: test_trajectory[nosuch/*]" in out


def test_a_real_deviation_is_an_xfail_with_its_reason(tmp_path, capsys):
    code, out = conformance("torch", "asgd/ and float64 and foreach and trajectory", tmp_path, capsys, "-rx")
    assert code == pytest.ExitCode.OK, out[-3000:]
    assert "xfailed" in out and "pull/125440" in out


def test_readme_example_adapter_conforms_and_reports_what_it_lacks(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    code, out = conformance(
        "numpy_sgd_adapter:NumpySGDAdapter", "trajectory or single_step", tmp_path, capsys
    )
    assert code == pytest.ExitCode.OK, out[-3000:]
    records = json.loads((tmp_path / "report" / "results.json").read_text())["records"]
    outcomes = {(r.get("optimizer") or r["case"].split("/")[0], r["outcome"]) for r in records}
    assert ("SGD", "passed") in outcomes and ("Adam", "unsupported") in outcomes
    assert not any(r["outcome"] == "failed" for r in records)
