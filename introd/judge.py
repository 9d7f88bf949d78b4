"""Deciding on one mail: the policies for requests, and the proofs for answers and
owner commands. Shared by `introd parse` (without state) and `introd run`.

The judge is pure: it reads the mail's ``Reading``, the config, the contacts and the
state (through ``policy.StateView`` only) and returns a ``Decision``; it changes
nothing. ``introd.engine`` carries the decision out."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from .config import Config
from .model import ACTIVE_STATES, Bounced, Decision, Kind, Reading, Role
from .policy import SENDER_RULES, Situation, StateView, decide, not_owner, unauthenticated
from .reading.people import ContactBook
from .rules import RuleName

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
# the verbs that let an intro go ahead: a delegate may not use them on an intro of theirs
APPROVING = ("approve", "pick", "target", "send", "words")

Placement = Literal["processed", "quarantine"]


def placement(kind: Kind | str, action: str, rule: str) -> Placement:
    """Where a handled mail goes: the processed folder, or quarantine for mail set aside
    (ignored, but for auto-replies and proven bounces, which are handled by being noted).
    The engine places new mail with it, and the daemon mail recorded before a crash."""
    kept = kind in ("auto_reply", "bounce") and rule != RuleName.BOUNCE_UNPROVEN
    if action != "ignore" or kept or rule == RuleName.ALREADY_SEEN:
        return "processed"
    return "quarantine"


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
        return _judge_bounce(reading, store)
    if kind == "auto_reply":
        return Decision(
            action="ignore", rule=RuleName.AUTO_REPLY, detail="automatic reply; never answered"
        )
    situation = Situation(reading=reading, config=config, contacts=contacts, state=store, now=now)
    if kind == "unknown":
        if reading.problem:
            rule = RuleName.OVER_BUDGET if reading.over_budget else RuleName.UNREADABLE
            return Decision(action="ignore", rule=rule, detail=reading.problem)
        decision = decide(situation, names=SENDER_RULES)
        if decision.rule in SENDER_RULES:
            return decision
        return Decision(
            action="ignore",
            rule=RuleName.NOT_A_REQUEST,
            detail="from the owner but no request, command or answer found",
        )
    if kind == "request":
        return decide(situation)
    if kind == "owner_command":
        return _judge_command(reading, config, store)
    return _judge_reply(reading, config, store)


def _judge_bounce(reading: Reading, store: StateView | None) -> Decision:
    if store is None:
        detail = "delivery failure for " + ", ".join(reading.failed_addresses)
        return Decision(action="ignore", rule=RuleName.BOUNCE, detail=detail)
    proof = proven_bounce(reading, store)
    if proof is None:
        return Decision(
            action="ignore",
            rule=RuleName.BOUNCE_UNPROVEN,
            detail="a delivery report that returns no mail introd sent to "
            "the addresses it names; it changes nothing",
        )
    row, failed = proof
    return Decision(
        action="ignore",
        rule=RuleName.BOUNCE,
        detail="delivery failure for " + ", ".join(failed),
        bounced=Bounced(intro_id=row.intro_id, failed=failed),
    )


def proven_bounce(reading: Reading, store: StateView) -> tuple[OutboxRow, tuple[str, ...]] | None:
    """The mail introd sent that this bounce returns, and the failed addresses among its
    recipients; None when the bounce proves nothing. The proof is that mail's Message-ID
    inside the report (random, so only the mail's recipients and the servers on its way
    know it); an address counts only if that mail went to it."""
    for mid in reading.references:
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
    # a command's sender is checked always: the policies' switches are for requests
    refusal = not_owner(reading, config, command=True)
    if refusal is not None:
        return Decision(action="ignore", rule=RuleName.NOT_FROM_OWNER, detail=refusal)
    refusal = unauthenticated(reading, config)
    if refusal is not None:
        return Decision(action="ignore", rule=RuleName.UNAUTHENTICATED, detail=refusal)
    if cmd.verb == "status":
        return Decision(action="accept", rule=RuleName.OWNER_COMMAND, detail="status")
    if cmd.verb == "words" and (
        store is None
        or cmd.intro_id is None
        or getattr(store.intro(cmd.intro_id), "state", None) != "draft"
    ):
        # their own words only count on a draft: a reply that answers no draft and holds
        # no command: nothing to do
        return Decision(
            action="ignore", rule=RuleName.NOT_A_COMMAND, detail="the reply holds no command"
        )
    if cmd.intro_id is None:
        return Decision(action="ignore", rule=RuleName.NO_INTRO, detail=f"{cmd.verb}: which intro?")
    if store is None:
        return Decision(
            action="accept", rule=RuleName.OWNER_COMMAND, detail=f"{cmd.verb} {cmd.intro_id}"
        )
    intro = store.intro(cmd.intro_id)
    if intro is None:
        return Decision(
            action="ignore", rule=RuleName.UNKNOWN_INTRO, detail=f"no intro {cmd.intro_id}"
        )
    if intro.state not in COMMAND_STATES.get(cmd.verb, ()):
        return Decision(
            action="ignore",
            rule=RuleName.NOT_APPLICABLE,
            detail=f"{cmd.verb} does not apply to an intro in state {intro.state}",
        )
    actor = (reading.sender.email or "").lower() if reading.sender else ""
    if reading.from_delegate:
        conflict = delegate_conflict(actor, intro, cmd.verb, cmd.argument)
        if conflict:
            return Decision(action="ignore", rule=RuleName.DELEGATE_IS_PARTY, detail=conflict)
    return Decision(action="accept", rule=RuleName.OWNER_COMMAND, detail=f"{cmd.verb} {intro.id}")


def delegate_conflict(
    delegate: str, intro: IntroRow, verb: str, argument: str | None
) -> str | None:
    """Why DELEGATE (a delegate's address) may not let this intro go ahead: they would be its
    requester or target (the target a `pick`, a `target` or an approved suggestion would
    make, counted too). The judge asks it of a delegate's mail; the engine again once
    `pick`/`target` applied, and before it starts the intro a suggestion names."""
    if verb not in APPROVING:
        return None
    parties = {intro.requester_email, intro.target_email}
    if verb == "target":
        parties.add((argument or "").strip().lower())
    elif verb == "pick":
        try:
            parties.add((intro.candidates[int(argument or "0") - 1].get("email") or "").lower())
        except (ValueError, IndexError):
            pass
    elif verb == "approve" and intro.suggested:
        parties.add(str(intro.suggested.get("email") or "").strip().lower())
    if delegate.lower() in parties:
        return f"{delegate.lower()} is a party of intro {intro.id}; only the owner can approve it"
    return None


def _judge_reply(reading: Reading, config: Config, store: StateView | None) -> Decision:
    ans = reading.answer
    assert ans is not None
    if ans.intro_id is None:
        return Decision(action="ignore", rule=RuleName.NO_REFERENCE, detail="names no intro")
    if reading.token and ans.proof != "token":
        return Decision(action="ignore", rule=RuleName.BAD_TOKEN, detail="token not valid")
    if store is None:
        if ans.proof in ("token", "reference"):
            return Decision(
                action="accept", rule=RuleName.ANSWER, detail=f"{ans.answer} for {ans.intro_id}"
            )
        return Decision(
            action="ignore",
            rule=RuleName.NO_REFERENCE,
            detail="subject tag only: proves nothing",
        )
    role = proven_role(reading, store)
    if role is None:
        return Decision(
            action="ignore",
            rule=RuleName.NO_REFERENCE,
            detail="neither a token nor a reference to a mail introd sent",
        )
    intro = store.intro(ans.intro_id)
    if intro is None:
        return Decision(
            action="ignore", rule=RuleName.NO_REFERENCE, detail=f"no intro {ans.intro_id}"
        )
    rule, action, detail = _answer_for(reading, config, store, intro, role)
    return Decision(action=action, rule=rule, detail=detail, role=role)


def _answer_for(
    reading: Reading, config: Config, store: StateView, intro: IntroRow, role: Role
) -> tuple[RuleName, Literal["accept", "ignore"], str]:
    """What a proven party's answer to INTRO is: (rule, action, detail)."""
    ans = reading.answer
    assert ans is not None
    party_email = intro.requester_email if role == "requester" else intro.target_email
    sender = (reading.sender.email or "").lower() if reading.sender else ""
    if not config.accept_from_any_address and sender != (party_email or "").lower():
        return (
            RuleName.WRONG_SENDER,
            "ignore",
            f"answer for the {role} came from another address",
        )
    if intro.state == "details" and role == "requester":
        return (
            RuleName.DETAILS_ANSWER,
            "accept",
            "the requester answers the owner's question",
        )
    if intro.state == "introduced" and role == "requester":
        followup = store.followup(intro.id)
        if followup is not None and followup.status in ("sent", "reasked"):
            return (
                RuleName.FOLLOWUP_ANSWER,
                "accept",
                f"the requester says {ans.answer} to the follow-up",
            )
        if followup is not None and followup.status == "answered":
            return (
                RuleName.ALREADY_ANSWERED,
                "ignore",
                "the requester already answered the follow-up",
            )
    if intro.state not in ANSWERABLE:
        return RuleName.INTRO_ENDED, "ignore", f"intro {intro.id} is {intro.state}"
    party = store.parties(intro.id).get(role)
    if party is None or party.asked_at is None:
        return RuleName.NOT_ASKED, "ignore", f"the {role} was not asked yet"
    if party.status in ("yes", "no"):
        return (
            RuleName.ALREADY_ANSWERED,
            "ignore",
            f"the {role} already answered {party.status}",
        )
    return RuleName.ANSWER, "accept", f"{role} says {ans.answer}"


def proven_role(reading: Reading, store: StateView) -> Role | None:
    """The party a reply proves it answers for: the role of a valid token, or of the mail
    introd sent that its In-Reply-To/References name (for the intro it names)."""
    ans = reading.answer
    assert ans is not None
    if ans.proof == "token":
        return ans.role
    row = store.outbox_by_message_ids(list(reading.references))
    if row is not None and row.intro_id == ans.intro_id:
        return _PARTIES.get(row.role or "")
    return None


_PARTIES: dict[str, Role] = {"requester": "requester", "target": "target"}
