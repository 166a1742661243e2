"""The speed benchmark behind ``pytest conformance --bench``: ``step()`` per optimizer x variant x size.

For every size (one tensor, or the same number of elements split over many tensors) the candidate's
optimizer takes one untimed step (state allocation, gradients handed over), then ``step()`` is timed as in
:mod:`conformance.bench.timing`. Each row reports elements per second, the effective bandwidth from the
bytes the algorithm must move per element (:mod:`conformance.bench.traffic`), that bandwidth as a fraction of
a plain ``dst.copy_(src)`` measured in the same run (the roofline), and the speedup over torch's for-loop
implementation measured in the same run. Nothing here asserts a time: the figures are reported.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from conformance.adapters.base import NotSupported
from conformance.bench.timing import Timing, measure
from conformance.bench.traffic import HYPER, NOT_BENCHED, TRAFFIC
from conformance.options import checks

ITEMSIZE = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2}
# One tensor at four sizes (the step-time-against-size curve), and the two larger ones split over tensors
# of 1e4 elements (the many-small-tensors case foreach and fused kernels exist for). Measured to finish
# all torch CPU optimizers and variants well within 120 s on a 2-core machine (see README).
DEFAULT_SIZES = "1e3,1e5,1e6,1e7,1e6/100,1e7/1000"
DEFAULT_REPEATS = 5
BASELINE_VARIANT = "forloop"


class BenchConfigError(ValueError):
    """A ``--bench-*`` option that cannot be used; the message is one line naming the option."""


@dataclass(frozen=True)
class Size:
    """``total`` elements split evenly over ``tensors`` tensors."""

    total: int
    tensors: int = 1

    @property
    def label(self) -> str:
        """``1e7``, ``1e7/1000``, ``64``: powers of ten as written on the command line, others in full."""
        power = f"{self.total:.0e}".replace("e+0", "e").replace("e+", "e")
        total = power if float(power) == self.total and self.total >= 1000 else str(self.total)
        return total + (f"/{self.tensors}" if self.tensors > 1 else "")


def parse_sizes(spec: str) -> tuple[Size, ...]:
    """``"1e3,1e7,1e7/1000"``: TOTAL for one tensor, TOTAL/COUNT for TOTAL elements over COUNT tensors."""
    sizes = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        total_text, _, count_text = item.partition("/")
        try:
            total, count = float(total_text), int(count_text or 1)
        except ValueError:
            raise BenchConfigError(f"--bench-sizes: {item!r} is not TOTAL or TOTAL/COUNT") from None
        if total != int(total) or total < 1 or count < 1 or int(total) % count:
            raise BenchConfigError(
                f"--bench-sizes: {item!r} needs a positive whole TOTAL divisible by COUNT tensors"
            )
        sizes.append(Size(int(total), count))
    if not sizes:
        raise BenchConfigError(f"--bench-sizes: {spec!r} names no size")
    return tuple(sizes)


@dataclass(frozen=True)
class BenchConfig:
    sizes: tuple[Size, ...]
    repeats: int = DEFAULT_REPEATS
    dtype: str = "float32"
    device: str = "cpu"
    variants: tuple[str, ...] | None = None
    # CPU threads torch may use while timing (0: torch's default). One by default: on a machine whose other
    # cores are busy, a multi-threaded op waits for a descheduled worker (measured on a loaded 2-core
    # machine: a 1e5-element SGD step took 24 ms with 2 threads and 0.05 ms with 1, and the default sizes
    # ran past 6 minutes instead of 85 s), so one thread gives per-core figures that reproduce anywhere.
    threads: int = 1

    def __post_init__(self) -> None:
        if self.dtype not in ITEMSIZE:
            raise BenchConfigError(f"--bench-dtype: {self.dtype!r} is not one of {', '.join(ITEMSIZE)}")
        if self.repeats < 1:
            raise BenchConfigError(f"--bench-repeats: must be at least 1, got {self.repeats}")
        if self.threads < 0:
            raise BenchConfigError(
                f"--bench-threads: must be 0 (torch's default) or more, got {self.threads}"
            )


@dataclass
class _Arrays:
    """One block of random params and gradients, sliced for every size (made once per run)."""

    params: np.ndarray
    grads: np.ndarray

    @classmethod
    def for_sizes(cls, sizes: tuple[Size, ...]) -> _Arrays:
        rng = np.random.default_rng(0)
        n = max(s.total for s in sizes)
        return cls(rng.standard_normal(n), rng.standard_normal(n))

    def split(self, size: Size) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return (
            np.split(self.params[: size.total], size.tensors),
            np.split(self.grads[: size.total], size.tensors),
        )


def repeat_step(run: Any) -> Callable[[], Any] | None:
    """What repeats the last step with the gradients already handed over, so only the optimizer's own work
    is timed: the run's ``step_again()`` (an optional adapter hook), or for a run that wraps a
    ``torch.optim.Optimizer`` as ``.optimizer`` (the torch adapter, drop-ins, mutants) its ``step()``, which
    reads the ``.grad`` already set. None: the run's ``step(grads)`` is timed, conversion included."""
    if callable(getattr(run, "step_again", None)):
        return run.step_again
    try:
        import torch
    except ImportError:
        return None
    optimizer = getattr(run, "optimizer", None)
    return optimizer.step if isinstance(optimizer, torch.optim.Optimizer) else None


def device_sync(device: str) -> Callable[[], None]:
    """What waits for the device's queued work: ``torch.cuda.synchronize`` on CUDA, nothing on CPU."""
    if device.startswith("cuda"):
        import torch

        return lambda: torch.cuda.synchronize(torch.device(device))
    return lambda: None


def copy_bandwidth(config: BenchConfig) -> dict[str, Any]:
    """The roofline: a ``dst.copy_(src)`` of the largest benchmarked size on the same device and dtype
    (bytes = 2 x size: one read, one write), in torch where installed, else NumPy."""
    numel = max(s.total for s in config.sizes)
    try:
        import torch

        src = torch.randn(numel, dtype=getattr(torch, config.dtype), device=config.device)
        dst, copier = torch.empty_like(src), "torch copy_"
    except ImportError:
        src = np.random.default_rng(0).standard_normal(numel).astype(config.dtype)
        dst, copier = np.empty_like(src), "numpy copyto"

    def copy() -> None:
        if copier == "torch copy_":
            dst.copy_(src)
        else:
            np.copyto(dst, src)

    timing = measure(copy, device_sync(config.device), repeats=config.repeats)
    moved = 2 * numel * ITEMSIZE[config.dtype]
    return {
        "numel": numel,
        "label": Size(numel).label,
        "bytes": moved,
        "how": copier,
        **timing.to_dict(),
        "bandwidth": moved / timing.median,
    }


@dataclass
class _Bench:
    config: BenchConfig
    arrays: _Arrays
    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def variants(self, adapter: Any, name: str) -> list[str]:
        device_type = self.config.device.split(":")[0]
        of = getattr(adapter, "variants_of", None)
        offered = of(name, device_type) if of else adapter.capabilities().variants.get(device_type, ())
        chosen = None if self.config.variants is None else list(self.config.variants)
        return [v for v in checks.selected(chosen, list(offered), adapter.capabilities()) if v in offered]

    def _measure(self, adapter: Any, name: str, variant: str, size: Size) -> tuple[Timing, bool]:
        """The timing of one configuration, and whether it includes the adapter's conversions. The
        optimizer and its state are freed when this returns."""
        params, grads = self.arrays.split(size)
        run = adapter.make_optimizer(
            name,
            [{"params": params}],
            dict(HYPER.get(name, {})),
            dtype=self.config.dtype,
            device=self.config.device,
            variant=variant,
        )
        run.step(grads)  # untimed: allocates the state and hands the gradients over
        again = repeat_step(run)
        operation = again if again else lambda: run.step(grads)
        return measure(operation, device_sync(self.config.device), repeats=self.config.repeats), again is None

    def time_one(self, adapter: Any, name: str, variant: str, size: Size, role: str) -> None:
        gc.collect()  # whatever the last configuration left in reference cycles goes before this allocates
        try:
            timing, converted = self._measure(adapter, name, variant, size)
        except NotSupported as e:
            self.skipped.append({"optimizer": name, "variant": variant, "size": size.label, "reason": str(e)})
            return
        except Exception as e:  # a candidate that fails here is reported, the rest of the run goes on
            reason = f"raised {type(e).__name__}: {e}".splitlines()[0]
            self.skipped.append({"optimizer": name, "variant": variant, "size": size.label, "reason": reason})
            return
        per_element = TRAFFIC[name].passes * ITEMSIZE[self.config.dtype]
        self.rows.append(
            {
                "optimizer": name,
                "variant": variant,
                "impl": adapter.name,
                "role": role,
                "size": size.total,
                "tensors": size.tensors,
                "label": size.label,
                **timing.to_dict(),
                "includes_conversion": converted,
                "elements_per_s": size.total / timing.median,
                "bytes_per_element": per_element,
                "bandwidth": size.total * per_element / timing.median,
            }
        )


def _is_torch_optim(adapter: Any) -> bool:
    return getattr(adapter, "module_name", None) == "torch.optim"


def _baseline_adapter(adapter: Any) -> Any:
    """torch.optim itself: the candidate when it is torch.optim, else a fresh torch adapter (None without
    torch)."""
    if _is_torch_optim(adapter):
        return adapter
    try:
        from conformance.adapters.torch_adapter import TorchAdapter

        return TorchAdapter()
    except NotSupported:
        return None


def run_bench(
    adapter: Any, names: list[str], config: BenchConfig, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Benchmark the candidate's optimizers ``names`` (and torch's for-loop baseline) as ``config`` says;
    returns the ``bench`` section of ``results.json``."""
    with _threads(config.threads) as threads:
        out = _run(adapter, names, config, progress)
    out["config"]["threads"] = threads
    return out


@contextlib.contextmanager
def _threads(threads: int) -> Iterator[int | None]:
    """torch's intra-op thread count set to ``threads`` (0: left as it is) for the benchmark and restored
    after; yields the count in force (None without torch)."""
    try:
        import torch
    except ImportError:
        yield None
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _run(
    adapter: Any, names: list[str], config: BenchConfig, progress: Callable[[str], None]
) -> dict[str, Any]:
    start = time.perf_counter()
    bench = _Bench(config, _Arrays.for_sizes(config.sizes))
    supported = adapter.capabilities().optimizers
    chosen = sorted(n for n in set(names) if n in supported and n in TRAFFIC)
    for name in sorted(set(names) & set(NOT_BENCHED)):
        bench.skipped.append({"optimizer": name, "variant": "", "size": "", "reason": NOT_BENCHED[name]})
    copy = copy_bandwidth(config)
    baseline = _baseline_adapter(adapter)
    for name in chosen:
        tick, before = time.perf_counter(), len(bench.rows)
        for variant in bench.variants(adapter, name):
            for size in config.sizes:
                bench.time_one(adapter, name, variant, size, "candidate")
        if baseline is not None and baseline is not adapter and name in baseline.capabilities().optimizers:
            for size in config.sizes:
                bench.time_one(baseline, name, BASELINE_VARIANT, size, "baseline")
        seconds = time.perf_counter() - tick
        progress(f"bench {name}: {len(bench.rows) - before} configurations in {seconds:.1f} s")
    _relate(bench.rows, copy["bandwidth"], baseline is adapter)
    return {
        "config": {**asdict(config), "sizes": [s.label for s in config.sizes]},
        "copy": copy,
        "baseline": f"torch.optim {BASELINE_VARIANT}" if baseline is not None else None,
        "traffic": {
            n: {**asdict(TRAFFIC[n]), "bytes_per_element": TRAFFIC[n].passes * ITEMSIZE[config.dtype]}
            for n in chosen
        },
        "rows": bench.rows,
        "skipped": bench.skipped,
        "seconds": time.perf_counter() - start,
    }


def _relate(rows: list[dict[str, Any]], copy_bandwidth: float, candidate_is_baseline: bool) -> None:
    """Add each row's roofline fraction and its speedup over the baseline row of the same optimizer and
    size (baseline time / this time: above 1 is faster than torch's for-loop)."""

    def is_base(r: dict[str, Any]) -> bool:
        role = "candidate" if candidate_is_baseline else "baseline"
        return r["role"] == role and r["variant"] == BASELINE_VARIANT

    base = {(r["optimizer"], r["size"], r["tensors"]): r["median"] for r in rows if is_base(r)}
    for r in rows:
        r["roofline"] = r["bandwidth"] / copy_bandwidth
        reference = base.get((r["optimizer"], r["size"], r["tensors"]))
        r["speedup"] = reference / r["median"] if reference else None
