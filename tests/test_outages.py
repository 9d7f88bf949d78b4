"""The daemon's edges: IMAP restarted under IDLE and under a fetch, SMTP answering 421,
451 and 550, UIDVALIDITY changed, a state file that cannot be written."""

from __future__ import annotations

import email
import os
import re
import resource
import shutil
import signal
import sqlite3
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from introd.config import load_config
from introd.daemon import Daemon, Outage
from introd.exceptions import DeliveryError
from helpers import Running, backlog_contacts, backlog_request, wait_for
from world import INTROS, OWNER, TIM_ASKS, World, forward


pytestmark = [
    pytest.mark.servers,
    pytest.mark.world(
        config={
            "imap": {"idle": True, "poll_interval": "60s"},
            "limits": {"max_outgoing_per_hour": 0},
            "log": {"format": "json", "level": "debug"},
        }
    ),
]

TIM, BOB = "tim@example.test", "bob@example.test"


# -- IMAP ------------------------------------------------------------------------------
class TestImapOutages:
    def test_restart_during_idle_reconnects_and_logs_once(self, world: World) -> None:
        """Dovecot restarted under IDLE: one imap_unavailable, one imap_reconnected, no
        tight loop, and mail arriving afterwards is handled."""
        d = Running(world)
        try:
            d.wait_event("daemon_ready")
            world.dovecot.stop()
            d.wait_event("imap_unavailable")
            time.sleep(3.5)  # stay down over a few backoff steps (1 s, 2 s, ...)
            world.dovecot.start()
            d.wait_event("imap_reconnected", timeout=20)
            world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
            world.smtp.wait_for(2, timeout=20)
            assert len(d.events("imap_unavailable")) == 1
            assert len(d.events("imap_reconnected")) == 1
            # backoff 1 s, 2 s, 4 s: a handful of attempts in 3.5 s, not hundreds
            assert len(d.events("imap_retry_failed")) <= 4
        finally:
            assert d.stop() == 0
        assert len(world.sent()) == 2

    def test_restart_during_fetch_loses_and_repeats_nothing(self, world: World) -> None:
        """Dovecot restarted while a backlog is read: every request gets its two opt-ins,
        exactly once, and every mail ends in the processed folder."""
        count = 120
        world.write_contacts(backlog_contacts(count))
        world.write_config(imap={"idle": True, "poll_interval": "60s", "batch_size": 10})
        assert "max_outgoing_per_hour: 0" in world.config_path.read_text()
        world.append_all([backlog_request(i) for i in range(count)])
        d = Running(world)
        try:
            d.wait_event("mail_handled", 25, timeout=30)
            world.dovecot.restart()
            d.wait_event("imap_reconnected", timeout=30)
            world.smtp.wait_for(2 * count, timeout=60)
            wait_for(lambda: world.dovecot.messages(INTROS) == [], what="INBOX emptied")
        finally:
            assert d.stop() == 0
        ids = [m["Message-ID"] for m in world.sent()]
        assert len(ids) == 2 * count == len(set(ids))
        assert len(world.dovecot.messages(INTROS, "introd/done")) == count
        assert d.events("mail_crashed") == []

    @pytest.mark.parametrize("with_id", [True, False], ids=["message-id", "no-message-id"])
    def test_uidvalidity_change_does_not_repeat_old_mail(
        self, world: World, clock: Any, with_id: bool
    ) -> None:
        """The folder recreated with the old mail under new UIDs: the old mail is put away
        without acting again, the new one is handled. A mail without a Message-ID is
        recognised by a digest of its bytes."""
        world.write_config(
            imap={"folder": "requests", "processed_folder": None, "quarantine_folder": None}
        )
        old = forward("Tim Walker", TIM, TIM_ASKS, message_id="<old-1@mail.example.test>")
        if not with_id:
            old = re.sub(rb"(?m)^Message-ID: [^\r\n]*\r?\n", b"", old, count=1)
            assert email.message_from_bytes(old)["Message-ID"] is None
        world.append_all([old], folder="requests")
        assert world.run_once(clock.now()) == 0
        assert len(world.sent()) == 2
        with world.dovecot.session(INTROS) as imap:
            before = imap.select_folder("requests")[b"UIDVALIDITY"]
            imap.unselect_folder()
            imap.delete_folder("requests")
        world.write_contacts(backlog_contacts(1))
        world.append_all([old, backlog_request(0)], folder="requests")
        with world.dovecot.session(INTROS) as imap:
            assert imap.select_folder("requests")[b"UIDVALIDITY"] != before
        clock.advance(timedelta(minutes=1))
        assert world.run_once(clock.now()) == 0
        sent = world.sent()
        assert len(sent) == 4, [m["Subject"] for m in sent]
        assert sum(TIM in str(m["To"]) for m in sent) == 1
        assert world.run_once(clock.now()) == 0
        assert len(world.sent()) == 4
        db = sqlite3.connect(world.tmp / "introd.db")
        rules = [r[0] for r in db.execute("SELECT rule FROM messages ORDER BY id")]
        db.close()
        assert rules.count("already_seen") == 1, rules  # recognised, not judged again


# -- SMTP ------------------------------------------------------------------------------
class TestSmtpOutages:
    def test_421_then_451_then_550_for_one_recipient(self, world: World, clock: Any) -> None:
        """421 stops the pass, 451 defers with backoff, and a 550 for the target fails only
        that mail: the requester's opt-in leaves, the owner gets one bounce_notice."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        daemon = Daemon(load_config(world.config_path), clock=clock)
        world.smtp.fail_next(1, code=421, message="4.3.2 Closing, try later")
        with pytest.raises(DeliveryError, match="421"):
            daemon.run_once()
        assert world.sent() == []
        assert daemon.store.outbox_depth() == 2
        assert daemon.store.recent_events("error", clock.now() - timedelta(hours=1))

        world.smtp.fail_next(100, code=451)
        for minutes in (1, 6, 20):
            clock.advance(timedelta(minutes=minutes))
            daemon.run_once()
        assert world.sent() == []
        rows = daemon.store.due_outbox(clock.now() + timedelta(days=1))
        assert [r.attempts for r in rows] == [3, 3]
        assert all(r.last_error and r.last_error.startswith("451") for r in rows)

        world.smtp.clear()
        world.smtp.reject_rcpt(BOB, 550)
        clock.advance(timedelta(hours=2))
        daemon.run_once()
        assert world.sent_to(TIM) and not world.sent_to(BOB)
        notices = world.sent_to(OWNER)
        assert len(notices) == 1
        clock.advance(timedelta(hours=3))
        daemon.run_once()
        assert len(world.sent_to(OWNER)) == 1
        assert daemon.store.outbox_depth() == 0

    def test_smtp_down_is_retried_with_backoff_and_logged_once(self, world: World) -> None:
        """With SMTP unreachable the daemon keeps handling mail, logs smtp_unavailable once,
        and sends everything once the server answers again."""
        from servers import SmtpServer

        late = SmtpServer(
            user=world.smtp.user, password=world.smtp.password, dovecot=world.dovecot
        )  # not started: nothing listens on its port
        world.write_config(smtp={"port": late.port})
        d = Running(world)
        try:
            d.wait_event("daemon_ready")
            world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
            d.wait_event("smtp_unavailable")
            d.wait_event("mail_handled")
            late.start()
            d.wait_event("smtp_recovered", timeout=30)
            late.wait_for(2)
            assert len(d.events("smtp_unavailable")) == 1
        finally:
            assert d.stop() == 0
            late.stop()
        assert len(late.received) == 2


# -- the state file ------------------------------------------------------------------
def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


class TestStateUnwritable:
    @pytest.mark.parametrize("how", ["read_only_file", "disk_full"])
    def test_unwritable_state_exits_non_zero_without_damage(self, world: World, how: str) -> None:
        """A state file that cannot be written stops the daemon with one clear line and a
        non-zero exit (systemd restarts it); the file stays intact and, once writable,
        the mail is handled as if nothing happened."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        db = world.tmp / "introd.db"
        first = Running(world)  # creates the state, handles the first request
        first.wait_event("daemon_ready")
        world.smtp.wait_for(2)
        assert first.stop() == 0
        world.write_contacts(backlog_contacts(30))
        world.append_all([backlog_request(i) for i in range(30)])
        preexec, prefix = None, []
        if how == "read_only_file":
            if os.geteuid() == 0:  # root ignores file modes: run without that privilege
                setpriv = shutil.which("setpriv")
                if setpriv is None:
                    pytest.skip("setpriv (util-linux) is needed to test a read-only state as root")
                prefix = [
                    setpriv,
                    "--bounding-set",
                    "-dac_override,-dac_read_search,-fowner",
                    "--inh-caps=-dac_override,-dac_read_search,-fowner",
                    "--",
                ]
            for path in (db, db.with_name("introd.db-wal"), db.with_name("introd.db-shm")):
                if path.exists():
                    path.chmod(0o444)
            os.chmod(world.tmp, 0o555)
        else:
            preexec = _limit_file_size(max(db.stat().st_size, 4096) + 16 * 1024)
        try:
            d = Running(world, preexec=preexec, prefix=prefix)
            code = d.proc.wait(timeout=30)
        finally:
            os.chmod(world.tmp, 0o755)
            for path in world.tmp.glob("introd.db*"):
                path.chmod(0o644)
        assert code == 1
        last = d.text().strip().splitlines()[-1]
        assert last.startswith("introd: ") and str(db) in last, last
        assert "Traceback" not in d.text()
        with sqlite3.connect(db) as check:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        again = Running(world)
        try:
            world.smtp.wait_for(2 + 60, timeout=30)
            wait_for(lambda: world.dovecot.messages(INTROS) == [], what="INBOX emptied")
        finally:
            assert again.stop() == 0
        ids = [m["Message-ID"] for m in world.sent()]
        assert len(ids) == len(set(ids)) == 62


class TestBackoff:
    def test_outage_backs_off_exponentially_and_logs_the_change_once(self) -> None:
        """Retries wait 1, 2, 4, ... seconds up to the cap; only the first failure and the
        recovery are reported."""
        outage = Outage("imap", first=1.0, cap=8.0)
        steps = [outage.failed("down") for _ in range(6)]
        assert [started for started, _ in steps] == [True] + [False] * 5
        assert [delay for _, delay in steps] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
        assert outage.recovered() is True
        assert outage.recovered() is False
        assert outage.failed("down again") == (True, 1.0)


class TestBadMail:
    def test_mail_that_makes_the_engine_fail_is_set_aside(
        self, world: World, clock: Any, monkeypatch: Any
    ) -> None:
        """A mail on which the engine fails is recorded (rule internal_error), quarantined
        and counted as an error; the mail after it is handled as usual."""
        bad = forward("Tim Walker", TIM, TIM_ASKS, subject="BOOM request")
        world.append_all([bad, forward("Tim Walker", TIM, TIM_ASKS)])
        daemon = Daemon(load_config(world.config_path), clock=clock)
        handle = daemon.engine.handle

        def fragile(raw: bytes, **kwargs: Any) -> Any:
            if b"BOOM" in raw:
                raise RuntimeError("a bug")
            return handle(raw, **kwargs)

        monkeypatch.setattr(daemon.engine, "handle", fragile)
        stats = daemon.run_once()
        assert stats.handled == 2 and stats.sent == 2
        assert world.dovecot.messages(INTROS) == []
        (quarantined,) = world.dovecot.messages(INTROS, "introd/quarantine")
        assert b"BOOM" in quarantined
        errors = daemon.store.recent_events("error", clock.now() - timedelta(hours=1))
        assert [e["where"] for e in errors] == ["engine"]
