r"""Weight averaging (SWA, EMA) and the SWALR scheduler: ``torch.optim.swa_utils`` over NumPy arrays.

**Averages.** An averaged model keeps one running average :math:`W^{avg}` per parameter (and, with
``use_buffers=True``, per buffer). The first ``update_parameters`` *copies* the model (:math:`W^{avg}_1 =
W_1`, whatever the averaging function); every later one applies the averaging function, with
:math:`n` = ``n_averaged``, the number of models already averaged:

- SWA, the default (equal weights, Izmailov et al. 2018):
  :math:`W^{avg}_{n+1} = W^{avg}_n + (W_{n+1} - W^{avg}_n) / (n + 1)`, so :math:`W^{avg}_n` is the mean
  of :math:`W_1 \dots W_n`.
- EMA (Polyak averaging with exponential weights), :math:`\text{decay} \in [0, 1]`:
  :math:`W^{EMA}_{t+1} = \text{decay} \cdot W^{EMA}_t + (1 - \text{decay}) \cdot W_{t+1}`.

Each comes as a per-array ``avg_fn`` (returns the new average) and as an in-place ``multi_avg_fn`` over a
list of arrays of one dtype (torch groups the tensors by device and dtype and calls it once per group).

**Buffers.** With ``use_buffers=False`` (default) buffers are not averaged: after every update they are
*copied* from the model (so BatchNorm statistics follow the latest model; ``update_bn`` recomputes them in
torch). With ``use_buffers=True`` the buffers are averaged exactly like the parameters, after them.

Where the reference follows torch's code rather than its docs (each observable at float64):

- The default average (no ``avg_fn``, no ``multi_avg_fn``) on CPU is ``get_swa_avg_fn``'s
  ``avg + (cur - avg) / (n + 1)``. On CUDA/XPU torch takes ``get_swa_multi_avg_fn`` instead (a ``lerp``,
  different rounding, and the float32 weight below); the reference is torch-on-CPU.
- ``get_swa_multi_avg_fn`` computes its lerp weight as ``1 / (n_averaged + 1)`` with ``n_averaged`` a
  0-d int64 *tensor*: the reciprocal is in torch's default dtype, float32, so the weight is
  ``float32(1 / (n + 1))``, not ``1 / (n + 1)`` (relative error up to ~3e-8 for float64 params). The
  reference rounds the weight the same way (not reported upstream as far as we found; it is what torch
  computes).
- The multi functions use ``torch._foreach_lerp_``: ``lerp(a, b, w) = a + w (b - a)`` for ``|w| < 0.5``,
  else ``b - (b - a)(1 - w)`` (ATen's two-branch form, exact at both ends). ATen's vectorized CPU kernel
  fuses the multiply-add; the reference does not (a one-rounding difference, ~1e-16 relative).
- Integer arrays (e.g. BatchNorm's ``num_batches_tracked`` with ``use_buffers=True``): torch computes
  ``int64 tensor * python float`` and ``int / int`` in its default dtype, float32, then ``copy_`` truncates
  toward zero into the int64 buffer. The reference does the same. ``get_swa_multi_avg_fn`` on integers
  calls ``addcdiv`` with an integer divisor, which torch rejects with a RuntimeError; so does the reference.
- ``avg_fn`` and ``multi_avg_fn`` together: torch raises ``AssertionError`` (not ``ValueError``).

**SWALR** anneals each group's lr from its current value to ``swa_lr`` over ``anneal_epochs`` epochs and
then holds it. With :math:`t = \min(1, \max(0, s / \max(1, \text{anneal\_epochs})))` at step :math:`s`
(``_step_count - 1``; :math:`s \ge 1` when ``anneal_epochs == 0``) and :math:`\alpha(t) = t` (linear) or
:math:`(1 - \cos \pi t) / 2` (cos), the closed form is :math:`\eta_s = \alpha(t)\,\eta_{swa} + (1 -
\alpha(t))\,\eta_0`. torch computes it recursively from the current ``group["lr"]`` (so it chains with
other schedulers): it reconstructs :math:`\eta_0` from the last lr and the previous :math:`\alpha`, then
applies the formula; the reference repeats that arithmetic operation for operation.

**update_bn** recomputes the running statistics of every BatchNorm layer of a model from one pass over
the data (an averaged model's weights never produced its BatchNorm statistics). torch's order: every
BatchNorm layer's statistics are reset (``running_mean = 0``, ``running_var = 1``,
``num_batches_tracked = 0``) and its ``momentum`` set to ``None``; the model is put in training mode;
each batch (the first element of a list or tuple batch) goes through the model; then every ``momentum``
and the model's training mode are restored. With ``momentum = None`` a BatchNorm layer keeps the
*cumulative* average: at its ``k``-th batch the factor is ``1 / k``, so after ``K`` batches
``running_mean`` is the plain mean of the ``K`` batch means and ``running_var`` the mean of the ``K``
unbiased batch variances (``n / (n - 1)`` times the biased one, ``n`` the elements per channel). A model
without BatchNorm layers is left untouched (torch returns before changing the training mode).

The model is a small NumPy stand-in for ``nn.Sequential`` (``Sequential`` of ``Linear``, ``ReLU`` and
``BatchNorm`` layers: torch's ``BatchNorm1d/2d/3d``, channels on axis 1), enough to drive ``update_bn``
as torch drives it: BatchNorm normalizes with the batch's biased variance in training mode and with the
running statistics in evaluation mode, and updates the running statistics as ATen does,
``running = factor * batch_stat + (1 - factor) * running``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from refimpl.lr_scheduler.scheduler import LRScheduler, per_group
from refimpl.optim._validation import Bound, Rule, Table
from refimpl.optim.optimizer import Optimizer

AvgFn = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
MultiAvgFn = Callable[[list[np.ndarray], list[np.ndarray], int], None]

# torch writes the decay check as ``decay < 0.0 or decay > 1.0``: NaN passes.
DECAY_TABLE = Table(
    (
        Bound(
            "decay",
            low=0.0,
            high=1.0,
            message="Invalid decay value {value} provided. Please provide a value in [0,1] range.",
            accepts_nan=True,
        ),
    )
)

SWALR_TABLE = Table(
    (
        Rule(
            ("anneal_strategy",),
            lambda h: h["anneal_strategy"] in ("cos", "linear"),
            "anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}",
        ),
        Rule(
            ("anneal_epochs",),
            lambda h: isinstance(h["anneal_epochs"], int) and h["anneal_epochs"] >= 0,
            "anneal_epochs must be equal or greater than 0, got {anneal_epochs}",
        ),
    )
)

# torch's default floating dtype: what ``int tensor * python float`` and ``int / int`` produce.
TORCH_DEFAULT_FLOAT = np.float32


def _is_inexact(x: np.ndarray) -> bool:
    """Floating or complex: the dtypes ``torch._foreach_lerp_`` handles."""
    return x.dtype.kind in "fc"


def _promoted(x: np.ndarray) -> np.ndarray:
    """``x`` as torch's arithmetic sees it: integers promote to float32 when mixed with Python floats."""
    return x if _is_inexact(x) else x.astype(TORCH_DEFAULT_FLOAT)


def lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """``torch.lerp``: ``start + w (end - start)`` for ``|w| < 0.5``, else ``end - (end - start)(1 - w)``.

    The branch keeps the result exact at both ends (``w = 0`` gives ``start``, ``w = 1`` gives ``end``).
    """
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def get_ema_multi_avg_fn(decay: float = 0.999) -> MultiAvgFn:
    """In-place EMA over a list of arrays of one dtype: ``lerp(ema, current, 1 - decay)``."""
    DECAY_TABLE.validate({"decay": decay})

    def ema_update(ema_params: list[np.ndarray], current_params: list[np.ndarray], _: int) -> None:
        inexact = _is_inexact(ema_params[0])  # torch checks the group's first tensor
        for ema, current in zip(ema_params, current_params, strict=True):
            if inexact:
                ema[...] = lerp(ema, current, 1 - decay)
            else:
                ema[...] = _promoted(ema) * decay + _promoted(current) * (1 - decay)

    return ema_update


def get_swa_multi_avg_fn() -> MultiAvgFn:
    """In-place equal-weight average: ``lerp(avg, current, float32(1 / (n + 1)))`` (see module docstring)."""

    def swa_update(averaged: list[np.ndarray], current_params: list[np.ndarray], num_averaged: int) -> None:
        if not _is_inexact(averaged[0]):
            raise RuntimeError(INTEGER_ADDCDIV_MESSAGE)
        weight = float(TORCH_DEFAULT_FLOAT(1) / TORCH_DEFAULT_FLOAT(num_averaged + 1))
        for avg, current in zip(averaged, current_params, strict=True):
            avg[...] = lerp(avg, current, weight)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> AvgFn:
    """EMA of one array: returns ``decay * ema + (1 - decay) * current``."""
    DECAY_TABLE.validate({"decay": decay})

    def ema_update(ema: np.ndarray, current: np.ndarray, num_averaged: int) -> np.ndarray:
        return decay * _promoted(ema) + (1 - decay) * _promoted(current)

    return ema_update


def get_swa_avg_fn() -> AvgFn:
    """Equal-weight running average of one array: returns ``avg + (current - avg) / (n + 1)``."""

    def swa_update(averaged: np.ndarray, current: np.ndarray, num_averaged: int) -> np.ndarray:
        diff = current - averaged
        if not _is_inexact(diff):  # int tensor / int tensor: true division in float32
            return _promoted(averaged) + _promoted(diff) / TORCH_DEFAULT_FLOAT(num_averaged + 1)
        return averaged + diff / (num_averaged + 1)

    return swa_update


INTEGER_ADDCDIV_MESSAGE = (
    "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will perform "
    "a true division of tensor1 and tensor2. The historic addcdiv behavior can be implemented as "
    "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs and as "
    "(input + value * tensor1 / tensor2) for float inputs. The future addcdiv behavior is just the latter "
    "implementation: (input + value * tensor1 / tensor2), for all dtypes."
)


class AveragedModel:
    """A running average of a model given as arrays: ``params`` and ``buffers`` (lists, in module order).

    torch's ``AveragedModel`` deep-copies an ``nn.Module`` and reads ``parameters()``/``buffers()``; here
    the caller passes the same lists (e.g. ``[p.numpy() for p in model.parameters()]``). The averaged
    arrays are the reference's own copies; ``update_parameters`` overwrites them in place (as torch's
    ``copy_``), keeping each array's dtype.
    """

    def __init__(
        self,
        params: Sequence[np.ndarray],
        buffers: Sequence[np.ndarray] = (),
        avg_fn: AvgFn | None = None,
        multi_avg_fn: MultiAvgFn | None = None,
        use_buffers: bool = False,
    ) -> None:
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.params = [np.array(p, copy=True) for p in params]
        self.buffers = [np.array(b, copy=True) for b in buffers]
        self.n_averaged = 0
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def update_parameters(self, params: Sequence[np.ndarray], buffers: Sequence[np.ndarray] = ()) -> None:
        """Fold the model's current ``params`` (and ``buffers``) into the average; ``n_averaged += 1``."""
        averaged = self.params + self.buffers if self.use_buffers else list(self.params)
        current = [*params, *buffers] if self.use_buffers else list(params)
        pairs = list(zip(averaged, current))  # torch zips with strict=False: extra arrays are ignored
        if self.n_averaged == 0:
            for avg, cur in pairs:
                avg[...] = cur
        elif self.multi_avg_fn is not None or self.avg_fn is None:
            multi_avg_fn = self.multi_avg_fn
            for group in _by_dtype(pairs):
                avgs, curs = [a for a, _ in group], [c for _, c in group]
                if multi_avg_fn is not None:
                    multi_avg_fn(avgs, curs, self.n_averaged)
                else:  # torch on CPU: the per-array SWA average (CUDA would take the multi/lerp path)
                    _apply(get_swa_avg_fn(), group, self.n_averaged)
        else:
            _apply(self.avg_fn, pairs, self.n_averaged)
        if not self.use_buffers:
            for avg_buffer, buffer in zip(self.buffers, buffers, strict=True):
                avg_buffer[...] = buffer
        self.n_averaged += 1


def _by_dtype(pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """The (averaged, current) pairs grouped by the averaged array's dtype, in order of first appearance."""
    groups: dict[np.dtype, list[tuple[np.ndarray, np.ndarray]]] = {}
    for avg, cur in pairs:
        groups.setdefault(avg.dtype, []).append((avg, cur))
    return list(groups.values())


def _apply(avg_fn: AvgFn, pairs: list[tuple[np.ndarray, np.ndarray]], n_averaged: int) -> None:
    """``avg.copy_(avg_fn(avg, cur, n))``: the result is cast to ``avg``'s dtype (floats truncate to ints)."""
    for avg, cur in pairs:
        avg[...] = avg_fn(avg, cur, n_averaged)


class SWALR(LRScheduler):
    """Anneal each group's lr to ``swa_lr`` (a float, or one per group) over ``anneal_epochs`` epochs."""

    def __init__(
        self,
        optimizer: Optimizer,
        swa_lr: float | Sequence[float],
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        swa_lrs = per_group("swa_lr", optimizer, swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups, strict=True):
            group["swa_lr"] = lr
        SWALR_TABLE.validate({"anneal_strategy": anneal_strategy, "anneal_epochs": anneal_epochs})
        self._set_anneal_func(anneal_strategy)
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        """Invert ``lr = alpha * swa_lr + (1 - alpha) * lr_0`` for ``lr_0`` (``swa_lr`` when alpha is 1)."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, anneal_strategy: str) -> None:
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        groups = self.optimizer.param_groups
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, prev_lrs, strict=True)]

    def state_dict(self) -> dict[str, Any]:
        """As the base's, without ``anneal_func`` (a function; it is rebuilt from ``_anneal_strategy``)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)


class Linear:
    """``y = x W^T + b`` over the last axis (``nn.Linear``); ``bias=None`` for none."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None = None) -> None:
        self.weight, self.bias = weight, bias
        self.training = True

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias


class ReLU:
    """``max(x, 0)`` (``nn.ReLU``)."""

    training = True

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)


class BatchNorm:
    """torch's ``BatchNorm1d/2d/3d`` with ``track_running_stats=True``: channels on axis 1, statistics over
    every other axis. ``momentum=None`` is the cumulative average (factor ``1 / num_batches_tracked``)."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        weight: np.ndarray | None = None,
        bias: np.ndarray | None = None,
        dtype: Any = np.float64,
    ) -> None:
        self.eps, self.momentum = eps, momentum
        self.weight = np.ones(num_features, dtype) if weight is None else np.asarray(weight, dtype)
        self.bias = np.zeros(num_features, dtype) if bias is None else np.asarray(bias, dtype)
        self.running_mean = np.zeros(num_features, dtype)
        self.running_var = np.ones(num_features, dtype)
        self.num_batches_tracked = np.array(0, dtype=np.int64)
        self.training = True

    def reset_running_stats(self) -> None:
        self.running_mean[...] = 0
        self.running_var[...] = 1
        self.num_batches_tracked[...] = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        axes = (0, *range(2, x.ndim))
        shape = (1, -1, *([1] * (x.ndim - 2)))
        if self.training:
            self.num_batches_tracked += 1
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
            n = x.size // x.shape[1]
            mean = x.mean(axis=axes)
            var = ((x - mean.reshape(shape)) ** 2).sum(axis=axes)
            self.running_mean[...] = factor * mean + (1 - factor) * self.running_mean
            self.running_var[...] = factor * (var / (n - 1)) + (1 - factor) * self.running_var
            var = var / n
        else:
            mean, var = self.running_mean, self.running_var
        normalized = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + self.eps)
        return normalized * self.weight.reshape(shape) + self.bias.reshape(shape)


class Sequential:
    """The layers applied in order (``nn.Sequential``), with torch's ``train(mode)`` and ``modules()``."""

    def __init__(self, *layers: Any) -> None:
        self.layers = list(layers)
        self.training = True

    def modules(self) -> list[Any]:
        """The model itself, then its layers (``nn.Module.modules``)."""
        return [self, *self.layers]

    def train(self, mode: bool = True) -> Sequential:
        for module in self.modules():
            module.training = mode
        return self

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer(x)
        return x


def update_bn(loader: Iterable[Any], model: Sequential) -> None:
    """Recompute every BatchNorm layer's running statistics from one pass over ``loader`` (see the module
    docstring): reset, cumulative average (``momentum = None``) in training mode, momenta and the model's
    mode restored."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)
