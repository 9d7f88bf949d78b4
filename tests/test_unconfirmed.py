"""A mail whose fate is unknown after DATA (the server dropped the connection before its
250, or answered later than `smtp.timeout`): deferred like a 4xx, at most
`MAX_UNCONFIRMED` copies in all, and never in the way of the rest of the outbox — in the
daemon's pass and in the sending between the FETCH batches of a backlog."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from introd.delivery import MAX_UNCONFIRMED
from helpers import backlog, backlog_request
from world import OWNER, TIM_ASKS, World, forward


T0 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
TIM, BOB = "tim@example.test", "bob@example.test"

pytestmark = [
    pytest.mark.servers,
    pytest.mark.world(config={"limits": {"max_outgoing_per_hour": 0}}),
]


def _copies(world: World) -> Counter[str]:
    """How many times each Message-ID reached the server."""
    return Counter(str(m["Message-ID"]) for m in world.sent())


def _party_copies(world: World) -> Counter[str]:
    """How many times each mail to a party (not to the owner) reached the server."""
    return Counter(
        str(m["Message-ID"])
        for m, r in zip(world.sent(), world.smtp.received, strict=True)
        if OWNER not in r.rcpt_tos
    )


def _outbox(world: World) -> list[tuple[str, str, int, int]]:
    with sqlite3.connect(world.tmp / "introd.db") as db:
        return list(
            db.execute("SELECT template, status, attempts, unconfirmed FROM outbox ORDER BY id")
        )


class TestDroppedAfterData:
    def test_one_drop_defers_that_mail_and_the_other_optin_goes_out(self, world: World) -> None:
        """The server drops the first mail's connection after DATA: the run still exits 0,
        the other opt-in goes out in the same run, the dropped one waits 5 minutes (a rerun
        at once sends nothing) and is sent once more then: 3 copies for 2 mails."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.smtp.drop_after_data(1)
        assert world.run_once(T0) == 0
        assert len(world.sent()) == 2 and world.smtp.sent_to(BOB) and world.smtp.sent_to(TIM)
        assert sorted(status for _, status, _, _ in _outbox(world)) == ["pending", "sent"]
        assert world.run_once(T0 + timedelta(minutes=1)) == 0
        assert len(world.sent()) == 2, "not again before its backoff"
        assert world.run_once(T0 + timedelta(minutes=6)) == 0
        assert sorted(_copies(world).values()) == [1, 2]
        assert [(s, u) for _, s, _, u in _outbox(world)] in (
            [("sent", 1), ("sent", 0)],
            [("sent", 0), ("sent", 1)],
        )

    def test_server_that_always_drops_gets_each_mail_at_most_three_times(
        self, world: World
    ) -> None:
        """A server that never confirms: each opt-in reaches it MAX_UNCONFIRMED times over
        the backoff (5, 10 minutes), never more however often introd runs, then it is failed
        and the owner told once per address."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.smtp.drop_after_data(1000)
        for minutes in (0, 0, 1, 6, 7, 16, 30, 60, 120, 240):
            assert world.run_once(T0 + timedelta(minutes=minutes)) == 0
        per_mail = _party_copies(world)
        assert len(per_mail) == 2 and set(per_mail.values()) == {MAX_UNCONFIRMED}
        rows = {(t, s, u) for t, s, _, u in _outbox(world)}
        assert ("optin_requester", "failed", MAX_UNCONFIRMED) in rows
        assert ("optin_target", "failed", MAX_UNCONFIRMED) in rows
        notices = Counter(t for t, _, _, _ in _outbox(world) if t == "bounce_notice")
        assert notices["bounce_notice"] == 2  # one per failed address
        assert max(Counter(str(m["Message-ID"]) for m in world.sent()).values()) <= MAX_UNCONFIRMED


class TestSlowerThanTimeout:
    def test_late_250_is_deferred_not_repeated_by_each_run(self, world: World) -> None:
        """The 250 comes after `smtp.timeout`: four runs at the same moment exit 0 and send
        each opt-in once; later runs send each at most MAX_UNCONFIRMED times in all."""
        world.write_config(smtp={"timeout": "1s"})
        world.smtp.reply_delay = 2.0
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        for _ in range(4):
            assert world.run_once(T0) == 0
        assert sorted(_copies(world).values()) == [1, 1]
        for minutes in (6, 20, 60):
            assert world.run_once(T0 + timedelta(minutes=minutes)) == 0
        assert set(_party_copies(world).values()) == {MAX_UNCONFIRMED}
        states = {(t, s) for t, s, _, _ in _outbox(world) if t.startswith("optin")}
        assert states == {("optin_requester", "failed"), ("optin_target", "failed")}


class TestBacklog:
    def test_backlog_defers_dropped_mail_and_sends_the_rest(
        self, make_world: Any, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A backlog sent behind its reading, the server dropping three mails after DATA:
        the other opt-ins all go out in that run, the three are sent once more after their
        backoff, no mail more than twice."""
        count = 8
        world = make_world(
            **backlog(count, batch_size=2), inbox=[backlog_request(i) for i in range(count)]
        )
        world.smtp.drop_after_data(3)
        assert world.run_once(T0) == 0
        events = [json.loads(line)["event"] for line in capfd.readouterr().err.splitlines()]
        assert events.count("mail_sent") == 2 * count - 3
        assert len(world.sent()) == 2 * count
        assert sum(1 for _, s, _, _ in _outbox(world) if s == "pending") == 3
        assert world.run_once(T0 + timedelta(minutes=6)) == 0
        copies = _copies(world)
        assert len(copies) == 2 * count and sum(copies.values()) == 2 * count + 3
        assert max(copies.values()) == 2
        assert all(s == "sent" for _, s, _, _ in _outbox(world))
