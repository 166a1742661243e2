"""torch's SGD whose compiled step (torch.compile) alone ignores weight decay: every eager variant is right,
so only the compile variant (``--variant compile``) catches it."""

import torch

from mutants.kernels import CompiledDropsWeightDecay, kernel_mutant

# tests/test_mutants.py runs a mutant with the variant it names (compile is not in the default run).
VARIANT = "compile"
# In float32 (tests/test_mutants.py): torch's own compiled step loses float64 0-d params' updates, which would
# fail the float64 API checks whatever the mutant did.
DTYPES = "float32"

SGD = kernel_mutant(torch.optim.SGD, CompiledDropsWeightDecay, ())
