"""Adagrad decaying the lr from the first step: lr / (1 + t * lr_decay) instead of (t - 1)."""

from mutants.compact import mutant
from mutants.compact_adaptive import CompactAdagrad

Adagrad = mutant(CompactAdagrad, "lr_decay_off_by_one")
