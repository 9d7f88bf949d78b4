"""The systemd notification protocol (sd_notify), without a dependency: READY,
STATUS, WATCHDOG and STOPPING datagrams to $NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket
import time


class Notifier:
    def __init__(self) -> None:
        self.address = os.environ.get("NOTIFY_SOCKET")
        self.sock: socket.socket | None = None
        if self.address:
            if self.address.startswith("@"):
                self.address = "\0" + self.address[1:]
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        self.watchdog_interval: float | None = None
        if usec and (not pid or pid == str(os.getpid())):
            self.watchdog_interval = int(usec) / 1_000_000 / 2
        self._last_ping = 0.0
        self._last_status = ""

    def send(self, message: str) -> None:
        if self.sock is None or not self.address:
            return
        try:
            self.sock.sendto(message.encode(), self.address)
        except OSError:
            pass

    def ready(self, status: str = "") -> None:
        self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, status: str) -> None:
        if status != self._last_status:
            self._last_status = status
            self.send(f"STATUS={status}")

    def ping(self) -> None:
        """WATCHDOG=1, at most twice per watchdog interval."""
        if self.watchdog_interval is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.watchdog_interval / 2:
            self._last_ping = now
            self.send("WATCHDOG=1")

    def reloading(self) -> None:
        self.send("RELOADING=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")
