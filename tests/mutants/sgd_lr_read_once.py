"""SGD that reads each group's lr once, so lr changed through param_groups mid-run is ignored."""

from mutants.compact import CompactSGD, mutant

SGD = mutant(CompactSGD, "lr_read_once")
