"""The folder a run writes its report into: checked writable before the first check runs, and held for the
whole run so that two runs into one folder cannot interleave (the second is refused, naming the folder).

The lock is an OS file lock (``filelock``) on ``.optconf.lock`` in the folder: the OS releases it when the
process ends, however it ends, so a crashed run never leaves a folder locked. A run that ends normally
removes the file too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import filelock

LOCK_NAME = ".optconf.lock"


class ReportFolderError(Exception):
    """The report folder cannot be written, or another run holds it; one line naming it."""


def claim(folder: Path) -> filelock.BaseFileLock:
    """Create ``folder`` if needed, prove it writable (an unnamed temporary file, so nothing is left behind
    even if the process dies), and lock it; the caller releases the lock when the run ends."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ReportFolderError(
            f"--report-dir {folder}: cannot write there ({e.strerror or e}); choose another with --report-dir"
        ) from None
    lock = filelock.FileLock(str(folder / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise ReportFolderError(
            f"--report-dir {folder}: another optim-conformance run is writing its report there; wait for it "
            "to end or give this run another --report-dir"
        ) from None
    except OSError as e:
        raise ReportFolderError(f"--report-dir {folder}: cannot lock it ({e.strerror or e})") from None
    return lock


def release(lock: filelock.BaseFileLock) -> None:
    """Remove the lock file, then release the lock (in this order: no other run can take the lock on a file
    about to disappear)."""
    Path(lock.lock_file).unlink(missing_ok=True)
    lock.release()
