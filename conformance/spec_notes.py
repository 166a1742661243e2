"""Spec notes: the places where torch's code and its documentation disagree, as data
(``conformance/spec_notes.toml``), and the check that tells a user their candidate follows the documentation.

The spec follows torch's code (the reference records each disagreement in its docstring). A candidate
written from the documentation fails such a case, and a bare "does not conform" would send its author
looking for a bug. So after a failure, for every note about a class the case runs that has a documented
variant (``refimpl.documented``), the case's expected values are recomputed with that variant and the
candidate is checked against them with the same check; if it conforms to the documented variant, the
failure message says so and names the note. Every note is listed in the report's section of its own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import refimpl.documented
from conformance.adapters.base import NotSupported
from conformance.adapters.refimpl_adapter import RefimplAdapter
from conformance.runner import CandidateError, LoadedCase

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

NOTES_FILE = Path(__file__).parent / "spec_notes.toml"
REQUIRED = ("id", "subject", "documented", "actual", "source", "docs", "reference")


class SpecNoteError(Exception):
    """A malformed spec-notes file (one line naming the file and the note)."""


@dataclass(frozen=True)
class SpecNote:
    id: str
    subject: str
    documented: str
    actual: str
    source: str
    docs: str
    reference: str
    variant: str | None = None

    def message(self) -> str:
        """The lines a failure message adds when the candidate matches the documented variant."""
        return (
            f"follows torch's documentation instead of its code (spec note {self.id}): the documentation "
            f"says: {self.documented} torch does: {self.actual} The spec is torch's behaviour, so this is a "
            f"failure; code: {self.source}, docs: {self.docs}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def load(path: Path = NOTES_FILE) -> tuple[SpecNote, ...]:
    """The notes, checked: every field present, ids unique, every variant a class of refimpl.documented."""
    try:
        entries = tomllib.loads(Path(path).read_text()).get("note", [])
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise SpecNoteError(f"{path}: unreadable ({e})") from None
    notes = []
    for n, entry in enumerate(entries, 1):
        missing = [k for k in REQUIRED if not entry.get(k)]
        unknown = sorted(set(entry) - {*REQUIRED, "variant"})
        if missing or unknown:
            raise SpecNoteError(f"{path}: note #{n} lacks {missing} or has unknown fields {unknown}")
        if entry.get("variant") and not hasattr(refimpl.documented, entry["variant"]):
            raise SpecNoteError(f"{path}: note {entry['id']}: refimpl.documented has no {entry['variant']}")
        notes.append(SpecNote(**entry))
    ids = [note.id for note in notes]
    if len(set(ids)) != len(ids):
        raise SpecNoteError(f"{path}: duplicate note ids {sorted({i for i in ids if ids.count(i) > 1})}")
    return tuple(notes)


class DocumentedAdapter(RefimplAdapter):
    """The reference with one scheduler class replaced by its documented variant."""

    def __init__(self, name: str, cls: type) -> None:
        self.schedulers = {**RefimplAdapter.schedulers, name: cls}


def _subjects(meta: dict[str, Any]) -> set[str]:
    """The torch classes a vector case runs: its optimizer, or every scheduler class it builds."""
    from conformance.schedules import scheduler_classes

    if meta.get("kind") == "scheduler":
        return scheduler_classes(meta)
    return {meta.get("optimizer") or meta.get("swa") or ""}


@cache
def _catalogue() -> dict[str, Any]:
    from conformance.catalogue import optimizer_cases, scheduler_cases

    return {case.id: case for case in [*optimizer_cases(), *scheduler_cases()]}


def documented_case(note: SpecNote, case: Any) -> Any:
    """``case`` with the expected values of the note's documented variant (same inputs), or ``None`` where
    the case is not in this catalogue (vectors from another version) or the variant refuses it."""
    from conformance.generate import run_optim_case, run_sched_case
    from conformance.schedules import LoadedSchedule

    source = _catalogue().get(case.id)
    if source is None or note.variant is None:
        return None
    cls = getattr(refimpl.documented, note.variant)
    try:
        if case.meta.get("kind") == "scheduler":
            meta = run_sched_case(source, DocumentedAdapter(note.subject, cls))
            return LoadedSchedule(case.id, {**case.meta, "expected": meta["expected"]})
        record = run_optim_case(source, optimizer_class=cls)
    except (CandidateError, ValueError, RuntimeError, ArithmeticError):
        return None
    return LoadedCase(case.id, {**case.meta, **record.meta}, record.arrays)


def followed_documentation(
    adapter: Any, check: Callable[..., Any], case: Any, dtype: str, device: str, variant: str
) -> SpecNote | None:
    """The note whose documented variant the candidate conforms to on ``case`` (by ``check``, at the same
    tolerance), if any: what to tell the user of a candidate that failed ``case``."""
    for note in load():
        if note.variant is None or note.subject not in _subjects(case.meta):
            continue
        documented = documented_case(note, case)
        if documented is None:
            continue
        try:
            result = check(adapter, documented, dtype, device, variant)
        except (CandidateError, NotSupported):
            continue
        if result.passed:
            return note
    return None
