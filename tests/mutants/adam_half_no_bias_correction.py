"""torch's Adam with no bias correction, for bfloat16 and float16 params only: right in float64 and float32,
so only a half-precision check that discriminates catches it (in bfloat16 alone, in float16 alone)."""

import torch

from mutants.kernels import NoBiasCorrection, kernel_mutant

Adam = kernel_mutant(torch.optim.Adam, NoBiasCorrection, ())
