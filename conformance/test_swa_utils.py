"""swa_utils conformance: every AveragedModel and update_bn vector case, per dtype and device (SWALR's cases
are scheduler cases: ``test_schedule[swalr/...]``)."""


def test_averaged_model(conformance_check):
    """The averaged params and buffers and ``n_averaged`` after every ``update_parameters``."""
    conformance_check()


def test_update_bn(conformance_check):
    """Every BatchNorm layer's running statistics after ``update_bn``, its momentum and the model's mode."""
    conformance_check()
