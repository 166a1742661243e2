"""ReduceLROnPlateau that cuts after patience bad epochs (>=), not after more than patience (>)."""

from mutants.compact import mutant
from mutants.compact_sched import CompactReduceLROnPlateau

ReduceLROnPlateau = mutant(CompactReduceLROnPlateau, "patience_ge")
