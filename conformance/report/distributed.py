"""The report's section on a distributed candidate: how it ran (sharding, world size, backend, resharded
resumes) and, for each failing check, where a rank went wrong: the rank that raised, hung, died or disagreed
with rank 0, and when; or, where every rank held the same values, the first step beyond tolerance."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The pool's and the run's fault messages (conformance/adapters/distributed): "rank 1 of 2 hung during step
# 3: ...", "rank 1 of 2 diverged from rank 0 after step 3: ...".
FAULT = re.compile(
    r"rank ([\d, ]+) of (\d+) (raised|hung|died|diverged from rank 0) (?:during|after) ([^:(]+)"
)
SETUP = (
    ("sharding", "sharding"),
    ("world_size", "world size"),
    ("backend", "backend"),
    ("resharded_resume", "resharded resume"),
    ("timeout_s", "timeout per command (s)"),
)
HEADERS = ("test", "rank", "what", "when")


@dataclass
class Section:
    setup: list[tuple[str, str]]
    rows: list[tuple[str, str, str, str]]


def where(record: dict[str, Any]) -> tuple[str, str, str]:
    """(rank, what, when) of a failing record."""
    found = FAULT.search(record.get("message") or "")
    if found:
        ranks, _, what, when = found.groups()
        return ranks.strip(), what, when.strip()
    first = (record.get("metrics") or {}).get("first_bad_step")
    return "all ranks agree", "beyond tolerance", f"step {first}" if first is not None else "?"


def section(data: dict[str, Any]) -> Section | None:
    setup = data["environment"].get("distributed")
    if not isinstance(setup, dict):
        return None
    rows = [
        (str(setup[key]) if not isinstance(setup[key], list) else ", ".join(map(str, setup[key])), label)
        for key, label in SETUP
        if key in setup
    ]
    failing = [r for r in data["records"] if r.get("outcome") in ("failed", "xfailed") and r.get("message")]
    return Section(
        [(label, value) for value, label in rows],
        [(str(r.get("test", "?")), *where(r)) for r in failing],
    )
