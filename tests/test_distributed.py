"""Distributed candidates (``--impl=torch-zero``, ``--impl=torch-fsdp``): they conform on a small selection,
a deliberately wrong sharding wrapper fails, and a rank that raises, hangs or dies fails its check with a
message naming the rank and the step, leaving no process and no listening port behind.

These runs start two rank processes each (a few seconds of torch imports): the selections stay small.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from run_conformance import ROOT, conformance, run_in_root

pytest.importorskip("torch")
pytest.importorskip("torch.distributed")

# Adam with amsgrad and a gradient spike, forloop and foreach, float64: moments in every shard (ZeRO puts the
# case's params on different ranks, FSDP2 splits each), and a resume mid-run. (Its complex twin is a known
# deviation of FSDP2, which a candidate module does not inherit.)
ADAM = "adam/ and amsgrad and float64 and not fused and not complex"


def _records(tmp_path: Path) -> list[dict]:
    return json.loads((tmp_path / "report" / "results.json").read_text())["records"]


def _children(parent: int) -> list[tuple[int, bytes]]:
    """(pid, command line) of the live processes whose parent is ``parent`` (zombies are gone already)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent and state != "Z":
            found.append((int(entry.name), cmdline))
    return found


def _rank_processes(parent: int | None = None) -> list[int]:
    """The ranks that ``parent`` (this process) started: spawned interpreters (its children), or processes
    forked by its multiprocessing fork server (its grandchildren; the fork server itself, like the resource
    tracker, lives as long as its parent and is no rank)."""
    parent = os.getpid() if parent is None else parent
    mine = []
    for pid, cmdline in _children(parent):
        if b"spawn_main" in cmdline:
            mine.append(pid)
        elif b"multiprocessing.forkserver" in cmdline:
            mine += [rank for rank, _ in _children(pid)]
    return mine


def _environment(tmp_path: Path) -> dict:
    """The run's distributed set-up in results.json."""
    return json.loads((tmp_path / "report" / "results.json").read_text())["environment"]["distributed"]


def _assert_nothing_left(tmp_path: Path) -> None:
    assert _rank_processes() == [], "rank processes outlived the run"
    ports = _environment(tmp_path)["rendezvous_ports"]
    assert ports, "the run recorded no rendezvous port"
    for port in ports:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))  # raises if something still listens there


@pytest.mark.parametrize("impl", ["torch-zero", "torch-fsdp"])
def test_sharded_torch_conforms_and_releases_its_ranks(impl, tmp_path, capsys):
    code, out = conformance(impl, ADAM, tmp_path, capsys)
    assert code == 0, out[-3000:]
    records = _records(tmp_path)
    checks = {r["check"] for r in records if r["outcome"] == "passed"}
    assert checks == {"test_trajectory", "test_single_step", "test_resume_resharded"}, checks
    report = (tmp_path / "report" / "summary.md").read_text()
    assert "## Distributed" in report and "| world size" in report and "gloo" in report
    _assert_nothing_left(tmp_path)


def test_fsdp_lists_what_it_cannot_shard(tmp_path, capsys):
    vectors = "float64 and (lbfgs/ or sparseadam/ or adafactor/ or rprop/ or sgd/ and fused)"
    # an API check of the class as a whole, and one whose cases run two variants each (a state dict saved by
    # one, loaded by the other): "not supported" whichever of them FSDP2 cannot run
    api = "test_resume_across_variants and (Adafactor: or Rprop: or SGD: and fused or Adagrad: and fused)"
    select = f"({vectors}) or ({api}) or test_invalid_argument and Rprop:lr and nan"
    code, out = conformance("torch-fsdp", select, tmp_path, capsys)
    assert code == 0, out[-3000:]
    records = _records(tmp_path)
    assert records and all(r["outcome"] == "unsupported" for r in records), out[-3000:]
    reasons = {r["optimizer"]: r["unsupported"] for r in records if "/" in r["case"]}
    for name in ("LBFGS", "Adafactor", "Rprop"):
        assert f"{name} under torch-fsdp: " in reasons[name], reasons[name]
    assert reasons["SparseAdam"] == "not supported: sparse gradients"
    assert "aten._fused_sgd_" in reasons["SGD"]
    api_reasons = {r["case"]: r["unsupported"] for r in records if r["check"] != "test_single_step"}
    assert "Rprop under torch-fsdp: " in api_reasons["Rprop:lr=nan"], api_reasons
    assert "aten._fused_sgd_" in api_reasons["SGD:fused-to-forloop"], api_reasons
    assert "aten._fused_sgd_" in api_reasons["SGD:forloop-to-fused"], api_reasons
    assert "aten._fused_adagrad_" in api_reasons["Adagrad:foreach-to-fused"], api_reasons
    assert len([c for c in api_reasons if c.startswith("Adafactor:")]) == 2, api_reasons


def test_the_distributed_checks_named_for_one_process_are_not_supported(tmp_path, capsys):
    """``pytest conformance/test_distributed.py --impl=torch``: the file is not collected in a run of the
    whole folder for a candidate of one process; named on the command line, each check is "not supported"
    with why, not an error."""
    args = ["conformance/test_distributed.py", "--impl=torch", "-q", "-p", "no:cacheprovider"]
    code = run_in_root([*args, "--report-dir", str(tmp_path / "report"), "-k", "sgd/ and float64"])
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    records = _records(tmp_path)
    assert records and all(r["outcome"] == "unsupported" for r in records), out[-3000:]
    why = "runs in one process; test_resume_resharded is for --impl=torch-zero, torch-fsdp"
    assert any(why in r["unsupported"] for r in records), records[:3]


@pytest.mark.parametrize(
    "impl, select",
    [
        ("torch-zero:sharded_mutants.zero_steps_shard_twice", ADAM),
        ("torch-fsdp:sharded_mutants.fsdp_resume_drops_shard_moments", ADAM),
    ],
)
def test_wrong_sharding_is_caught(impl, select, tmp_path, capsys):
    code, out = conformance(impl, select, tmp_path, capsys)
    assert code == 1, out[-3000:]
    assert "does not conform" in out, out[-3000:]
    _assert_nothing_left(tmp_path)


@pytest.mark.parametrize(
    "fault, expected",
    [
        ("raise", "rank 1 of 2 raised during step 3: RuntimeError: injected fault"),
        ("hang", "rank 1 of 2 hung during step 3: no answer within 15 s"),
        ("die", "rank 1 of 2 died during step 3 (exit code 3)"),
    ],
)
def test_a_faulty_rank_fails_its_check_naming_rank_and_step(fault, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPTCONF_FAULT", fault)
    # One trajectory check; a short timeout so the hung rank is given up on quickly (the ranks' own gloo
    # timeout is half of it).
    # (not the kernel-size cases: one check per fault is enough, and they would multiply the waits)
    select = "test_trajectory and adam/ and amsgrad and float64 and forloop and not kernel and not complex"
    started = time.monotonic()
    code, out = conformance(
        "torch-zero:sharded_mutants.faulty_zero", select, tmp_path, capsys, "--dist-timeout", "15"
    )
    elapsed = time.monotonic() - started
    assert code == 1, out[-3000:]
    failed = [r for r in _records(tmp_path) if r["outcome"] == "failed"]
    assert failed and all(expected in r["message"] for r in failed), out[-3000:]
    report = (tmp_path / "report" / "summary.md").read_text()
    # the report's distributed section: rank 1, what it did, at step 3
    section = report.split("## Distributed")[1]
    assert re.search(r"\|\s*1\s*\|\s*(raised|hung|died)\s*\|\s*step 3", section), report
    # Every failing check costs at most the timeout, besides the start-ups of fresh pools (5-20 s each here,
    # minutes on a loaded machine: timed by the pool and taken out, so that load cannot fail this). The
    # rest, 60 s, is collection, the reference's side and the teardown (~10 s here): it still catches a wait
    # for the default timeout (60 s) on top of the 15 s, or for the start-up's (300 s).
    starts = _environment(tmp_path)["start_s"]
    assert starts, "the run recorded no start of its pool"
    assert elapsed - sum(starts) < len(failed) * 15 + 60, (elapsed, starts)
    _assert_nothing_left(tmp_path)


def test_a_rank_that_raises_in_an_api_check_fails_it_naming_the_rank(tmp_path, capsys, monkeypatch):
    """A candidate's error raised on a rank where an API check expects none (loading a state dict) is
    reported by the harness's pool, not from the candidate's own frames: still the candidate's failure,
    never an error of the suite."""
    monkeypatch.setenv("OPTCONF_FAULT", "load")
    select = "test_resume[Adam-forloop]"
    code, out = conformance("torch-zero:sharded_mutants.faulty_zero", select, tmp_path, capsys)
    assert code == 1, out[-3000:]
    [record] = _records(tmp_path)
    assert record["outcome"] == "failed", record
    expected = "rank 1 of 2 raised during loading a state dict after step 0: RuntimeError: injected fault"
    assert expected in record["message"], record
    _assert_nothing_left(tmp_path)


@pytest.mark.parametrize(
    "symptom",
    [
        "RuntimeError: Application timeout caused pair closure",  # seen in CI when the peer hung
        "RuntimeError: [../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer",
        "RuntimeError: Timed out waiting 7500ms for recv operation to complete",
    ],
)
def test_a_rank_blocked_on_a_hung_peer_is_not_blamed(symptom):
    """The rank that waited in a collective reports gloo's timeout; the silent rank is the culprit, whichever
    of the two the harness hears from first (a race under load)."""
    from conformance.adapters.distributed.pool import Reply, _fault

    message = _fault("step 3", {0: Reply(0, False, symptom)}, {}, 2, 15.0)
    assert message is not None and message.startswith("rank 1 of 2 hung during step 3"), message
    own = _fault("step 3", {0: Reply(0, False, "RuntimeError: injected fault")}, {}, 2, 15.0)
    assert own is not None and own.startswith("rank 0 of 2 raised during step 3"), own


@pytest.fixture
def group_of_one():
    """A gloo process group of this process alone (world size 1): the engines driven in process."""
    import torch.distributed as dist

    store = dist.TCPStore("127.0.0.1", 0, 1, is_master=True)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        yield dist.group.WORLD
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("engine", ["zero", "fsdp"])
def test_a_loaded_state_dict_leaves_the_runs_kernel(engine, group_of_one):
    """A sharded run of the foreach variant goes on in foreach after loading a state dict, whichever
    variant saved it: a state dict's groups carry their own switches (a for-loop's foreach=False, the
    reference's None), and the sharding wrappers get the variant among their arguments. Both engines once
    let the loaded switch win: torch-zero's test_resume[ASGD-foreach] and [Adafactor-foreach] went on in
    the for-loop after loading (None: torch's CPU default), which rounds differently (1e-16: the bitwise
    resume failed), and torch-fsdp's single steps and cross-variant resumes ran another kernel than their
    label, and passed."""
    from conformance.adapters.distributed.engines import ENGINES, Spec
    from conformance.adapters.torch_adapter import TorchAdapter

    params = [np.linspace(-1.0, 1.0, 12).reshape(3, 4), np.linspace(0.5, 2.0, 5)]
    hyper = {"t0": 1.0, "weight_decay": 0.1}

    def grads(t: int) -> list[np.ndarray]:
        return [np.cos(p * (t + 1)) for p in params]

    def sharded(at: list[np.ndarray]) -> object:
        spec = Spec(engine, None, "ASGD", [{"params": at}], {**hyper, "foreach": True}, "float64", 1)
        return ENGINES[engine](spec, group_of_one)

    def switches(run: object) -> list[object]:
        stepping = run.optimizer.optim if engine == "zero" else run.optimizer  # ZeRO's rank-local one
        return [g["foreach"] for g in stepping.param_groups]

    forloop = TorchAdapter().make_optimizer(
        "ASGD", [{"params": params}], hyper, dtype="float64", device="cpu", variant="forloop"
    )
    uninterrupted, loaded = sharded(params), sharded(params)
    for t in range(3):
        for run in (forloop, uninterrupted, loaded):
            run.step(grads(t))
    loaded.load_state_dict(forloop.state_dict())
    loaded.step(grads(3))
    assert switches(loaded) == [True], "a for-loop's state dict switched the run to the for-loop"
    # the original symptom: the run's own state dict resumes bit for bit (foreach and for-loop ASGD differ)
    resumed = sharded(uninterrupted.params())
    resumed.load_state_dict(uninterrupted.state_dict())
    for t in range(3, 6):
        uninterrupted.step(grads(t))
        resumed.step(grads(t))
        for got, want in zip(resumed.params(), uninterrupted.params(), strict=True):
            assert np.array_equal(got, want), f"the resumed run departs after step {t + 1}"
    assert switches(resumed) == [True]


def test_a_deviation_file_inherits_torchs_and_lists_only_its_own_unused(tmp_path):
    from conformance.known_deviations import DIRECTORY, KnownDeviationError, load

    torch_own, _, _ = load("torch")
    mine = tmp_path / "mine.toml"
    mine.write_text(
        f'extends = "{DIRECTORY / "torch.toml"}"\n'
        '[[deviation]]\ntest = "test_x[*]"\nreason = "r"\nupstream = "https://example.org"\n'
    )
    deviations, tolerances, _ = load("mine", mine)
    assert [d.test for d in deviations] == [*(d.test for d in torch_own), "test_x[*]"]
    assert tolerances, "torch.toml's tolerance overrides are inherited too"
    assert [d.unused for d in deviations] == [False] * len(torch_own) + [True]
    mine.write_text('extends = "nowhere.toml"\n')
    with pytest.raises(KnownDeviationError, match=r"extends nowhere\.toml"):
        load("mine", mine)


def test_ranks_end_when_the_harness_is_killed(tmp_path):
    """SIGKILL leaves no time to clean up: the ranks notice that their parent is gone and end themselves."""
    # the harness imports the candidate module (tests/sharded_mutants) itself
    path = os.pathsep.join(filter(None, [str(ROOT / "tests"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OPTCONF_FAULT": "hang", "PYTHONPATH": path}
    command = [sys.executable, "-m", "pytest", "conformance", "--impl=torch-zero:sharded_mutants.faulty_zero"]
    command += ["-q", "-p", "no:cacheprovider", "--report-dir", str(tmp_path), "--dist-timeout", "600"]
    command += ["-k", "test_trajectory and adam/lr0.01-float64-cpu-forloop"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    harness = subprocess.Popen(command, cwd=ROOT, env=env, **quiet)
    try:
        deadline = time.monotonic() + 300
        while len(ranks := _rank_processes(harness.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(ranks) == 2, "the ranks never started"
        time.sleep(5)  # into the run: rank 1 hangs at its third step, rank 0 waits for it
    finally:
        harness.kill()
        harness.wait()
    # the ranks look for their parent every second; a loaded machine may deschedule them for many
    deadline = time.monotonic() + 60
    while (alive := [pid for pid in ranks if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not alive, f"ranks {alive} outlived the harness"


def _alive(pid: int) -> bool:
    """Listed and not a zombie (a rank that ended and that nobody has reaped yet is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
