"""The control: the compact implementations with no mistake switched on. It must pass."""

from mutants.compact import CompactAdam as Adam
from mutants.compact import CompactAdamW as AdamW
from mutants.compact import CompactSGD as SGD

__all__ = ["SGD", "Adam", "AdamW"]
