"""Centered RMSprop that adds the squared mean gradient instead of subtracting it (v + g_avg^2)."""

from mutants.compact import mutant
from mutants.compact_adaptive import CompactRMSprop

RMSprop = mutant(CompactRMSprop, "centered_adds_mean_square")
