"""The control: the compact implementations with no mistake switched on. It must pass."""

from mutants.compact import CompactAdam as Adam
from mutants.compact import CompactAdamW as AdamW
from mutants.compact import CompactSGD as SGD
from mutants.compact_adaptive import CompactAdagrad as Adagrad
from mutants.compact_adaptive import CompactRAdam as RAdam
from mutants.compact_adaptive import CompactRMSprop as RMSprop
from mutants.compact_adaptive import CompactRprop as Rprop

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "RAdam", "RMSprop", "Rprop"]
