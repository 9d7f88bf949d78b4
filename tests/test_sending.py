"""Sending a backlog: its opt-ins leave batch by batch while the rest of it is read, each
once, from the daemon's own process; SMTP PIPELINING when the server offers it, the
same outcomes either way."""

from __future__ import annotations

import os
import signal
import smtplib
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import UTC, datetime, timedelta
from collections.abc import Iterator
from typing import Any

import pytest

from introd.config import load_config
from introd.daemon import Daemon
from introd.delivery import SmtpConnection, Then, _attempt, send_due, transmit
from introd.state import OutboxRow, Store
from introd.exceptions import DeliveryError
from helpers import Running, backlog, backlog_request, outbox_row, target_of, wait_for
from world import INTROS, World


T0 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
COUNT = 24  # requests; with batches of 5 the pass reads five batches

pytestmark = [
    pytest.mark.servers,
    pytest.mark.world(
        **backlog(COUNT, batch_size=5), inbox=[backlog_request(i) for i in range(COUNT)]
    ),
]


class TestBacklog:
    @pytest.mark.parametrize("pipelining", [True, False])
    def test_sends_while_reading_each_mail_once(self, world: World, pipelining: bool) -> None:
        """The backlog's 48 opt-ins leave each once, from the daemon's process, with and
        without PIPELINING."""
        world.smtp.pipelining = pipelining
        d = Running(world)
        try:
            _all_sent_and_put_away(world)
        finally:
            assert d.stop() == 0
        ids = [m["Message-ID"] for m in world.sent()]
        assert len(ids) == 2 * COUNT == len(set(ids))
        events = [e["event"] for e in d.events()]
        assert events.count("mail_sent") == 2 * COUNT
        assert events.count("mail_handled") == COUNT
        assert "sender_started" not in events

    def test_batches_leave_while_the_next_are_read(self, world: World, clock: Any) -> None:
        """The first batch's opt-ins reach the server while the later batches are being
        read: reading stops before the last batch until the server has two mails, which
        only sending behind the reading can bring about (else this times out)."""
        daemon = Daemon(load_config(world.config_path), clock=clock)
        handle, read = daemon._handle, []

        def gated(uid: int, raw: bytes, uidvalidity: int) -> str:
            if len(read) == COUNT - 4:  # the first mail of the last batch
                wait_for(lambda: len(world.smtp.received) >= 2, timeout=30, what="sent behind")
            read.append(uid)
            return handle(uid, raw, uidvalidity)

        daemon._handle = gated  # type: ignore[method-assign]
        assert daemon.run_once().handled == COUNT
        ids = [m["Message-ID"] for m in world.sent()]
        assert len(ids) == 2 * COUNT == len(set(ids))
        assert daemon.store.outbox_depth() == 0

    @pytest.mark.world(**backlog(45, batch_size=40), inbox=[backlog_request(i) for i in range(45)])
    def test_a_big_batch_sends_what_it_decided_every_few_mails(
        self, world: World, clock: Any
    ) -> None:
        """A FETCH batch bigger than SEND_EVERY commits every SEND_EVERY requests and its
        opt-ins leave while the rest of the same batch is read: reading waits in the
        middle of the first batch until the server has two mails."""
        from introd.daemon import SEND_EVERY

        assert SEND_EVERY <= 25
        daemon = Daemon(load_config(world.config_path), clock=clock)
        handle, read = daemon._handle, []

        def gated(uid: int, raw: bytes, uidvalidity: int) -> str:
            if len(read) == 30:  # inside the first batch of 40, past SEND_EVERY
                wait_for(lambda: len(world.smtp.received) >= 2, timeout=30, what="sent early")
            read.append(uid)
            return handle(uid, raw, uidvalidity)

        daemon._handle = gated  # type: ignore[method-assign]
        assert daemon.run_once().handled == 45
        ids = [m["Message-ID"] for m in world.sent()]
        assert len(ids) == 90 == len(set(ids))
        assert daemon.store.outbox_depth() == 0

    def test_a_fault_while_sending_behind_does_not_stall_the_run(
        self, world: World, clock: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A mail whose sending raises something unforeseen on the worker's thread: the run
        does not wait for it forever; that mail counts as of unknown outcome (it may have
        gone), the others leave once, and it leaves after its backoff."""
        from introd import delivery

        calls = []
        real = delivery.transmit

        def faulty(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 3:
                raise RuntimeError("a fault of ours")
            return real(*args, **kwargs)

        monkeypatch.setattr(delivery, "transmit", faulty)
        daemon = Daemon(load_config(world.config_path), clock=clock)
        assert daemon.run_once().handled == COUNT
        with sqlite3.connect(world.tmp / "introd.db") as db:
            rows = db.execute("SELECT status, unconfirmed FROM outbox").fetchall()
        assert rows.count(("pending", 1)) == 1 and rows.count(("sent", 0)) == 2 * COUNT - 1
        clock.advance(timedelta(minutes=6))
        Daemon(load_config(world.config_path), clock=clock).run_once()
        ids = Counter(str(m["Message-ID"]) for m in world.sent())
        assert len(ids) == 2 * COUNT and sum(ids.values()) <= 2 * COUNT + 1

    def test_a_sent_mark_that_cannot_be_noted_stops_the_run(
        self, world: World, clock: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The file of sent marks cannot be written: the run ends with the state's error
        once what is in flight is recorded, instead of sending on without its crash
        guard; the next run sends the rest, the mail concerned at most twice."""
        from introd.exceptions import StateError
        from introd.state import Store

        real, failed = Store.note_sent, []

        def note_once_failing(self: Store, outbox_id: int, now: Any) -> None:
            if not failed:
                failed.append(outbox_id)
                raise StateError("introd.db.sent-marks: cannot write: No space left on device")
            real(self, outbox_id, now)

        monkeypatch.setattr(Store, "note_sent", note_once_failing)
        with pytest.raises(StateError, match="sent-marks"):
            Daemon(load_config(world.config_path), clock=clock).run_once()
        monkeypatch.setattr(Store, "note_sent", real)
        Daemon(load_config(world.config_path), clock=clock).run_once()
        ids = Counter(str(m["Message-ID"]) for m in world.sent())
        assert len(ids) == 2 * COUNT and max(ids.values()) <= 2

    def test_killed_with_mails_accepted_but_not_recorded(self, world: World) -> None:
        """introd dies, with no mail in hand, while mails the server accepted behind the
        reading are noted but their sent marks not yet committed: the next start marks
        them sent, and every opt-in reaches the server exactly once."""
        script = textwrap.dedent(
            f"""
            import os, sqlite3, time
            from pathlib import Path
            from introd.config import load_config
            from introd.daemon import Daemon

            daemon = Daemon(load_config(Path({str(world.config_path)!r})))
            handle, read = daemon._handle, []
            marks = {str(world.tmp / "introd.db.sent-marks")!r}

            def committed():
                with sqlite3.connect({str(world.tmp / "introd.db")!r}) as db:
                    q = "SELECT COUNT(*) FROM outbox WHERE status = 'sent'"
                    return db.execute(q).fetchone()[0]

            def gated(uid, raw, uidvalidity):
                if len(read) == {COUNT - 4}:  # the last batch: die with mail unrecorded
                    daemon.stop_requested = True  # the workers take no new mail
                    sender, end = daemon.sender, time.monotonic() + 30
                    while time.monotonic() < end:
                        idle = sender._done.qsize() == len(sender.in_flight)
                        noted = open(marks).read().count("\\n")
                        if idle and noted > committed():
                            os._exit(9)
                        time.sleep(0.01)
                    os._exit(3)
                read.append(uid)
                return handle(uid, raw, uidvalidity)

            daemon._handle = gated
            daemon.run_once()
            """
        )
        died = subprocess.run([sys.executable, "-c", script], cwd=world.tmp, timeout=120)
        assert died.returncode == 9
        before = len(world.smtp.received)
        assert before >= 1
        assert world.cli("run", "--once") == 0
        ids = [m["Message-ID"] for m in world.sent()]
        assert Counter(ids).most_common(1)[0][1] == 1, "a mail was sent twice"
        assert len(ids) == 2 * COUNT

    def test_421_behind_the_reading_ends_that_sending(self, world: World) -> None:
        """The server answers 421 to one mail sent behind the reading: that mail waits for
        its backoff, the rest of the queue comes back untried and leaves in the run's own
        sending pass (a new session), each mail once; the deferred one leaves later."""
        world.smtp.fail_next(1, code=421, message="4.3.2 Closing, try later", stage="DATA")
        assert world.run_once(T0) == 0
        assert len(world.sent()) == 2 * COUNT - 1
        assert world.run_once(T0 + timedelta(minutes=6)) == 0
        ids = [m["Message-ID"] for m in world.sent()]
        assert len(ids) == 2 * COUNT == len(set(ids))

    def test_refused_target_behind_the_reading_is_told_once(self, world: World) -> None:
        """A target's address refused (550) while the backlog is sent behind its reading:
        that opt-in fails, the owner's notice is queued and sent, the others leave once."""
        _name, address, _company = target_of(7)
        world.smtp.reject_rcpt(address)
        assert world.run_once(T0) == 0
        with sqlite3.connect(world.tmp / "introd.db") as db:
            states = Counter((t, s) for t, s in db.execute("SELECT template, status FROM outbox"))
        assert states[("optin_target", "failed")] == 1
        assert states[("bounce_notice", "sent")] == 1
        ids = [m["Message-ID"] for m in world.sent()]
        assert len(ids) == 2 * COUNT and len(set(ids)) == len(ids)

    def test_hourly_limit_holds_behind_the_reading(self, world: World) -> None:
        """With `limits.max_outgoing_per_hour: 20`, a backlog of 48 opt-ins sent behind its
        reading, the first refused with a 451: 20 leave in the hour, none twice, the
        deferred one and the rest wait in the outbox."""
        world.write_config(limits={"max_outgoing_per_hour": 20})
        world.smtp.fail_next(1, code=451, stage="MAIL")
        assert world.run_once(T0) == 0
        ids = [m["Message-ID"] for m in world.sent()]
        assert len(ids) == 20 == len(set(ids))
        with sqlite3.connect(world.tmp / "introd.db") as db:
            pending = db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
            assert pending.fetchone()[0] == 2 * COUNT - 20

    def test_in_process_run_once_counts_what_was_sent(self, world: World, clock: Any) -> None:
        """run --once: the backlog's mails show in the metrics, nothing is sent twice, and
        the next pass finds nothing to do."""
        daemon = Daemon(load_config(world.config_path), clock=clock)
        stats = daemon.run_once()
        assert stats.handled == COUNT
        assert len(world.sent()) == 2 * COUNT
        out = daemon.metrics.value(
            "introd_mails_out_total", template="optin_requester"
        ) + daemon.metrics.value("introd_mails_out_total", template="optin_target")
        assert out == 2 * COUNT
        assert daemon.store.outbox_depth() == 0
        assert Daemon(load_config(world.config_path), clock=clock).run_once().sent == 0
        assert len(world.sent()) == 2 * COUNT

    def test_smtp_down_keeps_everything_queued(self, world: World, clock: Any) -> None:
        """The SMTP server refuses connections: the pass reads on, reports it, nothing is
        lost, and once a server answers every mail leaves exactly once."""
        from servers import SmtpServer

        late = SmtpServer(
            user=world.smtp.user, password=world.smtp.password, dovecot=world.dovecot
        )  # not started: nothing listens on its port
        world.write_config(smtp={"port": late.port})
        daemon = Daemon(load_config(world.config_path), clock=clock)
        with pytest.raises(DeliveryError):
            daemon.run_once()
        assert daemon.store.outbox_depth() == 2 * COUNT
        assert daemon.metrics.value("introd_errors_total", where="smtp") >= 1
        assert world.dovecot.messages(INTROS) == []  # every request was read and put away
        with late:
            assert Daemon(load_config(world.config_path), clock=clock).run_once().sent == 2 * COUNT
            ids = [m.data for m in late.received]
        assert len(ids) == 2 * COUNT == len(set(ids))

    def test_sigkill_mid_backlog_loses_nothing(self, world: World) -> None:
        """SIGKILL while the backlog's mail leaves: the next run reads what was not
        recorded and sends what is left, with at most the one mail in hand sent twice."""
        d = _slow_backlog(world, 0.2)  # slow acceptance: the kill lands mid-mail
        try:
            os.kill(d.proc.pid, signal.SIGKILL)
            d.proc.wait(timeout=10)
        finally:
            d.kill()
        ids = _the_rest_in_a_new_run(world)
        assert len(set(ids)) == 2 * COUNT
        assert len(ids) - len(set(ids)) <= 1

    def test_sigterm_mid_backlog_stops_within_seconds(self, world: World) -> None:
        """SIGTERM while the backlog's mail leaves: the daemon finishes the mail in hand
        and exits within seconds, nothing is sent twice, and the next run sends the rest."""
        d = _slow_backlog(world, 0.2)
        try:
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0
            assert d.events("daemon_stopped")
        finally:
            d.kill()
        assert len(world.sent()) < 2 * COUNT  # it did stop early
        ids = _the_rest_in_a_new_run(world)
        assert len(ids) == 2 * COUNT == len(set(ids))

    def test_a_slow_mail_is_noted_on_disk_while_its_batch_is_open(
        self, world: World, clock: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The note of a mail being read slowly is committed as it is written, though the
        batch around it is not yet: a kill during that reading leaves the note, so the
        next start does not read that mail again."""
        from introd.engine import SLOW_MAIL_KEY
        from introd.reading import mailtext

        daemon = Daemon(load_config(world.config_path), clock=clock)
        ticks = iter(range(10**6))
        daemon.engine.budget_clock = lambda: next(ticks) * 0.3  # every reading is slow
        seen: list[str | None] = []
        body_text = mailtext.body_text

        def spy(part: Any) -> str:
            with sqlite3.connect(world.tmp / "introd.db") as db:
                note = db.execute("SELECT value FROM meta WHERE key = ?", (SLOW_MAIL_KEY,))
                row = note.fetchone()
            seen.append(row[0] if row else None)
            return body_text(part)

        monkeypatch.setattr(mailtext, "body_text", spy)
        assert daemon.run_once().handled == COUNT
        notes = [note for note in seen if note]
        assert notes and all(note.startswith("INBOX:") for note in notes)
        assert daemon.store.get_meta(SLOW_MAIL_KEY) is None  # cleared by the mail's record


class TestSeveralSessions:
    def test_the_backlog_goes_over_several_sessions_each_mail_once(
        self, world: World, clock: Any
    ) -> None:
        """smtp.max_connections: 3: the backlog's mails go over up to three sessions at
        once, each mail once, all marked sent."""
        world.write_config(smtp={"max_connections": 3})
        daemon = Daemon(load_config(world.config_path), clock=clock)
        assert daemon.run_once().handled == COUNT
        ids = [m["Message-ID"] for m in world.sent()]
        assert len(ids) == 2 * COUNT == len(set(ids))
        peers = {m.peer for m in world.smtp.received}
        assert 2 <= len(peers) <= 3 * 5, peers  # several at once; a new set per batch
        assert daemon.store.outbox_depth() == 0

    def test_a_server_leaving_stops_the_pass_and_loses_nothing(
        self, world: World, clock: Any
    ) -> None:
        """A 421 on one session mid-backlog: sending stops for the rest of the reading
        (counted as an SMTP error), what the other sessions had in hand is recorded, the
        mail refused waits for its backoff, and the next run sends it, nothing twice."""
        world.write_config(smtp={"max_connections": 3})
        world.smtp.fail_next(code=421, message="4.3.2 going down", stage="MAIL")
        daemon = Daemon(load_config(world.config_path), clock=clock)
        assert daemon.run_once().handled == COUNT
        assert daemon.metrics.value("introd_errors_total", where="smtp") == 1
        assert daemon.store.outbox_depth() == 1
        assert len(world.sent()) == 2 * COUNT - 1
        clock.advance(timedelta(minutes=10))
        Daemon(load_config(world.config_path), clock=clock).run_once()
        ids = [m["Message-ID"] for m in world.sent()]
        assert len(ids) == 2 * COUNT == len(set(ids))

    def test_dropped_mail_is_deferred_on_its_session_only(self, world: World, clock: Any) -> None:
        """Two sessions, the server dropping two mails after DATA: the rest go out in the
        same run; the two once more after their backoff; none more than twice."""
        world.write_config(smtp={"max_connections": 2})
        world.smtp.drop_after_data(2)
        daemon = Daemon(load_config(world.config_path), clock=clock)
        assert daemon.run_once().handled == COUNT
        assert daemon.store.outbox_depth() == 2
        clock.advance(timedelta(minutes=6))
        Daemon(load_config(world.config_path), clock=clock).run_once()
        copies = Counter(str(m["Message-ID"]) for m in world.sent())
        assert len(copies) == 2 * COUNT and sum(copies.values()) == 2 * COUNT + 2
        assert max(copies.values()) == 2


def _slow_backlog(world: World, delay: float) -> Running:
    """`introd run` on the backlog with the SMTP server taking `delay` s per mail, once it
    has sent two."""
    world.smtp.data_delay = delay
    d = Running(world)
    try:
        d.wait_event("mail_sent", 2, timeout=30)
    except BaseException:
        d.kill()
        raise
    return d


def _all_sent_and_put_away(world: World) -> None:
    world.smtp.wait_for(2 * COUNT, timeout=60)
    wait_for(lambda: world.dovecot.messages(INTROS) == [], what="INBOX emptied")


def _the_rest_in_a_new_run(world: World) -> list[str]:
    """A new `introd run` at full speed until everything is sent; every Message-ID sent."""
    world.smtp.data_delay = 0.0
    again = Running(world)
    try:
        _all_sent_and_put_away(world)
    finally:
        assert again.stop() == 0
    return [str(m["Message-ID"]) for m in world.sent()]


MAIL = b"From: intros@example.test\r\nSubject: hello\r\n\r\n.a line with a dot\r\n"


@pytest.fixture
def session(smtp_server: Any, request: pytest.FixtureRequest) -> Iterator[smtplib.SMTP]:
    """A logged-in smtplib session to the tests' server, PIPELINING offered or not."""
    smtp_server.pipelining = request.param
    smtp = smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10)
    smtp.login(smtp_server.user, smtp_server.password)
    try:
        yield smtp
    finally:
        smtp.close()
        smtp_server.clear()


BOTH = pytest.mark.parametrize("session", [True, False], indirect=True, ids=["pipelined", "plain"])


class TestTransmit:
    """`transmit` tells the same outcomes whether the envelope goes in one write
    (PIPELINING) or command by command."""

    @BOTH
    def test_accepted_and_usable_again(self, session: smtplib.SMTP, smtp_server: Any) -> None:
        assert session.has_extn("pipelining") == smtp_server.pipelining
        for n in range(3):
            assert transmit(session, "intros@example.test", [f"p{n}@example.test"], MAIL) == {}
        assert [m.data for m in smtp_server.received] == [MAIL] * 3

    @BOTH
    def test_one_recipient_refused(self, session: smtplib.SMTP, smtp_server: Any) -> None:
        smtp_server.reject_rcpt("gone@example.test")
        refused = transmit(
            session, "intros@example.test", ["gone@example.test", "ok@example.test"], MAIL
        )
        assert list(refused) == ["gone@example.test"] and refused["gone@example.test"][0] == 550
        assert smtp_server.received[0].rcpt_tos == ("ok@example.test",)

    @BOTH
    def test_every_recipient_refused_leaves_the_session_usable(
        self, session: smtplib.SMTP, smtp_server: Any
    ) -> None:
        smtp_server.reject_rcpt("gone@example.test")
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            transmit(session, "intros@example.test", ["gone@example.test"], MAIL)
        assert transmit(session, "intros@example.test", ["ok@example.test"], MAIL) == {}
        assert len(smtp_server.received) == 1

    @BOTH
    def test_sender_refused_leaves_the_session_usable(
        self, session: smtplib.SMTP, smtp_server: Any
    ) -> None:
        smtp_server.fail_next(code=451, stage="MAIL")
        with pytest.raises(smtplib.SMTPSenderRefused) as caught:
            transmit(session, "intros@example.test", ["ok@example.test"], MAIL)
        assert caught.value.smtp_code == 451
        assert transmit(session, "intros@example.test", ["ok@example.test"], MAIL) == {}
        assert len(smtp_server.received) == 1

    @BOTH
    def test_data_refused(self, session: smtplib.SMTP, smtp_server: Any) -> None:
        smtp_server.fail_next(code=554, message="5.7.1 no", stage="DATA")
        with pytest.raises(smtplib.SMTPDataError) as caught:
            transmit(session, "intros@example.test", ["ok@example.test"], MAIL)
        assert caught.value.smtp_code == 554
        assert transmit(session, "intros@example.test", ["ok@example.test"], MAIL) == {}

    @BOTH
    def test_server_leaving_closes_the_session(
        self, session: smtplib.SMTP, smtp_server: Any
    ) -> None:
        smtp_server.fail_next(code=421, message="4.3.2 going down", stage="MAIL")
        with pytest.raises(smtplib.SMTPSenderRefused) as caught:
            transmit(session, "intros@example.test", ["ok@example.test"], MAIL)
        assert caught.value.smtp_code == 421
        assert session.sock is None

    @BOTH
    def test_line_break_in_an_address_is_refused_before_anything_is_sent(
        self, session: smtplib.SMTP, smtp_server: Any
    ) -> None:
        with pytest.raises(smtplib.SMTPSenderRefused):
            transmit(session, "intros@example.test", ["a@example.test\r\nRCPT TO:<b@x>"], MAIL)
        assert smtp_server.received == []


PIPELINED = pytest.mark.parametrize("session", [True], indirect=True, ids=["pipelined"])


def _then(*recipients: str) -> Then:
    return Then("intros@example.test", list(recipients), len(MAIL))


class TestChained:
    """Over a pipelining server the next mail's envelope goes with this mail's data (RFC
    2920): one round trip a mail. Each mail arrives once and intact, and a refusal of
    one leaves the other's outcome its own."""

    @PIPELINED
    def test_each_mail_arrives_once(self, session: smtplib.SMTP, smtp_server: Any) -> None:
        first, second = _then("b@example.test"), _then("c@example.test")
        assert transmit(session, "intros@example.test", ["a@example.test"], MAIL, then=first) == {}
        assert first.sent
        assert (
            transmit(
                session, "intros@example.test", ["b@example.test"], MAIL, ahead=True, then=second
            )
            == {}
        )
        assert transmit(session, "intros@example.test", ["c@example.test"], MAIL, ahead=True) == {}
        assert [(m.rcpt_tos, m.data) for m in smtp_server.received] == [
            (("a@example.test",), MAIL),
            (("b@example.test",), MAIL),
            (("c@example.test",), MAIL),
        ]
        assert transmit(session, "intros@example.test", ["d@example.test"], MAIL) == {}

    @PIPELINED
    def test_refused_data_leaves_the_next_mail_intact(
        self, session: smtplib.SMTP, smtp_server: Any
    ) -> None:
        """No RSET after the refused mail: it would be read as the next mail's text."""
        smtp_server.fail_next(code=554, message="5.7.1 no", stage="DATA")
        then = _then("b@example.test")
        with pytest.raises(smtplib.SMTPDataError) as caught:
            transmit(session, "intros@example.test", ["a@example.test"], MAIL, then=then)
        assert caught.value.smtp_code == 554 and then.sent
        assert transmit(session, "intros@example.test", ["b@example.test"], MAIL, ahead=True) == {}
        assert [(m.rcpt_tos, m.data) for m in smtp_server.received] == [(("b@example.test",), MAIL)]

    @PIPELINED
    def test_the_next_mail_refused_after_this_one_went(
        self, session: smtplib.SMTP, smtp_server: Any
    ) -> None:
        smtp_server.reject_rcpt("gone@example.test")
        assert (
            transmit(
                session,
                "intros@example.test",
                ["a@example.test"],
                MAIL,
                then=_then("gone@example.test"),
            )
            == {}
        )
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            transmit(session, "intros@example.test", ["gone@example.test"], MAIL, ahead=True)
        assert transmit(session, "intros@example.test", ["c@example.test"], MAIL) == {}
        assert [m.rcpt_tos for m in smtp_server.received] == [
            ("a@example.test",),
            ("c@example.test",),
        ]

    @PIPELINED
    def test_server_leaving_after_the_data_delivers_nothing_more(
        self, session: smtplib.SMTP, smtp_server: Any
    ) -> None:
        smtp_server.fail_next(code=421, message="4.3.2 going down", stage="DATA")
        with pytest.raises(smtplib.SMTPDataError):
            transmit(
                session,
                "intros@example.test",
                ["a@example.test"],
                MAIL,
                then=_then("b@example.test"),
            )
        assert session.sock is None
        assert smtp_server.received == []

    @BOTH
    def test_only_where_the_server_pipelines(self, session: smtplib.SMTP, smtp_server: Any) -> None:
        then = _then("b@example.test")
        assert transmit(session, "intros@example.test", ["a@example.test"], MAIL, then=then) == {}
        assert then.sent == smtp_server.pipelining
        if not then.sent:
            assert transmit(session, "intros@example.test", ["b@example.test"], MAIL) == {}
            assert len(smtp_server.received) == 2

    @PIPELINED
    def test_a_next_address_with_a_line_break_is_not_sent_ahead(
        self, session: smtplib.SMTP, smtp_server: Any
    ) -> None:
        then = _then("b@example.test\r\nRCPT TO:<x@example.test>")
        assert transmit(session, "intros@example.test", ["a@example.test"], MAIL, then=then) == {}
        assert not then.sent
        assert transmit(session, "intros@example.test", ["c@example.test"], MAIL) == {}
        assert [m.rcpt_tos for m in smtp_server.received] == [
            ("a@example.test",),
            ("c@example.test",),
        ]


def _row(n: int, to: str) -> OutboxRow:
    return outbox_row(n, to, tag="chain")


class TestSentAhead:
    """A session with a mail's envelope sent ahead is in that mail's DATA: whatever
    else happens to it, nothing but that mail's own text may follow."""

    def _conn(self, world: World) -> SmtpConnection:
        cfg = load_config(world.config_path)
        assert cfg.smtp is not None
        return SmtpConnection(cfg.smtp)

    def test_quitting_delivers_nothing(self, world: World) -> None:
        """Quit with an envelope ahead: the session is closed without a QUIT (which would
        be that mail's text), and the mail sent ahead goes whole on the next session."""
        conn = self._conn(world)
        try:
            first, second = _row(1, "bob@example.test"), _row(2, "carol@example.test")
            assert _attempt(conn, first, INTROS, then=second).error is None
            assert conn.ahead == 2
            conn.quit_session()
            assert conn.ahead is None and conn.smtp is None
            assert _attempt(conn, second, INTROS).error is None
        finally:
            conn.close()
        sent = world.smtp.wait_for(2)
        assert [m.data for m in sent] == [first.raw, second.raw]

    def test_another_mail_than_the_one_ahead_gets_a_new_session(self, world: World) -> None:
        conn = self._conn(world)
        try:
            first, second, other = (_row(n, f"p{n}@example.test") for n in (1, 2, 3))
            assert _attempt(conn, first, INTROS, then=second).error is None
            assert _attempt(conn, other, INTROS).error is None
            assert conn.ahead is None
        finally:
            conn.close()
        assert [m.data for m in world.smtp.wait_for(2)] == [first.raw, other.raw]
        assert world.smtp.ehlos == 2

    def test_a_refusal_of_the_mail_before_keeps_the_one_ahead(self, world: World) -> None:
        world.smtp.fail_next(code=554, message="5.7.1 no", stage="DATA")
        conn = self._conn(world)
        try:
            first, second = _row(1, "bob@example.test"), _row(2, "carol@example.test")
            attempt = _attempt(conn, first, INTROS, then=second)
            assert isinstance(attempt.error, smtplib.SMTPDataError) and conn.ahead == 2
            assert _attempt(conn, second, INTROS).error is None
        finally:
            conn.close()
        assert [m.data for m in world.smtp.wait_for(1)] == [second.raw]
        assert world.smtp.ehlos == 1


def _due_mail(n: int) -> bytes:
    return f"Subject: {n}\r\nMessage-ID: <due-{n}@example.test>\r\n\r\nhi\r\n".encode()


class TestSendDueChained:
    """A sending pass over one session sends each next mail's envelope with this mail's
    data, once that mail is admitted by the hourly limit: each mail arrives once and
    intact, a limit reached leaves nothing half-sent, and the session is usable after."""

    def _due(self, world: World, count: int) -> tuple[Store, SmtpConnection]:
        cfg = load_config(world.config_path)
        assert cfg.smtp is not None
        store = Store(world.tmp / "chained.db")
        with store.transaction():
            for n in range(count):
                store.enqueue(
                    intro_id=None,
                    template="optin_target",
                    role="target",
                    sender=INTROS,
                    recipients=[f"p{n}@example.test"],
                    message_id=f"<due-{n}@example.test>",
                    raw=_due_mail(n),
                    now=datetime(2026, 1, 1, tzinfo=UTC),
                )
        return store, SmtpConnection(cfg.smtp)

    def _send(self, store: Store, conn: SmtpConnection, limit: int = 0) -> int:
        return send_due(
            store,
            conn,
            now=datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
            envelope_from=INTROS,
            max_per_hour=limit,
            on_failure=lambda f: None,
        )

    def test_each_mail_once_and_in_order(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        store, conn = self._due(world, 5)
        world.smtp.fail_next(code=554, message="5.7.1 not this one", stage="DATA")
        writes = []
        real = smtplib.SMTP.send

        def send(smtp: smtplib.SMTP, data: Any) -> None:
            if smtp is conn.smtp:  # introd's session, not the server's own delivery
                writes.append(data if isinstance(data, bytes) else data.encode())
            real(smtp, data)

        monkeypatch.setattr(smtplib.SMTP, "send", send)
        try:
            assert self._send(store, conn) == 4
        finally:
            conn.close()
        got = [(m.rcpt_tos, m.data) for m in world.smtp.wait_for(4)]
        assert got == [((f"p{n}@example.test",), _due_mail(n)) for n in (1, 2, 3, 4)]
        assert store.outbox_depth() == 0  # the refused one failed (5xx), the rest sent
        # the first envelope, then each mail's data with the next one's envelope: six
        # writes for five mails (ten without)
        mail = [w for w in writes if b"MAIL FROM" in w or w.endswith(b"\r\n.\r\n")]
        assert len(mail) == 6 and sum(w.count(b"MAIL FROM") for w in mail) == 5

    def test_the_hourly_limit_leaves_nothing_half_sent(self, world: World) -> None:
        store, conn = self._due(world, 4)
        try:
            assert self._send(store, conn, limit=2) == 2
            assert conn.ahead is None
            # the same session goes on with the rest in the next hour's pass
            assert self._send(store, conn) == 2
        finally:
            conn.close()
        got = [m.rcpt_tos for m in world.smtp.wait_for(4)]
        assert got == [(f"p{n}@example.test",) for n in range(4)]
        assert world.smtp.ehlos == 1


class TestLongRunning:
    def test_moved_mail_leaves_no_untagged_responses_behind(self, world: World, clock: Any) -> None:
        """imaplib would keep the EXPUNGE of every mail moved away for as long as the
        connection lives; the daemon drops them after each move."""
        daemon = Daemon(load_config(world.config_path), clock=clock)
        daemon.mailbox.connect()
        try:
            assert daemon.process_mailbox() == COUNT
            assert world.dovecot.messages(INTROS) == []
            stash = daemon.mailbox.client._imap.untagged_responses  # type: ignore[union-attr]
            assert not {"EXPUNGE", "EXISTS", "RECENT"} & set(stash), stash.keys()
        finally:
            daemon.mailbox.close()
