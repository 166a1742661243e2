"""The suite as a user gets it: the wheel built from this tree, installed into a fresh virtual environment,
run from an empty directory that is not this checkout.

The environment sees the machine's packages (``--system-site-packages``: torch, numpy, pytest, ... are
already there, and the install is offline), but the suite itself comes only from the wheel: every run checks
that ``conformance`` is imported from the environment, not from this checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conformance import __version__
from conformance.vectors import DEFAULT_DIR

ROOT = Path(__file__).resolve().parent.parent
# The README promises a wheel of at most 5 MB (the golden vectors are most of it).
MAX_WHEEL_BYTES = 5 * 2**20
ADAPTER_PACKAGE = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "throwaway-adapter"
version = "0"

[project.entry-points."optim_conformance.adapters"]
numpy-sgd = "numpy_sgd_adapter:NumpySGDAdapter"
"""
UNRELATED_CONFTEST = """\
from hypothesis import settings

settings.register_profile("ci", max_examples=3)


def pytest_addoption(parser):
    parser.addoption("--device", default="cpu")  # a name the suite also uses: it must stay the user's
"""
UNRELATED_TEST = """\
import sys

from hypothesis import settings


def test_own_option(request):
    assert request.config.getoption("--device") == "meta"


def test_nothing_of_the_suite_loaded():
    assert not {"conformance.plugin", "conformance.vectors", "torch"} & set(sys.modules)
    assert settings.get_profile("ci").max_examples == 3
"""


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The wheel and sdist of a copy of this tree (the checkout itself stays untouched)."""
    base = tmp_path_factory.mktemp("build")
    source = base / "source"
    ignore = shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".venv", "reports", ".*_cache", ".hypothesis"
    )
    shutil.copytree(ROOT, source, ignore=ignore)
    dist = base / "dist"
    wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    ok(run([*wheel, "-w", str(dist), str(source)], base))
    build_sdist = f"from setuptools import build_meta; build_meta.build_sdist({str(dist)!r})"
    ok(run([sys.executable, "-c", build_sdist], source))
    adapter = base / "throwaway-adapter"  # a user's package registering the example adapter
    adapter.mkdir()
    (adapter / "pyproject.toml").write_text(ADAPTER_PACKAGE)
    shutil.copy(ROOT / "examples" / "numpy_sgd_adapter.py", adapter)
    ok(run([*wheel, "-w", str(base / "adapter"), str(adapter)], base))
    return {
        "wheel": next(dist.glob("*.whl")),
        "sdist": next(dist.glob("*.tar.gz")),
        "adapter": next((base / "adapter").glob("*.whl")),
        "base": base,
    }


@pytest.fixture(scope="module")
def venv(built: dict[str, Path]) -> Path:
    """A fresh environment with the suite's wheel and the throw-away adapter package installed."""
    env = built["base"] / "venv"
    ok(run([sys.executable, "-m", "venv", "--system-site-packages", str(env)], built["base"]))
    python = env / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed"]
    ok(run([*pip, str(built["wheel"]), str(built["adapter"])], built["base"]))
    return python


def clean_env() -> dict[str, str]:
    """The user's environment: nothing that points Python at this checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}


def package_files(names: list[str], prefix: str) -> set[str]:
    return {name[len(prefix) :] for name in names if name.startswith(prefix)}


def test_wheel_and_sdist_carry_the_vectors_and_deviations(built):
    expected = {p.relative_to(DEFAULT_DIR.parent).as_posix() for p in DEFAULT_DIR.rglob("*") if p.is_file()}
    manifest = json.loads((DEFAULT_DIR / "manifest.json").read_text())
    assert {f"golden/{path}" for path in manifest["files"]} | {"golden/manifest.json"} == expected
    # Every data file of the package that is not Python (deviation files, templates, spec notes) ships too.
    expected |= {
        p.relative_to(ROOT / "conformance").as_posix()
        for p in (ROOT / "conformance").rglob("*")
        if p.is_file() and p.suffix in (".toml", ".j2")
    }
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = wheel.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "[pytest11]\noptim_conformance = conformance.options" in wheel.read(entry_points).decode()
    assert expected <= package_files(names, "conformance/")
    with tarfile.open(built["sdist"]) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        assert expected <= package_files(sdist.getnames(), f"{top}/conformance/")
    assert built["wheel"].stat().st_size <= MAX_WHEEL_BYTES, built["wheel"].stat().st_size


def absolute_paths(text: str, machine: list[Path]) -> list[str]:
    return [str(p) for p in machine if str(p) in text]


@pytest.mark.parametrize(
    ("impl", "select"),
    [("torch", "sgd/ and float64 and trajectory"), ("numpy-sgd", "sgd/ and (trajectory or single_step)")],
)
def test_installed_suite_runs_from_any_directory(venv, tmp_path, impl, select):
    imported = [str(venv), "-c", "import conformance; print(conformance.__file__)"]
    where = Path(ok(run(imported, tmp_path, clean_env())).strip())
    assert where.is_relative_to(venv.parent.parent) and not where.is_relative_to(ROOT), where
    command = [str(venv), "-m", "pytest", "--pyargs", "conformance", f"--impl={impl}", "-k", select]
    out = ok(run([*command, "-q", "-p", "no:cacheprovider"], tmp_path, clean_env()))
    assert re.search(r"optim-conformance: \S+: \d+ passed", out), out
    report = tmp_path / "reports" / "latest"
    data = json.loads((report / "results.json").read_text())
    environment = data["environment"]
    assert environment["candidate"] == impl
    assert environment["package_version"] == __version__
    assert environment["vectors"] == "conformance/golden"
    assert environment["vectors_manifest_sha256"]
    assert environment["command"].startswith(f"python -m pytest --pyargs conformance --impl={impl}")
    assert sum(r["outcome"] == "passed" for r in data["records"]) > 0
    machine = [tmp_path, venv.parent.parent, ROOT, Path.home(), Path(sys.prefix)]
    for name in ("results.json", "summary.md", "index.html"):
        assert not absolute_paths((report / name).read_text(), machine), name


def test_installed_plugin_is_inert_in_unrelated_sessions(venv, tmp_path):
    (tmp_path / "conftest.py").write_text(UNRELATED_CONFTEST)
    (tmp_path / "test_mine.py").write_text(UNRELATED_TEST)

    def session(*extra: str) -> str:
        args = [str(venv), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--device", "meta", *extra]
        return re.sub(r" in [0-9.]+s", "", ok(run(args, tmp_path, clean_env())))

    def listing() -> list[str]:
        paths = (p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
        return sorted(str(p) for p in paths if "__pycache__" not in p.parts)

    without = session("-p", "no:optim_conformance")
    written = listing()  # what pytest and the other plugins of the environment write
    assert session() == without
    assert listing() == written  # no report, nothing written by the suite


# An absolute path on a POSIX or Windows machine: what a report made anywhere must not carry.
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/-])(?:/(?:work|root|home|tmp|usr|opt|var|Users|private)/|[A-Z]:\\\\)")


def test_committed_reports_carry_no_absolute_path():
    reports = [p for p in (ROOT / "reports").rglob("*") if p.is_file() and "latest" not in p.parts]
    assert reports, "no committed report"
    for path in reports:
        found = ABSOLUTE_PATH.findall(path.read_text(errors="replace"))
        assert not found, f"{path.relative_to(ROOT)} names {found[:3]}"
