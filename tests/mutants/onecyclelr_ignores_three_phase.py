"""OneCycleLR that ignores three_phase: always warmup then one anneal from max_lr to min_lr."""

from mutants.compact import mutant
from mutants.compact_sched import CompactOneCycleLR

OneCycleLR = mutant(CompactOneCycleLR, "ignores_three_phase")
