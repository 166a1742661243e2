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

from conformance.adapters.base import Capabilities, ClassDeclaration, NotSupported
from conformance.adapters.jax_support import DTYPES, import_jax, versions

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


class OptaxAdapter:
    name = "optax"

    def __init__(self) -> None:
        import_jax()
        try:
            import optax  # noqa: F401
        except ImportError as e:
            raise NotSupported(
                f"optax is not installed ({e}): pip install 'optim-conformance[optax]'"
            ) from None

    def version(self) -> str:
        return versions("optax", "jax", "jaxlib")

    def capabilities(self) -> Capabilities:
        from conformance.adapters.optax_adapter.optimizers import LACKS, STATE_KEYS
        from conformance.adapters.optax_adapter.schedules import SCHEDULERS

        # optax checks none of its arguments (validation is torch's API, not arithmetic): "not supported".
        declarations = {
            name: ClassDeclaration(
                lacks=LACKS.get(name, frozenset()),
                state_keys={k: k for k in STATE_KEYS[name]},
                validates=False,
            )
            for name in OPTIMIZERS
        }
        return Capabilities(
            optimizers=OPTIMIZERS,
            schedulers=frozenset(SCHEDULERS),
            dtypes=frozenset(DTYPES),
            variants={"cpu": ("default",)},
            features=frozenset({"state_dict", "complex"}),
            declarations=declarations,
        )

    def make_optimizer(
        self,
        name: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        *,
        dtype: str,
        device: str,
        variant: str,
    ) -> Any:
        from conformance.adapters.optax_adapter.run import OptaxRun

        if dtype not in DTYPES:
            raise NotSupported(f"the optax adapter runs float64 and float32, not {dtype}")
        return OptaxRun(name, groups, hyper, dtype)

    def make_scheduler(
        self,
        specs: list[dict[str, Any]],
        *,
        optimizer: str,
        groups: list[dict[str, Any]],
        hyper: dict[str, Any],
        device: str,
    ) -> Any:
        from conformance.adapters.optax_adapter.schedules import OptaxSchedulerRun

        return OptaxSchedulerRun(specs, optimizer, groups, hyper)
