"""A library for the cross-library matrix (tests/test_matrix.py), one class per kind of cell:

- ``Adam``: its own, whose bias corrections count one step ahead (1 - beta^(t+1); the mutant of
  tests/mutants/adam_bias_correction_off_by_one.py), a difference declared in ``matrix_lib.toml``: the matrix
  must say "differs" and link the entry;
- ``RMSprop``: its own class with torch's arithmetic (a subclass): "conforms";
- ``SGD`` and ``StepLR``: torch's own, re-exported: "conforms", marked torch's own class;
- no Adamax (which its deviations file names all the same), no other optimizer or scheduler: "not available".
"""

import torch
from mutants.compact import CompactAdam, mutant
from torch.optim import SGD  # noqa: F401
from torch.optim.lr_scheduler import StepLR  # noqa: F401

Adam = mutant(CompactAdam, "bias_correction_off_by_one")


class RMSprop(torch.optim.RMSprop):
    pass
