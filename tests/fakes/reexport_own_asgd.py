"""``reexport`` plus an ASGD of its own (torch's code, as a subclass, so its foreach variant rounds eta in
float32 as torch's does): torch's known deviation for torch's ASGD must not excuse the library's class."""

import torch
from torch.optim import *  # noqa: F403
from torch.optim import lr_scheduler  # noqa: F401


class ASGD(torch.optim.ASGD):
    pass
