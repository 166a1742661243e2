"""LR-scheduler cases, one module per scheduler (named as in ``refimpl.lr_scheduler.MODULES``), each with
``CASES``. Every case drives two param groups with different base lrs for at least 100 epochs."""
