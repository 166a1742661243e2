"""The control: the compact implementations with no mistake switched on. It must pass."""

from mutants.compact import CompactAdam as Adam
from mutants.compact import CompactAdamW as AdamW
from mutants.compact import CompactSGD as SGD
from mutants.compact_adaptive import CompactAdagrad as Adagrad
from mutants.compact_adaptive import CompactRAdam as RAdam
from mutants.compact_adaptive import CompactRMSprop as RMSprop
from mutants.compact_adaptive import CompactRprop as Rprop
from mutants.compact_sched import CompactCosineAnnealingLR as CosineAnnealingLR
from mutants.compact_sched import CompactCyclicLR as CyclicLR
from mutants.compact_sched import CompactMultiStepLR as MultiStepLR
from mutants.compact_sched import CompactOneCycleLR as OneCycleLR
from mutants.compact_sched import CompactReduceLROnPlateau as ReduceLROnPlateau
from mutants.compact_sched import CompactStepLR as StepLR
from mutants.compact_swa import swa_functions

globals().update(swa_functions())

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "RAdam", "RMSprop", "Rprop"]
__all__ += ["CosineAnnealingLR", "CyclicLR", "MultiStepLR", "OneCycleLR", "ReduceLROnPlateau", "StepLR"]
__all__ += list(swa_functions())
