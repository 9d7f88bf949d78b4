"""Reading one incoming mail: what kind it is and what it says.

``read_mail`` is pure: bytes, config, contacts and secret in, a ``Reading``
out. ``introd parse`` and ``introd run`` both call it, so they cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from email.message import EmailMessage
from typing import TYPE_CHECKING, Literal, NamedTuple

from . import answers, auth, automail, forward, mailtext, request
from .. import budget, tokens
from .people import ContactBook
from ..model import Answer, BounceReport, IntroRequest, OwnerCommand, Reading
from introd.patterns import LazyPattern

if TYPE_CHECKING:  # config imports the reading core, not the other way
    from ..config import Config

SUBJECT_TAG = LazyPattern(r"\[intro\s+(?a:([A-Z0-9]{6}))\]", re.I)
_MSGID_IN = LazyPattern(r"<[^<>\s]+>")
# a mail of the owner's own that starts with one of these is a command, not a request
# (a bare number or address on the first line is a request's target, not a pick)
_COMMAND_VERBS = ("approve", "decline", "cancel", "status")


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What reading needs beside the mail: the config, the contact book and the token secret."""

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
    """The reply token in one of MSG's recipient addresses (intros+TOKEN@...), if any."""
    for addr in _recipient_addresses(msg):
        tok = tokens.token_in(addr, config.reply_address)
        if tok:
            return tok
    return None


class _Tie(NamedTuple):
    """What ties a reply to an intro: its id, the role proven, how, and the token seen."""

    intro_id: str | None
    role: Literal["requester", "target", "owner"] | None
    proof: str
    token: str | None


_ROLES: dict[str, Literal["requester", "target", "owner"]] = {
    "requester": "requester",
    "target": "target",
    "owner": "owner",
}


def _tie_reply(msg: EmailMessage, ctx: Context, subject: str) -> _Tie:
    """(intro id, role, proof, token) for a reply: token, then references, then subject tag."""
    tok = find_token(msg, ctx.config)
    if tok:
        if ctx.secret is not None:
            valid = tokens.read_token(ctx.secret, tok)
            if valid:
                return _Tie(valid[0], _ROLES.get(valid[1]), "token", tok)
        claim = tokens.token_claim(tok)
        if claim:
            return _Tie(claim, None, "", tok)
    for ref in _references(msg):
        claimed = tokens.message_id_claim(ref)
        if claimed:
            return _Tie(claimed[0], _ROLES.get(claimed[1]), "reference", tok)
    m = SUBJECT_TAG.search(subject)
    if m:
        return _Tie(m.group(1).upper(), None, "", tok)
    return _Tie(None, None, "", tok)


def _is_replyish(msg: EmailMessage, ctx: Context, subject: str) -> bool:
    if find_token(msg, ctx.config):
        return True
    if any(tokens.message_id_claim(r) for r in _references(msg)):
        return True
    return bool(SUBJECT_TAG.search(subject))


# the owner's (or a delegate's) own words: `details` with the question on the next lines,
# `send` for an introduction draft
_OWN_WORDS = LazyPattern(
    r"^\W{0,3}(details|send)(?![\w'-])(?:[\s:#,.-]*(?:\[?intro\s+)?"
    r"(?a:([A-Za-z0-9]{6}))(?![\w-]))?\]?[\s:,.-]*(.*)$",
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
    `unknown` with ``over_budget`` and the reason as its problem."""
    try:
        try:
            with budget.reading(limits or budget.Budget()):
                return _read(raw, ctx)
        except RecursionError:
            return set_aside("message nested too deeply to read")
        except Exception as exc:  # a mail the email package cannot read safely is set aside
            return set_aside(f"unreadable mail: {type(exc).__name__}")
    except budget.OverBudget as exc:
        return set_aside(f"over budget: {exc.reason}", over_budget=True)


def set_aside(problem: str, *, over_budget: bool = False) -> Reading:
    """The reading of a mail that could not be read at all: kind `unknown`, with why."""
    return Reading(
        kind="unknown", message_id=None, sender=None, problem=problem, over_budget=over_budget
    )


def _bounce_references(raw: bytes, bounce: automail.Bounce) -> tuple[str, ...]:
    """What a bounce may prove with: the Message-IDs of introd's shape it holds."""
    found = tokens.own_message_ids(raw)
    mid = bounce.original_message_id
    return found if not mid or mid in found else (mid, *found)


def _read(raw: bytes, ctx: Context) -> Reading:
    msg = mailtext.parse_bytes(budget.trim(raw))
    budget.checkpoint("parsing")
    problem = budget.header_problem(msg)
    if problem:
        raise budget.OverBudget(problem)
    senders = mailtext.address_list(msg, "From")
    head = Reading(
        kind="unknown",
        message_id=mailtext.header_text(msg, "Message-ID").strip() or None,
        sender=senders[0] if senders else None,
        subject=mailtext.header_text(msg, "Subject"),
    )
    if not raw.strip() or (head.sender is None and not head.subject and not msg.keys()):
        return replace(head, problem="empty message")

    budget.checkpoint("headers")
    bounce = automail.bounce_info(msg)
    budget.checkpoint("bounce")
    if bounce is not None:
        report = BounceReport(
            status=bounce.status,
            reason=bounce.reason,
            original_message_id=bounce.original_message_id,
        )
        return replace(
            head,
            kind="bounce",
            failed_addresses=tuple(bounce.failed),
            references=_bounce_references(raw, bounce),
            bounce=report,
        )
    if automail.is_auto_reply(msg):
        return replace(
            head, kind="auto_reply", intro_id=_tie_reply(msg, ctx, head.subject).intro_id
        )

    sender_email = (head.sender.email or "").lower() if head.sender else ""
    if sender_email and sender_email == ctx.config.intro_address:
        return replace(head, problem="mail from the intro address itself")
    mail = _who_sent(msg, head, single=len(senders) == 1, config=ctx.config)

    body = mailtext.body_text(msg)
    budget.checkpoint("body")
    if _is_replyish(msg, ctx, mail.subject):
        return _read_reply(msg, ctx, mail, body)
    if mail.from_owner or mail.from_delegate:
        cmd = _plain_command(answers.new_text(body), mail.subject)
        if cmd is not None:
            return replace(mail, kind="owner_command", command=cmd)
    if mail.from_owner or (mail.from_delegate and ctx.config.owner.delegates_may_forward):
        return replace(mail, kind="request", request=_read_request(msg, ctx, mail, body))
    return mail


def _who_sent(msg: EmailMessage, head: Reading, *, single: bool, config: Config) -> Reading:
    """HEAD with who sent it: the owner, a delegate (authenticated or not), or someone else;
    and the Message-IDs it cites."""
    sender_email = (head.sender.email or "").lower() if head.sender else ""
    from_owner = single and sender_email in config.owner.addresses
    from_delegate = single and sender_email in config.owner.delegates
    authenticated, auth_reason = False, ""
    if from_owner or from_delegate:
        # a delegate is authenticated exactly as the owner is
        authenticated, auth_reason = _authenticate(msg, config)
    return replace(
        head,
        from_owner=from_owner,
        from_delegate=from_delegate,
        authenticated=authenticated,
        auth_reason=auth_reason,
        references=tuple(_references(msg)),
    )


def _authenticate(msg: EmailMessage, config: Config) -> tuple[bool, str]:
    """Whether the MTA vouches for the owner's (or a delegate's) From, and why (not)."""
    if not config.auth_require:
        return True, "auth.require is false"
    owners = (*config.owner.addresses, *config.owner.delegates)
    result = auth.check_owner_auth(
        msg, owner_addresses=owners, trusted_authserv_ids=config.trusted_authserv_ids
    )
    if not result.ok and config.exchange_online_tenant:
        exchange = auth.check_exchange_online(
            msg, owner_addresses=owners, tenant_id=config.exchange_online_tenant
        )
        result = (
            exchange
            if exchange.ok
            else auth.AuthResult(ok=False, reason=f"{result.reason}; {exchange.reason}")
        )
    return result.ok, result.reason


def _read_reply(msg: EmailMessage, ctx: Context, mail: Reading, body: str) -> Reading:
    """A mail tied to an intro (token, reference or subject tag): the owner's (or a
    delegate's) command or own words, else a party's answer."""
    tie = _tie_reply(msg, ctx, mail.subject)
    mail = replace(mail, token=tie.token)
    new = answers.new_text(body)
    if (mail.from_owner or mail.from_delegate) and tie.role in ("owner", None):
        cmd = _owner_command(new, tie.intro_id)
        if cmd is None and tie.role == "owner" and tie.intro_id and new.strip():
            # their own words, for an introduction draft (judged against the state)
            cmd = OwnerCommand(verb="words", intro_id=tie.intro_id, argument=new.strip()[:8000])
        if cmd is not None:
            return replace(mail, kind="owner_command", command=replace(cmd, proof=tie.proof))
    answer = Answer(
        intro_id=tie.intro_id,
        role=None if tie.role == "owner" else tie.role,
        answer=answers.classify_answer(new),
        text=new,
        proof=tie.proof,
    )
    return replace(mail, kind="reply", answer=answer)


def _plain_command(new: str, subject: str) -> OwnerCommand | None:
    """A command in a mail of the owner's own (not a reply): `details ID` or `send ID` on
    the first line, or one of the command verbs on the first line or in the subject."""
    own = _own_words(new, None)
    if own is not None and own.intro_id is not None:  # a bare "Details below" is a note
        return own
    first = next((ln for ln in new.splitlines() if ln.strip()), "")
    for line in (first, subject):
        cmd = _owner_command(line, None)
        if cmd is not None and cmd.verb in _COMMAND_VERBS:
            return cmd
    return None


def _read_request(msg: EmailMessage, ctx: Context, mail: Reading, body: str) -> IntroRequest:
    cfg = ctx.config
    fwd = forward.find_forward(msg)
    budget.checkpoint("forward")
    # the delegate who forwards is never the requester or the target of it
    sender_email = (mail.sender.email or "").lower() if mail.sender else ""
    passers = (*cfg.owner.addresses, sender_email) if mail.from_delegate else cfg.owner.addresses
    return request.read_request(
        body=body,
        forward=fwd,
        subject=mail.subject,
        owner_addresses=passers,
        intro_address=cfg.intro_address,
        owner_name=cfg.owner.name,
        contacts=ctx.contacts,
    )
