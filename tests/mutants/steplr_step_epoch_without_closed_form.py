"""StepLR whose deprecated step(epoch) goes on from the current lr (the recursive form) instead of jumping to
the closed form at that epoch, as torch does where a scheduler has one."""

from torch.optim import SGD  # the optimizer the scheduler API checks drive (torch's own: not the mutant)

from mutants.compact import mutant
from mutants.compact_sched import CompactStepLR

StepLR = mutant(CompactStepLR, "step_epoch_without_closed_form")

__all__ = ["SGD", "StepLR"]
