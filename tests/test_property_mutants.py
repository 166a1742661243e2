"""The property layer alone catches every mutant in tests/mutants, and passes their control.

The same in-process runs as ``tests/test_mutants.py`` (its runner and its list of mutants, so a mutant added
there is tested here too), selecting only the property-based tests of the classes a mutant breaks, with
the ``ci`` profile: derandomized, so a mutant caught once is caught on every run.
"""

from __future__ import annotations

import pytest
from run_conformance import conformance
from test_mutants import MUTANTS, mutant_classes

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

PROPERTY_TESTS = "(test_optimizer_property or test_scheduler_property or test_swa_property)"
# Mutants whose only mistake is argument validation: the property layer draws valid arguments only (a
# candidate that validates nothing is still judged on its arithmetic there); test_invalid_argument, an API
# check, catches them (tests/test_mutants.py).
VALIDATION_MUTANTS = frozenset({"sgd_accepts_negative_lr"})


def select(classes: list[str]) -> str:
    """``-k`` for the property tests of ``classes``: their ids start ``<Class>-`` (``Adam-float32-...``,
    ``StepLR-cpu``); a longer name sharing the suffix (SparseAdam) is selected too and skipped as not
    supported by a mutant that lacks it."""
    return f"{PROPERTY_TESTS} and ({' or '.join(f'{c}-' for c in classes)})"


@pytest.mark.parametrize("name", [m for m in MUTANTS if m not in VALIDATION_MUTANTS])
def test_mutant_is_caught_by_properties(name, tmp_path, capsys):
    classes = mutant_classes(name)
    assert classes, f"mutants.{name} exports no torch.optim optimizer or scheduler class"
    code, out = conformance(
        f"torch:mutants.{name}", select(classes), tmp_path, capsys, "-x", "--hypothesis-profile=ci"
    )
    assert code == 1, f"the property layer did not catch mutants.{name}:\n{out[-3000:]}"
    assert "does not conform on a property-based example" in out, out[-3000:]
    assert "reproduce:" in out, out[-3000:]


def test_control_passes_the_properties(tmp_path, capsys):
    code, out = conformance(
        "torch:mutants.control",
        select(mutant_classes("control")),
        tmp_path,
        capsys,
        "--hypothesis-profile=ci",
    )
    assert code == 0, out[-3000:]
