"""torch's SGD whose compiled step (torch.compile) alone ignores weight decay: every eager variant is right,
so only the compile variant (``--variant compile``) catches it."""

import torch

from mutants.kernels import CompiledDropsWeightDecay, kernel_mutant

# tests/test_mutants.py runs a mutant with the variant it names (compile is not in the default run).
VARIANT = "compile"

SGD = kernel_mutant(torch.optim.SGD, CompiledDropsWeightDecay, ())
