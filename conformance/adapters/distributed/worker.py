"""One rank: joins the process group, then runs the harness's commands until told to exit.

Commands arrive on a pipe as ``(op, args)`` and every answer goes back as ``(ok, value)``: the value, or the
exception as one line (``Type: message``). Runs live in ``runs`` under the ids the harness gave them; a rank
outside a run's process group (rank 1 of a run resumed on world size 1) holds ``None`` there and answers
``None``.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from conformance.adapters.distributed.pool import START_TIMEOUT_S, format_exception

# How often a worker checks that the harness is still there.
PARENT_POLL_S = 1.0


def _exit_with_parent(harness_pid: int) -> None:
    """A daemon thread: if the harness dies, end at once, even while the main thread is blocked in a
    collective. The rank's parent is the harness (spawned) or the fork server, which outlives the harness
    while ranks hold its pipe: the harness's own process is watched (gone, or a zombie not yet reaped)."""
    parent = os.getppid()
    while os.getppid() == parent and _alive(harness_pid):
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: a killed process stays listed, as a zombie, until its parent reaps it
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def serve(
    rank: int,
    world_size: int,
    backend: str,
    port: int,
    connection: Connection,
    collective_timeout_s: float,
    harness_pid: int,
    environ: dict[str, str],
) -> None:
    os.environ.clear()
    os.environ.update(environ)
    threading.Thread(target=_exit_with_parent, args=(harness_pid,), daemon=True).start()
    try:
        import torch
        import torch.distributed as dist

        # N ranks share the machine's cores: one thread each, as a rank per core would have.
        torch.set_num_threads(1)
        store = dist.TCPStore(
            "127.0.0.1", port, None, is_master=False, timeout=timedelta(seconds=START_TIMEOUT_S)
        )
        dist.init_process_group(
            backend,
            store=store,
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=collective_timeout_s),
        )
        # One group per smaller world size, ranks 0..n-1 (every rank takes part in creating each).
        groups = {n: dist.new_group(list(range(n))) for n in range(1, world_size)}
        groups[world_size] = dist.group.WORLD
        # The engines and the torch.distributed modules they use, imported now: start-up has its own
        # timeout, and a first command that spent seconds on imports could pass for a hung rank.
        from conformance.adapters.distributed import engines
    except Exception as e:  # reported to the harness, which names the rank
        connection.send((False, format_exception(e)))
        return
    connection.send((True, "ready"))

    runs: dict[int, Any] = {}
    while True:
        try:
            op, args = connection.recv()
        except (EOFError, OSError):  # the harness is gone
            break
        if op == "exit":
            break
        try:
            value = engines.OPS[op](runs, groups, rank, *args)
        except Exception as e:  # the candidate's error, reported with this rank's number
            connection.send((False, format_exception(e)))
        else:
            connection.send((True, value))
    dist.destroy_process_group()
