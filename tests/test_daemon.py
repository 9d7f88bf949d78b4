"""`introd run` as a long-lived process: IDLE, readiness, SIGTERM, SIGHUP."""

from __future__ import annotations

import signal
import time

import pytest

from helpers import Running, wait_for
from world import TIM_ASKS, World, forward


pytestmark = [
    pytest.mark.servers,
    pytest.mark.world(config={"imap": {"idle": True}}),
]


class TestDaemon:
    def test_idle_handles_new_mail_and_stops_on_sigterm(self, world: World) -> None:
        """Under IDLE a new request is answered without polling; SIGTERM exits 0 quickly."""
        d = Running(world)
        try:
            wait_for(lambda: "daemon_ready" in d.text())
            world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
            world.smtp.wait_for(2, timeout=20)
            started = time.monotonic()
            assert d.stop() == 0
            assert time.monotonic() - started < 5
            assert "daemon_stopped" in d.text()
        finally:
            d.stop()
        assert len(world.sent()) == 2

    def test_sighup_with_broken_config_keeps_running(self, world: World) -> None:
        """A bad config on SIGHUP is refused with a logged error; the old one stays."""
        d = Running(world)
        try:
            wait_for(lambda: "daemon_ready" in d.text())
            good = world.config_path.read_text()
            world.config_path.write_text("owner: [not, a, mapping\n")
            d.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload_refused" in d.text())
            world.config_path.write_text(good)
            world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
            world.smtp.wait_for(2, timeout=20)
        finally:
            assert d.stop() == 0
