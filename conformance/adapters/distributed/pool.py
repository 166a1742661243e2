"""A persistent group of worker processes, one per rank, that the harness drives in lock step.

The harness process owns the rendezvous: a ``TCPStore`` on 127.0.0.1 bound to port 0 (the OS picks a free
port, so two runs on one machine, or xdist's workers, never race for one), which the workers join to form a
``gloo`` process group. The group lives for the whole session and serves every check (starting N
interpreters that import torch costs seconds; a step costs microseconds).

Every command goes to every rank (they run collectives together) and every rank answers. A rank that raises,
hangs (no answer within the timeout) or dies (its process ends) turns into a ``RankFault`` that names the
rank, what it was doing (``step 3``) and how it failed. After a fault the ranks' collectives may be out of
step, so the group is torn down (every worker ended, the store closed) and the next check starts a fresh one.
Workers end themselves if the harness dies (their pipe closes, or their parent changes), so no rank outlives
the run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from conformance.adapters.base import CandidateFault

# How long N fresh interpreters may take to import torch and join the group. Measured: 5-20 s on this
# project's loaded 2-core machine; far above that, something is wrong (a firewall, a hung import).
START_TIMEOUT_S = 300.0
# A rank that raised its own error while another did not answer: how long the others get to answer (the
# same error, if torch rejected an argument on every rank) before the run is declared out of step. Ranks
# blocked in a collective on the one that raised answer only at the gloo timeout; the verdict names the rank
# that raised either way, so this bounds the wait, not the attribution. A collective's timeout on a waiting
# rank (a symptom) starts no grace: the silent peer, the likely culprit, keeps the whole timeout to answer.
GRACE_S = 5.0
# How long a killed rank (SIGKILL: it cannot refuse) may take to be reaped. Seconds normally; generous
# because a loaded machine deschedules processes, and a rank still listed afterwards is a leak.
REAP_S = 60.0


class RankFault(CandidateFault):
    """A rank raised, hung or died; the message names the rank and what it was doing."""


@dataclass
class Reply:
    rank: int
    ok: bool
    value: Any


class WorkerPool:
    """``world_size`` worker processes on the ``backend`` process group, answering ``call`` together."""

    def __init__(self, world_size: int, backend: str, timeout_s: float) -> None:
        self.world_size, self.backend, self.timeout_s = world_size, backend, timeout_s
        self.processes: list[Any] = []
        self.connections: list[Connection] = []
        self.store: Any = None
        self.port: int | None = None
        # Every port this pool's rendezvous has used (the tests check none is left listening), and how long
        # each start took (spawning the ranks, importing torch, joining the group).
        self.ports: list[int] = []
        self.start_seconds: list[float] = []

    @property
    def running(self) -> bool:
        return bool(self.processes)

    def start(self) -> None:
        import torch.distributed as dist

        from conformance.adapters.distributed import worker

        started = time.monotonic()
        self.store = dist.TCPStore("127.0.0.1", 0, None, is_master=True, wait_for_workers=False)
        self.port = self.store.port
        self.ports.append(self.port)
        context = _context()
        for rank in range(self.world_size):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=worker.serve,
                args=(
                    rank,
                    self.world_size,
                    self.backend,
                    self.port,
                    theirs,
                    self.timeout_s / 2,
                    os.getpid(),
                    dict(os.environ),  # the harness's now (a forked rank has the fork server's)
                ),
                name=f"optconf-rank{rank}",
                daemon=True,
            )
            process.start()
            theirs.close()
            self.processes.append(process)
            self.connections.append(mine)
        try:
            self._gather("joining the process group", START_TIMEOUT_S)
        except RankFault:
            self.close()
            raise
        finally:
            self.start_seconds.append(time.monotonic() - started)

    def call(self, what: str, op: str, *args: Any) -> list[Any]:
        """Run ``op`` on every rank; their answers in rank order. ``what`` names the moment for a fault's
        message (``step 3``)."""
        if not self.running:
            self.start()
        try:
            for connection in self.connections:
                connection.send((op, args))
        except (BrokenPipeError, OSError):
            pass  # a dead rank: _gather names it
        return self._gather(what, self.timeout_s)

    def _gather(self, what: str, timeout_s: float) -> list[Any]:
        replies: dict[int, Reply] = {}
        dead: dict[int, int | None] = {}
        deadline = time.monotonic() + timeout_s
        while len(replies) + len(dead) < self.world_size:
            remaining = deadline - time.monotonic()
            if any(not r.ok and not _collective_failure(r.value) for r in replies.values()):
                remaining = min(remaining, GRACE_S)  # the others may be blocked on the one that raised
            waiting = {c: r for r, c in enumerate(self.connections) if r not in replies and r not in dead}
            sentinels = {self.processes[r].sentinel: r for r in waiting.values()}
            ready = wait([*waiting, *sentinels], timeout=max(remaining, 0))
            if not ready:
                break
            for handle in ready:
                if handle in waiting:
                    rank = waiting[handle]
                    try:
                        ok, value = handle.recv()
                    except (EOFError, OSError):
                        continue  # its sentinel follows
                    replies[rank] = Reply(rank, ok, value)
                else:
                    rank = sentinels[handle]
                    if rank not in replies:
                        self.processes[rank].join(1)
                        dead[rank] = self.processes[rank].exitcode
        fault = _fault(what, replies, dead, self.world_size, timeout_s)
        if fault is not None:
            healthy = not dead and len(replies) == self.world_size and _same_error(replies)
            if not healthy:  # ranks out of step: start over for the next check
                self.close()
            raise RankFault(fault)
        return [replies[r].value for r in range(self.world_size)]

    def close(self) -> None:
        """End every worker (politely, then by force) and close the rendezvous: no process, no port left."""
        for connection in self.connections:
            with contextlib.suppress(BrokenPipeError, OSError):
                connection.send(("exit", ()))
        for process in self.processes:
            process.join(2)
            if process.is_alive():
                process.kill()
                process.join(REAP_S)
        for connection in self.connections:
            connection.close()
        self.processes, self.connections = [], []
        self.store = None  # the TCPStore's server closes its socket when released
        self.port = None


def _context() -> Any:
    """Where ranks come from: forked from multiprocessing's fork server, a clean interpreter (no state from
    pytest) that imported torch and the engines once, so a fresh pool (the first, and one after every fault)
    starts in about a second instead of N interpreters importing torch (5-20 s here; shrinking a property
    test's failing example restarts the pool each time). Spawned interpreters where there is no fork
    server."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "torch.distributed", "conformance.adapters.distributed.engines"])
    return context


def _same_error(replies: dict[int, Reply]) -> bool:
    """Every rank raised the same error (an argument torch rejects): the ranks are still in step."""
    errors = {r.value for r in replies.values() if not r.ok}
    return len(errors) == 1 and all(not r.ok for r in replies.values())


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _fault(
    what: str, replies: dict[int, Reply], dead: dict[int, int | None], world_size: int, timeout_s: float
) -> str | None:
    """The one-line account of what went wrong, culprits first: a rank that died, one that raised, one that
    never answered. A rank whose only failure is a collective timing out on a culprit is not named first."""
    if dead:
        rank, code = min(dead.items())
        return f"rank {rank} of {world_size} died during {what} ({_describe_exit(code)})"
    raised = {r: reply.value for r, reply in replies.items() if not reply.ok}
    own = {r: e for r, e in raised.items() if not _collective_failure(e)}
    if own:  # a rank's own error, the others failing or blocked in a collective because of it
        rank = min(own)
        return f"rank {rank} of {world_size} raised during {what}: {own[rank]}"
    silent = sorted(set(range(world_size)) - set(replies))
    if silent:
        ranks = ", ".join(map(str, silent))
        also = f"; rank {min(raised)}: {raised[min(raised)]}" if raised else ""
        return (
            f"rank {ranks} of {world_size} hung during {what}: no answer within {timeout_s:g} s "
            f"(the distributed timeout){also}"
        )
    if raised:
        rank = min(raised)
        return f"rank {rank} of {world_size} raised during {what}: {raised[rank]}"
    return None


def _collective_failure(message: str) -> bool:
    """gloo's errors when a peer is gone or late: the symptom on the ranks that waited, not the cause.
    Seen in CI: ``RuntimeError: Application timeout caused pair closure`` (gloo's pair, when the peer that a
    collective waits on is silent past the group's timeout)."""
    lowered = message.lower()
    symptoms = ("gloo", "timed out", "timeout", "pair closure", "connection closed", "connection reset")
    return any(s in lowered for s in symptoms)


def format_exception(error: BaseException) -> str:
    """``Type: message`` (first line), as the harness reports a candidate's exceptions."""
    last = traceback.format_exception_only(type(error), error)[-1].strip()
    return last.splitlines()[0] if last else type(error).__name__
