"""SGD whose constructor forgets the lr check: a negative lr is accepted (and would ascend), not refused."""

from mutants.compact import CompactSGD, mutant

SGD = mutant(CompactSGD, "accepts_negative_lr")
