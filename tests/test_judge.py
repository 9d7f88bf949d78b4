"""The judge's rules, one by one: the proofs an answer, an owner command or a bounce must
carry before anything acts on it, and who may act as the owner.

The judge is pure: it sees the state only through ``policy.StateView``, so these tests
give it a small in-memory state (``FakeState``) and no server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from introd.config import RULE_DEFAULTS, Config, build_config
from introd.judge import judge, placement
from introd.model import (
    Answer,
    AnswerWord,
    Bounced,
    IntroRequest,
    OwnerCommand,
    Person,
    Reading,
    Role,
)
from introd.policy import RULES, StateView
from introd.rules import RuleName
from introd.state import FollowupRow, IntroRow, OutboxRow, PartyRow

NOW = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
TIM, BOB, OWNER = "tim@example.test", "bob@example.test", "lisa@example.test"
DELEGATE, MALLORY = "amy@example.test", "mallory@evil.example"
OPTIN_TO_BOB = "<optin-bob@introd.example.test>"
OPTIN_ELSEWHERE = "<optin-other@introd.example.test>"


# -- a state in memory ------------------------------------------------------------------
@dataclass
class FakeState:
    """The StateView the judge reads, as plain dicts."""

    intros: dict[str, IntroRow] = field(default_factory=dict)
    party_rows: dict[tuple[str, str], PartyRow] = field(default_factory=dict)
    followups: dict[str, FollowupRow] = field(default_factory=dict)
    outbox: list[OutboxRow] = field(default_factory=list)

    def count_requests(
        self, *, requester: str | None = None, target: str | None = None, since: datetime
    ) -> int:
        return 0

    def pair_history(self, requester: str, target: str) -> list[IntroRow]:
        return []

    def intro(self, intro_id: str) -> IntroRow | None:
        return self.intros.get(intro_id)

    def parties(self, intro_id: str) -> dict[str, PartyRow]:
        return {role: p for (i, role), p in self.party_rows.items() if i == intro_id}

    def followup(self, intro_id: str) -> FollowupRow | None:
        return self.followups.get(intro_id)

    def outbox_by_message_ids(self, message_ids: list[str]) -> OutboxRow | None:
        for mid in message_ids:
            for row in self.outbox:
                if row.message_id == mid:
                    return row
        return None

    # -- changing it, for the tests
    def set_state(self, state: str) -> None:
        self.intros["AB12CD"] = replace(self.intros["AB12CD"], state=state)

    def set_party(self, role: str, **changes: Any) -> None:
        self.party_rows[("AB12CD", role)] = replace(self.party_rows[("AB12CD", role)], **changes)


def _intro(**changes: Any) -> IntroRow:
    fields: dict[str, Any] = dict(
        id="AB12CD",
        state="awaiting",
        created=NOW,
        updated=NOW,
        expires=None,
        requester_name="Tim Walker",
        requester_email=TIM,
        target_name="Bob Jones",
        target_email=BOB,
        reason="wants to learn about the work",
        blurb="",
        subject="",
        source_message_id=None,
        rule=None,
        action=None,
        detail=None,
        candidates=[],
        optin_order="target_first",
        requester_note=None,
    )
    fields.update(changes)
    return IntroRow(**fields)


def _party(role: str, *, asked: bool) -> PartyRow:
    return PartyRow(
        intro_id="AB12CD",
        role=role,
        status="asked" if asked else "pending",
        asked_at=NOW - timedelta(days=1) if asked else None,
        reminded_at=None,
        answered_at=None,
        reasks=0,
        optin_message_id=None,
    )


def _sent(message_id: str, *, intro_id: str, role: str, to: str) -> OutboxRow:
    return OutboxRow(
        id=1,
        intro_id=intro_id,
        template=f"optin_{role}",
        role=role,
        sender=OWNER,
        recipients=[to],
        message_id=message_id,
        raw=b"x",
        status="sent",
        attempts=1,
        created=NOW,
        next_attempt=NOW,
        sent_at=NOW,
        last_error=None,
        copied=0,
    )


@pytest.fixture
def state() -> FakeState:
    """An intro awaiting both parties, target first: Bob was asked (his opt-in was sent),
    Tim not yet."""
    return FakeState(
        intros={"AB12CD": _intro()},
        party_rows={
            ("AB12CD", "requester"): _party("requester", asked=False),
            ("AB12CD", "target"): _party("target", asked=True),
        },
        outbox=[
            _sent(OPTIN_TO_BOB, intro_id="AB12CD", role="target", to=BOB),
            _sent(OPTIN_ELSEWHERE, intro_id="ZZ99ZZ", role="target", to=BOB),
        ],
    )


def test_the_fake_is_a_state_view(state: FakeState) -> None:
    """The tests' state offers exactly what the judge may read (mypy checks the rest)."""
    view: StateView = state
    assert view.intro("AB12CD") is not None and view.intro("ZZ99ZZ") is None


# -- config and mail --------------------------------------------------------------------
def config(
    tmp_path: Path,
    *,
    auth_require: bool = True,
    delegates_may_forward: bool = False,
    policies: dict[str, Any] | None = None,
    **replies: Any,
) -> Config:
    return build_config(
        {
            "owner": {
                "name": "Lisa Balbes",
                "addresses": [OWNER],
                "delegates": [DELEGATE],
                "delegates_may_forward": delegates_may_forward,
            },
            "from": f"Lisa Balbes <{OWNER}>",
            "reply_address": "intros@example.test",
            "state_path": str(tmp_path / "introd.db"),
            "secret_file": str(tmp_path / "secret"),
            "auth": {"require": auth_require, "trusted_authserv_ids": ["mx.example.test"]},
            "replies": replies,
            "policies": policies or {},
        },
        path=tmp_path / "config.yaml",
        need_servers=False,
    )


def reply(
    sender: str,
    *,
    intro_id: str | None = "AB12CD",
    role: Role | None = "target",
    proof: str = "token",
    token: str | None = "t0k3n",
    references: tuple[str, ...] = (),
    answer: AnswerWord = "yes",
) -> Reading:
    return Reading(
        kind="reply",
        message_id="<r@x>",
        sender=Person(email=sender),
        answer=Answer(intro_id=intro_id, role=role, answer=answer, proof=proof),
        token=token,
        references=references,
    )


def from_owner(
    sender: str = OWNER, *, authenticated: bool = True, **changes: Any
) -> dict[str, Any]:
    """The sender fields the reading core sets: owner, delegate or neither."""
    return dict(
        sender=Person(email=sender),
        from_owner=sender == OWNER,
        from_delegate=sender == DELEGATE,
        authenticated=authenticated and sender in (OWNER, DELEGATE),
        auth_reason="dkim=fail" if not authenticated else "dkim=pass",
        **changes,
    )


def command(
    verb: str,
    intro_id: str | None = "AB12CD",
    *,
    sender: str = OWNER,
    authenticated: bool = True,
    argument: str | None = None,
) -> Reading:
    return Reading(
        kind="owner_command",
        message_id="<c@x>",
        command=OwnerCommand(verb=verb, intro_id=intro_id, argument=argument),
        **from_owner(sender, authenticated=authenticated),
    )


def decide(reading: Reading, cfg: Config, state: StateView | None) -> tuple[str, str]:
    d = judge(reading, config=cfg, contacts=None, store=state, now=NOW)
    return d.action, d.rule


# -- answers ------------------------------------------------------------------------------
class TestAnswers:
    def test_valid_token_from_the_party_is_accepted(self, tmp_path: Path, state: FakeState) -> None:
        """A token-proven answer from the asked party's own address counts, for that party."""
        d = judge(reply(BOB), config=config(tmp_path), contacts=None, store=state, now=NOW)
        assert (d.action, d.rule, d.role) == ("accept", "answer", "target")

    def test_a_token_that_did_not_verify_is_bad_token(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        """A reply address carrying a token that failed its HMAC proves nothing, even with a
        reference to the party's opt-in beside it."""
        mail = reply(BOB, proof="reference", references=(OPTIN_TO_BOB,))
        assert decide(mail, config(tmp_path), state) == ("ignore", "bad_token")
        assert decide(mail, config(tmp_path), None) == ("ignore", "bad_token")

    @pytest.mark.parametrize(
        ("any_address", "expected"),
        [(False, ("ignore", "wrong_sender")), (True, ("accept", "answer"))],
    )
    def test_accept_from_any_address_decides_whether_another_address_may_answer(
        self, tmp_path: Path, state: FakeState, any_address: bool, expected: tuple[str, str]
    ) -> None:
        """Someone holding a forwarded opt-in cannot answer for the target, unless
        replies.accept_from_any_address makes the proof alone enough."""
        cfg = config(tmp_path, accept_from_any_address=any_address)
        assert decide(reply("bob.private@home.example"), cfg, state) == expected

    def test_the_sender_is_compared_without_case(self, tmp_path: Path, state: FakeState) -> None:
        """BOB@EXAMPLE.TEST is Bob."""
        assert decide(reply(BOB.upper()), config(tmp_path), state) == ("accept", "answer")

    def test_a_party_not_yet_asked_cannot_answer(self, tmp_path: Path, state: FakeState) -> None:
        """The requester, not asked yet (target first), has nothing to answer."""
        mail = reply(TIM, role="requester")
        assert decide(mail, config(tmp_path), state) == ("ignore", "not_asked")

    @pytest.mark.parametrize("status", ["yes", "no"])
    def test_a_second_answer_is_already_answered(
        self, tmp_path: Path, state: FakeState, status: str
    ) -> None:
        """A party who said yes or no cannot change it by answering again."""
        state.set_party("target", status=status, answered_at=NOW)
        mail = reply(BOB, answer="no" if status == "yes" else "yes")
        assert decide(mail, config(tmp_path), state) == ("ignore", "already_answered")

    def test_an_unclear_first_answer_may_be_followed_by_another(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        """After an unclear answer (re-asked), the party's next answer still counts."""
        state.set_party("target", status="asked", reasks=1)
        assert decide(reply(BOB, answer="no"), config(tmp_path), state) == ("accept", "answer")

    def test_a_reference_to_a_mail_introd_sent_proves_the_role(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        """Without a token, In-Reply-To naming the target's opt-in proves the target."""
        mail = reply(BOB, proof="reference", token=None, role=None, references=(OPTIN_TO_BOB,))
        d = judge(mail, config=config(tmp_path), contacts=None, store=state, now=NOW)
        assert (d.action, d.rule, d.role) == ("accept", "answer", "target")

    def test_a_reference_to_another_intros_mail_proves_nothing(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        """A real Message-ID of introd's, but of a mail about another intro, is no proof."""
        mail = reply(BOB, proof="reference", token=None, role=None, references=(OPTIN_ELSEWHERE,))
        assert decide(mail, config(tmp_path), state) == ("ignore", "no_reference")

    def test_a_subject_tag_alone_proves_nothing(self, tmp_path: Path, state: FakeState) -> None:
        """ "[intro AB12CD]" in a subject anyone can type is not a proof, with or without state."""
        mail = reply(BOB, proof="", token=None, role=None)
        assert decide(mail, config(tmp_path), state) == ("ignore", "no_reference")
        assert decide(mail, config(tmp_path), None) == ("ignore", "no_reference")

    def test_a_reply_naming_no_intro_is_no_reference(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        mail = reply(BOB, intro_id=None, proof="", token=None, role=None)
        assert decide(mail, config(tmp_path), state) == ("ignore", "no_reference")

    def test_a_proven_answer_for_an_intro_that_is_gone_is_no_reference(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        """A token for an intro the state no longer holds acts on nothing."""
        del state.intros["AB12CD"]
        assert decide(reply(BOB), config(tmp_path), state) == ("ignore", "no_reference")

    def test_without_state_a_token_is_enough(self, tmp_path: Path) -> None:
        """`introd parse` with no state: a valid token (or reference) is an answer."""
        assert decide(reply(BOB), config(tmp_path), None) == ("accept", "answer")

    def test_an_ended_intro_takes_no_answer(self, tmp_path: Path, state: FakeState) -> None:
        """Once an intro has ended, an answer to it changes nothing; the role is still
        carried, for the one note a late answer gets."""
        state.set_state("cancelled")
        d = judge(reply(BOB), config=config(tmp_path), contacts=None, store=state, now=NOW)
        assert (d.action, d.rule, d.role) == ("ignore", "intro_ended", "target")

    def test_the_requester_answers_the_owners_question(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        """In state details, the requester's proven reply is the details asked for."""
        state.set_state("details")
        mail = reply(TIM, role="requester")
        assert decide(mail, config(tmp_path), state) == ("accept", "details_answer")

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ("sent", ("accept", "followup_answer")),
            ("reasked", ("accept", "followup_answer")),
            ("answered", ("ignore", "already_answered")),
            ("pending", ("ignore", "intro_ended")),
        ],
    )
    def test_after_the_introduction_the_requester_answers_the_followup(
        self, tmp_path: Path, state: FakeState, status: str, expected: tuple[str, str]
    ) -> None:
        """Once introduced, the requester's reply answers the follow-up, once."""
        state.set_state("introduced")
        state.followups["AB12CD"] = FollowupRow(
            intro_id="AB12CD",
            introduced_at=NOW,
            status=status,
            sent_at=NOW,
            asks=1,
            answer=None,
            outcome=None,
            answered_at=None,
            thanks=None,
        )
        assert decide(reply(TIM, role="requester"), config(tmp_path), state) == expected


# -- mail that is no answer ---------------------------------------------------------------
class TestOtherMail:
    @pytest.mark.parametrize(
        ("over_budget", "rule"), [(True, "over_budget"), (False, "unreadable")]
    )
    def test_a_mail_set_aside_by_the_reading_says_why(
        self, tmp_path: Path, state: FakeState, over_budget: bool, rule: str
    ) -> None:
        """Mail the reading could not finish (its budget) or not read at all is ignored."""
        mail = Reading(
            kind="unknown",
            message_id=None,
            sender=None,
            problem="over budget: 10 MB" if over_budget else "unreadable mail: ValueError",
            over_budget=over_budget,
        )
        d = judge(mail, config=config(tmp_path), contacts=None, store=state, now=NOW)
        assert (d.action, d.rule, d.detail) == ("ignore", rule, mail.problem)

    @pytest.mark.parametrize(
        ("sender", "authenticated", "rule"),
        [
            (MALLORY, True, "not_from_owner"),
            (OWNER, False, "unauthenticated"),
            (OWNER, True, "not_a_request"),
        ],
    )
    def test_mail_that_is_no_request_is_refused_for_its_sender_first(
        self, tmp_path: Path, state: FakeState, sender: str, authenticated: bool, rule: str
    ) -> None:
        """A stranger's mail is not_from_owner, a forged owner's unauthenticated, and the
        owner's mail that holds nothing introd knows is not_a_request."""
        mail = Reading(
            kind="unknown",
            message_id="<u@x>",
            **from_owner(sender, authenticated=authenticated),
        )
        assert decide(mail, config(tmp_path), state) == ("ignore", rule)

    def test_an_auto_reply_is_never_answered(self, tmp_path: Path, state: FakeState) -> None:
        mail = Reading(kind="auto_reply", message_id="<a@x>", sender=Person(email=BOB))
        assert decide(mail, config(tmp_path), state) == ("ignore", "auto_reply")

    def test_a_bounce_proves_itself_by_the_mail_it_returns(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        """A bounce that holds the Message-ID of a mail introd sent counts, for the failed
        addresses that mail went to; one that holds none changes nothing."""

        def bounce(references: tuple[str, ...]) -> Reading:
            return Reading(
                kind="bounce",
                message_id="<b@x>",
                sender=None,
                failed_addresses=(BOB, "someone@else.example"),
                references=references,
            )

        proven = judge(
            bounce((OPTIN_TO_BOB,)), config=config(tmp_path), contacts=None, store=state, now=NOW
        )
        assert (proven.rule, proven.detail) == ("bounce", f"delivery failure for {BOB}")
        # what the engine acts on, proved once
        assert proven.bounced == Bounced(intro_id="AB12CD", failed=(BOB,))
        unproven = bounce(("<never-sent@x>",))
        assert decide(unproven, config(tmp_path), state) == ("ignore", "bounce_unproven")
        assert decide(unproven, config(tmp_path), None) == ("ignore", "bounce")


# -- who may act as the owner -----------------------------------------------------------------
class TestOwner:
    def test_a_command_from_a_forged_owner_does_nothing(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        """Only the owner's addresses (and the delegates') may command."""
        mail = command("cancel", sender=MALLORY)
        assert decide(mail, config(tmp_path), state) == ("ignore", "not_from_owner")

    def test_switching_the_policy_off_does_not_open_commands(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        """policies.not_from_owner and unauthenticated are for requests; a command is
        checked for its sender whatever they say."""
        cfg = config(
            tmp_path,
            policies={"not_from_owner": {"enabled": False}, "unauthenticated": {"enabled": False}},
        )
        assert decide(command("cancel", sender=MALLORY), cfg, state) == ("ignore", "not_from_owner")
        forged = command("cancel", authenticated=False)
        assert decide(forged, cfg, state) == ("ignore", "unauthenticated")

    def test_an_unauthenticated_owner_command_does_nothing(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        """The owner's From without the MTA's word for it is not the owner; why is said."""
        d = judge(
            command("cancel", authenticated=False),
            config=config(tmp_path),
            contacts=None,
            store=state,
            now=NOW,
        )
        assert (d.action, d.rule, d.detail) == ("ignore", "unauthenticated", "dkim=fail")

    def test_without_auth_require_the_owners_from_is_enough(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        mail = command("cancel", authenticated=False)
        cfg = config(tmp_path, auth_require=False)
        assert decide(mail, cfg, state) == ("accept", "owner_command")

    @pytest.mark.parametrize("authenticated", [True, False])
    def test_a_delegate_commands_as_the_owner_does(
        self, tmp_path: Path, state: FakeState, authenticated: bool
    ) -> None:
        """A delegate's command counts, authenticated exactly as the owner's is."""
        mail = command("cancel", sender=DELEGATE, authenticated=authenticated)
        expected = ("accept", "owner_command") if authenticated else ("ignore", "unauthenticated")
        assert decide(mail, config(tmp_path), state) == expected

    @pytest.mark.parametrize(
        ("verb", "argument", "candidates"),
        [
            ("approve", None, []),
            ("target", DELEGATE, []),
            ("pick", "1", [{"name": "Amy", "email": DELEGATE}]),
        ],
    )
    def test_a_delegate_may_not_approve_an_intro_of_their_own(
        self,
        tmp_path: Path,
        state: FakeState,
        verb: str,
        argument: str | None,
        candidates: list[dict[str, str]],
    ) -> None:
        """A delegate who is (or would become, by `target` or `pick`) a party of an intro
        cannot let it go ahead; the owner can."""
        target = DELEGATE if verb == "approve" else None
        state.intros["AB12CD"] = _intro(state="review", target_email=target, candidates=candidates)
        delegate = command(verb, sender=DELEGATE, argument=argument)
        assert decide(delegate, config(tmp_path), state) == ("ignore", "delegate_is_party")
        owner = command(verb, argument=argument)
        assert decide(owner, config(tmp_path), state) == ("accept", "owner_command")

    def test_a_delegate_may_not_approve_a_suggestion_of_themselves(
        self, tmp_path: Path, state: FakeState
    ) -> None:
        """The target suggested the delegate instead: approving would start an intro to
        the delegate, so only the owner may."""
        state.intros["AB12CD"] = _intro(
            state="review",
            rule="suggested_target",
            suggested={"name": "Amy", "email": DELEGATE.upper()},
        )
        delegate = command("approve", sender=DELEGATE)
        assert decide(delegate, config(tmp_path), state) == ("ignore", "delegate_is_party")
        assert decide(command("approve"), config(tmp_path), state) == ("accept", "owner_command")

    @pytest.mark.parametrize(("may_forward", "forwards"), [(False, False), (True, True)])
    def test_a_delegate_starts_intros_only_with_delegates_may_forward(
        self, tmp_path: Path, may_forward: bool, forwards: bool
    ) -> None:
        """A delegate's forward is not_from_owner unless owner.delegates_may_forward."""
        mail = Reading(
            kind="request",
            message_id="<q@x>",
            request=IntroRequest(
                requester=Person(name="Tim Walker", email=TIM),
                target=Person(name="Bob Jones", email=BOB),
                reason="wants to learn about the work environment there",
                blurb="...",
            ),
            **from_owner(DELEGATE),
        )
        d = judge(
            mail,
            config=config(tmp_path, delegates_may_forward=may_forward),
            contacts=None,
            store=None,
            now=NOW,
        )
        assert (d.rule != "not_from_owner") is forwards
        if not forwards:
            assert "delegates_may_forward" in d.detail


class TestOwnerCommands:
    @pytest.mark.parametrize(
        ("verb", "state_name", "rule"),
        [
            ("cancel", "awaiting", "owner_command"),
            ("decline", "awaiting", "owner_command"),
            ("approve", "awaiting", "not_applicable"),
            ("approve", "review", "owner_command"),
            ("cancel", "introduced", "not_applicable"),
            ("details", "declined", "owner_command"),
            ("send", "draft", "owner_command"),
            ("send", "awaiting", "not_applicable"),
        ],
    )
    def test_a_verb_applies_only_in_its_states(
        self, tmp_path: Path, state: FakeState, verb: str, state_name: str, rule: str
    ) -> None:
        """approve only in review, cancel only while active, and so on."""
        state.set_state(state_name)
        assert decide(command(verb), config(tmp_path), state)[1] == rule

    def test_an_unknown_intro_is_named(self, tmp_path: Path, state: FakeState) -> None:
        """A command for an intro that does not exist says so."""
        d = judge(
            command("cancel", "ZZ99ZZ"),
            config=config(tmp_path),
            contacts=None,
            store=state,
            now=NOW,
        )
        assert (d.action, d.rule, d.detail) == ("ignore", "unknown_intro", "no intro ZZ99ZZ")

    def test_a_command_without_an_intro_asks_which(self, tmp_path: Path, state: FakeState) -> None:
        assert decide(command("cancel", None), config(tmp_path), state) == ("ignore", "no_intro")

    def test_status_needs_no_intro(self, tmp_path: Path, state: FakeState) -> None:
        assert decide(command("status", None), config(tmp_path), state) == (
            "accept",
            "owner_command",
        )

    def test_own_words_count_only_on_a_draft(self, tmp_path: Path, state: FakeState) -> None:
        """The owner's words in a reply are the introduction's text only for a draft."""
        mail = command("words", argument="Tim, meet Bob.")
        assert decide(mail, config(tmp_path), state) == ("ignore", "not_a_command")
        state.set_state("draft")
        assert decide(mail, config(tmp_path), state) == ("accept", "owner_command")


# -- the names --------------------------------------------------------------------------------
def test_the_policy_rules_are_the_specs_in_its_order() -> None:
    """The policies run in the order of SPEC.md, under the names config.yaml uses."""
    assert list(RULES) == list(RULE_DEFAULTS)
    assert [str(name) for name in RULES] == list(RULE_DEFAULTS)


def test_rule_names_are_plain_strings_where_they_leave_introd() -> None:
    """JSON, logs and the state see the name itself."""
    assert json.dumps({"rule": RuleName.BAD_TOKEN}) == '{"rule": "bad_token"}'
    assert f"{RuleName.BAD_TOKEN}" == str(RuleName.BAD_TOKEN) == "bad_token"


@pytest.mark.parametrize(
    ("kind", "action", "rule", "where"),
    [
        ("reply", "accept", "answer", "processed"),
        ("reply", "ignore", "bad_token", "quarantine"),
        ("auto_reply", "ignore", "auto_reply", "processed"),
        ("bounce", "ignore", "bounce", "processed"),
        ("bounce", "ignore", "bounce_unproven", "quarantine"),
        ("unknown", "ignore", "already_seen", "processed"),
        ("unknown", "ignore", "not_from_owner", "quarantine"),
        ("request", "decline", "no_reason", "processed"),
    ],
)
def test_placement(kind: str, action: str, rule: str, where: str) -> None:
    """Mail acted on, auto-replies and proven bounces are processed; the rest quarantined."""
    assert placement(kind, action, rule) == where
