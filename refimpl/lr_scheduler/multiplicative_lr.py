r"""MultiplicativeLR: each epoch multiplies the group's *current* lr by a user function of the epoch.

Rule, in the docs' notation (:math:`\lambda` the group's ``lr_lambda``, :math:`t` = ``last_epoch``)::

    eta_0 = eta_{-1}                         (the constructor's step leaves the lr as it is)
    eta_t = eta_{t-1} * lambda(t)            for t >= 1

Recursive ("chainable"): it reads ``group["lr"]``, so a user's change to it is kept and scaled from then on.
torch has no ``_get_closed_form_lr``: ``step(epoch)`` sets ``last_epoch = epoch`` and multiplies the current
lr by ``lambda(epoch)`` once.

Where the reference meets torch's code rather than its docs:

- The docs' summary ("Multiply the learning rate ... by the factor given in the specified function") does
  not say that ``lambda(0)`` is never applied: the constructor's step returns the lr unchanged.
- Unlike LambdaLR, every lambda is checked to be callable, after the length check (``TypeError``).
- State dicts as LambdaLR's (functions saved as ``None``, callable objects as their ``__dict__``).
"""

from __future__ import annotations

from refimpl.lr_scheduler.lambda_lr import LENGTH_RULE, LambdaScheduler
from refimpl.lr_scheduler.scheduler import group_values
from refimpl.optim._validation import Rule, Table

TABLE = Table(
    (
        LENGTH_RULE,
        Rule(
            ("lr_lambda",),
            lambda h: h["non_callable"] is None,
            "lr_lambda should be a function, but got {non_callable}",
            TypeError,
        ),
    )
)


class MultiplicativeLR(LambdaScheduler):
    table = TABLE

    def get_lr(self) -> list[float]:
        """``eta_{t-1} * lambda(t)`` per group; unchanged on the constructor's step."""
        self._warn_if_outside_step()
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        return [
            group["lr"] * fn(self.last_epoch)
            for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups, strict=True)
        ]
