"""`introd run` as a long-lived process: IDLE, readiness, SIGTERM, SIGHUP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from world import TIM_ASKS, World, forward

pytestmark = pytest.mark.servers


def _wait_for(predicate: Any, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


class Running:
    def __init__(self, world: World) -> None:
        self.log = world.tmp / "daemon.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "introd", "run", "--config", str(world.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def lines(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=15)


@pytest.fixture
def world(tmp_path: Path, dovecot: Any, smtp_server: Any) -> Iterator[World]:
    w = World(tmp_path, dovecot, smtp_server)
    w.write_config(imap={"idle": True})
    yield w


class TestDaemon:
    def test_idle_handles_new_mail_and_stops_on_sigterm(self, world: World) -> None:
        """Under IDLE a new request is answered without polling; SIGTERM exits 0 quickly."""
        d = Running(world)
        try:
            _wait_for(lambda: "daemon_ready" in d.lines())
            world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
            world.smtp.wait_for(2, timeout=20)
            started = time.monotonic()
            assert d.stop() == 0
            assert time.monotonic() - started < 5
            assert "daemon_stopped" in d.lines()
        finally:
            d.stop()
        assert len(world.sent()) == 2

    def test_sighup_with_broken_config_keeps_running(self, world: World) -> None:
        """A bad config on SIGHUP is refused with a logged error; the old one stays."""
        d = Running(world)
        try:
            _wait_for(lambda: "daemon_ready" in d.lines())
            good = world.config_path.read_text()
            world.config_path.write_text("owner: [not, a, mapping\n")
            d.proc.send_signal(signal.SIGHUP)
            _wait_for(lambda: "reload_refused" in d.lines())
            world.config_path.write_text(good)
            world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
            world.smtp.wait_for(2, timeout=20)
        finally:
            assert d.stop() == 0
