"""torch's Adam with the group's eps ignored for the default 1e-8 (a wrong eps), for bfloat16 and float16
params only: right in float64 and float32, so only a half-precision check that discriminates catches it
(in bfloat16 alone, in float16 alone)."""

import torch

from mutants.kernels import DefaultEps, kernel_mutant

Adam = kernel_mutant(torch.optim.Adam, DefaultEps, ())
