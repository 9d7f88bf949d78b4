"""A network namespace for the mail servers, behind a given latency (`bench/run --latency`).

The namespace gets one end of a veth pair, the other stays here; each end has an address
on a private /30 and the namespace has no other route, so nothing leaves the machine.
The latency is the added round trip, half of it each way: `tc qdisc ... netem delay` on
both veth ends where the kernel has the netem queueing discipline, otherwise
``bench/delay.py``, a relay that runs in the namespace, listens on the namespace's veth
address and holds each byte for half the round trip in each direction.

The benchmark process itself stays outside; `inside()` moves the calling thread into the
namespace for a moment (setns(2) acts on one thread), so that the servers the benchmark
starts there, and the sockets it opens to them for its own bookkeeping, belong to the
namespace, while introd and the floor, started from outside, reach the servers only
through the veth pair.
"""

from __future__ import annotations

import ctypes
import gzip
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
RELAY = Path(__file__).resolve().with_name("delay.py")


class NetnsError(RuntimeError):
    """The namespace, the veth pair or the latency could not be set up."""


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _ip(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def _must(*argv: str) -> None:
    done = _ip(*argv)
    if done.returncode != 0:
        raise NetnsError(f"`{' '.join(argv)}` failed: {done.stderr.strip() or done.returncode}")


def kernel_has_netem() -> str:
    """What the kernel's build configuration says of netem, when it can be read."""
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            for line in f:
                if "CONFIG_NET_SCH_NETEM" in line:
                    return line.strip()
    except OSError:
        return "no /proc/config.gz"
    return "CONFIG_NET_SCH_NETEM not mentioned in /proc/config.gz"


class Netns:
    """A namespace `name` whose veth end has `ns_addr`; `host_addr` is the end here."""

    def __init__(self, rtt: float, *, name: str | None = None, via: str = "auto") -> None:
        if via not in ("auto", "netem", "relay"):
            raise NetnsError(f"BENCH_NETEM_VIA must be auto, netem or relay, not {via!r}")
        pid = os.getpid()
        self.name = name or f"introd-bench-{pid}"
        self.rtt = rtt
        self.want = via
        k = pid % 16384  # a /30 of 10.253.0.0/16 per run: two runs at once do not clash
        self.host_addr = f"10.253.{k // 64}.{4 * (k % 64) + 1}"
        self.ns_addr = f"10.253.{k // 64}.{4 * (k % 64) + 2}"
        self.host_if, self.ns_if = f"ib{pid}h"[-15:], f"ib{pid}n"[-15:]
        self.via = ""
        self.netem_error = ""
        self._relay: subprocess.Popen[str] | None = None

    # -- life cycle -----------------------------------------------------------------

    def up(self) -> None:
        """The namespace, the veth pair, the addresses and, where it works, netem."""
        try:
            _must("ip", "netns", "add", self.name)
            _must("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _must("ip", "link", "set", self.ns_if, "netns", self.name)
            _must("ip", "addr", "add", f"{self.host_addr}/30", "dev", self.host_if)
            _must("ip", "link", "set", self.host_if, "up")
            inside = ("ip", "netns", "exec", self.name)
            _must(*inside, "ip", "addr", "add", f"{self.ns_addr}/30", "dev", self.ns_if)
            _must(*inside, "ip", "link", "set", self.ns_if, "up")
            _must(*inside, "ip", "link", "set", "lo", "up")
        except Exception:
            self.down()
            raise
        if self.want == "relay":
            self.via = "relay"
            return
        half = f"{self.rtt / 2 * 1000:g}ms"
        done = _ip("tc", "qdisc", "add", "dev", self.host_if, "root", "netem", "delay", half)
        if done.returncode == 0:
            done = _ip(
                *inside, "tc", "qdisc", "add", "dev", self.ns_if, "root", "netem", "delay", half
            )
        if done.returncode == 0:
            self.via = "netem"
            return
        self.netem_error = (
            f"`tc qdisc add dev {self.host_if} root netem delay {half}`: "
            f"{done.stderr.strip() or f'exit {done.returncode}'} ({kernel_has_netem()})"
        )
        if self.want == "netem":
            self.down()
            raise NetnsError(self.netem_error)
        self.via = "relay"

    def down(self) -> None:
        """Stop the relay and remove the namespace (its veth end goes with it, and the
        other end with that); safe to call more than once."""
        relay, self._relay = self._relay, None
        if relay is not None and relay.poll() is None:
            relay.terminate()
            try:
                relay.wait(10)
            except subprocess.TimeoutExpired:
                relay.kill()
                relay.wait()
        _ip("ip", "netns", "del", self.name)
        if Path(f"/sys/class/net/{self.host_if}").exists():
            _ip("ip", "link", "del", self.host_if)

    def describe(self) -> str:
        where = f"{self.host_addr} ↔ {self.ns_addr}/30, namespace {self.name}"
        if self.via == "netem":
            how = f"`tc netem delay {self.rtt / 2 * 1000:g}ms` on both veth ends"
        else:
            how = (
                f"bench/delay.py in the namespace holding each byte {self.rtt / 2 * 1000:g} ms "
                "each way"
            )
        return f"{self.rtt * 1000:g} ms added round trip ({how}; {where})"

    # -- use ------------------------------------------------------------------------

    @contextmanager
    def inside(self) -> Iterator[None]:
        """The calling thread in the namespace until the block ends; threads and processes
        it starts meanwhile stay there."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)
            os.close(target)

    def expose(self, ports: Iterable[int]) -> None:
        """Make servers on 127.0.0.1:PORT of the namespace reachable at ns_addr:PORT, with the
        latency: through the relay, or (with netem) a relay without delay of its own."""
        delay = 0.0 if self.via == "netem" else self.rtt / 2
        pairs = [f"{self.ns_addr}:{p}=127.0.0.1:{p}" for p in ports]
        self._relay = subprocess.Popen(
            ["ip", "netns", "exec", self.name, sys.executable, str(RELAY), "--delay", str(delay)]
            + pairs,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._relay.stdout is not None
        line = self._relay.stdout.readline()
        if line.strip() != "ready":
            self.down()
            raise NetnsError(f"bench/delay.py did not start (it said {line!r})")
