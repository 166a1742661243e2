"""The torch adapter's opt-in variants (differentiable, compile, capturable): left out of the default run,
run when ``--variant`` names them or says ``all``, and "not supported" with the reason where they cannot
run."""

from __future__ import annotations

import json

import pytest
from run_conformance import conformance

pytest.importorskip("torch")

OPT_IN = ("differentiable", "compile", "capturable")


def collected(tmp_path, capsys, *extra: str) -> list[str]:
    code, out = conformance("torch", "adam/ or [Adam", tmp_path, capsys, "--collect-only", *extra)
    assert code == 0, out[-2000:]
    return [line for line in out.splitlines() if "::" in line]


def test_the_default_run_leaves_the_opt_in_variants_out(tmp_path, capsys):
    ids = collected(tmp_path, capsys)
    assert any(i.endswith("-forloop]") for i in ids)
    assert not [i for i in ids if any(i.endswith(f"-{v}]") for v in OPT_IN)]


def test_variant_all_adds_them(tmp_path, capsys):
    ids = collected(tmp_path, capsys, "--variant", "all")
    for variant in ("forloop", "foreach", "fused", *OPT_IN):
        assert any(i.endswith(f"-{variant}]") for i in ids), variant
    # compile covers the kernel-size cases of the catalogue alone (seconds of compilation per optimizer),
    # and the API checks and the property layer in full
    compiled = [i for i in ids if i.endswith("-compile]")]
    catalogue = [i for i in compiled if "::test_trajectory[" in i or "::test_single_step[" in i]
    assert catalogue and all("-kernel-" in i for i in catalogue), catalogue
    assert any("test_api/" in i for i in compiled)
    assert any("::test_optimizer_property[" in i for i in compiled)


def test_capturable_on_cpu_is_not_supported_with_its_reason(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: capturable runs there")
    select = "adam/lr0.01-float32 or test_none_grad and [Adam-"
    code, out = conformance("torch", select, tmp_path, capsys, "--variant", "capturable", "-rs")
    assert code == pytest.ExitCode.OK, out[-2000:]
    records = json.loads((tmp_path / "report" / "results.json").read_text())["records"]
    assert records and all(r["outcome"] == "unsupported" for r in records), records
    assert all(r["variant"] == "capturable" for r in records)
    assert "not supported: capturable needs CUDA" in out


def test_an_unknown_variant_lists_all(tmp_path, capsys):
    code, out = conformance("torch", "adam/", tmp_path, capsys, "--variant", "compiled")
    assert code == pytest.ExitCode.USAGE_ERROR
    assert "--variant compiled: torch has no such variant" in out and "compile, " in out and ", all" in out
