"""The sender process: a backlog's opt-ins leave while the rest of it is read, each once,
and the process never outlives the daemon or hides an SMTP outage."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from introd.config import load_config
from introd.daemon import Daemon
from introd.exceptions import DeliveryError
from helpers import Running, backlog, backlog_request, wait_for
from world import INTROS, World


COUNT = 24  # requests; with batches of 5 the pass reads five batches

pytestmark = [
    pytest.mark.servers,
    pytest.mark.world(
        **backlog(COUNT, batch_size=5), inbox=[backlog_request(i) for i in range(COUNT)]
    ),
]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by anyone) is not running either
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class TestBacklog:
    def test_sends_while_reading_each_mail_once(self, world: World) -> None:
        """The sender process sends the backlog's 48 opt-ins, each once. (That it sends
        while the daemon reads on is a matter of speed: bench/ measures it.)"""
        d = Running(world)
        try:
            _all_sent_and_put_away(world)
            d.wait_event("sender_finished")
        finally:
            assert d.stop() == 0
        ids = [m["Message-ID"] for m in world.sent()]
        assert len(ids) == 2 * COUNT == len(set(ids))
        events = [e["event"] for e in d.events()]
        assert events.count("sender_started") == 1
        assert events.count("mail_sent") == 2 * COUNT
        assert d.events("sender_started")[0]["pid"] != d.proc.pid
        assert d.events("sender_finished")[0]["sent"] == 2 * COUNT
        assert d.events("sender_failed") == []

    def test_in_process_run_once_counts_what_the_sender_sent(
        self, world: World, clock: Any
    ) -> None:
        """run --once: the sender's mails show in the metrics, the rest of the pass sends
        nothing twice, and the next pass finds nothing to do."""
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
        """The SMTP server refuses connections: the sender reports it, nothing is lost, and
        once a server answers every mail leaves exactly once."""
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

    def test_never_outlives_the_daemon(self, world: World) -> None:
        """SIGKILL to the daemon: its sender stops within seconds, and the next run sends
        what is left, with at most the one mail in hand sent twice."""
        d, pid = _slow_backlog(world, 0.2)  # slow acceptance: the kill lands mid-mail
        try:
            os.kill(d.proc.pid, signal.SIGKILL)
            d.proc.wait(timeout=10)
            wait_for(lambda: not _alive(pid), timeout=10, what="the sender gone")
        finally:
            d.kill()
        ids = _the_rest_in_a_new_run(world)
        assert len(set(ids)) == 2 * COUNT
        assert len(ids) - len(set(ids)) <= 1

    def test_sigterm_mid_backlog_stops_both_within_seconds(self, world: World) -> None:
        """SIGTERM to the daemon while its sender has mail in flight: both finish what they
        hold and exit within seconds, nothing is sent twice, and the next run sends the
        rest."""
        d, pid = _slow_backlog(world, 0.2)
        try:
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0
            wait_for(lambda: not _alive(pid), timeout=5, what="the sender gone")
            assert d.events("daemon_stopped")
            assert d.events("sender_finished")[0]["error"] is None
        finally:
            d.kill()
        assert len(world.sent()) < 2 * COUNT  # it did stop early
        ids = _the_rest_in_a_new_run(world)
        assert len(ids) == 2 * COUNT == len(set(ids))

    def test_a_dead_sender_is_reported_and_its_mail_sent_anyway(self, world: World) -> None:
        """The sender killed (the OOM killer, say): the daemon logs sender_failed, counts
        an error, and sends what is left itself; at most the mail in hand goes twice."""
        d, pid = _slow_backlog(world, 0.1)
        try:
            os.kill(pid, signal.SIGKILL)
            d.wait_event("sender_failed", timeout=30)
            world.smtp.data_delay = 0.0
            _all_sent_and_put_away(world)
        finally:
            assert d.stop() == 0
        ids = [m["Message-ID"] for m in world.sent()]
        assert len(set(ids)) == 2 * COUNT
        assert len(ids) - len(set(ids)) <= 1
        assert d.events("sender_finished")[0]["error"] == "crash"


def _slow_backlog(world: World, delay: float) -> tuple[Running, int]:
    """`introd run` on the backlog with the SMTP server taking `delay` s per mail, once its
    sender has sent two: the daemon and the sender's pid."""
    world.smtp.data_delay = delay
    d = Running(world)
    try:
        d.wait_event("sender_started", timeout=30)
        d.wait_event("mail_sent", 2, timeout=30)
    except BaseException:
        d.kill()
        raise
    return d, int(d.events("sender_started")[0]["pid"])


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
