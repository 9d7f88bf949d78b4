"""The daemon loop: watch the folder (IDLE or poll), handle new mail, run the
timers, send the outbox; reconnect with capped backoff; obey SIGTERM/SIGHUP.

Order of effects for one incoming mail (what makes a crash at any point safe):
the engine commits its decision, the mail's row and every mail it sends in one
transaction; the batch is then put away (one MOVE per folder) and marked placed;
only then does the folder's last UID move on. A mail recorded but not placed is
placed again on the next pass, without acting on it a second time.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from .config import Config, load_config
from .delivery import Admission, BackgroundSender, SmtpConnection
from .engine import SLOW_MAIL_KEY
from .exceptions import (
    AuthExpired,
    DeliveryError,
    IntrodError,
    MailboxError,
    StateError,
    TemplateError,
)
from . import judge
from .judge import Placement
from .mailbox import Mailbox
from .metrics import Exporter, Metrics
from .rules import RuleName
from .runlock import RunLock
from .sending import failure_recorder, send_pass
from .state import AUTH_EXPIRED_META, OutboxRow, Store
from .systemd import Notifier
from .wiring import build_engine

if TYPE_CHECKING:
    from .render import Templates

log = structlog.get_logger("introd.daemon")

IDLE_RENEW = 10 * 60.0  # re-issue IDLE well under the 29-minute limit
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 300.0
TIMERS_EVERY = 30.0  # reminders, expiry and the digest are checked this often
MAX_WAIT = 60.0  # the loop wakes at least this often (IDLE is re-issued then)
RATE_LIMIT_RECHECK = 60.0  # past limits.max_outgoing_per_hour, look again this often


Clock = Callable[[], datetime]


def real_clock() -> datetime:
    return datetime.now(UTC)


def placement_of(row: sqlite3.Row | Mapping[str, Any]) -> Placement:
    """Where a recorded mail belongs: "processed" or "quarantine", as the engine placed it."""
    return judge.placement(str(row["kind"]), str(row["action"]), str(row["rule"]))


@dataclass
class RunStats:
    handled: int = 0
    sent: int = 0
    errors: list[str] = field(default_factory=list)


class Outage:
    """The health of one server: the change to broken and the recovery are logged once
    each; retries back off exponentially (1 s, 2 s, 4 s ... capped)."""

    def __init__(
        self, name: str, *, first: float = FIRST_BACKOFF, cap: float = MAX_BACKOFF
    ) -> None:
        self.name = name
        self.first = first
        self.cap = cap
        self.broken = False
        self.delay = first
        self.retry_at = 0.0  # time.monotonic() before which no attempt is made
        self.since = 0.0
        self.failures = 0

    def failed(self, error: str) -> tuple[bool, float]:
        """Note a failure; returns (whether this starts an outage, seconds to wait)."""
        now = time.monotonic()
        started = not self.broken
        if started:
            self.broken, self.since, self.delay, self.failures = True, now, self.first, 0
            log.warning(f"{self.name}_unavailable", error=error, retry_in_s=self.delay)
        else:
            self.delay = min(self.delay * 2, self.cap)
            log.debug(f"{self.name}_retry_failed", error=error, retry_in_s=self.delay)
        self.failures += 1
        self.retry_at = now + self.delay
        return started, self.delay

    def recovered(self) -> bool:
        """Note a success; True when it ends an outage (and logs that once)."""
        if not self.broken:
            return False
        down = time.monotonic() - self.since
        self.broken, self.delay, self.retry_at = False, self.first, 0.0
        event = "imap_reconnected" if self.name == "imap" else f"{self.name}_recovered"
        log.info(event, down_s=round(down, 1), attempts=self.failures)
        return True

    def waiting(self) -> float:
        """Seconds until the next attempt is allowed (0 when healthy)."""
        return max(0.0, self.retry_at - time.monotonic()) if self.broken else 0.0


# in a backlog, the requests decided so far are committed and their mails handed to the
# background sender every this many, so that sending starts early and ends soon after the
# reading (the last batch's mails would otherwise all wait for its end)
SEND_EVERY = 20


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        clock: Clock = real_clock,
        lock: RunLock | None = None,
        templates: Templates | None = None,
    ) -> None:
        self.config = config
        self.lock = lock
        self.clock = clock
        self.store = Store(config.state_path)
        # the mark of a mail being read slowly must be on disk before the read goes on:
        # if the read kills introd, the next start must not read that mail again
        self.store.durable_meta.add(SLOW_MAIL_KEY)
        recovered = self.store.recover_sent_marks()
        if recovered:  # accepted by the server just before a crash: never sent again
            log.info("sent_marks_recovered", count=recovered)
        self.engine = build_engine(config, self.store, templates)
        assert config.imap is not None and config.smtp is not None
        self.mailbox = Mailbox(config.imap)
        self.smtp = SmtpConnection(config.smtp)
        self.notifier = Notifier()
        self.metrics = Metrics()
        self.exporter = Exporter(self.metrics, textfile=config.metrics_textfile)
        self.imap_outage = Outage("imap")
        self.smtp_outage = Outage("smtp")
        self._rate_limited_until = 0.0
        # the provider refused the refresh token: wait for a new login (or SIGHUP)
        self.auth_blocked = False
        self._auth_delay = FIRST_BACKOFF
        self._auth_retry_at = 0.0
        self.stop_requested = False
        self.waiting_uids: set[int] = set()
        self.sender: BackgroundSender | None = None  # in a backlog: sending while reading
        self.reload_requested = False
        self.phase = "starting"

    # -- one pass -------------------------------------------------------------
    def _uid_key(self) -> str:
        assert self.config.imap is not None
        return f"last_uid:{self.config.imap.folder}:{self.mailbox.uidvalidity}"

    def _check_uidvalidity(self) -> None:
        """A new UIDVALIDITY starts the folder's UIDs over (the last UID is kept per
        UIDVALIDITY); mail seen before is recognised by its Message-ID and only put away."""
        assert self.config.imap is not None
        key = f"uidvalidity:{self.config.imap.folder}"
        before = self.store.get_meta(key)
        now_v = str(self.mailbox.uidvalidity)
        if before == now_v:
            return
        if before is not None:
            log.warning(
                "uidvalidity_changed", folder=self.config.imap.folder, old=before, new=now_v
            )
        self.store.set_meta(key, now_v)

    def _folder_for(self, placement: str) -> str | None:
        imap = self.config.imap
        assert imap is not None
        return imap.processed_folder if placement == "processed" else imap.quarantine_folder

    def _put_away(self, placements: dict[str, list[int]], uidvalidity: int) -> None:
        """One MOVE per destination, then the placed marks in one transaction."""
        imap = self.config.imap
        assert imap is not None
        for placement, uids in placements.items():
            self.mailbox.place(uids, self._folder_for(placement))
        with self.store.transaction():
            for uids in placements.values():
                for uid in uids:
                    self.store.mark_placed(imap.folder, uidvalidity, uid)

    def _handle(self, uid: int, raw: bytes, uidvalidity: int) -> str:
        """Decide on one mail and record it; returns its placement. A mail that makes the
        engine fail is recorded as such and quarantined: one bad mail never stops the rest."""
        imap = self.config.imap
        assert imap is not None
        now = self.clock()
        started = time.perf_counter()
        try:
            with self.store.savepoint():  # inside the batch: a failing mail is undone alone
                outcome = self.engine.handle(
                    raw, folder=imap.folder, uidvalidity=uidvalidity, uid=uid, now=now
                )
        except StateError:
            raise
        except Exception as exc:  # noqa: BLE001 - set the mail aside with its reason
            log.exception("mail_crashed", uid=uid, error=f"{exc.__class__.__name__}: {exc}")
            with self.store.transaction():
                self.store.record_message(
                    folder=imap.folder,
                    uidvalidity=uidvalidity,
                    uid=uid,
                    message_id=None,
                    kind="unknown",
                    intro_id=None,
                    action="ignore",
                    rule=RuleName.INTERNAL_ERROR,
                    now=now,
                )
                self.store.add_event(
                    None,
                    "error",
                    now,
                    where="engine",
                    uid=uid,
                    error=f"{exc.__class__.__name__}: {exc}"[:300],
                )
            self.metrics.count("introd_errors_total", where="engine")
            self.metrics.mail_in(
                kind="unknown",
                rule=RuleName.INTERNAL_ERROR,
                action="ignore",
                seconds=time.perf_counter() - started,
            )
            return "quarantine"
        self.metrics.mail_in(
            kind=outcome.reading.kind,
            rule=outcome.decision.rule,
            action=outcome.decision.action,
            seconds=time.perf_counter() - started,
        )
        return outcome.placement

    def process_mailbox(self) -> int:
        """Handle every new mail of the folder; returns how many."""
        imap = self.config.imap
        assert imap is not None
        self._check_uidvalidity()
        uv = self.mailbox.uidvalidity
        # mail handled before a crash but not yet put away
        unplaced: dict[str, list[int]] = {}
        for row in self.store.unplaced(imap.folder, uv):
            unplaced.setdefault(placement_of(row), []).append(row["uid"])
        if unplaced:
            log.info("mail_placed_again", count=sum(map(len, unplaced.values())))
            self._put_away(unplaced, uv)
        last = int(self.store.get_meta(self._uid_key()) or 0)
        uids = self.mailbox.new_uids(last)
        handled = 0
        self.waiting_uids = set()
        # a backlog (more than one batch): what each batch queued leaves while the next
        # one is read, so the opt-ins go as the backlog is read, not after all of it
        if len(uids) > imap.batch_size and self._send_wait() == 0:
            self.sender = self._background_sender()
        try:
            for batch in self.mailbox.fetch_batches(uids):
                placements, done, count = self._handle_batch(batch, uv)
                handled += count
                self._put_away(placements, uv)
                if done:
                    self.store.set_meta(self._uid_key(), str(done))
                if self.stop_requested:
                    break
                self._send_behind()
        finally:
            self._end_background()
        return handled

    def _background_sender(self) -> BackgroundSender:
        return BackgroundSender(
            self.store,
            self.smtp,
            envelope_from=self.config.reply_address,
            admission=Admission(
                self.store, self.clock(), self.config.max_outgoing_per_hour, self._stopping
            ),
            clock=self.clock,
            stop=self._stopping,
        )

    def _stopping(self) -> bool:
        return self.stop_requested

    def _send_behind(self) -> None:
        """After a batch's commit: its mails (what is due) to the background sender."""
        sender = self.sender
        if sender is None:
            return
        self._settle_behind()
        # nothing once the pass ended; the mails in flight are not read again
        sender.submit(self.store.due_outbox(self.clock(), skip=sender.in_flight))

    def _settle_behind(self, *, wait: bool = False) -> None:
        """Record what the background sender's attempts came to."""
        sender = self.sender
        if sender is None or not (wait or sender.has_outcomes()):
            return
        now = self.clock()
        failed = failure_recorder(
            self.store,
            lambda: self.engine,
            now,
            lambda f: self.metrics.mail_failed(f.row.template),
        )
        if wait:
            sender.close(now, failed, self._mail_sent, halt=self.stop_requested)
        else:
            sender.settle(now, failed, self._mail_sent)

    def _end_background(self) -> None:
        """The last of the backlog: what is queued is sent, everything recorded."""
        sender = self.sender
        if sender is None:
            return
        try:
            self._settle_behind(wait=True)
        finally:
            self.sender = None
        self.store.forget_sent_notes()
        if isinstance(sender.failure, DeliveryError | AuthExpired):
            self._sending_failed(sender.failure)

    def _sending_failed(self, exc: DeliveryError | AuthExpired) -> None:
        """A sending pass ended by the server or the sign-in: the sessions are closed, and
        the outage (or the expired login) is noted with its backoff."""
        self.smtp.close()
        if isinstance(exc, AuthExpired):
            self._auth_expired(exc)
        else:
            self._smtp_failed(exc)

    def _handle_batch(
        self, batch: list[tuple[int, bytes]], uv: int
    ) -> tuple[dict[str, list[int]], int, int]:
        """Decide on the mails of one FETCH batch in one transaction (each decision with its
        mails, undone alone if it fails); returns the placements, the UID the folder's
        last UID may move to, and how many mails were handled. A crash before the commit
        leaves the whole batch to be read again: nothing of it was recorded or sent. In a
        backlog the batch commits every SEND_EVERY mails as well, and what they queued
        goes to the background sender at once; a crash then leaves those mails recorded
        but not put away, which the next start puts away without acting on them again."""
        imap = self.config.imap
        assert imap is not None
        placements: dict[str, list[int]] = {}
        done = handled = 0
        with self.store.batch():
            for uid, raw in batch:
                if self.store.seen_uid(imap.folder, uv, uid) is None:
                    placement = self._handle(uid, raw, uv)
                    if placement == "wait":
                        self.waiting_uids.add(uid)
                    elif placement:  # None: leave the mail as it is
                        placements.setdefault(placement, []).append(uid)
                    handled += 1
                if not self.waiting_uids:  # a mail left for later: retry from there
                    done = uid
                self._settle_behind()  # the mails of the batch before, as they leave
                if self.sender is not None and handled % SEND_EVERY == 0:
                    self.store.commit_part()  # what is decided so far leaves now
                    self._send_behind()
                self.notifier.ping()
                if self.stop_requested:
                    break
        return placements, done, handled

    def _smtp_failed(self, exc: DeliveryError) -> None:
        started, _ = self.smtp_outage.failed(str(exc))
        if started:
            self._record_error("smtp", str(exc))

    def _auth_expired(self, exc: AuthExpired) -> float:
        """The refresh token is refused: one ``auth_expired`` event naming the fix, the fact
        kept for ``introd status`` and ``check-config``, then a backoff (1 s doubling to
        5 min) instead of a crash loop. Mail already queued stays in the outbox."""
        now = time.monotonic()
        if not self.auth_blocked:
            self.auth_blocked = True
            self._auth_delay = FIRST_BACKOFF
            log.error(
                "auth_expired",
                error=str(exc),
                fix="run `introd auth login` as the service user, then reload introd",
            )
            self._record_error("auth", str(exc))
            # the real time, not the daemon's clock: it is compared with the time of the
            # next `introd auth login`
            self.store.set_meta(
                AUTH_EXPIRED_META,
                json.dumps({"at": datetime.now(UTC).isoformat(), "error": str(exc)[:300]}),
            )
        else:
            self._auth_delay = min(self._auth_delay * 2, MAX_BACKOFF)
        self._auth_retry_at = now + self._auth_delay
        return self._auth_delay

    def _auth_ok(self) -> None:
        """A login worked again (a new ``introd auth login``)."""
        if self.auth_blocked:
            self.auth_blocked = False
            self._auth_delay, self._auth_retry_at = FIRST_BACKOFF, 0.0
            self.store.set_meta(AUTH_EXPIRED_META, "")
            log.info("auth_recovered")

    def _mail_sent(self, row: OutboxRow) -> None:
        self.metrics.mail_out(row.template)
        self.notifier.ping()

    def _send_pass(self) -> int:
        """Send what is due now, counting each mail sent and failed."""
        return send_pass(
            self.store,
            lambda: self.engine,
            self.smtp,
            self.config,
            now=self.clock(),
            stop=lambda: self.stop_requested,
            on_sent=self._mail_sent,
            on_failure=lambda f: self.metrics.mail_failed(f.row.template),
        )

    def send_outbox(self) -> int:
        """Send the whole due outbox, then close the SMTP sessions."""
        try:
            return self._send_pass()
        finally:
            self.smtp.close()

    def copy_sent(self) -> None:
        imap = self.config.imap
        if imap is None or not imap.sent_folder:
            return
        for row in self.store.uncopied_sent():
            self.mailbox.append(imap.sent_folder, row.raw, row.sent_at)
            self.store.mark_copied(row.id)

    def _record_error(self, where: str, error: str) -> None:
        """An "error" event in the state (`introd status` counts them) and in the metrics."""
        self.metrics.count("introd_errors_total", where=where)
        self.store.add_event(None, "error", self.clock(), where=where, error=error[:300])

    def _note_poll(self) -> None:
        now = self.clock()
        self.store.set_meta("last_poll", now.isoformat())
        self.metrics.gauge("introd_last_poll_timestamp_seconds", now.timestamp())

    def export_metrics(self) -> None:
        if not self.exporter.enabled:
            return
        counts = self.store.count_by_state()
        self.metrics.gauge("introd_outbox_depth", self.store.outbox_depth())
        self.metrics.gauge("introd_intros_awaiting", counts.get("awaiting", 0))
        self.exporter.flush()

    def check_clock(self) -> None:
        """The clock set back since the last pass: stamps from the future become now."""
        went_back = self.store.note_clock(self.clock(), expire_after=self.config.expire_after)
        if went_back is not None:
            log.warning("clock_went_back", seconds=int(went_back.total_seconds()))
            self._rate_limited_until = 0.0

    def run_once(self) -> RunStats:
        """Process what is there and what is due, then return."""
        stats = RunStats()
        self.check_clock()
        try:
            try:
                self.mailbox.connect()
                stats.handled = self.process_mailbox()
                self._note_poll()
                self.engine.tick(self.clock())
                stats.sent = self.send_outbox()
                self.copy_sent()
            except MailboxError as exc:
                self._record_error("imap", str(exc))
                raise
            except DeliveryError as exc:
                self._record_error("smtp", str(exc))
                raise
            except AuthExpired as exc:
                self._auth_expired(exc)
                raise
        finally:
            self.mailbox.close()
            self.export_metrics()
        return stats

    # -- forever ----------------------------------------------------------------
    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self.reload_requested = True

    def _reload(self) -> None:
        self.reload_requested = False
        self.notifier.reloading()
        path = self.config.path
        try:
            assert path is not None
            new = load_config(path)
            engine = build_engine(new, self.store)
            from .templates_check import check_templates

            problems = check_templates(new)
            if problems:
                raise TemplateError("; ".join(problems))
        except IntrodError as exc:
            log.error("reload_refused", error=str(exc))
            self.notifier.ready()
            return
        self.config, self.engine = new, engine
        assert new.imap is not None and new.smtp is not None
        # read the token file afresh (a new `introd auth login`) and try at once
        from .oauth2 import forget_sources  # imported where sign-in tokens are used

        forget_sources()
        self._auth_retry_at = 0.0
        self.mailbox.close()
        self.mailbox = Mailbox(new.imap)
        self.smtp.close()
        self.smtp = SmtpConnection(new.smtp)
        log.info("config_reloaded")
        self.notifier.ready()

    def status_line(self) -> str:
        counts = self.store.count_by_state()
        review = counts.get("review", 0)
        return (
            f"{self.phase}; {counts.get('awaiting', 0)} awaiting, "
            + (f"{review} in review, " if review else "")
            + f"{self.store.outbox_depth()} in outbox"
        )

    def run_forever(self) -> int:
        """Watch, handle, send until SIGTERM; exits non-zero (so systemd restarts it) only
        when the state cannot be written."""
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        signal.signal(signal.SIGHUP, self._on_hup)
        self.exporter = Exporter(
            self.metrics, textfile=self.config.metrics_textfile, listen=self.config.metrics_listen
        )
        try:
            self._loop()
        except StateError as exc:
            log.error("state_unwritable", error=str(exc))
            self.notifier.status(f"failed: {exc}")
            raise
        finally:
            self.notifier.stopping()
            self.mailbox.close()
            self.smtp.close()
            self.exporter.close()
        log.info("daemon_stopped")
        return 0

    def _loop(self) -> None:
        ready = False
        timers_at = 0.0
        while not self.stop_requested:
            if self.reload_requested:
                self._reload()
            try:
                if self.mailbox.client is None:
                    self.mailbox.connect()
                    if self.config.imap is not None and self.config.imap.auth == "oauth2":
                        self._auth_ok()
                    if self.imap_outage.recovered():
                        self.metrics.count("introd_imap_reconnects_total")
                self.phase = "working"
                self.check_clock()
                self.process_mailbox()
                self._note_poll()
                if self.stop_requested:
                    break
                if time.monotonic() >= timers_at:
                    self.engine.tick(self.clock())
                    timers_at = time.monotonic() + TIMERS_EVERY
                self._send_when_reachable()
                self.copy_sent()
                self.phase = "idle" if self._use_idle() else "polling"
                if not ready:
                    self.notifier.ready(self.status_line())
                    log.info(
                        "daemon_ready",
                        folder=self.config.imap.folder if self.config.imap else None,
                        idle=self._use_idle(),
                    )
                    ready = True
                self.notifier.status(self.status_line())
                self.export_metrics()
                self.smtp.close_if_idle(time.monotonic())
                self._wait()
            except AuthExpired as exc:
                self.mailbox.close()
                delay = self._auth_expired(exc)
                self.phase = "waiting for `introd auth login`"
                if not ready:
                    self.notifier.ready()
                    ready = True
                self.notifier.status(self.status_line())
                self.export_metrics()
                self._sleep(delay)
            except MailboxError as exc:
                self.mailbox.close()
                started, delay = self.imap_outage.failed(str(exc))
                if started:
                    self._record_error("imap", str(exc))
                self.phase = f"IMAP unavailable, retrying in {delay:.0f}s"
                if not ready:  # running, if not useful yet: systemd must not time out
                    self.notifier.ready()
                    ready = True
                self.notifier.status(self.status_line())
                self.export_metrics()
                self._sleep(delay)

    def _send_when_reachable(self) -> None:
        """Send what is due, unless the SMTP server failed us and the backoff still runs,
        or the hourly limit is reached (then look again in a minute)."""
        if self._send_wait() > 0 or not self.store.due_outbox(self.clock(), limit=1):
            return
        try:
            self._send_pass()  # the session stays open for the next mail (KEEP_OPEN)
        except (DeliveryError, AuthExpired) as exc:
            self._sending_failed(exc)
            return
        if self.config.smtp is not None and self.config.smtp.auth == "oauth2":
            self._auth_ok()
        self.smtp_outage.recovered()
        if self.store.due_outbox(self.clock(), limit=1):  # held back by an hourly limit
            self._rate_limited_until = time.monotonic() + RATE_LIMIT_RECHECK

    def _send_wait(self) -> float:
        """Seconds before the outbox may be tried again (SMTP backoff, hourly limit)."""
        auth_wait = self._auth_retry_at - time.monotonic() if self.auth_blocked else 0.0
        return max(
            self.smtp_outage.waiting(), self._rate_limited_until - time.monotonic(), auth_wait, 0.0
        )

    def _use_idle(self) -> bool:
        return bool(self.config.imap and self.config.imap.idle and self.mailbox.capable("IDLE"))

    def _next_timer(self) -> float:
        """Seconds until something is due: an outbox retry, the SMTP backoff's end, the
        timers, the next poll, the IDLE renewal or the end of an unused SMTP session."""
        imap = self.config.imap
        assert imap is not None
        limit = IDLE_RENEW if self._use_idle() else imap.poll_interval.total_seconds()
        limit = min(limit, MAX_WAIT)
        pending = self.store.due_outbox(self.clock() + timedelta(seconds=limit), limit=1)
        if pending:
            delta = (pending[0].next_attempt - self.clock()).total_seconds()
            delta = max(delta, self._send_wait())
            limit = max(1.0, min(limit, delta))
        quit_at = self.smtp.idle_until()
        if quit_at is not None:
            limit = min(limit, max(0.05, quit_at - time.monotonic()))
        return limit

    def _wait(self) -> None:
        timeout = self._next_timer()
        if self._unhandled_mail():
            return  # mail arrived while we worked: its EXISTS may have gone by unseen
        if self._use_idle():
            self.mailbox.idle_wait(timeout, self._interrupted, self.notifier.ping)
        else:
            self._sleep(timeout)
            if not self._interrupted():
                self.mailbox.noop()  # prove the connection before the next poll

    def _unhandled_mail(self) -> bool:
        """New mail in the folder that no pass has handled (or left waiting) yet."""
        imap = self.config.imap
        assert imap is not None
        last = int(self.store.get_meta(self._uid_key()) or 0)
        uv = self.mailbox.uidvalidity
        return any(
            uid not in self.waiting_uids and self.store.seen_uid(imap.folder, uv, uid) is None
            for uid in self.mailbox.new_uids(last)
        )

    def _interrupted(self) -> bool:
        return self.stop_requested or self.reload_requested

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._interrupted() and time.monotonic() < end:
            self.notifier.ping()
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))
