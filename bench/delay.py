"""A TCP relay that holds every byte for a fixed time in each direction: a network with
that one-way latency, for kernels without the netem queueing discipline.

    python bench/delay.py --delay SECONDS LISTEN_HOST:PORT=TARGET_HOST:PORT ...

Each pair listens on LISTEN_HOST:PORT and relays to TARGET_HOST:PORT. Data read on one
side is written to the other `delay` seconds after it arrived, in order; a new connection
waits three one-way delays before the relay connects on (SYN, SYN-ACK and ACK each cross
the link once), so a server's greeting reaches the client two round trips after it
connected, as over a real link. Bandwidth is not limited and TCP's own window growth is
not modelled: the relay adds latency, nothing else. Prints "ready" once it listens, and
runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy reader to writer, each chunk `delay` seconds after it was read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def feed() -> None:
        try:
            while data := await reader.read(65536):
                queue.put_nowait((loop.time() + delay, data))
        finally:
            queue.put_nowait((loop.time() + delay, b""))

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    await asyncio.gather(feed(), deliver())


async def _relay(
    client_r: asyncio.StreamReader,
    client_w: asyncio.StreamWriter,
    target: tuple[str, int],
    delay: float,
) -> None:
    await asyncio.sleep(3 * delay)
    try:
        up_r, up_w = await asyncio.open_connection(*target)
    except OSError:
        client_w.close()
        return
    _nodelay(client_w)
    _nodelay(up_w)
    results = await asyncio.gather(
        _pump(client_r, up_w, delay), _pump(up_r, client_w, delay), return_exceptions=True
    )
    del results  # a reset on either side ends the connection, as it would on the wire
    for writer in (up_w, client_w):
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def _main(pairs: list[tuple[tuple[str, int], tuple[str, int]]], delay: float) -> None:
    servers = []
    for listen, target in pairs:

        async def handle(
            r: asyncio.StreamReader, w: asyncio.StreamWriter, target: tuple[str, int] = target
        ) -> None:
            try:
                await _relay(r, w, target, delay)
            except asyncio.CancelledError:  # the relay is stopping: the connection ends
                w.close()

        servers.append(await asyncio.start_server(handle, *listen, reuse_address=True))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for server in servers:
        server.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/delay.py", description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, required=True, help="one-way delay, seconds")
    parser.add_argument("pairs", nargs="+", metavar="LISTEN=TARGET")
    args = parser.parse_args(argv)
    pairs = []
    for pair in args.pairs:
        listen, _, target = pair.partition("=")
        pairs.append((_address(listen), _address(target)))
    asyncio.run(_main(pairs, args.delay))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
