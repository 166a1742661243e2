"""optax (JAX) as a candidate: ``pytest conformance --impl=optax`` (extra: ``optim-conformance[optax]``).

Every torch optimizer and LR scheduler optax has a counterpart for, written as an optax user writes it
(``init``/``update``/``apply_updates``, ``optax.partition`` for param groups, ``optax.inject_hyperparams``
for hyperparameters changed between steps), in float64 (``jax_enable_x64``) and float32, on CPU. The
mapping from torch's names and meanings to optax's is in the docstrings of ``optimizers`` (optimizers) and
``schedules`` (schedulers); what optax computes differently is in ``conformance/known_deviations/optax.toml``.

Not supported, and reported so: a param without a gradient on some step (a JAX gradient has an array for
every param), sparse gradients, options without a counterpart (SGD's ``dampening``, Adagrad's ``lr_decay``,
LBFGS's ``line_search_fn``), and loading a torch checkpoint whose state optax does not hold.
"""

from __future__ import annotations

from typing import Any

from conformance.adapters.base import Capabilities, NotSupported
from conformance.adapters.jax_support import JaxAdapter, import_jax

# The torch optimizers with an optax counterpart (conformance/adapters/optax_adapter/optimizers.py).
OPTIMIZERS = frozenset(
    {
        "SGD",
        "Adam",
        "AdamW",
        "Adamax",
        "NAdam",
        "RAdam",
        "RMSprop",
        "Adagrad",
        "Adadelta",
        "Rprop",
        "LBFGS",
        "Muon",
    }
)


class OptaxAdapter(JaxAdapter):
    name = "optax"
    dists = ("optax", "jax", "jaxlib")

    def __init__(self) -> None:
        import_jax()
        try:
            import optax  # noqa: F401
        except ImportError as e:
            raise NotSupported(
                f"optax is not installed ({e}): pip install 'optim-conformance[optax]'"
            ) from None

    def capabilities(self) -> Capabilities:
        from conformance.adapters.optax_adapter.optimizers import LACKS, STATE_KEYS
        from conformance.adapters.optax_adapter.schedules import SCHEDULERS

        features = frozenset({"state_dict", "complex"})
        return self.declared(OPTIMIZERS, frozenset(SCHEDULERS), LACKS, STATE_KEYS, features)

    def optimizer_run(
        self, name: str, groups: list[dict[str, Any]], hyper: dict[str, Any], dtype: str
    ) -> Any:
        from conformance.adapters.optax_adapter.run import OptaxRun

        return OptaxRun(name, groups, hyper, dtype)

    def scheduler_run(
        self, specs: list[dict[str, Any]], optimizer: str, groups: list[dict[str, Any]], hyper: dict[str, Any]
    ) -> Any:
        from conformance.adapters.optax_adapter.schedules import OptaxSchedulerRun

        return OptaxSchedulerRun(specs, optimizer, groups, hyper)
