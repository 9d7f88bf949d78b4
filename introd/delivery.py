"""Sending the outbox over SMTP.

Each mail is sent with the exact bytes stored in the outbox. A 4xx defers
only that mail (5 min, doubling, capped at 2 h, for up to 3 days); a 5xx or
three days without success fails it. The sent mark is written right after
the server accepted the mail: a crash between the two is the only way a
mail can leave twice.

A mail whose fate is unknown — the server took its DATA and then dropped the connection
or did not answer within ``smtp.timeout`` — may have been delivered. It is deferred like
a 4xx (the rest of the outbox goes on, on a new connection), and after
``MAX_UNCONFIRMED`` such attempts it is failed and the owner told, so a server that
never confirms receives each mail at most that many times.
"""

from __future__ import annotations

import queue
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from . import sasl
from .config import ServerConfig
from .exceptions import AuthError, AuthExpired, DeliveryError, StateError
from .state import NOTICE_TEMPLATES, OutboxRow, Store

log = structlog.get_logger("introd.delivery")

FIRST_RETRY = timedelta(minutes=5)
MAX_RETRY = timedelta(hours=2)
GIVE_UP_AFTER = timedelta(days=3)
MAX_UNCONFIRMED = 3  # attempts whose outcome is unknown before a mail is given up


def notice_limit(max_per_hour: int) -> int:
    """Notices to the owner per hour: a quarter of the limit (at least one), so that
    failures, however many, leave three quarters to the intros' own mail."""
    return max(1, max_per_hour // 4)


def retry_delay(attempts: int) -> timedelta:
    """Backoff after ``attempts`` failed tries: 5 min, 10, 20, ... capped at 2 h."""
    delay: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(delay, MAX_RETRY)


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """A mail given up on: the owner is told once per failed address."""

    row: OutboxRow
    addresses: tuple[str, ...]
    reason: str


KEEP_OPEN = 20.0  # seconds the daemon keeps an unused session for the next mail


class SmtpConnection:
    """A lazily opened SMTP session, reused for a batch of mails and, in the daemon, for
    the mail that comes within ``KEEP_OPEN`` seconds (a new session costs the connection,
    the greeting, TLS, EHLO and AUTH: four to six round trips before the first mail).
    Servers wait at least five minutes for a client's next command (RFC 5321, 4.5.3.2.7);
    a session the server dropped sooner is noticed before any data went, and the mail
    goes over a new one (``_attempt``)."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.smtp: smtplib.SMTP | None = None
        self._more: list[SmtpConnection] = []
        self.used_at = 0.0  # time.monotonic() of the last mail handed over
        # the outbox row whose MAIL, RCPT and DATA went with the last mail's data (see
        # transmit's ``then``): their replies are still to be read
        self.ahead: int | None = None

    def open(self) -> smtplib.SMTP:
        if self.smtp is not None:
            return self.smtp
        cfg = self.cfg
        try:
            if cfg.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=cfg.timeout, context=cfg.tls_context()
                )
            else:
                smtp = smtplib.SMTP(
                    cfg.host, cfg.port, timeout=cfg.timeout, local_hostname="localhost"
                )
                if cfg.security == "starttls":
                    smtp.starttls(context=cfg.tls_context())
            if cfg.auth == "oauth2":
                sasl.smtp_login(smtp, cfg)
            elif cfg.username:
                smtp.login(cfg.username, cfg.password.reveal())
        except AuthExpired:
            smtp.close()
            raise
        except AuthError as exc:  # the provider is unreachable, or the server refuses
            smtp.close()
            raise DeliveryError(sasl.described("SMTP", cfg, exc)) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"SMTP {cfg.host}:{cfg.port}: login refused ({exc.smtp_code})"
            ) from None
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            raise DeliveryError(
                f"SMTP {cfg.host}:{cfg.port}: cannot connect: {exc.__class__.__name__}: {exc}"
            ) from None
        self.smtp = smtp
        return smtp

    def sessions(self, count: int) -> list[SmtpConnection]:
        """This session and ``count - 1`` more to the same server, each opened when first
        used, kept until ``close``."""
        while len(self._more) < count - 1:
            self._more.append(SmtpConnection(self.cfg))
        return [self, *self._more[: count - 1]]

    def idle_until(self) -> float | None:
        """The ``time.monotonic()`` at which the open sessions have been unused for
        ``KEEP_OPEN`` seconds (None when none is open)."""
        open_ = [c for c in (self, *self._more) if c.smtp is not None]
        return max(c.used_at for c in open_) + KEEP_OPEN if open_ else None

    def close_if_idle(self, now: float) -> None:
        """Quit the sessions once they have been unused for ``KEEP_OPEN`` seconds."""
        until = self.idle_until()
        if until is not None and now >= until:
            self.close()

    def close(self) -> None:
        """Quit this session and the others ``sessions`` made."""
        for other in self._more:
            other.quit_session()
        self._more = []
        self.quit_session()

    def quit_session(self) -> None:
        """Quit this one session (the others may be in use on other threads). With a
        mail's envelope sent ahead the session is only closed: after its DATA a QUIT
        would be read as that mail's text, and a mail whose end never came is dropped."""
        if self.smtp is not None:
            try:
                if self.ahead is None:
                    self.smtp.quit()
                else:
                    self.smtp.close()
            except (OSError, smtplib.SMTPException):
                pass
            self.smtp = None
        self.ahead = None


class OutcomeUnknown(Exception):
    """The server took the mail's DATA but its answer never came: delivered or not."""


@dataclass(slots=True)
class Then:
    """The next mail over the same session, whose envelope (MAIL, RCPT and DATA) goes in
    the same write as this mail's data: RFC 2920 lets a group of pipelined commands
    open with a mail's text, so each mail after the first costs one round trip, not two.
    ``sent`` tells whether it went (then its replies follow this mail's, and the next
    ``transmit`` of it is told ``ahead``)."""

    sender: str
    recipients: list[str]
    size: int
    sent: bool = False


def transmit(
    smtp: smtplib.SMTP,
    sender: str,
    recipients: list[str],
    raw: bytes,
    *,
    ahead: bool = False,
    then: Then | None = None,
) -> dict[str, tuple[int, bytes]]:
    """``smtplib.SMTP.sendmail``, telling a failure before the data went (nothing was
    delivered: smtplib's own exceptions) from one after (``OutcomeUnknown``). Returns the
    refused recipients, as sendmail does. ``ahead``: this mail's envelope went already,
    as the ``then`` of the mail before; only its replies are read. ``then``: see Then
    (only where the server pipelines)."""
    if _unsafe(sender, recipients):  # never a command
        raise smtplib.SMTPSenderRefused(501, b"line break in an address", sender)
    if ahead:
        return _data(smtp, raw, _envelope_replies(smtp, sender, recipients), then)
    smtp.ehlo_or_helo_if_needed()
    if _pipelines(smtp):
        smtp.send(_envelope(smtp, sender, recipients, len(raw)))
        return _data(smtp, raw, _envelope_replies(smtp, sender, recipients), then)
    options = [f"size={len(raw)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
    code, resp = smtp.mail(sender, options)
    if code != 250:
        _end_transaction(smtp, code)
        raise smtplib.SMTPSenderRefused(code, resp, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for rcpt in recipients:
        code, resp = smtp.rcpt(rcpt)
        if code not in (250, 251):
            refused[rcpt] = (code, resp)
        if code == 421:
            smtp.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(recipients):
        _end_transaction(smtp, 0)
        raise smtplib.SMTPRecipientsRefused(refused)
    smtp.putcmd("data")
    code, resp = smtp.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, resp)
    return _data(smtp, raw, refused)


def _unsafe(sender: str, recipients: list[str]) -> bool:
    return any("\r" in a or "\n" in a for a in (sender, *recipients))


def _pipelines(smtp: smtplib.SMTP) -> bool:
    return bool(smtp.does_esmtp and smtp.has_extn("pipelining"))


def _envelope(smtp: smtplib.SMTP, sender: str, recipients: list[str], size: int) -> str:
    """MAIL, every RCPT and DATA, to go in one write (RFC 2920 PIPELINING): one round trip
    where ``transmit`` takes two and one per recipient without it."""
    size_option = f" size={size}" if smtp.has_extn("size") else ""
    lines = ["MAIL FROM:" + _path(sender) + size_option]
    lines += ["RCPT TO:" + _path(r) for r in recipients]
    return "".join(line + "\r\n" for line in [*lines, "DATA"])


def _envelope_replies(
    smtp: smtplib.SMTP, sender: str, recipients: list[str]
) -> dict[str, tuple[int, bytes]]:
    """The replies to a pipelined envelope (``_envelope``), in order. Raises as
    ``transmit`` does before the data; returns the refused recipients once DATA got 354."""
    mail_code, mail_resp = smtp.getreply()
    if mail_code == 421:  # the server is leaving: nothing more will be answered
        smtp.close()
        raise smtplib.SMTPSenderRefused(mail_code, mail_resp, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for rcpt in recipients:
        code, resp = smtp.getreply()
        if code not in (250, 251):
            refused[rcpt] = (code, resp)
        if code == 421:
            smtp.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    data_code, data_resp = smtp.getreply()
    nowhere = mail_code != 250 or len(refused) == len(recipients)
    if data_code == 354 and nowhere:
        smtp.send(".\r\n")  # DATA accepted with nothing to send it to: an empty end
        data_code, data_resp = smtp.getreply()
    if nowhere or data_code != 354:
        _end_transaction(smtp, data_code)
    if mail_code != 250:
        raise smtplib.SMTPSenderRefused(mail_code, mail_resp, sender)
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    if data_code != 354:
        raise smtplib.SMTPDataError(data_code, data_resp)
    return refused


# a plain address (dot-atoms, the letters RFC 5321 allows unquoted): its path is the
# address in angle brackets, as smtplib.quoteaddr makes it after parsing it in Python
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def _path(address: str) -> str:
    """The reverse- or forward-path of ``address`` for MAIL FROM or RCPT TO."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def _data(
    smtp: smtplib.SMTP,
    raw: bytes,
    refused: dict[str, tuple[int, bytes]],
    then: Then | None = None,
) -> dict[str, tuple[int, bytes]]:
    """The mail's data after a 354 (and the envelope of ``then``), and its reply; a
    failure from here on leaves the outcome unknown (``OutcomeUnknown``)."""
    data = re.sub(rb"(?m)^\.", b"..", raw)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    data += b".\r\n"
    if then is not None and _pipelines(smtp) and not _unsafe(then.sender, then.recipients):
        data += _envelope(smtp, then.sender, then.recipients, then.size).encode()
        then.sent = True
    try:
        smtp.send(data)
        code, resp = smtp.getreply()
    except (OSError, smtplib.SMTPException) as exc:
        raise OutcomeUnknown(f"{exc.__class__.__name__} after the mail's data") from None
    if code != 250:
        if code == 421 or then is None or not then.sent:
            _end_transaction(smtp, code)
        # else the transaction ended with this reply, and the next one is under way: a
        # RSET now would be read as the next mail's text
        raise smtplib.SMTPDataError(code, resp)
    return refused


def _end_transaction(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal: close on 421 (the server is leaving), else RSET, quietly."""
    if code == 421:
        smtp.close()
        return
    try:
        smtp.rset()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else message


def _code_text(exc: smtplib.SMTPResponseException) -> str:
    msg = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {' '.join(msg.split())}"


@dataclass(slots=True)
class _Attempt:
    """What one try to hand a mail to the server came to."""

    row: OutboxRow
    refused: dict[str, tuple[int, bytes]]  # recipients the server refused
    error: Exception | None = None  # OutcomeUnknown, a refusal, or DeliveryError


def _stale(exc: Exception) -> bool:
    """A failure before the mail's data that a session kept open from an earlier pass
    shows when the server has dropped it meanwhile: nothing was delivered."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return isinstance(exc, (smtplib.SMTPServerDisconnected, OSError))


def _attempt(
    conn: SmtpConnection, row: OutboxRow, envelope_from: str, then: OutboxRow | None = None
) -> _Attempt:
    """Hand one mail to the server over ``conn`` (and the envelope of ``then``, the next
    mail over it, with its data: see Then); touches neither the state nor the log, so
    that it can run on another session's thread. Raises what ``conn.open`` raises."""
    if conn.ahead is not None and conn.ahead != row.id:
        conn.quit_session()  # the mail sent ahead is not this one: it must not go on
    kept = conn.smtp is not None
    try:
        return _attempt_on(conn, row, envelope_from, then, kept=kept)
    finally:
        conn.used_at = time.monotonic()


def _attempt_on(
    conn: SmtpConnection,
    row: OutboxRow,
    envelope_from: str,
    then_row: OutboxRow | None,
    *,
    kept: bool,
) -> _Attempt:
    smtp = conn.open()
    ahead, conn.ahead = conn.ahead == row.id, None
    then = None if then_row is None else Then(envelope_from, then_row.recipients, len(then_row.raw))
    failure: Exception | None = None
    try:
        refused = transmit(smtp, envelope_from, row.recipients, row.raw, ahead=ahead, then=then)
    except (OutcomeUnknown, smtplib.SMTPException, OSError) as exc:
        failure = exc
    if then_row is not None and then is not None and then.sent and smtp.sock is not None:
        conn.ahead = then_row.id  # its replies come next on this session
    if failure is None:
        return _Attempt(row, refused)
    if not kept or isinstance(failure, OutcomeUnknown) or not _stale(failure):
        return _outcome(conn, row, failure)
    conn.quit_session()  # the server dropped the session kept open: a new one, once
    return _attempt_on(conn, row, envelope_from, then_row, kept=False)


def _outcome(conn: SmtpConnection, row: OutboxRow, exc: Exception) -> _Attempt:
    """What a failed try to hand over ``row`` came to; a session it left unusable is
    closed, so that the next mail opens a new one."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _Attempt(row, exc.recipients)
    if isinstance(exc, smtplib.SMTPResponseException):
        if exc.smtp_code == 421:  # the server is closing
            conn.quit_session()
        return _Attempt(row, {}, exc)
    conn.quit_session()
    if isinstance(exc, OutcomeUnknown):
        return _Attempt(row, {}, exc)
    # disconnected, or talking nonsense
    return _Attempt(row, {}, DeliveryError(f"SMTP connection lost: {exc.__class__.__name__}"))


def _settle(
    store: Store,
    cfg: ServerConfig,
    attempt: _Attempt,
    now: datetime,
    on_failure: Callable[[Failure], None],
    on_sent: Callable[[OutboxRow], None] | None,
) -> bool:
    """Record what an attempt came to, at once; True when the mail was accepted. Raises
    DeliveryError when the pass must stop (a 421, a lost connection)."""
    row, error, refused = attempt.row, attempt.error, attempt.refused
    if isinstance(error, OutcomeUnknown):
        _unconfirmed(store, row, now, str(error), on_failure)
        return False
    if isinstance(error, smtplib.SMTPResponseException):
        text = _code_text(error)
        _defer_or_fail(store, row, now, error.smtp_code, text, row.recipients, on_failure)
        if error.smtp_code == 421:  # stop this pass, try again later
            raise DeliveryError(f"SMTP {cfg.host}:{cfg.port}: {text}")
        return False
    if error is not None:
        raise error
    if refused and len(refused) == len(row.recipients):
        code = max(c for c, _ in refused.values())
        text = "; ".join(f"{a}: {c} {_text(m)}" for a, (c, m) in refused.items())
        _defer_or_fail(store, row, now, code, text, list(refused), on_failure)
        return False
    if not refused:
        store.mark_sent(row.id, now)  # one statement: atomic as it is
    else:  # the sent mark and the notice about refused recipients land together
        with store.transaction():
            store.mark_sent(row.id, now)
            # some recipients took it, some did not: tell the owner about those
            failed = tuple(a for a, (c, _) in refused.items())
            log.warning(
                "mail_recipient_refused",
                intro_id=row.intro_id,
                template=row.template,
                refused=len(failed),
            )
            on_failure(Failure(row=row, addresses=failed, reason="recipient refused"))
    log.info(
        "mail_sent",
        intro_id=row.intro_id,
        template=row.template,
        role=row.role,
        outbox_id=row.id,
        recipients=len(row.recipients),
    )
    if on_sent is not None:
        on_sent(row)
    return True


class Admission:
    """Which due mail may go now: SIGTERM and the hourly limits (a quarter of it for the
    owner's notices, which come last)."""

    def __init__(
        self, store: Store, now: datetime, max_per_hour: int, stop: Callable[[], bool] | None
    ) -> None:
        self.store, self.max_per_hour, self.stop = store, max_per_hour, stop
        self.budget = self.notice_budget = None
        if max_per_hour:
            hour_ago = now - timedelta(hours=1)
            self.budget = max_per_hour - store.sent_since(hour_ago)
            self.notice_budget = notice_limit(max_per_hour) - store.sent_since(
                hour_ago, notices=True
            )
        self.taken = self.notices = 0

    def take(self, row: OutboxRow) -> bool:
        """Whether ``row`` may go (counted if so); False ends the pass."""
        if self.stop is not None and self.stop():  # SIGTERM: the rest waits in the outbox
            return False
        if self.budget is not None and self.taken >= self.budget:
            log.info(
                "outbox_rate_limited",
                pending=self.store.outbox_depth(),
                max_per_hour=self.max_per_hour,
            )
            return False
        is_notice = row.template in NOTICE_TEMPLATES
        if is_notice and self.notice_budget is not None and self.notices >= self.notice_budget:
            log.info("notices_rate_limited", max_per_hour=notice_limit(self.max_per_hour))
            return False  # notices come last: nothing else is due
        self.taken += 1
        self.notices += is_notice
        return True

    def give_back(self, row: OutboxRow) -> None:
        """``row`` was taken but not accepted: it does not count against the limits."""
        self.taken -= 1
        self.notices -= row.template in NOTICE_TEMPLATES


def send_due(
    store: Store,
    conn: SmtpConnection,
    *,
    now: datetime,
    envelope_from: str,
    max_per_hour: int,
    on_failure: Callable[[Failure], None],
    on_sent: Callable[[OutboxRow], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Send every due mail of the outbox; return how many left. Raises DeliveryError when
    the server cannot be reached at all or closes the session with 421 (the mail in hand is
    deferred, the rest stays pending untouched). With ``smtp.max_connections`` above 1 the
    mails go over that many sessions at once (``BackgroundSender``)."""
    admission = Admission(store, now, max_per_hour, stop)
    rows = store.due_outbox(now)  # the intros' own mail first, then notices
    if conn.cfg.max_connections > 1 and len(rows) > 1:  # over that many sessions at once
        sender = BackgroundSender(
            store,
            conn,
            envelope_from=envelope_from,
            admission=admission,
            clock=lambda: now,
            stop=stop,
        )
        sender.submit(rows)
        sent = sender.close(now, on_failure, on_sent)
        store.forget_sent_notes()
        if sender.failure is not None:
            raise sender.failure
        return sent
    sent = 0
    taken: OutboxRow | None = None  # the next row, admitted already (its envelope went)
    for i, row in enumerate(rows):
        if row is not taken and not admission.take(row):
            break
        # the next mail, once admitted, has its envelope go with this mail's data
        following = rows[i + 1] if i + 1 < len(rows) else None
        taken = following if following is not None and admission.take(following) else None
        attempt = _attempt(conn, row, envelope_from, taken)
        if _settle(store, conn.cfg, attempt, now, on_failure, on_sent):
            sent += 1
        else:
            admission.give_back(row)
    return sent


def _defer_or_fail(
    store: Store,
    row: OutboxRow,
    now: datetime,
    code: int,
    text: str,
    addresses: list[str],
    on_failure: Callable[[Failure], None],
) -> None:
    if 400 <= code < 500 and now - row.created < GIVE_UP_AFTER:
        delay = retry_delay(row.attempts + 1)
        store.mark_deferred(row.id, now + delay, text)
        log.warning(
            "mail_deferred",
            intro_id=row.intro_id,
            template=row.template,
            code=code,
            retry_in_s=int(delay.total_seconds()),
            attempts=row.attempts + 1,
        )
        return
    # the failed mark and the owner's notice land together: a crash loses neither
    with store.transaction():
        store.mark_failed(row.id, text)
        on_failure(Failure(row=row, addresses=tuple(addresses), reason=text))
    log.error("mail_failed", intro_id=row.intro_id, template=row.template, code=code)


def _unconfirmed(
    store: Store, row: OutboxRow, now: datetime, text: str, on_failure: Callable[[Failure], None]
) -> None:
    """The server may have the mail: wait as after a 4xx, and give up after
    MAX_UNCONFIRMED such attempts rather than sending it again and again."""
    tries = row.unconfirmed + 1
    if tries < MAX_UNCONFIRMED:
        delay = retry_delay(row.attempts + 1)
        store.mark_unconfirmed(row.id, now + delay, text)
        log.warning(
            "mail_outcome_unknown",
            intro_id=row.intro_id,
            template=row.template,
            outbox_id=row.id,
            unconfirmed=tries,
            retry_in_s=int(delay.total_seconds()),
        )
        return
    reason = f"the server never confirmed the mail ({tries} attempts: {text})"
    with store.transaction():
        store.mark_unconfirmed(row.id, None, reason)
        on_failure(Failure(row=row, addresses=tuple(row.recipients), reason=reason))
    log.error(
        "mail_failed", intro_id=row.intro_id, template=row.template, code=0, unconfirmed=tries
    )


class _NotTried(Exception):
    """The pass ended (SIGTERM, or an error on another mail) before this mail was tried."""


class BackgroundSender:
    """Sends outbox rows on threads of its own — one per session, up to
    ``smtp.max_connections`` — while the caller goes on: in a backlog the daemon reads the
    next requests meanwhile, so that the server's work on the opt-ins overlaps introd's;
    ``send_due`` uses it for its sessions at once.

    Only committed rows are handed to it (``submit``). A worker touches neither the
    database nor the log: it hands each mail to the server and, the moment the server
    accepted it for every recipient, notes it with ``Store.note_sent`` (a line in a file
    of its own, on disk at once), so that a crash before the caller records the sent mark
    cannot send the mail again (``Store.recover_sent_marks`` at the next start). What
    every attempt came to goes back to the caller's thread, which records it
    (``settle``), as ``send_due`` does. An attempt whose outcome cannot be noted that
    simply — some recipients refused, or the outcome unknown — holds its worker until the
    caller recorded it, so that at most one such mail per session is ever unrecorded."""

    def __init__(
        self,
        store: Store,
        conn: SmtpConnection,
        *,
        envelope_from: str,
        admission: Admission,
        clock: Callable[[], datetime],
        stop: Callable[[], bool] | None,
    ) -> None:
        self.store, self.conn, self.envelope_from = store, conn, envelope_from
        self.clock, self.stop = clock, stop or (lambda: False)
        self.admission = admission
        self._todo: queue.SimpleQueue[OutboxRow | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[_Attempt, threading.Event | None]] = queue.SimpleQueue()
        self._halted = threading.Event()
        self._threads: list[threading.Thread] = []
        self.in_flight: set[int] = set()
        self.failure: BaseException | None = None
        self.note_failure: StateError | None = None  # a sent mark could not be noted

    def submit(self, rows: list[OutboxRow]) -> None:
        """Queue ``rows`` for sending, in order, as far as the hourly limits admit them;
        rows already in flight are skipped."""
        if self._halted.is_set() or self.failure is not None:
            return
        for row in rows:
            if row.id in self.in_flight:
                continue
            if not self.admission.take(row):
                break
            self.in_flight.add(row.id)
            self._todo.put(row)
        wanted = min(self.conn.cfg.max_connections, len(self.in_flight))
        if len(self._threads) < wanted:
            for session in self.conn.sessions(wanted)[len(self._threads) :]:
                thread = threading.Thread(
                    target=self._work, args=(session,), name="introd-smtp", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self, session: SmtpConnection) -> None:
        row = self._todo.get()
        while row is not None:
            try:  # the next mail, when queued already, has its envelope go with this data
                following, queued = self._todo.get_nowait(), True
            except queue.Empty:
                following, queued = None, False
            attempt = self._try(session, row, following)
            if attempt.refused or isinstance(attempt.error, OutcomeUnknown):
                recorded = threading.Event()
                self._done.put((attempt, recorded))
                recorded.wait()
            else:
                self._done.put((attempt, None))
            row = following if queued else self._todo.get()  # None: the workers' end

    def _try(self, session: SmtpConnection, row: OutboxRow, then: OutboxRow | None) -> _Attempt:
        """One mail on a worker's session; whatever happens, an attempt comes back for the
        daemon to record (a worker that died would leave it waiting for its mail)."""
        if self._halted.is_set() or self.stop():
            if session.ahead is not None:  # a mail's envelope went ahead: it must not go on
                session.quit_session()
            return _Attempt(row, {}, _NotTried())
        try:
            attempt = _attempt(session, row, self.envelope_from, then)
        except (DeliveryError, AuthExpired) as exc:
            attempt = _Attempt(row, {}, exc)
        except Exception as exc:  # noqa: BLE001 - a fault of ours: the mail may have gone
            session.quit_session()
            self._halted.set()
            return _Attempt(row, {}, OutcomeUnknown(f"{exc.__class__.__name__} while sending"))
        error = attempt.error
        if error is None and not attempt.refused:
            try:
                self.store.note_sent(row.id, self.clock())
            except StateError as exc:  # the daemon records the mark; it stops after that
                self.note_failure = self.note_failure or exc
                self._halted.set()
        elif isinstance(error, (DeliveryError, AuthExpired)) or (
            isinstance(error, smtplib.SMTPResponseException) and error.smtp_code == 421
        ):
            self._halted.set()  # the pass is over: what is queued comes back untried
        return attempt

    def has_outcomes(self) -> bool:
        """Whether an attempt finished since the last ``settle``."""
        return not self._done.empty()

    def settle(
        self,
        now: datetime,
        on_failure: Callable[[Failure], None],
        on_sent: Callable[[OutboxRow], None] | None = None,
        *,
        wait: bool = False,
    ) -> int:
        """Record what the finished attempts came to, on the caller's thread (the mails
        in flight too with ``wait``); returns how many mails the server accepted. An error
        that ends the pass (a 421, a lost connection, a refused login) is kept in
        ``failure``, and the rest of the queue comes back untried."""
        sent = 0
        while self.in_flight:
            try:
                ready = [self._done.get(block=wait)]
            except queue.Empty:
                break
            # what else finished meanwhile is recorded with it, in one transaction (the
            # sent marks are on disk already, see note_sent); a worker held for its
            # mail's record goes on once that transaction is committed
            while len(ready) < len(self.in_flight):
                try:
                    ready.append(self._done.get_nowait())
                except queue.Empty:
                    break
            try:
                with self.store.transaction():
                    sent += sum(self._record(a, now, on_failure, on_sent) for a, _ in ready)
            finally:
                for _, recorded in ready:
                    if recorded is not None:
                        recorded.set()
        if self.note_failure is not None and not self.in_flight:
            raise self.note_failure  # everything is recorded: now the state's fault stops it
        return sent

    def _record(
        self,
        attempt: _Attempt,
        now: datetime,
        on_failure: Callable[[Failure], None],
        on_sent: Callable[[OutboxRow], None] | None,
    ) -> bool:
        """Record one finished attempt; whether the server accepted the mail."""
        self.in_flight.discard(attempt.row.id)
        accepted = False
        try:
            if isinstance(attempt.error, AuthExpired):
                self.failure = self.failure or attempt.error
            elif not isinstance(attempt.error, _NotTried):
                accepted = _settle(self.store, self.conn.cfg, attempt, now, on_failure, on_sent)
        except DeliveryError as exc:
            self.failure = self.failure or exc
        if not accepted:  # not sent: it does not count against the hourly limits
            self.admission.give_back(attempt.row)
        return accepted

    def close(
        self,
        now: datetime,
        on_failure: Callable[[Failure], None],
        on_sent: Callable[[OutboxRow], None] | None = None,
        *,
        halt: bool = False,
    ) -> int:
        """Send what is queued (with ``halt``, only the mail in hand: the rest comes back
        untried), record everything and end the workers; the sessions stay open for the
        sending pass that follows. Returns how many mails the server accepted."""
        if halt:
            self._halted.set()
        for _ in self._threads:
            self._todo.put(None)
        sent = self.settle(now, on_failure, on_sent, wait=True)
        for thread in self._threads:
            thread.join()
        self._threads = []
        return sent
