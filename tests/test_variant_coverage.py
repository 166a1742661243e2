"""Every check labelled with a variant runs that variant's kernels, and only those.

torch.optim's ``load_state_dict`` takes ``foreach``/``fused`` from the saved param groups, so a check that
loads the reference's state (the single steps, every resume) ran torch's for-loop under a ``-foreach`` or
``-fused`` label until the adapter set the switches again after loading. This test runs the whole default
suite for ``--impl=torch`` (in float32: the kernels dispatched do not depend on the dtype) with every
torch.optim kernel counted per test (``kernel_counter.py``), and fails on any labelled check that ran another
variant's kernel, or a stepping check that ran none of its own.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from kernel_counter import KernelCounter
from run_conformance import conformance, run_in_root

pytest.importorskip("torch")

# Checks that may run no kernel at all, each with its reason: torch refuses the input before any kernel
# runs, and the check compares that refusal with the reference's (complex params for Adafactor, sparse
# gradients for every class but SGD and Adagrad).
REFUSALS = {"test_complex", "test_sparse_gradients"}


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> KernelCounter:
    """The default suite's run for --impl=torch in float32, its kernels counted per test."""
    counter = KernelCounter()
    report = tmp_path_factory.mktemp("coverage") / "report"
    args = ["conformance", "--impl=torch", "-q", "-p", "no:cacheprovider", "--dtype", "float32"]
    with counter.installed():
        code = run_in_root([*args, "--report-dir", str(report)], [counter])
    assert code == 0, "the default suite does not pass for --impl=torch"
    return counter


def test_every_labelled_check_runs_its_variant(counted):
    counter = counted
    checks = {nodeid.split("::")[-1].split("[")[0] for nodeid in counter.seen}
    # the checks that load a state dict, where the switches used to be lost
    loading = {"test_single_step", "test_trajectory", "test_resume", "test_resume_across_variants"}
    assert loading | {"test_optimizer_property"} <= checks, f"labelled checks seen: {sorted(checks)}"
    wrong, idle = [], []
    for nodeid, (labels, _, calls) in sorted(counter.seen.items()):
        others = {v: n for v, n in calls.items() if v not in labels and n}
        if others:
            wrong.append(f"{nodeid}: ran {others}")
        check = nodeid.split("::")[-1].split("[")[0]
        missing = [v for v in labels if not calls.get(v)]
        if missing and check not in REFUSALS:
            idle.append(f"{nodeid}: ran no {'/'.join(missing)} kernel ({calls or 'no kernel at all'})")
    assert not wrong, "checks that ran another variant's kernels:\n" + "\n".join(wrong[:20])
    assert not idle, "checks that never ran their variant:\n" + "\n".join(idle[:20])


def test_single_steps_of_every_variant_are_counted(counted):
    """The counter sees the teacher-forced single steps of each variant (the checks that loaded state)."""
    for variant in ("forloop", "foreach", "fused"):
        ran = [
            nodeid
            for nodeid, (labels, _, calls) in counted.seen.items()
            if "test_single_step[" in nodeid and labels == (variant,) and calls.get(variant)
        ]
        assert len(ran) >= 20, f"{variant}: only {len(ran)} single-step checks ran its kernel"


def test_a_foreach_only_bug_fails_the_foreach_single_steps(tmp_path, capsys):
    """torch's SGD with weight decay dropped in its foreach kernel alone fails the foreach single steps, and
    passes the for-loop's (the fault is in that variant only)."""
    impl = "torch:mutants.sgd_foreach_drops_weight_decay"
    code, out = conformance(impl, "sgd/ and test_single_step and foreach", tmp_path, capsys)
    assert code == 1 and "does not conform" in out, out[-3000:]
    code, out = conformance(impl, "sgd/ and test_single_step and forloop", tmp_path, capsys)
    assert code == 0, out[-3000:]


class GroupSteps:
    """Per test labelled ``differentiable``: its optimizers' steps per param group that had gradients
    (torch's global step pre-hook), how many with ``differentiable=True`` and how many with every such param
    a non-leaf tensor in an autograd graph (``steps``, ``differentiable``, ``in_graph``)."""

    def __init__(self) -> None:
        self.seen: dict[str, Counter[str]] = {}
        self.current: Counter[str] = Counter()

    def hook(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        for group in optimizer.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self.current["steps"] += 1
                self.current["differentiable"] += bool(group.get("differentiable"))
                self.current["in_graph"] += all(p.requires_grad and not p.is_leaf for p in params)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        self.current = Counter()
        try:
            return (yield)
        finally:
            if item.nodeid.endswith("-differentiable]"):
                self.seen[item.nodeid] = self.current


def test_differentiable_checks_step_params_in_a_graph(tmp_path):
    """Every check labelled differentiable (catalogue, API and property layers alike) steps every param group
    with differentiable=True on params in an autograd graph."""
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    counter = GroupSteps()
    args = ["conformance", "--impl=torch", "-q", "-p", "no:cacheprovider", "--variant", "differentiable"]
    args += ["--report-dir", str(tmp_path / "report"), "-k", "sgd/ or [SGD- or adagrad/ or [Adagrad-"]
    handle = register_optimizer_step_pre_hook(counter.hook)
    try:
        assert run_in_root(args, [counter]) == 0
    finally:
        handle.remove()
    checks = {nodeid.split("::")[-1].split("[")[0] for nodeid in counter.seen}
    assert {"test_trajectory", "test_single_step", "test_optimizer_property", "test_none_grad"} <= checks
    wrong = [
        f"{nodeid}: {dict(calls)}"
        for nodeid, calls in sorted(counter.seen.items())
        if not calls["steps"] or not calls["steps"] == calls["differentiable"] == calls["in_graph"]
    ]
    assert not wrong, "differentiable checks that did not run the differentiable step:\n" + "\n".join(wrong)


class GraphCounter:
    """Per test labelled ``compile``: how many graphs torch.compile compiled while it ran (dynamo's
    ``unique_graphs``): a compiled step that fell back to eager would compile none."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        from torch._dynamo.utils import counters

        before = counters["stats"]["unique_graphs"]
        try:
            return (yield)
        finally:
            if item.nodeid.endswith("-compile]"):
                self.seen[item.nodeid] = counters["stats"]["unique_graphs"] - before


def test_compile_checks_compile_the_step(tmp_path):
    """Every check labelled compile compiled the step (graphs counted by torch._dynamo): the catalogue's
    (the kernel-size cases alone, those the adapter covers) and the API checks', which build torch's
    optimizer themselves and call its ``step`` (through a GradScaler and an lr scheduler too). The property
    layer builds its optimizers through the adapter as the catalogue does (not run here: ~80 s a class)."""
    counter = GraphCounter()
    args = ["conformance", "--impl=torch", "-q", "-p", "no:cacheprovider", "--variant", "compile"]
    args += ["--dtype", "float32", "--report-dir", str(tmp_path / "report")]
    args += ["-k", "sgd/ or [SGD- and not property"]
    assert run_in_root(args, [counter]) == 0
    assert counter.seen, "no check labelled compile ran"
    catalogue = [n for n in counter.seen if "::test_trajectory[" in n or "::test_single_step[" in n]
    assert catalogue and all("-kernel-" in nodeid for nodeid in catalogue), sorted(catalogue)
    api = [n for n in counter.seen if "test_api/" in n]
    assert any("test_grad_scaler_scheduler" in n for n in api) and len(api) >= 10, sorted(api)
    idle = [nodeid for nodeid, graphs in counter.seen.items() if not graphs]
    assert not idle, f"compile checks that compiled nothing: {idle}"
