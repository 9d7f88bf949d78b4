"""The owner's policies: built-in rules in SPEC.md's order; the first that fires decides.

Each rule is a small class in a registry, looked up by its ``NAME``. A rule
reads the request, the config, the contacts and (when there is one) the
state; it returns a detail string when it fires, None otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Protocol

from .reading.asks import word_count
from .config import Config, RuleConfig
from .model import Decision, Reading

if TYPE_CHECKING:  # the rows' types only: the rules never open the state themselves
    from .state import FollowupRow, IntroRow, OutboxRow, PartyRow


class StateView(Protocol):
    """What the rules may read from the state (absent under `parse` with no state)."""

    def count_requests(
        self, *, requester: str | None = None, target: str | None = None, since: datetime
    ) -> int: ...

    def pair_history(self, requester: str, target: str) -> list[IntroRow]: ...

    def intro(self, intro_id: str) -> IntroRow | None: ...

    def parties(self, intro_id: str) -> dict[str, PartyRow]: ...

    def followup(self, intro_id: str) -> FollowupRow | None: ...

    def outbox_by_message_ids(self, message_ids: list[str]) -> OutboxRow | None: ...


class ContactsView(Protocol):
    def by_email(self, email: str): ...  # type: ignore[no-untyped-def]


@dataclass(frozen=True, slots=True, kw_only=True)
class Situation:
    reading: Reading
    config: Config
    contacts: ContactsView | None
    state: StateView | None
    now: datetime

    def param(self, rule: str, key: str) -> object:
        return self.config.policies[rule].params.get(key)


class Rule:
    NAME: ClassVar[str]

    def fires(self, s: Situation) -> str | None:
        raise NotImplementedError


RULES: dict[str, type[Rule]] = {}


def rule(cls: type[Rule]) -> type[Rule]:
    RULES[cls.NAME] = cls
    return cls


def _domain(email: str | None) -> str:
    return (email or "").rpartition("@")[2].lower()


@rule
class NotFromOwner(Rule):
    NAME = "not_from_owner"

    def fires(self, s: Situation) -> str | None:
        if s.reading.from_owner:
            return None
        sender = s.reading.sender.email if s.reading.sender else None
        if s.reading.from_delegate:
            if s.config.owner.delegates_may_forward:
                return None
            return (
                f"from the delegate {sender}: only the owner's forwards start intros "
                "(owner.delegates_may_forward is false)"
            )
        return f"from {sender or 'no address'}, not an owner address"


@rule
class Unauthenticated(Rule):
    NAME = "unauthenticated"

    def fires(self, s: Situation) -> str | None:
        if s.reading.authenticated or not s.config.auth_require:
            return None
        return str(s.reading.extra.get("auth_reason") or "authentication failed")


@rule
class NoTarget(Rule):
    NAME = "no_target"

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        if req is None or req.requester is None:
            return "no requester found in the forwarded message"
        if req.target is None:
            return "no specific person named"
        return None


@rule
class AmbiguousTarget(Rule):
    NAME = "ambiguous_target"

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
    NAME = "unknown_target"

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        if req is None or req.target is None or req.target.email:
            return None
        return f"no address known for {req.target.name}"


@rule
class NoReason(Rule):
    NAME = "no_reason"

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        if req is None:
            return None
        minimum = int(s.param(self.NAME, "min_words") or 0)  # type: ignore[call-overload]
        words = word_count(req.reason or "")
        if words == 0 or words < minimum:
            return f"no reason given ({words} words, {minimum} needed)"
        return None


@rule
class TargetOptedOut(Rule):
    NAME = "target_opted_out"

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
    NAME = "blocked_domain"

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        if req is None:
            return None
        blocked = set(s.param(self.NAME, "domains") or ())  # type: ignore[call-overload]
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
    NAME = "duplicate"

    def fires(self, s: Situation) -> str | None:
        pair = _pair(s)
        if pair is None or s.state is None:
            return None
        cooldown = s.param(self.NAME, "cooldown") or timedelta(days=180)
        for row in s.state.pair_history(*pair):
            if row.state in ("awaiting", "review"):
                return f"same request already {row.state} as {row.id}"
            if row.state == "introduced" and row.updated >= s.now - cooldown:  # type: ignore[operator]
                return f"already introduced as {row.id} on {row.updated:%Y-%m-%d}"
        return None


@rule
class DeclinedBefore(Rule):
    NAME = "declined_before"

    def fires(self, s: Situation) -> str | None:
        pair = _pair(s)
        if pair is None or s.state is None:
            return None
        cooldown = s.param(self.NAME, "cooldown") or timedelta(days=180)
        for row in s.state.pair_history(*pair):
            if row.state == "declined_by_target" and row.updated >= s.now - cooldown:  # type: ignore[operator]
                return f"the same introduction ended unanswered or declined as {row.id}"
        return None


class _Limit(Rule):
    COLUMN: ClassVar[str]

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        person = getattr(req, self.COLUMN, None) if req else None
        if person is None or not person.email or s.state is None:
            return None
        window = s.param(self.NAME, "window") or timedelta(days=30)
        limit = int(s.param(self.NAME, "max") or 0)  # type: ignore[call-overload]
        since = s.now - window  # type: ignore[operator]
        count = s.state.count_requests(**{self.COLUMN: person.email.lower()}, since=since)
        if count >= limit:
            return (
                f"{person.email} already {'made' if self.COLUMN == 'requester' else 'had'} "
                f"{count} requests in the last {window.days} days (max {limit})"
            )  # type: ignore[union-attr]
        return None


@rule
class RequesterLimit(_Limit):
    NAME = "requester_limit"
    COLUMN = "requester"


@rule
class TargetLimit(_Limit):
    NAME = "target_limit"
    COLUMN = "target"


@rule
class UnknownRequester(Rule):
    NAME = "unknown_requester"

    def fires(self, s: Situation) -> str | None:
        req = s.reading.request
        if req is None or req.requester is None or s.contacts is None:
            return None
        if req.requester.email and s.contacts.by_email(req.requester.email) is not None:
            return None
        return f"{req.requester.email or req.requester.name} is not in the contacts"


@rule
class ReviewAll(Rule):
    NAME = "review_all"

    def fires(self, s: Situation) -> str | None:
        return "the owner reviews every request"


def decide(situation: Situation) -> Decision:
    """Apply the rules in order; the first that fires decides, else `default` (accept)."""
    for name, cls in RULES.items():
        settings: RuleConfig = situation.config.policies[name]
        if not settings.enabled:
            continue
        detail = cls().fires(situation)
        if detail is None:
            continue
        template = settings.template if settings.action == "decline" else None
        return Decision(
            action=settings.action,
            rule=name,
            detail=detail,  # type: ignore[arg-type]
            template=template,
        )
    return Decision(action="accept", rule="default", detail="no rule fired")
