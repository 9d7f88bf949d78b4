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
signal, and the command pipe closing).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from .delivery import Failure, SmtpConnection, send_due
from .exceptions import DeliveryError, StateError

if TYPE_CHECKING:
    from .config import Config
    from .engine import Engine
    from .state import OutboxRow, Store

log = structlog.get_logger("introd.sending")

# how long the daemon waits for the sender to finish what it holds once told to stop
STOP_GRACE = 30.0


def send_pass(store: Store, engine: Engine, smtp: SmtpConnection, config: Config, *,
              now: datetime, stop: Callable[[], bool],
              on_sent: Callable[[OutboxRow], None] | None = None,
              on_failure: Callable[[Failure], None] | None = None) -> int:
    """Send until nothing is due, or a round changes nothing (all deferred, or the hourly
    limit reached); bounce notices queued meanwhile go out in the same pass. Returns how
    many mails the server accepted; raises DeliveryError as ``send_due`` does."""

    def failed(f: Failure) -> None:
        if on_failure is not None:
            on_failure(f)
        with store.transaction():
            for address in f.addresses:
                engine.notify_failure(address, f.reason, now, intro_id=f.row.intro_id)

    sent = 0
    while not stop():
        depth = store.outbox_depth()
        sent_now = send_due(store, smtp, now=now, envelope_from=config.reply_address,
                            max_per_hour=config.max_outgoing_per_hour, on_failure=failed,
                            on_sent=on_sent, stop=stop)
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
    error: tuple[str, str] | None = None  # ("delivery" | "state" | "crash", message)

    @property
    def total(self) -> int:
        return sum(self.sent.values())


class SenderProcess:
    """The daemon's side of a sender process: started once per backlog, told after each
    batch that more mail is due (with the daemon's clock), finished at the end of the pass."""

    def __init__(self, config: Config) -> None:
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited locks
        self._conn, child = ctx.Pipe()
        self._stop = ctx.Event()
        self._proc = ctx.Process(target=_child, args=(config, child, self._stop),
                                 name="introd-sender", daemon=True)
        self._proc.start()
        child.close()
        self._broken = False
        log.info("sender_started", pid=self._proc.pid)

    def more(self, now: datetime) -> None:
        """Mail was queued: send what is due at ``now``."""
        self._tell(("send", now))

    def finish(self, now: datetime, *, stop: bool = False) -> SenderReport:
        """Send what is still due (or, with ``stop``, only finish the mail in hand), then
        end; returns what the process did."""
        if stop:
            self._stop.set()
        self._tell(("finish", now))
        report = SenderReport()
        try:
            if self._conn.poll(None if not stop else STOP_GRACE):
                report = self._conn.recv()
            else:
                report.error = ("crash", "the sender did not stop in time")
        except (EOFError, OSError):
            report.error = ("crash", f"the sender ended unexpectedly "
                                     f"(exit {self._proc.exitcode})")
        self._proc.join(STOP_GRACE)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._conn.close()
        log.info("sender_finished", sent=report.total, error=report.error[0]
                 if report.error else None)
        return report

    def _tell(self, message: tuple[str, datetime]) -> None:
        if self._broken:
            return
        try:
            self._conn.send(message)
        except (BrokenPipeError, OSError):
            self._broken = True  # finish() reports how the process ended


def _die_with_parent() -> None:
    """Linux: SIGTERM when the daemon dies, so a sender never outlives it."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def _child(config: Config, conn: multiprocessing.connection.Connection,
           stop_event: Any) -> None:
    """The sender process: send what each message says is due, until told to finish."""
    _die_with_parent()
    stopping = False

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reloading is the daemon's business

    from .daemon import build_engine
    from .logs import setup_logging
    from .state import Store

    setup_logging(config.log_format, config.log_level)
    report = SenderReport()

    def stop() -> bool:
        return stopping or stop_event.is_set()

    def sent(row: OutboxRow) -> None:
        report.sent[row.template] += 1

    def failed(f: Failure) -> None:
        report.failed[f.row.template] += 1

    store = None
    assert config.smtp is not None
    smtp = SmtpConnection(config.smtp)
    try:
        store = Store(config.state_path)
        engine = build_engine(config, store)
        finish = False
        while not finish and not stop():
            try:
                kind, now = conn.recv()
                while conn.poll():  # several batches queued mail meanwhile: one round
                    kind, now = conn.recv()
                    finish = finish or kind == "finish"
            except EOFError:  # the daemon is gone
                break
            finish = finish or kind == "finish"
            send_pass(store, engine, smtp, config, now=now, stop=stop, on_sent=sent,
                      on_failure=failed)
    except DeliveryError as exc:
        report.error = ("delivery", str(exc))
    except StateError as exc:
        report.error = ("state", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported to the daemon, which records it
        log.exception("sender_crashed", error=f"{exc.__class__.__name__}: {exc}")
        report.error = ("crash", f"{exc.__class__.__name__}: {exc}"[:300])
    finally:
        smtp.close()
        if store is not None:
            store.close()
    with contextlib.suppress(BrokenPipeError, OSError):
        conn.send(report)
    conn.close()
