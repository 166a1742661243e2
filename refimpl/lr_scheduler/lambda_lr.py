r"""LambdaLR: the lr of each group is its base lr times a user function of the epoch.

Rule, in the docs' notation (:math:`\eta_0` the group's ``initial_lr``, :math:`\lambda` the group's
``lr_lambda``, :math:`t` = ``last_epoch``)::

    eta_t = eta_0 * lambda(t)          for t = 0, 1, 2, ...

This is a closed form: it ignores the current ``group["lr"]``, so a user's change to ``group["lr"]`` lasts
one epoch and another scheduler acting on the same groups is overwritten. torch has no
``_get_closed_form_lr`` for it; ``step(epoch)`` calls ``get_lr()`` at ``epoch``, the same thing.

Where the reference meets torch's code rather than its docs:

- ``lr_lambda`` is not checked to be callable (MultiplicativeLR checks it): a non-callable passes the
  constructor's validation and fails in the constructor's initial step with Python's ``TypeError``
  (``'int' object is not callable``).
- State dicts: a plain function or lambda (``types.FunctionType``) is saved as ``None`` -- it cannot be
  pickled -- while any other callable (an object with ``__call__``, a ``functools.partial``, a builtin)
  is saved as a copy of its ``__dict__``, and ``load_state_dict`` updates the existing callable's
  ``__dict__`` with it. ``load_state_dict`` leaves the given dict as it found it (pytorch/pytorch#32756).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from refimpl.lr_scheduler.scheduler import LRScheduler, load_state_dict_with, state_dict_with
from refimpl.optim._validation import Rule, Table
from refimpl.optim.optimizer import Optimizer

LrLambda = Callable[[int], float]


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple))


# One lambda per group, or one for all: torch's only check.
LENGTH_RULE = Rule(
    ("lr_lambda", "n_groups"),
    lambda h: not _is_sequence(h["lr_lambda"]) or len(h["lr_lambda"]) == h["n_groups"],
    "Expected {n_groups} lr_lambdas, but got {n_lambdas}",
)

TABLE = Table((LENGTH_RULE,))


def lambda_hyper(optimizer: Optimizer, lr_lambda: Any) -> dict[str, Any]:
    """The values the lambda tables check and their messages quote."""
    lambdas = list(lr_lambda) if _is_sequence(lr_lambda) else [lr_lambda]
    non_callable = [type(fn).__name__ for fn in lambdas if not callable(fn)]
    return {
        "lr_lambda": lr_lambda,
        "n_groups": len(optimizer.param_groups),
        "n_lambdas": len(lambdas),
        "non_callable": non_callable[0] if non_callable else None,
    }


def lambdas_per_group(optimizer: Optimizer, lr_lambda: LrLambda | list[LrLambda]) -> list[LrLambda]:
    """A single callable is shared by every group; a list/tuple gives one per group."""
    if _is_sequence(lr_lambda):
        return list(lr_lambda)  # type: ignore[arg-type]
    return [lr_lambda] * len(optimizer.param_groups)  # type: ignore[list-item]


def _save_lambda(fn: LrLambda) -> dict[str, Any] | None:
    return None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()


def _load_lambda(fn: LrLambda, saved: dict[str, Any] | None) -> None:
    if saved is not None:
        fn.__dict__.update(saved)


class LambdaScheduler(LRScheduler):
    """What LambdaLR and MultiplicativeLR share: one lambda per group, their check table, state dicts.

    Functions and lambdas are saved as ``None``; other callables as a copy of their ``__dict__``.
    """

    table: Table

    def __init__(
        self, optimizer: Optimizer, lr_lambda: LrLambda | list[LrLambda], last_epoch: int = -1
    ) -> None:
        self.optimizer = optimizer
        self.table.validate(lambda_hyper(optimizer, lr_lambda))
        self.lr_lambdas = lambdas_per_group(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict[str, Any]:
        return state_dict_with(self, "lr_lambdas", _save_lambda)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        load_state_dict_with(self, state_dict, "lr_lambdas", _load_lambda)


class LambdaLR(LambdaScheduler):
    table = TABLE

    def get_lr(self) -> list[float]:
        """``eta_0 * lambda(t)`` per group."""
        self._warn_if_outside_step()
        return [
            base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)
        ]
