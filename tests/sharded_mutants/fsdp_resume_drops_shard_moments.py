"""set_optimizer_state_dict that loads the full state dict, then loses rank 1's shard of every moment
(exp_avg, momentum_buffer, ...: each state tensor but ``step`` zeroed there), as a resharding bug that
reads one shard from the wrong place would."""

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict as torch_set


def set_optimizer_state_dict(model, optimizers, optim_state_dict, *, options=None):
    torch_set(model, optimizers, optim_state_dict=optim_state_dict, options=options)
    if dist.get_rank() != 1:
        return
    for state in optimizers.state.values():
        for key, value in state.items():
            if key != "step" and isinstance(value, torch.Tensor):
                local = value.to_local() if hasattr(value, "to_local") else value
                local.zero_()
