"""Rprop that still steps after a sign flip and remembers the flipped gradient (no backtracking)."""

from mutants.compact import mutant
from mutants.compact_adaptive import CompactRprop

Rprop = mutant(CompactRprop, "keeps_gradient_after_sign_flip")
