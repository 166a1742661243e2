"""RMSprop with eps inside the square root: sqrt(v + eps) instead of sqrt(v) + eps."""

from mutants.compact import mutant
from mutants.compact_adaptive import CompactRMSprop

RMSprop = mutant(CompactRMSprop, "eps_inside_sqrt")
