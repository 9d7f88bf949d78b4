"""`introd templates list|check|preview`: see a template's result before a contact does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .config import Config
from .exceptions import TemplateError, UsageError
from .model import Person
from .render import OWNER_TEMPLATES, TEMPLATE_NAMES, Templates, builtin_dir, compose

WHEN_SENT = {
    "optin_requester": "to the requester when a request is accepted: confirm, add a note",
    "optin_target": "to the target when a request is accepted: would you like to meet?",
    "introduction": "to both once both said yes, from the owner",
    "reminder": "once, to a party who has not answered after optin.reminder_after",
    "reask": "once, to a party whose answer was unclear",
    "declined_by_target": "to the requester when the target said no",
    "thanks_target": "to the target after they said no",
    "withdrawn": "to the target when the requester withdrew after the target said yes",
    "expired": "to the requester when nobody answered within optin.expire_after",
    "decline_no_target": "to the requester of a blanket request (no specific person)",
    "decline_no_reason": "to the requester when no reason was given",
    "decline_policy": "to the requester when a policy or the owner declines",
    "review": "to the owner when a request needs a decision",
    "bounce_notice": "to the owner when mail to an address failed",
    "digest": "to the owner on the digest.every schedule",
    "owner_notice": "to the owner: confirms a command sent by mail, answers `status`",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class _SampleIntro:
    id: str
    reason: str | None
    blurb: str
    created: datetime
    expires: datetime | None
    state: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _SampleCandidate:
    number: int
    name: str
    email: str | None
    company: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class _SampleAwaiting:
    id: str
    requester: Person
    target: Person
    age_days: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _SampleLedger:
    requester: Person
    target: Person
    date: datetime


def sample_context(cfg: Config, name: str, role: str | None = None) -> dict[str, Any]:
    """Made-up but realistic data for every variable a template may use."""
    now = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
    owner = Person(name=cfg.owner.name or "Lisa Balbes", email=cfg.owner.email)
    requester = Person(name="Tim Walker", email="tim.walker@example.org")
    target = Person(name="Bob Jones", email="bob.jones@bigchem.example")
    intro = _SampleIntro(
        id="K7F3Q2",
        reason="applied for the Manager, Technology Transfer role and would like to learn "
               "about the team",
        blurb="Dear Lisa,\n\nCould you introduce me to Bob Jones? I applied for the Manager, "
              "Technology Transfer role and would value ten minutes of his time.\n\nThank you,\n"
              "Tim",
        created=now, expires=now + cfg.expire_after, state="awaiting")
    role = role or ("owner" if name in OWNER_TEMPLATES else
                    "target" if name in ("optin_target", "thanks_target", "withdrawn")
                    else "requester")
    recipient = {"owner": owner, "requester": requester, "target": target}.get(role, requester)
    return {
        "owner": owner, "requester": requester, "target": target, "intro": intro,
        "reply_address": cfg.reply_address.replace("@", "+k7f3q2tabcdefghijklmnopqrst@"),
        "recipient": recipient, "role": role, "order": cfg.optin_order,
        "requester_note": "I am finishing my PhD and move to St. Louis in June.",
        "candidates": [
            _SampleCandidate(number=1, name="Sarah Chen", email="sarah.chen@helix.example",
                             company="Helix Polymers"),
            _SampleCandidate(number=2, name="Sarah Chen", email="schen@arbor.example",
                             company="Arbor Biosciences")],
        "rule": "ambiguous_target", "detail": "'Sarah Chen' matches 2 contacts",
        "review_reason": "the name matches several of your contacts",
        "first_sent": now - timedelta(days=4), "previous_answer_excerpt": "Maybe next month?",
        "failed_address": "bob.jones@bigchem.example", "failure": "550 5.1.1 no such user",
        "period_start": now - timedelta(days=7), "period_end": now,
        "counts": {"received": 5, "introduced": 2, "declined": 1, "expired": 0, "awaiting": 2,
                   "bounced": 0},
        "awaiting": [_SampleAwaiting(id="K7F3Q2", requester=requester, target=target, age_days=3)],
        "ledger": [_SampleLedger(requester=requester, target=target, date=now)],
        "headline": "Done: introduction K7F3Q2 approved",
        "lines": ["I have asked Tim Walker and Bob Jones whether they would like the "
                  "introduction."],
    }


def _languages(cfg: Config) -> list[str | None]:
    langs: set[str] = set()
    for base in (builtin_dir(), cfg.templates_dir):
        if base is None:
            continue
        for sub in Path(base).iterdir():
            if sub.is_dir() and len(sub.name) == 2 and any(sub.glob("*.j2")):
                langs.add(sub.name)
    return [None, *sorted(langs)]


def check_templates(cfg: Config) -> list[str]:
    """Render every template, in every language, for every situation; list the problems."""
    templates = Templates(cfg.templates_dir)
    problems: list[str] = []
    for lang in _languages(cfg):
        for name in TEMPLATE_NAMES:
            if lang and name in OWNER_TEMPLATES:
                continue
            roles = ["requester", "target"] if name in ("reminder", "reask") else [None]
            for role in roles:
                ctx = sample_context(cfg, name, role)
                try:
                    rendered = templates.render(name, ctx, language=lang)
                except TemplateError as exc:
                    problems.append(f"{name}: {exc}")
                    break
                if rendered.html is not None and not rendered.text.strip():
                    problems.append(f"{name}: an HTML part without a text part")
    return sorted(set(problems))


def list_templates(cfg: Config) -> list[str]:
    templates = Templates(cfg.templates_dir)
    lines = []
    for name in TEMPLATE_NAMES:
        origins = {templates.origin(f"{name}.{p}.j2") for p in ("subject", "txt", "html")}
        origins.discard(None)
        where = "templates_dir" if "templates_dir" in origins else "built-in"
        html = "text+html" if templates.origin(f"{name}.html.j2") else "text"
        lines.append(f"{name:<20} {where:<14} {html:<10} {WHEN_SENT[name]}")
    return lines


def preview(cfg: Config, name: str, *, store: Any = None, intro_id: str | None = None,
            html_out: str | None = None) -> str:
    if name not in TEMPLATE_NAMES:
        raise UsageError(f"unknown template {name!r}; see `introd templates list`")
    templates = Templates(cfg.templates_dir)
    if intro_id:
        from .engine import Engine
        from .tokens import load_secret

        intro = store.intro(intro_id)
        if intro is None:
            raise UsageError(f"no intro {intro_id}")
        from .contacts import ContactBook

        engine = Engine(cfg, store=store, templates=templates, contacts=ContactBook([]),
                        secret=load_secret(cfg.secret_file))
        role = "owner" if name in OWNER_TEMPLATES else "both" if name == "introduction" else \
            "target" if name in ("optin_target", "thanks_target", "withdrawn") else "requester"
        ctx = {**sample_context(cfg, name), **engine.render_context(intro, role)}
    else:
        ctx = sample_context(cfg, name)
    rendered = templates.render(name, ctx)
    both = name == "introduction"
    to = [ctx["requester"], ctx["target"]] if both or not ctx.get("recipient") \
        else [ctx["recipient"]]
    msg = compose(rendered, sender=cfg.from_address, to=to, message_id="<preview@introd>",
                  date=datetime.now(UTC), reply_to=None if both else ctx["reply_address"],
                  auto_submitted=not both)
    head = "\n".join(f"{k}: {v}" for k, v in msg.items() if k.lower() not in (
        "content-type", "content-transfer-encoding", "mime-version"))
    out = f"{head}\n\n{rendered.text}"
    if rendered.html is not None:
        if html_out:
            Path(html_out).write_text(rendered.html, encoding="utf-8")
            out += f"\n[HTML part written to {html_out}]"
        else:
            out += "\n[HTML part: give --html out.html to see it]"
    return out
