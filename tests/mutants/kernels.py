"""torch.optim's own optimizers with a fault injected into one variant's kernels only.

A fused or vectorised kernel goes wrong where a for-loop cannot: in one variant alone, in the remainder loop
after the last full vector, at the boundary between two blocks of work. These mutants run torch's real
kernels (so everything else is exactly torch's) and inject such a fault around them, only in the param
groups that run one of ``variants``; the suite must catch each, with the cases that reach the fault.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch


class KernelFault:
    """Mixin over a torch.optim class: ``step`` is torch's, with ``before``/``after`` around it for the
    groups whose ``foreach``/``fused`` switch names one of ``variants``."""

    variants: ClassVar[tuple[str, ...]] = ("foreach", "fused")

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        groups = [g for g in self.param_groups if self.faulty(g)]
        undo = [self.before(g) for g in groups]
        try:
            return super().step(closure)
        finally:
            for group, saved in zip(groups, undo, strict=True):
                self.after(group, saved)

    def faulty(self, group: dict[str, Any]) -> bool:
        return any(group.get(v) for v in self.variants)

    def before(self, group: dict[str, Any]) -> Any:
        return None

    def after(self, group: dict[str, Any], saved: Any) -> None:
        pass


class DropsWeightDecay(KernelFault):
    """The variant's kernel ignores weight decay (it is not passed down to it)."""

    def before(self, group: dict[str, Any]) -> Any:
        saved, group["weight_decay"] = group["weight_decay"], 0.0
        return saved

    def after(self, group: dict[str, Any], saved: Any) -> None:
        group["weight_decay"] = saved


class RemainderFromWrongOffset(KernelFault):
    """The scalar loop after the last full vector of ``WIDTH`` elements reads the gradient one vector too
    early (``g[i - WIDTH]`` for ``g[i]``): a param of fewer than ``WIDTH`` elements, or a multiple of it,
    is right."""

    WIDTH = 32

    def before(self, group: dict[str, Any]) -> Any:
        saved = []
        for p in group["params"]:
            n = p.numel()
            if p.grad is None or n <= self.WIDTH or n % self.WIDTH == 0:
                continue
            saved.append((p, p.grad))
            flat = p.grad.reshape(-1).clone()
            tail = n - n % self.WIDTH
            flat[tail:] = flat[tail - self.WIDTH : n - self.WIDTH].clone()
            p.grad = flat.reshape(p.shape)
        return saved

    def after(self, group: dict[str, Any], saved: Any) -> None:
        for p, grad in saved:
            p.grad = grad


class BlockBoundarySkipped(KernelFault):
    """Work is split into blocks of ``BLOCK`` elements and the first element of every block but the first
    is never written back: a param of at most ``BLOCK`` elements is right."""

    BLOCK = 4096

    def before(self, group: dict[str, Any]) -> Any:
        saved = []
        for p in group["params"]:
            if p.grad is not None and p.numel() > self.BLOCK:
                index = torch.arange(self.BLOCK, p.numel(), self.BLOCK)
                saved.append((p, index, p.detach().reshape(-1)[index].clone()))
        return saved

    def after(self, group: dict[str, Any], saved: Any) -> None:
        for p, index, values in saved:
            flat = p.detach().view(-1) if p.is_contiguous() else None
            if flat is None:  # a view that cannot be flattened in place: write through a copy
                whole = p.detach().reshape(-1).clone()
                whole[index] = values
                p.detach().copy_(whole.reshape(p.shape))
            else:
                flat[index] = values


class HalfPrecisionFault(KernelFault):
    """A fault in every variant, for bfloat16 and float16 params alone (float64 and float32 are right)."""

    def faulty(self, group: dict[str, Any]) -> bool:
        return any(p.dtype in (torch.bfloat16, torch.float16) for p in group["params"])

    def after(self, group: dict[str, Any], saved: Any) -> None:
        group.update(saved)


class DoubledLr(HalfPrecisionFault):
    def before(self, group: dict[str, Any]) -> Any:
        saved = {"lr": group["lr"]}
        group["lr"] = 2 * group["lr"]
        return saved


class DefaultEps(HalfPrecisionFault):
    """The group's eps is ignored for the constructor's default, 1e-8."""

    def before(self, group: dict[str, Any]) -> Any:
        saved = {"eps": group["eps"]}
        group["eps"] = 1e-8
        return saved


class NoBiasCorrection(HalfPrecisionFault):
    """Adam's update without bias corrections, lr * m / (sqrt(v) + eps), obtained from torch's own kernels by
    giving them lr * (1 - beta1^t) / sqrt(1 - beta2^t) and eps / sqrt(1 - beta2^t)."""

    def before(self, group: dict[str, Any]) -> Any:
        saved = {"lr": group["lr"], "eps": group["eps"]}
        steps = [float(self.state[p]["step"]) for p in group["params"] if "step" in self.state.get(p, {})]
        t = (steps[0] if steps else 0.0) + 1
        beta1, beta2 = group["betas"]
        root2 = (1 - beta2**t) ** 0.5
        group["lr"] = group["lr"] * (1 - beta1**t) / root2
        group["eps"] = group["eps"] / root2
        return saved


class CountsSkippedSteps(KernelFault):
    """An amp-aware step that forgets to take back its ``step`` increment when GradScaler's ``found_inf`` says
    the iteration is skipped (torch's fused optimizers subtract ``found_inf`` after the kernel): every skipped
    iteration still advances the bias corrections."""

    def after(self, group: dict[str, Any], saved: Any) -> None:
        found_inf = getattr(self, "found_inf", None)
        if found_inf is not None and float(found_inf):
            for p in group["params"]:
                if "step" in self.state.get(p, {}):
                    self.state[p]["step"] += 1


class IgnoresGradScale(KernelFault):
    """An amp-aware step whose kernel is not given GradScaler's ``grad_scale``: it updates with the scaled
    gradients (and skips on ``found_inf`` as it should)."""

    def before(self, group: dict[str, Any]) -> Any:
        saved = getattr(self, "grad_scale", None)
        if saved is not None:
            self.grad_scale = None
        return saved

    def after(self, group: dict[str, Any], saved: Any) -> None:
        if saved is not None:
            self.grad_scale = saved


class DetachesGradient(KernelFault):
    """The step reads each gradient detached from its graph: the same values, but no derivative flows from
    the gradient into the updated param and state (a differentiable step that is not)."""

    def before(self, group: dict[str, Any]) -> Any:
        saved = [(p, p.grad) for p in group["params"] if p.grad is not None]
        for p, grad in saved:
            p.grad = grad.detach()
        return saved

    def after(self, group: dict[str, Any], saved: Any) -> None:
        for p, grad in saved:
            p.grad = grad


class CompiledDropsWeightDecay(DropsWeightDecay):
    """Weight decay ignored in the step torch.compile traces (``torch.compiler.is_compiling()``), as a
    compiled kernel that loses an argument would: the eager step, every variant, is right."""

    def faulty(self, group: dict[str, Any]) -> bool:
        return torch.compiler.is_compiling()


def kernel_mutant(base: type, fault: type, variants: tuple[str, ...]) -> type:
    """torch's ``base`` class with ``fault`` in ``variants``, under torch's class name."""
    return type(base.__name__, (fault, base), {"variants": variants, "__module__": __name__})
