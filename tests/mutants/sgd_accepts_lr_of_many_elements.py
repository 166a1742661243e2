"""SGD that accepts a tensor lr of more than one element (and uses its first), where torch raises
"Tensor lr must be 1-element"."""

from mutants.compact import CompactSGD, mutant

SGD = mutant(CompactSGD, "accepts_lr_of_many_elements")
