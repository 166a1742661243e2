"""LR-scheduler conformance: every scheduler vector case, once per device (lrs are Python floats: the params'
dtype and the optimizer's variant do not enter)."""


def test_schedule(conformance_check):
    """Every group's lr (and the cycled momentum or beta1) after construction and after every epoch."""
    conformance_check()
