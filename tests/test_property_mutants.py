"""The property layer alone catches every mutant in tests/mutants, and passes their control.

The same in-process runs as ``tests/test_mutants.py`` (its runner and its list of mutants, so a mutant added
there is tested here too), selecting only the property-based tests of the classes a mutant breaks, with
the ``ci`` profile: derandomized, so a mutant caught once is caught on every run.
"""

from __future__ import annotations

import importlib

import pytest
from run_conformance import conformance
from test_mutants import MUTANTS, mutant_classes

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

PROPERTY_TESTS = "(test_optimizer_property or test_scheduler_property or test_swa_property)"
# Mutants whose defect lies where property examples do not go (argument validation: the layer draws valid
# arguments only; hooks, a .grad kept by the user, constructor errors, old checkpoints, a non-default dtype,
# step(epoch)): they declare ``CAUGHT_BY = "api"``, and tests/test_mutants.py shows the API checks catch them.
# And mutants wrong only in a compiled step: the property layer draws the compile variant only on request
# (--variant compile: a compile per example, about 80 s per class and dtype here), and torch's own compiled
# SGD fails it (a known deviation); the kernel-size catalogue cases catch the compile mutant
# (tests/test_mutants.py).
PROPERTY_MUTANTS = [
    m
    for m in MUTANTS
    if getattr(importlib.import_module(f"mutants.{m}"), "CAUGHT_BY", "") != "api"
    and getattr(importlib.import_module(f"mutants.{m}"), "VARIANT", "") != "compile"
]


def select(classes: list[str]) -> str:
    """``-k`` for the property tests of ``classes``: their ids start ``<Class>-`` (``Adam-float32-...``,
    ``StepLR-cpu``); a longer name sharing the suffix (SparseAdam) is selected too and skipped as not
    supported by a mutant that lacks it."""
    return f"{PROPERTY_TESTS} and ({' or '.join(f'{c}-' for c in classes)})"


@pytest.mark.parametrize("name", PROPERTY_MUTANTS)
def test_mutant_is_caught_by_properties(name, tmp_path, capsys):
    classes = mutant_classes(name)
    assert classes, f"mutants.{name} exports no torch.optim optimizer or scheduler class"
    # a mutant wrong in an opt-in variant alone (VARIANT) is drawn in that variant, as test_mutants.py runs it
    module = importlib.import_module(f"mutants.{name}")
    variant = ["--variant", module.VARIANT] if hasattr(module, "VARIANT") else []
    code, out = conformance(
        f"torch:mutants.{name}", select(classes), tmp_path, capsys, "-x", "--hypothesis-profile=ci", *variant
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
