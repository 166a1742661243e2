"""SGD that dampens the first step too: b_1 = (1 - dampening) g instead of g."""

from mutants.compact import CompactSGD, mutant

SGD = mutant(CompactSGD, "dampening_on_first_step")
