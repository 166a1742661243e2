"""Loads the conformance plugin for ``pytest conformance``."""

from conformance.plugin import (  # noqa: F401  (pytest finds hooks and fixtures by name)
    conformance_check,
    conformance_param,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_generate_tests,
    pytest_ignore_collect,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_unconfigure,
)

try:  # the property layer's Hypothesis profiles, registered before Hypothesis loads --hypothesis-profile
    from conformance.profiles import register as register_hypothesis_profiles
except ImportError:  # pragma: no cover - without Hypothesis the property tests skip as not supported
    pass
else:
    register_hypothesis_profiles()
