"""Adam whose load_state_dict() restores the param groups but drops the per-param state (moments, steps)."""

from mutants.compact import CompactAdam, mutant

Adam = mutant(CompactAdam, "load_state_dict_drops_state")
