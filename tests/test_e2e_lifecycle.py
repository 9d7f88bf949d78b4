"""An intro's whole life against the real servers, moving the clock with `--now`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from world import CONTACTS, OWNER, TIM_ASKS, World, forward


TIM, BOB = "tim@example.test", "bob@example.test"

pytestmark = [
    pytest.mark.servers,
    pytest.mark.world(
        contacts=[
            *CONTACTS,
            {"name": "Sarah Chen", "email": "sarah.chen@example.test", "company": "Helix"},
            {"name": "Sarah Chen", "email": "schen@example.test", "company": "Arbor"},
        ]
    ),
]


def _last(world: World, user: str, word: str) -> Any:
    mails = [m for m in world.inbox(user) if word in str(m["Subject"])]
    assert mails, f"no mail with {word!r} for {user}: {world.subjects(user)}"
    return mails[-1]


class TestOwnerReview:
    def test_review_then_owner_approves_by_reply(self, world: World, clock: Any) -> None:
        """review_all sends the owner a review; replying 'approve' sends both opt-ins."""
        world.write_config(policies={"review_all": {"enabled": True}})
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        assert world.sent_to(TIM) == [] and len(world.sent_to(OWNER)) == 1
        review = world.inbox(OWNER)[-1]
        world.reply(OWNER, review, "approve", now=clock.now(), authenticated=True)
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert len(world.sent_to(TIM)) == 1 and len(world.sent_to(BOB)) == 1
        assert len(world.sent_to(OWNER)) == 2, "the owner gets one confirmation"

    def test_ambiguous_target_owner_picks_2(self, world: World, clock: Any) -> None:
        """Two Sarah Chens: the owner's '2' makes the second one the target."""
        world.owner_sends(
            forward("Tim Walker", TIM, TIM_ASKS.replace("Bob Jones at BigChem", "Sarah Chen"))
        )
        world.run_once(clock.now())
        review = world.inbox(OWNER)[-1]
        body = review.get_body(("plain",)).get_content()
        assert "1. Sarah Chen" in body and "2. Sarah Chen" in body
        world.reply(OWNER, review, "2", now=clock.now(), authenticated=True)
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert len(world.sent_to("schen@example.test")) == 1
        assert world.sent_to("sarah.chen@example.test") == []

    def test_forged_approval_changes_nothing(self, world: World, clock: Any) -> None:
        """An 'approve' from the owner's address without authentication is ignored."""
        world.write_config(policies={"review_all": {"enabled": True}})
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        world.reply(OWNER, world.inbox(OWNER)[-1], "approve", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert world.sent_to(TIM) == [] and len(world.sent_to(OWNER)) == 1


class TestTime:
    def test_reminder_then_expiry_then_late_answer(self, world: World, clock: Any) -> None:
        """One reminder after 4 days, expiry after 14 with a note to the requester; a late
        yes gets one short note and no introduction."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        world.reply(TIM, _last(world, TIM, "[intro"), "Yes please", now=clock.now())
        world.run_once(clock.advance(timedelta(days=1)))
        world.run_once(clock.advance(timedelta(days=3, minutes=1)))
        assert len(world.sent_to(BOB)) == 2, "opt-in and one reminder"
        world.run_once(clock.advance(timedelta(days=5)))
        assert len(world.sent_to(BOB)) == 2, "only one reminder"
        world.run_once(clock.advance(timedelta(days=6)))
        assert len(world.sent_to(TIM)) == 2, "opt-in and the expiry note"
        optin = [m for m in world.inbox(BOB) if "Auto-Submitted" in m][0]
        world.reply(BOB, optin, "Yes, happy to!", now=clock.now())
        world.run_once(clock.advance(timedelta(hours=1)))
        assert len(world.sent_to(BOB)) == 3, "one late note"
        assert not any(TIM in str(m["To"]) and BOB in str(m["To"]) for m in world.sent())

    def test_requester_first(self, world: World, clock: Any) -> None:
        """requester_first: the target is asked only after the requester said yes."""
        world.write_config(optin={"order": "requester_first"})
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        assert len(world.sent_to(TIM)) == 1 and world.sent_to(BOB) == []
        world.reply(
            TIM,
            _last(world, TIM, "[intro"),
            "Yes!\n\nI would love to hear how your team runs tech transfer.",
            now=clock.now(),
        )
        world.run_once(clock.advance(timedelta(hours=1)))
        assert len(world.sent_to(BOB)) == 1
        optin = _last(world, BOB, "[intro")
        assert "tech transfer" in optin.get_body(("plain",)).get_content()
        world.reply(BOB, optin, "Sure, happy to.", now=clock.now())
        world.run_once(clock.advance(timedelta(hours=1)))
        assert any(TIM in str(m["To"]) and BOB in str(m["To"]) for m in world.sent())


class TestRateLimit:
    def test_hourly_limit_holds_across_runs(self, world: World, clock: Any) -> None:
        """max_outgoing_per_hour holds across restarts; the rest waits for the next hour."""
        world.write_config(limits={"max_outgoing_per_hour": 3})
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.owner_sends(
            forward(
                "Ann Lee",
                "ann@example.test",
                TIM_ASKS.replace("Bob Jones at BigChem", "Tim Walker"),
            )
        )
        world.run_once(clock.now())
        assert len(world.sent()) == 3
        world.run_once(clock.advance(timedelta(minutes=30)))
        assert len(world.sent()) == 3
        world.run_once(clock.advance(timedelta(minutes=31)))
        assert len(world.sent()) == 4
