"""``other_layout``'s Adam, with its key map declared (a module-level ``OPTIM_CONFORMANCE``)."""

from fakes.other_layout import RENAME, Adam

OPTIM_CONFORMANCE = {"Adam": {"state_keys": RENAME}}

__all__ = ["Adam"]
