"""A library that re-exports torch's optimizers and schedulers as its own (as pytorch-optimizer does for
Adam, SGD, ... and the schedulers): ``--impl=torch:fakes.reexport`` must pass exactly as ``--impl=torch``."""

from torch.optim import *  # noqa: F403
from torch.optim import lr_scheduler  # noqa: F401
