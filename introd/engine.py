"""The life of an intro: act on each mail's decision (``introd.judge``), move intros
through their states, and put every mail that follows into the outbox in the same
transaction."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from .reading import answers, snooze, suggestion
from . import tokens
from .budget import Budget
from .config import Config
from .reading.people import ContactBook
from .exceptions import TemplateError, UsageError
from .judge import COMMAND_STATES, delegate_conflict, judge, placement
from .reading.language import guess_language
from .model import (
    ACTIVE_STATES,
    AnswerWord,
    Candidate,
    Decision,
    Forward,
    IntroRequest,
    Person,
    Reading,
)
from .reading import Context, read_mail, set_aside
from .reading.request import read_request
from .render import OWNER_TEMPLATES, Rendered, Templates, compose_bytes
from .rules import INCOMPLETE_RULES, REFUSED_COMMAND_RULES, SENDER_RULES, RuleName
from .state import IntroRow, Store, iso, parse_iso

log = structlog.get_logger("introd.engine")

# the state's note of the mail being read for longer than budget.SLOW_AFTER, as
# "folder:uidvalidity:uid"; cleared when that mail is recorded
SLOW_MAIL_KEY = "slow_mail"

__all__ = ["Engine", "IntroView", "Outcome", "judge"]


@dataclass(frozen=True, slots=True, kw_only=True)
class IntroView:
    """What templates see of an intro."""

    id: str
    reason: str | None
    blurb: str
    created: datetime
    expires: datetime | None
    state: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    reading: Reading
    decision: Decision
    intro_id: str | None
    # where the mail goes: "processed", "quarantine" or None (leave as it is)
    placement: str


class Engine:
    def __init__(
        self,
        config: Config,
        *,
        store: Store,
        templates: Templates,
        contacts: ContactBook,
        secret: bytes,
    ) -> None:
        self.config = config
        self.store = store
        self.templates = templates
        self.contacts = contacts
        self.secret = secret
        self.domain = config.from_address.domain or config.reply_address.partition("@")[2]
        self.budget_clock = time.process_time  # what a mail's reading time is measured on

    @property
    def context(self) -> Context:
        return Context(config=self.config, contacts=self.contacts, secret=self.secret)

    # -- one incoming mail ----------------------------------------------------
    def handle(
        self, raw: bytes, *, folder: str, uidvalidity: int, uid: int, now: datetime
    ) -> Outcome:
        reading, slow = self._read(raw, f"{folder}:{uidvalidity}:{uid}")
        seen_as = reading.message_id or _fingerprint(raw)
        with structlog.contextvars.bound_contextvars(uid=uid, kind=reading.kind):
            if reading.over_budget:
                log.warning("mail_over_budget", reason=reading.problem[:200])
            if self.store.seen_message_id(seen_as):
                decision = Decision(
                    action="ignore",
                    rule=RuleName.ALREADY_SEEN,
                    detail="this Message-ID was handled before",
                )
                with self.store.transaction():
                    self._record(seen_as, reading, decision, None, folder, uidvalidity, uid, now)
                    if slow:
                        self.store.delete_meta(SLOW_MAIL_KEY)
                log.info("mail_handled", action=decision.action, rule=decision.rule)
                return Outcome(
                    reading=reading, decision=decision, intro_id=None, placement="processed"
                )
            decision = judge(
                reading, config=self.config, contacts=self.contacts, store=self.store, now=now
            )
            try:
                with self.store.transaction():
                    intro_id = self.apply(reading, decision, now)
                    self._record(
                        seen_as, reading, decision, intro_id, folder, uidvalidity, uid, now
                    )
                    if slow:
                        self.store.delete_meta(SLOW_MAIL_KEY)
            except TemplateError as exc:
                # nothing of this mail happened: it stays in the folder and is tried again
                if slow:
                    self.store.delete_meta(SLOW_MAIL_KEY)
                self.template_failed(exc, now)
                return Outcome(reading=reading, decision=decision, intro_id=None, placement="wait")
            log.info(
                "mail_handled",
                action=decision.action,
                rule=decision.rule,
                intro_id=intro_id,
                detail=decision.detail[:200],
            )
        return Outcome(
            reading=reading,
            decision=decision,
            intro_id=intro_id,
            placement=placement(reading.kind, decision.action, decision.rule),
        )

    def _read(self, raw: bytes, where: str) -> tuple[Reading, bool]:
        """Read one mail within its budget; (reading, whether it was slow). A mail that
        was still being read when introd last stopped (killed by the OOM killer or the
        watchdog, say) is not read again: that could stop introd again, for ever."""
        if self.store.get_meta(SLOW_MAIL_KEY) == where:
            return set_aside(
                "over budget: introd stopped while reading this mail", over_budget=True
            ), True
        limits = Budget(
            clock=self.budget_clock, on_slow=lambda: self.store.set_meta(SLOW_MAIL_KEY, where)
        )
        reading = read_mail(raw, self.context, limits=limits)
        return reading, limits.slow

    def _record(
        self,
        seen_as: str,
        reading: Reading,
        decision: Decision,
        intro_id: str | None,
        folder: str,
        uidvalidity: int,
        uid: int,
        now: datetime,
    ) -> None:
        self.store.record_message(
            folder=folder,
            uidvalidity=uidvalidity,
            uid=uid,
            message_id=seen_as,
            kind=reading.kind,
            intro_id=intro_id,
            action=decision.action,
            rule=decision.rule,
            now=now,
        )

    def apply(self, reading: Reading, decision: Decision, now: datetime) -> str | None:
        """Carry out a decision; returns the intro it concerns. Call inside a transaction."""
        if reading.kind == "request" and decision.rule not in SENDER_RULES:
            return self._new_intro(reading, decision, now)
        if decision.action == "accept":
            if reading.kind == "reply":
                return self._answer(reading, decision, now)
            if reading.kind == "owner_command":
                return self._command(reading, now)
            return None
        if reading.kind == "owner_command" and decision.rule in REFUSED_COMMAND_RULES:
            self.refuse_command(reading, decision, now)
        if reading.kind == "bounce" and decision.rule == RuleName.BOUNCE:
            self._bounced(reading, decision, now)
        if reading.kind == "reply" and decision.rule == RuleName.INTRO_ENDED:
            self._late_answer(reading, decision, now)
        intro_id = (reading.answer.intro_id if reading.answer else None) or reading.intro_id
        if intro_id and self.store.intro_exists(intro_id):
            self.store.add_event(
                intro_id,
                f"{reading.kind}_ignored",
                now,
                rule=decision.rule,
                detail=decision.detail,
            )
            return intro_id
        return None

    # -- requests ---------------------------------------------------------------
    def _new_intro(self, reading: Reading, decision: Decision, now: datetime) -> str:
        req = reading.request
        assert req is not None
        state = {
            "accept": "awaiting",
            "review": "review",
            "decline": "declined",
            "ignore": "ignored",
        }[decision.action]
        requester, target = req.requester, req.target
        intro = self.store.add_new_intro(
            tokens.new_intro_id,
            state=state,
            created=now,
            updated=now,
            expires=now + self.config.expire_after if state == "awaiting" else None,
            requester_name=requester.name if requester else None,
            requester_email=(requester.email or "").lower() or None if requester else None,
            target_name=target.name if target else None,
            target_email=(target.email or "").lower() or None if target else None,
            reason=req.reason,
            blurb=req.blurb,
            subject=req.subject or reading.subject,
            source_message_id=reading.message_id,
            rule=decision.rule,
            action=decision.action,
            detail=decision.detail,
            candidates=[
                {"name": c.name, "email": c.email, "company": c.company} for c in req.candidates
            ],
            forwarded_by=[p.as_json() for p in req.forwarded_by],
            optin_order=self.config.optin_order,
        )
        intro_id = intro.id
        self.store.add_event(
            intro_id,
            "request_received",
            now,
            rule=decision.rule,
            action=decision.action,
            detail=decision.detail,
            message_id=reading.message_id,
        )
        log.info("intro_created", intro_id=intro_id, state=state, rule=decision.rule)
        self._learn_language(requester.email if requester else None, req.blurb)
        if state == "awaiting":
            self._start_optins(intro, now)
        elif state == "review":
            self._ask_owner(intro, now, rule=decision.rule, detail=decision.detail)
        elif state == "declined" and intro.requester_email:
            self._mail(decision.template or "decline_policy", intro, "requester", now)
        return intro_id

    def _intro(self, intro_id: str) -> IntroRow:
        intro = self.store.intro(intro_id)
        if intro is None:
            raise UsageError(f"no intro {intro_id}")
        return intro

    def _start_optins(self, intro: IntroRow, now: datetime) -> None:
        self.store.insert_parties(intro.id, ("requester", "target"))
        first = {
            "parallel": ("requester", "target"),
            "requester_first": ("requester",),
            "target_first": ("target",),
        }[intro.optin_order]
        for role in first:
            self._ask(intro, role, now)

    def _ask(self, intro: IntroRow, role: str, now: datetime) -> None:
        mid = self._mail(f"optin_{role}", intro, role, now, event=("optin_sent", {"role": role}))
        self.store.update_party(intro.id, role, status="asked", asked_at=now, optin_message_id=mid)

    def _ask_owner(
        self,
        intro: IntroRow,
        now: datetime,
        *,
        rule: str,
        detail: str,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self._mail(
            "review",
            intro,
            "owner",
            now,
            extra={
                "rule": rule,
                "detail": detail,
                "review_reason": _review_reason(rule, detail),
                **(extra or {}),
            },
        )
        self.store.add_event(intro.id, "review_requested", now, rule=rule)

    # -- answers ----------------------------------------------------------------
    def _answer(self, reading: Reading, decision: Decision, now: datetime) -> str:
        ans, role = reading.answer, decision.role
        assert ans is not None and ans.intro_id is not None and role is not None
        intro = self._intro(ans.intro_id)
        if intro.state == "introduced":
            return self._followup_answer(intro, reading, now)
        if intro.state == "details":
            return self._details_answer(intro, reading, now)
        if intro.state == "snoozed" and role == "target":
            # the target answers before the day: the intro goes on from their answer
            self._wake(intro, now, reason="answered")
            intro = self._intro(intro.id)
        parties = self.store.parties(intro.id)
        self.store.add_event(
            intro.id,
            "answer_received",
            now,
            role=role,
            answer=ans.answer,
            message_id=reading.message_id,
        )
        log.info("answer_read", intro_id=intro.id, role=role, answer=ans.answer)
        self._learn_language(
            intro.requester_email if role == "requester" else intro.target_email, ans.text
        )
        other = "target" if role == "requester" else "requester"
        if role == "target" and ans.answer != "yes":
            if self._suggestion(intro, ans.text, now) or self._snooze(intro, ans.text, now):
                return intro.id
        answer = self._put_off_as_unclear(intro, role, ans.answer, ans.text, now)
        if answer == "yes":
            self.store.update_party(intro.id, role, status="yes", answered_at=now)
            if role == "requester":
                note = _note_from(ans.text)
                if note:
                    self.store.update_intro(intro.id, now, requester_note=note)
                    intro = self._intro(intro.id)
            other_party = parties.get(other)
            if other_party is not None and other_party.status == "yes":
                self._both_said_yes(intro, now)
            elif other_party is not None and other_party.asked_at is None:
                self._ask(intro, other, now)
        elif answer == "no":
            self.store.update_party(intro.id, role, status="no", answered_at=now)
            if role == "target":
                self._end(intro, "declined_by_target", now)
                self._mail("declined_by_target", intro, "requester", now)
                self._mail("thanks_target", intro, "target", now)
            else:
                target_party = parties.get("target")
                self._end(intro, "withdrawn", now)
                if target_party is not None and target_party.status == "yes":
                    self._mail("withdrawn", intro, "target", now)
        else:
            party = parties[role]
            if party.reasks == 0:
                self.store.update_party(intro.id, role, status="asked", reasks=1)
                self._mail(
                    "reask", intro, role, now, extra={"previous_answer_excerpt": _excerpt(ans.text)}
                )
                self.store.add_event(intro.id, "reask_sent", now, role=role)
            else:
                self.store.update_party(intro.id, role, status="unclear", answered_at=now)
                self.store.update_intro(intro.id, now, state="review", rule=RuleName.UNCLEAR_ANSWER)
                self._ask_owner(
                    self._intro(intro.id),
                    now,
                    rule=RuleName.UNCLEAR_ANSWER,
                    detail=f"the {role} answered twice without a clear yes or no",
                )
        return intro.id

    def _put_off_as_unclear(
        self, intro: IntroRow, role: str, answer: AnswerWord, text: str, now: datetime
    ) -> AnswerWord:
        """Without optin.snooze, a target's "not now, maybe in March" is not taken as a no:
        it is unclear, and asked again like any unclear answer."""
        if role != "target" or answer != "no" or self.config.snooze:
            return answer
        if snooze.snooze_until(text, now) is None:
            return answer
        log.info("answer_put_off", intro_id=intro.id, role=role, answer="unclear")
        return "unclear"

    # -- "not me, but ask Jane Roe <jane@...>" -------------------------------------------
    def _suggestion(self, intro: IntroRow, text: str, now: datetime) -> bool:
        """A target's answer that names someone else instead of them goes to the owner as
        a review with that person, who is mailed only if the owner approves; whether it
        did. The address comes from the target's own new text only, and is never the
        owner's, a delegate's, introd's own, the requester's or the target's."""
        if intro.state != "awaiting":
            return False
        cfg = self.config
        excluded = [
            *cfg.owner.addresses,
            *cfg.owner.delegates,
            cfg.intro_address,
            cfg.reply_address,
            str(cfg.from_address.addr_spec),
            intro.requester_email or "",
            intro.target_email or "",
            str((intro.suggested_by or {}).get("email") or ""),
        ]
        person = suggestion.suggested_person(text, excluded=excluded)
        if person is None or not person.email:
            return False
        if not person.name:
            contact = self.contacts.by_email(person.email)
            person = Person(name=contact.name if contact else None, email=person.email)
        detail = "the target is not the right person and suggests someone else"
        self.store.update_party(intro.id, "target", status="no", answered_at=now)
        self.store.update_intro(
            intro.id,
            now,
            state="review",
            expires=None,
            rule=RuleName.SUGGESTED_TARGET,
            action="review",
            detail=detail,
            suggested=person.as_json(),
        )
        self.store.add_event(intro.id, "state_changed", now, state="review")
        self.store.add_event(intro.id, "suggestion_received", now, role="target")
        log.info("suggestion_received", intro_id=intro.id)
        self._ask_owner(
            self._intro(intro.id),
            now,
            rule=RuleName.SUGGESTED_TARGET,
            detail=detail,
            extra={"suggestion_excerpt": _excerpt(text, 400)},
        )
        return True

    def _approve_suggestion(
        self, intro: IntroRow, now: datetime, *, by: str | None, address: str | None
    ) -> str:
        """The owner approves the target's suggestion (or gives another address): a new
        intro from the same requester, reason and request to that person, who gets the
        usual opt-in ask; the first intro ends as the target's no, without more mail.
        Returns the new intro's id."""
        suggested = intro.suggested or {}
        email = (address or str(suggested.get("email") or "")).strip().lower()
        if "@" not in email:
            raise UsageError(f"intro {intro.id} has no suggested address: approve ID --target")
        contact = self.contacts.by_email(email)
        if contact is not None and getattr(contact, "introductions", "ask") == "never":
            raise UsageError(f"{email} asked never to be introduced (contacts)")
        if email in (intro.requester_email, *self.config.owner.addresses):
            raise UsageError(f"{email} cannot be the person introduced in {intro.id}")
        if by and by in self.config.owner.delegates:
            conflict = delegate_conflict(by, intro, "target" if address else "approve", address)
            if conflict:
                raise UsageError(conflict)
        name = suggested.get("name") if not address else None
        new_id = self.store.add_new_intro(
            tokens.new_intro_id,
            state="awaiting",
            created=now,
            updated=now,
            expires=now + self.config.expire_after,
            requester_name=intro.requester_name,
            requester_email=intro.requester_email,
            target_name=name or (contact.name if contact else None),
            target_email=email,
            reason=intro.reason,
            blurb=intro.blurb,
            subject=intro.subject,
            source_message_id=None,
            rule=RuleName.SUGGESTED_TARGET,
            action="accept",
            detail=f"suggested by the target of intro {intro.id}, approved",
            candidates=[],
            forwarded_by=intro.forwarded_by,
            optin_order=self.config.optin_order,
            suggested_by={
                "name": intro.target_name,
                "email": intro.target_email,
                "intro_id": intro.id,
            },
        ).id
        self.store.add_event(
            new_id,
            "request_received",
            now,
            rule=RuleName.SUGGESTED_TARGET,
            action="accept",
            detail=f"suggested in intro {intro.id}",
        )
        self.store.add_event(
            intro.id, "suggestion_approved", now, by=by or "shell", new_intro=new_id
        )
        self._end(intro, "declined_by_target", now)
        log.info("suggestion_approved", intro_id=intro.id, new_intro_id=new_id)
        self._start_optins(self._intro(new_id), now)
        return new_id

    def _decline_suggestion(self, intro: IntroRow, now: datetime) -> None:
        """The owner declines the suggestion: the target's no stands, with its usual mail."""
        self.store.add_event(intro.id, "suggestion_declined", now)
        log.info("suggestion_declined", intro_id=intro.id)
        self._end(intro, "declined_by_target", now)
        self._mail("declined_by_target", intro, "requester", now)
        self._mail("thanks_target", intro, "target", now)

    # -- "not now, maybe in March" -----------------------------------------------------
    def _snooze(self, intro: IntroRow, text: str, now: datetime) -> bool:
        """With optin.snooze, a target's answer that puts itself off to a day snoozes the
        intro until then (once per intro); whether it did."""
        if not self.config.snooze or intro.state != "awaiting":
            return False
        until = snooze.snooze_until(text, now)
        if until is None:
            return False
        if any(e["event"] == "snoozed" for e in self.store.events(intro.id)):
            log.info("snooze_refused", intro_id=intro.id, reason="snoozed once already")
            return False
        self.store.update_party(intro.id, "target", status="snoozed", answered_at=now)
        self.store.update_intro(intro.id, now, state="snoozed", expires=None, snoozed_until=until)
        self.store.add_event(intro.id, "state_changed", now, state="snoozed")
        self.store.add_event(intro.id, "snoozed", now, role="target", until=iso(until))
        log.info("intro_snoozed", intro_id=intro.id, until=iso(until))
        return True

    def _wake(self, intro: IntroRow, now: datetime, *, reason: str) -> None:
        """The snooze ends: on its day the target is asked again, once (``due``); or the
        target answered before it (``answered``). The intro waits again, for
        optin.expire_after."""
        self.store.update_intro(
            intro.id, now, state="awaiting", expires=now + self.config.expire_after
        )
        self.store.add_event(intro.id, "state_changed", now, state="awaiting")
        self.store.add_event(intro.id, "snooze_ended", now, reason=reason)
        log.info("snooze_ended", intro_id=intro.id, reason=reason)
        target = self.store.parties(intro.id).get("target")
        if reason != "due":
            self.store.update_party(intro.id, "target", status="asked")
            return
        if target is not None and target.status == "failed":
            # the address bounced while the intro slept: no mail to it; the intro expires
            log.info("snooze_wake_skipped", intro_id=intro.id, reason="target bounced")
            return
        mid = self._mail(
            "optin_snoozed_again",
            self._intro(intro.id),
            "target",
            now,
            extra={"snoozed_at": target.answered_at if target else None},
        )
        # asked again once: no reminder follows it
        self.store.update_party(
            intro.id,
            "target",
            status="asked",
            asked_at=now,
            reminded_at=now,
            optin_message_id=mid,
        )
        self.store.add_event(intro.id, "optin_sent", now, role="target", again=True)

    def _late_answer(self, reading: Reading, decision: Decision, now: datetime) -> None:
        """One short note, once per party and intro, to an answer after the end."""
        assert reading.answer is not None and reading.answer.intro_id is not None
        role = decision.role
        intro = self.store.intro(reading.answer.intro_id)
        if role is None or intro is None or intro.state in ("cancelled", "ignored"):
            return
        if any(
            e["event"] == "late_answer_sent" and e.get("role") == role
            for e in self.store.events(intro.id)
        ):
            return
        self._mail("late_answer", intro, role, now)
        self.store.add_event(intro.id, "late_answer_sent", now, role=role)

    def _introduce(self, intro: IntroRow, now: datetime, owner_text: str | None = None) -> None:
        self._end(intro, "introduced", now)
        self._mail(
            "introduction",
            intro,
            "both",
            now,
            extra={"owner_text": owner_text} if owner_text else None,
        )
        self.store.insert_followup(intro.id, now)

    # -- the owner's last word ------------------------------------------------------
    def _both_said_yes(self, intro: IntroRow, now: datetime) -> None:
        """Introduce them, or first show the owner the draft (owner_reviews_introduction)."""
        if not self.config.owner_reviews_introduction:
            self._introduce(intro, now)
            return
        self.store.update_intro(intro.id, now, state="draft", expires=None)
        self.store.add_event(intro.id, "state_changed", now, state="draft")
        self.store.insert_party(intro.id, "owner")
        self.store.update_party(intro.id, "owner", status="asked", asked_at=now)
        self._send_draft(self._intro(intro.id), now, first_sent=None)
        log.info("introduction_drafted", intro_id=intro.id)

    def _send_draft(self, intro: IntroRow, now: datetime, *, first_sent: datetime | None) -> None:
        """The introduction as it would go, to the owner: `send`, or their own words."""
        context = self.render_context(intro, "both")
        language = mail_language(self.config, "introduction", intro, "both", self._known_language)
        try:
            rendered = self.templates.render("introduction", context, language=language)
        except TemplateError as exc:
            raise TemplateError(str(exc), template="introduction") from None
        self._mail(
            "introduction_draft",
            intro,
            "owner",
            now,
            extra={
                "introduction": rendered.text,
                "introduction_subject": rendered.subject,
                "first_sent": first_sent,
            },
        )
        self.store.add_event(intro.id, "draft_sent", now, reminder=first_sent is not None)

    # -- after the introduction -----------------------------------------------------
    def _send_followup(self, intro_id: str, now: datetime) -> None:
        """The one follow-up: did the requester and the target connect?"""
        with self.store.transaction():
            intro = self._intro(intro_id)
            followup = self.store.followup(intro.id)
            if intro.state != "introduced" or followup is None or followup.status != "pending":
                return
            if not intro.requester_email or intro.requester_email == "forgotten":
                self.store.update_followup(intro.id, status="skipped")
                return
            self._mail(
                "followup",
                intro,
                "requester",
                now,
                extra={
                    "again": False,
                    "previous_answer_excerpt": "",
                    "introduced_at": followup.introduced_at,
                },
            )
            self.store.update_followup(intro.id, status="sent", sent_at=now, asks=1)
            self.store.add_event(intro.id, "followup_sent", now, role="requester")
            log.info("followup_sent", intro_id=intro.id)

    def _followup_answer(self, intro: IntroRow, reading: Reading, now: datetime) -> str:
        """The requester's answer to the follow-up: yes is met, no is not met, an unclear
        answer is asked once more; a thank-you is kept for the owner."""
        ans = reading.answer
        assert ans is not None
        followup = self.store.followup(intro.id)
        assert followup is not None
        thanks = _excerpt(ans.text, 500) if answers.thanks_in(ans.text) else None
        fields: dict[str, Any] = {"answer": ans.answer, "answered_at": now}
        if thanks:
            fields["thanks"] = thanks
        outcome = {"yes": "met", "no": "not_met"}.get(ans.answer)
        if outcome:
            fields.update(status="answered", outcome=outcome)
        elif followup.status == "sent":
            fields.update(status="reasked", asks=followup.asks + 1)
        else:
            fields.update(status="answered")
        self.store.update_followup(intro.id, **fields)
        self.store.add_event(
            intro.id,
            "followup_answered",
            now,
            answer=ans.answer,
            outcome=outcome,
            thanks=bool(thanks),
            message_id=reading.message_id,
        )
        log.info(
            "followup_answered",
            intro_id=intro.id,
            answer=ans.answer,
            outcome=outcome,
            thanks=bool(thanks),
        )
        if fields["status"] == "reasked":
            self._mail(
                "followup",
                intro,
                "requester",
                now,
                extra={
                    "again": True,
                    "previous_answer_excerpt": _excerpt(ans.text),
                    "introduced_at": followup.introduced_at,
                },
            )
            self.store.add_event(intro.id, "followup_sent", now, role="requester", again=True)
            log.info("followup_sent", intro_id=intro.id, again=True)
        return intro.id

    def _end(self, intro: IntroRow, state: str, now: datetime) -> None:
        self.store.update_intro(intro.id, now, state=state)
        self.store.add_event(intro.id, "state_changed", now, state=state)
        log.info("intro_ended", intro_id=intro.id, state=state)

    # -- owner commands -----------------------------------------------------------
    def _command(self, reading: Reading, now: datetime) -> str | None:
        """An owner's command by mail: apply it and confirm by mail."""
        cmd = reading.command
        assert cmd is not None
        if cmd.verb == "status" or cmd.intro_id is None:
            log.info("owner_status_requested")
            self._notify_owner(None, now, "Status of your introductions", self._status_lines())
            return None
        by = (reading.sender.email or "").lower() if reading.sender else None
        try:
            with self.store.savepoint():
                intro_id = self.owner_action(
                    cmd.verb, cmd.intro_id, now, argument=cmd.argument, by=by
                )
        except UsageError as exc:
            intro = self.store.intro(cmd.intro_id)
            self._notify_owner(
                intro,
                now,
                f"Could not {cmd.verb} {cmd.intro_id}",
                [f"I could not do that: {exc}.", "Nothing was changed."],
            )
            return intro.id if intro else None
        intro = self._intro(intro_id)
        self._notify_owner(
            intro,
            now,
            f"Done: {cmd.verb} {intro.id}",
            [_CONFIRMATIONS.get(intro.state, f"Intro {intro.id} is now {intro.state}.")],
        )
        return intro_id

    def refuse_command(self, reading: Reading, decision: Decision, now: datetime) -> None:
        """An authenticated owner's command that cannot apply gets one explaining note."""
        cmd = reading.command
        assert cmd is not None
        intro = self.store.intro(cmd.intro_id) if cmd.intro_id else None
        self._notify_owner(
            intro,
            now,
            f"Could not {cmd.verb} {cmd.intro_id or ''}".strip(),
            [f"I could not do that: {decision.detail}.", "Nothing was changed."],
        )

    def _status_lines(self) -> list[str]:
        counts = self.store.count_by_state()
        lines = [
            f"Waiting for answers: {counts.get('awaiting', 0)}",
            f"Waiting for you (review): {counts.get('review', 0)}",
            f"Snoozed (the target asked to be asked later): {counts.get('snoozed', 0)}",
            f"Introductions made so far: {counts.get('introduced', 0)}",
            f"Mails waiting in the outbox: {self.store.outbox_depth()}",
        ]
        for intro in self.store.intros(state="review", limit=20):
            lines.append(
                f"  {intro.id}: {intro.requester_name or intro.requester_email} -> "
                f"{intro.target_name or intro.target_email or '?'} ({intro.rule})"
            )
        return lines

    def _notify_owner(
        self, intro: IntroRow | None, now: datetime, headline: str, lines: list[str]
    ) -> None:
        self._mail(
            "owner_notice", intro, "owner", now, extra={"headline": headline, "lines": lines}
        )

    def owner_action(
        self,
        verb: str,
        intro_id: str,
        now: datetime,
        argument: str | None = None,
        by: str | None = None,
    ) -> str:
        """approve / pick / target / decline / cancel, from a reply or from the shell.

        ``by`` is who acts: the owner's or a delegate's address (mail), None for the shell.
        """
        intro = self._intro(intro_id.upper())
        if intro.state not in COMMAND_STATES.get(verb, ()):
            raise UsageError(f"{verb} does not apply to intro {intro.id} ({intro.state})")
        self.store.add_event(
            intro.id, "owner_command", now, verb=verb, argument=argument, by=by or "shell"
        )
        log.info(
            "owner_command_applied",
            intro_id=intro.id,
            verb=verb,
            by_delegate=bool(by and by in self.config.owner.delegates),
        )
        if intro.state == "review" and intro.rule == RuleName.SUGGESTED_TARGET and intro.suggested:
            done = self._on_suggestion(intro, verb, argument, now, by=by)
            if done is not None:
                return done
        if verb in ("pick", "target"):
            self._choose_target(intro, verb, argument, now)
            verb = "approve"
        intro = self._intro(intro.id)
        if by and by in self.config.owner.delegates:
            conflict = delegate_conflict(by, intro, verb, None)
            if conflict:
                raise UsageError(conflict)
        if verb == "approve":
            self._approve(intro, now)
        elif verb == "decline":
            self._end(intro, "declined", now)
            if intro.requester_email:
                self._mail("decline_policy", intro, "requester", now)
        elif verb == "cancel":
            self._end(intro, "cancelled", now)
        elif verb == "details":
            self._ask_details(intro, argument, now, by=by)
        elif verb in ("send", "words"):
            if verb == "words" and not (argument or "").strip():
                raise UsageError("your reply holds no text to send")
            self.store.update_party(intro.id, "owner", status="yes", answered_at=now)
            self._introduce(intro, now, owner_text=argument if verb == "words" else None)
            log.info("introduction_sent_by_owner", intro_id=intro.id, own_words=verb == "words")
        return intro.id

    def _on_suggestion(
        self, intro: IntroRow, verb: str, argument: str | None, now: datetime, *, by: str | None
    ) -> str | None:
        """The owner's verb on a target's suggestion in review: approve (or `target`
        another address) starts the intro to that person, decline lets the target's no
        stand; the intro it leaves, or None for a verb that works as on any review."""
        if verb in ("approve", "target"):
            address = argument if verb == "target" else None
            return self._approve_suggestion(intro, now, by=by, address=address)
        if verb == "decline":
            self._decline_suggestion(intro, now)
            return intro.id
        if verb == "pick":
            raise UsageError(f"intro {intro.id} has no candidates to pick from")
        return None

    def _choose_target(
        self, intro: IntroRow, verb: str, argument: str | None, now: datetime
    ) -> None:
        """The target of an intro in review, named by the owner: `pick N` (the Nth candidate)
        or `target ADDRESS`."""
        if verb == "pick":
            try:
                chosen = intro.candidates[int(argument or "0") - 1]
            except (ValueError, IndexError):
                raise UsageError(f"intro {intro.id} has no candidate {argument}") from None
            if not chosen.get("email"):
                raise UsageError(f"candidate {argument} of {intro.id} has no address")
            self.store.update_intro(
                intro.id, now, target_name=chosen["name"], target_email=chosen["email"].lower()
            )
            return
        address = (argument or "").strip().lower()
        if "@" not in address:
            raise UsageError(f"not an address: {argument}")
        contact = self.contacts.by_email(address)
        name = contact.name if contact else intro.target_name
        self.store.update_intro(intro.id, now, target_email=address, target_name=name)

    def _approve(self, intro: IntroRow, now: datetime) -> None:
        """An intro in review goes ahead: both are asked (or, back from review after an
        unclear answer, that party once more)."""
        if not intro.requester_email or not intro.target_email:
            raise UsageError(
                f"intro {intro.id} needs a target address: approve {intro.id} --target ADDRESS"
            )
        self.store.update_intro(
            intro.id, now, state="awaiting", expires=now + self.config.expire_after
        )
        intro = self._intro(intro.id)
        parties = self.store.parties(intro.id)
        if parties:  # back from review after an unclear answer: ask that party once more
            for role, party in parties.items():
                if party.status == "unclear":
                    self.store.update_party(intro.id, role, status="asked")
                    self._mail("reask", intro, role, now, extra={"previous_answer_excerpt": ""})
                    self.store.add_event(intro.id, "reask_sent", now, role=role)
        else:
            self._start_optins(intro, now)
        log.info("intro_approved", intro_id=intro.id)

    # -- asking the requester for details ---------------------------------------------
    def _ask_details(
        self, intro: IntroRow, question: str | None, now: datetime, *, by: str | None
    ) -> None:
        """Send the requester the owner's question; their answer completes the request."""
        if not question or not question.strip():
            raise UsageError("details needs your question on the lines below it")
        if not intro.requester_email or intro.requester_email == "forgotten":
            raise UsageError(f"intro {intro.id} has no requester address to ask")
        if self.store.parties(intro.id):
            raise UsageError(f"intro {intro.id} has already been put to both people")
        if any(e["event"] == "details_asked" for e in self.store.events(intro.id)):
            raise UsageError(f"the requester of {intro.id} was asked for details once already")
        question = question.strip()
        self.store.update_intro(
            intro.id, now, state="details", expires=now + self.config.expire_after
        )
        intro = self._intro(intro.id)
        self._mail("ask_details", intro, "requester", now, extra={"question": question})
        self.store.add_event(intro.id, "details_asked", now, by=by or "shell", question=question)
        log.info("details_asked", intro_id=intro.id)

    def _details_answer(self, intro: IntroRow, reading: Reading, now: datetime) -> str:
        """The requester's answer, read as an addition to the request, which is judged again
        as if it had come that way. One round: still incomplete, it goes to the owner."""
        ans = reading.answer
        assert ans is not None
        requester = Person(name=intro.requester_name, email=intro.requester_email)
        cfg = self.config
        # the answer on its own names the person and the reason; what it leaves out
        # comes from the request as it was
        fwd = Forward(note="", sender=requester, subject=intro.subject, body=ans.text)
        added = read_request(
            body=ans.text,
            forward=fwd,
            subject=intro.subject,
            owner_addresses=cfg.owner.addresses,
            intro_address=cfg.intro_address,
            owner_name=cfg.owner.name,
            contacts=self.contacts,
        )
        before = (
            Person(name=intro.target_name, email=intro.target_email)
            if intro.target_name or intro.target_email
            else None
        )
        candidates = (
            added.candidates
            if added.target
            else tuple(
                Candidate(name=c["name"], email=c.get("email"), company=c.get("company"))
                for c in intro.candidates
            )
        )
        blurb = "\n\n".join(p for p in (intro.blurb.strip(), added.blurb.strip()) if p)
        req = IntroRequest(
            requester=requester,
            target=added.target or before,
            reason=added.reason or intro.reason,
            blurb=blurb,
            subject=intro.subject,
            candidates=candidates,
        )
        again = Reading(
            kind="request",
            message_id=reading.message_id,
            sender=Person(name=cfg.owner.name, email=cfg.owner.email),
            subject=intro.subject,
            request=req,
            authenticated=True,
            from_owner=True,
        )
        decision = judge(again, config=cfg, contacts=self.contacts, store=self.store, now=now)
        target = req.target
        self.store.update_intro(
            intro.id,
            now,
            target_name=target.name if target else None,
            target_email=(target.email or "").lower() or None if target else None,
            reason=req.reason,
            blurb=req.blurb,
            rule=decision.rule,
            action=decision.action,
            detail=decision.detail,
            candidates=[
                {"name": c.name, "email": c.email, "company": c.company} for c in req.candidates
            ],
        )
        self.store.add_event(
            intro.id,
            "details_answered",
            now,
            rule=decision.rule,
            action=decision.action,
            message_id=reading.message_id,
        )
        log.info("details_answered", intro_id=intro.id, action=decision.action, rule=decision.rule)
        intro = self._intro(intro.id)
        if decision.action == "accept":
            self.store.update_intro(intro.id, now, state="awaiting", expires=now + cfg.expire_after)
            self._start_optins(self._intro(intro.id), now)
        elif decision.action == "decline" and decision.rule not in INCOMPLETE_RULES:
            self._end(intro, "declined", now)
            self._mail(decision.template or "decline_policy", intro, "requester", now)
        else:
            detail = f"after one round of details: {decision.detail}"
            self.store.update_intro(intro.id, now, state="review", expires=None, detail=detail)
            self._ask_owner(self._intro(intro.id), now, rule=decision.rule, detail=detail)
        return intro.id

    # -- bounces ------------------------------------------------------------------
    def _bounced(self, reading: Reading, decision: Decision, now: datetime) -> None:
        """A proven bounce (``Decision.bounced``, see ``judge.proven_bounce``): its failed
        recipients are marked in their active intros, and the owner told once per address."""
        bounced = decision.bounced
        if bounced is None:
            return
        for address in bounced.failed:
            address = address.lower()
            for intro in self.store.intros(party=address):
                if intro.state in ACTIVE_STATES:
                    role = "requester" if intro.requester_email == address else "target"
                    if self.store.parties(intro.id).get(role):
                        self.store.update_party(intro.id, role, status="failed")
                    self.store.add_event(intro.id, "bounced", now, role=role)
            self.notify_failure(
                address,
                (reading.bounce.reason if reading.bounce else "") or "bounced",
                now,
                intro_id=bounced.intro_id,
            )

    def notify_failure(
        self, address: str, failure: str, now: datetime, intro_id: str | None = None
    ) -> None:
        """One bounce_notice to the owner per failed address, ever."""
        if address in self.config.owner.addresses:
            return
        if not self.store.take_notice_once(f"bounce:{address.lower()}"):
            return
        intro = self.store.intro(intro_id) if intro_id else None
        self._mail(
            "bounce_notice",
            intro,
            "owner",
            now,
            extra={"failed_address": address, "failure": failure[:300]},
        )
        log.info("bounce_noticed", intro_id=intro_id)

    # -- timers -------------------------------------------------------------------
    def template_failed(self, exc: TemplateError, now: datetime) -> None:
        """A mail could not be rendered: nothing is sent, the owner hears once a day."""
        name = exc.template or "?"
        log.error("template_failed", template=name, error=str(exc)[:300])
        with self.store.transaction():
            self.store.add_event(None, "error", now, error=f"template {name}: {exc}"[:300])
            if not self.store.take_notice(f"template:{name}", now):
                return
            builtin = Engine(
                self.config,
                store=self.store,
                templates=Templates(None),
                contacts=self.contacts,
                secret=self.secret,
            )
            builtin._notify_owner(
                None,
                now,
                f"Template {name} does not render",
                [
                    f"I could not write a mail from your template {name}: {exc}.",
                    "Nothing was sent; the introduction waits. Fix the template "
                    "(`introd templates check` shows the problem) and reload introd "
                    "(systemctl reload introd); I will try again.",
                ],
            )

    def tick(self, now: datetime) -> None:
        """Reminders and expiry: whatever is due at ``now``. Only the intros with something
        due are opened (the daemon looks every 30 s, and thousands may be awaiting)."""
        for intro_id in self.store.timers_due(now, now - self.config.reminder_after):
            try:
                self._tick_intro(intro_id, now)
            except TemplateError as exc:
                self.template_failed(exc, now)
        if self.config.followup_after is not None:
            for intro_id in self.store.followups_due(now - self.config.followup_after):
                try:
                    self._send_followup(intro_id, now)
                except TemplateError as exc:
                    self.template_failed(exc, now)
        self.digest_due(now)
        self.prune_due(now)

    def prune_due(self, now: datetime) -> None:
        """Drop old bodies (retention.bodies_after), at most once a day."""
        if self.config.retention_bodies is None:
            return
        last = parse_iso(self.store.get_meta("last_prune"))
        if last is not None and now - last < timedelta(days=1):
            return
        pruned = self.store.prune_bodies(now - self.config.retention_bodies)
        self.store.set_meta("last_prune", iso(now))  # after: a prune cut short is done again
        if pruned:
            log.info("bodies_pruned", intros=pruned)

    def _tick_intro(self, intro_id: str, now: datetime) -> None:
        with self.store.transaction():
            intro = self._intro(intro_id)
            if intro.state == "draft":  # one reminder to the owner, never an automatic send
                owner = self.store.parties(intro.id).get("owner")
                if (
                    owner is not None
                    and owner.asked_at is not None
                    and not owner.reminded_at
                    and owner.asked_at + self.config.reminder_after <= now
                ):
                    self._send_draft(intro, now, first_sent=owner.asked_at)
                    self.store.update_party(intro.id, "owner", reminded_at=now)
                    self.store.add_event(intro.id, "reminder_sent", now, role="owner")
                return
            if intro.state == "snoozed":
                if intro.snoozed_until is not None and intro.snoozed_until <= now:
                    self._wake(intro, now, reason="due")
                return
            if intro.state not in ("awaiting", "details"):
                return
            if intro.expires is not None and intro.expires <= now:
                self._end(intro, "expired", now)
                if intro.requester_email:
                    self._mail("expired", intro, "requester", now)
                return
            for role, party in self.store.parties(intro.id).items():
                if party.status != "asked" or party.asked_at is None or party.reminded_at:
                    continue
                if party.asked_at + self.config.reminder_after <= now:
                    self._mail("reminder", intro, role, now, extra={"first_sent": party.asked_at})
                    self.store.update_party(intro.id, role, reminded_at=now)
                    self.store.add_event(intro.id, "reminder_sent", now, role=role)

    def digest_due(self, now: datetime) -> None:
        """The owner's digest, every `digest.every` (the first one a period after start)."""
        every = self.config.digest_every
        if every is None:
            return
        last = self.store.get_meta("last_digest")
        if last is None:
            self.store.set_meta("last_digest", iso(now))
            return
        start = parse_iso(last)
        assert start is not None
        if now - start < every:
            return
        try:
            with self.store.transaction():
                self._mail("digest", None, "owner", now, extra=self.digest_context(start, now))
                self.store.set_meta("last_digest", iso(now))
        except TemplateError as exc:
            self.template_failed(exc, now)

    def digest_context(self, start: datetime, end: datetime) -> dict[str, Any]:
        ended = {}
        for e in self.store.recent_events("state_changed", start):
            if e["at"] <= end:
                ended[e["intro_id"]] = e.get("state")
        received = self.store.created_between(start, end)
        counts = {
            "received": len(received),
            "introduced": sum(1 for s in ended.values() if s == "introduced"),
            "declined": sum(1 for s in ended.values() if s and s.startswith("declined"))
            + sum(1 for r in received if r.state == "declined"),
            "expired": sum(1 for s in ended.values() if s == "expired"),
            "awaiting": 0,
            "bounced": len(self.store.recent_events("bounced", start)),
        }
        awaiting = [
            DigestLine(
                id=r.id,
                requester=self._person(r, "requester"),
                target=self._person(r, "target"),
                age_days=(end - r.created).days,
            )
            for r in self.store.intros(state="awaiting")
        ]
        counts["awaiting"] = len(awaiting)
        ledger = [
            DigestLine(
                id=r.id,
                requester=self._person(r, "requester"),
                target=self._person(r, "target"),
                age_days=0,
                date=r.updated,
            )
            for r in self.store.ended_between("introduced", start, end)
        ]
        answered = self.store.followups_answered_between(start, end)
        counts["met"] = sum(1 for f in answered if f.outcome == "met")
        counts["not_met"] = sum(1 for f in answered if f.outcome == "not_met")
        counts["unanswered"] = sum(
            1
            for f in self.store.followups().values()
            if f.status in ("sent", "reasked") and f.sent_at is not None and f.sent_at <= end
        )
        thanks = []
        for f in answered:
            intro = self.store.intro(f.intro_id)
            if f.thanks and intro is not None:
                thanks.append(
                    DigestThanks(
                        id=intro.id,
                        requester=self._person(intro, "requester"),
                        target=self._person(intro, "target"),
                        text=f.thanks,
                        date=f.answered_at,
                    )
                )
        return {
            "period_start": start,
            "period_end": end,
            "counts": counts,
            "awaiting": awaiting,
            "ledger": ledger,
            "thanks": thanks,
        }

    # -- outgoing mail ------------------------------------------------------------
    def _person(self, intro: IntroRow | None, role: str) -> Person | None:
        return party(self.config, intro, role)

    def _known_language(self, email: str) -> str | None:
        """The contact's `language`, else the language they last wrote to us in."""
        contact = self.contacts.by_email(email)
        return getattr(contact, "language", None) or self.store.get_meta(
            f"language:{email.lower()}"
        )

    def _learn_language(self, email: str | None, text: str) -> None:
        lang = guess_language(text) if email else None
        if lang and email:
            self.store.set_meta(f"language:{email.lower()}", lang)

    def render_context(
        self, intro: IntroRow | None, role: str, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return render_context(self.config, self.secret, intro, role, extra)

    def _mail(
        self,
        template: str,
        intro: IntroRow | None,
        role: str,
        now: datetime,
        *,
        extra: dict[str, Any] | None = None,
        event: tuple[str, dict[str, Any]] | None = None,
    ) -> str:
        """Render, compose and queue one mail; returns its Message-ID. EVENT (a name and its
        detail) goes into the intro's history right after its mail_queued."""
        to = recipients(self.config, template, intro, role)
        lang = mail_language(self.config, template, intro, role, self._known_language)
        message_id = tokens.new_message_id(
            intro.id if intro else None,
            role if role in ("requester", "target", "owner") else "notice",
            self.domain,
        )
        _, raw = write_mail(
            self.config,
            self.templates,
            template,
            intro,
            role,
            context=self.render_context(intro, role, extra),
            language=lang,
            to=to,
            message_id=message_id,
            now=now,
        )
        self.store.enqueue(
            intro_id=intro.id if intro else None,
            template=template,
            role=role if role in ("requester", "target", "owner") else None,
            sender=str(self.config.from_address.addr_spec),
            recipients=[p.email for p in to if p.email],
            message_id=message_id,
            raw=raw,
            now=now,
        )
        if intro is not None:
            queued = {"template": template, "to": role, "message_id": message_id}
            self.store.add_events(
                intro.id, now, [("mail_queued", queued), *([event] if event else [])]
            )
        log.info(
            "mail_queued", intro_id=intro.id if intro else None, template=template, to_role=role
        )
        return message_id


# -- one mail, from template to bytes: shared by the engine, `templates check` and `preview`
# the templates whose mail asks for an answer, and so carries a Reply-To with a token
EXPECTS_ANSWER = (
    "optin_requester",
    "optin_target",
    "reminder",
    "reask",
    "review",
    "followup",
    "ask_details",
    "introduction_draft",
    "optin_snoozed_again",
)


def expects_answer(template: str, intro: IntroRow | None) -> bool:
    """Whether TEMPLATE's mail asks for an answer: an owner_notice does when it is about an
    intro (the owner may answer it with a command)."""
    return template in EXPECTS_ANSWER or (template == "owner_notice" and intro is not None)


def party(config: Config, intro: IntroRow | None, role: str) -> Person | None:
    """The person ROLE is in INTRO: the owner, the requester or the target."""
    if role == "owner":
        return Person(name=config.owner.name, email=config.owner.email)
    if intro is None:
        return None
    if role == "requester":
        return Person(name=intro.requester_name, email=intro.requester_email)
    return Person(name=intro.target_name, email=intro.target_email)


def recipients(config: Config, template: str, intro: IntroRow | None, role: str) -> list[Person]:
    """Whom the mail goes to: both parties for the introduction, else ROLE (and the owner's
    delegates for what they can answer)."""
    if role == "both":
        return [
            p
            for p in (party(config, intro, "requester"), party(config, intro, "target"))
            if p is not None
        ]
    person = party(config, intro, role)
    assert person is not None and person.email
    to = [person]
    if role == "owner" and template in DELEGATE_TEMPLATES:
        to += [Person(email=d) for d in config.owner.delegates]
    return to


def party_language(
    config: Config, person: Person | None, role: str, known: Callable[[str], str | None]
) -> str:
    """PERSON's language: KNOWN(email) (their contact entry's `language`, else the language
    they last wrote to us in), else the config's default; the owner's for the owner."""
    if role == "owner" or person is None or not person.email:
        return config.owner.language
    return known(person.email) or config.default_language


def mail_language(
    config: Config,
    template: str,
    intro: IntroRow | None,
    role: str,
    known: Callable[[str], str | None],
) -> str:
    """The language TEMPLATE is written in for ROLE: the owner's for mail to the owner,
    the requester's for the introduction (which goes to both), else the recipient's."""
    if template in OWNER_TEMPLATES:
        return config.owner.language
    who = "requester" if role == "both" else role
    return party_language(config, party(config, intro, who), who, known)


def render_context(
    config: Config,
    secret: bytes,
    intro: IntroRow | None,
    role: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every variable a template gets: the same for every template, plus EXTRA."""
    reply = config.reply_address
    if intro is not None and role in ("requester", "target", "owner"):
        reply = tokens.reply_address_with(reply, tokens.make_token(secret, intro.id, role))
    view = None
    if intro is not None:
        view = IntroView(
            id=intro.id,
            reason=intro.reason,
            blurb=intro.blurb,
            created=intro.created,
            expires=intro.expires,
            state=intro.state,
        )
    candidates = [
        Candidate(name=c["name"], email=c.get("email"), company=c.get("company"))
        for c in (intro.candidates if intro else [])
    ]
    suggested = intro.suggested if intro else None
    suggested_by = intro.suggested_by if intro else None
    ctx: dict[str, Any] = {
        "owner": Person(name=config.owner.name, email=config.owner.email),
        "requester": party(config, intro, "requester"),
        "target": party(config, intro, "target"),
        "intro": view,
        "reply_address": reply,
        "recipient": party(config, intro, role) if role != "both" else None,
        "role": role,
        "order": intro.optin_order if intro else config.optin_order,
        "requester_note": intro.requester_note if intro else None,
        "candidates": [
            NumberedCandidate(number=i, name=c.name, email=c.email, company=c.company)
            for i, c in enumerate(candidates, 1)
        ],
        "rule": intro.rule if intro else None,
        "detail": intro.detail if intro else None,
        "review_reason": "",
        # the person the target suggested instead of them (review), and on the intro
        # started from it, that target (optin_requester)
        "suggestion": Person(name=suggested.get("name"), email=suggested.get("email"))
        if suggested
        else None,
        "suggested_by": Person(name=suggested_by.get("name"), email=suggested_by.get("email"))
        if suggested_by
        else None,
    }
    ctx.update(extra or {})
    return ctx


def write_mail(
    config: Config,
    templates: Templates,
    template: str,
    intro: IntroRow | None,
    role: str,
    *,
    context: dict[str, Any],
    language: str,
    to: list[Person],
    message_id: str,
    now: datetime,
) -> tuple[Rendered, bytes]:
    """TEMPLATE rendered in LANGUAGE and composed as it goes on the wire: the subject with its
    [intro ID] tag, Reply-To when an answer is expected, Auto-Submitted but for the
    introduction. Raises TemplateError naming the template."""
    try:
        rendered = templates.render(template, context, language=language)
    except TemplateError as exc:
        raise TemplateError(str(exc), template=template) from None
    if intro is not None and f"[intro {intro.id}]" not in rendered.subject:
        rendered = replace(rendered, subject=f"{rendered.subject} [intro {intro.id}]")
    raw = compose_bytes(
        rendered,
        sender=config.from_address,
        to=to,
        message_id=message_id,
        date=now,
        reply_to=context["reply_address"] if expects_answer(template, intro) else None,
        auto_submitted=template != "introduction",
    )
    return rendered, raw


# mail to the owner that the delegates get too: what they can answer
DELEGATE_TEMPLATES = ("review", "owner_notice", "introduction_draft")


def _fingerprint(raw: bytes) -> str:
    """What a mail without a Message-ID is remembered by: a digest of its bytes, in the
    shape of a Message-ID that no mail can carry (.invalid), so that after a UIDVALIDITY
    change it is still recognised and not acted on again."""
    return f"<sha256.{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid>"


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestLine:
    """One line of the digest (awaiting or ledger), as templates see it."""

    id: str
    requester: Person | None
    target: Person | None
    age_days: int
    date: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestThanks:
    """A requester's thank-you, in answer to a follow-up, as the digest shows it."""

    id: str
    requester: Person | None
    target: Person | None
    text: str
    date: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberedCandidate:
    """One numbered candidate of a review, as templates see it."""

    number: int
    name: str
    email: str | None
    company: str | None


_CONFIRMATIONS = {
    "awaiting": "I have asked both of them whether they would like the introduction; "
    "you will see the result in the digest.",
    "declined": "I have let the requester know, politely, that it will not work out.",
    "cancelled": "I have closed it; nobody else was told.",
    "introduced": "I have sent the introduction to both of them, from you.",
    "snoozed": "The target asked to be asked again later; I will.",
    "details": "I have sent your question to the requester; their answer completes the "
    "request, which I will then judge again (or show you, if still incomplete).",
}

_REVIEW_REASONS: dict[str, str] = {
    RuleName.AMBIGUOUS_TARGET: "the name matches several of your contacts",
    RuleName.UNKNOWN_TARGET: "I have no address for the person named",
    RuleName.REQUESTER_LIMIT: "this person has asked for several introductions recently",
    RuleName.TARGET_LIMIT: "this person has been asked for several introductions recently",
    RuleName.UNKNOWN_REQUESTER: "the person asking is not in your contacts",
    RuleName.REVIEW_ALL: "you asked to see every request",
    RuleName.UNCLEAR_ANSWER: "an answer was unclear twice",
    RuleName.SUGGESTED_TARGET: "the person asked is not the right one and suggests someone else",
}


def _review_reason(rule: str, detail: str) -> str:
    return _REVIEW_REASONS.get(rule, detail)


def _note_from(text: str) -> str | None:
    """The requester's own words after their yes, to forward with the intro."""
    lines = [ln for ln in text.strip().splitlines()]
    if len(lines) < 2:
        return None
    rest = "\n".join(lines[1:]).strip()
    return rest if len(rest.split()) >= 4 else None


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
