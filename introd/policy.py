"""The owner's policies: built-in rules in SPEC.md's order; the first that fires decides.

Each rule is a small class in a registry, looked up by its ``NAME``. A rule
reads the request, the config, the contacts and (when there is one) the
state; it returns a detail string when it fires, None otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Protocol, get_args

from .config import Config, RuleConfig
from .model import Action, Decision, Reading
from .reading.asks import word_count
from .rules import SENDER_RULES, RuleName

if TYPE_CHECKING:  # the rows' types only: the rules never open the state themselves
    from .reading.people import Contact
    from .state import FollowupRow, IntroRow, OutboxRow, PartyRow

__all__ = ["SENDER_RULES", "StateView", "Situation", "decide", "not_owner", "unauthenticated"]


class StateView(Protocol):
    """What the rules may read from the state (absent under `parse` with no state)."""

    def count_requests(
        self, *, requester: str | None = None, target: str | None = None, since: datetime
    ) -> int:
        """How many requests since SINCE named this requester or this target."""
        ...

    def pair_history(self, requester: str, target: str) -> list[IntroRow]:
        """Every intro between this requester and this target."""
        ...

    def intro(self, intro_id: str) -> IntroRow | None:
        """One intro by its id, or None."""
        ...

    def parties(self, intro_id: str) -> dict[str, PartyRow]:
        """The parties of an intro, by role."""
        ...

    def followup(self, intro_id: str) -> FollowupRow | None:
        """The follow-up of an introduced intro, or None."""
        ...

    def outbox_by_message_ids(self, message_ids: list[str]) -> OutboxRow | None:
        """The mail introd sent under one of these Message-IDs, or None."""
        ...


class ContactsView(Protocol):
    """What the rules may read from the contact book."""

    def by_email(self, email: str) -> Contact | None:
        """The contact with this address, or None."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Situation:
    """Everything a rule may look at for one mail: its reading, the config, contacts, state and the
    time."""

    reading: Reading
    config: Config
    contacts: ContactsView | None
    state: StateView | None
    now: datetime
    # the pair's history, read once for the rules that look at it
    _pairs: dict[tuple[str, str], list[IntroRow]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def pair_history(self, requester: str, target: str) -> list[IntroRow]:
        """Every intro between this requester and this target (empty without a state)."""
        if self.state is None:
            return []
        key = (requester, target)
        if key not in self._pairs:
            self._pairs[key] = self.state.pair_history(requester, target)
        return self._pairs[key]

    def number(self, rule: RuleName, key: str) -> int:
        """A rule's count setting (`max`, `min_words`); 0 when unset."""
        return int(self.config.policies[rule].params.get(key) or 0)

    def duration(self, rule: RuleName, key: str, default: timedelta) -> timedelta:
        """A rule's duration setting (`cooldown`, `window`); DEFAULT when unset. A 0 is
        taken at its word: no cooldown, an empty window."""
        value = self.config.policies[rule].params.get(key)
        return value if isinstance(value, timedelta) else default

    def names(self, rule: RuleName, key: str) -> tuple[str, ...]:
        """A rule's list setting (`domains`)."""
        return tuple(self.config.policies[rule].params.get(key) or ())


class Rule:
    """One policy rule: it fires (with a detail saying why) or it does not."""

    NAME: ClassVar[RuleName]

    def fires(self, s: Situation) -> str | None:
        """Why the rule applies to S, or None when it does not."""
        raise NotImplementedError


RULES: dict[RuleName, type[Rule]] = {}


def rule(cls: type[Rule]) -> type[Rule]:
    """Register a rule class under its name, in the order the module defines them."""
    RULES[cls.NAME] = cls
    return cls


def _domain(email: str | None) -> str:
    return (email or "").rpartition("@")[2].lower()


def not_owner(reading: Reading, config: Config, *, command: bool) -> str | None:
    """Why READING's sender may not act as the owner, None when they may. The owner may
    always; a delegate may command, but start an intro (forward a request) only with
    owner.delegates_may_forward; anyone else never. The one check of who sends, for
    requests (the not_from_owner rule) and commands (the judge)."""
    if reading.from_owner:
        return None
    if command:
        return None if reading.from_delegate else "command not from owner"
    sender = reading.sender.email if reading.sender else None
    if reading.from_delegate:
        if config.owner.delegates_may_forward:
            return None
        return (
            f"from the delegate {sender}: only the owner's forwards start intros "
            "(owner.delegates_may_forward is false)"
        )
    return f"from {sender or 'no address'}, not an owner address"


def unauthenticated(reading: Reading, config: Config) -> str | None:
    """Why the owner's (or a delegate's) From is not to be believed, None when it is: the
    MTA's authentication did not vouch for it (auth.require)."""
    if reading.authenticated or not config.auth_require:
        return None
    return reading.auth_reason or "authentication failed"


@rule
class NotFromOwner(Rule):
    """The request was not forwarded by the owner (or an allowed delegate)."""

    NAME = RuleName.NOT_FROM_OWNER

    def fires(self, s: Situation) -> str | None:
        return not_owner(s.reading, s.config, command=False)


@rule
class Unauthenticated(Rule):
    """The owner's From is not vouched for by the MTA's Authentication-Results."""

    NAME = RuleName.UNAUTHENTICATED

    def fires(self, s: Situation) -> str | None:
        return unauthenticated(s.reading, s.config)


@rule
class NoTarget(Rule):
    """No requester, or no specific person to be introduced to."""

    NAME = RuleName.NO_TARGET

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        if req is None or req.requester is None:
            return "no requester found in the forwarded message"
        if req.target is None:
            return "no specific person named"
        return None


@rule
class AmbiguousTarget(Rule):
    """The target's name matches several contacts."""

    NAME = RuleName.AMBIGUOUS_TARGET

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        if req is None or len(req.candidates) < 2:
            return None
        names = "; ".join(
            f"{i}. {c.name} <{c.email or 'no address'}>" + (f" — {c.company}" if c.company else "")
            for i, c in enumerate(req.candidates, 1)
        )
        return (
            f"'{req.target.name if req.target else '?'}' matches {len(req.candidates)} "
            f"contacts: {names}"
        )


@rule
class UnknownTarget(Rule):
    """The target is named, but no address is known for them."""

    NAME = RuleName.UNKNOWN_TARGET

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        if req is None or req.target is None or req.target.email:
            return None
        return f"no address known for {req.target.name}"


@rule
class NoReason(Rule):
    """The request gives no reason, or fewer words of one than no_reason.min_words."""

    NAME = RuleName.NO_REASON

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        if req is None:
            return None
        minimum = s.number(self.NAME, "min_words")
        words = word_count(req.reason or "")
        if words == 0 or words < minimum:
            return f"no reason given ({words} words, {minimum} needed)"
        return None


@rule
class TargetOptedOut(Rule):
    """The target's contact entry says introductions: never."""

    NAME = RuleName.TARGET_OPTED_OUT

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        if req is None or req.target is None or not req.target.email or s.contacts is None:
            return None
        contact = s.contacts.by_email(req.target.email)
        if contact is not None and getattr(contact, "introductions", "ask") == "never":
            return f"{req.target.email} does not take introductions"
        return None


@rule
class BlockedDomain(Rule):
    """The requester's or the target's address is in a blocked domain."""

    NAME = RuleName.BLOCKED_DOMAIN

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        if req is None:
            return None
        blocked = set(s.names(self.NAME, "domains"))
        for role, person in (("requester", req.requester), ("target", req.target)):
            d = _domain(person.email if person else None)
            if d and any(d == b or d.endswith("." + b) for b in blocked):
                return f"{role} domain {d} is blocked"
        return None


def _pair(s: Situation) -> tuple[str, str] | None:
    req = s.reading.request
    if req is None or req.requester is None or req.target is None:
        return None
    if not req.requester.email or not req.target.email:
        return None
    return req.requester.email.lower(), req.target.email.lower()


@rule
class Duplicate(Rule):
    """The same requester and target are already waiting, or were introduced within the cooldown."""

    NAME = RuleName.DUPLICATE

    def fires(self, s: Situation) -> str | None:
        pair = _pair(s)
        if pair is None or s.state is None:
            return None
        cooldown = s.duration(self.NAME, "cooldown", timedelta(days=180))
        for row in s.pair_history(*pair):
            if row.state in ("awaiting", "review"):
                return f"same request already {row.state} as {row.id}"
            if row.state == "introduced" and row.updated >= s.now - cooldown:
                return f"already introduced as {row.id} on {row.updated:%Y-%m-%d}"
        return None


@rule
class DeclinedBefore(Rule):
    """The same introduction was declined or went unanswered within the cooldown."""

    NAME = RuleName.DECLINED_BEFORE

    def fires(self, s: Situation) -> str | None:
        pair = _pair(s)
        if pair is None or s.state is None:
            return None
        cooldown = s.duration(self.NAME, "cooldown", timedelta(days=180))
        for row in s.pair_history(*pair):
            if row.state == "declined_by_target" and row.updated >= s.now - cooldown:
                return f"the same introduction ended unanswered or declined as {row.id}"
        return None


class _Limit(Rule):
    COLUMN: ClassVar[str]

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        person = getattr(req, self.COLUMN, None) if req else None
        if person is None or not person.email or s.state is None:
            return None
        window = s.duration(self.NAME, "window", timedelta(days=30))
        limit = s.number(self.NAME, "max")
        since = s.now - window
        count = s.state.count_requests(**{self.COLUMN: person.email.lower()}, since=since)
        if count >= limit:
            return (
                f"{person.email} already {'made' if self.COLUMN == 'requester' else 'had'} "
                f"{count} requests in the last {window.days} days (max {limit})"
            )
        return None


@rule
class RequesterLimit(_Limit):
    """The requester made requester_limit.max requests within its window."""

    NAME = RuleName.REQUESTER_LIMIT
    COLUMN = "requester"


@rule
class TargetLimit(_Limit):
    """The target was asked for target_limit.max times within its window."""

    NAME = RuleName.TARGET_LIMIT
    COLUMN = "target"


@rule
class UnknownRequester(Rule):
    """The requester is not in the contacts."""

    NAME = RuleName.UNKNOWN_REQUESTER

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        if req is None or req.requester is None or s.contacts is None:
            return None
        if req.requester.email and s.contacts.by_email(req.requester.email) is not None:
            return None
        return f"{req.requester.email or req.requester.name} is not in the contacts"


@rule
class ReviewAll(Rule):
    """The owner reviews every request."""

    NAME = RuleName.REVIEW_ALL

    def fires(self, s: Situation) -> str | None:
        return "the owner reviews every request"


_ACTIONS: dict[str, Action] = {a: a for a in get_args(Action)}


def decide(situation: Situation, *, names: Iterable[RuleName] | None = None) -> Decision:
    """Apply the rules in order (only NAMES, when given); the first that fires decides,
    else `default` (accept)."""
    only = None if names is None else set(names)
    for name, cls in RULES.items():
        if only is not None and name not in only:
            continue
        settings: RuleConfig = situation.config.policies[name]
        if not settings.enabled:
            continue
        detail = cls().fires(situation)
        if detail is None:
            continue
        template = settings.template if settings.action == "decline" else None
        action = _ACTIONS[settings.action]  # config.py admits only these
        return Decision(action=action, rule=name, detail=detail, template=template)
    return Decision(action="accept", rule=RuleName.DEFAULT, detail="no rule fired")
