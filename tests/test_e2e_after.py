"""After the introduction and around it, against the real Dovecot and SMTP server: the
follow-up, delegates, asking for details, the owner's last word, snoozes and suggestions.
Time moves with `--now`."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from introd.state import Store
from world import BLANKET, OWNER, TIM_ASKS, World, forward

pytestmark = pytest.mark.servers

TIM, BOB = "tim@example.test", "bob@example.test"


def _last(world: World, user: str, word: str) -> Any:
    mails = [m for m in world.inbox(user) if word in str(m["Subject"])]
    assert mails, f"no mail with {word!r} for {user}: {world.subjects(user)}"
    return mails[-1]


def _text(msg: Any) -> str:
    return str(msg.get_body(("plain",)).get_content())


def _introduced(world: World, clock: Any) -> str:
    """Tim asks for Bob, both say yes: the introduction goes out. Returns the intro id."""
    world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
    world.run_once(clock.now())
    world.reply(TIM, _last(world, TIM, "[intro"), "Yes please", now=clock.now())
    world.reply(BOB, _last(world, BOB, "[intro"), "Sure, happy to.", now=clock.now())
    world.run_once(clock.advance(timedelta(minutes=10)))
    assert any(TIM in str(m["To"]) and BOB in str(m["To"]) for m in world.sent())
    store = Store(world.tmp / "introd.db")
    (intro,) = store.intros(state="introduced")
    return intro.id


def _followups(world: World) -> list[Any]:
    return [m for m in world.sent() if TIM in str(m["To"]) and "connect" in str(m["Subject"])]


def _store(world: World) -> Store:
    return Store(world.tmp / "introd.db")


class TestFollowup:
    def test_met_with_thanks_is_kept_and_shown(
        self, world: World, clock: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """14 days after the introduction one follow-up asks the requester; "Yes, we met last
        week — thank you!" records met and keeps the thank-you for ledger, list and show."""
        intro_id = _introduced(world, clock)
        world.run_once(clock.advance(timedelta(days=13)))
        assert _followups(world) == []
        world.run_once(clock.advance(timedelta(days=1, minutes=1)))
        (followup,) = _followups(world)
        assert followup["Reply-To"] and "intros+" in str(followup["Reply-To"])
        assert "Bob Jones" in _text(followup)
        world.reply(
            TIM, _last(world, TIM, "connect"), "Yes, we met last week — thank you!", now=clock.now()
        )
        world.run_once(clock.advance(timedelta(hours=1)))
        f = _store(world).followup(intro_id)
        assert f is not None and f.outcome == "met" and f.status == "answered"
        assert f.thanks == "Yes, we met last week — thank you!"
        capsys.readouterr()
        assert world.cli("list", "--outcome", "met", "--json") == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert row["id"] == intro_id and row["outcome"] == "met"
        assert world.cli("list", "--outcome", "not_met") == 0
        assert "no intros" in capsys.readouterr().out
        assert world.cli("ledger") == 0
        out = capsys.readouterr().out
        assert "met" in out and "thank-you: Yes, we met last week" in out
        assert "made 1, met 1, not met 0, unanswered 0" in out
        assert world.cli("show", intro_id) == 0
        out = capsys.readouterr().out
        assert "outcome   met" in out and "followup_answered" in out
        world.run_once(clock.advance(timedelta(days=30)))
        assert len(_followups(world)) == 1, "one follow-up only"

    def test_no_is_not_met_and_silence_gets_nothing_more(self, world: World, clock: Any) -> None:
        """A no records not_met; a requester who never answers gets nothing more."""
        intro_id = _introduced(world, clock)
        world.run_once(clock.advance(timedelta(days=15)))
        world.run_once(clock.advance(timedelta(days=30)))
        world.run_once(clock.advance(timedelta(days=30)))
        assert len(_followups(world)) == 1
        f = _store(world).followup(intro_id)
        assert f is not None and f.status == "sent" and f.outcome is None
        assert [r.id for r in _store(world).intros(outcome="unanswered")] == [intro_id]
        world.reply(
            TIM, _last(world, TIM, "connect"), "No, we never managed to meet.", now=clock.now()
        )
        world.run_once(clock.advance(timedelta(hours=1)))
        f = _store(world).followup(intro_id)
        assert f is not None and f.outcome == "not_met" and f.thanks is None

    def test_unclear_is_asked_once_more_then_recorded(self, world: World, clock: Any) -> None:
        """An unclear answer gets one re-ask; a second unclear one is recorded, no third ask."""
        intro_id = _introduced(world, clock)
        world.run_once(clock.advance(timedelta(days=15)))
        world.reply(
            TIM, _last(world, TIM, "connect"), "We tried, it's complicated.", now=clock.now()
        )
        world.run_once(clock.advance(timedelta(hours=1)))
        assert len(_followups(world)) == 2
        assert "complicated" in _text(_followups(world)[-1])
        world.reply(
            TIM, _last(world, TIM, "connect"), "Hard to say, thanks for asking.", now=clock.now()
        )
        world.run_once(clock.advance(timedelta(hours=1)))
        assert len(_followups(world)) == 2
        f = _store(world).followup(intro_id)
        assert f is not None and f.status == "answered" and f.outcome is None
        assert f.thanks == "Hard to say, thanks for asking."

    def test_followup_off_sends_none(self, world: World, clock: Any) -> None:
        """followup.after: off sends no follow-up at all."""
        world.write_config(followup={"after": "off"})
        _introduced(world, clock)
        world.run_once(clock.advance(timedelta(days=60)))
        assert _followups(world) == []

    def test_forged_answer_changes_nothing(self, world: World, clock: Any) -> None:
        """An answer to the follow-up from another address records nothing."""
        intro_id = _introduced(world, clock)
        world.run_once(clock.advance(timedelta(days=15)))
        world.reply(
            TIM, _last(world, TIM, "connect"), "No.", now=clock.now(), sender="mallory@example.test"
        )
        world.run_once(clock.advance(timedelta(hours=1)))
        f = _store(world).followup(intro_id)
        assert f is not None and f.status == "sent" and f.outcome is None

    def test_digest_shows_outcomes_and_thanks(self, world: World, clock: Any) -> None:
        """The digest counts introductions made, met, not met, unanswered, with thank-yous."""
        world.write_config(digest={"every": "7d"})
        _introduced(world, clock)
        world.run_once(clock.advance(timedelta(days=15)))
        world.reply(
            TIM, _last(world, TIM, "connect"), "Yes, we met last week — thank you!", now=clock.now()
        )
        world.run_once(clock.advance(timedelta(hours=1)))
        world.run_once(clock.advance(timedelta(days=7)))
        digests = [
            m
            for m in world.sent()
            if "introduction" in str(m["Subject"]).lower()
            and "lisa@example.test" in str(m["To"])
            and "[intro" not in str(m["Subject"])
        ]
        assert digests, [str(m["Subject"]) for m in world.sent()]
        text = _text(digests[-1])
        assert "Met:                   1" in text
        assert "Yes, we met last week — thank you!" in text


ASSISTANT = "assistant@example.test"


class TestDelegates:
    def test_delegate_approves_a_review_and_show_names_them(
        self, world: World, clock: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The review reaches the delegate too; their authenticated 'approve' sends both
        opt-ins, and `introd show` says who approved."""
        world.write_config(
            owner={"delegates": [ASSISTANT]}, policies={"review_all": {"enabled": True}}
        )
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        review = _last(world, ASSISTANT, "[intro")
        world.reply(ASSISTANT, review, "approve", now=clock.now(), authenticated=True)
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert len(world.sent_to(TIM)) == 1 and len(world.sent_to(BOB)) == 1
        (intro,) = _store(world).intros(state="awaiting")
        capsys.readouterr()
        assert world.cli("show", intro.id) == 0
        assert f"approved  by {ASSISTANT}" in capsys.readouterr().out

    def test_forged_delegate_changes_nothing(self, world: World, clock: Any) -> None:
        """An 'approve' from the delegate's address without authentication does nothing."""
        world.write_config(
            owner={"delegates": [ASSISTANT]}, policies={"review_all": {"enabled": True}}
        )
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        world.reply(ASSISTANT, _last(world, ASSISTANT, "[intro"), "approve", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert world.sent_to(TIM) == [] and world.sent_to(BOB) == []
        assert [i.state for i in _store(world).intros()] == ["review"]

    def test_delegate_forward_is_not_a_request_unless_allowed(
        self, world: World, clock: Any
    ) -> None:
        """A delegate's forward starts nothing (quarantined) unless delegates_may_forward."""
        world.write_config(owner={"delegates": [ASSISTANT]})
        world.owner_sends(
            forward("Tim Walker", TIM, TIM_ASKS, sender=f"Ann Assistant <{ASSISTANT}>")
        )
        world.run_once(clock.now())
        assert world.sent() == [] and _store(world).intros() == []
        assert len(world.dovecot.messages("intros@example.test", "introd/quarantine")) == 1
        world.write_config(owner={"delegates": [ASSISTANT], "delegates_may_forward": True})
        world.owner_sends(
            forward("Tim Walker", TIM, TIM_ASKS, sender=f"Ann Assistant <{ASSISTANT}>")
        )
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert len(world.sent_to(TIM)) == 1 and len(world.sent_to(BOB)) == 1

    def test_delegate_cannot_approve_their_own_intro(self, world: World, clock: Any) -> None:
        """A delegate who is the target cannot approve the intro; the owner still can."""
        world.write_config(
            owner={"delegates": [ASSISTANT]}, policies={"review_all": {"enabled": True}}
        )
        world.owner_sends(
            forward("Tim Walker", TIM, TIM_ASKS, note=f"intro: Ann Assistant <{ASSISTANT}>")
        )
        world.run_once(clock.now())
        (intro,) = _store(world).intros()
        assert intro.target_email == ASSISTANT and intro.state == "review"
        world.reply(
            ASSISTANT,
            _last(world, ASSISTANT, "[intro"),
            "approve",
            now=clock.now(),
            authenticated=True,
        )
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert world.sent_to(TIM) == []
        assert _store(world).intro(intro.id).state == "review"  # type: ignore[union-attr]
        assert any("Could not approve" in s for s in world.sent_to(ASSISTANT))
        world.reply(
            "lisa@example.test",
            _last(world, "lisa@example.test", "review"),
            "approve",
            now=clock.now(),
            authenticated=True,
        )
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert len(world.sent_to(TIM)) == 1


BRAD = "brad@example.test"
QUESTION = "details\nWho at BigChem specifically, and why them?"


class TestDetails:
    @pytest.fixture(autouse=True)
    def _blanket_goes_to_review(self, world: World) -> None:
        world.write_config(policies={"no_target": {"action": "review"}})

    def _blanket(self, world: World, clock: Any) -> Any:
        world.owner_sends(forward("Brad Seller", BRAD, BLANKET))
        world.run_once(clock.now())
        return _last(world, OWNER, "review")

    def test_details_turn_a_blanket_request_into_a_specific_one(
        self, world: World, clock: Any
    ) -> None:
        """The owner's `details` question goes to the requester, quoted; their answer naming
        Bob and a reason is judged again with the request, and both are asked."""
        review = self._blanket(world, clock)
        world.reply(OWNER, review, QUESTION, now=clock.now(), authenticated=True)
        world.run_once(clock.advance(timedelta(minutes=5)))
        ask = _last(world, BRAD, "question")
        assert "    Who at BigChem specifically, and why them?" in _text(ask)
        assert "intros+" in str(ask["Reply-To"])
        assert world.sent_to(BOB) == []
        world.reply(
            BRAD,
            ask,
            "Bob Jones at BigChem. I'd like to ask him how they find new customers in pharma.",
            now=clock.now(),
        )
        world.run_once(clock.advance(timedelta(minutes=5)))
        (intro,) = _store(world).intros()
        assert intro.state == "awaiting" and intro.target_email == BOB
        assert "new customers in pharma" in (intro.reason or "")
        assert len(world.sent_to(BOB)) == 1
        assert "new customers in pharma" in _text(_last(world, BOB, "[intro"))

    def test_still_incomplete_goes_to_review_once(self, world: World, clock: Any) -> None:
        """An answer that still names nobody goes to the owner; details are asked once only."""
        review = self._blanket(world, clock)
        world.reply(OWNER, review, QUESTION, now=clock.now(), authenticated=True)
        world.run_once(clock.advance(timedelta(minutes=5)))
        world.reply(
            BRAD,
            _last(world, BRAD, "question"),
            "Anyone in pharma really, thanks.",
            now=clock.now(),
        )
        world.run_once(clock.advance(timedelta(minutes=5)))
        (intro,) = _store(world).intros()
        assert intro.state == "review" and intro.rule == "no_target"
        assert "after one round of details" in (intro.detail or "")
        reviews = [s for s in world.sent_to(OWNER) if "review" in s.lower()]
        assert len(reviews) == 2
        world.reply(
            OWNER, _last(world, OWNER, "review"), QUESTION, now=clock.now(), authenticated=True
        )
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert len([s for s in world.sent_to(BRAD) if "question" in s]) == 1
        assert any("Could not details" in s for s in world.sent_to(OWNER))

    def test_forged_details_do_nothing(self, world: World, clock: Any) -> None:
        """`details` from the owner's address without authentication mails nobody."""
        review = self._blanket(world, clock)
        world.reply(OWNER, review, QUESTION, now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert world.sent_to(BRAD) == []
        assert [i.state for i in _store(world).intros()] == ["review"]

    def test_details_without_a_question_is_refused(self, world: World, clock: Any) -> None:
        """A bare `details` asks nobody anything; the owner gets one note saying why."""
        review = self._blanket(world, clock)
        world.reply(OWNER, review, "details", now=clock.now(), authenticated=True)
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert world.sent_to(BRAD) == []
        assert any("Could not details" in s for s in world.sent_to(OWNER))

    def test_unanswered_details_expire(self, world: World, clock: Any) -> None:
        """No answer within optin.expire_after: the request expires, with one note."""
        review = self._blanket(world, clock)
        world.reply(OWNER, review, QUESTION, now=clock.now(), authenticated=True)
        world.run_once(clock.advance(timedelta(minutes=5)))
        world.run_once(clock.advance(timedelta(days=15)))
        assert [i.state for i in _store(world).intros()] == ["expired"]
        assert len(world.sent_to(BRAD)) == 2


class TestOwnersLastWord:
    @pytest.fixture(autouse=True)
    def _owner_reviews(self, world: World) -> None:
        world.write_config(optin={"owner_reviews_introduction": True})

    def _both_yes(self, world: World, clock: Any) -> Any:
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        world.reply(TIM, _last(world, TIM, "[intro"), "Yes please", now=clock.now())
        world.reply(BOB, _last(world, BOB, "[intro"), "Sure, happy to.", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=10)))
        return _last(world, OWNER, "ready to send")

    def _introductions(self, world: World) -> list[Any]:
        return [m for m in world.sent() if TIM in str(m["To"]) and BOB in str(m["To"])]

    def test_send_sends_the_draft_as_is(self, world: World, clock: Any) -> None:
        """Both said yes: the owner gets the full draft, nothing goes to the parties until
        the owner answers `send`; then the introduction goes as drafted."""
        draft = self._both_yes(world, clock)
        assert self._introductions(world) == []
        assert "It's a pleasure to introduce you" in _text(draft)
        world.reply(OWNER, draft, "send", now=clock.now(), authenticated=True)
        world.run_once(clock.advance(timedelta(minutes=5)))
        (intro,) = self._introductions(world)
        assert "It's a pleasure to introduce you" in _text(intro)
        assert [i.state for i in _store(world).intros()] == ["introduced"]

    def test_own_words_are_sent_instead_escaped(self, world: World, clock: Any) -> None:
        """The owner's own text above the quote is sent instead, in the introduction's
        frame, escaped in the HTML part."""
        draft = self._both_yes(world, clock)
        world.reply(
            OWNER,
            draft,
            "Hi both,\n\nTim, meet Bob <the tech transfer lead>. Bob, "
            "Tim is the sharpest PhD I met this year.",
            now=clock.now(),
            authenticated=True,
        )
        world.run_once(clock.advance(timedelta(minutes=5)))
        (intro,) = self._introductions(world)
        text = _text(intro)
        assert "sharpest PhD I met this year" in text
        assert "It's a pleasure to introduce you" not in text
        assert "Auto-Submitted" not in intro
        html = intro.get_body(("html",))
        assert html is not None and "&lt;the tech transfer lead&gt;" in html.get_content()
        assert "<the tech transfer lead>" not in html.get_content()

    def test_forged_send_and_reminder_never_send(self, world: World, clock: Any) -> None:
        """A forged `send` does nothing; silence brings one reminder, never an automatic
        send."""
        draft = self._both_yes(world, clock)
        world.reply(OWNER, draft, "send", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert self._introductions(world) == []
        world.run_once(clock.advance(timedelta(days=4, minutes=1)))
        assert len([s for s in world.sent_to(OWNER) if "ready to send" in s]) == 2
        world.run_once(clock.advance(timedelta(days=30)))
        assert len([s for s in world.sent_to(OWNER) if "ready to send" in s]) == 2
        assert self._introductions(world) == []
        assert [i.state for i in _store(world).intros()] == ["draft"]


SNOOZED_AGAIN = "Coming back to you"


class TestSnooze:
    @pytest.fixture(autouse=True)
    def _snooze_on(self, world: World) -> None:
        world.write_config(optin={"snooze": True})

    def _asked(self, world: World, clock: Any, *, tim_says: str | None = "Yes please") -> str:
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        if tim_says:
            world.reply(TIM, _last(world, TIM, "[intro"), tim_says, now=clock.now())
        (intro,) = _store(world).intros()
        return intro.id

    def test_not_now_maybe_in_march_snoozes_and_wakes_once(
        self, world: World, clock: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The target's "Not now, maybe in March." snoozes the intro (nobody is told); on
        1 March the target is asked again, once, with no reminder; their yes introduces."""
        intro_id = self._asked(world, clock)
        world.reply(BOB, _last(world, BOB, "[intro"), "Not now, maybe in March.", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=10)))
        intro = _store(world).intro(intro_id)
        assert intro is not None and intro.state == "snoozed" and intro.expires is None
        assert f"{intro.snoozed_until:%Y-%m-%d %H:%M}" == "2027-03-01 09:00"
        assert len(world.sent_to(TIM)) == 1 and len(world.sent_to(BOB)) == 1
        capsys.readouterr()
        assert world.cli("show", intro_id) == 0
        out = capsys.readouterr().out
        assert "will ask them again on 2027-03-01 09:00 UTC" in out and "snoozed" in out
        assert world.cli("list") == 0
        assert "snoozed 2027-03-01" in capsys.readouterr().out
        assert world.cli("list", "--state", "snoozed", "--json") == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert row["snoozed_until"].startswith("2027-03-01T09:00")
        # no reminder, no expiry while snoozed
        world.run_once(clock.set(clock.now().replace(year=2027, month=3, day=1, hour=8)))
        assert len(world.sent_to(BOB)) == 1 and len(world.sent_to(TIM)) == 1
        world.run_once(clock.advance(timedelta(hours=1, minutes=1)))
        again = [s for s in world.sent_to(BOB) if SNOOZED_AGAIN in s]
        assert len(again) == 1
        text = _text(_last(world, BOB, SNOOZED_AGAIN))
        assert "asked me to come back to you later" in text and '"yes"' in text
        assert "intros+" in str(_last(world, BOB, SNOOZED_AGAIN)["Reply-To"])
        world.run_once(clock.advance(timedelta(days=5)))
        assert len(world.sent_to(BOB)) == 2, "asked again once: no reminder"
        world.reply(BOB, _last(world, BOB, SNOOZED_AGAIN), "Yes, happy to now.", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=10)))
        assert any(TIM in str(m["To"]) and BOB in str(m["To"]) for m in world.sent())
        events = [e["event"] for e in _store(world).events(intro_id)]
        assert events.count("snoozed") == 1 and events.count("snooze_ended") == 1

    def test_after_the_day_unanswered_it_expires(self, world: World, clock: Any) -> None:
        """No answer to the one new ask: the intro expires optin.expire_after later."""
        intro_id = self._asked(world, clock)
        world.reply(
            BOB, _last(world, BOB, "[intro"), "Not now, ask me again in 3 weeks.", now=clock.now()
        )
        world.run_once(clock.advance(timedelta(minutes=10)))
        world.run_once(clock.advance(timedelta(days=21)))
        assert len([s for s in world.sent_to(BOB) if SNOOZED_AGAIN in s]) == 1
        world.run_once(clock.advance(timedelta(days=15)))
        assert _store(world).intro(intro_id).state == "expired"  # type: ignore[union-attr]
        assert len(world.sent_to(BOB)) == 2

    def test_a_second_put_off_is_read_as_usual(self, world: World, clock: Any) -> None:
        """Once woken, another "not now" does not snooze again: its no declines as before."""
        intro_id = self._asked(world, clock)
        world.reply(BOB, _last(world, BOB, "[intro"), "Not now, maybe in March.", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=10)))
        world.run_once(clock.set(clock.now().replace(year=2027, month=3, day=2)))
        world.reply(
            BOB, _last(world, BOB, SNOOZED_AGAIN), "Not now, maybe in June.", now=clock.now()
        )
        world.run_once(clock.advance(timedelta(minutes=10)))
        intro = _store(world).intro(intro_id)
        assert intro is not None and intro.state == "declined_by_target"

    def test_the_target_may_answer_before_the_day(self, world: World, clock: Any) -> None:
        """A yes from the target while snoozed goes on at once; nothing is sent on the day."""
        self._asked(world, clock)
        original = _last(world, BOB, "[intro")
        world.reply(BOB, original, "Not until March, sorry.", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=10)))
        world.reply(BOB, original, "Actually yes, happy to.", now=clock.now())
        world.run_once(clock.advance(timedelta(days=10)))
        assert [i.state for i in _store(world).intros()] == ["introduced"]
        world.run_once(clock.set(clock.now().replace(year=2027, month=3, day=2)))
        assert [s for s in world.sent_to(BOB) if SNOOZED_AGAIN in s] == []

    @pytest.mark.parametrize(
        "text, state",
        [
            ("Not now, maybe in 14 months.", "declined_by_target"),  # too far: the no stands
            ("Not until December, sorry.", "awaiting"),  # this month: unclear, asked again
        ],
    )
    def test_a_day_out_of_reach_is_no_snooze(
        self, world: World, clock: Any, text: str, state: str
    ) -> None:
        """More than twelve months away, or not clearly in the future: the answer reads as it
        did without snoozes."""
        intro_id = self._asked(world, clock)
        world.reply(BOB, _last(world, BOB, "[intro"), text, now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=10)))
        intro = _store(world).intro(intro_id)
        assert intro is not None and intro.state == state and intro.snoozed_until is None

    def test_off_by_default_nothing_snoozes(self, world: World, clock: Any) -> None:
        """Without optin.snooze the answer reads as it always did (here: unclear, re-asked)."""
        world.write_config(optin={"snooze": False})
        intro_id = self._asked(world, clock)
        world.reply(BOB, _last(world, BOB, "[intro"), "Not until March, sorry.", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=10)))
        intro = _store(world).intro(intro_id)
        assert intro is not None and intro.state == "awaiting" and intro.snoozed_until is None
        assert len(world.sent_to(BOB)) == 2  # the usual re-ask

    def test_off_a_put_off_to_a_day_is_unclear_not_a_no(self, world: World, clock: Any) -> None:
        """Without optin.snooze, "Not now, maybe in March." declines nothing: it is unclear
        and asked again, as an answer neither yes nor no is; a plain "not now" still declines."""
        world.write_config(optin={"snooze": False})
        intro_id = self._asked(world, clock)
        world.reply(BOB, _last(world, BOB, "[intro"), "Not now, maybe in March.", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=10)))
        intro = _store(world).intro(intro_id)
        assert intro is not None and intro.state == "awaiting" and intro.snoozed_until is None
        assert len(world.sent_to(BOB)) == 2 and len(world.sent_to(TIM)) == 1  # the re-ask
        world.reply(BOB, _last(world, BOB, "[intro"), "Not now, sorry.", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=10)))
        assert _store(world).intro(intro_id).state == "declined_by_target"  # type: ignore[union-attr]

    def test_a_bounced_target_is_not_mailed_on_the_day(self, world: World, clock: Any) -> None:
        """The target's address bounced while the intro slept: nothing is sent to it on the
        day; the intro expires as an unanswered one does."""
        intro_id = self._asked(world, clock)
        world.reply(BOB, _last(world, BOB, "[intro"), "Not now, maybe in March.", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=10)))
        _store(world).update_party(intro_id, "target", status="failed")
        world.run_once(clock.set(clock.now().replace(year=2027, month=3, day=2)))
        assert [s for s in world.sent_to(BOB) if SNOOZED_AGAIN in s] == []
        world.run_once(clock.advance(timedelta(days=40)))
        assert _store(world).intro(intro_id).state == "expired"  # type: ignore[union-attr]

    def test_forged_put_off_changes_nothing(self, world: World, clock: Any) -> None:
        """A "not now" from another address than the target's snoozes nothing."""
        intro_id = self._asked(world, clock)
        world.reply(
            BOB,
            _last(world, BOB, "[intro"),
            "Not now, maybe in March.",
            now=clock.now(),
            sender="mallory@example.test",
        )
        world.run_once(clock.advance(timedelta(minutes=10)))
        intro = _store(world).intro(intro_id)
        assert intro is not None and intro.state == "awaiting"


JANE = "jane@example.test"
NOT_ME = f"Not me, but ask Jane Roe <{JANE}>, she runs tech transfer now."


class TestSuggestion:
    def _suggested(self, world: World, clock: Any, text: str = NOT_ME) -> str:
        """Tim asks for Bob and says yes; Bob answers TEXT. Returns the intro id."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        world.reply(TIM, _last(world, TIM, "[intro"), "Yes please", now=clock.now())
        world.reply(BOB, _last(world, BOB, "[intro"), text, now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=10)))
        (intro,) = _store(world).intros()
        return intro.id

    def test_not_me_but_ask_jane_goes_to_the_owner_then_jane_is_asked(
        self, world: World, clock: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Bob's "not me, but ask Jane" reaches the owner as a review naming Jane; nobody
        else is mailed until the owner's authenticated approve, which starts a new intro:
        Jane gets the usual opt-in, Tim hears that Bob pointed to Jane; both yes introduce."""
        old_id = self._suggested(world, clock)
        intro = _store(world).intro(old_id)
        assert intro is not None and intro.state == "review" and intro.rule == "suggested_target"
        assert intro.suggested == {"name": "Jane Roe", "email": JANE}
        review = _last(world, OWNER, "review")
        assert f"Jane Roe <{JANE}>" in _text(review) and "she runs tech transfer" in _text(review)
        assert world.sent_to(JANE) == []
        assert len(world.sent_to(TIM)) == 1 and len(world.sent_to(BOB)) == 1
        capsys.readouterr()
        assert world.cli("show", old_id) == 0
        assert f"suggested Jane Roe <{JANE}> by the target; approve" in capsys.readouterr().out
        assert world.cli("list") == 0
        assert f"(suggests {JANE})" in capsys.readouterr().out
        world.reply(OWNER, review, "approve", now=clock.now(), authenticated=True)
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert _store(world).intro(old_id).state == "declined_by_target"  # type: ignore[union-attr]
        (new,) = _store(world).intros(state="awaiting")
        assert new.target_email == JANE and new.reason == intro.reason
        assert new.suggested_by == {"name": "Bob Jones", "email": BOB, "intro_id": old_id}
        assert len(world.sent_to(JANE)) == 1
        assert "You asked me about Bob Jones" in _text(_last(world, TIM, new.id))
        assert len(world.sent_to(BOB)) == 1, "Bob gets nothing more"
        capsys.readouterr()
        assert world.cli("show", new.id) == 0
        out = capsys.readouterr().out
        assert f"suggested by Bob Jones <{BOB}>, the target of intro {old_id}" in out
        assert world.cli("show", old_id) == 0
        out = capsys.readouterr().out
        assert f"approved: intro {new.id}" in out and "approved  by lisa@example.test" in out
        world.reply(JANE, _last(world, JANE, new.id), "Yes, happy to.", now=clock.now())
        world.reply(TIM, _last(world, TIM, new.id), "Yes please", now=clock.now())
        world.run_once(clock.advance(timedelta(minutes=10)))
        assert any(TIM in str(m["To"]) and JANE in str(m["To"]) for m in world.sent())
        assert not any(BOB in str(m["To"]) and TIM in str(m["To"]) for m in world.sent())

    def test_forged_approve_never_mails_the_suggested_person(
        self, world: World, clock: Any
    ) -> None:
        """An approve from the owner's address without authentication does nothing."""
        old_id = self._suggested(world, clock)
        world.reply(OWNER, _last(world, OWNER, "review"), "approve", now=clock.now())
        world.run_once(clock.advance(timedelta(days=30)))
        assert world.sent_to(JANE) == []
        assert [i.id for i in _store(world).intros()] == [old_id]
        assert _store(world).intro(old_id).state == "review"  # type: ignore[union-attr]

    def test_declined_suggestion_is_the_targets_no(self, world: World, clock: Any) -> None:
        """The owner declines: Tim hears it won't work out, Bob is thanked, Jane hears
        nothing."""
        old_id = self._suggested(world, clock)
        world.reply(
            OWNER, _last(world, OWNER, "review"), "decline", now=clock.now(), authenticated=True
        )
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert _store(world).intro(old_id).state == "declined_by_target"  # type: ignore[union-attr]
        assert world.sent_to(JANE) == []
        assert len(world.sent_to(TIM)) == 2 and len(world.sent_to(BOB)) == 2

    def test_a_delegate_may_approve_it(self, world: World, clock: Any) -> None:
        """The delegate gets the review too, and their authenticated approve asks Jane."""
        world.write_config(owner={"delegates": [ASSISTANT]})
        self._suggested(world, clock)
        world.reply(
            ASSISTANT,
            _last(world, ASSISTANT, "review"),
            "approve",
            now=clock.now(),
            authenticated=True,
        )
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert len(world.sent_to(JANE)) == 1

    def test_a_contact_who_wants_no_introductions_is_refused(
        self, world: World, clock: Any
    ) -> None:
        """Approving a suggested contact with `introductions: never` asks nobody; the owner
        gets one note saying why."""
        old_id = self._suggested(world, clock, "Not me, but ask Carol <carol@example.test>.")
        world.reply(
            OWNER, _last(world, OWNER, "review"), "approve", now=clock.now(), authenticated=True
        )
        world.run_once(clock.advance(timedelta(minutes=5)))
        assert world.sent_to("carol@example.test") == []
        assert _store(world).intro(old_id).state == "review"  # type: ignore[union-attr]
        assert any("Could not approve" in s for s in world.sent_to(OWNER))

    @pytest.mark.parametrize(
        "text",
        [
            "Not me, but ask Lisa <lisa@example.test>.",  # the owner
            "Not me, but ask Tim <tim@example.test> himself.",  # the requester
            "Not me, but ask Ann <assistant@example.test>.",  # a delegate
            "Not me, but ask intros+abc@example.test.",  # introd's own address
            f"Not me, sorry.\n\n> but ask Jane Roe <{JANE}>",  # only in quoted text
        ],
    )
    def test_an_address_never_suggested(self, world: World, clock: Any, text: str) -> None:
        """The owner, the requester, a delegate, introd itself, or an address in quoted text
        is never a suggestion: the answer reads as it always did, nobody new is mailed."""
        world.write_config(owner={"delegates": [ASSISTANT]})
        intro_id = self._suggested(world, clock, text)
        intro = _store(world).intro(intro_id)
        assert intro is not None and intro.suggested is None and intro.rule != "suggested_target"
        assert world.sent_to(JANE) == [] and world.sent_to(ASSISTANT) == []
        assert not any("review" in s.lower() for s in world.sent_to(OWNER))
