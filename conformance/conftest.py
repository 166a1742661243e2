"""Loads the plugin proper when the conformance tests are collected (``pytest conformance`` in a checkout, or
``pytest --pyargs conformance`` anywhere): the ``pytest11`` entry point (:mod:`conformance.options`) only
registers options, so that the installed suite stays inert in every other pytest session."""

import pytest

from conformance import options


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """A source tree run without installing the package has no entry point: its options come from here."""
    if not pluginmanager.is_registered(options):
        options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    options.activate(config)
