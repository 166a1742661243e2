"""``missing_options`` with SGD's momentum wrong (the old buffer weighted by 1.1 x momentum)."""

from fakes import missing_options
from fakes.missing_options import Adam


class SGD(missing_options.SGD):
    momentum_error = 1.1


__all__ = ["SGD", "Adam"]
