"""The proofs an answer or an owner command must carry before anything acts on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from introd.config import Config, build_config
from introd.model import Answer, OwnerCommand, Person, Reading
from introd.judge import judge
from introd.state import Store

NOW = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
TIM, BOB, OWNER = "tim@example.test", "bob@example.test", "lisa@example.test"
OPTIN_TO_BOB = "<optin-bob@introd.example.test>"


def config(tmp_path: Path, **replies: Any) -> Config:
    return build_config(
        {
            "owner": {"name": "Lisa Balbes", "addresses": [OWNER]},
            "from": f"Lisa Balbes <{OWNER}>",
            "reply_address": "intros@example.test",
            "state_path": str(tmp_path / "introd.db"),
            "secret_file": str(tmp_path / "secret"),
            "auth": {"require": True, "trusted_authserv_ids": ["mx.example.test"]},
            "replies": replies,
        },
        path=tmp_path / "config.yaml",
        need_servers=False,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """An intro awaiting both parties: Bob was asked (his opt-in is in the outbox), Tim not."""
    s = Store(tmp_path / "introd.db")
    s.insert_intro(
        id="AB12CD",
        state="awaiting",
        created=NOW,
        updated=NOW,
        requester_name="Tim Walker",
        requester_email=TIM,
        target_name="Bob Jones",
        target_email=BOB,
    )
    s.insert_party("AB12CD", "requester")
    s.insert_party("AB12CD", "target")
    s.update_party("AB12CD", "target", asked_at=NOW - timedelta(days=1))
    s.enqueue(
        intro_id="AB12CD",
        template="optin_target",
        role="target",
        sender=OWNER,
        recipients=[BOB],
        message_id=OPTIN_TO_BOB,
        raw=b"x",
        now=NOW,
    )
    return s


def reply(
    sender: str,
    *,
    intro_id: str | None = "AB12CD",
    role: str | None = "target",
    proof: str = "token",
    token: str | None = "t0k3n",
    references: tuple[str, ...] = (),
    answer: str = "yes",
) -> Reading:
    return Reading(
        kind="reply",
        message_id="<r@x>",
        sender=Person(name="", email=sender),
        answer=Answer(
            intro_id=intro_id,
            role=role,
            answer=answer,  # type: ignore[arg-type]
            proof=proof,
        ),
        token=token or None,
        references=references,
    )


def command(
    verb: str, intro_id: str | None, *, owner: bool = True, authenticated: bool = True
) -> Reading:
    return Reading(
        kind="owner_command",
        message_id="<c@x>",
        sender=Person(name="Lisa", email=OWNER if owner else "mallory@evil.example"),
        command=OwnerCommand(verb=verb, intro_id=intro_id),
        from_owner=owner,
        authenticated=authenticated,
        auth_reason="dkim=fail",
    )


class TestAnswers:
    def test_valid_token_from_the_party_is_accepted(self, tmp_path: Path, store: Store) -> None:
        """A token-proven answer from the asked party's own address counts."""
        d = judge(reply(BOB), config=config(tmp_path), contacts=None, store=store, now=NOW)
        assert (d.action, d.rule) == ("accept", "answer")

    def test_a_token_that_did_not_verify_is_bad_token(self, tmp_path: Path, store: Store) -> None:
        """A reply address carrying a token that failed its HMAC proves nothing."""
        d = judge(
            reply(BOB, proof="reference", references=(OPTIN_TO_BOB,)),
            config=config(tmp_path),
            contacts=None,
            store=store,
            now=NOW,
        )
        assert (d.action, d.rule) == ("ignore", "bad_token")

    def test_answer_from_another_address_is_wrong_sender(
        self, tmp_path: Path, store: Store
    ) -> None:
        """Someone holding a forwarded opt-in cannot answer for the target."""
        d = judge(
            reply("mallory@evil.example"),
            config=config(tmp_path),
            contacts=None,
            store=store,
            now=NOW,
        )
        assert (d.action, d.rule) == ("ignore", "wrong_sender")

    def test_accept_from_any_address_lets_another_address_answer(
        self, tmp_path: Path, store: Store
    ) -> None:
        """With replies.accept_from_any_address the proof alone is enough."""
        d = judge(
            reply("bob.private@home.example"),
            config=config(tmp_path, accept_from_any_address=True),
            contacts=None,
            store=store,
            now=NOW,
        )
        assert (d.action, d.rule) == ("accept", "answer")

    def test_a_party_not_yet_asked_cannot_answer(self, tmp_path: Path, store: Store) -> None:
        """The requester, not asked yet (target first), has nothing to answer."""
        d = judge(
            reply(TIM, role="requester"),
            config=config(tmp_path),
            contacts=None,
            store=store,
            now=NOW,
        )
        assert (d.action, d.rule) == ("ignore", "not_asked")

    @pytest.mark.parametrize("status", ["yes", "no"])
    def test_a_second_answer_is_already_answered(
        self, tmp_path: Path, store: Store, status: str
    ) -> None:
        """A party who said yes or no cannot change it by answering again."""
        store.update_party("AB12CD", "target", status=status, answered_at=NOW)
        d = judge(
            reply(BOB, answer="no" if status == "yes" else "yes"),
            config=config(tmp_path),
            contacts=None,
            store=store,
            now=NOW,
        )
        assert (d.action, d.rule) == ("ignore", "already_answered")

    def test_a_reference_to_a_mail_introd_sent_proves_the_role(
        self, tmp_path: Path, store: Store
    ) -> None:
        """Without a token, In-Reply-To naming the target's opt-in proves the target."""
        d = judge(
            reply(BOB, proof="reference", token=None, role=None, references=(OPTIN_TO_BOB,)),
            config=config(tmp_path),
            contacts=None,
            store=store,
            now=NOW,
        )
        assert (d.action, d.rule) == ("accept", "answer")

    def test_a_subject_tag_alone_proves_nothing(self, tmp_path: Path, store: Store) -> None:
        """ "[intro AB12CD]" in a subject anyone can type is not a proof."""
        d = judge(
            reply(BOB, proof="", token=None, role=None),
            config=config(tmp_path),
            contacts=None,
            store=store,
            now=NOW,
        )
        assert (d.action, d.rule) == ("ignore", "no_reference")

    def test_an_ended_intro_takes_no_answer(self, tmp_path: Path, store: Store) -> None:
        """Once an intro has ended, an answer to it changes nothing."""
        store.update_intro("AB12CD", NOW, state="cancelled")
        d = judge(reply(BOB), config=config(tmp_path), contacts=None, store=store, now=NOW)
        assert (d.action, d.rule) == ("ignore", "intro_ended")


class TestOwnerCommands:
    def test_a_command_not_from_the_owner_does_nothing(self, tmp_path: Path, store: Store) -> None:
        """Only the owner's addresses may command."""
        d = judge(
            command("cancel", "AB12CD", owner=False),
            config=config(tmp_path),
            contacts=None,
            store=store,
            now=NOW,
        )
        assert (d.action, d.rule) == ("ignore", "not_from_owner")

    def test_an_unauthenticated_owner_command_does_nothing(
        self, tmp_path: Path, store: Store
    ) -> None:
        """The owner's From without the MTA's word for it is not the owner."""
        d = judge(
            command("cancel", "AB12CD", authenticated=False),
            config=config(tmp_path),
            contacts=None,
            store=store,
            now=NOW,
        )
        assert (d.action, d.rule) == ("ignore", "unauthenticated")

    @pytest.mark.parametrize(
        ("verb", "state", "rule"),
        [
            ("cancel", "awaiting", "owner_command"),
            ("decline", "awaiting", "owner_command"),
            ("approve", "awaiting", "not_applicable"),
            ("cancel", "introduced", "not_applicable"),
        ],
    )
    def test_a_verb_applies_only_in_its_states(
        self, tmp_path: Path, store: Store, verb: str, state: str, rule: str
    ) -> None:
        """approve only in review, cancel only while active, and so on."""
        store.update_intro("AB12CD", NOW, state=state)
        d = judge(
            command(verb, "AB12CD"), config=config(tmp_path), contacts=None, store=store, now=NOW
        )
        assert d.rule == rule

    def test_an_unknown_intro_is_named(self, tmp_path: Path, store: Store) -> None:
        """A command for an intro that does not exist says so."""
        d = judge(
            command("cancel", "ZZ99ZZ"),
            config=config(tmp_path),
            contacts=None,
            store=store,
            now=NOW,
        )
        assert (d.action, d.rule) == ("ignore", "unknown_intro")
