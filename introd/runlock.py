"""One `introd run` per state: an exclusive lock on a file beside the state database.

Two daemons on one state would both send the same due mail (each marks it sent only after
the server's 250), so `run` and `run --once` take ``STATE.lock`` with ``flock`` before
they open the state, hold it while they run, and write their PID into it; a second one
refuses to start with one line naming the first. The kernel drops the lock when the
holder dies, even by SIGKILL, so a stale lock file never blocks a restart (the lock file
is opened close-on-exec: no command introd runs keeps it). Commands that only read the
state (`list`, `show`, `status`, `parse`, `ledger`) and the owner's shell actions (which
only queue mail in a transaction) take no lock and work while the daemon runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from . import files
from .exceptions import StateError


class StateLocked(StateError):
    """Another introd holds the state."""


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


def holder(state_path: Path) -> int | None:
    """The PID of the introd that holds the state's lock, or None when nobody does."""
    path = lock_path(state_path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _pid_in(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _pid_in(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).split()[0])
    return None


class RunLock:
    """The held lock; ``fd`` stays open (and locked) until ``release``."""

    def __init__(self, state_path: Path) -> None:
        self.path = lock_path(state_path)
        try:
            fd = files.open_private(self.path, os.O_RDWR)
        except files.UnsafePath as exc:
            raise StateError(f"state_path: {exc}") from None
        except OSError as exc:
            raise StateError(f"{self.path}: cannot create the lock file: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _pid_in(fd)
            os.close(fd)
            who = f"introd (pid {pid})" if pid else "introd"
            raise StateLocked(
                f"{state_path}: another {who} is running on this state "
                f"(lock {self.path}); stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
