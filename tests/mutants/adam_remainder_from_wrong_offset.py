"""torch's Adam whose foreach and fused kernels read the remainder after the last full 32-element vector
one vector too early: right on every param of at most 32 elements, or a multiple of 32."""

import torch

from mutants.kernels import RemainderFromWrongOffset, kernel_mutant

Adam = kernel_mutant(torch.optim.Adam, RemainderFromWrongOffset, ("foreach", "fused"))
