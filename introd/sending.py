"""Sending the outbox: one pass over what is due.

``send_pass`` sends until nothing is due or a round changes nothing. The daemon calls it
after each pass over the folder and, in a backlog (more mail than one FETCH batch),
after each batch, so the opt-ins leave as the backlog is read. It keeps every rule of
delivery.py: a row is sent only after its decision was committed (the batch's
transaction), marked sent right after the server accepted it, and a SIGTERM stops it
after the mail in hand. With a server that offers PIPELINING (RFC 2920) each mail takes
one round trip before its data instead of two and one per recipient.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING


from .delivery import Failure, SmtpConnection, send_due

if TYPE_CHECKING:
    from .config import Config
    from .engine import Engine
    from .state import OutboxRow, Store


def failure_recorder(
    store: Store,
    engine: Callable[[], Engine],
    now: datetime,
    on_failure: Callable[[Failure], None] | None = None,
) -> Callable[[Failure], None]:
    """What a mail given up on leads to: ``on_failure`` (the metrics), and the owner's
    notice for each failed address, in one transaction."""

    def failed(f: Failure) -> None:
        if on_failure is not None:
            on_failure(f)
        with store.transaction():
            for address in f.addresses:
                engine().notify_failure(address, f.reason, now, intro_id=f.row.intro_id)

    return failed


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

    failed = failure_recorder(store, engine, now, on_failure)

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
