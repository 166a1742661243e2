"""Helpers for the checks that use the torch.optim API itself: the candidate's classes on real tensors,
``nn.Module`` parameters, ``zero_grad``/``backward``/``step`` loops, schedulers, ``torch.save``.

The reference side of every such check is a ``refimpl`` optimizer given the same gradients (copied out of
torch), so the expected values are computed, never written down.
"""

from __future__ import annotations

import builtins
import io
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import refimpl.lr_scheduler
import refimpl.optim
from conformance.adapters.torch_adapter import VARIANT_FLAGS, compile_steps, to_numpy
from conformance.api.context import ApiContext
from conformance.plugin import FILTERED_WARNINGS

try:
    import torch
except ImportError:  # only torch-API candidates reach this module's functions
    torch = None


def tensor(ctx: ApiContext, array: Any, *, requires_grad: bool = False) -> Any:
    """A NumPy array as a tensor of the check's dtype (complex kept complex) on its device."""
    array = np.asarray(array)
    dtype = getattr(torch, ctx.dtype)
    if np.iscomplexobj(array):
        dtype = torch.complex128 if ctx.dtype == "float64" else torch.complex64
    return torch.tensor(array, dtype=dtype, device=ctx.device, requires_grad=requires_grad)


def grad_tensor(ctx: ApiContext, grad: Any, like: Any) -> Any:
    """A reference gradient (array or ``SparseGrad``) as ``like``'s ``.grad``."""
    if isinstance(grad, refimpl.optim.SparseGrad):
        indices = torch.tensor(np.asarray(grad.indices, dtype=np.int64)[None, :], device=like.device)
        values = torch.tensor(grad.values, dtype=like.dtype, device=like.device)
        return torch.sparse_coo_tensor(indices, values, tuple(grad.shape))
    return torch.tensor(np.asarray(grad), dtype=like.dtype, device=like.device)


def construct(ctx: ApiContext, groups: Any, hyper: dict[str, Any], variant: str = "") -> Any:
    """``Class(groups, **hyper)`` of the candidate, with the variant's switch (none: the class default), and
    for ``compile`` its step compiled."""
    optimizer = ctx.cls(groups, **hyper, **VARIANT_FLAGS.get(variant, {}))
    return compile_steps(optimizer) if variant == "compile" else optimizer


def reference(ctx: ApiContext, groups: Any, hyper: dict[str, Any]) -> Any:
    """The reference optimizer over NumPy copies of the given torch groups (same grouping, same keys)."""
    ref_groups = [
        {
            **{k: v for k, v in g.items() if k != "params"},
            "params": [to_numpy(p).astype(np.float64) for p in g["params"]],
        }
        for g in groups
    ]
    optimizer = getattr(refimpl.optim, ctx.name)(ref_groups, **hyper)
    ctx.observe("opt", params_of(optimizer))
    return optimizer


def params_of(optimizer: Any) -> list[Any]:
    """Every param of a torch or reference optimizer, in group order, as NumPy."""
    return [to_numpy(p) for g in optimizer.param_groups for p in g["params"]]


def copy_params(optimizer: Any, values: Sequence[Any]) -> None:
    """Overwrite the params of a torch or reference optimizer, in group order, with ``values`` (NumPy)."""
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for p, v in zip(params, values, strict=True):
        if isinstance(p, np.ndarray):
            p[...] = v
        else:
            with torch.no_grad():
                p.copy_(torch.as_tensor(np.asarray(v), dtype=p.dtype, device=p.device))


def grads_of(optimizer: Any) -> list[Any]:
    """The ``.grad`` of every param of a torch optimizer as the reference takes it: an array, a ``SparseGrad``
    for a sparse one (its coalesced rows, so an emptied sparse gradient stays empty), ``None`` for none."""
    out: list[Any] = []
    for p in (p for g in optimizer.param_groups for p in g["params"]):
        grad = p.grad
        if grad is not None and grad.is_sparse:
            grad = grad.coalesce()
            indices = to_numpy(grad.indices())[0]
            out.append(refimpl.optim.SparseGrad(indices, to_numpy(grad.values()), tuple(grad.shape)))
        else:
            out.append(None if grad is None else to_numpy(grad))
    return out


def set_grads(ctx: ApiContext, optimizer: Any, grads: Sequence[Any]) -> None:
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for p, g in zip(params, grads, strict=True):
        p.grad = None if g is None else grad_tensor(ctx, g, p)


def step_torch(ctx: ApiContext, optimizer: Any, t: int) -> Any:
    """One step of a torch optimizer with the setup's inputs for step ``t``: its seeded gradients, or a
    closure that evaluates its objective and sets the gradients (LBFGS)."""
    params = [p for g in optimizer.param_groups for p in g["params"]]
    if not ctx.setup.closure:
        set_grads(ctx, optimizer, ctx.setup.gradients(t, [to_numpy(p) for p in params]))
        return optimizer.step()
    objective = ctx.setup.closure_for()

    def closure() -> Any:
        loss, grads = objective([to_numpy(p) for p in params])
        set_grads(ctx, optimizer, grads)
        return torch.tensor(loss, dtype=torch.float64)

    return optimizer.step(closure)


def step_reference(ctx: ApiContext, ref: Any, t: int) -> Any:
    """Step ``t`` of a reference optimizer with the inputs ``step_torch`` gives the candidate."""
    if ctx.setup.closure:
        objective, live = ctx.setup.closure_for(), [p for g in ref.param_groups for p in g["params"]]
        return ref.step(lambda: objective(live))
    return ref.step(ctx.setup.gradients(t, params_of(ref)))


def step_both(ctx: ApiContext, candidate: Any, ref: Any, t: int) -> None:
    """Step ``t`` of a torch optimizer and its reference twin, with the same inputs."""
    step_torch(ctx, candidate, t)
    step_reference(ctx, ref, t)


def expect_step(
    ctx: ApiContext, candidate: Any, ref: Any, grads: Sequence[Any] | None, headline: str, t: int
) -> None:
    """Step a torch optimizer (whose ``.grad``s are set) and the reference with ``grads`` (the same values),
    or both with step ``t``'s inputs (``grads`` None), and compare their params after step ``t + 1``."""
    if grads is None:
        step_both(ctx, candidate, ref, t)
    else:
        candidate.step()
        ref.step(grads)
    ctx.expect_params(params_of(candidate), params_of(ref), headline, f"after step {t + 1}")


def train_step(ctx: ApiContext, optimizer: Any, ref: Any, net: Any, t: int, headline: str) -> None:
    """The tutorial's loop body -- ``zero_grad()``, ``loss.backward()``, ``step()`` -- on the candidate, and
    the reference stepped with the gradients backward left (``None`` where it left none)."""
    ctx.script.add("opt.zero_grad(); (net(x) ** 2).mean().backward(); opt.step()  # x: seeded inputs")
    optimizer.zero_grad()
    (net(inputs(ctx, t)) ** 2).mean().backward()
    expect_step(ctx, optimizer, ref, grads_of(optimizer), headline, t)


def strided(ctx: ApiContext, array: Any, *, requires_grad: bool = False) -> Any:
    """``array`` as a non-contiguous tensor: a transposed view for 2-D and more, every other element of a
    buffer twice as long for 1-D (0-d and empty arrays stay as they are)."""
    array = np.asarray(array)
    if array.ndim >= 2 and array.size:
        view = tensor(ctx, np.ascontiguousarray(np.swapaxes(array, -1, -2))).transpose(-1, -2)
    elif array.ndim == 1 and array.size:
        doubled = np.zeros(2 * array.shape[0], dtype=array.dtype)
        doubled[::2] = array
        view = tensor(ctx, doubled)[::2]
    else:
        view = tensor(ctx, array)
    return view.detach().requires_grad_(requires_grad)


def model(ctx: ApiContext) -> Any:
    """A small seeded ``nn.Sequential`` (Linear, Tanh, Linear) in the check's dtype; without biases for an
    optimizer of matrices only (Muon)."""
    bias = ctx.name != "Muon"
    rng = np.random.default_rng(5)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 6, bias=bias), torch.nn.Tanh(), torch.nn.Linear(6, 3, bias=bias)
    ).to(dtype=getattr(torch, ctx.dtype))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(tensor(ctx, rng.standard_normal(tuple(p.shape)) * 0.5))
    return net.to(device=ctx.device)


def inputs(ctx: ApiContext, t: int) -> Any:
    """Seeded inputs of the model for iteration ``t``."""
    return tensor(ctx, np.random.default_rng([9, t]).standard_normal((8, 4)))


def recorded_warnings(action: Callable[[], Any]) -> list[str]:
    """The messages of the warnings ``action`` raises (every one, even if seen before), but those the suite
    itself makes torch give (``conformance.plugin.FILTERED_WARNINGS``: torch's once-per-process sparse
    invariants warning, which otherwise lands in whichever check first builds a sparse tensor)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for line in FILTERED_WARNINGS:
            action_name, message, category = line.split(":")
            warnings.filterwarnings(action_name, message=message, category=getattr(builtins, category))
        action()
    return [str(w.message) for w in caught]


def reference_schedulers(names: Sequence[str]) -> dict[str, type]:
    return {n: getattr(refimpl.lr_scheduler, n) for n in names}


def scheduler_classes(ctx: ApiContext) -> Any:
    """The candidate's schedulers where it has them, torch's for the rest: a drop-in optimizer is used with
    torch's schedulers."""
    torch_own = {n: getattr(torch.optim.lr_scheduler, n) for n in refimpl.lr_scheduler.MODULES}
    return {**torch_own, **getattr(ctx.adapter, "scheduler_classes", dict)()}


def checkpoint(value: Any) -> bytes:
    """``torch.save`` to bytes, at once: a state dict holds the optimizer's live tensors, which later steps
    change in place."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def restore(blob: bytes) -> Any:
    """``torch.load(weights_only=True)``: a fresh copy each time (torch's ``load_state_dict`` keeps the
    loaded tensors, so one loaded dict must not feed two optimizers)."""
    return torch.load(io.BytesIO(blob), weights_only=True)
