"""torch's SGD whose differentiable=True step detaches the gradient: every value is right (the catalogue
passes it in every variant), only the derivatives through the step are wrong, so only the differentiable
check (autograd's Jacobian against the reference's finite differences) catches it."""

import torch

from mutants.kernels import DetachesGradient, kernel_mutant

# tests/test_mutants.py runs a mutant with the variant it names (differentiable is not in the default run).
VARIANT = "differentiable"
# What the suite must say: the derivatives, not the values, are wrong; an API check (test_differentiable_step)
# says it, as no property example compares derivatives.
FAILURE = "the derivatives autograd computes through the step are not the reference's"
CAUGHT_BY = "api"

SGD = kernel_mutant(torch.optim.SGD, DetachesGradient, ("differentiable",))
