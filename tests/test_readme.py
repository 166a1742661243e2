"""The README's Quickstart is what CI runs: the two must never drift apart."""

import json
import re
import shlex
from pathlib import Path

import pytest
from run_conformance import run_in_root

ROOT = Path(__file__).parent.parent


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README Quickstart has no ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_is_exactly_two_commands():
    assert len(quickstart_commands()) == 2


def test_ci_runs_the_readme_test_command():
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert quickstart_commands()[1] in ci_lines


# Every command of the README, exactly as written, and how this test runs it: "run" (in this process, with the
# command's own argv and environment assignments: the checkout's code, not an installed copy), "collect"
# (pytest's --collect-only added through PYTEST_ADDOPTS: the full run takes minutes; its options and selection
# are still checked), or why it cannot run here. A command added to the README must be classified here.
HOW = {
    "python -m pip install -e '.[harness,torch]' && python -m pytest conformance --impl=torch": "collect",
    "python -m pip install -e '.[dev,optax,keras]' && ruff check . && python -m pytest": (
        "is .ci/run (tests/ itself)"
    ),
    "PYTHONPATH=examples pytest conformance --impl=numpy_sgd_adapter:NumpySGDAdapter": "run",
    "python -m pytest --pyargs conformance --impl=my-jax-optim": (
        "my-jax-optim is the README's placeholder for a user's adapter; tests/test_install.py runs "
        "--pyargs conformance from an installed wheel"
    ),
    "pytest --pyargs conformance --impl=torch -d --tx 4*ssh=user@host1 --tx 4*ssh=user@host2": (
        "needs remote hosts; tests/test_parallel.py runs the suite over xdist workers on this machine"
    ),
    "optconf report reports/latest/results.json --out DIR": "run",
    "optconf report --diff A/results.json B/results.json": "run",
    "pytest conformance --impl=torch --bench --report-dir reports/torch-2.13-cpu": "collect",
    "optconf vectors generate": "rewrites the project's vectors; tests/test_vectors.py runs it with --dir",
    "optconf vectors verify": "run",
    "optconf vectors list adam": "run",
}


def readme_commands() -> list[str]:
    """Every line of the README's ``sh`` blocks, without its trailing comment."""
    readme = (ROOT / "README.md").read_text()
    lines = [line for block in re.findall(r"```sh\n(.*?)```", readme, re.S) for line in block.splitlines()]
    return [line.split("  #")[0].strip() for line in lines if line.strip()]


def test_every_readme_command_is_classified():
    assert sorted(readme_commands()) == sorted(HOW)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A user's folder: a previous run's results in reports/latest (and A/, B/ to compare); pytest runs from
    the checkout, where `conformance` is."""
    import report_data

    for folder in ("reports/latest", "A", "B"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "results.json").write_text(json.dumps(report_data.mixed()))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_command(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collect: bool) -> int:
    """``command`` with its argv and ``VAR=value`` prefixes, in this process (pytest or optconf)."""
    from conformance.cli import main as optconf

    words = shlex.split(command.split(" && ")[-1])
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        if name == "PYTHONPATH":
            monkeypatch.syspath_prepend(str(ROOT / value))
        else:
            monkeypatch.setenv(name, value)
    if words[0] == "optconf":
        return optconf(words[1:])
    args = words[3:] if words[:3] == ["python", "-m", "pytest"] else words[1:]
    assert words[0] in ("pytest", "python"), command
    # the report goes to tmp_path (a user's run would write reports/latest/ in the checkout)
    extra = ["-p", "no:cacheprovider", "--report-dir", str(tmp_path / "report"), "-q"]
    monkeypatch.setenv("PYTEST_ADDOPTS", " ".join(extra + (["--collect-only"] if collect else [])))
    return run_in_root(args)


@pytest.mark.parametrize("command", [c for c, how in HOW.items() if how in ("run", "collect")])
def test_readme_command_runs_as_written(command, workdir, monkeypatch, capsys):
    code = run_command(command, workdir, monkeypatch, collect=HOW[command] == "collect")
    out = capsys.readouterr()
    assert code == 0, out.out[-3000:] + out.err[-3000:]


def test_readme_python_example_runs():
    readme = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"```python\n(.*?)```", readme, re.S)
    exec(compile(block, "README.md", "exec"), {})


@pytest.mark.parametrize(
    "select, prefixes",
    [('"[adam/ and float32"', ("adam/",)), ('"[adam] or [adam: or [adam-"', ("adam]", "adam:", "adam-"))],
)
def test_readme_selections_select_what_they_say(select, prefixes, capsys):
    readme = (ROOT / "README.md").read_text()
    assert f"-k {select}" in readme
    args = ["conformance", "--impl=torch", "-q", "-p", "no:cacheprovider", "--collect-only"]
    code = run_in_root([*args, "-k", select.strip('"')])
    assert code == 0
    ids = [line.split("[", 1)[1].lower() for line in capsys.readouterr().out.splitlines() if "::" in line]
    assert ids and all(i.startswith(prefixes) for i in ids), [i for i in ids if not i.startswith(prefixes)]
