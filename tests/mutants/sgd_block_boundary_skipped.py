"""torch's SGD whose foreach and fused kernels never write back the first element of each 4096-element block
after the first: right on every param of at most 4096 elements."""

import torch

from mutants.kernels import BlockBoundarySkipped, kernel_mutant

SGD = kernel_mutant(torch.optim.SGD, BlockBoundarySkipped, ("foreach", "fused"))
