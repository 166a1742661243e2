"""Kernel-size cases: params whose sizes and layouts reach the code paths of vectorised and fused kernels.

A vectorised kernel handles 8 to 32 elements per SIMD vector, then a remainder loop; a parallel or GPU
kernel splits the work into blocks of thousands. The catalogue's other params have at most a dozen
elements, where none of that code runs. Each optimizer with foreach or fused variants gets two cases here:

- ``kernel``: one param of each size straddling the common vector widths and block sizes (1, 7, 8, 9, 15,
  16, 17, 31, 33, 255, 257, 4095, 4097 and 65,537, above 2^16), a 13 x 7 matrix (rows not a multiple of
  8) and a 9 x 33 matrix stored transposed (dense but not contiguous);
- ``kernel-strided``: params that are every other element of a buffer (not dense), 33, 4097 and 7 x 13.

They run a few steps only (a kernel's fault shows at its first step): params and gradients are drawn from
the pinned generator and not stored (``OptimCase.inputs``), which keeps them within the vectors' budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.catalogue.model import Group, OptimCase

SIZES = (1, 7, 8, 9, 15, 16, 17, 31, 33, 255, 257, 4095, 4097, 65537)
KERNEL = Group((*((n,) for n in SIZES), (13, 7), (9, 33)))
KERNEL_LAYOUTS = ("contiguous",) * (len(SIZES) + 1) + ("transposed",)
STRIDED = Group(((33,), (4097,), (7, 13)))


def kernel_cases(optimizer: str, hyper: Mapping[str, Any], steps: int = 3) -> list[OptimCase]:
    """The two kernel-size cases of ``optimizer`` with ``hyper`` (options its kernels branch on)."""
    why = "params of sizes and layouts that reach a vectorised or fused kernel's remainder loop and blocks"
    common: dict[str, Any] = {"steps": steps, "inputs": "generated"}
    return [
        OptimCase(
            optimizer, hyper, ("lr",), why, groups=(KERNEL,), layouts=KERNEL_LAYOUTS, tag="kernel", **common
        ),
        OptimCase(
            optimizer,
            hyper,
            ("lr",),
            "params that are every other element of a buffer (not dense): a kernel must honour the strides",
            groups=(STRIDED,),
            layouts=("strided",) * len(STRIDED.shapes),
            tag="kernel-strided",
            **common,
        ),
    ]
