"""StepLR that decays one epoch late: at epochs step_size + 1, 2 step_size + 1, ..."""

from mutants.compact import mutant
from mutants.compact_sched import CompactStepLR

StepLR = mutant(CompactStepLR, "decays_one_epoch_late")
