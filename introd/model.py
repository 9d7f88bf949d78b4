"""The values introd reasons about: people, requests, answers, decisions."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from introd.names import clean_name
from introd.rules import RuleName

Kind = Literal["request", "reply", "owner_command", "auto_reply", "bounce", "unknown"]
Role = Literal["requester", "target"]

# an intro in one of these states still waits for someone; the others are its ends
ACTIVE_STATES = ("review", "awaiting", "details", "draft", "snoozed")
END_STATES = (
    "introduced",
    "declined",
    "declined_by_target",
    "withdrawn",
    "expired",
    "cancelled",
    "ignored",
)
AnswerWord = Literal["yes", "no", "unclear"]
Action = Literal["accept", "decline", "review", "ignore"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    """Somebody named in mail: a name, an address, or both."""

    name: str | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        # every name is rebuilt where it is made: from mail, the state or the contacts
        if self.name is not None:
            object.__setattr__(self, "name", clean_name(self.name))

    @property
    def first_name(self) -> str:
        """How a mail greets the person: the first word of their name (titles left out), else the
        address's local part."""
        if not self.name:
            return (self.email or "").split("@")[0]
        return _first_name(self.name)

    def as_json(self) -> dict[str, Any]:
        """This value as `introd parse` prints it."""
        return {"name": self.name, "email": self.email}


@functools.lru_cache(maxsize=1024)  # a template greets the same people many times
def _first_name(name: str) -> str:
    words = [
        w
        for w in name.replace(",", " ").split()
        if w.rstrip(".").lower()
        not in {"mr", "ms", "mrs", "dr", "prof", "mme", "m", "herr", "frau", "sr", "sra"}
    ]
    return words[0] if words else name


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One contact an ambiguous name may stand for."""

    name: str
    email: str | None
    company: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IntroRequest:
    """What a forwarded request asks for, as read from the mail."""

    requester: Person | None
    target: Person | None
    reason: str | None
    blurb: str
    subject: str = ""
    candidates: tuple[Candidate, ...] = ()
    # the owner's own words above the forward, if any
    owner_note: str = ""
    # people who only passed the request on to the owner, outermost first
    forwarded_by: tuple[Person, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """This value as `introd parse` prints it."""
        out: dict[str, Any] = {
            "requester": self.requester.as_json() if self.requester else None,
            "target": self.target.as_json() if self.target else None,
            "reason": self.reason,
            "blurb": self.blurb,
        }
        if self.forwarded_by:
            out["forwarded_by"] = [p.as_json() for p in self.forwarded_by]
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """A party's answer as read from a reply."""

    intro_id: str | None
    role: Role | None
    answer: AnswerWord
    text: str = ""
    # how the reply proved itself: "token", "reference", or "" (nothing)
    proof: str = ""

    def as_json(self) -> dict[str, Any]:
        """This value as `introd parse` prints it."""
        return {"intro_id": self.intro_id, "role": self.role, "answer": self.answer}


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnerCommand:
    """An owner's instruction: approve / decline / cancel / status / pick / target."""

    verb: str
    intro_id: str | None
    argument: str | None = None
    # how a command in a reply proved its intro: "token", "reference", or "" (nothing)
    proof: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Bounced:
    """The mail introd sent that a bounce returns, as the bounce proved it."""

    # the intro that mail was about (None for mail about no intro, a digest say)
    intro_id: str | None
    # the failed addresses the bounce names that the mail went to
    failed: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What the judge decided for one mail: the action, the rule that decided and its detail, and
    what it proved."""

    action: Action
    rule: RuleName
    detail: str = ""
    template: str | None = None
    # the party a reply proved it answers for (token, or a reference to a mail introd
    # sent that party); None for any other mail and for a reply that proves nothing
    role: Role | None = None
    # what a proven bounce returns; None for any other mail and an unproven bounce
    bounced: Bounced | None = None

    def as_json(self) -> dict[str, Any]:
        """This value as `introd parse` prints it."""
        return {"action": self.action, "rule": self.rule, "detail": self.detail}


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """Everything read from one incoming mail, before state is consulted."""

    kind: Kind
    message_id: str | None
    sender: Person | None
    subject: str = ""
    request: IntroRequest | None = None
    answer: Answer | None = None
    command: OwnerCommand | None = None
    authenticated: bool = False
    from_owner: bool = False
    # from one of owner.delegates (who may command, but start intros only when
    # owner.delegates_may_forward is true)
    from_delegate: bool = False
    # addresses a bounce reports as failed
    failed_addresses: tuple[str, ...] = ()
    # why the mail was set aside, when it was
    problem: str = ""
    # the reading ran out of its budget (time, size, nesting); problem says which
    over_budget: bool = False
    # what the owner's (or a delegate's) authentication check found, passed or failed
    auth_reason: str = ""
    # the token in a recipient address (introd's reply address), valid or not
    token: str | None = None
    # the Message-IDs the mail cites: In-Reply-To, then References (a reply or a
    # command); the Message-IDs of introd's shape inside the report (a bounce)
    references: tuple[str, ...] = ()
    # the intro an automatic reply names, if any (it is noted, never answered)
    intro_id: str | None = None
    bounce: BounceReport | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BounceReport:
    """What a delivery report says beyond the failed addresses (``Reading.failed_addresses``)."""

    # the DSN status (5.1.1, ...), "" when none is given
    status: str = ""
    reason: str = ""
    # the returned mail's Message-ID, when the report names it
    original_message_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Forward:
    """A forwarded message found inside an owner's mail (the innermost one)."""

    # the owner's own words above the (outermost) forward; "" when none
    note: str
    # the original sender, from the forward header block or the attached message
    sender: Person | None
    subject: str = ""
    date: str = ""
    # the forwarded message's text (after its header block), as text; may still
    # hold the requester's signature, quoted history and list footers
    body: str = ""
    # which style was recognised, for logs and tests: "gmail", "outlook", "apple",
    # "thunderbird", "yahoo", "proton", "original_message", "rfc822", ...
    style: str = ""
    # how many forwards deep the innermost one is (1 = a plain forward)
    depth: int = 1
    # messages attached to the forwarded one (a forward of an attached forward)
    attached: tuple[Any, ...] = ()
