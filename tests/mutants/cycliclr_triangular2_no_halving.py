"""CyclicLR whose triangular2 mode does not halve the amplitude each cycle (plain triangular)."""

from mutants.compact import mutant
from mutants.compact_sched import CompactCyclicLR

CyclicLR = mutant(CompactCyclicLR, "triangular2_no_halving")
