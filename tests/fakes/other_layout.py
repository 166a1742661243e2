"""A drop-in Adam whose state dict names torch's state its own way (``mu``, ``nu``, ``nu_max``, ``count``), as
libraries with their own kernels do. Its arithmetic is torch's (it is torch's Adam inside)."""

from __future__ import annotations

from typing import Any

import torch

RENAME = {"exp_avg": "mu", "exp_avg_sq": "nu", "max_exp_avg_sq": "nu_max", "step": "count"}


class Adam(torch.optim.Adam):
    def state_dict(self) -> dict[str, Any]:
        saved = super().state_dict()
        saved["state"] = {i: {RENAME.get(k, k): v for k, v in s.items()} for i, s in saved["state"].items()}
        return saved

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        back = {v: k for k, v in RENAME.items()}
        state = {i: {back.get(k, k): v for k, v in s.items()} for i, s in state_dict["state"].items()}
        super().load_state_dict({**state_dict, "state": state})
