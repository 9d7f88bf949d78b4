"""The daemon keeps its SMTP session open for the mail that comes soon after
(`delivery.KEEP_OPEN`): a request arriving then costs no new connection, greeting, EHLO
or AUTH; a session the server dropped meanwhile is replaced without an outage; an unused
one is quit."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from introd.config import load_config
from introd.daemon import Daemon
from introd.delivery import KEEP_OPEN, SmtpConnection, _attempt
from helpers import Running, backlog, backlog_request, outbox_row
from world import World

pytestmark = [pytest.mark.servers, pytest.mark.world(**backlog(3, batch_size=5))]


def _ids(world: World) -> Counter[str]:
    return Counter(str(m["Message-ID"]) for m in world.sent())


class TestKeptSession:
    def test_mail_soon_after_goes_over_the_same_session(self, world: World) -> None:
        """Two requests a moment apart under IDLE: their four opt-ins over one session."""
        d = Running(world)
        try:
            d.wait_event("daemon_ready")
            world.owner_sends(backlog_request(0))
            world.smtp.wait_for(2, timeout=20)
            world.owner_sends(backlog_request(1))
            world.smtp.wait_for(4, timeout=20)
        finally:
            assert d.stop() == 0
        assert world.smtp.ehlos == 1
        assert set(_ids(world).values()) == {1} and len(_ids(world)) == 4

    def test_a_session_the_server_dropped_is_replaced_without_an_outage(self, world: World) -> None:
        """A server that closes a session after half a second of silence (421, as
        aiosmtpd and Postfix do on their idle timeout) drops the session introd kept: the
        second request's opt-ins leave once each over a new session, no outage reported."""
        from servers import SmtpServer

        impatient = SmtpServer(
            user=world.smtp.user,
            password=world.smtp.password,
            dovecot=world.dovecot,
            idle_timeout=0.5,
        )
        impatient.start()
        try:
            world.write_config(smtp={"port": impatient.port})
            d = Running(world)
            try:
                d.wait_event("daemon_ready")
                world.owner_sends(backlog_request(0))
                impatient.wait_for(2, timeout=20)
                time.sleep(1.5)  # past the server's patience: it has closed the session
                world.owner_sends(backlog_request(1))
                impatient.wait_for(4, timeout=20)
                events = [e["event"] for e in d.events()]
            finally:
                assert d.stop() == 0
            assert impatient.ehlos == 2
            ids = Counter(
                str(m.data.split(b"Message-ID: ")[1].split(b"\r\n")[0]) for m in impatient.received
            )
        finally:
            impatient.stop()
        assert "smtp_unavailable" not in events and "mail_deferred" not in events
        assert set(ids.values()) == {1} and len(ids) == 4

    def test_an_unused_session_is_quit_and_the_daemon_wakes_for_it(
        self, world: World, clock: Any
    ) -> None:
        """After a mail the session stays open for KEEP_OPEN seconds, no longer; the
        daemon's next wake-up is no later than that."""
        world.owner_sends(backlog_request(0))
        daemon = Daemon(load_config(world.config_path), clock=clock)
        daemon.mailbox.connect()
        try:
            daemon.process_mailbox()
            daemon._send_when_reachable()
            assert len(world.sent()) == 2
            conn = daemon.smtp
            assert conn.smtp is not None, "kept for the next mail"
            quit_at = conn.idle_until()
            assert quit_at == conn.used_at + KEEP_OPEN
            assert daemon._next_timer() <= KEEP_OPEN
            conn.close_if_idle(quit_at - 1)
            assert conn.smtp is not None
            conn.close_if_idle(quit_at)
            assert conn.smtp is None and conn.idle_until() is None
        finally:
            daemon.mailbox.close()
            daemon.smtp.close()

    def test_a_fresh_session_that_fails_is_not_tried_twice(self, world: World) -> None:
        """Only a session kept from before gets a second try on a new one: a new session
        the server closes with 421 defers the mail at once."""
        world.smtp.fail_next(2, code=421, message="4.3.2 Closing, try later")
        cfg = load_config(world.config_path)
        assert cfg.smtp is not None
        conn = SmtpConnection(cfg.smtp)
        row = outbox_row(1, "bob@example.test", sender=world.smtp.user, tag="kept")
        try:
            attempt = _attempt(conn, row, cfg.reply_address)
            assert attempt.error is not None and "421" in str(attempt.error)
            assert world.smtp.ehlos == 1
            # the second 421 now meets a session kept open: tried once more, on a new one
            conn.open()
            time.sleep(0)
            attempt = _attempt(conn, row, cfg.reply_address)
            assert attempt.error is None and world.smtp.ehlos == 3
        finally:
            conn.close()
