"""Compact torch implementations of some torch.optim optimizers, with mistakes that can be switched on.

Each class subclasses torch's own (so construction, validation, ``param_groups``, ``state_dict`` and
``load_state_dict`` are torch's) and re-implements ``step`` as a plain for-loop over params in the order of
torch's documentation. ``mistakes`` names the errors a mutant commits; each ``if`` on a mistake shows, next
to the right line, the wrong one a port might write. ``CompactOptimizer`` holds the mistakes a port makes
around the update rule (construction, ``zero_grad``, state dicts), shared by every compact class.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import torch


def real_view(x: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(x) if torch.is_complex(x) else x


class CompactOptimizer(torch.optim.Optimizer):
    """The API around ``step``, with its switchable mistakes; each subclass's constructor is its torch class's
    (same signature, so the harness still reads the variants off it), with ``accepts_negative_lr``."""

    mistakes: ClassVar[frozenset[str]] = frozenset()
    # torch's error for a sparse gradient where the class refuses them; None: the class takes them.
    sparse_error: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        torch_init = next(c for c in cls.__mro__ if c.__module__.startswith("torch.optim")).__init__

        if "ignores_step_hooks" in cls.mistakes and "step" in vars(cls.__mro__[1]):
            # A port that writes its own step() and drops torch's hook wrapper around it.
            step = vars(cls.__mro__[1])["step"]
            cls.step = getattr(step, "__wrapped__", step) if getattr(step, "hooked", False) else step

        @functools.wraps(torch_init)
        def __init__(self: CompactOptimizer, params: Any, *args: Any, **kw: Any) -> None:
            lr = kw.get("lr")
            if "accepts_lr_of_many_elements" in self.mistakes and torch.is_tensor(lr) and lr.numel() > 1:
                kw = {**kw, "lr": lr.flatten()[0]}  # the check a port forgets: the first element is used
            negative = "accepts_negative_lr" in self.mistakes and isinstance(lr, (int, float)) and lr < 0
            torch_init(self, params, *args, **({**kw, "lr": -lr} if negative else kw))
            # torch's fused constructors mark the instance amp-aware (GradScaler then hands the step
            # grad_scale and found_inf); the compact step is a for-loop that uses neither, so GradScaler must.
            self._step_supports_amp_scaling = False
            if negative:  # the check a port forgets: the negative lr goes in unchecked
                self.defaults["lr"] = lr
                for group in self.param_groups:
                    group["lr"] = lr if group["lr"] == -lr else group["lr"]

        cls.__init__ = __init__  # type: ignore[method-assign]

    def dense_grad(self, p: torch.Tensor) -> torch.Tensor:
        """``p.grad`` as a dense tensor, or torch's error for a class that refuses sparse gradients."""
        if not p.grad.is_sparse:
            return p.grad
        if self.sparse_error:
            raise RuntimeError(self.sparse_error)
        return p.grad.to_dense()

    def _patch_step_function(self) -> None:
        if "ignores_step_hooks" not in self.mistakes:
            super()._patch_step_function()

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "no_setstate" in self.mistakes:  # a port without its class's __setstate__: old checkpoints break
            torch.optim.Optimizer.__setstate__(self, state)
        else:
            super().__setstate__(state)

    def zero_grad(self, set_to_none: bool = True) -> None:
        if "zero_grad_replaces_grad" in self.mistakes and not set_to_none:
            for group in self.param_groups:  # new zero tensors, where torch zeroes the existing .grad
                for p in group["params"]:
                    p.grad = None if p.grad is None else torch.zeros_like(p)
            return
        super().zero_grad(set_to_none=set_to_none and "zero_grad_zeroes" not in self.mistakes)

    def state_dict(self) -> dict[str, Any]:
        state_dict = super().state_dict()
        if "state_dict_without_step" in self.mistakes:
            state_dict["state"] = {
                i: {k: v for k, v in s.items() if k != "step"} for i, s in state_dict["state"].items()
            }
        return state_dict

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        if "load_state_dict_drops_state" in self.mistakes:
            self.state.clear()


class CompactSGD(CompactOptimizer, torch.optim.SGD):
    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        m = self.mistakes
        if not hasattr(self, "_first_lrs"):
            self._first_lrs = [g["lr"] for g in self.param_groups]
        for group_index, group in enumerate(self.param_groups):
            lr = self._first_lrs[group_index] if "lr_read_once" in m else group["lr"]
            lr = self.defaults["lr"] if "group_lr_ignored" in m else lr
            mu, tau, wd = group["momentum"], group["dampening"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    if "none_grad_as_zero" not in m:
                        continue
                    p.grad = torch.zeros_like(p)
                g = self.dense_grad(p)
                if "weight_decay_before_maximize" in m:
                    g = g + wd * p if wd != 0 else g
                    g = -g if group["maximize"] else g
                elif "weight_decay_into_grad" in m and wd != 0:  # p.grad changed in place
                    g = (-g if group["maximize"] else g).add_(p, alpha=wd)
                else:
                    g = -g if group["maximize"] else g
                    g = g + wd * p if wd != 0 else g
                if mu != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = (1 - tau) * g if "dampening_on_first_step" in m else g.clone()
                    else:
                        buf = mu * buf + (1 - tau) * g
                    state["momentum_buffer"] = buf
                    g = buf if "nesterov_uses_buffer" in m or not group["nesterov"] else g + mu * buf
                p.add_(g, alpha=-lr)
        return None


class CompactAdam(CompactOptimizer, torch.optim.Adam):
    """Adam and AdamW (``decoupled_weight_decay``) as torch's for-loop computes them."""

    sparse_error = "Adam does not support sparse gradients, please consider SparseAdam instead"

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        m = self.mistakes
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            amsgrad = group["amsgrad"] and not ("foreach_ignores_amsgrad" in m and group["foreach"])
            for p in group["params"]:
                if p.grad is None and "state_for_none_grad" not in m:
                    continue
                state = self.state[p]
                if not state:
                    # torch keeps step in the default dtype (float64 under torch.set_default_dtype)
                    fixed = torch.float32 if "step_always_float32" in m else None
                    state["step"] = torch.tensor(0.0, dtype=fixed)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(p)
                if p.grad is None:  # state_for_none_grad: state made, but the param is not stepped
                    continue
                g = -self.dense_grad(p) if group["maximize"] else self.dense_grad(p)
                if wd != 0:
                    if group["decoupled_weight_decay"] and "decoupled_as_l2" not in m:
                        p.mul_(1 - lr * wd)
                    else:
                        g = g + wd * p
                state["step"] += 1
                t = state["step"].item() + (1 if "bias_correction_off_by_one" in m else 0)
                theta, g = real_view(p), real_view(g)
                m_t, v_t = real_view(state["exp_avg"]), real_view(state["exp_avg_sq"])
                m_t.lerp_(g, 1 - beta1)
                v_t.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                bias_correction1 = 1 - beta1**t
                bias_correction2_sqrt = (1 - beta2**t) ** 0.5
                if amsgrad:
                    v_max = real_view(state["max_exp_avg_sq"])
                    if "amsgrad_on_corrected_moment" in m:
                        torch.maximum(v_max, v_t / (1 - beta2**t), out=v_max)
                        v_used = v_max * (1 - beta2**t)
                    else:
                        torch.maximum(v_max, v_t, out=v_max)
                        v_used = v_max
                else:
                    v_used = v_t
                if "eps_inside_sqrt" in m:
                    denom = (v_used / bias_correction2_sqrt**2 + eps).sqrt()
                else:
                    denom = v_used.sqrt() / bias_correction2_sqrt + eps
                theta.addcdiv_(m_t, denom, value=-lr / bias_correction1)
        return None


class CompactAdamW(CompactAdam, torch.optim.AdamW):
    """AdamW is Adam with ``decoupled_weight_decay=True`` (torch 2.13); construction is AdamW's."""


def mutant(base: type, *mistakes: str) -> type:
    """``base`` with ``mistakes`` switched on, under torch's class name (what ``torch:MODULE`` looks up)."""
    name = base.__name__.removeprefix("Compact")
    return type(name, (base,), {"mistakes": frozenset(mistakes), "__module__": base.__module__})
