"""`introd templates list|check|preview`: see a template's result before a contact does.

`check` renders every template, built-in and overridden, in every language
folder, once for every situation the daemon renders it in, with the variables
the daemon gives it there and no others: a variable a template cannot have in
some situation is found here, not in a mail to a contact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email
import email.policy
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .config import Config
from .engine import (
    DigestLine,
    DigestThanks,
    NumberedCandidate,
    mail_language,
    recipients,
    render_context,
    write_mail,
)
from .exceptions import UsageError
from .files import cache_root, read_own, replace_private
from .model import Person
from .rules import RuleName
from .state import IntroRow
from .render import (
    OWNER_TEMPLATES,
    PARTS,
    TEMPLATE_NAMES,
    Rendered,
    Templates,
    builtin_dir,
    language_folders,
)
from .sandbox import describe_error

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
    "late_answer": "once, to a party whose answer came after the intro ended",
    "introduction_draft": "to you (and your delegates) when both said yes and "
    "optin.owner_reviews_introduction is on: `send`, or your own words",
    "ask_details": "to the requester when you (or a delegate) answered `details` and a "
    "question: their answer completes the request",
    "optin_snoozed_again": "to the target, once, on the day they asked to be asked again "
    "(optin.snooze): is now a better time?",
    "followup": "to the requester, followup.after the introduction: did you connect? "
    "(once more after an unclear answer)",
}
TARGET_TEMPLATES = ("optin_target", "thanks_target", "withdrawn")
_FILE = re.compile(r"^(?P<name>[a-z_]+)\.(?P<part>subject|txt|html)\.j2$")
_REMOTE = re.compile(
    r"<(?:img|script|iframe|link|object|embed|video|audio|source|input)\b[^>]*?"
    r"\b(?:src|href|data|poster|background)\s*=\s*[\"']?\s*(?:https?:)?//[^\s\"'>]*"
    r"|<script\b|url\(\s*[\"']?\s*(?:https?:)?//[^)\"']*",
    re.IGNORECASE,
)


# -- sample data: the same shapes the engine gives templates --------------------------
SampleCandidate = NumberedCandidate
SamplePending = DigestLine
SampleThanks = DigestThanks


@dataclass(frozen=True, slots=True, kw_only=True)
class Situation:
    """One situation a template is rendered in: who it goes to, the intro as the state holds
    it, what the engine adds for this mail, and so the context the engine gives it."""

    label: str
    role: str
    intro: IntroRow | None
    extra: dict[str, Any]
    context: dict[str, Any]


NOW = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
REQUESTER = Person(name="Tim Walker", email="tim.walker@example.org")
TARGET = Person(name="Bob Jones", email="bob.jones@bigchem.example")
NOTE = (
    "I am finishing my PhD on polymer catalysts and move to St. Louis in June.\n"
    "Ten minutes about the team would help me a lot."
)
# signs the sample reply addresses: their shape is the real one, their token is no one's
SAMPLE_SECRET = b"introd templates check: sample data only"
_ROW_FIELDS = frozenset(f.name for f in fields(IntroRow))


def sample_intro(cfg: Config, **changes: Any) -> IntroRow:
    """An intro as the state holds it, for the sample situations."""
    created = NOW - timedelta(days=2)
    intro = IntroRow(
        id="K7F3Q2",
        state="awaiting",
        created=created,
        updated=created,
        expires=created + cfg.expire_after,
        requester_name=REQUESTER.name,
        requester_email=REQUESTER.email,
        target_name=TARGET.name,
        target_email=TARGET.email,
        reason="applied for the Manager, Technology Transfer role and would like to learn "
        "about the team",
        blurb="Dear Lisa,\n\nCould you introduce me to Bob Jones? I applied for the Manager, "
        "Technology Transfer role and would value ten minutes of his time.\n\nThank you,\n"
        "Tim",
        subject="Introduction to Bob Jones?",
        source_message_id=None,
        rule=None,
        action=None,
        detail=None,
        candidates=[],
        optin_order=cfg.optin_order,
        requester_note=None,
    )
    return replace(intro, **changes)


def _owner(cfg: Config) -> Person:
    return Person(name=cfg.owner.name, email=cfg.owner.email)


def situation(
    cfg: Config, label: str, role: str, *, intro: bool = True, **changes: Any
) -> Situation:
    """A situation: CHANGES that name an intro's field change the sample intro (none when
    INTRO is false), the others are what the engine adds for this mail; the context is
    built by the engine's own `render_context`."""
    row = (
        sample_intro(cfg, **{k: v for k, v in changes.items() if k in _ROW_FIELDS})
        if intro
        else None
    )
    extra = {k: v for k, v in changes.items() if k not in _ROW_FIELDS}
    return Situation(
        label=label,
        role=role,
        intro=row,
        extra=extra,
        context=render_context(cfg, SAMPLE_SECRET, row, role, extra),
    )


def situations(cfg: Config, name: str) -> list[Situation]:
    """Every situation the daemon renders NAME in, with the variables it has there."""
    return list(_situations(cfg, name))


# the mail that asks a party for an answer; the rest to the parties tells them something
_ASKING_TEMPLATES = (
    "optin_requester",
    "optin_target",
    "reminder",
    "reask",
    "followup",
    "optin_snoozed_again",
    "ask_details",
)


def _situations(cfg: Config, name: str) -> Iterator[Situation]:
    if name in OWNER_TEMPLATES:
        yield from _owner_situations(cfg, name)
    elif name in _ASKING_TEMPLATES:
        yield from _asking_situations(cfg, name)
    else:
        yield from _telling_situations(cfg, name)


def _asking_situations(cfg: Config, name: str) -> Iterator[Situation]:
    """The opt-ins, their reminder and re-ask, the follow-up, the snoozed target's
    second ask and the question for details."""

    def s(label: str, role: str, **changes: Any) -> Situation:
        return situation(cfg, label, role, **changes)

    no_name = {"target_name": None, "target_email": "lab@bigchem.example"}
    if name in ("optin_requester", "optin_target"):
        role = name.removeprefix("optin_")
        for order in ("parallel", "requester_first", "target_first"):
            note = NOTE if order == "requester_first" and role == "target" else None
            yield s(order, role, optin_order=order, requester_note=note)
        yield s("no reason, no blurb, no expiry", role, reason=None, blurb="", expires=None)
        yield s("names unknown, addresses only", role, requester_name=None, **no_name)
        if role == "requester":
            yield s(
                "to a person the first target suggested",
                role,
                target_name="Jane Roe",
                target_email="jane.roe@bigchem.example",
                suggested_by={"name": TARGET.name, "email": TARGET.email, "intro_id": "M2P9X4"},
            )
    elif name in ("reminder", "reask"):
        extra = (
            {"first_sent": NOW - timedelta(days=4)}
            if name == "reminder"
            else {"previous_answer_excerpt": "Maybe next month? Things are busy here."}
        )
        for role in ("requester", "target"):
            yield s(f"to the {role}", role, **extra)
    elif name == "followup":
        done = {"state": "introduced", "expires": None}
        yield s(
            "first ask",
            "requester",
            again=False,
            previous_answer_excerpt="",
            introduced_at=NOW - timedelta(days=14),
            **done,
        )
        yield s(
            "asked again after an unclear answer",
            "requester",
            again=True,
            previous_answer_excerpt="We tried, it's complicated.",
            introduced_at=None,
            **done,
        )
    elif name == "optin_snoozed_again":
        yield s("on the day named", "target", snoozed_at=NOW - timedelta(days=90))
        yield s("the day of the answer unknown", "target", snoozed_at=None, reason=None)
    elif name == "ask_details":
        yield s(
            "a blanket request in review",
            "requester",
            target_name=None,
            target_email=None,
            reason=None,
            state="details",
            question="Who at BigChem specifically, and why them?",
        )
        yield s(
            "a question of several lines",
            "requester",
            state="details",
            question="Which team do you mean?\n\nAnd what would you ask them?",
        )


def _telling_situations(cfg: Config, name: str) -> Iterator[Situation]:
    """The introduction, the declines and ends, the notes to the target, the late answer."""

    def s(label: str, role: str, **changes: Any) -> Situation:
        return situation(cfg, label, role, **changes)

    no_name = {"target_name": None, "target_email": "lab@bigchem.example"}
    if name == "introduction":
        yield s("with the requester's note", "both", requester_note=NOTE, state="introduced")
        yield s("with a reason, no note", "both", state="introduced")
        yield s("blurb only", "both", reason=None, state="introduced")
        yield s("nothing to quote", "both", reason=None, blurb="", state="introduced", **no_name)
        yield s(
            "in the owner's own words",
            "both",
            state="introduced",
            owner_text="Hi both,\n\nTim, meet Bob: <the> person for tech transfer.",
        )
    elif name == "decline_no_target":
        yield s(
            "blanket request",
            "requester",
            target_name=None,
            target_email=None,
            reason=None,
            state="declined",
        )
    elif name in TARGET_TEMPLATES:
        yield s("to the target", "target")
    elif name in ("declined_by_target", "expired", "decline_no_reason", "decline_policy"):
        yield s("to the requester", "requester")
        if name in ("decline_no_reason", "decline_policy"):
            yield s(
                "no reason, target by address",
                "requester",
                reason=None,
                state="declined",
                **no_name,
            )
    elif name == "late_answer":
        for state in ("expired", "introduced", "declined_by_target"):
            for role in ("requester", "target"):
                yield s(f"{state}, to the {role}", role, state=state)


def _owner_situations(cfg: Config, name: str) -> Iterator[Situation]:
    """The mail to the owner (and the delegates): review, notices, the digest, the draft."""

    def s(label: str, role: str, **changes: Any) -> Situation:
        return situation(cfg, label, role, **changes)

    if name == "review":
        yield from _review_situations(cfg)
    elif name == "digest":
        yield from _digest_situations(cfg)
    elif name == "bounce_notice":
        yield s(
            "with an intro",
            "owner",
            failed_address=TARGET.email,
            failure="550 5.1.1 <bob.jones@bigchem.example>: Recipient address rejected: "
            "User unknown",
        )
        yield s(
            "without an intro",
            "owner",
            intro=False,
            failed_address="old.friend@gone.example",
            failure="",
        )
    elif name == "introduction_draft":
        draft = {
            "state": "draft",
            "introduction_subject": "Introduction: Tim Walker <> Bob Jones",
            "introduction": "Hi Bob and Tim,\n\nIt's a pleasure to introduce you.\n\n"
            "All the best,\nLisa",
        }
        yield s("the draft", "owner", first_sent=None, **draft)
        yield s("the one reminder", "owner", first_sent=NOW - timedelta(days=4), **draft)
    elif name == "owner_notice":
        yield s(
            "a command done",
            "owner",
            headline="Done: approve K7F3Q2",
            lines=[
                "I have asked Tim Walker and Bob Jones whether they would like the introduction."
            ],
        )
        yield s(
            "status, no intro",
            "owner",
            intro=False,
            headline="Status of your introductions",
            lines=["Waiting for answers: 2", "Waiting for you: 1"],
        )


def _review_situations(cfg: Config) -> Iterator[Situation]:
    def s(label: str, **changes: Any) -> Situation:
        return situation(cfg, label, "owner", state="review", **changes)

    yield s(
        "ambiguous_target with candidates",
        target_name="Sarah Chen",
        target_email=None,
        rule=RuleName.AMBIGUOUS_TARGET,
        blurb="Hi Lisa,\n\nCould you introduce me to Sarah Chen? I would like to ask her "
        "about polymer recycling.\n\nTim",
        detail="'Sarah Chen' matches 2 contacts",
        review_reason="the name matches several of your contacts",
        candidates=[
            {
                "name": "Sarah Chen",
                "email": "sarah.chen@helix.example",
                "company": "Helix Polymers",
            },
            {"name": "Sarah Chen", "email": "schen@arbor.example", "company": None},
        ],
    )
    yield s(
        "unknown_target without an address",
        target_name="Mr. Halvorsen",
        target_email=None,
        rule=RuleName.UNKNOWN_TARGET,
        detail="no address known for 'Mr. Halvorsen'",
        review_reason="I have no address for the person named",
    )
    yield s(
        "unclear_answer",
        rule=RuleName.UNCLEAR_ANSWER,
        detail="the target answered twice without a clear yes or no",
        review_reason="an answer was unclear twice",
    )
    yield s(
        "the target suggests someone else",
        rule=RuleName.SUGGESTED_TARGET,
        detail="the target is not the right person and suggests someone else",
        review_reason="the person asked is not the right one and suggests someone else",
        suggested={"name": "Jane Roe", "email": "jane.roe@bigchem.example"},
        suggestion_excerpt="Not me, but ask Jane Roe <jane.roe@bigchem.example>, she runs "
        "tech transfer.",
    )
    yield s(
        "review_all, no reason, no blurb",
        rule=RuleName.REVIEW_ALL,
        detail="",
        review_reason="you asked to see every request",
        reason=None,
        blurb="",
    )


def _digest_situations(cfg: Config) -> Iterator[Situation]:
    period = {"period_start": NOW - timedelta(days=7), "period_end": NOW}
    counts = {
        "received": 5,
        "introduced": 2,
        "declined": 1,
        "expired": 0,
        "awaiting": 2,
        "bounced": 1,
        "met": 1,
        "not_met": 0,
        "unanswered": 1,
    }
    yield situation(
        cfg,
        "a busy week",
        "owner",
        intro=False,
        counts=counts,
        awaiting=[
            SamplePending(id="K7F3Q2", requester=REQUESTER, target=TARGET, age_days=3),
            SamplePending(id="M2P9X4", requester=REQUESTER, target=None, age_days=1),
        ],
        ledger=[
            SamplePending(
                id="Q4R8T1",
                requester=TARGET,
                target=_owner(cfg),
                age_days=0,
                date=NOW - timedelta(days=2),
            )
        ],
        thanks=[
            SampleThanks(
                id="Q4R8T1",
                requester=REQUESTER,
                target=TARGET,
                text="Yes, we met last week — thank you!",
                date=NOW - timedelta(days=1),
            )
        ],
        **period,
    )
    yield situation(
        cfg,
        "a quiet week",
        "owner",
        intro=False,
        counts=dict.fromkeys(counts, 0),
        awaiting=[],
        ledger=[],
        thanks=[],
        **period,
    )


# -- checking ----------------------------------------------------------------------
def languages(templates: Templates) -> list[str]:
    """The language folders found in the package and in templates_dir."""
    found: set[str] = set()
    for base in (builtin_dir(), templates.templates_dir):
        if base is None or not Path(base).is_dir():
            continue
        for sub in Path(base).iterdir():
            if (
                sub.is_dir()
                and language_folders(sub.name)[:1] == [sub.name]
                and any(sub.glob("*.j2"))
            ):
                found.add(sub.name)
    return sorted(found - {templates.default_language})


def _has_language(templates: Templates, name: str, lang: str) -> bool:
    return any(templates.origin(f"{lang}/{name}.{part}.j2") for part in PARTS)


def check_templates(cfg: Config, templates: Templates | None = None) -> list[str]:
    """Render every template, in every language, for every situation; list the problems.

    Each problem is one line starting with the file (and line) to fix. The templates are
    compiled in TEMPLATES when given (the set the engine then renders with, so that none
    is compiled twice), else in a set of the check's own.
    """
    if templates is None:
        templates = Templates(cfg.templates_dir)
    problems: dict[str, None] = {}  # ordered and without repeats
    for problem in _check_files(templates):
        problems[problem] = None
    seen: set[str] = set(problems)
    for lang in [None, *languages(templates)]:
        for name in TEMPLATE_NAMES:
            if lang and not _has_language(templates, name, lang):
                continue
            for situation in situations(cfg, name):
                rendered, found = templates.try_render(name, situation.context, lang)
                for problem in found:
                    if problem not in seen:
                        seen.add(problem)
                        where = f"{lang}/{name}" if lang else name
                        problems[f"{problem} [{where}, {situation.label}]"] = None
                if rendered is not None:
                    for problem in _check_html(templates, rendered, lang):
                        problems[problem] = None
    return list(problems)


REMEMBERED = 32  # passed checks a cache folder remembers (instances may share one)


def check_templates_cached(cfg: Config, templates: Templates | None = None) -> list[str]:
    """``check_templates``, skipped when it already passed for these very templates.

    A pass is remembered as a digest of everything the check reads: the content of every
    built-in and templates_dir file, the config's settings (less the servers' sign-in and
    the paths of the instance's own files), and introd's and jinja2's own code. A changed,
    added or removed file changes the digest, so it is checked again; a failed check is
    never remembered. The digests live in the cache folder (``files.cache_root``), the
    newest REMEMBERED of them, so that a fresh state with templates already checked costs
    no check either; without a safe cache folder, beside the state. A start of
    `introd run` with nothing changed then costs no compiling.
    """
    path = _remembered_at(cfg)
    try:
        digest = _check_digest(cfg)
    except OSError:  # a file the check itself will report, or a folder that went away
        return check_templates(cfg, templates)
    known: list[str] = []
    with contextlib.suppress(UnicodeDecodeError):
        known = (read_own(path) or b"").decode("ascii").split()
    if digest in known:
        return []
    problems = check_templates(cfg, templates)
    if not problems:
        kept = [digest, *(d for d in known if d != digest)][:REMEMBERED]
        with contextlib.suppress(OSError):  # a failure to remember only costs a check
            replace_private(path, "".join(f"{d}\n" for d in kept).encode("ascii"))
    return problems


def _remembered_at(cfg: Config) -> Path:
    root = cache_root()
    if root is not None:
        return root / "templates-checked"
    return cfg.state_path.with_name(cfg.state_path.name + ".templates-checked")


def _check_digest(cfg: Config) -> str:
    import jinja2
    import markupsafe

    h = hashlib.sha256()
    # the instance's own files do not change what a template renders
    settings = dataclasses.replace(
        cfg,
        path=None,
        imap=None,
        smtp=None,
        oauth2=None,
        secret_file=Path(),
        state_path=Path(),
        metrics_textfile=None,
    )
    h.update(repr((settings, cfg.intro_address)).encode("utf-8", "replace"))
    code = [Path(__file__).parent, Path(jinja2.__file__).parent, Path(markupsafe.__file__).parent]
    for label, base, pattern in [
        *(("code", folder, "*.py") for folder in code),
        ("built-in", builtin_dir(), "*"),
        ("templates_dir", cfg.templates_dir, "*"),
    ]:
        h.update(f"\0{label}\0{base}\0".encode())
        if base is None or not Path(base).is_dir():
            continue
        for file in sorted(Path(base).rglob(pattern)):
            if file.is_file() and "__pycache__" not in file.parts:
                h.update(f"\0{file.relative_to(base)}\0".encode("utf-8", "replace"))
                h.update(file.read_bytes())
    return h.hexdigest()


def _check_files(templates: Templates) -> Iterator[str]:
    """Stray files in templates_dir (a misspelt name is never used), and files that do not
    compile, even if no situation reaches them."""
    base = templates.templates_dir
    if base is None or not base.is_dir():
        return
    for path in sorted(base.rglob("*.j2")):
        rel = path.relative_to(base).as_posix()
        folder = rel.rpartition("/")[0]
        match = _FILE.match(path.name)
        if path.name.startswith("_"):
            pass  # a partial for {% include %} / {% import %} / {% extends %}
        elif folder == templates.default_language:
            yield (
                f"{path}: introd never reads this file: '{folder}' is the default language, "
                "whose files go at the top of templates_dir"
            )
            continue
        elif folder and language_folders(folder)[:1] != [folder]:
            yield (
                f"{path}: introd never reads this file: '{folder}' is not a language "
                "folder (two or three letters, like 'fr' or 'pt-br')"
            )
            continue
        elif path.name == "layout.html.j2":
            pass
        elif not match or match["name"] not in TEMPLATE_NAMES:
            yield (
                f"{path}: introd never reads this file: not NAME.subject.j2, NAME.txt.j2, "
                "NAME.html.j2 for a template name (see `introd templates list`) or "
                "layout.html.j2"
            )
            continue
        try:
            templates.env.get_template(rel)
        except Exception as exc:  # the check reports any failure, never raises
            yield describe_error(exc, str(path))


def _check_html(templates: Templates, rendered: Rendered, lang: str | None) -> Iterator[str]:
    if rendered.html is None:
        return
    remote = _REMOTE.search(rendered.html)
    if remote:
        text = templates.source(rendered.name, "txt", lang)
        source = templates.html_source(rendered.name, text, lang) if text else None
        yield (
            f"{source.path if source else rendered.name}: the HTML part loads something "
            f"from the network ({remote.group(0)[:60]}...): mail programs block it and it "
            "tells the sender who read the mail; use inline styles and text instead"
        )


# -- listing -----------------------------------------------------------------------
def _origin(templates: Templates, name: str, lang: str | None) -> str:
    """Where NAME comes from in LANG: built-in, templates_dir, or a mix of files."""
    if lang and not _has_language(templates, name, lang):
        return "-"
    sources = [templates.source(name, part, lang) for part in ("subject", "txt")]
    html = templates.html_source(name, sources[1], lang) if sources[1] else None
    if html is not None and not html.filename.endswith("layout.html.j2"):
        sources.append(html)
    origins = {s.origin for s in sources if s is not None}
    fallback = lang is not None and any(s is not None and "/" not in s.filename for s in sources)
    where = origins.pop() if len(origins) == 1 else "mixed"
    return f"{where}+en" if fallback else where


def _parts(templates: Templates, name: str) -> str:
    """text+layout (HTML derived from the text), text+html (a NAME.html.j2 of its own) or
    text (an empty HTML file turns the HTML part off)."""
    text = templates.source(name, "txt")
    html = templates.html_source(name, text, None) if text else None
    if html is None or not html.path.read_text(encoding="utf-8").strip():
        return "text"
    return "text+layout" if html.filename.endswith("layout.html.j2") else "text+html"


def list_templates(cfg: Config) -> list[str]:
    """One line per template: its parts, where it comes from in each language, when sent."""
    templates = Templates(cfg.templates_dir)
    langs = languages(templates)
    head = (
        f"{'template':<20} {'parts':<10} {'en':<14} "
        + "".join(f"{lang:<14} " for lang in langs)
        + "sent"
    )
    lines = [head]
    for name in TEMPLATE_NAMES:
        parts = _parts(templates, name)
        cols = "".join(f"{_origin(templates, name, lang):<14} " for lang in [None, *langs])
        lines.append(f"{name:<20} {parts:<10} {cols}{WHEN_SENT[name]}")
    if langs:
        lines.append("")
        lines.append(
            "built-in / templates_dir: where the files come from; mixed: some of each; "
            "+en: some parts fall back to the top-level (English) file; "
            "-: that language has no file for the template, the top-level one is sent"
        )
    return lines


# -- previewing --------------------------------------------------------------------
def _role_of(name: str) -> str:
    if name in OWNER_TEMPLATES:
        return "owner"
    if name == "introduction":
        return "both"
    return "target" if name in TARGET_TEMPLATES else "requester"


def preview(
    cfg: Config,
    name: str,
    *,
    lang: str | None = None,
    store: Any = None,
    intro_id: str | None = None,
    html_out: str | None = None,
) -> str:
    """NAME rendered as it would go out, in LANG (else the language the engine would choose):
    headers, then the text part. `fr/NAME` is NAME with `--lang fr`.

    Sample data, or with INTRO_ID the intro's real data from the state. The context, the
    language, the recipients and whether a Reply-To is set come from the engine's own
    functions, so what is shown is what would be sent.
    """
    folder, _, bare = name.rpartition("/")
    lang = lang or folder or None
    if bare not in TEMPLATE_NAMES:
        raise UsageError(f"unknown template {bare!r}; see `introd templates list`")
    if lang and not language_folders(lang):
        raise UsageError(f"not a language: {lang!r} (use a code like fr or pt-br)")
    templates = Templates(cfg.templates_dir)
    role = _role_of(bare)
    sample = next((s for s in situations(cfg, bare) if s.role == role), situations(cfg, bare)[0])
    intro, secret = sample.intro, SAMPLE_SECRET
    known: Callable[[str], str | None] = _nobody_known
    if intro_id:
        engine = _engine(cfg, templates, store)
        intro = store.intro(intro_id.upper()) if store is not None else None
        if intro is None:
            raise UsageError(f"no intro {intro_id}")
        secret, known = engine.secret, engine._known_language
    context = render_context(cfg, secret, intro, role, sample.extra)
    language = lang or mail_language(cfg, bare, intro, role, known)
    rendered, raw = write_mail(
        cfg,
        templates,
        bare,
        intro,
        role,
        context=context,
        language=language,
        to=recipients(cfg, bare, intro, role),
        message_id="<preview@introd>",
        now=datetime.now(UTC),
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    head = "\n".join(
        f"{k}: {v}"
        for k, v in msg.items()
        if k.lower() not in ("content-type", "content-transfer-encoding", "mime-version")
    )
    text = templates.source(bare, "txt", language)
    out = f"{head}\n\n{rendered.text}\n[language {language}: {text.path if text else bare}]"
    if rendered.html is not None:
        if html_out:
            Path(html_out).write_text(rendered.html, encoding="utf-8")
            out += f"\n[HTML part written to {html_out}]"
        else:
            out += "\n[HTML part: give --html out.html to see it]"
    return out


def _nobody_known(email: str) -> str | None:
    """The sample people are no one's contacts and never wrote to us."""
    return None


def _engine(cfg: Config, templates: Templates, store: Any) -> Any:
    from .reading.people import ContactBook
    from .engine import Engine
    from .files import load_secret
    from .wiring import load_book

    try:
        book = load_book(cfg)
    except Exception:  # the preview still works with the intro's own data
        book = ContactBook([])
    return Engine(
        cfg, store=store, templates=templates, contacts=book, secret=load_secret(cfg.secret_file)
    )
