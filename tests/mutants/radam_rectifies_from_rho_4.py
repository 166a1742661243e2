"""RAdam rectifying once rho_t > 4 (the paper's threshold) instead of torch's rho_t > 5."""

from mutants.compact import mutant
from mutants.compact_adaptive import CompactRAdam

RAdam = mutant(CompactRAdam, "rectifies_from_rho_4")
