"""SGD whose constructor forgets the lr check: a negative lr is accepted (and would ascend), not refused."""

from mutants.compact import CompactSGD, mutant

# Argument validation is its own check (test_invalid_argument): the property layer draws valid arguments only.
CAUGHT_BY = "api"

SGD = mutant(CompactSGD, "accepts_negative_lr")
