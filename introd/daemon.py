"""The daemon loop: watch the folder (IDLE or poll), handle new mail, run the
timers, send the outbox; reconnect with capped backoff; obey SIGTERM/SIGHUP."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType

import structlog

from .config import Config, load_config
from .contacts import load_contacts
from .delivery import Failure, SmtpConnection, send_due
from .engine import Engine
from .exceptions import DeliveryError, IntrodError, MailboxError, TemplateError
from .mailbox import Mailbox
from .render import Templates
from .state import Store
from .templates_check import check_templates
from .systemd import Notifier
from .tokens import load_secret

log = structlog.get_logger("introd.daemon")

IDLE_RENEW = 10 * 60.0  # re-issue IDLE well under the 29-minute limit
MAX_BACKOFF = 300.0


Clock = Callable[[], datetime]


def real_clock() -> datetime:
    return datetime.now(UTC)


def build_engine(config: Config, store: Store) -> Engine:
    contacts = load_contacts(list(config.contacts))
    templates = Templates(config.templates_dir)
    return Engine(config, store=store, templates=templates, contacts=contacts,
                  secret=load_secret(config.secret_file))


@dataclass
class RunStats:
    handled: int = 0
    sent: int = 0
    errors: list[str] = field(default_factory=list)


class Daemon:
    def __init__(self, config: Config, *, clock: Clock = real_clock) -> None:
        self.config = config
        self.clock = clock
        self.store = Store(config.state_path)
        self.engine = build_engine(config, self.store)
        assert config.imap is not None and config.smtp is not None
        self.mailbox = Mailbox(config.imap)
        self.smtp = SmtpConnection(config.smtp)
        self.notifier = Notifier()
        self.stop_requested = False
        self.reload_requested = False

    # -- one pass -------------------------------------------------------------
    def _uid_key(self) -> str:
        assert self.config.imap is not None
        return f"last_uid:{self.config.imap.folder}:{self.mailbox.uidvalidity}"

    def _check_uidvalidity(self) -> None:
        assert self.config.imap is not None
        key = f"uidvalidity:{self.config.imap.folder}"
        before = self.store.get_meta(key)
        now_v = str(self.mailbox.uidvalidity)
        if before is not None and before != now_v:
            log.warning("uidvalidity_changed", folder=self.config.imap.folder, old=before,
                        new=now_v)
        self.store.set_meta(key, now_v)

    def _folder_for(self, placement: str) -> str | None:
        imap = self.config.imap
        assert imap is not None
        return imap.processed_folder if placement == "processed" else imap.quarantine_folder

    def process_mailbox(self) -> int:
        """Handle every new mail of the folder; returns how many."""
        imap = self.config.imap
        assert imap is not None
        self._check_uidvalidity()
        uv = self.mailbox.uidvalidity
        # mail handled before a crash but not yet put away
        for row in self.store.unplaced(imap.folder, uv):
            placement = "processed" if row["action"] != "ignore" or row["kind"] in (
                "auto_reply", "bounce") or row["rule"] == "already_seen" else "quarantine"
            self.mailbox.place([row["uid"]], self._folder_for(placement))
            self.store.mark_placed(imap.folder, uv, row["uid"])
        last = int(self.store.get_meta(self._uid_key()) or 0)
        uids = self.mailbox.new_uids(last)
        handled = 0
        for uid, raw in self.mailbox.fetch(uids):
            if self.store.seen_uid(imap.folder, uv, uid) is None:
                outcome = self.engine.handle(raw, folder=imap.folder, uidvalidity=uv, uid=uid,
                                             now=self.clock())
                self.mailbox.place([uid], self._folder_for(outcome.placement))
                self.store.mark_placed(imap.folder, uv, uid)
                handled += 1
            self.store.set_meta(self._uid_key(), str(uid))
            self.notifier.ping()
            if self.stop_requested:
                break
        return handled

    def send_outbox(self) -> int:
        now = self.clock()

        def failed(f: Failure) -> None:
            with self.store.transaction():
                for address in f.addresses:
                    self.engine.notify_failure(address, f.reason, now, intro_id=f.row.intro_id)

        try:
            sent = send_due(self.store, self.smtp, now=now,
                            envelope_from=self.config.reply_address,
                            max_per_hour=self.config.max_outgoing_per_hour, on_failure=failed)
            # bounce notices queued just now go out in the same pass
            if self.store.due_outbox(now, limit=1):
                sent += send_due(self.store, self.smtp, now=now,
                                 envelope_from=self.config.reply_address,
                                 max_per_hour=self.config.max_outgoing_per_hour,
                                 on_failure=failed)
        finally:
            self.smtp.close()
        return sent

    def copy_sent(self) -> None:
        imap = self.config.imap
        if imap is None or not imap.sent_folder:
            return
        for row in self.store.uncopied_sent():
            self.mailbox.append(imap.sent_folder, row.raw, row.sent_at)
            self.mailbox.client and self.mailbox.client.select_folder(imap.folder)
            self.store.mark_copied(row.id)

    def run_once(self) -> RunStats:
        """Process what is there and what is due, then return."""
        stats = RunStats()
        try:
            self.mailbox.connect()
            stats.handled = self.process_mailbox()
            self.engine.tick(self.clock())
            stats.sent = self.send_outbox()
            self.copy_sent()
        finally:
            self.mailbox.close()
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
            problems = check_templates(new)
            if problems:
                raise TemplateError("; ".join(problems))
        except IntrodError as exc:
            log.error("reload_refused", error=str(exc))
            self.notifier.ready()
            return
        self.config, self.engine = new, engine
        assert new.imap is not None and new.smtp is not None
        self.mailbox.close()
        self.mailbox = Mailbox(new.imap)
        self.smtp = SmtpConnection(new.smtp)
        log.info("config_reloaded")
        self.notifier.ready()

    def status_line(self) -> str:
        counts = self.store.count_by_state()
        return (f"idle; {counts.get('awaiting', 0)} awaiting, {counts.get('review', 0)} in review, "
                f"{self.store.outbox_depth()} in outbox")

    def run_forever(self) -> int:
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        signal.signal(signal.SIGHUP, self._on_hup)
        backoff = 1.0
        ready = False
        broken: str | None = None
        while not self.stop_requested:
            if self.reload_requested:
                self._reload()
            try:
                if self.mailbox.client is None:
                    self.mailbox.connect()
                    if broken:
                        log.info("imap_reconnected")
                        broken = None
                self.process_mailbox()
                self.engine.tick(self.clock())
                self.store.set_meta("last_poll", self.clock().isoformat())
                try:
                    self.send_outbox()
                except DeliveryError as exc:
                    log.warning("smtp_unavailable", error=str(exc))
                self.copy_sent()
                if not ready:
                    self.notifier.ready(self.status_line())
                    log.info("daemon_ready", folder=self.config.imap.folder if self.config.imap
                             else None, idle=self._use_idle())
                    ready = True
                self.notifier.status(self.status_line())
                backoff = 1.0
                self._wait()
            except MailboxError as exc:
                if broken != str(exc):
                    log.warning("imap_unavailable", error=str(exc), retry_in_s=backoff)
                    broken = str(exc)
                self.mailbox.close()
                self._sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        self.notifier.stopping()
        self.mailbox.close()
        log.info("daemon_stopped")
        return 0

    def _use_idle(self) -> bool:
        return bool(self.config.imap and self.config.imap.idle and self.mailbox.capable("IDLE"))

    def _next_timer(self) -> float:
        """Seconds until the next outbox retry is due (capped)."""
        imap = self.config.imap
        assert imap is not None
        limit = IDLE_RENEW if self._use_idle() else imap.poll_interval.total_seconds()
        pending = self.store.due_outbox(self.clock() + timedelta(seconds=limit), limit=1)
        if pending:
            delta = (pending[0].next_attempt - self.clock()).total_seconds()
            limit = max(1.0, min(limit, delta))
        return min(limit, 60.0)  # timers (reminders, expiry) are checked at least every minute

    def _wait(self) -> None:
        timeout = self._next_timer()
        if self._use_idle():
            self.mailbox.idle_wait(timeout, self._interrupted, self.notifier.ping)
        else:
            self._sleep(timeout)

    def _interrupted(self) -> bool:
        return self.stop_requested or self.reload_requested

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._interrupted() and time.monotonic() < end:
            self.notifier.ping()
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))
