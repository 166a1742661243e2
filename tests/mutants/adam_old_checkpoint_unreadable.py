"""Adam without Adam.__setstate__: a state dict from an older torch (no foreach/fused/capturable/...
flags, step a Python number) loads, but the flags stay missing and step stays a number, so step() breaks."""

from mutants.compact import CompactAdam, mutant

Adam = mutant(CompactAdam, "no_setstate")
