"""SWALR that reaches swa_lr one epoch early: it anneals over anneal_epochs - 1 epochs."""

from mutants.compact_swa import swa_functions

SWALR = swa_functions("anneal_epochs_off_by_one")["SWALR"]
