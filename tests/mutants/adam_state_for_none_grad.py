"""Adam that creates state for a param whose gradient is None (without moving it): torch gives such a param
no state until it first has a gradient."""

from mutants.compact import CompactAdam, mutant

Adam = mutant(CompactAdam, "state_for_none_grad")
