"""What the suite declares, on their behalf, about torch-API libraries it has verdicts for (``torch:MODULE``).

A class's lacked options are read off its constructor's signature (``conformance.declarations``), but a
constructor that takes ``**kwargs`` accepts anything and silently ignores what it does not use: nothing can
be derived from it. For the libraries whose committed reports the suite ships, the options such classes do
not have are declared here, so that ``--impl=torch:MODULE`` says "not supported: <option>" for the checks
that need one instead of failing them on an ignored argument. Keyed by module (``--impl=torch:MODULE``),
then class; the module's own ``OPTIM_CONFORMANCE`` and an adapter's declarations go on top of these.

What these libraries compute differently where they do have torch's options is in their known-deviations
files (``conformance/known_deviations/pytorch-optimizer.toml``, ``torch-optimi.toml``).
"""

from __future__ import annotations

from conformance.adapters.base import ClassDeclaration

DECLARATIONS: dict[str, dict[str, ClassDeclaration]] = {
    # pytorch-optimizer 4.1.0: its own ASGD, RAdam and Muon take **kwargs (stored in the group or dropped).
    "pytorch_optimizer": {
        # "Adaptive SGD" (Malitsky & Mishchenko), not torch's averaged SGD: no lambd, alpha, t0.
        "ASGD": ClassDeclaration(lacks=frozenset({"lambd", "alpha", "t0"})),
        # Its decoupling switch is `weight_decouple` (default True), not `decoupled_weight_decay`.
        "RAdam": ClassDeclaration(lacks=frozenset({"decoupled_weight_decay"})),
        # `ns_coeffs` and `use_adjusted_lr` instead of `ns_coefficients` and `adjust_lr_fn`; no `eps`.
        "Muon": ClassDeclaration(lacks=frozenset({"ns_coefficients", "adjust_lr_fn", "eps"})),
    },
    # torch-optimi 0.3.3 (docs: https://optimi.benjaminwarner.dev). Adam, AdamW and RAdam keep their
    # moments under torch's names but hold other quantities: the "debiased betas" update
    # m <- beta1_hat m + (1 - beta1_hat) g, beta1_hat = beta1 (1 - beta1^(t-1)) / (1 - beta1^t)
    # (optimi/utils.py, debias_beta), stores the bias-corrected m_hat and v_hat themselves: the params follow
    # torch's, the state cannot be compared (nor can teacher forcing load torch's). The step count is the
    # group's, not per param (an entry in torch-optimi.toml).
    "optimi": {
        "Adam": ClassDeclaration(state_keys={}),
        "AdamW": ClassDeclaration(state_keys={}),
        "RAdam": ClassDeclaration(state_keys={}),
        # optimi's `dampening` is a switch (True: dampening = momentum, buffer started at zero), not torch's
        # float: torch's dampening is an option it lacks, and a float passed to it silently acts as the switch
        # (dampening=0.5 with momentum 0.9 dampens by 0.9). Its buffer `exp_avg` is torch's momentum_buffer
        # (m <- momentum m + g).
        "SGD": ClassDeclaration(lacks=frozenset({"dampening"}), state_keys={"momentum_buffer": "exp_avg"}),
    },
}


def declared_for(module: str) -> dict[str, ClassDeclaration]:
    """The declarations above for ``module`` (none for any other)."""
    return dict(DECLARATIONS.get(module, {}))
