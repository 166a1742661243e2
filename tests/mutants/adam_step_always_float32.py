"""Adam that keeps step as a float32 tensor whatever the default dtype, where torch keeps it in the default
dtype (float64 under torch.set_default_dtype(torch.float64))."""

from mutants.compact import CompactAdam, mutant

Adam = mutant(CompactAdam, "step_always_float32")
