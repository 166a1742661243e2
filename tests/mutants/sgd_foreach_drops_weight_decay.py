"""torch's SGD whose foreach kernel alone ignores weight decay: the for-loop and fused variants are right,
so only checks that really run foreach (after loading a state too: the single steps) can catch it."""

import torch

from mutants.kernels import DropsWeightDecay, kernel_mutant

SGD = kernel_mutant(torch.optim.SGD, DropsWeightDecay, ("foreach",))
