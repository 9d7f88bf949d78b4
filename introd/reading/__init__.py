"""Reading one incoming mail: what kind it is and what it says.

``read_mail`` is pure: bytes, config, contacts and secret in, a ``Reading``
out. ``introd parse`` and ``introd run`` both call it, so they cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from email.message import EmailMessage

from . import answers, auth, automail, forward, mailtext, request
from .. import budget, tokens
from .people import ContactBook
from ..model import Answer, OwnerCommand, Reading

if TYPE_CHECKING:  # config imports the reading core, not the other way
    from ..config import Config

SUBJECT_TAG = re.compile(r"\[intro\s+([A-Z0-9]{6})\]", re.I)
_MSGID_IN = re.compile(r"<[^<>\s]+>")
# a mail of the owner's own that starts with one of these is a command, not a request
# (a bare number or address on the first line is a request's target, not a pick)
_COMMAND_VERBS = ("approve", "decline", "cancel", "status")


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    config: Config
    contacts: ContactBook
    secret: bytes | None = None


def _recipient_addresses(msg: EmailMessage) -> list[str]:
    out: list[str] = []
    for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To"):
        out += [p.email for p in mailtext.address_list(msg, name) if p.email]
    return out


def _references(msg: EmailMessage) -> list[str]:
    refs: list[str] = []
    for name in ("In-Reply-To", "References"):
        refs += _MSGID_IN.findall(mailtext.header_text(msg, name))
    # the In-Reply-To first, then the most recent references
    seen: list[str] = []
    for r in refs:
        if r not in seen:
            seen.append(r)
    return seen


def find_token(msg: EmailMessage, config: Config) -> str | None:
    for addr in _recipient_addresses(msg):
        tok = tokens.token_in(addr, config.reply_address)
        if tok:
            return tok
    return None


def _tie_reply(
    msg: EmailMessage, ctx: Context, subject: str
) -> tuple[str | None, str | None, str, str | None]:
    """(intro id, role, proof, token) for a reply: token, then references, then subject tag."""
    tok = find_token(msg, ctx.config)
    if tok:
        if ctx.secret is not None:
            valid = tokens.read_token(ctx.secret, tok)
            if valid:
                return valid[0], valid[1], "token", tok
        claim = tokens.token_claim(tok)
        if claim:
            return claim, None, "", tok
    for ref in _references(msg):
        claimed = tokens.message_id_claim(ref)
        if claimed:
            return (
                claimed[0],
                claimed[1] if claimed[1] in ("requester", "target", "owner") else None,
                "reference",
                tok,
            )
    m = SUBJECT_TAG.search(subject)
    if m:
        return m.group(1).upper(), None, "", tok
    return None, None, "", tok


def _is_replyish(msg: EmailMessage, ctx: Context, subject: str) -> bool:
    if find_token(msg, ctx.config):
        return True
    if any(tokens.message_id_claim(r) for r in _references(msg)):
        return True
    return bool(SUBJECT_TAG.search(subject))


# the owner's (or a delegate's) own words: `details` with the question on the next lines,
# `send` for an introduction draft
_OWN_WORDS = re.compile(
    r"^\W{0,3}(details|send)(?![\w'-])(?:[\s:#,.-]*(?:\[?intro\s+)?"
    r"([A-Za-z0-9]{6})(?![\w-]))?\]?[\s:,.-]*(.*)$",
    re.I,
)


def _own_words(text: str, default_intro: str | None) -> OwnerCommand | None:
    """`details [ID]` + question, or `send [ID]`, from the first line of the new text."""
    lines = (text or "").strip().split("\n")
    match = _OWN_WORDS.match(lines[0].strip()) if lines else None
    if match is None:
        return None
    verb, token, rest = match.group(1).lower(), match.group(2), match.group(3)
    intro_id = (
        token.upper() if token and (any(c.isdigit() for c in token) or token.isupper()) else None
    )
    if token and intro_id is None:
        rest = f"{token} {rest}"
    if verb == "send":  # "send", "send it", "send as is, thanks"; more words are a text
        return (
            OwnerCommand(verb="send", intro_id=intro_id or default_intro)
            if len(rest.split()) <= 4 and "\n" not in rest
            else None
        )
    question = "\n".join([rest, *lines[1:]]).strip()
    return OwnerCommand(
        verb="details", intro_id=intro_id or default_intro, argument=question[:2000] or None
    )


def _owner_command(text: str, default_intro: str | None) -> OwnerCommand | None:
    own = _own_words(text, default_intro)
    if own is not None:
        return own
    parsed = answers.read_owner_command(text)
    if parsed is None:
        return None
    verb, intro_id, arg = parsed
    return OwnerCommand(verb=verb, intro_id=intro_id or default_intro, argument=arg)


def read_mail(raw: bytes, ctx: Context, *, limits: budget.Budget | None = None) -> Reading:
    """Classify and read one mail. Never raises on bad mail: it returns kind `unknown`.

    The reading runs under ``limits`` (a fresh ``budget.Budget`` when not given): a mail
    whose headers are too costly to parse, or whose reading takes too long, is kind
    `unknown` with ``extra["over_budget"]`` and the reason as its problem."""
    try:
        try:
            with budget.reading(limits or budget.Budget()):
                return _read(raw, ctx)
        except RecursionError:
            return Reading(
                kind="unknown",
                message_id=None,
                sender=None,
                problem="message nested too deeply to read",
            )
        except Exception as exc:  # a mail the email package cannot read safely is set aside
            return Reading(
                kind="unknown",
                message_id=None,
                sender=None,
                problem=f"unreadable mail: {type(exc).__name__}",
            )
    except budget.OverBudget as exc:
        return Reading(
            kind="unknown",
            message_id=None,
            sender=None,
            problem=f"over budget: {exc.reason}",
            extra={"over_budget": True},
        )


def _bounce_references(raw: bytes, bounce: automail.Bounce) -> tuple[str, ...]:
    """What a bounce may prove with: the Message-IDs of introd's shape it holds."""
    found = tokens.own_message_ids(raw)
    mid = getattr(bounce, "original_message_id", None)
    return found if not mid or mid in found else (mid, *found)


def _read(raw: bytes, ctx: Context) -> Reading:
    cfg = ctx.config
    msg = mailtext.parse_bytes(budget.trim(raw))
    budget.checkpoint("parsing")
    problem = budget.header_problem(msg)
    if problem:
        raise budget.OverBudget(problem)
    message_id = mailtext.header_text(msg, "Message-ID").strip() or None
    subject = mailtext.header_text(msg, "Subject")
    senders = mailtext.address_list(msg, "From")
    sender = senders[0] if senders else None
    base = dict(message_id=message_id, sender=sender, subject=subject)
    if not raw.strip() or (sender is None and not subject and not msg.keys()):
        return Reading(kind="unknown", problem="empty message", **base)

    budget.checkpoint("headers")
    bounce = automail.bounce_info(msg)
    budget.checkpoint("bounce")
    if bounce is not None:
        return Reading(
            kind="bounce",
            failed_addresses=tuple(bounce.failed),
            extra={
                "status": bounce.status,
                "reason": bounce.reason,
                "references": _bounce_references(raw, bounce),
                "original_message_id": getattr(bounce, "original_message_id", None),
            },
            **base,
        )
    if automail.is_auto_reply(msg):
        intro_id, role, proof, _ = _tie_reply(msg, ctx, subject)
        return Reading(kind="auto_reply", extra={"intro_id": intro_id}, **base)

    sender_email = (sender.email or "").lower() if sender else ""
    from_owner = len(senders) == 1 and sender_email in cfg.owner.addresses
    from_delegate = len(senders) == 1 and sender_email in cfg.owner.delegates
    if sender_email and sender_email == cfg.intro_address:
        return Reading(kind="unknown", problem="mail from the intro address itself", **base)
    authenticated = False
    auth_reason = ""
    if from_owner or from_delegate:
        # a delegate is authenticated exactly as the owner is
        if cfg.auth_require:
            owners = (*cfg.owner.addresses, *cfg.owner.delegates)
            result = auth.check_owner_auth(
                msg, owner_addresses=owners, trusted_authserv_ids=cfg.trusted_authserv_ids
            )
            if not result.ok and cfg.exchange_online_tenant:
                exchange = auth.check_exchange_online(
                    msg, owner_addresses=owners, tenant_id=cfg.exchange_online_tenant
                )
                result = (
                    exchange
                    if exchange.ok
                    else auth.AuthResult(ok=False, reason=f"{result.reason}; {exchange.reason}")
                )
            authenticated, auth_reason = result.ok, result.reason
        else:
            authenticated, auth_reason = True, "auth.require is false"
    extra = {"auth_reason": auth_reason, "references": _references(msg)}
    common = dict(
        from_owner=from_owner,
        from_delegate=from_delegate,
        authenticated=authenticated,
        extra=extra,
        **base,
    )
    commands = from_owner or from_delegate

    body = mailtext.body_text(msg)
    budget.checkpoint("body")
    if _is_replyish(msg, ctx, subject):
        intro_id, role, proof, tok = _tie_reply(msg, ctx, subject)
        extra["token"] = tok
        new = answers.new_text(body)
        if commands and (role == "owner" or role is None):
            cmd = _owner_command(new, intro_id)
            if cmd is None and role == "owner" and intro_id and new.strip():
                # their own words, for an introduction draft (judged against the state)
                cmd = OwnerCommand(verb="words", intro_id=intro_id, argument=new.strip()[:8000])
            if cmd is not None:
                extra["proof"] = proof
                return Reading(kind="owner_command", command=cmd, **common)
        word = answers.classify_answer(new)
        answer = Answer(
            intro_id=intro_id,
            role=role if role != "owner" else None,  # type: ignore[arg-type]
            answer=word,
            text=new,
            proof=proof,
        )
        return Reading(kind="reply", answer=answer, **common)

    if commands:
        new = answers.new_text(body)
        own = _own_words(new, None)
        if own is not None and own.intro_id is not None:  # a bare "Details below" is a note
            return Reading(kind="owner_command", command=own, **common)
        first = next((ln for ln in new.splitlines() if ln.strip()), "")
        for line in (first, subject):
            cmd = _owner_command(line, None)
            if cmd is not None and cmd.verb in _COMMAND_VERBS:
                return Reading(kind="owner_command", command=cmd, **common)
    if from_owner or (from_delegate and cfg.owner.delegates_may_forward):
        fwd = forward.find_forward(msg)
        budget.checkpoint("forward")
        # the delegate who forwards is never the requester or the target of it
        passers = (*cfg.owner.addresses, sender_email) if from_delegate else cfg.owner.addresses
        req = request.read_request(
            body=body,
            forward=fwd,
            subject=subject,
            owner_addresses=passers,
            intro_address=cfg.intro_address,
            owner_name=cfg.owner.name,
            contacts=ctx.contacts,
        )
        return Reading(kind="request", request=req, **common)
    return Reading(kind="unknown", **common)
