"""A time limit on the candidate: a check whose candidate never returns fails, and the run goes on.

``deadline(seconds)`` arms a ``SIGALRM`` timer (``signal.setitimer``); when it fires, the Python code the
candidate is running raises ``CheckTimeout`` where it stands. ``CheckTimeout`` derives from
``BaseException`` on purpose: neither the harness's wrappers of candidate calls nor a candidate's own
``except Exception`` can swallow it, and Hypothesis does not retry (shrink) an example that raised it, which
would hang again with no timer armed. pytest reports it as a failure of that test and carries on.

pytest-timeout was considered: its signal method raises pytest's ``Failed`` (an exception Hypothesis catches
and shrinks), its thread method ends the whole process, and its message cannot say what timed out.

The timer interrupts Python code only: a candidate stuck inside one native call (a kernel that never
completes), or one that takes ``SIGALRM`` for itself, cannot be interrupted. For those, ``deadline`` also
starts a watchdog thread: if the check is still running after twice the limit, ``on_stuck`` runs there (the
plugin writes the report, marked interrupted, and ends the process), so a run never hangs for ever. The
timer needs ``SIGALRM`` and the main thread: on Windows, or in a thread, only the watchdog guards a check.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class CheckTimeout(BaseException):
    """The candidate did not return within the time limit."""


def available() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def deadline(seconds: float, on_stuck: Callable[[float], None] | None = None) -> Iterator[None]:
    """Raise ``CheckTimeout`` in whatever runs inside if it takes more than ``seconds`` (0: no limit); call
    ``on_stuck(seconds)`` from a watchdog thread if it is still running after ``2 * seconds``.
    A timer already running (pytest-timeout's, or an outer deadline) that would fire sooner is left to do
    so; a later one is suspended meanwhile and re-armed with the time it has left."""
    if not seconds:
        yield
        return
    watchdog = threading.Timer(2 * seconds, on_stuck, (seconds,)) if on_stuck else None
    if watchdog:
        watchdog.daemon = True
        watchdog.start()
    try:
        with _alarm(seconds):
            yield
    finally:
        if watchdog:
            watchdog.cancel()


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    outer_left, outer_interval = signal.getitimer(signal.ITIMER_REAL) if available() else (0.0, 0.0)
    if not available() or 0 < outer_left <= seconds:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise CheckTimeout(f"candidate did not return within {seconds:g} s (--check-timeout)")

    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            left = max(outer_left - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)
