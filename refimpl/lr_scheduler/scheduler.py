r"""The LR scheduler base class: how every scheduler reads and writes ``optimizer.param_groups``.

A scheduler owns no learning rate of its own: each ``step()`` computes one value per param group and writes
it into ``group["lr"]``, where the optimizer reads it on its next step. The protocol, as torch 2.13 has it:

- **Construction** (``last_epoch == -1``): every group gets ``initial_lr = lr`` (``setdefault``: a group that
  already has one, e.g. from an earlier scheduler on the same optimizer, keeps it), and ``base_lrs`` is the
  list of ``initial_lr``\s. With ``last_epoch >= 0`` (resuming) every group must already hold ``initial_lr``,
  else torch's ``KeyError`` (message below). Then the constructor makes one *initial step*: ``last_epoch``
  goes from ``-1`` to ``0`` (or from ``k`` to ``k + 1`` when resuming) and ``get_lr()`` runs with
  ``_is_initial`` set, so recursive schedulers can leave the lr as it is instead of advancing it twice.
- **step()**: ``last_epoch += 1``; ``values = get_lr()``; ``group["lr"] = value`` for every group (the
  lengths must agree: torch zips with ``strict=True``); ``_last_lr`` is the list of the groups' lrs after.
- **step(epoch)**, deprecated since torch 1.4: warns ``EPOCH_DEPRECATION_WARNING``, sets ``last_epoch =
  epoch`` and uses the subclass's ``_get_closed_form_lr()`` if it has one, else ``get_lr()``.
- **state_dict()**: every instance attribute except ``optimizer`` -- a *shallow* dict, as torch's: the values
  are the scheduler's own objects (torch does not copy them either; they are replaced, not mutated, as the
  scheduler runs). ``load_state_dict`` is ``__dict__.update``.

Subclasses implement ``get_lr()`` (the recursive, "chainable" form, which reads the current ``group["lr"]``
so several schedulers can act on one optimizer) and optionally ``_get_closed_form_lr()`` (from ``base_lrs``).

The step-order warnings (pytorch/pytorch#20124): the constructor wraps the optimizer's ``step`` in a function
that records ``optimizer._opt_called = True`` and carries ``_wrapped_by_lr_sched``; the scheduler's second
``step()`` call (``_step_count == 1``, the initial step being the first) warns if the optimizer never stepped,
or if ``optimizer.step`` was replaced after the scheduler wrapped it. The reference wraps a refimpl
optimizer's ``step`` the same way, through a weak reference as torch does (no reference cycle).

Where the reference differs from torch, deliberately:

- Learning rates are Python floats. torch also accepts tensor lrs (and clones them to avoid aliasing); NumPy
  has no 0-d tensor lr convention in this project, so there is nothing to clone.
- ``isinstance(optimizer, Optimizer)`` checks the *refimpl* ``Optimizer``; the message is torch's.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import wraps
from typing import Any
from weakref import ref

from refimpl.optim.optimizer import Optimizer

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being "
    "deprecated where possible. Please use `scheduler.step()` to step the "
    "scheduler. During the deprecation, if epoch is different from None, the "
    "closed form is used instead of the new chainable form, where available. "
    "Please open an issue if you are unable to replicate your use case: "
    "https://github.com/pytorch/pytorch/issues/new/choose."
)

OVERRIDDEN_STEP_WARNING = (
    "Seems like `optimizer.step()` has been overridden after learning rate scheduler "
    "initialization. Please, make sure to call `optimizer.step()` before "
    "`lr_scheduler.step()`. See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)

STEP_ORDER_WARNING = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
    "In PyTorch 1.1.0 and later, you should call them in the opposite order: "
    "`optimizer.step()` before `lr_scheduler.step()`.  Failure to do this "
    "will result in PyTorch skipping the first value of the learning rate schedule. "
    "See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)

GET_LR_OUTSIDE_STEP_WARNING = (
    "To get the last learning rate computed by the scheduler, please use `get_last_lr()`."
)


def missing_initial_lr_message(index: int) -> str:
    """torch's KeyError text when resuming (``last_epoch >= 0``) without ``initial_lr`` in group ``index``."""
    return (
        f"param 'initial_lr' is not specified in param_groups[{index}] when resuming scheduler with "
        "last_epoch >= 0.\n"
        "This typically happens when:\n"
        "1. You're trying to resume training from a checkpoint but haven't properly loaded the optimizer "
        "state\n"
        "2. You're using last_epoch >= 0 for a fresh training run (not recommended)"
    )


def group_values(optimizer: Optimizer, key: str) -> list[Any]:
    """``[group[key] for group in param_groups]``: torch's ``_param_groups_val_list`` (KeyError if absent)."""
    return [group[key] for group in optimizer.param_groups]


def per_group(name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """One value per param group: a list/tuple must have one entry per group, a scalar is repeated.

    torch's ``_format_param``, used by the cyclic schedulers for ``base_lr``/``max_lr``/momenta.
    """
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(value)} values, param_groups has {len(optimizer.param_groups)}."
            )
        return list(value)
    return [value] * len(optimizer.param_groups)


def _wrap_optimizer_step(optimizer: Optimizer) -> None:
    """Make ``optimizer.step`` record that it was called (``_opt_called``), once per optimizer."""
    if hasattr(optimizer.step, "_wrapped_by_lr_sched"):
        return
    opt_ref = ref(optimizer)
    func = optimizer.step.__func__  # type: ignore[attr-defined]

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        opt = opt_ref()
        opt._opt_called = True  # type: ignore[union-attr]
        return func.__get__(opt, opt.__class__)(*args, **kwargs)

    wrapper._wrapped_by_lr_sched = True  # type: ignore[attr-defined]
    optimizer.step = wrapper  # type: ignore[method-assign]


class LRScheduler:
    """Base class. Subclasses set their own attributes, then call ``super().__init__(optimizer, last_epoch)``.

    ``_is_initial`` is true only during the constructor's step; ``_get_lr_called_within_step`` only while
    ``step()`` runs ``get_lr()`` (outside it ``get_lr()`` warns, as torch's does). Both become instance
    attributes on the first step, so they appear in ``state_dict()`` exactly as in torch's.
    """

    _get_lr_called_within_step: bool = False
    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(missing_initial_lr_message(i))
        self.base_lrs: list[float] = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        _wrap_optimizer_step(optimizer)
        self._initial_step()

    def _initial_step(self) -> None:
        """The constructor's step: ``_step_count`` starts at 0 and ``get_lr()`` sees ``_is_initial``."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    # -- state dicts ----------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Every instance attribute except the optimizer (shallow, as torch's)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)

    # -- learning rates -------------------------------------------------------------------------------------

    def get_last_lr(self) -> list[float]:
        """The lrs the last ``step()`` left in the param groups."""
        return self._last_lr

    def get_lr(self) -> list[float]:
        """The next lr of every param group at ``last_epoch`` (already advanced). Subclasses implement it."""
        raise NotImplementedError

    def _warn_if_outside_step(self) -> None:
        """torch's ``_warn_get_lr_called_within_step``: subclasses call it first thing in ``get_lr()``."""
        if not self._get_lr_called_within_step:
            warnings.warn(GET_LR_OUTSIDE_STEP_WARNING, UserWarning, stacklevel=3)

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or, deprecated, jump to ``epoch``) and write the new lrs into the groups."""
        if self._step_count == 1:
            if not hasattr(self.optimizer.step, "_wrapped_by_lr_sched"):
                warnings.warn(OVERRIDDEN_STEP_WARNING, UserWarning, stacklevel=2)
            elif not getattr(self.optimizer, "_opt_called", False):
                warnings.warn(STEP_ORDER_WARNING, UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form: Callable[[], list[float]] | None = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr: list[float] = group_values(self.optimizer, "lr")


def state_dict_with(scheduler: LRScheduler, key: str, save: Callable[[Any], Any]) -> dict[str, Any]:
    """``state_dict()`` where the list attribute ``key`` is saved item by item through ``save``.

    LambdaLR's ``lr_lambdas`` (functions cannot be saved) and the composites' ``_schedulers`` (their own
    state dicts) are the two cases.
    """
    state = {k: v for k, v in scheduler.__dict__.items() if k not in ("optimizer", key)}
    state[key] = [save(item) for item in getattr(scheduler, key)]
    return state


def load_state_dict_with(
    scheduler: LRScheduler, state_dict: dict[str, Any], key: str, load: Callable[[Any, Any], None]
) -> None:
    """Inverse of ``state_dict_with``: ``load(item, saved)`` for each item of ``key``; the rest as usual.

    The caller's dict is left as it was (torch pops ``key`` and puts it back: pytorch/pytorch#32756).
    """
    saved_items = state_dict.pop(key)
    scheduler.__dict__.update(state_dict)
    state_dict[key] = saved_items
    for item, saved in zip(getattr(scheduler, key), saved_items):
        load(item, saved)
