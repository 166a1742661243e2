"""Adam whose state_dict() leaves out each param's step count (a resumed run restarts bias correction)."""

from mutants.compact import CompactAdam, mutant

Adam = mutant(CompactAdam, "state_dict_without_step")
