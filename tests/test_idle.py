"""Push and poll: IDLE wakes the daemon for new mail, polling works without IDLE, and
systemd hears READY, STATUS and the watchdog from the loop."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

import pytest

from introd.config import load_config
from introd.daemon import IDLE_RENEW, MAX_WAIT, Daemon
from introd.mailbox import Mailbox
from helpers import Running, wait_for
from world import INTROS, TIM_ASKS, World, forward


IDLE_LIMIT = 29 * 60.0  # RFC 2177: servers may drop an IDLE after 30 minutes

pytestmark = [
    pytest.mark.servers,
    # a long poll interval: only IDLE can explain a quick answer
    pytest.mark.world(config={"imap": {"idle": True, "poll_interval": "60s"}}),
]


class TestIdle:
    def test_new_mail_is_handled_at_once_under_idle(self, world: World) -> None:
        """Under IDLE, with polling every 60 s, a request's opt-ins leave within seconds of
        its arrival (Dovecot itself announces new mail about 0.5 s after it lands)."""
        d = Running(world)
        try:
            d.wait_event("daemon_ready")
            assert d.events("daemon_ready")[0]["idle"] is True
            time.sleep(0.3)  # let the daemon enter IDLE
            arrived = time.monotonic()
            world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
            world.smtp.wait_for(2, timeout=20)
            latency = time.monotonic() - arrived
        finally:
            assert d.stop() == 0
        print(f"IDLE: opt-ins accepted {latency:.2f}s after the request arrived")
        assert latency < 10, f"{latency:.2f}s: looks like a poll, not IDLE"

    def test_idle_wait_returns_on_news_and_on_timeout(self, world: World) -> None:
        """`idle_wait` ends after its timeout when nothing happens (the connection still
        works), and as soon as the server announces a new mail."""
        cfg = load_config(world.config_path)
        assert cfg.imap is not None
        box = Mailbox(cfg.imap)
        box.connect()
        try:
            pings: list[float] = []
            assert box.idle_wait(0.3, lambda: False, lambda: pings.append(1)) is False
            assert pings, "the watchdog is pinged while idling"
            box.noop()

            def later() -> None:
                time.sleep(0.2)
                world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))

            threading.Thread(target=later).start()
            assert box.idle_wait(15, lambda: False, lambda: None) is True
            assert box.new_uids(0)
        finally:
            box.close()

    def test_idle_is_renewed_well_before_the_server_limit(self, world: World) -> None:
        """The loop re-issues IDLE at least every MAX_WAIT seconds (never near 29 min), and
        no timer makes it wake more often than once a second."""
        daemon = Daemon(load_config(world.config_path))
        try:
            daemon.mailbox.connect()
            wait = daemon._next_timer()
            assert 1.0 <= wait <= MAX_WAIT <= IDLE_RENEW < IDLE_LIMIT
        finally:
            daemon.mailbox.close()


def give_up() -> bool:
    """An `interrupted` for `idle_wait` that ends the IDLE at its first look."""
    return True


class Looks:
    """An `interrupted` for `idle_wait` that lets the IDLE wait once (up to a second) and
    ends it at its second look: news the server sent right after IDLE's go-ahead must have
    ended the IDLE before that."""

    def __init__(self, then: Callable[[], None] = lambda: None) -> None:
        self.count = 0
        self.then = then

    def __call__(self) -> bool:
        self.count += 1
        if self.count > 1:
            self.then()
            return True
        return False


class RacingMailbox(Mailbox):
    """A Mailbox that lets another connection append a mail at a chosen moment of the
    daemon's way from its last search to its IDLE, once, and that stops the daemon at the
    first IDLE that has to wait (the raced mail must have been handled by then)."""

    def __init__(self, daemon: Daemon, moment: str, append: Callable[[], None]) -> None:
        assert daemon.config.imap is not None
        super().__init__(daemon.config.imap)
        self.daemon, self.moment, self._append = daemon, moment, append
        self.raced = False
        self.idles = 0

    def _race(self, moment: str) -> None:
        if not self.raced and moment == self.moment and self.daemon.phase == "idle":
            self.raced = True
            self._append()

    def new_uids(self, after: int) -> list[int]:
        self._race("before the search")  # announced in the search's own reply
        return super().new_uids(after)

    def idle_wait(
        self, timeout: float, interrupted: Callable[[], bool], ping: Callable[[], None]
    ) -> bool:
        self._race("before IDLE")  # announced in the packet of IDLE's go-ahead
        self.idles += 1
        if self.idles > 20:  # the daemon keeps waking: stop it, the test will say
            self.daemon.stop_requested = True

        return super().idle_wait(timeout, Looks(then=self._stop), ping)

    def _stop(self) -> None:
        self.daemon.stop_requested = True


class TestIdleRaces:
    """Dovecot announces a new mail once, at the end of the first command after it landed;
    a mail that lands while introd checks for unhandled mail and enters IDLE is announced
    in that check's reply or with IDLE's go-ahead, and IDLE itself never tells of it again.
    (Behind a network latency that takes two round trips, so it happens often.)"""

    def test_mail_announced_in_the_search_reply_is_not_idled_over(self, world: World) -> None:
        cfg = load_config(world.config_path)
        assert cfg.imap is not None
        box = Mailbox(cfg.imap)
        box.connect()
        try:
            box.noop()
            world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
            assert box.new_uids(0) == [], "the search saw the mail: no race to test"
            looks = Looks()
            assert box.idle_wait(30, looks, lambda: None) is True
            assert looks.count == 0, "it idled, though the mail was announced already"
            assert len(box.new_uids(0)) == 1
            assert not box.unsearched
        finally:
            box.close()

    @pytest.mark.parametrize("security", ["none", "ssl"])
    def test_mail_landing_between_search_and_idle_wakes_it(
        self, world: World, security: str
    ) -> None:
        if security == "ssl":
            port, cert = world.dovecot.imaps_port, str(world.dovecot.cert)
            world.write_config(imap={"security": "ssl", "port": port, "ca_file": cert})
        cfg = load_config(world.config_path)
        assert cfg.imap is not None
        box = Mailbox(cfg.imap)
        box.connect()
        try:
            assert box.new_uids(0) == []
            world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
            looks = Looks()
            assert box.idle_wait(30, looks, lambda: None) is True
            assert looks.count <= 1, "the announcement did not end the IDLE"
            assert len(box.new_uids(0)) == 1
            assert box.client is not None
            stash = box.client._imap.untagged_responses
            assert not {"EXPUNGE", "EXISTS", "RECENT"} & set(stash), "kept for the soak to pile up"
        finally:
            box.close()

    def test_idle_without_news_does_not_wake(self, world: World) -> None:
        """No mail, no announcement: the count the replies carry does not wake IDLE."""
        world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
        cfg = load_config(world.config_path)
        assert cfg.imap is not None
        box = Mailbox(cfg.imap)
        box.connect()
        try:
            assert box.exists == 1
            assert len(box.new_uids(0)) == 1
            box.place(box.new_uids(0), cfg.imap.processed_folder)
            assert box.exists == 0
            assert box.new_uids(0) == []
            assert box.idle_wait(30, give_up, lambda: None) is False
            assert not box.unsearched
        finally:
            box.close()

    @pytest.mark.parametrize("moment", ["before the search", "before IDLE"])
    def test_daemon_handles_mail_that_raced_its_idle(self, world: World, moment: str) -> None:
        """A request appended between the daemon's check for unhandled mail and its IDLE
        gets its opt-ins without any other mail arriving to wake the daemon."""
        daemon = Daemon(load_config(world.config_path))
        box = RacingMailbox(
            daemon,
            moment,
            lambda: world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS)),
        )
        daemon.mailbox = box
        try:
            daemon._loop()
        finally:
            daemon.mailbox.close()
            daemon.smtp.close()
        assert box.raced
        assert box.idles <= 20, "the daemon kept waking without cause"
        assert len(world.smtp.received) == 2, "the raced request was left waiting"


class TestPolling:
    def test_server_without_idle_is_polled(self, make_world: Any, make_dovecot: Any) -> None:
        """A server that lacks IDLE is polled every poll_interval; new mail is handled."""
        from servers import SmtpServer

        dovecot = make_dovecot(disable=("IDLE",))
        smtp = SmtpServer(user=INTROS, password="smtp-secret", dovecot=dovecot)
        smtp.start()
        try:
            w = make_world(dovecot=dovecot, smtp=smtp)
            w.write_config(imap={"idle": True, "poll_interval": "1s"})
            with dovecot.session(INTROS) as imap:
                assert not imap.has_capability("IDLE")
            d = Running(w)
            try:
                d.wait_event("daemon_ready")
                assert d.events("daemon_ready")[0]["idle"] is False
                w.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
                smtp.wait_for(2, timeout=20)
            finally:
                assert d.stop() == 0
        finally:
            smtp.stop()


class Listener:
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="nfy-", dir="/tmp"))  # short: < 108 bytes
        self.path = self.dir / "notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue
            except OSError:
                return

    def lines(self) -> list[str]:
        return [line for m in list(self.messages) for line in m.splitlines()]

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=5)
        self.sock.close()
        self.path.unlink(missing_ok=True)
        self.dir.rmdir()


class TestSystemd:
    def test_ready_status_and_watchdog_reach_notify_socket(self, world: World) -> None:
        """Under systemd the daemon sends READY=1, a STATUS with its counts, WATCHDOG=1
        from the loop (also while idling) and STOPPING=1 on SIGTERM."""
        listener = Listener()
        try:
            d = Running(world, env={"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "400000"})
            try:
                d.wait_event("daemon_ready")
                wait_for(lambda: "READY=1" in listener.lines(), what="READY=1")
                world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
                world.smtp.wait_for(2, timeout=20)
                wait_for(
                    lambda: any(
                        line.startswith("STATUS=") and "1 awaiting" in line
                        for line in listener.lines()
                    ),
                    what="STATUS 1 awaiting",
                )
                before = listener.lines().count("WATCHDOG=1")
                wait_for(
                    lambda: listener.lines().count("WATCHDOG=1") >= before + 3,
                    what="watchdog pings while idle",
                )
            finally:
                assert d.stop() == 0
            wait_for(lambda: "STOPPING=1" in listener.lines(), what="STOPPING=1")
        finally:
            listener.close()
        statuses = [line for line in listener.lines() if line.startswith("STATUS=")]
        assert any("in outbox" in s for s in statuses), statuses
