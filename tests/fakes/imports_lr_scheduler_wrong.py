"""``imports_lr_scheduler`` whose own StepLR decays one epoch late."""

from torch.optim import SGD, lr_scheduler  # noqa: F401

from fakes import imports_lr_scheduler


class StepLR(imports_lr_scheduler.StepLR):
    late = 1
