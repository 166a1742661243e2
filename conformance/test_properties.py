"""Property-based conformance: examples drawn by Hypothesis from the reference's tables, run on the live
reference and on the candidate side by side (``conformance/property_plugin.py``)."""

from conformance.property_plugin import (  # noqa: F401  (pytest finds the hook and fixtures by name)
    property_check,
    property_param,
    pytest_generate_tests,
)


def test_optimizer_property(property_check):  # noqa: F811  (the fixture, by name)
    """Every drawn example: params and optimizer state after every step within the dtype's tolerance."""
    property_check()


def test_scheduler_property(property_check):  # noqa: F811  (the fixture, by name)
    """Every drawn scheduler script: every group's lr (and cycled momentum) after every epoch."""
    property_check()


def test_swa_property(property_check):  # noqa: F811  (the fixture, by name)
    """Every drawn AveragedModel run (averaged params, buffers, n_averaged after every update) and update_bn
    pass (the BatchNorm statistics, the restored momenta and mode)."""
    property_check()
