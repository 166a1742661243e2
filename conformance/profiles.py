"""Hypothesis profiles of the property-based layer, chosen with Hypothesis' own ``--hypothesis-profile``.

- ``ci`` (the default of ``pytest conformance``): derandomized (each test seeded from its id, so the tests
  of one optimizer draw different examples) and without an example database, so a commit's result depends
  on nothing but the code; sized so the whole property layer of ``--impl=torch`` (float64 and float32,
  every variant) takes under a minute on two CPU cores.
- ``dev``: random, remembers failing examples in ``.hypothesis/`` and replays them first; for working on
  an implementation.
- ``thorough``: random and many more examples; for a release or a new port's first full run.

Every profile shrinks (a failure is reported as its smallest example) and reports one bug per test, and
none has a deadline: a first call into torch can take a while, and timing is not what is under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, Phase, settings

CI = "ci"
PROFILES = ("ci", "dev", "thorough")
# Examples per test (one test per optimizer x dtype x variant or per scheduler).
EXAMPLES = {"ci": 12, "dev": 100, "thorough": 1000}

_COMMON: dict = {
    "deadline": None,
    "report_multiple_bugs": False,
    "print_blob": False,
    # Examples are filtered by the tables' rules and rejected where the reference refuses them; the
    # arrays make some examples large. Neither is a problem with the test.
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
}


def register() -> None:
    """Register the profiles (idempotent); done when the plugin is imported, before Hypothesis' pytest
    plugin loads the profile ``--hypothesis-profile`` names."""
    settings.register_profile(
        "ci",
        max_examples=EXAMPLES["ci"],
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        **_COMMON,
    )
    settings.register_profile("dev", max_examples=EXAMPLES["dev"], **_COMMON)
    settings.register_profile("thorough", max_examples=EXAMPLES["thorough"], **_COMMON)


def chosen(config_profile: str | None) -> settings:
    """The settings a property test runs with: the profile named on the command line, else ``ci``."""
    return settings.get_profile(config_profile or CI)


@contextmanager
def without_local_constants() -> Iterator[None]:
    """Hypothesis (6.131 and later) mixes literals found in the user's modules loaded so far into its draws.
    Which modules are loaded depends on the tests that ran before and on the candidate, so a derandomized
    test would draw other examples when run alone than in the whole suite. The property layer switches that
    source off while it runs (through Hypothesis internals; without them, nothing changes and
    ``tests/test_strategies.py``'s determinism check says so)."""
    try:
        from hypothesis.internal.conjecture import providers

        original, cache = providers._get_local_constants, providers.CONSTANTS_CACHE.cache
        empty = type(providers._local_constants)()
    except (ImportError, AttributeError):  # pragma: no cover - another Hypothesis
        yield
        return
    providers._get_local_constants = lambda: empty
    cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()
