"""The shipped JAX-based adapters (optax, Keras on JAX): a conforming port passes its golden cases, a port
that computes something else fails them, and what a library lacks is "not supported". Skipped cleanly
where the library is not installed (``pip install '.[optax]'`` / ``'.[keras]'``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conformance.adapters.base import NotSupported
from conformance.runner import LoadedCase, run_single_steps, run_trajectory
from conformance.schedules import LoadedSchedule, run_schedule
from conformance.vectors import Vectors

VECTORS = Vectors()


def case(case_id: str) -> LoadedCase:
    return LoadedCase.load(VECTORS, case_id)


@pytest.fixture(scope="module")
def optax_adapter():
    pytest.importorskip("optax")
    from conformance.adapters.optax_adapter import OptaxAdapter

    return OptaxAdapter()


@pytest.fixture(scope="module")
def keras_adapter():
    # the JAX backend must be chosen before Keras is first imported
    monkeypatch_env = pytest.MonkeyPatch()
    monkeypatch_env.setenv("KERAS_BACKEND", "jax")
    pytest.importorskip("keras")
    from conformance.adapters.keras_adapter import KerasAdapter

    return KerasAdapter()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "case_id", ["adam/lr0.01", "sgd/lr0.05-mom0.9-nesterov", "adadelta/lr1-rho0.9-eps0.001"]
)
def test_optax_conforming_ports_pass(optax_adapter, case_id: str, dtype: str) -> None:
    loaded = case(case_id)
    trajectory = run_trajectory(optax_adapter, loaded, dtype, "cpu", "default")
    assert trajectory.passed, trajectory.divergence
    assert not trajectory.notes  # the state was compared: the port keeps every entry of torch's here
    assert run_single_steps(optax_adapter, loaded, dtype, "cpu", "default").passed


def test_optax_rmsprop_momentum_state_converted(optax_adapter) -> None:
    """optax's momentum trace holds -lr x torch's buffer: read and loaded through the lr, it compares."""
    loaded = case("rmsprop/lr0.01-alpha0.9-eps1e-07-g1e-07")
    assert run_trajectory(optax_adapter, loaded, "float64", "cpu", "default").passed


def test_optax_real_difference_fails(optax_adapter) -> None:
    """optax's AMSGrad takes the maximum of the bias-corrected second moment (a known deviation): far
    beyond any tolerance, from the first step."""
    result = run_trajectory(
        optax_adapter, case("adam/lr0.05-betas0.9,0.9-amsgrad-spike"), "float64", "cpu", "default"
    )
    assert not result.passed and result.divergence.first_bad_step == 1


def test_optax_wrong_port_fails(optax_adapter, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mutant port (eps inside the root, optax's own default) must fail the case that observes eps."""
    from conformance.adapters.optax_adapter import optimizers

    port = optimizers.PORTS["RMSprop"]

    def eps_in_sqrt(name, o):
        p = port(name, o)

        def factory(
            learning_rate, decay, eps, momentum, weight_decay, *, maximize, centered, use_momentum, l2
        ):
            import optax

            return optax.rmsprop(learning_rate, decay=decay, eps=eps, eps_in_sqrt=True)

        return dataclasses.replace(p, factory=factory)

    monkeypatch.setitem(optimizers.PORTS, "RMSprop", eps_in_sqrt)
    loaded = case("rmsprop/lr0.01-alpha0.9-eps1e-07-g1e-07")
    assert not run_trajectory(optax_adapter, loaded, "float64", "cpu", "default").passed


def test_optax_lacks(optax_adapter) -> None:
    params = [np.zeros(3)]
    with pytest.raises(NotSupported, match="dampening"):
        optax_adapter.make_optimizer(
            "SGD", [{"params": params}], {"dampening": 0.5}, dtype="float64", device="cpu", variant="default"
        )
    with pytest.raises(NotSupported, match="has no ASGD"):
        optax_adapter.make_optimizer(
            "ASGD", [{"params": params}], {}, dtype="float64", device="cpu", variant="default"
        )
    run = optax_adapter.make_optimizer(
        "Adam", [{"params": params}], {}, dtype="float64", device="cpu", variant="default"
    )
    with pytest.raises(NotSupported, match="without a gradient"):
        run.step([None])
    declared = optax_adapter.capabilities().declaration("NAdam")
    assert "momentum_decay" in declared.lacks and not declared.validates


def test_optax_lr_change_between_steps(optax_adapter) -> None:
    """``param_groups[0]['lr'] = ...`` through inject_hyperparams: the next step uses the new lr."""
    import refimpl.optim

    grads = [np.array([0.3, -1.0, 2.0])]
    run = optax_adapter.make_optimizer(
        "Adam", [{"params": [np.ones(3)]}], {"lr": 0.1}, dtype="float64", device="cpu", variant="default"
    )
    reference = refimpl.optim.Adam([np.ones(3)], lr=0.1)
    for step in range(3):
        if step == 2:
            run.set_hyperparameter(0, "lr", 0.01)
            reference.param_groups[0]["lr"] = 0.01
        run.step(grads)
        reference.step(grads)
    # float64 rounding of a three-step Adam: a few ULPs of the params' scale (1)
    np.testing.assert_allclose(run.params()[0], reference.param_groups[0]["params"][0], rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    "case_id",
    ["steplr/step_size3-gamma0.8", "multisteplr/milestones10,30,30,60-gamma0.5", "exponentiallr/gamma0.97"],
)
def test_optax_schedules(optax_adapter, case_id: str) -> None:
    """optax evaluates a schedule at its int32 step count, which JAX turns into float32 arithmetic: the
    lrs are torch's within float32 rounding, not exactly: ``gamma ** t`` in float32 is off by up to about
    ``t |log gamma|`` ULPs (|log gamma| < 1 here), so the bound after ``steps`` epochs is (steps + 1) ULPs."""
    loaded = LoadedSchedule.load(VECTORS, case_id)
    result = run_schedule(optax_adapter, loaded, "", "cpu", "")
    assert result.divergence.max_rel < 2.0**-23 * (loaded.meta["steps"] + 1), result.details


SCHEDULE_SPECS = [
    ("StepLR", {"step_size": 3, "gamma": 0.8}),
    ("ExponentialLR", {"gamma": 0.93}),
    ("MultiStepLR", {"milestones": [4, 9, 9], "gamma": 0.5}),
    ("ConstantLR", {"factor": 0.25, "total_iters": 6}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.7, "total_iters": 12}),
    ("PolynomialLR", {"total_iters": 20, "power": 2.0}),
    ("CosineAnnealingLR", {"T_max": 15, "eta_min": 0.001}),
    ("CosineAnnealingWarmRestarts", {"T_0": 2, "T_mult": 2, "eta_min": 0.001}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 45}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 45, "anneal_strategy": "linear", "three_phase": True}),
    ("StepLR", {"step_size": 4, "last_epoch": 6, "initial_lr": 0.1}),
]


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULE_SPECS)
def test_optax_schedule_run_reads_the_lrs_an_update_loop_uses(optax_adapter, name: str, kwargs: dict) -> None:
    """The scheduler run reads its lrs from the schedule evaluated over every count at once: they are the
    lrs a jitted ``inject_hyperparams`` update loop uses, update by update (resumed at ``last_epoch + 1``).
    Both evaluate optax's float32 arithmetic on the int32 count with XLA, the loop compiled (XLA turns
    ``count / n`` into ``count * (1 / n)``) and vectorised op by op: equal to a few float32 roundings
    (2^-23 each, 8 allowed) of the schedule's largest value (0.5): ``1 - count / n`` cancels near the end
    of a decay, so the rounding is relative to the lr, not to the small value reached."""
    import jax
    import jax.numpy as jnp
    import optax

    from conformance.adapters.optax_adapter.schedules import schedule

    kwargs = {k: v for k, v in kwargs.items() if k != "initial_lr"}
    spec = {"scheduler": name, "kwargs": kwargs}
    run = optax_adapter.make_scheduler(
        [spec], optimizer="SGD", groups=[{"params": [np.zeros(2)], "lr": 0.1}], hyper={}, device="cpu"
    )
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule(spec, 0.1, 0, 64))
    params = jnp.zeros(2)
    state = tx.init(params)
    start = kwargs.get("last_epoch", -1) + 1
    state = state._replace(
        hyperparams_states={
            "learning_rate": state.hyperparams_states["learning_rate"]._replace(
                count=jnp.asarray(start, jnp.int32)
            )
        }
    )
    update = jax.jit(tx.update)
    for epoch in range(40):
        read = run.group_values("lr")[0]
        _, state = update(jnp.zeros(2), state, params)
        used = float(state.hyperparams["learning_rate"])  # the lr this update used
        assert read == pytest.approx(used, rel=0, abs=8 * 2.0**-23 * 0.5), (epoch, read, used)
        run.step()


def test_keras_conforming_port_passes(keras_adapter) -> None:
    """Adadelta's scalars are Python floats in Keras, its lr 1.0 exact in float32: it conforms in float64."""
    loaded = case("adadelta/lr1-rho0.9-eps0.001")
    for dtype in ("float64", "float32"):
        assert run_trajectory(keras_adapter, loaded, dtype, "cpu", "default").passed
        assert run_single_steps(keras_adapter, loaded, dtype, "cpu", "default").passed


def test_keras_real_difference_fails(keras_adapter) -> None:
    """Keras adds eps inside RMSprop's root: in float32 as well, far beyond the tolerance."""
    loaded = case("rmsprop/lr0.01-alpha0.9-eps1e-07-g1e-07")
    assert not run_trajectory(keras_adapter, loaded, "float32", "cpu", "default").passed


def test_keras_schedule(keras_adapter) -> None:
    result = run_schedule(
        keras_adapter, LoadedSchedule.load(VECTORS, "steplr/step_size3-gamma0.8"), "", "cpu", ""
    )
    # Keras computes the lr in float32: within a few float32 roundings of the exact value
    assert result.divergence.max_rel < 2.0**-20
