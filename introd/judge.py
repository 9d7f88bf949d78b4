"""Deciding on one mail: the policies for requests, and the proofs for answers and
owner commands. Shared by `introd parse` (without state) and `introd run`."""

from __future__ import annotations

from datetime import datetime

from .config import Config
from .reading.people import ContactBook
from typing import TYPE_CHECKING

from .model import ACTIVE_STATES, Decision, Reading
from .policy import Situation, StateView, decide

if TYPE_CHECKING:
    from .state import IntroRow, OutboxRow

# a snoozed intro still takes its parties' answers (the target may answer before the day)
ANSWERABLE = ("awaiting", "snoozed")
# where each owner command applies
COMMAND_STATES: dict[str, tuple[str, ...]] = {
    "approve": ("review",),
    "pick": ("review",),
    "target": ("review",),
    "decline": ("review", "awaiting", "snoozed"),
    "cancel": ACTIVE_STATES,
    # ask the requester for details: a request in review, or declined by a policy
    "details": ("review", "declined"),
    # the owner's last word on an introduction draft: send it as is, or their own words
    "send": ("draft",),
    "words": ("draft",),
}


def judge(
    reading: Reading,
    *,
    config: Config,
    contacts: ContactBook | None,
    store: StateView | None,
    now: datetime,
) -> Decision:
    """The decision on one mail; `store` is None when there is no state (`parse`)."""
    kind = reading.kind
    if kind == "bounce":
        failed = reading.failed_addresses
        if store is not None:
            proof = proven_bounce(reading, store)
            if proof is None:
                return Decision(
                    action="ignore",
                    rule="bounce_unproven",
                    detail="a delivery report that returns no mail introd sent to "
                    "the addresses it names; it changes nothing",
                )
            failed = proof[1]
        return Decision(
            action="ignore", rule="bounce", detail="delivery failure for " + ", ".join(failed)
        )
    if kind == "auto_reply":
        return Decision(
            action="ignore", rule="auto_reply", detail="automatic reply; never answered"
        )
    if kind == "unknown":
        if reading.problem:
            rule = "over_budget" if reading.extra.get("over_budget") else "unreadable"
            return Decision(action="ignore", rule=rule, detail=reading.problem)
        situation = Situation(
            reading=reading, config=config, contacts=contacts, state=store, now=now
        )
        decision = decide(situation)
        if decision.rule in ("not_from_owner", "unauthenticated"):
            return decision
        return Decision(
            action="ignore",
            rule="not_a_request",
            detail="from the owner but no request, command or answer found",
        )
    if kind == "request":
        return decide(
            Situation(reading=reading, config=config, contacts=contacts, state=store, now=now)
        )
    if kind == "owner_command":
        return _judge_command(reading, config, store)
    return _judge_reply(reading, config, store)


def proven_bounce(reading: Reading, store: StateView) -> tuple[OutboxRow, tuple[str, ...]] | None:
    """The mail introd sent that this bounce returns, and the failed addresses among its
    recipients; None when the bounce proves nothing. The proof is that mail's Message-ID
    inside the report (random, so only the mail's recipients and the servers on its way
    know it); an address counts only if that mail went to it."""
    for mid in reading.extra.get("references") or ():
        row = store.outbox_by_message_ids([mid])
        if row is None or row.status not in ("sent", "failed"):
            continue
        recipients = {r.lower() for r in row.recipients}
        failed = tuple(a for a in reading.failed_addresses if a.lower() in recipients)
        if failed:
            return row, failed
    return None


def _judge_command(reading: Reading, config: Config, store: StateView | None) -> Decision:
    cmd = reading.command
    assert cmd is not None
    if not (reading.from_owner or reading.from_delegate):
        return Decision(action="ignore", rule="not_from_owner", detail="command not from owner")
    if config.auth_require and not reading.authenticated:
        return Decision(
            action="ignore",
            rule="unauthenticated",
            detail=str(reading.extra.get("auth_reason") or "authentication failed"),
        )
    if cmd.verb == "status":
        return Decision(action="accept", rule="owner_command", detail="status")
    if cmd.verb == "words" and (
        store is None
        or cmd.intro_id is None
        or getattr(store.intro(cmd.intro_id), "state", None) != "draft"
    ):
        # an owner's reply that is no command and answers no draft: nothing to do
        return Decision(action="ignore", rule="not_a_command", detail="the reply holds no command")
    if cmd.intro_id is None:
        return Decision(action="ignore", rule="no_intro", detail=f"{cmd.verb}: which intro?")
    if store is None:
        return Decision(action="accept", rule="owner_command", detail=f"{cmd.verb} {cmd.intro_id}")
    intro = store.intro(cmd.intro_id)
    if intro is None:
        return Decision(action="ignore", rule="unknown_intro", detail=f"no intro {cmd.intro_id}")
    if intro.state not in COMMAND_STATES.get(cmd.verb, ()):
        return Decision(
            action="ignore",
            rule="not_applicable",
            detail=f"{cmd.verb} does not apply to an intro in state {intro.state}",
        )
    conflict = delegate_conflict(reading, config, intro, cmd.verb, cmd.argument)
    if conflict:
        return Decision(action="ignore", rule="delegate_is_party", detail=conflict)
    return Decision(action="accept", rule="owner_command", detail=f"{cmd.verb} {intro.id}")


APPROVING = ("approve", "pick", "target", "send", "words")


def delegate_conflict(
    reading: Reading, config: Config, intro: IntroRow, verb: str, argument: str | None
) -> str | None:
    """Why a delegate may not approve this intro: they would be its requester or target."""
    actor = (reading.sender.email or "").lower() if reading.sender else ""
    if not reading.from_delegate or verb not in APPROVING:
        return None
    parties = {intro.requester_email, intro.target_email}
    if verb == "target":
        parties.add((argument or "").strip().lower())
    elif verb == "pick":
        try:
            parties.add((intro.candidates[int(argument or "0") - 1].get("email") or "").lower())
        except (ValueError, IndexError):
            pass
    if actor in parties:
        return f"{actor} is a party of intro {intro.id}; only the owner can approve it"
    return None


def _judge_reply(reading: Reading, config: Config, store: StateView | None) -> Decision:
    ans = reading.answer
    assert ans is not None
    token = reading.extra.get("token")
    if ans.intro_id is None:
        return Decision(action="ignore", rule="no_reference", detail="names no intro")
    if token and ans.proof != "token":
        return Decision(action="ignore", rule="bad_token", detail="token not valid")
    if store is None:
        if ans.proof in ("token", "reference"):
            return Decision(
                action="accept", rule="answer", detail=f"{ans.answer} for {ans.intro_id}"
            )
        return Decision(
            action="ignore", rule="no_reference", detail="subject tag only: proves nothing"
        )
    role = proven_role(reading, store)
    if role is None:
        return Decision(
            action="ignore",
            rule="no_reference",
            detail="neither a token nor a reference to a mail introd sent",
        )
    intro = store.intro(ans.intro_id)
    if intro is None:
        return Decision(action="ignore", rule="no_reference", detail=f"no intro {ans.intro_id}")
    party_email = intro.requester_email if role == "requester" else intro.target_email
    sender = (reading.sender.email or "").lower() if reading.sender else ""
    if not config.accept_from_any_address and sender != (party_email or "").lower():
        return Decision(
            action="ignore",
            rule="wrong_sender",
            detail=f"answer for the {role} came from another address",
        )
    if intro.state == "details" and role == "requester":
        return Decision(
            action="accept",
            rule="details_answer",
            detail="the requester answers the owner's question",
        )
    if intro.state == "introduced" and role == "requester":
        followup = store.followup(intro.id)
        if followup is not None and followup.status in ("sent", "reasked"):
            return Decision(
                action="accept",
                rule="followup_answer",
                detail=f"the requester says {ans.answer} to the follow-up",
            )
        if followup is not None and followup.status == "answered":
            return Decision(
                action="ignore",
                rule="already_answered",
                detail="the requester already answered the follow-up",
            )
    if intro.state not in ANSWERABLE:
        return Decision(
            action="ignore", rule="intro_ended", detail=f"intro {intro.id} is {intro.state}"
        )
    party = store.parties(intro.id).get(role)
    if party is None or party.asked_at is None:
        return Decision(action="ignore", rule="not_asked", detail=f"the {role} was not asked yet")
    if party.status in ("yes", "no"):
        return Decision(
            action="ignore",
            rule="already_answered",
            detail=f"the {role} already answered {party.status}",
        )
    return Decision(action="accept", rule="answer", detail=f"{role} says {ans.answer}")


def proven_role(reading: Reading, store: StateView) -> str | None:
    ans = reading.answer
    assert ans is not None
    if ans.proof == "token":
        return ans.role
    refs = list(reading.extra.get("references") or [])
    row = store.outbox_by_message_ids(refs)
    if row is not None and row.intro_id == ans.intro_id and row.role in ("requester", "target"):
        return row.role
    return None
