"""SGD that adds the weight decay to p.grad in place (grad.add_(p, alpha=wd)): the step is right, but
the user's .grad is changed (gradient clipping or logging after step() sees the wrong values)."""

from mutants.compact import CompactSGD, mutant

SGD = mutant(CompactSGD, "weight_decay_into_grad")
