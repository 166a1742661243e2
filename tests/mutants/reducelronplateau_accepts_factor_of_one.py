"""ReduceLROnPlateau that accepts factor >= 1 (an lr that never decreases, or grows), where torch raises
"Factor should be < 1.0."."""

from torch.optim import SGD  # the optimizer the scheduler API checks drive (torch's own: not the mutant)

from mutants.compact import mutant
from mutants.compact_sched import CompactReduceLROnPlateau

ReduceLROnPlateau = mutant(CompactReduceLROnPlateau, "accepts_factor_of_one")

__all__ = ["SGD", "ReduceLROnPlateau"]

# The defect is in the API around the update, which only the API checks exercise (not property examples).
CAUGHT_BY = "api"
