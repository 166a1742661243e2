"""Hypothesis strategies for the property-based layer, generated from the reference's validation tables.

- ``hyper``: hyperparameters drawn inside each ``refimpl`` ``TABLE``'s bounds and rules (the one source of
  truth for valid ranges), plus the documented domains of the few arguments torch does not validate;
- ``arrays``: shapes, params and gradient sequences (magnitudes 1e-12 to 1e6, exact zeros, sign flips,
  missing gradients, sparse rows);
- ``optimizers``: whole optimizer examples (groups, hyperparameters, steps, lr changes between steps);
- ``schedulers``: LR-scheduler configurations and ReduceLROnPlateau metric sequences.

Nothing here iterates a set or depends on hash order, so a derandomized run draws the same examples on
every machine and under every ``PYTHONHASHSEED``.
"""
