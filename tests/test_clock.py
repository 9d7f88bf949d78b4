"""The clock set back (an NTP correction, a VM restored from a snapshot): stamps from the
future in the state are treated as now, so the hourly limit, the outbox's backoff, the
reminders and the digest go on within their own periods instead of waiting for the
clock to catch up. With the injected clock (`--now`) against the real servers."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from introd.state import Store, iso
from world import ANA, ANA_ASKS, CONTACTS, DAVE, DAVE_MILLER, TIM_ASKS, World, forward

LATE = datetime(2026, 12, 13, 9, 0, tzinfo=UTC)  # the clock three days fast
BACK = LATE - timedelta(days=3)  # then set right
TIM, BOB = "tim@example.test", "bob@example.test"

pytestmark = [
    pytest.mark.servers,
    pytest.mark.world(
        contacts=[*CONTACTS, DAVE_MILLER],
        config={
            "limits": {"max_outgoing_per_hour": 2},
            "optin": {"reminder_after": "4d", "expire_after": "14d"},
        },
    ),
]


def _rows(world: World, sql: str) -> list[Any]:
    with sqlite3.connect(world.tmp / "introd.db") as db:
        return list(db.execute(sql))


class TestClockSetBack:
    def test_hourly_limit_recovers_within_the_hour(self, world: World) -> None:
        """Two opt-ins sent with the clock three days fast; the clock set right, a new
        request's opt-ins leave within the hour (limit 2 an hour), not three days later."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(LATE) == 0
        assert len(world.sent()) == 2
        world.owner_sends(forward("Ana Lopez", ANA, ANA_ASKS))
        assert world.run_once(BACK) == 0
        assert world.run_once(BACK + timedelta(minutes=61)) == 0
        assert world.smtp.sent_to(ANA) and world.smtp.sent_to(DAVE)
        assert len(world.sent()) == 4
        latest = iso(BACK + timedelta(minutes=61))
        assert _rows(world, f"SELECT COUNT(*) FROM outbox WHERE sent_at > '{latest}'") == [(0,)]

    def test_backoff_from_the_future_is_retried_now(self, world: World) -> None:
        """A 4xx with the clock fast set a retry three days ahead of the right time: once
        the clock is set back, the mail is retried at the next run."""
        world.write_config(limits={"max_outgoing_per_hour": 0})
        world.smtp.fail_next(2, code=451)
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(LATE) == 0
        assert world.sent() == []
        assert world.run_once(BACK + timedelta(minutes=1)) == 0
        assert len(world.sent()) == 2

    def test_reminder_comes_one_period_after_the_clock_was_set_back(self, world: World) -> None:
        """Opt-ins stamped three days ahead: the reminders come `reminder_after` after the
        clock was set back (not seven days later), and exactly once."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(LATE) == 0
        assert world.run_once(BACK) == 0  # the jump is seen: stamps from the future are now
        assert world.run_once(BACK + timedelta(days=3)) == 0
        assert len(world.sent()) == 2
        for hours in (0, 2, 4):
            assert world.run_once(BACK + timedelta(days=4, hours=1 + hours)) == 0
        assert _rows(
            world, "SELECT COUNT(*) FROM outbox WHERE template = 'reminder' AND status = 'sent'"
        ) == [(2,)]
        assert len(world.sent()) == 4

    def test_small_skew_changes_nothing(self, world: World) -> None:
        """A clock a minute behind the last run is not a jump: nothing is rewritten."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(LATE) == 0
        before = _rows(world, "SELECT sent_at FROM outbox ORDER BY id")
        assert world.run_once(LATE - timedelta(minutes=1)) == 0
        assert _rows(world, "SELECT sent_at FROM outbox ORDER BY id") == before


class TestClampInTheStore:
    def test_future_stamps_become_now_and_plans_stay_within_their_period(
        self, tmp_path: Path
    ) -> None:
        """`clamp_future` rewrites past events stamped after `now` to `now`, a retry more
        than the longest backoff away to `now`, and an expiry beyond `expire_after` to
        `now + expire_after`; stamps before `now` stay."""
        store = Store(tmp_path / "s.db")
        with store.transaction():
            store.insert_intro(
                id="AAAAAA",
                state="awaiting",
                created=LATE,
                updated=LATE,
                expires=LATE + timedelta(days=14),
            )
            store.insert_intro(
                id="BBBBBB",
                state="awaiting",
                created=BACK - timedelta(days=1),
                updated=BACK - timedelta(days=1),
                expires=BACK + timedelta(days=13),
            )
            store.insert_party("AAAAAA", "target")
            store.update_party("AAAAAA", "target", status="asked", asked_at=LATE)
            first = store.enqueue(
                intro_id="AAAAAA",
                template="optin_target",
                role="target",
                sender="a@x",
                recipients=["b@x"],
                message_id="<1@x>",
                raw=b"x",
                now=LATE,
            )
            store.mark_sent(first, LATE)
            second = store.enqueue(
                intro_id="AAAAAA",
                template="optin_target",
                role="target",
                sender="a@x",
                recipients=["b@x"],
                message_id="<2@x>",
                raw=b"x",
                now=LATE,
            )
            store.mark_deferred(second, LATE + timedelta(minutes=5), "451")
        went_back = store.note_clock(BACK, expire_after=timedelta(days=14))
        assert went_back is not None and went_back >= timedelta(days=3) - timedelta(minutes=1)
        a, b = store.intro("AAAAAA"), store.intro("BBBBBB")
        assert a is not None and b is not None
        assert a.created == BACK and a.updated == BACK
        assert a.expires == BACK + timedelta(days=14)
        assert b.created == BACK - timedelta(days=1) and b.expires == BACK + timedelta(days=13)
        assert store.parties("AAAAAA")["target"].asked_at == BACK
        assert store.sent_since(BACK - timedelta(hours=1)) == 1
        assert [r.id for r in store.due_outbox(BACK)] == [second]
        assert (
            store.note_clock(BACK + timedelta(minutes=1), expire_after=timedelta(days=14)) is None
        )
