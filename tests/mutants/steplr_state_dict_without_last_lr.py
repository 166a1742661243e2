"""StepLR whose state_dict() leaves out _last_lr: a scheduler that loads it reports its own construction's
lr from get_last_lr(), not the saved scheduler's."""

from torch.optim import SGD  # the optimizer the scheduler API checks drive (torch's own: not the mutant)

from mutants.compact import mutant
from mutants.compact_sched import CompactStepLR

StepLR = mutant(CompactStepLR, "state_dict_without_last_lr")

__all__ = ["SGD", "StepLR"]
