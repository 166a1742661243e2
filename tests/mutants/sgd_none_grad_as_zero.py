"""SGD that treats a None gradient as zeros, so momentum keeps moving a param that got no gradient."""

from mutants.compact import CompactSGD, mutant

SGD = mutant(CompactSGD, "none_grad_as_zero")
