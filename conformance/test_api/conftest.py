"""API and semantics conformance: what surrounds the update rule, checked against the reference doing it too.

Users rarely get an update rule wrong in isolation; they get the behaviour around it wrong: an ``lr`` changed
in ``param_groups`` that is ignored, a resumed run that differs from the uninterrupted one, a param without a
gradient that still moves, an invalid hyperparameter silently accepted. Each check in this directory runs a
recipe users copy from tutorials on the candidate and on the reference (``refimpl``) and compares what they
do; ``conformance/api`` holds the machinery.

Ids: ``[Adam]`` per optimizer class, ``[Adam-foreach]`` per variant, ``[Adam:lr-foreach]`` per detail (a
hyperparameter, an invalid argument, a recipe), so ``-k "[adam] or [adam: or [adam-"`` selects one class
and ``-k test_api`` all of them. Checks that go through the adapter protocol run for every candidate (the
reference included); those declared with ``needs=TORCH_API`` drive the candidate's own classes (``zero_grad``,
``nn.Module`` params, ``torch.save``, schedulers, constructor errors) and skip, with the reason, for adapters
that do not declare the ``torch_api`` feature. This file holds their parametrization hook and fixtures.
"""

from __future__ import annotations

import pytest

from conformance.api.cases import ApiCase, cases
from conformance.api.context import ApiContext
from conformance.plugin import RECORD, SESSION


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One ``api_case`` per case the check's ``@check`` declares for this candidate; a check with none says
    why it has nothing to run, rather than pytest's "empty parameter set"."""
    spec = getattr(metafunc.function, "api_spec", None)
    if spec is None or "api_case" not in metafunc.fixturenames:
        return
    session = metafunc.config.stash[SESSION]
    params = [
        pytest.param(c, id=c.id, marks=[pytest.mark.skip(reason=c.unsupported)] if c.unsupported else [])
        for c in cases(spec, session)
    ]
    if not params and spec.variants:
        chosen = ", ".join(spec.variants)
        reason = f"not supported: a check of the {chosen} variant, which this run does not select (--variant)"
        params = [pytest.param(None, id="none", marks=[pytest.mark.skip(reason=reason)])]
    if not params:
        reason = f"not supported: no case of this check applies to {session.impl} (e.g. a single variant)"
        params = [pytest.param(None, id="none", marks=[pytest.mark.skip(reason=reason)])]
    metafunc.parametrize("api_case", params)


@pytest.fixture
def api_case(request: pytest.FixtureRequest) -> ApiCase:
    return request.param


@pytest.fixture
def api(request: pytest.FixtureRequest, api_case: ApiCase) -> ApiContext:
    """The check's context; its record in results.json names the optimizer (the report's matrix row)."""
    record = request.node.stash.setdefault(RECORD, {})
    record["optimizer"] = api_case.optimizer
    session = request.config.stash[SESSION]
    return ApiContext(session, api_case, request.node.nodeid, request.function.__doc__, record)
