"""Adam whose foreach variant ignores amsgrad: right in the for-loop, wrong only with foreach=True."""

from mutants.compact import CompactAdam, mutant

Adam = mutant(CompactAdam, "foreach_ignores_amsgrad")
