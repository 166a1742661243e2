"""Optimizer cases, one module per optimizer (named as in ``refimpl.optim.MODULES``), each with ``CASES``."""
