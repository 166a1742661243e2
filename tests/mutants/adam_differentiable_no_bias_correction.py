"""torch's Adam with no bias correction when differentiable=True: right in every other variant, so only
a run of the differentiable variant (``--variant differentiable``) catches it."""

import torch

from mutants.kernels import KernelFault, NoBiasCorrection, kernel_mutant

# tests/test_mutants.py runs a mutant with the variant it names (differentiable is not in the default run).
VARIANT = "differentiable"


class DifferentiableNoBiasCorrection(NoBiasCorrection):
    """The half-precision mutant's fault, in the groups with differentiable=True instead."""

    faulty = KernelFault.faulty


Adam = kernel_mutant(torch.optim.Adam, DifferentiableNoBiasCorrection, ("differentiable",))
