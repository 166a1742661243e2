"""Optimizer conformance: every vector case, per dtype, device and variant of the candidate."""


def test_trajectory(conformance_check):
    """Every step from the initial params, compared after each step."""
    conformance_check()


def test_single_step(conformance_check):
    """One step from each stored checkpoint (params and optimizer state loaded from the reference)."""
    conformance_check()
