"""ZeroRedundancyOptimizer whose rank 1 steps its shard twice per step (a duplicated local update, as a
wrapper that both hooks and calls the local optimizer would make)."""

from torch.distributed.optim import ZeroRedundancyOptimizer as TorchZero


class ZeroRedundancyOptimizer(TorchZero):
    def step(self, closure=None, **kwargs):
        if self.rank == 1:
            self.optim.step()
        return super().step(closure, **kwargs)
