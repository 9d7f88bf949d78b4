"""The intro state machine, driven by real mail bytes and a fake clock, without servers."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
import yaml

from introd.config import build_config
from introd.wiring import build_engine
from introd.engine import Engine
from introd.state import OutboxRow, Store
from world import BLANKET, OWNER, TIM_ASKS, forward

TIM, BOB = "tim@example.test", "bob@example.test"


class Harness:
    """An engine over a fresh state; `handle` feeds mail, `outbox` shows what it queued."""

    def __init__(self, tmp: Path, clock: Any, **config: Any) -> None:
        (tmp / "contacts.yaml").write_text(
            yaml.safe_dump(
                [
                    {"name": "Bob Jones", "email": BOB, "company": "BigChem"},
                    {"name": "Tim Walker", "email": TIM},
                    {"name": "Sarah Chen", "email": "sarah.chen@helix.example", "company": "Helix"},
                    {"name": "Sarah Chen", "email": "schen@arbor.example", "company": "Arbor"},
                ]
            )
        )
        data = {
            "owner": {"name": "Lisa Balbes", "addresses": [OWNER]},
            "from": f"Lisa Balbes <{OWNER}>",
            "reply_address": "intros@example.test",
            "contacts": ["contacts.yaml"],
            "auth": {"trusted_authserv_ids": ["mx.example.test"]},
            "digest": {"every": "off"},
            **config,
        }
        self.cfg = build_config(data, path=tmp / "config.yaml", need_servers=False)
        self.store = Store(self.cfg.state_path)
        self.engine: Engine = build_engine(self.cfg, self.store)
        self.clock = clock
        self.uid = 0
        self.taken = 0

    def handle(self, raw: bytes) -> Any:
        self.uid += 1
        return self.engine.handle(
            raw, folder="INBOX", uidvalidity=1, uid=self.uid, now=self.clock.now()
        )

    def new_mail(self) -> list[OutboxRow]:
        """Everything queued since the last call, marked sent."""
        rows = self.store.due_outbox(self.clock.now() + timedelta(days=365), limit=10_000)
        for r in rows:
            self.store.mark_sent(r.id, self.clock.now())
        return rows

    def answer(self, row: OutboxRow, text: str, sender: str | None = None) -> Any:
        original = email.message_from_bytes(row.raw, policy=policy.default)
        msg = EmailMessage()
        msg["From"] = sender or row.recipients[0]
        msg["To"] = str(original["Reply-To"])
        msg["Subject"] = "Re: " + str(original["Subject"])
        msg["Message-ID"] = make_msgid(domain="example.test")
        msg["In-Reply-To"] = row.message_id
        msg.set_content(text + "\n\n> quoted opt-in\n")
        return self.handle(msg.as_bytes())

    def state(self, intro_id: str) -> str:
        intro = self.store.intro(intro_id)
        assert intro is not None
        return intro.state


@pytest.fixture
def h(tmp_path: Path, clock: Any) -> Iterator[Harness]:
    yield Harness(tmp_path, clock)


def _by_template(rows: list[OutboxRow]) -> dict[str, OutboxRow]:
    return {r.template: r for r in rows}


class TestLifecycle:
    def test_parallel_yes_yes(self, h: Harness) -> None:
        """Both asked at once; two yeses give one introduction to both."""
        out = h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        optins = _by_template(h.new_mail())
        assert set(optins) == {"optin_requester", "optin_target"}
        h.answer(optins["optin_target"], "Yes, happy to.")
        assert h.new_mail() == []
        h.answer(optins["optin_requester"], "Yes please")
        (intro,) = h.new_mail()
        assert intro.template == "introduction" and sorted(intro.recipients) == [BOB, TIM]
        assert h.state(out.intro_id) == "introduced"

    def test_requester_first(self, tmp_path: Path, clock: Any) -> None:
        """requester_first: the target is asked only after the requester confirmed."""
        h = Harness(tmp_path, clock, optin={"order": "requester_first"})
        h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        (first,) = h.new_mail()
        assert first.template == "optin_requester"
        h.answer(first, "Yes.\n\nI would love to hear how the team works day to day.")
        (second,) = h.new_mail()
        assert second.template == "optin_target"
        assert b"day to day" in second.raw

    def test_target_no(self, h: Harness) -> None:
        """A target's no ends declined_by_target with two notes, none naming the target."""
        out = h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        optins = _by_template(h.new_mail())
        h.answer(optins["optin_target"], "No thanks, not now.")
        notes = _by_template(h.new_mail())
        assert set(notes) == {"declined_by_target", "thanks_target"}
        assert notes["declined_by_target"].recipients == [TIM]
        assert h.state(out.intro_id) == "declined_by_target"

    def test_requester_withdraws_after_target_yes(self, h: Harness) -> None:
        """The requester's no after the target's yes tells the target (withdrawn)."""
        out = h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        optins = _by_template(h.new_mail())
        h.answer(optins["optin_target"], "Sure!")
        h.answer(optins["optin_requester"], "No, sorry, I found another way.")
        (note,) = h.new_mail()
        assert note.template == "withdrawn" and note.recipients == [BOB]
        assert h.state(out.intro_id) == "withdrawn"

    def test_unclear_then_reask_then_review(self, h: Harness) -> None:
        """One unclear answer is re-asked; a second goes to the owner."""
        out = h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        optins = _by_template(h.new_mail())
        h.answer(optins["optin_target"], "Maybe next month?")
        (reask,) = h.new_mail()
        assert reask.template == "reask"
        h.answer(reask, "Let me think about it.")
        (review,) = h.new_mail()
        assert review.template == "review" and review.recipients == [OWNER]
        assert h.state(out.intro_id) == "review"

    def test_reminder_then_expiry_then_late_answer(self, h: Harness) -> None:
        """One reminder after 4 days, expiry after 14, and a late yes changes nothing."""
        out = h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        optins = _by_template(h.new_mail())
        h.answer(optins["optin_requester"], "Yes")
        h.clock.advance(timedelta(days=3))
        h.engine.tick(h.clock.now())
        assert h.new_mail() == []
        h.clock.advance(timedelta(days=1, minutes=1))
        h.engine.tick(h.clock.now())
        (reminder,) = h.new_mail()
        assert reminder.template == "reminder" and reminder.recipients == [BOB]
        h.clock.advance(timedelta(days=2))
        h.engine.tick(h.clock.now())
        assert h.new_mail() == [], "only one reminder"
        h.clock.advance(timedelta(days=9))
        h.engine.tick(h.clock.now())
        (expired,) = h.new_mail()
        assert expired.template == "expired" and expired.recipients == [TIM]
        assert h.state(out.intro_id) == "expired"
        late = h.answer(optins["optin_target"], "Yes, happy to!")
        assert late.decision.rule == "intro_ended"
        (note,) = h.new_mail()
        assert note.template == "late_answer" and note.recipients == [BOB]
        h.answer(optins["optin_target"], "Did you get my yes?")
        assert h.new_mail() == [], "at most one note per party"

    def test_second_yes_is_not_a_second_introduction(self, h: Harness) -> None:
        """A party answering twice never causes a second introduction."""
        h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        optins = _by_template(h.new_mail())
        h.answer(optins["optin_target"], "Yes")
        h.answer(optins["optin_requester"], "Yes")
        h.answer(optins["optin_requester"], "Yes again")
        h.answer(optins["optin_target"], "Yes!")
        assert [r.template for r in h.new_mail()] == ["introduction", "late_answer", "late_answer"]

    def test_same_message_twice_is_handled_once(self, h: Harness) -> None:
        """The same Message-ID under a new UID is not handled again."""
        raw = forward("Tim Walker", TIM, TIM_ASKS, message_id="<same@example.test>")
        h.handle(raw)
        again = h.handle(raw)
        assert again.decision.rule == "already_seen"
        assert len(h.new_mail()) == 2


class TestForwardChain:
    def test_a_colleague_who_passed_it_on_is_recorded_and_never_mailed(self, h: Harness) -> None:
        """A request a colleague forwarded to the owner: opt-ins go to the asker and the
        target only; the colleague is kept as forwarded_by in the state."""
        relayed = (
            "Lisa, Tim asked me to pass this on - see below.\n\nAnna\n\n"
            "---------- Forwarded message ---------\n"
            f"From: Tim Walker <{TIM}>\nDate: Sun, Dec 6, 2026 at 8:00 PM\n"
            "Subject: Introduction request\nTo: Anna Berg <anna@relay.example>\n\n" + TIM_ASKS
        )
        out = h.handle(forward("Anna Berg", "anna@relay.example", relayed))
        intro = h.store.intro(out.intro_id)
        assert intro is not None
        assert (intro.requester_email, intro.target_email) == (TIM, BOB)
        assert intro.forwarded_by == [{"name": "Anna Berg", "email": "anna@relay.example"}]
        mail = h.new_mail()
        assert {r.template for r in mail} == {"optin_requester", "optin_target"}
        assert all("anna@relay.example" not in r.recipients for r in mail)
        assert "pass this on" not in intro.blurb and "Bob Jones at BigChem" in intro.blurb


class TestOwnerReview:
    def test_ambiguous_target_owner_picks_two(self, h: Harness) -> None:
        """An ambiguous name goes to review; the owner's '2' picks the second candidate."""
        body = TIM_ASKS.replace("Bob Jones at BigChem", "Sarah Chen")
        out = h.handle(forward("Tim Walker", TIM, body))
        assert out.decision.rule == "ambiguous_target"
        (review,) = h.new_mail()
        assert review.template == "review"
        assert b"1. Sarah Chen" in review.raw.replace(b"=\n", b"")
        msg = EmailMessage()
        msg["From"] = f"Lisa Balbes <{OWNER}>"
        original = email.message_from_bytes(review.raw, policy=policy.default)
        msg["To"] = str(original["Reply-To"])
        msg["Subject"] = "Re: " + str(original["Subject"])
        msg["Message-ID"] = make_msgid(domain="example.test")
        msg["In-Reply-To"] = review.message_id
        msg["Authentication-Results"] = (
            f"mx.example.test; dkim=pass header.d=example.test; spf=pass smtp.mailfrom={OWNER}"
        )
        msg.set_content("2\n\n> the review mail\n")
        cmd = h.handle(msg.as_bytes())
        assert cmd.reading.kind == "owner_command" and cmd.decision.action == "accept"
        optins = _by_template(h.new_mail())
        assert optins["optin_target"].recipients == ["schen@arbor.example"]
        assert optins["owner_notice"].recipients == [OWNER], "the owner gets a confirmation"
        assert h.state(out.intro_id) == "awaiting"

    @pytest.mark.parametrize("auth, notices", [(True, 1), (False, 0)])
    def test_command_for_unknown_intro(self, h: Harness, auth: bool, notices: int) -> None:
        """An authenticated owner's impossible command gets one note; a forged one nothing."""
        msg = EmailMessage()
        msg["From"] = f"Lisa Balbes <{OWNER}>"
        msg["To"] = "intros@example.test"
        msg["Subject"] = "approve ZZZZZ9"
        msg["Message-ID"] = make_msgid(domain="example.test")
        if auth:
            msg["Authentication-Results"] = "mx.example.test; dkim=pass header.d=example.test"
        msg.set_content("approve ZZZZZ9\n")
        out = h.handle(msg.as_bytes())
        assert out.reading.kind == "owner_command"
        assert out.decision.action == "ignore"
        assert [r.template for r in h.new_mail()] == ["owner_notice"] * notices

    def test_shell_approve_with_target(self, h: Harness) -> None:
        """`approve ID --target ADDRESS` resolves an unknown target and asks both."""
        body = TIM_ASKS.replace("Bob Jones at BigChem", "Dr. Quentin Blake at Nowhere Labs")
        out = h.handle(forward("Tim Walker", TIM, body))
        assert out.decision.rule == "unknown_target"
        h.new_mail()
        with h.store.transaction():
            h.engine.owner_action(
                "target", out.intro_id, h.clock.now(), argument="quentin@nowhere.example"
            )
        assert {r.template for r in h.new_mail()} == {"optin_requester", "optin_target"}

    def test_blanket_request_declined_with_template(self, h: Harness) -> None:
        """A blanket request is declined with decline_no_target, to the requester only."""
        out = h.handle(forward("Brad Kessler", "brad@example.test", BLANKET))
        assert (out.decision.action, out.decision.rule) == ("decline", "no_target")
        (mail,) = h.new_mail()
        assert mail.template == "decline_no_target" and mail.recipients == ["brad@example.test"]


class TestDigest:
    def test_weekly_digest_counts(self, tmp_path: Path, clock: Any) -> None:
        """After a week the owner gets one digest with the week's counts, then none until
        the next week."""
        h = Harness(tmp_path, clock, digest={"every": "7d"})
        h.engine.tick(clock.now())
        h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        h.handle(forward("Brad Kessler", "brad@example.test", BLANKET))
        h.new_mail()
        clock.advance(timedelta(days=7))
        h.engine.tick(clock.now())
        rows = [r for r in h.new_mail() if r.template == "digest"]
        assert len(rows) == 1 and rows[0].recipients == [OWNER]
        text = email.message_from_bytes(rows[0].raw, policy=policy.default)
        body = text.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "Requests received:     2" in body
        clock.advance(timedelta(days=1))
        h.engine.tick(clock.now())
        assert [r for r in h.new_mail() if r.template == "digest"] == []

    def test_digest_off(self, tmp_path: Path, clock: Any) -> None:
        """`digest.every: off` sends no digest."""
        h = Harness(tmp_path, clock, digest={"every": "off"})
        h.engine.tick(clock.now())
        clock.advance(timedelta(days=30))
        h.engine.tick(clock.now())
        assert h.new_mail() == []


class TestLanguages:
    def test_party_who_writes_french_gets_french_mail(self, h: Harness) -> None:
        """A target who answered in French gets the next mail from the French templates."""
        h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        optins = _by_template(h.new_mail())
        h.answer(
            optins["optin_target"],
            "Peut-être le mois prochain, je ne suis pas sûre pour le moment, je vous redis.",
        )
        (reask,) = h.new_mail()
        assert reask.template == "reask"
        assert b"Bonjour" in reask.raw.replace(b"=\n", b"")

    def test_unclear_then_owner_approves_asks_once_more(self, h: Harness) -> None:
        """After two unclear answers the owner's approve re-asks that party once."""
        out = h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        optins = _by_template(h.new_mail())
        h.answer(optins["optin_target"], "Maybe.")
        (reask,) = h.new_mail()
        h.answer(reask, "Hmm, maybe later.")
        assert [r.template for r in h.new_mail()] == ["review"]
        with h.store.transaction():
            h.engine.owner_action("approve", out.intro_id, h.clock.now())
        assert [r.template for r in h.new_mail()] == ["reask"]
        assert h.state(out.intro_id) == "awaiting"


class TestFloods:
    def test_hundreds_of_yeses_make_one_introduction(self, h: Harness) -> None:
        """A flood of replies never multiplies outgoing mail."""
        h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        optins = _by_template(h.new_mail())
        for _ in range(150):
            h.answer(optins["optin_target"], "Yes")
            h.answer(optins["optin_requester"], "Yes")
        assert sorted(r.template for r in h.new_mail()) == [
            "introduction",
            "late_answer",
            "late_answer",
        ]

    def test_repeated_request_is_a_duplicate(self, h: Harness) -> None:
        """The same request forwarded 200 times gives one pair of opt-ins."""
        rules = {h.handle(forward("Tim Walker", TIM, TIM_ASKS)).decision.rule for _ in range(200)}
        assert rules == {"default", "duplicate"}
        assert len(h.new_mail()) == 2


class TestBrokenTemplateAtSendTime:
    def test_request_waits_and_owner_hears_once(self, tmp_path: Path, clock: Any) -> None:
        """A template that fails on real data sends nothing: the mail waits, the owner gets
        one notice naming the template, and it goes through once the template is fixed."""
        tdir = tmp_path / "tpl"
        tdir.mkdir()
        (tdir / "optin_target.txt.j2").write_text("{{ requester.name.nonexistent_method() }}\n")
        h = Harness(tmp_path, clock, templates_dir="tpl")
        raw = forward("Tim Walker", TIM, TIM_ASKS)
        first = h.handle(raw)
        assert first.placement == "wait"
        assert h.store.intros() == []
        (notice,) = h.new_mail()
        assert notice.template == "owner_notice" and b"optin_target" in notice.raw
        again = h.handle(raw)
        assert again.placement == "wait" and h.new_mail() == [], "one notice per day"
        (tdir / "optin_target.txt.j2").unlink()
        h.engine = build_engine(h.cfg, h.store)
        ok = h.handle(raw)
        assert ok.decision.action == "accept"
        assert {r.template for r in h.new_mail()} == {"optin_requester", "optin_target"}


class TestPrivacy:
    def test_forget_erases_a_person(self, h: Harness) -> None:
        """`forget` removes a person's address, name and words, keeping anonymous counts."""
        out = h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        h.new_mail()
        with h.store.transaction():
            assert h.store.forget(TIM) == 1
        intro = h.store.intro(out.intro_id)
        assert intro is not None
        assert (intro.requester_email, intro.requester_name, intro.blurb) == ("forgotten", None, "")
        assert h.store.count_by_state() == {"awaiting": 1}
        dump = b"".join(
            bytes(str(tuple(r)), "utf-8")
            for t in ("intros", "events", "parties")
            for r in h.store.db.execute(f"SELECT * FROM {t}")
        )
        assert TIM.encode() not in dump and b"Tim Walker" not in dump

    def test_retention_prunes_bodies_of_ended_intros(self, tmp_path: Path, clock: Any) -> None:
        """Bodies of intros ended longer ago than retention.bodies_after are dropped."""
        h = Harness(tmp_path, clock, retention={"bodies_after": "30d"})
        out = h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        optins = _by_template(h.new_mail())
        h.answer(optins["optin_target"], "No thanks.")
        h.new_mail()
        clock.advance(timedelta(days=29))
        h.engine.tick(clock.now())
        assert h.store.intro(out.intro_id).blurb  # type: ignore[union-attr]
        clock.advance(timedelta(days=2))
        h.engine.tick(clock.now())
        intro = h.store.intro(out.intro_id)
        assert intro is not None and intro.blurb == "" and intro.state == "declined_by_target"
        assert all(r.raw == b"" for r in h.store.outbox_for(out.intro_id))

    def test_pruning_runs_outside_any_transaction(
        self, tmp_path: Path, clock: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Each pruning statement is a transaction of its own: inside a larger one it would
        keep a copy of every page it changes (in memory, where savepoints journal) until
        that transaction ends, tens of megabytes in a big state."""
        h = Harness(tmp_path, clock, retention={"bodies_after": "30d"})
        h.handle(forward("Tim Walker", TIM, TIM_ASKS))
        assert h.store.db.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
        depths = []
        real = h.store._exec

        def watched(sql: str, params: Any = ()) -> Any:
            if sql.startswith("UPDATE") and ("raw = X''" in sql or "blurb = ''" in sql):
                depths.append(h.store._depth)
            return real(sql, params)

        monkeypatch.setattr(h.store, "_exec", watched)
        clock.advance(timedelta(days=31))
        h.engine.tick(clock.now())
        assert depths == [0, 0]
        assert h.store.get_meta("last_prune")
