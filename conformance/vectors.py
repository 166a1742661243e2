"""Golden vectors on disk: deterministic writing, atomic replacement, hash-checked and pickle-free reading.

Layout of a vectors directory::

    manifest.json          format version, versions of torch/refimpl/numpy, each file's sha256 and cases
    optim/<optimizer>.json the cases' descriptions (hyperparameters, groups, steps, checkpoints, ...)
    optim/<optimizer>.npz  their arrays, keyed ``<case id>/<name>`` (float64 or complex128)
    sched/<scheduler>.json scheduler cases with their expected lr (and momentum) sequences

Nothing here can execute code from a vector file: JSON is parsed as data, ``.npz`` is read with
``allow_pickle=False``, and a file whose sha256 differs from the manifest is refused before it is parsed.
Every problem is a ``VectorError`` whose message is one line naming the file (and case) at fault.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from conformance import schemas

FORMAT_VERSION = 1
# The torch version whose behaviour the reference specifies.
TORCH_VERSION = "2.13.0"
# The golden vectors are package data (installed with the wheel); a real directory, as pip installs it.
DEFAULT_DIR = Path(str(importlib.resources.files("conformance") / "golden"))
VERIFY_HINT = "run `optconf vectors verify` for details, `optconf vectors generate` to rebuild"


class VectorError(Exception):
    """A missing, corrupt or edited vector file. The message is one line naming the file and case."""


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An .npz archive whose bytes depend only on the arrays: sorted names, fixed timestamps.

    ``np.savez`` stamps each member with the current time, so two generations would differ in bytes.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            member = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(member, "w") as handle:
                np.lib.format.write_array(handle, np.asarray(arrays[name]), allow_pickle=False)
    return buffer.getvalue()


# A list of numbers as json.dumps(indent=1) lays it out, one per line. Strings cannot hold a raw newline, so
# the pattern never matches inside one.
_NUMBER = r"-?[0-9][-+.0-9eE]*"
_NUMBER_LIST = re.compile(rf"\[\n\s*({_NUMBER}(?:,\n\s*{_NUMBER})*)\n\s*\]")


def json_bytes(data: Any, *, compact_rows: bool = False) -> bytes:
    """Deterministic JSON; ``compact_rows`` writes each list of numbers on one line (the scheduler files: one
    line per epoch instead of one per value, a third of the size and a readable diff)."""
    text = json.dumps(data, indent=1, sort_keys=True, allow_nan=False)
    if compact_rows:
        text = _NUMBER_LIST.sub(lambda m: "[" + ",".join(x.strip() for x in m[1].split(",")) + "]", text)
    return (text + "\n").encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class VectorFile:
    """One file to write: its path inside the vectors directory, its bytes, and the case ids it holds."""

    path: str
    data: bytes
    cases: list[str]


def write_atomically(directory: Path, files: list[VectorFile], versions: Mapping[str, str]) -> int:
    """Replace ``directory`` with a new vectors tree; return its size in bytes.

    The tree is written to a temporary sibling, then swapped in by two renames: the old tree aside to
    ``.<name>.old``, the new one into place. An interruption between the two leaves no ``directory`` but a
    complete ``.<name>.old``, which ``recover`` (run first here, and by ``verify``) puts back, so a reader
    sees the old vectors or the new ones, never a half-written or missing directory for long.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    recover(directory)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-", dir=directory.parent))
    try:
        # mkdtemp makes the folder private (0700); vectors are for everyone who can read the parent
        os.chmod(staging, 0o777 & ~_umask())
        manifest = {
            "format_version": FORMAT_VERSION,
            **versions,
            "files": {f.path: {"sha256": sha256(f.data), "cases": f.cases} for f in files},
        }
        for f in [*files, VectorFile("manifest.json", json_bytes(manifest), [])]:
            target = staging / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.data)
        old = _aside(directory)
        if old.exists():
            shutil.rmtree(old)
        if directory.exists():
            os.replace(directory, old)
        os.replace(staging, directory)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def _aside(directory: Path) -> Path:
    return directory.with_name(f".{directory.name}.old")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def recover(directory: Path) -> bool:
    """Undo an interrupted swap: ``directory`` missing and its previous tree set aside is put back (``True``
    when it was). A leftover aside tree next to a complete ``directory`` is removed."""
    directory, old = Path(directory), _aside(Path(directory))
    if not old.is_dir():
        return False
    if directory.exists():
        shutil.rmtree(old, ignore_errors=True)
        return False
    os.replace(old, directory)
    return True


class Vectors:
    """Read access to a vectors directory. Each file is hash-checked once, before it is parsed."""

    def __init__(self, directory: Path | str = DEFAULT_DIR) -> None:
        self.directory = Path(directory)
        manifest_path = self.directory / "manifest.json"
        if not manifest_path.is_file():
            aside = _aside(self.directory)
            hint = (
                f"an interrupted `optconf vectors generate` left the previous vectors in {aside}: run "
                "`optconf vectors verify --dir ...` to put them back"
                if aside.is_dir()
                else VERIFY_HINT
            )
            raise VectorError(f"{manifest_path}: missing; {hint}")
        try:
            manifest_bytes = manifest_path.read_bytes()
            # Names the spec a report was made with: two runs with the same digest used the same vectors.
            self.digest = sha256(manifest_bytes)
            self.manifest = json.loads(manifest_bytes)
        except (ValueError, OSError) as e:
            raise VectorError(f"{manifest_path}: not a valid manifest ({e}); {VERIFY_HINT}") from None
        version = self.manifest.get("format_version") if isinstance(self.manifest, dict) else None
        if version != FORMAT_VERSION:
            raise VectorError(
                f"{manifest_path}: format version {version!r}, this harness reads {FORMAT_VERSION}; "
                + VERIFY_HINT
            )
        if bad := schemas.problem(self.manifest, schemas.MANIFEST):
            raise VectorError(f"{manifest_path}: not a valid manifest ({bad}); {VERIFY_HINT}")
        files = self.manifest["files"]
        self.case_file = {case: path for path, entry in files.items() for case in entry["cases"]}
        self._json: dict[str, Any] = {}
        self._npz: dict[str, dict[str, np.ndarray]] = {}
        # The rebuilt arrays of generated cases (conformance/generated.py), by case id.
        self.generated: dict[str, dict[str, np.ndarray]] = {}
        self._valid: set[tuple[str, str]] = set()

    def _checked_bytes(self, path: str, case: str | None = None) -> bytes:
        full = self.directory / path
        where = f"{full}" + (f" (case {case})" if case else "")
        if not full.is_file():
            raise VectorError(f"{where}: missing; {VERIFY_HINT}")
        data = full.read_bytes()
        expected = self.manifest["files"].get(path, {}).get("sha256")
        if sha256(data) != expected:
            raise VectorError(
                f"{where}: sha256 differs from manifest.json (edited or truncated); {VERIFY_HINT}"
            )
        return data

    def check_hashes(self) -> None:
        """Every listed file is present and unedited (raises the first ``VectorError``): a run refuses
        corrupt vectors up front, in one line, instead of failing case by case."""
        for path, entry in self.manifest["files"].items():
            self._checked_bytes(
                path, ", ".join(entry["cases"][:3]) + (", ..." if len(entry["cases"]) > 3 else "")
            )

    def case_ids(self) -> list[str]:
        return sorted(self.case_file)

    def describe(self, case: str) -> dict[str, Any]:
        """The JSON description of ``case`` (with expected sequences, for scheduler cases)."""
        path = self._path_of(case)
        json_path = path if path.endswith(".json") else path[: -len(".npz")] + ".json"
        if json_path not in self._json:
            try:
                self._json[json_path] = json.loads(self._checked_bytes(json_path, case))
            except ValueError as e:
                raise VectorError(f"{self.directory / json_path} (case {case}): invalid JSON ({e})") from None
            if not isinstance(self._json[json_path], dict):
                raise VectorError(f"{self.directory / json_path}: not a JSON object of cases; {VERIFY_HINT}")
        try:
            meta = self._json[json_path][case]
        except KeyError:
            raise VectorError(f"{self.directory / json_path}: no case {case}; {VERIFY_HINT}") from None
        if (case, json_path) not in self._valid:
            kind = meta.get("kind", "optimizer") if isinstance(meta, dict) else "optimizer"
            schema = schemas.CASE_SCHEMAS.get(kind)
            bad = (
                schemas.problem(meta, schema)
                if schema
                else f"kind: {kind!r} is not one of {', '.join(schemas.CASE_SCHEMAS)}"
            )
            if bad is None and meta["id"] != case:
                bad = f"id: {meta['id']!r}, listed as {case!r}"
            if bad:
                raise VectorError(f"{self.directory / json_path} (case {case}): {bad}; {VERIFY_HINT}")
            self._valid.add((case, json_path))
        return meta

    def validate(self) -> None:
        """Every case's description against its schema (raises the first ``VectorError``): a run refuses
        malformed vectors up front rather than as a traceback in the middle of collection."""
        for case in self.case_ids():
            self.describe(case)

    def arrays(self, case: str) -> dict[str, np.ndarray]:
        """The arrays of an optimizer case, keyed without the case prefix."""
        path = self._path_of(case)
        if path not in self._npz:
            data = self._checked_bytes(path, case)
            try:
                with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                    self._npz[path] = {name: _read_only(npz[name]) for name in npz.files}
            except (ValueError, OSError, zipfile.BadZipFile) as e:
                raise VectorError(f"{self.directory / path} (case {case}): unreadable ({e})") from None
        prefix = case + "/"
        found = {k[len(prefix) :]: v for k, v in self._npz[path].items() if k.startswith(prefix)}
        if not found:
            raise VectorError(f"{self.directory / path}: no arrays for case {case}; {VERIFY_HINT}")
        return found

    def _path_of(self, case: str) -> str:
        try:
            return self.case_file[case]
        except KeyError:
            raise VectorError(f"{self.directory / 'manifest.json'}: no case {case}; {VERIFY_HINT}") from None


def _read_only(array: np.ndarray) -> np.ndarray:
    """The cache is shared by every check: an array written through by mistake raises instead of changing
    what later checks compare against (the harness hands candidates copies)."""
    array.flags.writeable = False
    return array
