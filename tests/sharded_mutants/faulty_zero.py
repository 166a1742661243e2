"""ZeroRedundancyOptimizer whose rank 1 misbehaves at its third step, as ``OPTCONF_FAULT`` says: ``raise``
(an exception), ``hang`` (never returns), ``die`` (the process ends); ``load``: rank 1 raises loading a state
dict. Anything else: a correct wrapper."""

import os
import time

from torch.distributed.optim import ZeroRedundancyOptimizer as TorchZero

FAULT_STEP = 3


class ZeroRedundancyOptimizer(TorchZero):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = 0

    def step(self, closure=None, **kwargs):
        self.steps += 1
        fault = os.environ.get("OPTCONF_FAULT")
        if self.rank == 1 and self.steps == FAULT_STEP:
            if fault == "raise":
                raise RuntimeError("injected fault")
            if fault == "hang":
                while True:
                    time.sleep(1)
            if fault == "die":
                os._exit(3)
        return super().step(closure, **kwargs)

    def load_state_dict(self, state_dict):
        if self.rank == 1 and os.environ.get("OPTCONF_FAULT") == "load":
            raise RuntimeError("injected fault")
        return super().load_state_dict(state_dict)
