"""The daemon's edges: IMAP restarted under IDLE and under a fetch, SMTP answering 421,
451 and 550, UIDVALIDITY changed, a state file that cannot be written."""

from __future__ import annotations

import email
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from introd.config import load_config
from introd.daemon import Daemon, Outage
from introd.exceptions import DeliveryError
from world import INTROS, OWNER, TIM_ASKS, World, forward

pytestmark = pytest.mark.servers

TIM, BOB = "tim@example.test", "bob@example.test"


# -- helpers shared with the other daemon tests ------------------------------------
def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "") -> None:
    """Poll `predicate` until it is true; fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"not reached in {timeout}s: {what or predicate}")


class Running:
    """`introd run` as a child process, its JSON log in a file."""

    def __init__(
        self,
        world: World,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        self.log = world.tmp / "daemon.log"
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "introd", "run", "--config", str(world.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            preexec_fn=preexec,
        )

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """This run's log events (all, or those named `name`)."""
        with self.log.open("rb") as f:
            f.seek(self._offset)
            text = f.read().decode(errors="replace")
        found = []
        for line in text.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and (name is None or event.get("event") == name):
                found.append(event)
        return found

    def text(self) -> str:
        with self.log.open("rb") as f:
            f.seek(self._offset)
            return f.read().decode(errors="replace")

    def wait_event(self, name: str, count: int = 1, timeout: float = 20.0) -> None:
        wait_for(lambda: len(self.events(name)) >= count, timeout, f"{count}× {name}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=15)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=15)


FIRST = [
    "Anneke",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Elodie",
    "Farid",
    "Greta",
    "Hiroshi",
    "Ingrid",
    "Jonas",
    "Katja",
    "Lorenzo",
    "Mireille",
    "Nikolai",
    "Oona",
    "Pieter",
    "Quentin",
    "Rosalind",
    "Stellan",
    "Thea",
]
LAST = [
    "Abernathy",
    "Bergstrom",
    "Castellano",
    "Dunleavy",
    "Eriksen",
    "Fairbanks",
    "Galloway",
    "Haverford",
    "Ingleby",
    "Jablonski",
    "Kowalczyk",
    "Lindqvist",
    "Montague",
    "Nakamura",
    "Okonkwo",
    "Pemberton",
    "Quinlan",
    "Rasmussen",
    "Sandoval",
    "Thorvald",
]
COMPANIES = [
    "Northwind Labs",
    "Bluefin Analytics",
    "Cobalt Pharma",
    "Driftwood Bio",
    "Ember Materials",
]


def target_of(i: int) -> tuple[str, str, str]:
    """(name, address, company) of the i-th made-up contact (400 distinct)."""
    name = f"{FIRST[i % 20]} {LAST[(i // 20) % 20]}"
    return name, f"contact{i}@example.test", COMPANIES[i % len(COMPANIES)]


def requester_of(i: int) -> tuple[str, str]:
    return f"Sam Asker{i}", f"asker{i}@example.test"


def backlog_request(i: int) -> bytes:
    """The i-th owner-forwarded request of a backlog: its own requester and target."""
    name, _address, company = target_of(i)
    who, address = requester_of(i)
    body = (
        f"Dear Lisa,\n\nCould you please introduce me to {name} at {company}? I am moving "
        "into their field next spring and would like to learn how their team works.\n\n"
        f"Thank you,\n{who}\n"
    )
    return forward(who, address, body, message_id=f"<backlog-{i}@mail.example.test>")


def write_backlog_contacts(world: World, count: int) -> None:
    entries = [{"name": "Bob Jones", "email": BOB, "company": "BigChem"}]
    for i in range(count):
        name, address, company = target_of(i)
        entries.append({"name": name, "email": address, "company": company})
    (world.tmp / "contacts.yaml").write_text(yaml.safe_dump(entries))


def backlog_world(
    tmp_path: Path, dovecot: Any, smtp_server: Any, *, count: int, batch_size: int
) -> World:
    """A world for backlogs: IDLE, FETCH batches of `batch_size`, no hourly limit, and
    contacts for `count` backlog requests."""
    w = World(tmp_path, dovecot, smtp_server)
    w.extra_config = {
        "imap": {"idle": True, "poll_interval": "60s", "batch_size": batch_size},
        "limits": {"max_outgoing_per_hour": 0},
    }
    write_backlog_contacts(w, count)
    w.write_config()
    return w


def append_all(world: World, mails: Sequence[bytes], folder: str = "INBOX") -> None:
    """Put many mails into the intro mailbox over one IMAP session."""
    with world.dovecot.session(INTROS) as imap:
        if folder != "INBOX" and not imap.folder_exists(folder):
            imap.create_folder(folder)
        for raw in mails:
            imap.append(folder, raw)


@pytest.fixture
def world(tmp_path: Path, dovecot: Any, smtp_server: Any) -> Iterator[World]:
    w = World(tmp_path, dovecot, smtp_server)
    w.extra_config = {
        "imap": {"idle": True, "poll_interval": "60s"},
        "limits": {"max_outgoing_per_hour": 0},
        "log": {"format": "json", "level": "debug"},
    }
    w.write_config()
    yield w


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
        write_backlog_contacts(world, count)
        world.write_config(imap={"idle": True, "poll_interval": "60s", "batch_size": 10})
        assert "max_outgoing_per_hour: 0" in world.config_path.read_text()
        append_all(world, [backlog_request(i) for i in range(count)])
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
        append_all(world, [old], folder="requests")
        assert world.run_once(clock.now()) == 0
        assert len(world.sent()) == 2
        with world.dovecot.session(INTROS) as imap:
            before = imap.select_folder("requests")[b"UIDVALIDITY"]
            imap.unselect_folder()
            imap.delete_folder("requests")
        write_backlog_contacts(world, 1)
        append_all(world, [old, backlog_request(0)], folder="requests")
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
        write_backlog_contacts(world, 30)
        append_all(world, [backlog_request(i) for i in range(30)])
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
        append_all(world, [bad, forward("Tim Walker", TIM, TIM_ASKS)])
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
