"""The SIGKILL loop, at scale: a backlog of owner-forwarded requests, `introd run` killed
with SIGKILL after a random (seeded) amount of progress and restarted, again and again;
then every party answers yes and the loop goes on until every introduction is out.

What must hold (docs/security.md, "Crash safety"): nothing is lost (every request gets
its two opt-ins, every pair its introduction, every incoming mail ends in the processed
folder once, no pending or unplaced row is left) and the mails the SMTP server accepted
twice are at most the number of kills. Against the test suite's real Dovecot and SMTP
server. A measurement, not a test: `tests/test_crash.py` is the suite's smaller version.

Usage: .venv/bin/python bench/sigkill.py [--requests 300] [--kills 50] [--answer-kills 25]
       [--seed N]
Prints one line per phase and a summary; exits 1 when a guarantee failed.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from servers import Dovecot, SmtpServer  # noqa: E402
from test_crash import _distinct, _is_introduction, _is_optin, _parsed  # noqa: E402
from helpers import Running, backlog, backlog_request, wait_for  # noqa: E402
from world import INTROS, World  # noqa: E402

INTRO_USER, INTRO_PASSWORD = "intros@example.test", "intros-secret"


def run_with_kills(
    world: World,
    rng: random.Random,
    kills: int,
    most: int,
    done: Callable[[], bool],
    feed: Callable[[], None] | None = None,
) -> int:
    """Run the daemon, SIGKILL it `kills` times, each after 1 to `most` log events of the
    current run (mails handled, queued, sent: the kill lands in reading, placing or
    sending), restart it each time, then let it finish; returns the kills that hit a
    running daemon. As tests/test_crash.py does, with the progress range chosen."""
    d = Running(world)
    if feed is not None:
        feed()
    hit = 0
    try:
        for _ in range(kills):
            progress = rng.randint(1, most)

            def far_enough(run: Running = d, n: int = progress) -> bool:
                return done() or len(run.events()) >= n

            try:
                wait_for(far_enough, timeout=60)
            except AssertionError:
                pass  # nothing left to do in this run: kill it idle
            if done():
                break
            if d.proc.poll() is None:
                hit += 1
            d.kill()
            d = Running(world)
        wait_for(done, timeout=300, what="the backlog worked through")
    finally:
        d.stop()
    return hit


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--kills", type=int, default=50, help="kills while the requests are read")
    p.add_argument("--answer-kills", type=int, default=25, help="kills while the answers are read")
    p.add_argument("--seed", type=int, default=20261203)
    p.add_argument("--batch-size", type=int, default=10, help="imap.batch_size")
    p.add_argument(
        "--most", type=int, default=60, help="a kill comes after 1 to MOST log events of the run"
    )
    args = p.parse_args(argv)
    n = args.requests
    rng = random.Random(args.seed)
    dovecot = Dovecot()
    dovecot.add_user(INTRO_USER, INTRO_PASSWORD)
    dovecot.start()
    smtp = SmtpServer(
        user=INTRO_USER, password="smtp-secret", local_domains=("example.test",), dovecot=dovecot
    )
    smtp.start()
    failures: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="introd-sigkill-") as tmp:
            shape = backlog(n, batch_size=args.batch_size)
            world = World(
                Path(tmp), dovecot, smtp, extra_config=shape["config"], contacts=shape["contacts"]
            )
            world.append_all([backlog_request(i) for i in range(n)])
            started = time.monotonic()
            kills = run_with_kills(
                world, rng, args.kills, args.most, lambda: len(_distinct(world, _is_optin)) >= 2 * n
            )
            optins = _distinct(world, _is_optin)
            asked = Counter(r for rcpts, _ in optins.values() for r in rcpts)
            print(
                f"requests: {n} requests, {kills} kills, {len(optins)} distinct opt-ins, "
                f"{len(smtp.received)} accepted, {time.monotonic() - started:.0f} s"
            )
            if len(optins) != 2 * n or len(asked) != 2 * n or set(asked.values()) != {1}:
                failures.append("opt-ins lost or sent to the wrong people")

            started = time.monotonic()
            before = kills

            def answer_all() -> None:
                now = datetime.now(UTC)
                for rcpts, mail in optins.values():
                    world.reply(rcpts[0], mail, "Yes, happy to be introduced. Thanks!", now=now)

            kills += run_with_kills(
                world,
                rng,
                args.answer_kills,
                args.most,
                lambda: len(_distinct(world, _is_introduction)) >= n,
                feed=answer_all,
            )
            introductions = _distinct(world, _is_introduction)
            print(
                f"answers:  {2 * n} answers, {kills - before} kills, "
                f"{len(introductions)} distinct introductions, "
                f"{time.monotonic() - started:.0f} s"
            )
            pairs = {frozenset(rcpts) for rcpts, _ in introductions.values()}
            if len(introductions) != n or len(pairs) != n:
                failures.append("introductions lost or doubled")

            total = len(smtp.received)
            distinct = len({str(m["Message-ID"]) for _, m in _parsed(world)})
            duplicates = total - distinct
            if distinct != 3 * n:
                failures.append(f"{distinct} distinct mails sent, {3 * n} expected")
            if duplicates > kills:
                failures.append(f"{duplicates} duplicates for {kills} kills")
            done = len(dovecot.messages(INTROS, "introd/done"))
            left = len(dovecot.messages(INTROS))
            if done != 3 * n or left:
                failures.append(f"{done} mails processed, {left} left in the folder")
            with sqlite3.connect(Path(tmp) / "introd.db") as db:
                pending = db.execute("SELECT COUNT(*) FROM outbox WHERE status != 'sent'")
                unplaced = db.execute("SELECT COUNT(*) FROM messages WHERE placed = 0")
                rows = (pending.fetchone()[0], unplaced.fetchone()[0])
            if rows != (0, 0):
                failures.append(f"{rows[0]} outbox rows not sent, {rows[1]} mails unplaced")
            print(
                f"summary:  {kills} kills, {3 * n} incoming mails, {distinct} distinct mails "
                f"sent, {duplicates} duplicates (bound: {kills}), lost: "
                f"{3 * n - distinct if distinct < 3 * n else 0}"
            )
    finally:
        smtp.stop()
        dovecot.close()
    for f in failures:
        print(f"FAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
