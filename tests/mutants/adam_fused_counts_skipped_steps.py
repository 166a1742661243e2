"""torch's Adam whose fused (amp-aware) step counts the iterations GradScaler skips for inf/NaN gradients:
params stay put on a skipped iteration, but ``step`` advances, so every later bias correction is off. Only
the GradScaler checks skip an iteration."""

import torch

from mutants.kernels import CountsSkippedSteps, kernel_mutant

# The GradScaler checks are API checks; no property example skips an iteration.
CAUGHT_BY = "api"

Adam = kernel_mutant(torch.optim.Adam, CountsSkippedSteps, ("fused",))
