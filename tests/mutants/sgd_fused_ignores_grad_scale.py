"""torch's SGD whose fused (amp-aware) kernel is not given GradScaler's ``grad_scale``: under a GradScaler it
steps with the scaled gradients, without one it is right. Only the GradScaler checks scale gradients."""

import torch

from mutants.kernels import IgnoresGradScale, kernel_mutant

SGD = kernel_mutant(torch.optim.SGD, IgnoresGradScale, ("fused",))
