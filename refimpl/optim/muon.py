r"""Muon: momentum, orthogonalised by a Newton–Schulz iteration, for 2-D parameters (hidden-layer matrices).

Update rule, in the notation of torch's documentation (lr :math:`\gamma`, weight decay :math:`\lambda`,
momentum :math:`\mu`, NS coefficients :math:`(a, b, c)`, NS steps :math:`k`, :math:`\varepsilon`), as torch's
*code* computes it (the docs' box differs in the momentum, see below)::

    B_t = mu * B_{t-1} + (1 - mu) * g_t                  (torch: B.lerp_(g, 1 - mu); B_0 = 0)
    Bt_t = (1 - mu) * g_t + mu * B_t   if nesterov       (torch: g.lerp(B, mu))
    Bt_t = B_t                         otherwise
    O_t = NS_k^{(a,b,c)}(Bt_t; eps)
    theta_t = theta_{t-1} - gamma * lambda * theta_{t-1}            (decoupled weight decay, unadjusted lr)
    theta_t = theta_t - AdjustLR(gamma; A, B) * O_t                 (theta of shape (A, B))

    AdjustLR(gamma; A, B) = gamma * sqrt(max(1, A / B))             adjust_lr_fn None or "original" (Keller)
                          = gamma * 0.2 * sqrt(max(A, B))           adjust_lr_fn "match_rms_adamw" (Moonshot)

    NS_k(G; eps): X = G, transposed if it has more rows than columns (so X X^T is the smaller Gram matrix)
                  X = X / max(||X||_F, eps)                         (spectral norm <= 1)
                  k times:  A = X X^T;  B = b A + c A A;  X = a X + B X
                  transposed back.

With the default coefficients (3.4445, -4.7750, 2.0315) the quintic ``p(s) = a s + b s^3 + c s^5`` acts on
each singular value; five steps map every singular value of a well-conditioned input into about
[0.68, 1.12] (not to 1: the coefficients trade convergence for slope at 0), so ``O_t`` is "approximately
orthogonal", ``U S' V^T`` for ``G = U S V^T``.

State: ``momentum_buffer`` only (no step counter).

Sources: Keller Jordan, "Muon: An optimizer for hidden layers in neural networks" (2024),
https://kellerjordan.github.io/posts/muon/; Liu et al., "Muon is Scalable for LLM Training" (2025),
https://arxiv.org/abs/2502.16982 (the "match_rms_adamw" scaling).

Decision on precision (the reference's, documented here because it is the one place the reference does
not reproduce torch's arithmetic): the reference specifies the Newton–Schulz iteration in exact arithmetic,
carried out in the dtype of the arrays (float64 for golden vectors). torch casts the iteration's input to
bfloat16 and runs all of it in bfloat16, returning a bfloat16 ``O_t`` that is then added to the
parameter; that is an implementation choice of precision (speed on accelerators), not part of the
algorithm, and the reference does not reproduce it. Consequences, checked by the tests: with torch's
bfloat16 cast removed (its function otherwise unchanged), torch and the reference agree to float64
rounding (1e-12); against torch as shipped, ``O_t`` differs by bfloat16 rounding, a bound derived from
bfloat16's unit roundoff 2^-8 (see tests/test_muon.py). Everything outside the iteration (momentum, weight
decay, lr adjustment, the state) is float64 in both and agrees to float64 rounding either way.

Where the reference meets torch's code rather than its docs:

- Momentum: torch's docs write ``B_t = mu B_{t-1} + g_t`` and ``g_t + mu B_t`` for Nesterov (SGD-style);
  torch's code uses ``lerp``, an exponential moving average, ``mu B_{t-1} + (1 - mu) g_t`` and
  ``(1 - mu) g_t + mu B_t``. By induction the code's quantities are ``(1 - mu)`` times the docs', and the
  iteration divides by the Frobenius norm, so ``O_t`` is the same unless the norm falls below eps (or
  ``mu = 1``); the stored ``momentum_buffer`` differs by that factor. The reference follows the code (the
  state must match torch's). The same convention question is open upstream in Keller Jordan's reference
  implementation, https://github.com/KellerJordan/Muon/issues/52; no torch issue calls the code wrong.
- The transpose of a tall input is torch's economy (the Gram matrix ``X X^T`` is then the smaller one), not
  part of the algorithm: since ``(X X^T)^j X = X (X^T X)^j``, ``NS(G^T) = NS(G)^T`` in exact arithmetic.
  The reference keeps it so that the float64 rounding follows torch's.
- ``lerp`` is evaluated in torch's two-branch form (``start + w (end - start)`` for ``|w| < 0.5``, else
  ``end - (end - start)(1 - w)``), which rounds differently from the textbook EMA by an ULP.
- Weight decay uses the unadjusted ``lr``; only the orthogonalised step is scaled by ``AdjustLR``. An
  ``adjust_lr_fn`` set on a param group after construction to anything else scales by 1.0 (torch's
  fall-through); the constructor rejects such values.
- Checks and their timing, as torch: at construction the table below, then every parameter must be 2-D
  (``ValueError`` naming ``torch.Size([...])``: the message is torch's, reproduced verbatim). At step:
  complex parameters and sparse gradients (``RuntimeError``), then per parameter, after its state exists,
  a non-2-D gradient (possible through ``add_param_group``, which torch does not check),
  ``ns_steps >= 100`` and a coefficient tuple not of length 3 (``ValueError``), the latter two raised after
  the momentum buffer has been updated. ``momentum``, ``eps``, ``ns_steps`` and ``ns_coefficients`` have no
  constructor checks in torch, and none here. A matrix with zero columns divides by zero in ``AdjustLR``
  (Python's ``ZeroDivisionError``), as in torch.
- Muon takes no ``foreach``/``fused`` flags: torch's param groups have no such keys.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from refimpl.optim._validation import Bound, Rule, Table
from refimpl.optim.optimizer import Optimizer, SparseGrad

TABLE = Table(
    (
        # torch writes these as ``if not 0.0 <= lr``: NaN fails the comparison and is rejected.
        Bound("lr", low=0.0, message="Learning rate should be >= 0 but is: {value}"),
        Bound("momentum", low=0.0, message="momentum should be >= 0 but is: {value}"),
        Bound("weight_decay", low=0.0, message="weight decay should be >= 0 but is: {value}"),
        Rule(
            ("adjust_lr_fn",),
            lambda h: h["adjust_lr_fn"] in (None, "original", "match_rms_adamw"),
            "Adjust learning rate function {adjust_lr_fn} is not supported",
        ),
    )
)

# Keller Jordan's constants, torch's defaults
DEFAULT_NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
DEFAULT_EPS = 1e-7
DEFAULT_NS_STEPS = 5


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """``start + weight * (end - start)`` in torch's two-branch form."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def zeropower_via_newtonschulz(
    G: np.ndarray, ns_coefficients: tuple[float, float, float], ns_steps: int, eps: float
) -> np.ndarray:
    """``NS_k^{(a,b,c)}(G; eps)`` in ``G``'s dtype: ``U S' V^T`` for ``G = U S V^T``, S' near 1."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if G.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    tall = G.shape[0] > G.shape[1]
    X = G.T if tall else G
    X = X / max(float(np.linalg.norm(X)), eps)
    for _ in range(ns_steps):
        A = X @ X.T
        B = b * A + c * (A @ A)
        X = a * X + B @ X
    return X.T if tall else X


def adjust_lr(lr: float, adjust_lr_fn: str | None, shape: tuple[int, ...]) -> float:
    """The lr applied to ``O_t`` of a parameter of shape ``(A, B)``."""
    A, B = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, A / B))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(A, B))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(Optimizer):
    table = TABLE
    scalar_state: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = DEFAULT_NS_COEFFICIENTS,
        eps: float = DEFAULT_EPS,
        ns_steps: int = DEFAULT_NS_STEPS,
        adjust_lr_fn: str | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "nesterov": nesterov,
            "ns_coefficients": ns_coefficients,
            "eps": eps,
            "ns_steps": ns_steps,
            "adjust_lr_fn": adjust_lr_fn,
        }
        TABLE.validate(defaults)
        super().__init__(params, defaults)
        for _, _, p in self.indexed_params():
            if p.ndim != 2:
                raise ValueError(
                    "Muon only supports 2D parameters whereas we found a parameter with size: "
                    f"torch.Size({list(p.shape)})"
                )

    def _step_group(
        self, group: dict[str, Any], indices: list[int], params: list[np.ndarray], grads: list[Any]
    ) -> None:
        # torch's _init_group: every parameter is checked and given its buffer before any update
        for index, theta, grad in zip(indices, params, grads):
            if np.iscomplexobj(theta):
                raise RuntimeError("Muon does not support complex parameters")
            if isinstance(grad, SparseGrad):
                raise RuntimeError("Muon does not support sparse gradients")
            self.state.setdefault(index, {}).setdefault("momentum_buffer", np.zeros_like(grad))
        lr, weight_decay, mu = group["lr"], group["weight_decay"], group["momentum"]
        for index, theta, g in zip(indices, params, grads):
            if g.ndim != 2:
                raise ValueError("Param gradient must be a 2D matrix")
            state = self.state[index]
            B = state["momentum_buffer"] = _lerp(state["momentum_buffer"], g, 1 - mu)
            update = _lerp(g, B, mu) if group["nesterov"] else B
            O = zeropower_via_newtonschulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])  # noqa: E741
            theta *= 1 - lr * weight_decay
            theta += -adjust_lr(lr, group["adjust_lr_fn"], theta.shape) * O
