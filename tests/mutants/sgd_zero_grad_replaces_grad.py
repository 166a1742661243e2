"""SGD whose zero_grad(set_to_none=False) puts new zero tensors in .grad instead of zeroing the existing
ones in place (a reference to p.grad kept by the user, a hook or a fused buffer goes stale)."""

from mutants.compact import CompactSGD, mutant

SGD = mutant(CompactSGD, "zero_grad_replaces_grad")
