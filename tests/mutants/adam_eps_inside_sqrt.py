"""Adam with eps inside the square root: sqrt(v_hat + eps) instead of sqrt(v_hat) + eps."""

from mutants.compact import CompactAdam, mutant

Adam = mutant(CompactAdam, "eps_inside_sqrt")
