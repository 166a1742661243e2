"""SGD that adds weight decay before negating the gradient for maximize (so decay pushes the wrong way)."""

from mutants.compact import CompactSGD, mutant

SGD = mutant(CompactSGD, "weight_decay_before_maximize")
