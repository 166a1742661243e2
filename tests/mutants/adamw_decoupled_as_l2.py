"""AdamW that applies weight decay as an L2 term in the gradient (Adam's coupled decay)."""

from mutants.compact import CompactAdamW, mutant

AdamW = mutant(CompactAdamW, "decoupled_as_l2")
