"""SGD that steps every group with the constructor's lr: a group's own lr (per-layer lrs) is ignored."""

from mutants.compact import CompactSGD, mutant

SGD = mutant(CompactSGD, "group_lr_ignored")
