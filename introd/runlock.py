"""One `introd run` per state: an exclusive lock on a file beside the state database.

Two daemons on one state would both send the same due mail (each marks it sent only after
the server's 250), so `run` and `run --once` take ``STATE.lock`` with ``flock`` before
they open the state, hold it while they run, and write their PID into it; a second one
refuses to start with one line naming the first. The kernel drops the lock when the
holder dies, even by SIGKILL, so a stale lock file never blocks a restart. The sender
process inherits the open lock, so a new daemon cannot start while a killed daemon's
sender still finishes the mail in hand (a new `run` then waits up to ``RESTART_WAIT``
seconds for the lock; while the daemon that took it is alive, it refuses at once).
Commands that only read the state (`list`, `show`, `status`, `parse`, `ledger`) and the
owner's shell actions (which only queue mail in a transaction) take no lock and work
while the daemon runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from . import files
from .exceptions import StateError


# a daemon killed a moment ago may leave its sender finishing the mail in hand (it has
# sending.STOP_GRACE to do so): a new run waits this long for it, but not for a live daemon
RESTART_WAIT = 35.0


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


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


class RunLock:
    """The held lock; ``fd`` stays open (and locked) until ``release``."""

    def __init__(self, state_path: Path, *, wait: float = 0.0) -> None:
        self.path = lock_path(state_path)
        try:
            fd = files.open_private(self.path, os.O_RDWR)
        except files.UnsafePath as exc:
            raise StateError(f"state_path: {exc}") from None
        except OSError as exc:
            raise StateError(f"{self.path}: cannot create the lock file: {exc.strerror}") from None
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # the daemon that wrote its PID is gone: its sender still finishes the mail
                # in hand, wait for it; a live holder is refused at once
                if not _alive(_pid_in(fd)) and time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
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
