"""Golden vectors: reproducible to the byte, verified by hash and by regeneration, safe to load."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conformance.catalogue import optimizer_cases
from conformance.cli import main
from conformance.generate import vector_files, versions
from conformance.vectors import DEFAULT_DIR, VectorError, Vectors, write_atomically

# Vectors must stay small enough to ship in the repository (issue: <= 10 MB).
MAX_BYTES = 10 * 1024 * 1024


def tree(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


def test_two_generations_are_identical_bytes(tmp_path):
    assert main(["vectors", "generate", "--dir", str(tmp_path / "a")]) == 0
    assert main(["vectors", "generate", "--dir", str(tmp_path / "b")]) == 0
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)


def test_the_committed_vectors_verify_and_fit_the_size_budget():
    assert main(["vectors", "verify", "--dir", str(DEFAULT_DIR)]) == 0
    assert sum(len(v) for v in tree(DEFAULT_DIR).values()) <= MAX_BYTES


def test_generation_replaces_the_directory_atomically(tmp_path, monkeypatch):
    target = tmp_path / "vectors"
    files = vector_files([c for c in optimizer_cases("sgd/")])
    write_atomically(target, files, versions())
    before = tree(target)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    # A failure while the new tree is being written leaves the old one untouched and no debris behind.
    monkeypatch.setattr(Path, "write_bytes", fail)
    with pytest.raises(OSError):
        write_atomically(target, files, versions())
    assert tree(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors"]


def test_an_object_array_cannot_be_loaded(tmp_path):
    # A vector file holding a pickled object array (which could run code when unpickled) is refused.
    directory = tmp_path / "vectors"
    shutil.copytree(DEFAULT_DIR, directory)
    buffer = io.BytesIO()
    np.savez(buffer, **{"sgd/lr0.1/init/0": np.array([{"evil": 1}], dtype=object)})
    (directory / "optim" / "sgd.npz").write_bytes(buffer.getvalue())
    manifest = json.loads((directory / "manifest.json").read_text())

    manifest["files"]["optim/sgd.npz"]["sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(VectorError, match=r"sgd\.npz.*unreadable"):
        Vectors(directory).arrays("sgd/lr0.1")
    assert zipfile.is_zipfile(directory / "optim" / "sgd.npz")


@pytest.mark.parametrize("damage", ["edit", "truncate", "delete", "edit-json"])
def test_verify_names_the_damaged_file_and_case_in_one_line(damage, tmp_path, capsys):
    directory = tmp_path / "vectors"
    shutil.copytree(DEFAULT_DIR, directory)
    npz, described = directory / "optim" / "sgd.npz", directory / "optim" / "sgd.json"
    if damage == "edit":
        data = bytearray(npz.read_bytes())
        data[len(data) // 3] ^= 0xFF
        npz.write_bytes(bytes(data))
    elif damage == "truncate":
        npz.write_bytes(npz.read_bytes()[:500])
    elif damage == "delete":
        npz.unlink()
    else:
        cases = json.loads(described.read_text())
        cases["sgd/lr0.1"]["hyper"]["lr"] = 0.2
        described.write_text(json.dumps(cases))
    assert main(["vectors", "verify", "--dir", str(directory)]) == 1
    problems = [line for line in capsys.readouterr().err.splitlines() if "sgd." in line]
    assert len(problems) == 1, problems
    assert "sgd/" in problems[0]
    if damage == "edit-json":
        assert "case(s) sgd/lr0.1 differ" in problems[0]
