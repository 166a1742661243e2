"""CosineAnnealingLR with a period of T_max + 1 epochs (counting 0..T_max inclusive)."""

from mutants.compact import mutant
from mutants.compact_sched import CompactCosineAnnealingLR

CosineAnnealingLR = mutant(CompactCosineAnnealingLR, "t_max_plus_one")
