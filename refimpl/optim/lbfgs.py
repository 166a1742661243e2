r"""L-BFGS: limited-memory BFGS, with a fixed step or a strong Wolfe line search.

All parameters are one flat real vector :math:`\theta` (a complex parameter counts as its (real, imag)
pairs). ``step(closure)`` runs up to ``max_iter`` iterations; ``closure()`` returns :math:`(f, g)` at the
current parameters. In the notation of Nocedal & Wright (step :math:`s`, gradient change :math:`y`,
:math:`\rho = 1/y^\top s`, initial inverse-Hessian scale :math:`\gamma`, torch's ``H_diag``)::

    first iteration ever:  d = -g,  t = min(1, 1 / ||g||_1) * lr,  history empty, gamma = 1
    later iterations:
        y = g - g_prev,  s = t_prev * d_prev
        if y.s > 1e-10:  push (y, s, rho = 1 / y.s), dropping the oldest pair beyond history_size;
                         gamma = y.s / y.y
        d = -H g by the two-loop recursion over the stored pairs (newest first, then oldest first):
            q = -g;  for i newest..oldest:  a_i = rho_i s_i.q;  q = q - a_i y_i
            r = gamma q;  for i oldest..newest:  b_i = rho_i y_i.r;  r = r + (a_i - b_i) s_i
            d = r
        t = lr
    if g.d > -tolerance_change: stop (not a descent direction)
    line_search_fn None:           theta = theta + t d, then re-evaluate (f, g) unless this was the last
                                   allowed iteration
    line_search_fn "strong_wolfe": t from the strong Wolfe search along d (c1 = 1e-4, c2 = 0.9), then
                                   theta = theta + t d; (f, g) are those the search evaluated at t
    stop when: max_iter iterations, max_eval closure evaluations, max|g| <= tolerance_grad,
               max|t d| <= tolerance_change, or |f - f_prev| < tolerance_change

Before the first iteration the closure is evaluated once; if already max|g| <= tolerance_grad the step
returns at once. The line search brackets a step satisfying the strong Wolfe conditions
:math:`f(t) \le f(0) + c_1 t\,g^\top d` and :math:`|g(t)^\top d| \le -c_2\,g^\top d`, extrapolating by
cubic interpolation (clamped to :math:`[t + 0.01 (t - t_{prev}), 10 t]`), then zooms into the bracket by
cubic interpolation, as Nocedal & Wright's Algorithms 3.5 and 3.6 and minFunc do.

Papers: Liu & Nocedal, "On the limited memory BFGS method for large scale optimization" (1989); Nocedal &
Wright, "Numerical Optimization" (2006), Algorithm 7.4 (two-loop recursion), 3.5/3.6 (line search) and
(3.59) (cubic interpolation). torch's code is a port of minFunc and of Lua torch's ``optim.lbfgs``.

Where the reference meets torch's code rather than its docs (or a decision was taken):

- State lives under the first parameter (``state[0]``), with torch's key names: ``func_evals`` and
  ``n_iter`` (totals over all steps), ``d``, ``t``, ``old_dirs``, ``old_stps``, ``ro``, ``H_diag``,
  ``prev_flat_grad``, ``prev_loss`` and ``al``. Beware torch's names: ``old_dirs`` holds the gradient
  changes :math:`y` and ``old_stps`` the steps :math:`s`. ``al`` is the two-loop scratch list (length
  ``history_size``, ``None`` where never written), kept in state with whatever the last recursion left.
  ``H_diag`` is the integer 1 until the first curvature pair is accepted.
- The curvature test ``y.s > 1e-10`` is absolute (as in minFunc), not relative to the scale of the
  problem: on a small-scale problem every pair is skipped and L-BFGS is gradient descent with step ``lr``.
- "First iteration" means the first iteration ever (``state["n_iter"] == 1``), not the first of each
  ``step``: only then is ``d = -g`` and ``t`` scaled by ``1/||g||_1``.
- The docs say ``max_eval`` defaults to ``max_iter * 1.25``; the code uses ``max_iter * 5 // 4`` (an int).
- The docs say parameters must be real; the code optimizes a complex parameter as its real view (gradient
  flattened through ``view_as_real``, update applied to the real view). The reference does the same.
- A parameter whose gradient is ``None`` contributes zeros to the flat gradient (torch's
  ``_gather_flat_grad``), and still moves along the direction; a ``SparseGrad`` is densified.
- The line search's own ``tolerance_change`` (the bracket-width stop) is not passed by ``step``: it is
  always the default 1e-9, whatever the optimizer's ``tolerance_change``. Followed.
- The line search is limited to ``max_eval - current_evals`` evaluations (pytorch/pytorch#91581, fixed in
  #135026). If that is negative (``max_eval <= 0`` with ``"strong_wolfe"``) torch's ``_strong_wolfe``
  reads an unassigned local and raises ``UnboundLocalError``; no upstream issue names it, so the
  reference raises the same error.
- ``line_search_fn`` is validated nowhere at construction: a value other than ``None`` or
  ``"strong_wolfe"`` raises ``RuntimeError("only 'strong_wolfe' is supported")`` at the first line
  search, after the closure has run once and ``func_evals``/``n_iter`` have been counted.
- A 1-element array ``lr`` stands for torch's 1-element Tensor ``lr`` (squeezed at each step); an invalid
  one is reported with its value as a float, where torch prints the tensor.
- ``step`` returns the loss of its first closure evaluation (torch returns the closure's own return
  value; here the closure returns ``(loss, grads)`` and ``step`` returns ``float(loss)``).
- Numerics are torch's IEEE semantics: a division by zero gives ``inf``/``nan`` without a warning. Where
  torch computes with Python floats (the losses, and ``t = lr`` after the first iteration) the reference
  does too, so e.g. a zero-width interpolation raises ``ZeroDivisionError`` exactly where torch's does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np

from refimpl.optim._validation import Bound, Table
from refimpl.optim.optimizer import Optimizer, SparseGrad, real_view

TABLE = Table(
    (
        # torch writes ``if not 0.0 <= lr``: NaN is rejected.
        Bound("lr", low=0.0, message="Invalid learning rate: {value}"),
    )
)

Closure = Callable[[], tuple[Any, Sequence[Any]]]
ObjFunc = Callable[[list[np.ndarray], Any, np.ndarray], tuple[float, np.ndarray]]


def _cubic_interpolate(
    x1: Any, f1: Any, g1: Any, x2: Any, f2: Any, g2: Any, bounds: tuple[Any, Any] | None = None
) -> Any:
    """The minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to ``bounds``.

    Nocedal & Wright (3.59). ``bounds`` defaults to the interval between the two points. If the cubic has no
    real minimizer (``d2_square < 0``) the midpoint of the bounds is returned.
    """
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


class _Trial(NamedTuple):
    """A point of the line search: step ``t``, loss ``f``, flat gradient ``g``, slope ``gtd = g.d``."""

    t: Any
    f: Any
    g: np.ndarray
    gtd: Any


def _strong_wolfe(
    obj_func: ObjFunc,
    x: list[np.ndarray],
    t: Any,
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: Any,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[Any, np.ndarray, Any, int]:
    """Search along ``d`` from ``x`` for a step satisfying the strong Wolfe conditions.

    Returns ``(f_new, g_new, t, evaluations)``: the best point found (the bracket's low end), which may be
    ``t = 0`` (no move) if no evaluated point improved on ``f``.
    """
    d_norm = np.max(np.abs(d))
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = np.dot(g_new, d)

    def armijo_fails(t: Any, f_new: Any) -> bool:
        return bool(f_new > (f + c1 * t * gtd))

    def curvature_holds(gtd_new: Any) -> bool:
        return bool(abs(gtd_new) <= -c2 * gtd)

    # Bracketing phase: extrapolate until an interval is known to contain a strong Wolfe point.
    prev = _Trial(0, f, g, gtd)
    bracket: list[_Trial] | None = None
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        new = _Trial(t, f_new, g_new, gtd_new)
        if armijo_fails(t, f_new) or (ls_iter > 1 and f_new >= prev.f):
            bracket = [prev, new]
            break
        if curvature_holds(gtd_new):
            bracket = [new]
            done = True
            break
        if gtd_new >= 0:
            bracket = [prev, new]
            break
        # extrapolate: the cubic's minimizer, at least 1% beyond t and at most 10 t
        min_step = t + 0.01 * (t - prev.t)
        max_step = t * 10
        t = _cubic_interpolate(prev.t, prev.f, prev.gtd, t, f_new, gtd_new, bounds=(min_step, max_step))
        prev = new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = np.dot(g_new, d)
        ls_iter += 1

    if ls_iter == max_ls:  # out of evaluations: the slopes are not needed, the zoom will not run
        bracket = [_Trial(0, f, g, None), _Trial(t, f_new, g_new, None)]
    if bracket is None:  # max_ls < 0: torch's code reads its never-assigned bracket here
        raise UnboundLocalError(
            "cannot access local variable 'bracket_f' where it is not associated with a value"
        )

    # Zoom phase: shrink the bracket around a strong Wolfe point.
    insuf_progress = False
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change:
            break  # the bracket is too small to refine

        a, b = bracket
        t = _cubic_interpolate(a.t, a.f, a.gtd, b.t, b.f, b.gtd)

        # If t lands within 10% of the bracket's width from an end, and did so last time too or is at an
        # end, move it to 10% away from the nearer end: guarantees the bracket shrinks.
        b_max = max(bracket[0].t, bracket[1].t)
        b_min = min(bracket[0].t, bracket[1].t)
        eps = 0.1 * (b_max - b_min)
        if min(b_max - t, t - b_min) < eps:
            if insuf_progress or t >= b_max or t <= b_min:
                t = b_max - eps if abs(t - b_max) < abs(t - b_min) else b_min + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = np.dot(g_new, d)
        ls_iter += 1
        new = _Trial(t, f_new, g_new, gtd_new)

        if armijo_fails(t, f_new) or f_new >= bracket[low].f:
            # not a sufficient decrease, or not below the lowest point: the new point is the high end
            bracket[high] = new
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        else:
            if curvature_holds(gtd_new):
                done = True
            elif gtd_new * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]  # the minimizer lies on the other side: old low becomes high
            bracket[low] = new

    best = bracket[low]
    return best.f, best.g, best.t, ls_func_evals


class LBFGS(Optimizer):
    table = TABLE
    scalar_state: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        params: Any,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if isinstance(lr, np.ndarray):  # torch: a Tensor lr, which must hold one element
            if lr.size != 1:
                raise ValueError("Tensor lr must be 1-element")
            TABLE.validate({"lr": lr.item()})
        else:
            TABLE.validate({"lr": lr})
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")

    # -- the flat view of all parameters ------------------------------------------------------------------

    @property
    def _params(self) -> list[np.ndarray]:
        return self.param_groups[0]["params"]

    def _gather_flat_grad(self, grads: Sequence[Any]) -> np.ndarray:
        """All gradients as one real vector; ``None`` as zeros, complex as (real, imag) pairs."""
        grads = list(grads)
        if len(grads) != len(self._params):
            raise ValueError(f"closure returned {len(grads)} gradients for {len(self._params)} parameters")
        views = []
        for p, grad in zip(self._params, grads):
            if grad is None:
                grad = np.zeros_like(p)
            elif isinstance(grad, SparseGrad):
                grad = grad.to_dense()
            views.append(real_view(np.asarray(grad)).reshape(-1))
        return np.concatenate(views)

    def _add_grad(self, step_size: Any, update: np.ndarray) -> None:
        """theta = theta + step_size * update, ``update`` laid out as the flat gradient."""
        offset = 0
        for p in self._params:
            view = real_view(p)
            view += step_size * update[offset : offset + view.size].reshape(view.shape)
            offset += view.size

    def _evaluate(self, closure: Closure) -> tuple[float, np.ndarray, Any]:
        """``(float loss, flat gradient, the closure's loss as returned)`` at the current parameters."""
        loss, grads = closure()
        return float(loss), self._gather_flat_grad(grads), loss

    def _directional_evaluate(
        self, closure: Closure, x: list[np.ndarray], t: Any, d: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Loss and flat gradient at ``x + t d``; the parameters are left at ``x``."""
        self._add_grad(t, d)
        loss, flat_grad, _ = self._evaluate(closure)
        for p, saved in zip(self._params, x):
            p[...] = saved
        return loss, flat_grad

    # -- the step -------------------------------------------------------------------------------------------

    def step(self, closure: Closure) -> float:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; return the loss of the first closure evaluation."""
        if len(self.param_groups) != 1:
            raise AssertionError(f"Expected exactly one param_group, but got {len(self.param_groups)}")
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return self._step(closure)

    def _step(self, closure: Closure) -> float:
        group = self.param_groups[0]
        lr = group["lr"]
        if isinstance(lr, np.ndarray) and lr.ndim != 0:
            lr = lr.squeeze()
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state.setdefault(0, {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        loss, flat_grad, orig_loss = self._evaluate(closure)
        current_evals = 1
        state["func_evals"] += 1
        opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
        if opt_cond:
            return float(orig_loss)

        d = state.get("d")
        t = state.get("t")
        old_dirs = state.get("old_dirs")  # the y's
        old_stps = state.get("old_stps")  # the s's
        ro = state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # -- direction --
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = np.dot(y, s)
                if ys > 1e-10:  # curvature condition: keep only pairs that keep H positive definite
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / np.dot(y, y)

                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                # two-loop recursion: d = -H g
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = np.dot(old_stps[i], q) * ro[i]
                    q += -al[i] * old_dirs[i]
                r = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = np.dot(old_dirs[i], r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]
                d = r

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # -- step length --
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.sum(np.abs(flat_grad))) * lr
            else:
                t = lr

            gtd = np.dot(flat_grad, d)
            if gtd > -tolerance_change:
                break  # not (enough of) a descent direction

            ls_func_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = [p.copy() for p in self._params]

                def obj_func(x: list[np.ndarray], t: Any, d: np.ndarray) -> tuple[float, np.ndarray]:
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_grad(t, d)
                opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:  # the last iteration's point is evaluated by the next step()
                    loss, flat_grad, _ = self._evaluate(closure)
                    opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
                    ls_func_evals = 1

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # -- stopping --
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.max(np.abs(d * t)) <= tolerance_change:
                break  # the step no longer moves the parameters
            if abs(loss - prev_loss) < tolerance_change:
                break  # the loss no longer changes

        state["d"] = d
        state["t"] = t
        state["old_dirs"] = old_dirs
        state["old_stps"] = old_stps
        state["ro"] = ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = prev_loss
        return float(orig_loss)
