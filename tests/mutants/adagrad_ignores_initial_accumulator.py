"""Adagrad whose accumulator starts at zero whatever initial_accumulator_value says."""

from mutants.compact import mutant
from mutants.compact_adaptive import CompactAdagrad

Adagrad = mutant(CompactAdagrad, "ignores_initial_accumulator")
