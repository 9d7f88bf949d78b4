"""Crash safety: `introd run` killed with SIGKILL at random (seeded) points while it works
through a backlog of requests and then of the parties' answers, restarted each time.

What must hold (docs/security.md, "Crash safety"): every request gets its two opt-ins,
every pair that said yes gets its introduction, every incoming mail ends put away exactly
once, and the mails sent twice are at most one per kill.
"""

from __future__ import annotations

import email
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from helpers import Running, backlog, backlog_request, wait_for
from world import INTROS, World


REQUESTS = 150  # 150 requests, then 300 answers: 450 incoming mails, 450 outgoing
KILLS_PER_PHASE = 7
SEED = 20261210


_PARSED: dict[int, list[tuple[tuple[str, ...], EmailMessage]]] = {}

pytestmark = [
    pytest.mark.servers,
    pytest.mark.world(**backlog(REQUESTS, batch_size=25)),
]


def _parsed(world: World) -> list[tuple[tuple[str, ...], EmailMessage]]:
    """What the SMTP server accepted, parsed once each (the checks poll this often)."""
    done = _PARSED.setdefault(id(world), [])
    for m in list(world.smtp.received)[len(done) :]:
        done.append((m.rcpt_tos, email.message_from_bytes(m.data, policy=policy.default)))  # type: ignore[arg-type]
    return done


def _distinct(world: World, keep: Callable[[EmailMessage], bool]) -> dict[str, Any]:
    """Message-ID -> (recipients, mail) of the accepted mails that `keep` selects."""
    return {str(m["Message-ID"]): (rcpts, m) for rcpts, m in _parsed(world) if keep(m)}


def _is_optin(m: EmailMessage) -> bool:
    return "Auto-Submitted" in m and "intros+" in str(m.get("Reply-To", ""))


def _is_introduction(m: EmailMessage) -> bool:
    return "Auto-Submitted" not in m


def _run_with_kills(
    world: World,
    rng: random.Random,
    kills: int,
    done: Callable[[], bool],
    feed: Callable[[], None] | None = None,
) -> int:
    """Run the daemon, SIGKILL it `kills` times (restarting it each time), then let it
    finish until `done()`; returns how many kills hit a running daemon.

    Each kill waits for a random amount of progress of the current run (1 to 40 log events:
    mails handled, queued, sent), so it lands in the middle of the work, not in start-up.
    """
    d = Running(world)
    if feed is not None:
        feed()
    hit = 0
    try:
        for _ in range(kills):
            progress = rng.randint(1, 40)
            try:
                wait_for(
                    lambda run=d, n=progress: done() or len(run.events()) >= n,  # type: ignore[misc]
                    timeout=30,
                )
            except AssertionError:
                pass  # nothing left to do in this run: kill it idle
            if done():
                break
            if d.proc.poll() is None:
                hit += 1
            d.kill()
            d = Running(world)
        # the last run sends what the killed ones left: over a minute on a loaded machine
        wait_for(done, timeout=180, what="the backlog worked through")
    finally:
        # a run started just as the killed one had sent the last mail may still be starting:
        # SIGTERM before its handlers are in place ends it by the signal, not by a clean stop
        wait_for(lambda: d.proc.poll() is not None or bool(d.events("daemon_ready")), 60)
        assert d.stop() == 0
    return hit


class TestCrashSafety:
    def test_sigkill_loop_loses_nothing_and_bounds_duplicates(self, world: World) -> None:
        """Killed at random points through 150 requests and 300 answers: all opt-ins and all
        introductions go out, all mail is put away once, duplicates <= kills."""
        rng = random.Random(SEED)
        world.append_all([backlog_request(i) for i in range(REQUESTS)])
        started = time.monotonic()
        kills = _run_with_kills(
            world, rng, KILLS_PER_PHASE, lambda: len(_distinct(world, _is_optin)) >= 2 * REQUESTS
        )

        optins = _distinct(world, _is_optin)
        assert len(optins) == 2 * REQUESTS
        asked = Counter(r for rcpts, _ in optins.values() for r in rcpts)
        assert len(asked) == 2 * REQUESTS and set(asked.values()) == {1}

        print(f"phase 1: {time.monotonic() - started:.1f}s")
        started = time.monotonic()

        def answer_all() -> None:
            now = datetime.now(UTC)
            for rcpts, mail in optins.values():
                world.reply(rcpts[0], mail, "Yes, happy to be introduced. Thanks!", now=now)

        kills += _run_with_kills(
            world,
            rng,
            KILLS_PER_PHASE,
            lambda: len(_distinct(world, _is_introduction)) >= REQUESTS,
            feed=answer_all,
        )

        print(f"phase 2: {time.monotonic() - started:.1f}s")
        introductions = _distinct(world, _is_introduction)
        assert len(introductions) == REQUESTS
        pairs = {frozenset(rcpts) for rcpts, _ in introductions.values()}
        assert len(pairs) == REQUESTS and all(len(p) == 2 for p in pairs)

        total = len(world.smtp.received)
        distinct = len({str(m["Message-ID"]) for _, m in _parsed(world)})
        assert distinct == 3 * REQUESTS, "nothing else was sent"
        assert total - distinct <= kills, f"{total - distinct} duplicates for {kills} kills"
        assert world.dovecot.messages(INTROS) == []
        assert len(world.dovecot.messages(INTROS, "introd/done")) == 3 * REQUESTS
        with sqlite3.connect(world.tmp / "introd.db") as db:
            states = dict(db.execute("SELECT state, COUNT(*) FROM intros GROUP BY state"))
            pending = db.execute("SELECT COUNT(*) FROM outbox WHERE status != 'sent'").fetchone()
            unplaced = db.execute("SELECT COUNT(*) FROM messages WHERE placed = 0").fetchone()
        assert states == {"introduced": REQUESTS}
        assert pending[0] == 0 and unplaced[0] == 0
        print(f"crash test: {kills} kills, {total - distinct} duplicates of {distinct} mails")
        _PARSED.pop(id(world), None)
