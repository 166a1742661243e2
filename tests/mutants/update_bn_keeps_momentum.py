"""update_bn that keeps the BatchNorm layers' momentum: an exponential average, not the cumulative one."""

from mutants.compact_swa import swa_functions

update_bn = swa_functions("keeps_momentum")["update_bn"]
