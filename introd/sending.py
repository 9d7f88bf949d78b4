"""Sending the outbox: one pass over what is due, and a sender process for backlogs.

``send_pass`` sends until nothing is due or a round changes nothing; the daemon calls it
after each pass over the folder. When a pass finds more mail than one FETCH batch (a
backlog after a holiday or an outage), the daemon starts a ``SenderProcess`` instead: it
sends what each batch queued while the daemon reads the next one, so the SMTP dialogue
no longer waits for the whole backlog to be read. It is a process rather than a thread
because both halves are busy Python and would share one interpreter lock; they share
only the state file, where SQLite serialises their writes.

The sender keeps every rule of delivery.py: it sends a row only after its decision was
committed, marks it sent right after the server accepted it, and stops after the mail in
hand on SIGTERM, when the daemon tells it to, or when the daemon dies (Linux parent-death
signal, and its socket closing).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from .delivery import Failure, SmtpConnection, send_due
from .exceptions import AuthExpired, DeliveryError, StateError

if TYPE_CHECKING:
    from .config import Config
    from .engine import Engine
    from .state import OutboxRow, Store

log = structlog.get_logger("introd.sending")

# how long the daemon waits for the sender to finish what it holds once told to stop
STOP_GRACE = 30.0


def send_pass(
    store: Store,
    engine: Callable[[], Engine],
    smtp: SmtpConnection,
    config: Config,
    *,
    now: datetime,
    stop: Callable[[], bool],
    on_sent: Callable[[OutboxRow], None] | None = None,
    on_failure: Callable[[Failure], None] | None = None,
) -> int:
    """Send until nothing is due, or a round changes nothing (all deferred, or the hourly
    limit reached); bounce notices queued meanwhile go out in the same pass. Returns how
    many mails the server accepted; raises DeliveryError as ``send_due`` does. ``engine``
    is asked for only when a mail failed and the owner's notice must be written."""

    def failed(f: Failure) -> None:
        if on_failure is not None:
            on_failure(f)
        with store.transaction():
            for address in f.addresses:
                engine().notify_failure(address, f.reason, now, intro_id=f.row.intro_id)

    sent = 0
    while not stop():
        depth = store.outbox_depth()
        sent_now = send_due(
            store,
            smtp,
            now=now,
            envelope_from=config.reply_address,
            max_per_hour=config.max_outgoing_per_hour,
            on_failure=failed,
            on_sent=on_sent,
            stop=stop,
        )
        sent += sent_now
        if not store.due_outbox(now, limit=1):
            break
        if sent_now == 0 and store.outbox_depth() >= depth:
            break
    return sent


@dataclass
class SenderReport:
    """What a sender process did, as the daemon learns it when the process ends."""

    sent: Counter[str] = field(default_factory=Counter)  # by template
    failed: Counter[str] = field(default_factory=Counter)  # by template
    error: tuple[str, str] | None = None  # ("delivery" | "auth" | "state" | "crash", message)

    @property
    def total(self) -> int:
        return sum(self.sent.values())


class SenderProcess:
    """The daemon's side of a sender process: started once per backlog, told after each
    batch that more mail is due (with the daemon's clock), finished at the end of the pass.

    The process is ``python -m introd.sending`` with one end of a socket pair; orders and
    the final report travel over it pickled (multiprocessing's framing). The configuration
    is its first order, so the sender works from exactly the daemon's settings."""

    def __init__(self, config: Config, *, keep_fd: int | None = None) -> None:
        ours, theirs = socket.socketpair()
        # keep_fd: the daemon's run lock, held by the sender too until it ends
        kept = [theirs.fileno()] + ([keep_fd] if keep_fd is not None else [])
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "introd.sending", str(theirs.fileno()), str(os.getpid())],
                pass_fds=kept,
                stdin=subprocess.DEVNULL,
                close_fds=True,
            )
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._broken = False
        self._tell(("config", config))
        log.info("sender_started", pid=self._proc.pid)

    def more(self, now: datetime) -> None:
        """Mail was queued: send what is due at ``now``."""
        self._tell(("send", now))

    def finish(
        self, now: datetime, *, stop: Callable[[], bool], ping: Callable[[], None] = lambda: None
    ) -> SenderReport:
        """Let the sender send what is still due, then end; returns what it did. While it
        works, ``ping`` is called every fraction of a second (the watchdog), and once
        ``stop()`` is true (SIGTERM) the sender is told to finish only the mail in hand."""
        stopping = stop()
        self._tell(("stop" if stopping else "finish", now))
        report: SenderReport | None = None
        deadline = time.monotonic() + STOP_GRACE if stopping else None
        try:
            while report is None:
                if self._conn.poll(0.25):
                    report = self._conn.recv()
                    break
                ping()
                if not stopping and stop():
                    stopping = True
                    deadline = time.monotonic() + STOP_GRACE
                    self._tell(("stop", now))
                if deadline is not None and time.monotonic() > deadline:
                    report = SenderReport(error=("crash", "the sender did not stop in time"))
        except (EOFError, OSError):
            report = SenderReport(error=("crash", "the sender ended unexpectedly"))
        except Exception as exc:  # noqa: BLE001 - an unreadable report must not stop us
            report = SenderReport(
                error=("crash", f"unreadable report from the sender: {exc.__class__.__name__}")
            )
        try:
            self._proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._conn.close()
        if report.error is not None and report.error[0] == "crash" and self._proc.returncode:
            report.error = ("crash", f"{report.error[1]} (exit {self._proc.returncode})")
        log.info(
            "sender_finished", sent=report.total, error=report.error[0] if report.error else None
        )
        return report

    def _tell(self, message: tuple[str, Any]) -> None:
        if self._broken:
            return
        try:
            self._conn.send(message)
        except OSError:  # the process is gone: finish() reports how it ended
            self._broken = True


class _Orders:
    """What the daemon asked for so far: read from the socket without waiting, so that a
    stop order is seen between two mails."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.now: datetime | None = None
        self.pending = False  # a send order not yet acted on
        self.finish = False
        self.stop = False

    def read(self, *, wait: bool) -> None:
        try:
            if wait and not self.pending and not self.finish:
                self._take(self.conn.recv())
            while self.conn.poll():
                self._take(self.conn.recv())
        except (EOFError, OSError):  # the daemon is gone
            self.stop = self.finish = True

    def _take(self, message: tuple[str, Any]) -> None:
        kind, now = message
        self.now = now
        self.pending = True
        self.finish = self.finish or kind in ("finish", "stop")
        self.stop = self.stop or kind == "stop"


def _die_with_parent() -> None:
    """Linux: SIGTERM when the daemon dies, so a sender never outlives it."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def main(fd: int, daemon_pid: int) -> int:
    """The sender process: send what each order says is due, until told to finish."""
    _die_with_parent()
    stopping = False

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reloading is the daemon's business
    conn = Connection(fd)
    try:
        kind, config = conn.recv()
    except (EOFError, OSError):
        return 1
    if os.getppid() != daemon_pid:  # the daemon died before the signal was armed
        return 1

    from .logs import setup_logging
    from .state import Store

    setup_logging(config.log_format, config.log_level)
    report = SenderReport()
    orders = _Orders(conn)

    def stop() -> bool:
        orders.read(wait=False)
        return stopping or orders.stop

    def sent(row: OutboxRow) -> None:
        report.sent[row.template] += 1

    def failed(f: Failure) -> None:
        report.failed[f.row.template] += 1

    store: Store | None = None
    built: list[Engine] = []

    def engine() -> Engine:
        """Built on the first failure only: it needs the templates and the contacts, which
        a sender that only sends never loads."""
        if not built:
            from .wiring import build_engine

            assert store is not None
            built.append(build_engine(config, store))
        return built[0]

    smtp = SmtpConnection(config.smtp)
    try:
        store = Store(config.state_path)
        while not stop():
            orders.read(wait=True)
            if orders.pending and orders.now is not None and not stop():
                orders.pending = False
                send_pass(
                    store,
                    engine,
                    smtp,
                    config,
                    now=orders.now,
                    stop=stop,
                    on_sent=sent,
                    on_failure=failed,
                )
            if orders.finish and not orders.pending:
                break
    except DeliveryError as exc:
        report.error = ("delivery", str(exc))
    except AuthExpired as exc:
        report.error = ("auth", str(exc))
    except StateError as exc:
        report.error = ("state", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported to the daemon, which records it
        log.exception("sender_crashed", error=f"{exc.__class__.__name__}: {exc}")
        report.error = ("crash", f"{exc.__class__.__name__}: {exc}"[:300])
    finally:
        smtp.close()
        if store is not None:
            store.close()
    with contextlib.suppress(OSError):
        conn.send(report)
    conn.close()
    return 0


if __name__ == "__main__":
    # run as the module introd.sending, not as __main__, so that what it pickles (the
    # report) names classes the daemon can find
    from introd.sending import main as _main

    sys.exit(_main(int(sys.argv[1]), int(sys.argv[2])))
