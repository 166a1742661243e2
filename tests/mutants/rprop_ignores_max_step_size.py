"""Rprop that never clamps step sizes at step_sizes[1]."""

from mutants.compact import mutant
from mutants.compact_adaptive import CompactRprop

Rprop = mutant(CompactRprop, "ignores_max_step_size")
