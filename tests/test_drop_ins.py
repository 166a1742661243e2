"""The pieces that let torch-API drop-ins (pytorch-optimizer, torch-optimi) get a fair verdict: their
known-deviations file found by distribution name, torch's defaults passed where a class has others, group
tensors kept through a state-dict round trip, and the Keras adapter's padded flat params."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from conformance.declarations import derived_explicit, derived_required
from conformance.known_deviations import candidate_files, load


@pytest.mark.skipif(importlib.util.find_spec("optimi") is None, reason="torch-optimi is not installed")
def test_deviations_found_by_distribution_name():
    names = [p.name for p in candidate_files("torch:optimi")]
    assert names == ["optimi.toml", "torch-optimi.toml"]
    deviations, _, path = load("torch:optimi")
    assert path is not None and path.name == "torch-optimi.toml" and deviations


def test_a_module_without_a_distribution_has_only_its_own_name():
    assert [p.name for p in candidate_files("torch:no_such_module_xyz")] == ["no_such_module_xyz.toml"]


class OtherDefaults(torch.optim.Optimizer):
    """lr required, betas and eps of its own, no amsgrad: as optimi's Adam."""

    def __init__(self, params, lr, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})


def test_explicit_defaults_are_torchs_where_the_class_differs():
    explicit = derived_explicit("Adam", OtherDefaults)
    assert explicit == {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8}  # weight_decay agrees: not passed
    assert derived_required("Adam", OtherDefaults) == {"lr"}
    assert derived_explicit("Adam", torch.optim.Adam) == {} and not derived_required("Adam", torch.optim.Adam)


def test_group_tensors_survive_the_adapters_state_dict_round_trip():
    """A param group holding a tensor (optimi's int32 step count) gets a tensor back, not an int."""
    from conformance.adapters.torch_adapter import TorchOptimizerRun

    groups = [{"params": [np.ones(3)]}]
    run = TorchOptimizerRun(torch.optim.SGD, groups, {"lr": 0.1}, "float64", "cpu", {})
    run.optimizer.param_groups[0]["step"] = torch.tensor(3, dtype=torch.int32)
    run.load_state_dict(run.state_dict())
    step = run.optimizer.param_groups[0]["step"]
    assert isinstance(step, torch.Tensor) and step.dtype == torch.int32 and int(step) == 3


def test_keras_flat_padding_round_trips():
    pytest.importorskip("jax")
    from conformance.adapters.keras_adapter import bucket, flat, unflat

    assert [bucket(n) for n in (0, 1, 2, 3, 5, 8, 9)] == [1, 1, 2, 4, 8, 8, 16]
    for shape in [(), (0,), (3, 4), (5,), (2, 1, 3)]:
        x = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
        padded = flat(x)
        assert padded.ndim == 1 and padded.size == bucket(x.size) and not padded[x.size :].any()
        np.testing.assert_array_equal(unflat(padded, shape), x)
