r"""Adam, with the AMSGrad variant and (as ``decoupled_weight_decay=True``) AdamW's decoupled weight decay.

Update rule, in the notation of torch's documentation (lr :math:`\gamma`, betas :math:`\beta_1, \beta_2`,
weight decay :math:`\lambda`, eps :math:`\epsilon`)::

    g_t = -grad if maximize else grad
    if lambda != 0:
        theta_{t-1} = theta_{t-1} * (1 - gamma * lambda)   if decoupled_weight_decay   (AdamW)
        g_t = g_t + lambda * theta_{t-1}                    otherwise                   (L2 penalty)
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t**2
    if amsgrad:
        v_t^max = max(v_{t-1}^max, v_t)
        v = v_t^max
    else:
        v = v_t
    theta_t = theta_{t-1} - (gamma / (1 - beta1**t)) * m_t / (sqrt(v) / sqrt(1 - beta2**t) + epsilon)

Papers: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (2014, arXiv:1412.6980); Reddi et al.,
"On the Convergence of Adam and Beyond" (ICLR 2018) for AMSGrad; Loshchilov & Hutter, "Decoupled Weight
Decay Regularization" (arXiv:1711.05101) for the decoupled decay.

Where the reference meets torch's code rather than its docs or the papers:

- The bias corrections are folded as torch's for-loop folds them: ``step_size = lr / (1 - beta1**t)`` and
  ``denom = sqrt(v) / sqrt(1 - beta2**t) + eps``. The docs write ``m_hat / (sqrt(v_hat) + eps)``, which is
  the same thing; the paper's Algorithm 1 adds eps to ``sqrt(v_hat)`` too. (The paper's "efficient"
  variant in its section 2, which adds eps to the *uncorrected* ``sqrt(v)``, is *not* what torch does.)
- AMSGrad keeps the maximum of the *uncorrected* second moment ``v_t`` (state ``max_exp_avg_sq``) and
  bias-corrects the maximum, as the docs' box says. Reddi et al.'s algorithm has no bias correction at all.
- ``m`` is updated with ``lerp`` in torch (``m + (1 - beta1) * (g - m)``, or ``g - (g - m) * beta1`` when
  ``beta1 < 0.5``), the same value as the docs' ``beta1 * m + (1 - beta1) * g`` up to rounding; the
  reference writes torch's two forms (``refimpl.optim.optimizer.lerp``). torch's CPU kernels
  use fused multiply-adds in ``lerp``/``addcmul``, so float64 results differ from the reference in the
  last bit or two of some elements; no formula can reproduce that exactly from NumPy.
- Complex parameters are optimized as (real, imag) pairs (``real_view``): ``v`` holds ``Re(g)**2`` and
  ``Im(g)**2`` separately, not ``|g|**2``. Weight decay is applied on the complex values first, as in torch.
- ``step`` is a float (torch: a float32 scalar tensor); it is counted per parameter, so a parameter that
  missed steps (``None`` gradient) has its own, smaller ``t``.
- Sparse gradients are rejected at ``step`` with torch's ``RuntimeError``, group by group: earlier groups
  have already been updated when a later group's sparse gradient raises, as in torch.
- ``foreach``, ``fused``, ``capturable`` and ``differentiable`` select torch implementations and do not
  change the math here; they are stored in the param groups with torch's defaults. torch's errors for
  them that do not depend on devices or autograd are reproduced: ``fused`` with ``differentiable`` or with
  ``foreach`` (raised after the param groups are built, as in torch), and at the first step ``fused`` with
  a non-floating (e.g. complex) parameter. Not reproduced: ``capturable=True`` failing on CPU tensors
  (the reference has no devices) and ``differentiable=True`` failing on leaf tensors (no autograd).
- ``lr`` and ``betas`` as tensors (torch's capturable/fused feature) are not supported in the update;
  torch's constructor checks of them are reproduced (a tensor is a NumPy array here): a tensor lr or beta
  with ``foreach=True`` and ``capturable=False`` is refused, a tensor lr must have one element, and the
  betas must be "both floats or both Tensors" (an ``int`` beta is rejected).
- ``load_state_dict`` fills keys missing from old state dicts with the defaults torch's ``__setstate__``
  uses (torch calls ``__setstate__`` at the end of ``load_state_dict``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import ONE_ELEMENT_LR, Bound, Rule, Table, is_tensor
from refimpl.optim.optimizer import Optimizer, SparseGrad, lerp, real_view

# The checks that Adam, AdamW, Adamax, NAdam and RAdam share, in torch's order. torch writes them as
# ``if not 0.0 <= lr``: NaN fails the comparison and is rejected.
ADAM_BOUNDS: tuple[Bound, ...] = (
    Bound("lr", low=0.0, message="Invalid learning rate: {value}"),
    Bound("eps", low=0.0, message="Invalid epsilon value: {value}"),
    Bound("betas", 0.0, 1.0, high_open=True, index=0, message="Invalid beta parameter at index 0: {value}"),
    Bound("betas", 0.0, 1.0, high_open=True, index=1, message="Invalid beta parameter at index 1: {value}"),
    Bound("weight_decay", low=0.0, message="Invalid weight_decay value: {value}"),
)

def _no_tensor_with_foreach(name: str, index: int | None = None) -> Rule:
    """torch's refusal of a tensor hyperparameter with ``foreach=True`` and ``capturable=False``."""
    label = name if index is None else f"{name}[{index}]"
    return Rule(
        (name, "foreach", "capturable"),
        lambda h: not (
            is_tensor(h[name] if index is None else h[name][index]) and h["foreach"] and not h["capturable"]
        ),
        f"{label} as a Tensor is not supported for capturable=False and foreach=True",
        tensors_only=True,
    )


TABLE = Table(
    (
        _no_tensor_with_foreach("lr"),
        ONE_ELEMENT_LR,
        *ADAM_BOUNDS,
        Rule(
            ("betas",),
            lambda h: all(isinstance(b, float) for b in h["betas"]) or all(is_tensor(b) for b in h["betas"]),
            "betas must be either both floats or both Tensors",
        ),
        _no_tensor_with_foreach("betas", 0),
        _no_tensor_with_foreach("betas", 1),
    )
)

# torch's list in the message of its ``fused=True`` dtype check (``_get_fused_kernels_supported_devices``).
FUSED_DEVICES = ["mps", "cuda", "xpu", "hpu", "cpu", "mtia", "privateuseone"]


def check_fused_flags(defaults: dict[str, Any]) -> None:
    """torch's checks of the implementation flags, made after the param groups are built."""
    if defaults.get("fused"):
        if defaults.get("differentiable"):
            raise RuntimeError("`fused` does not support `differentiable`")
        if defaults.get("foreach"):
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def lazy_states(
    optimizer: Optimizer,
    group: dict[str, Any],
    indices: list[int],
    params: list[np.ndarray],
    grads: list[Any],
    sparse_message: str,
    new_state: Callable[[np.ndarray], dict[str, Any]],
) -> list[dict[str, Any]]:
    """torch's ``_init_group``: reject sparse gradients, create each parameter's state on its first step.

    Returns the states in parameter order. Runs over the whole group before any parameter is updated, so a
    sparse gradient anywhere in a group leaves every parameter of that group unmoved (torch's behaviour).
    """
    states = []
    for index, theta, grad in zip(indices, params, grads):
        if isinstance(grad, SparseGrad):
            raise RuntimeError(sparse_message)
        state = optimizer.state.setdefault(index, {})
        if not state:
            if group.get("fused") and theta.dtype.kind != "f":
                raise RuntimeError(
                    "`fused=True` requires all the params to be floating point Tensors of "
                    f"supported devices: {FUSED_DEVICES} but torch.{theta.dtype} and cpu"
                )
            state.update(new_state(theta))
        states.append(state)
    return states


def decayed_gradient(
    theta: np.ndarray, grad: np.ndarray, group: dict[str, Any], decoupled: bool = False
) -> np.ndarray:
    """``g_t``: the gradient, negated for ``maximize``, with weight decay.

    Decoupled decay (AdamW) scales ``theta`` in place by ``1 - lr * weight_decay`` and leaves ``g_t`` alone;
    coupled decay (an L2 penalty) adds ``weight_decay * theta`` to ``g_t``.
    """
    g = -grad if group["maximize"] else grad
    weight_decay = group["weight_decay"]
    if weight_decay != 0:
        if decoupled:
            theta *= 1 - group["lr"] * weight_decay
        else:
            g = g + weight_decay * theta
    return g


def update_moments(m: np.ndarray, v: np.ndarray, g: np.ndarray, beta1: float, beta2: float) -> None:
    """``m_t`` and ``v_t`` in place, in torch's order: ``m.lerp_(g, 1 - beta1)``, then
    ``v.mul_(beta2).addcmul_(g, g, value=1 - beta2)``."""
    m[...] = lerp(m, g, 1 - beta1)
    v *= beta2
    v += (1 - beta2) * g * g


def zeros_state(*keys: str) -> Callable[[np.ndarray], dict[str, Any]]:
    """A new state: ``step = 0.0`` and a zero array shaped and typed like the parameter per ``keys``."""
    return lambda theta: {"step": 0.0, **{key: np.zeros_like(theta) for key in keys}}


class Adam(Optimizer):
    table = TABLE
    legacy_defaults: ClassVar[dict[str, Any]] = {
        "amsgrad": False,
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
        "fused": None,
    }

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        TABLE.validate(defaults)
        defaults["betas"] = tuple(betas)
        super().__init__(params, defaults)
        check_fused_flags(defaults)

    def _step_group(
        self, group: dict[str, Any], indices: list[int], params: list[np.ndarray], grads: list[Any]
    ) -> None:
        amsgrad = group["amsgrad"]
        keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else ("exp_avg", "exp_avg_sq")
        states = lazy_states(
            self,
            group,
            indices,
            params,
            grads,
            "Adam does not support sparse gradients, please consider SparseAdam instead",
            zeros_state(*keys),
        )
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        for theta, grad, state in zip(params, grads, states):
            state["step"] += 1
            t = state["step"]
            g = real_view(decayed_gradient(theta, grad, group, group["decoupled_weight_decay"]))
            m, v = real_view(state["exp_avg"]), real_view(state["exp_avg_sq"])
            update_moments(m, v, g, beta1, beta2)

            bias_correction1 = 1 - beta1**t
            bias_correction2 = 1 - beta2**t
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2**0.5
            if amsgrad:
                v_max = real_view(state["max_exp_avg_sq"])
                np.maximum(v_max, v, out=v_max)
                v = v_max
            denom = np.sqrt(v) / bias_correction2_sqrt + eps
            theta_r = real_view(theta)
            theta_r -= step_size * m / denom
