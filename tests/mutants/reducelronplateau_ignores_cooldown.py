"""ReduceLROnPlateau that never cools down after a cut, so bad epochs count again at once."""

from mutants.compact import mutant
from mutants.compact_sched import CompactReduceLROnPlateau

ReduceLROnPlateau = mutant(CompactReduceLROnPlateau, "ignores_cooldown")
