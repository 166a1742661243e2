"""Inputs drawn from a pinned bit stream, for cases too large to store (the kernel-size cases).

The values are NumPy's PCG64 raw 64-bit outputs (``BitGenerator.random_raw``: a stream NumPy keeps stable
across versions and platforms, unlike its distributions) mapped by integer arithmetic alone to uniform
float64 in [-1, 1): ``(bits >> 11) * 2**-52 - 1``. The vectors store the sha256 of every input a case draws,
so a generator that drifts is refused (``optconf vectors verify`` and every run that loads the case), never
silently compared against other numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

from conformance.catalogue.model import seed_of


def uniform(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform float64 in [-1, 1) of ``shape``, from the PCG64 stream seeded by ``name``."""
    n = int(np.prod(shape, dtype=np.int64))
    bits = np.random.PCG64(seed_of(name)).random_raw(n) if n else np.zeros(0, dtype=np.uint64)
    return ((bits >> np.uint64(11)).astype(np.float64) * 2.0**-52 - 1.0).reshape(shape)


def digest(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over the arrays' names, shapes and little-endian float64 bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name], dtype="<f8")
        h.update(f"{name}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def spot_indices(n: int) -> np.ndarray:
    """The flat positions a generated case stores of an array of ``n`` values: its first and last 16,
    and both sides of every 4096-element block boundary (where a kernel's work is split)."""
    edges = np.r_[np.arange(min(n, 16)), np.arange(max(n - 16, 0), n)]
    blocks = np.arange(4096, n, 4096)
    return np.unique(np.r_[edges, blocks - 1, blocks]).astype(np.int64)
