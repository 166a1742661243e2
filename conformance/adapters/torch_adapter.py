"""The torch adapter: ``torch.optim`` itself, or any module with torch.optim's class names and API.

``--impl=torch`` runs ``torch.optim``; ``--impl=torch:MODULE`` runs the classes of ``MODULE`` (a drop-in
library, or one of the project's mutants) through the same code. Variants are torch's implementation
switches: ``forloop`` (``foreach=False``), ``foreach`` (``foreach=True``) and ``fused`` (``fused=True``), each
offered only where the class has the switch and the device supports it; and, run only when ``--variant``
names them (``OPT_IN``), ``differentiable`` (``differentiable=True``, params in an autograd graph),
``compile`` (the step wrapped by ``torch.compile``, as torch's tutorial does) and ``capturable``
(``capturable=True``: CUDA only, "not supported" on CPU).

Whose class is tested: the module's own classes always win. A scheduler name is looked up in the module
and in its ``lr_scheduler`` attribute, and a class of the module's own beats torch's (a module that merely
does ``from torch.optim import lr_scheduler`` for base classes still has its own classes tested). A class
that *is* torch's own (re-exported) is recognised by identity (``torch_own``): it is tested too, and
carries torch's known deviations.

What a class lacks is derived from its constructor's signature (``conformance.declarations``); a module can
declare more per class in a module-level ``OPTIM_CONFORMANCE`` dict (class name -> ``ClassDeclaration`` or
its fields as a dict), and a subclass of ``TorchAdapter`` can pass ``declarations`` to the constructor; for
the third-party libraries the suite ships reports of, ``conformance.adapters.drop_ins`` declares what their
``**kwargs`` constructors hide.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import shutil
import types
from collections.abc import Iterator
from importlib.metadata import packages_distributions, version
from typing import Any

import numpy as np

from conformance.adapters.base import Capabilities, ClassDeclaration, Closure, NotSupported
from conformance.adapters.drop_ins import declared_for
from conformance.adapters.sched import ApiSchedulerRun
from conformance.adapters.swa import SWA_NAMES, SwaMethods, TorchAveragedRun, torch_update_bn
from conformance.declarations import derived_explicit, derived_lacks, derived_required
from refimpl.lr_scheduler import MODULES as SCHEDULER_MODULES
from refimpl.optim import MODULES as OPTIMIZERS
from refimpl.optim import SparseGrad

try:
    import torch
except ImportError:  # the adapter is only usable with torch installed
    torch = None

DTYPES = {"float64", "float32", "bfloat16", "float16"}
# Every torch scheduler but the abstract base class, which no case builds.
SCHEDULERS = [name for name in SCHEDULER_MODULES if name != "LRScheduler"]
# torch's fused kernels exist for these optimizers on CPU too (torch >= 2.4) and on CUDA.
# The constructor switches that choose a variant's kernels.
SWITCHES = ("foreach", "fused", "differentiable", "capturable")
VARIANT_FLAGS = {
    "forloop": {"foreach": False},
    "foreach": {"foreach": True},
    "fused": {"fused": True},
    "differentiable": {"differentiable": True},
    "capturable": {"capturable": True},
}
# Variants a run includes only when ``--variant`` names them (or ``--variant all``): the default run stays
# within its time budget (README), and these are not kernels of their own but modes of the for-loop's or
# foreach's (differentiable: autograd through the step; compile: the same step traced and compiled by
# inductor, seconds of compilation per optimizer; capturable: CUDA graphs).
OPT_IN = ("differentiable", "compile", "capturable")
# Classes torch.compile does not trace as the tutorial does: LBFGS steps through a closure, SparseAdam's
# sparse gradients are not supported by inductor, Muon's step has no compiled path in torch 2.13
# (its orthogonalization runs a Python loop over the params).
UNCOMPILED = {"LBFGS", "SparseAdam", "Muon"}
# Recompilations of one frame a compiled run allows (dynamo's default, 8, is below the 16 param shapes of a
# kernel-size case; see ``compiled_step``): four times the most shapes a catalogue case has.
RECOMPILE_LIMIT = 64


def torch_dtype(dtype: str, complex_: bool) -> Any:
    if complex_:
        return {"float64": torch.complex128, "float32": torch.complex64, "float16": torch.complex32}.get(
            dtype
        )
    return getattr(torch, dtype)


def tensor_of(array: Any, dtype: Any, device: str) -> Any:
    """A new tensor (a leaf) with ``array``'s values and memory layout: a non-contiguous array (a transposed
    or strided param of a kernel-size case) gives a tensor with the same strides, gaps included."""
    array = np.asarray(array)
    if array.ndim == 0 or array.flags.c_contiguous:
        return torch.tensor(array, dtype=dtype, device=device)
    strides = tuple(s // array.itemsize for s in array.strides)
    out = torch.empty_strided(array.shape, strides, dtype=dtype, device=device)
    with torch.no_grad():
        out.copy_(torch.from_numpy(np.ascontiguousarray(array)))
    return out


class TorchOptimizerRun:
    def __init__(
        self,
        cls: type,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        dtype: str,
        device: str,
        flags: dict[str, Any] | None = None,
        compiled: bool = False,
    ):
        self.device, self.dtype = device, dtype
        # The variant's switches (foreach=True...): passed to the constructor, and set again after every
        # load_state_dict, which replaces them with the saved groups' (None for a state dict saved by the
        # reference or by another variant) and so would silently run torch's for-loop.
        self.flags = dict(flags or {})
        torch_groups = []
        for g in groups:
            params = []
            for p in g["params"]:
                target = torch_dtype(dtype, np.iscomplexobj(p))
                if target is None:
                    raise NotSupported(f"complex params in {dtype}")
                params.append(self._param(tensor_of(p, target, device).requires_grad_()))
            torch_groups.append({**g, "params": params})
        self.optimizer = cls(torch_groups, **{**hyper, **self.flags})
        self._params = [p for g in self.optimizer.param_groups for p in g["params"]]
        self._step = compiled_step(self.optimizer) if compiled else self.optimizer.step

    def _param(self, leaf: Any) -> Any:
        """The tensor the optimizer steps. With ``differentiable=True`` it is a non-leaf in an autograd graph
        (a clone of the leaf), as torch's own tests run it: the step then records its ops, and a leaf that
        requires grad would be refused ("a leaf Variable that requires grad is being used in an in-place
        operation"). It retains its ``.grad`` (which torch then reads without warning of a non-leaf's)."""
        if not self.flags.get("differentiable"):
            return leaf
        param = leaf.clone()
        param.retain_grad()
        return param

    def _tensor(self, array: np.ndarray, like: Any) -> Any:
        return tensor_of(array, like.dtype, like.device)

    def _grad(self, grad: Any, param: Any) -> Any:
        if grad is None:
            return None
        if isinstance(grad, SparseGrad):
            indices = torch.tensor(np.asarray(grad.indices, dtype=np.int64)[None, :], device=param.device)
            return torch.sparse_coo_tensor(indices, self._tensor(grad.values, param), tuple(grad.shape))
        return self._tensor(grad, param)

    def step(self, grads: list[Any]) -> None:
        # As a training loop does: zero_grad() (torch's default leaves every .grad None), then the gradients
        # of the params that have one; a param without one keeps what zero_grad() left it.
        self.optimizer.zero_grad()
        for p, g in zip(self._params, grads, strict=True):
            if g is not None:
                p.grad = self._grad(g, p)
        self._step()

    def step_closure(self, closure: Closure) -> float:
        def torch_closure() -> Any:
            loss, grads = closure(self.params())
            for p, g in zip(self._params, grads, strict=True):
                p.grad = self._grad(g, p)
            return torch.tensor(loss, dtype=self._params[0].dtype)

        return float(self._step(torch_closure))

    def params(self) -> list[np.ndarray]:
        return [to_numpy(p) for p in self._params]

    def state_dict(self) -> dict[str, Any]:
        return to_numpy(self.optimizer.state_dict())

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        converted = self._to_torch({k: v for k, v in state_dict.items() if k != "param_groups"})
        # A group's values go back as they came: torch's are Python values, and a 0-d array there was a
        # tensor (optimi keeps its step count as an int32 tensor in the group), never an int to restore.
        if "param_groups" in state_dict:
            converted["param_groups"] = [
                {k: self._tensor_of(v) if k != "params" else v for k, v in group.items()}
                for group in state_dict["param_groups"]
            ]
        with self.switches_kept():
            self.optimizer.load_state_dict(converted)

    @contextlib.contextmanager
    def switches_kept(self) -> Iterator[None]:
        """Loading a state dict (inside the block) takes the saved groups' values, kernel switches included:
        the saved groups' switches go, whichever variant saved them (a fused=True left by a fused optimizer's
        state, the reference's foreach=None, which torch resolves to the for-loop on CPU), and the run's
        own, as constructed, stay. Otherwise a check labelled foreach would go on in another kernel after
        loading, and pass or fail for that kernel. The switches are read from the groups, not from the
        run's ``flags``: a wrapper (ZeRO, FSDP2) passes the variant among the constructor's arguments."""
        built = [{k: g[k] for k in SWITCHES if k in g} for g in self.optimizer.param_groups]
        yield
        for group, switches in zip(self.optimizer.param_groups, built, strict=True):
            group.update(switches)

    def _tensor_of(self, value: Any) -> Any:
        return torch.tensor(value, device=self.device) if isinstance(value, np.ndarray) else value

    def _to_torch(self, value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
            # A plain int in torch's state (SparseAdam's ``step``): as a tensor it would turn ``beta ** step``
            # into float32 tensor arithmetic.
            return int(value)
        if isinstance(value, np.ndarray):
            return torch.tensor(value, device=self.device)
        if isinstance(value, dict):
            return {k: self._to_torch(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._to_torch(v) for v in value]
        return value

    def set_params(self, arrays: list[np.ndarray]) -> None:
        with torch.no_grad():
            for p, a in zip(self._params, arrays, strict=True):
                p.copy_(self._tensor(a, p))

    def set_hyperparameter(self, group: int, key: str, value: Any) -> None:
        self.optimizer.param_groups[group][key] = value


@functools.cache
def compile_unsupported() -> str | None:
    """Why ``torch.compile`` cannot run here (``None`` where it can): inductor's CPU backend builds C++ with
    the machine's compiler, found as inductor finds it (``CXX``, else ``c++``/``g++``/``clang++`` on PATH)."""
    from torch._inductor import cpp_builder

    why = "not supported: torch.compile needs a C++ compiler for inductor's CPU backend"
    try:
        compiler = cpp_builder.get_cpp_compiler()
    except Exception as e:  # inductor's own message names what it looked for
        return f"{why} ({e})"
    return f"{why} ({compiler} not found)" if shutil.which(compiler) is None else None


def compiled_step(optimizer: Any) -> Any:
    """``optimizer.step`` wrapped by ``torch.compile`` as torch's tutorial does (``@torch.compile(fullgraph=
    False) def fn(): opt.step()``; on CPU inductor's C++ backend).

    Dynamo guards a compiled frame on the optimizer object, so every new optimizer recompiles the same code;
    after ``recompile_limit`` (8) recompilations of one frame it would silently run the step eagerly, and a
    check labelled ``compile`` would pass without having compiled anything. So each run resets dynamo's
    caches (its graphs recompile once; inductor's on-disk cache makes a repeated graph cheap), and
    ``fail_on_recompile_limit_hit`` turns a run that still exceeds the limit into an error instead of an
    uncompiled pass. Within one run, a step whose graph breaks inside its per-param loop (Adamax) recompiles
    the loop's frame for each param shape and rank the case has (the kernel-size cases: 16 params, 0-d to
    2-D, strided): ``RECOMPILE_LIMIT`` allows that many and more. An lr changed between steps does not
    recompile: dynamo does not specialize on floats
    (``specialize_float=False``, torch 2.13's default), so lr need not be made a tensor as the tutorial's
    scheduler example does (which would also change which kernels run)."""
    import torch._dynamo

    torch._dynamo.reset()
    # The bound method as it is now: a check that drives torch's API itself puts the compiled step in its
    # optimizer's ``step`` (``compile_steps``), which the compiled function must not call back.
    eager = optimizer.step

    def step(*args: Any, **kwargs: Any) -> Any:
        return eager(*args, **kwargs)

    compiled = torch.compile(step, fullgraph=False)

    def run(*args: Any, **kwargs: Any) -> Any:
        patch = {"fail_on_recompile_limit_hit": True, "recompile_limit": RECOMPILE_LIMIT}
        with torch._dynamo.config.patch(**patch):
            return compiled(*args, **kwargs)

    return run


def compile_steps(optimizer: Any) -> Any:
    """``optimizer`` with its ``step`` compiled (``compiled_step``) for every caller: a check driving torch's
    API, and a ``GradScaler`` stepping it, call ``optimizer.step`` themselves. The compiled step is bound to
    the optimizer as a method, as ``step`` is: an lr scheduler wraps ``optimizer.step.__func__`` to notice
    the step-order mistake."""
    run = compiled_step(optimizer)
    optimizer.step = types.MethodType(lambda _, *args, **kwargs: run(*args, **kwargs), optimizer)
    return optimizer


def to_numpy(value: Any) -> Any:
    """Tensors (dense or sparse, any dtype) to NumPy; containers recursively; bf16/fp16 via float32."""
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach()
        if value.is_sparse:
            value = value.to_dense()
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.float()
        elif value.dtype == torch.complex32:
            value = value.to(torch.complex64)
        return value.cpu().numpy().copy()
    if isinstance(value, dict):
        return {k: to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_numpy(v) for v in value)
    return value


def torch_own(cls: Any) -> bool:
    """Whether ``cls`` is torch's own optimizer or scheduler class (identity, not name)."""
    name = getattr(cls, "__name__", "")
    return torch is not None and any(
        getattr(source, name, None) is cls for source in (torch.optim, torch.optim.lr_scheduler)
    )


def _distribution_versions(module: str) -> list[str]:
    """The version of each distribution that installs ``module``'s top-level package."""
    return [version(name) for name in packages_distributions().get(module.split(".")[0], [])]


def _declaration(value: Any) -> ClassDeclaration:
    if isinstance(value, ClassDeclaration):
        return value
    fields = dict(value)
    if "lacks" in fields:
        fields["lacks"] = frozenset(fields["lacks"])
    return ClassDeclaration(**fields)


class TorchAdapter(SwaMethods):
    """torch.optim (``module=None``) or a torch.optim-compatible module (``torch:MODULE``)."""

    averaged_run = TorchAveragedRun
    bn_pass = staticmethod(torch_update_bn)

    def __init__(
        self, module: str | None = None, declarations: dict[str, ClassDeclaration] | None = None
    ) -> None:
        if torch is None:
            raise NotSupported("torch is not installed: pip install 'optim-conformance[torch]'")
        self.module_name = module or "torch.optim"
        self.module = importlib.import_module(self.module_name)
        self.name = "torch" if module is None else f"torch:{module}"
        own = getattr(self.module, "OPTIM_CONFORMANCE", None) or {}
        declared = {**declared_for(self.module_name), **own}
        self.declared = {n: _declaration(d) for n, d in {**declared, **(declarations or {})}.items()}

    @functools.cached_property
    def _declarations(self) -> dict[str, ClassDeclaration]:
        out = {}
        for name, cls in self.classes().items():
            derived = ClassDeclaration(lacks=derived_lacks(name, cls))
            out[name] = derived.merged(self.declared[name]) if name in self.declared else derived
        return out

    def declarations(self) -> dict[str, ClassDeclaration]:
        """Per class: the options its signature lacks, with what the module or the adapter declares (read
        once: the module's classes and declarations do not change during a run)."""
        return dict(self._declarations)

    def explicit(self, name: str) -> dict[str, Any]:
        """torch's defaults that class ``name`` has another default for, or none: passed explicitly
        (``conformance.declarations.derived_explicit``), except options it lacks."""
        lacks = self.declarations()[name].lacks
        return {k: v for k, v in derived_explicit(name, self.classes()[name]).items() if k not in lacks}

    def required(self, name: str) -> dict[str, Any]:
        """Those of ``explicit(name)`` the class requires (no default): every construction passes them."""
        needed = derived_required(name, self.classes()[name])
        return {k: v for k, v in self.explicit(name).items() if k in needed}

    def torch_own(self, name: str) -> bool:
        """Whether the class tested under ``name`` (optimizer or scheduler) is torch's own."""
        cls = self.classes().get(name) or self.scheduler_classes().get(name)
        return cls is not None and torch_own(cls)

    def version(self) -> str:
        """torch's version, and the module's (its ``__version__``, else its distribution's: pytorch-optimizer
        has no ``__version__``), which the report records."""
        own = getattr(self.module, "__version__", None)
        if own is None and self.module_name != "torch.optim":
            own = next(iter(_distribution_versions(self.module_name)), None)
        return f"torch {torch.__version__}" + (f", {self.module_name} {own}" if own else "")

    # The module's classes and functions are read once per adapter (a session): every check and every
    # property example asks for them, and a module's attributes do not change during a run.

    @functools.cached_property
    def _classes(self) -> dict[str, type]:
        return {
            n: getattr(self.module, n) for n in OPTIMIZERS if inspect.isclass(getattr(self.module, n, None))
        }

    def classes(self) -> dict[str, type]:
        return dict(self._classes)

    def missing(self) -> list[str]:
        """torch.optim classes this module lacks (they are skipped and listed)."""
        return sorted(set(OPTIMIZERS) - set(self.classes()))

    def scheduler_classes(self) -> dict[str, type]:
        """The module's schedulers: its classes with torch's scheduler names and those of its
        ``lr_scheduler`` attribute (as ``torch.optim`` has it); where both have one, the candidate's own
        class beats torch's (see the module docstring)."""
        return dict(self._scheduler_classes)

    @functools.cached_property
    def _scheduler_classes(self) -> dict[str, type]:
        sources = [self.module]
        if inspect.ismodule(getattr(self.module, "lr_scheduler", None)):
            sources.append(self.module.lr_scheduler)
        out = {}
        for name in SCHEDULERS:
            found = [getattr(s, name) for s in sources if inspect.isclass(getattr(s, name, None))]
            if found:
                out[name] = next((c for c in found if not torch_own(c)), found[0])
        return out | {n: f for n, f in self.swa_functions().items() if n == "SWALR"}

    def swa_functions(self) -> dict[str, Any]:
        """The module's swa_utils: its own classes and functions with torch's swa_utils names and those of its
        ``swa_utils`` attribute (as ``torch.optim`` has it); the candidate's own beat torch's, as above."""
        return dict(self._swa_functions)

    @functools.cached_property
    def _swa_functions(self) -> dict[str, Any]:
        sources = [self.module]
        if inspect.ismodule(getattr(self.module, "swa_utils", None)):
            sources.append(self.module.swa_utils)
        out = {}
        for name in SWA_NAMES:
            found = [getattr(s, name) for s in sources if callable(getattr(s, name, None))]
            if found:
                out[name] = next((f for f in found if not torch_own(f)), found[0])
        return out

    def scheduler_path(self, name: str) -> str:
        """``package.module.Class`` of the scheduler tested under ``name``, for reproductions."""
        cls = self.scheduler_classes()[name]
        return f"{cls.__module__}.{cls.__qualname__}"

    def variants_of(self, name: str, device: str) -> tuple[str, ...]:
        cls = self.classes()[name]
        parameters = inspect.signature(cls.__init__).parameters
        out = ["forloop"] if "foreach" in parameters or "fused" in parameters else ["default"]
        if "foreach" in parameters and name != "Muon":  # Muon's foreach raises "not supported yet"
            out.append("foreach")
        if "fused" in parameters:
            out.append("fused")
        if "differentiable" in parameters:
            out.append("differentiable")
        if name not in UNCOMPILED:
            out.append("compile")
        if "capturable" in parameters:  # on CPU too, where it is "not supported" with the reason
            out.append("capturable")
        return tuple(out)

    def covers(self, variant: str, case: str | None) -> bool:
        """``compile`` runs the kernel-size catalogue cases alone (``...-kernel``: one per compiled optimizer,
        its options on, params of 1 to 65,537 elements and two matrices, the sizes where inductor's generated
        loops have their vector remainders and block edges), and the API checks and the property layer
        (``case`` None) in full: inductor compiles every optimizer built, seconds each, and the rest of the
        catalogue (some 900 cases per dtype) would take hours where these take about half an hour."""
        return variant != "compile" or case is None or case.endswith("-kernel")

    def capabilities(self) -> Capabilities:
        every = ("forloop", "foreach", "fused", "default", *OPT_IN)
        devices = {"cpu": every}
        if torch.cuda.is_available():
            devices["cuda"] = every
        return Capabilities(
            optimizers=frozenset(self.classes()),
            schedulers=frozenset(self.scheduler_classes()),
            dtypes=frozenset(DTYPES),
            variants=devices,
            features=frozenset({"state_dict", "sparse", "complex", "torch_api"}),
            declarations=self.declarations(),
            swa=frozenset(self.swa_functions()) - {"SWALR"},
            opt_in=frozenset(OPT_IN),
        )

    def unsupported(self, meta: dict[str, Any], dtype: str, device: str, variant: str) -> str | None:
        """Limits torch documents for its fused kernels: real floating-point params, dense gradients."""
        if variant == "fused" and meta["dtype"].startswith("complex"):
            return "not supported: torch's fused kernels take real floating-point params only"
        if variant == "fused" and (meta.get("gradients") or {}).get("pattern") == "sparse":
            return "not supported: torch's fused kernels do not take sparse gradients"
        if variant == "compile" and (meta.get("gradients") or {}).get("pattern") == "sparse":
            # dynamo does not trace sparse tensors (pytorch/pytorch#171865); a class's refusal of them is
            # raised from inside the trace as an InternalTorchDynamoError instead of torch's RuntimeError.
            return "not supported: torch.compile does not trace sparse tensors (pytorch/pytorch#171865)"
        if variant == "differentiable" and meta.get("leaf_params"):
            # torch refuses to update a leaf that requires grad in place under differentiable=True (by
            # design, pytorch/pytorch#150183); the check's own recipe holds leaf params.
            return (
                "not supported: differentiable=True steps non-leaf params (in a graph); this check's params "
                "are leaves"
            )
        if variant == "capturable" and not device.startswith("cuda"):
            return "not supported: capturable needs CUDA"
        return compile_unsupported() if variant == "compile" else None

    def make_optimizer(
        self,
        name: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        *,
        dtype: str,
        device: str,
        variant: str,
    ) -> TorchOptimizerRun:
        if variant not in self.variants_of(name, device.split(":")[0]):
            raise NotSupported(f"{name} has no {variant} variant")
        if reason := self.unsupported({"optimizer": name, "dtype": dtype}, dtype, device, variant):
            raise NotSupported(reason.removeprefix("not supported: "))
        cls, flags = self.classes()[name], VARIANT_FLAGS.get(variant, {})
        hyper = {**self.explicit(name), **hyper}
        return TorchOptimizerRun(cls, groups, hyper, dtype, device, flags, compiled=variant == "compile")

    def repro(self, name: str, hyper: dict[str, Any], variant: str) -> str:
        """The constructor line of a reproduction snippet (for ``compile``, with the compiled step after it;
        for ``differentiable``, the params must be non-leaf tensors in a graph, e.g. ``p.clone()``)."""
        given = {**self.explicit(name), **hyper, **VARIANT_FLAGS.get(variant, {})}
        args = ", ".join(f"{k}={v!r}" for k, v in given.items())
        line = f"{self.module_name}.{name}(groups, {args})"
        if variant == "compile":
            return f"{line}  # then: step = torch.compile(opt.step, fullgraph=False); step()"
        if variant == "differentiable":
            return f"{line}  # groups' params: non-leaf tensors in a graph (leaf.clone())"
        return line

    def make_scheduler(
        self,
        specs: list[dict[str, Any]],
        *,
        optimizer: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        device: str,
    ) -> ApiSchedulerRun:
        """The module's schedulers on its own ``optimizer`` class, or torch.optim's if it has none (a module
        of schedulers only): lrs are the same Python floats whichever optimizer holds them."""
        cls = self.classes().get(optimizer) or getattr(torch.optim, optimizer)
        if optimizer in self.classes():
            hyper = {**self.explicit(optimizer), **hyper}
        params = [
            {**g, "params": [torch.tensor(p, dtype=torch.float64, device=device) for p in g["params"]]}
            for g in groups
        ]
        opt = cls(params, **hyper)
        # Looked up at each call: the schedulers wrap ``opt.step`` to record that it ran.
        return ApiSchedulerRun(opt, specs, self.scheduler_classes(), lambda: opt.step())
