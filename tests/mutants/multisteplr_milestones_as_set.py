"""MultiStepLR that keeps its milestones as a set, so a repeated milestone applies gamma once."""

from mutants.compact import mutant
from mutants.compact_sched import CompactMultiStepLR

MultiStepLR = mutant(CompactMultiStepLR, "milestones_as_set")
