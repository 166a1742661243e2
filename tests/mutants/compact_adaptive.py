"""Compact torch implementations of RMSprop, Rprop, Adagrad and RAdam, with switchable mistakes.

Same pattern as ``compact.py``: subclass torch's class (construction, validation, state dicts are torch's),
re-implement ``step`` as a plain for-loop in torch's order, and put each named mistake next to the line it
replaces. Complex params are optimized through their real views, as torch does.
"""

from __future__ import annotations

from typing import Any

import torch

from mutants.compact import CompactOptimizer, real_view


def _grad(optimizer: CompactOptimizer, p: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
    g = optimizer.dense_grad(p)  # torch's error for a sparse gradient where the class refuses them
    return -g if group["maximize"] else g


class CompactRMSprop(CompactOptimizer, torch.optim.RMSprop):
    sparse_error = "RMSprop does not support sparse gradients"

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        m = self.mistakes
        for group in self.param_groups:
            alpha, eps, mu = group["alpha"], group["eps"], group["momentum"]
            for p in (p for p in group["params"] if p.grad is not None):
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["square_avg"] = torch.zeros_like(p)
                    if mu > 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    if group["centered"]:
                        state["grad_avg"] = torch.zeros_like(p)
                state["step"] += 1
                g = _grad(self, p, group)
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                theta, g, v = real_view(p), real_view(g), real_view(state["square_avg"])
                v.mul_(alpha).addcmul_(g, g, value=1 - alpha)
                if group["centered"]:
                    g_avg = real_view(state["grad_avg"])
                    g_avg.lerp_(g, 1 - alpha)
                    sign = 1 if "centered_adds_mean_square" in m else -1
                    variance = v.addcmul(g_avg, g_avg, value=sign)
                else:
                    variance = v
                avg = (variance + eps).sqrt() if "eps_inside_sqrt" in m else variance.sqrt().add_(eps)
                if mu > 0:
                    buf = real_view(state["momentum_buffer"])
                    buf.mul_(mu).addcdiv_(g, avg)
                    theta.add_(buf, alpha=-group["lr"])
                else:
                    theta.addcdiv_(g, avg, value=-group["lr"])
        return None


class CompactRprop(CompactOptimizer, torch.optim.Rprop):
    sparse_error = "Rprop does not support sparse gradients"

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        m = self.mistakes
        for group in self.param_groups:
            eta_minus, eta_plus = group["etas"]
            step_min, step_max = group["step_sizes"]
            if "ignores_max_step_size" in m:
                step_max = float("inf")
            for p in (p for p in group["params"] if p.grad is not None):
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["prev"] = torch.zeros_like(p)
                    lr = complex(group["lr"], group["lr"]) if p.is_complex() else group["lr"]
                    state["step_size"] = torch.full_like(p, lr)  # both components start at lr
                state["step"] += 1
                theta, g = real_view(p), real_view(_grad(self, p, group))
                prev, step_size = real_view(state["prev"]), real_view(state["step_size"])
                sign = g.mul(prev).sign()
                factor = torch.ones_like(g)
                factor[sign > 0], factor[sign < 0] = eta_plus, eta_minus
                step_size.mul_(factor).clamp_(step_min, step_max)
                g = g.clone()
                if "keeps_gradient_after_sign_flip" not in m:
                    g[sign < 0] = 0  # a flip: no step this time, and no flip test against it next time
                theta.addcmul_(g.sign(), step_size, value=-1)
                prev.copy_(g)
        return None


class CompactAdagrad(CompactOptimizer, torch.optim.Adagrad):
    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        m = self.mistakes
        for group in self.param_groups:
            for p in (p for p in group["params"] if p.grad is not None):
                state = self.state[p]  # torch creates step and sum at construction
                if not state:  # a param added by add_param_group: torch starts it from the *defaults*' value
                    init = self.defaults["initial_accumulator_value"]
                    state["step"] = torch.tensor(0.0)
                    state["sum"] = torch.full_like(p, complex(init, init) if p.is_complex() else init)
                state["step"] += 1
                t = state["step"].item()
                g = _grad(self, p, group)
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                decay_steps = t if "lr_decay_off_by_one" in m else t - 1
                clr = group["lr"] / (1 + decay_steps * group["lr_decay"])
                if "ignores_initial_accumulator" in m and t == 1:
                    state["sum"].zero_()
                theta, g, s = real_view(p), real_view(g), real_view(state["sum"])
                # A row-sparse gradient densified: rows it lacks get g = 0, which leaves sum and param as the
                # sparse update leaves them.
                s.addcmul_(g, g, value=1)
                theta.addcdiv_(g, s.sqrt().add_(group["eps"]), value=-clr)
        return None


class CompactRAdam(CompactOptimizer, torch.optim.RAdam):
    sparse_error = "RAdam does not support sparse gradients"

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        threshold = 4.0 if "rectifies_from_rho_4" in self.mistakes else 5.0
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, wd = group["lr"], group["weight_decay"]
            for p in (p for p in group["params"] if p.grad is not None):
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"].item()
                g = _grad(self, p, group)
                if wd != 0:
                    if group["decoupled_weight_decay"]:
                        p.mul_(1 - lr * wd)
                    else:
                        g = g + wd * p
                theta, g = real_view(p), real_view(g)
                m_t, v_t = real_view(state["exp_avg"]), real_view(state["exp_avg_sq"])
                m_t.lerp_(g, 1 - beta1)
                v_t.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                bias_correction1, bias_correction2 = 1 - beta1**t, 1 - beta2**t
                m_hat = m_t / bias_correction1
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2
                if rho_t > threshold:
                    rect = (
                        (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                    ) ** 0.5
                    adaptive_lr = (bias_correction2**0.5) / v_t.sqrt().add_(group["eps"])
                    theta.add_(m_hat * lr * adaptive_lr * rect, alpha=-1.0)
                else:
                    theta.add_(m_hat * lr, alpha=-1.0)
        return None
