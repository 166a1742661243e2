"""What the JAX-based adapters (optax, Keras on its JAX backend) share: float64 switched on, dtypes, versions.

JAX computes in float32 unless ``jax_enable_x64`` is set; the suite's float64 checks need it, and it changes
nothing for float32 arrays (their dtype is explicit), so the adapters set it once when they are built, as a
user asking for float64 does.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from conformance.adapters.base import NotSupported

# The suite's dtype names -> (real, complex) NumPy dtypes that JAX computes in on CPU.
DTYPES = {"float64": (np.float64, np.complex128), "float32": (np.float32, np.complex64)}


def import_jax() -> Any:
    """``jax`` with float64 enabled; a one-line ``NotSupported`` naming the extra when it is not installed."""
    try:
        import jax
    except ImportError as e:
        raise NotSupported(f"JAX is not installed ({e}): pip install 'optim-conformance[optax]'") from None
    jax.config.update("jax_enable_x64", True)
    return jax


def versions(*dists: str) -> str:
    """``"optax 0.2.8, jax 0.10.2, jaxlib 0.10.2"``: the installed versions, for the report's header."""

    def one(dist: str) -> str:
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            return f"{dist} (not installed)"

    return ", ".join(one(d) for d in dists)


def cast(array: Any, dtype: str) -> np.ndarray:
    """A float64/complex128 NumPy array in the run's precision (complex stays complex)."""
    real, cplx = DTYPES[dtype]
    return np.asarray(array, dtype=cplx if np.iscomplexobj(array) else real)
