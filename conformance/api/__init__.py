"""API and semantics conformance: the behaviour around the update rule (checks: ``conformance/test_api/``).

What users copy from tutorials -- per-layer learning rates, changing ``lr`` in a loop over
``optimizer.param_groups``, ``zero_grad`` / ``backward`` / ``step``, saving and resuming, schedulers -- is
checked here against the reference doing the same thing. The modules, one job each:

- ``setups``: what each optimizer runs on (hyperparameters, shapes, gradients or a closure);
- ``derive``: the inputs read off the reference's validation tables (hyperparameter changes);
- ``cases``: the parametrization (one case per optimizer class, variant, hyperparameter...);
- ``context``: what a check knows (candidate, dtype, tolerance) and how it fails (message, reproduction);
- ``twin``: the candidate and the reference driven through the adapter protocol by one script;
- ``torch_side``: helpers for the checks that need the torch.optim API itself;
- ``scaling``: the candidate and the reference under a GradScaler, iteration by iteration of the AMP loop.
"""
