"""``other_layout_mapped`` reporting a wrong second moment (its params are right): the mapped state fails."""

from __future__ import annotations

from typing import Any

from fakes import other_layout

OPTIM_CONFORMANCE = {"Adam": {"state_keys": other_layout.RENAME}}


class Adam(other_layout.Adam):
    def state_dict(self) -> dict[str, Any]:
        saved = super().state_dict()
        saved["state"] = {
            i: {k: v * 1.5 if k == "nu" else v for k, v in s.items()} for i, s in saved["state"].items()
        }
        return saved
