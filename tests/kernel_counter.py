"""Which of torch.optim's kernels each test ran: the proof that a check labelled with a variant ran it.

torch.optim dispatches every step to one function per variant, looked up by name in the optimizer's module:
``_single_tensor_adam`` (the for-loop), ``_multi_tensor_adam`` (foreach), ``_fused_adam`` (fused). The
counter replaces each of them with a wrapper that counts its calls, and, as a pytest plugin, records per test
the calls made while the test ran. Only outermost calls count: a kernel that hands some params to another
(foreach Adagrad gives sparse gradients to the for-loop) counts as itself.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from conformance.plugin import param_of

# The prefix of each variant's kernels in torch.optim's modules.
PREFIXES = {"_single_tensor_": "forloop", "_multi_tensor_": "foreach", "_fused_": "fused"}


class KernelCounter:
    """A pytest plugin: ``seen[nodeid] = (variant labels, outcome, {variant: calls})`` for every test
    labelled with torch variants that ran (was not skipped)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.depth = 0
        self.seen: dict[str, tuple[tuple[str, ...], str, dict[str, int]]] = {}
        self._current: dict[str, int] = {}

    def _wrap(self, kernel: Callable[..., Any], variant: str) -> Callable[..., Any]:
        @functools.wraps(kernel)
        def counted(*args: Any, **kwargs: Any) -> Any:
            if self.depth == 0:
                self.calls[variant] += 1
            self.depth += 1
            try:
                return kernel(*args, **kwargs)
            finally:
                self.depth -= 1

        return counted

    @contextmanager
    def installed(self) -> Iterator[KernelCounter]:
        """Every kernel of every torch.optim module wrapped while the context lasts."""
        import torch.optim

        saved = []
        for info in pkgutil.iter_modules(torch.optim.__path__):
            module = importlib.import_module(f"torch.optim.{info.name}")
            for name, value in list(vars(module).items()):
                variant = next((v for p, v in PREFIXES.items() if name.startswith(p)), None)
                if variant and callable(value):
                    saved.append((module, name, value))
                    setattr(module, name, self._wrap(value, variant))
        try:
            yield self
        finally:
            for module, name, value in saved:
                setattr(module, name, value)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        self.calls.clear()
        try:
            return (yield)
        finally:
            self._current = dict(self.calls)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> Any:
        report = yield
        labels = variant_labels(item)
        if report.when == "call" and labels:
            self.seen[item.nodeid] = (labels, report.outcome, self._current)
        return report


def variant_labels(item: pytest.Item) -> tuple[str, ...]:
    """The variants a test says it runs: its param's variant, or for a resume across variants
    (``test_resume_across_variants[Adam:foreach-to-fused]``) the saving and the loading one."""
    param = param_of(item)
    if param is None:
        return ()
    if param.variant:
        labels: tuple[str, ...] = (param.variant,)
    else:
        payload = getattr(param, "payload", None)
        pair = isinstance(payload, tuple) and all(isinstance(v, str) for v in payload)
        labels = payload if pair and param.case.endswith("-to-".join(payload)) else ()
    return tuple(v for v in labels if v in PREFIXES.values())
