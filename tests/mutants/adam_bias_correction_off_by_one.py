"""Adam whose bias corrections use t + 1 instead of t."""

from mutants.compact import CompactAdam, mutant

Adam = mutant(CompactAdam, "bias_correction_off_by_one")
