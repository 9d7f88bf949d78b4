"""The built-in mail templates render for every situation, in every built-in language."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

from introd.model import Person
from introd.render import Templates

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NAMES = (
    "optin_requester",
    "optin_target",
    "introduction",
    "reminder",
    "reask",
    "declined_by_target",
    "thanks_target",
    "withdrawn",
    "expired",
    "decline_no_target",
    "decline_no_reason",
    "decline_policy",
    "review",
    "bounce_notice",
    "digest",
    "owner_notice",
    "late_answer",
    "followup",
    "ask_details",
    "introduction_draft",
    "optin_snoozed_again",
)
OWNER_NAMES = ("review", "bounce_notice", "digest", "owner_notice", "introduction_draft")
PARTY_NAMES = tuple(n for n in NAMES if n not in OWNER_NAMES)
NOT_NAMING_TARGET = (
    "declined_by_target",
    "decline_no_target",
    "decline_no_reason",
    "decline_policy",
)
LANGUAGES = {"en": NAMES, "fr": NAMES, "de": NAMES, "es": NAMES}
EVERY_LANGUAGE = LANGUAGES
TAG = "[intro K7F3Q2]"


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleIntro:
    id: str
    reason: str | None
    blurb: str
    created: datetime
    expires: datetime | None
    state: str = "awaiting"


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleCandidate:
    number: int
    name: str
    email: str | None
    company: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleAwaiting:
    id: str
    requester: Person | None
    target: Person | None
    age_days: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleLedgerEntry:
    requester: Person | None
    target: Person | None
    date: datetime | date


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleThanks:
    requester: Person | None
    target: Person | None
    date: datetime | date
    text: str


OWNER = Person(name="Marguerite Okafor", email="marguerite@okafor-advisory.example")
REQUESTER = Person(name="Daniel Whitcombe", email="d.whitcombe@fieldnote.example")
TARGET = Person(name="Ingrid Sørensen", email="ingrid.sorensen@nordpolymer.example")
CREATED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
EXPIRES = datetime(2026, 3, 15, 9, 30, tzinfo=UTC)
INTRO = SampleIntro(
    id="K7F3Q2",
    reason="Daniel is moving into polymer recycling and would like to hear how Nordpolymer "
    "runs its pilot line.",
    blurb="Hello Marguerite,\n\nI saw that you know Ingrid Sørensen at Nordpolymer. I am moving "
    "into polymer recycling and would value twenty minutes with her about the pilot "
    "line.\n\nThanks a lot,\nDaniel",
    created=CREATED,
    expires=EXPIRES,
)
NOTE = (
    "Dear Ms Sørensen,\nI spent six years in packaging at Fieldnote and am now starting a "
    "recycling project. Could I ask you about your pilot line?\n\nDaniel"
)
SCRIPT = "<script>alert('x')</script>"


def render_date(value: Any, fmt: str = "%-d %B %Y") -> str:
    """The renderer's `date` filter, as templates may use it."""
    return "" if value is None else value.strftime(fmt)


def make_env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=False, default=False
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = render_date
    return env


ENV = make_env()


def base_context(**extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "owner": OWNER,
        "requester": REQUESTER,
        "target": TARGET,
        "intro": INTRO,
        "reply_address": "intros+q7en9752c9r8@okafor-advisory.example",
        "recipient": REQUESTER,
        "role": "requester",
    }
    context.update(extra)
    return context


# the mails that ask, introduce, remind or decline: to the requester and the target
TO_THE_PARTIES = (
    "optin_requester",
    "optin_target",
    "introduction",
    "reminder",
    "reask",
    "thanks_target",
    "withdrawn",
    "decline_no_target",
    "declined_by_target",
    "expired",
    "decline_no_reason",
    "decline_policy",
)


def _to_the_parties(name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    as_target = {"recipient": TARGET, "role": "target"}
    no_reason = replace(INTRO, reason=None)
    if name == "optin_requester":
        for order in ("parallel", "requester_first", "target_first"):
            yield order, base_context(order=order)
        yield "no_expiry", base_context(order="parallel", intro=replace(INTRO, expires=None))
        yield (
            "suggested_by_the_first_target",
            base_context(
                order="parallel",
                target=Person(name="Jane Roe", email="jane.roe@nordpolymer.example"),
                suggested_by=TARGET,
            ),
        )
        yield (
            "target_by_address_only",
            base_context(order="parallel", target=Person(email="lab@nordpolymer.example")),
        )
    elif name == "optin_target":
        for order in ("parallel", "target_first"):
            yield order, base_context(order=order, requester_note=None, **as_target)
        yield (
            "requester_first_with_note",
            base_context(order="requester_first", requester_note=NOTE, **as_target),
        )
        yield (
            "no_reason_empty_blurb",
            base_context(
                order="parallel",
                requester_note=None,
                intro=replace(no_reason, blurb=""),
                **as_target,
            ),
        )
    elif name == "introduction":
        yield "with_note", base_context(requester_note=NOTE)
        yield "reason_only", base_context(requester_note=None)
        yield "blurb_only", base_context(requester_note=None, intro=no_reason)
        yield (
            "nothing_to_quote",
            base_context(requester_note=None, intro=replace(no_reason, blurb="")),
        )
    elif name == "reminder":
        yield "to_requester", base_context(first_sent=CREATED)
        yield "to_target", base_context(first_sent=CREATED, **as_target)
        yield "first_sent_unknown", base_context(first_sent=None, **as_target)
    elif name == "reask":
        yield "to_requester", base_context(previous_answer_excerpt="Maybe after Easter?")
        yield (
            "to_target",
            base_context(
                previous_answer_excerpt="yes, but perhaps next month\nbusy right now", **as_target
            ),
        )
    elif name in ("thanks_target", "withdrawn"):
        yield "to_target", base_context(**as_target)
    elif name == "decline_no_target":
        yield "blanket", base_context(target=None, intro=replace(no_reason, reason=None))
    elif name in ("declined_by_target", "expired", "decline_no_reason", "decline_policy"):
        yield "to_requester", base_context()
    else:  # pragma: no cover - a name in TO_THE_PARTIES without situations here
        raise AssertionError(name)


def situations(name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every situation a template is rendered in, as (label, context)."""
    as_target = {"recipient": TARGET, "role": "target"}
    no_reason = replace(INTRO, reason=None)
    if name in TO_THE_PARTIES:
        yield from _to_the_parties(name)
    elif name == "review":
        yield from review_situations()
    elif name == "bounce_notice":
        yield (
            "target_failed",
            base_context(
                recipient=OWNER,
                role="owner",
                failed_address=TARGET.email,
                failure="550 5.1.1 <ingrid.sorensen@nordpolymer.example>: user unknown",
            ),
        )
        yield (
            "no_intro",
            base_context(
                recipient=OWNER,
                role="owner",
                intro=None,
                requester=None,
                target=None,
                failed_address="old@gone.example",
                failure="",
            ),
        )
    elif name == "digest":
        yield from digest_situations()
    elif name == "late_answer":
        for state in ("expired", "introduced"):
            yield (
                state,
                base_context(intro=replace(INTRO, state=state), recipient=TARGET, role="target"),
            )
    elif name == "followup":
        done = replace(INTRO, state="introduced", expires=None)
        yield (
            "first",
            base_context(
                intro=done, again=False, previous_answer_excerpt="", introduced_at=CREATED
            ),
        )
        yield (
            "again",
            base_context(
                intro=done,
                again=True,
                introduced_at=None,
                previous_answer_excerpt="We tried; it's complicated.",
            ),
        )
    elif name == "introduction_draft":
        draft = {
            "recipient": OWNER,
            "role": "owner",
            "intro": replace(INTRO, state="draft"),
            "introduction_subject": "Introduction: Daniel <> Ingrid",
            "introduction": "Hi Ingrid and Daniel,\n\nMeet each other.\n\nBest,\nMarguerite",
        }
        yield "draft", base_context(first_sent=None, **draft)
        yield "reminder", base_context(first_sent=CREATED, **draft)
    elif name == "optin_snoozed_again":
        yield "on_the_day", base_context(snoozed_at=CREATED, **as_target)
        yield "day_unknown_no_reason", base_context(snoozed_at=None, intro=no_reason, **as_target)
    elif name == "ask_details":
        yield (
            "blanket",
            base_context(
                target=None,
                intro=replace(no_reason, reason=None),
                question="Who at BigChem specifically, and why them?",
            ),
        )
        yield "two_lines", base_context(question="Which team?\n\nAnd what would you ask?")
    elif name == "owner_notice":
        owner = {"recipient": OWNER, "role": "owner"}
        yield (
            "confirmation",
            base_context(
                headline="Done: approve K7F3Q2", lines=["I have asked both of them."], **owner
            ),
        )
        yield (
            "status",
            base_context(
                headline="Status of your introductions",
                intro=None,
                lines=["Waiting for answers: 2"],
                **owner,
            ),
        )
    else:  # pragma: no cover - a name without situations is a bug of this test
        raise AssertionError(name)


def review_situations() -> Iterator[tuple[str, dict[str, Any]]]:
    owner = {"recipient": OWNER, "role": "owner"}
    chen_a = SampleCandidate(
        number=1, name="Sarah Chen", email="sarah.chen@helix.example", company="Helix Polymers"
    )
    chen_b = SampleCandidate(
        number=2, name="Sarah Chen", email="schen@brightwater.example", company=None
    )
    yield (
        "ambiguous_target",
        base_context(
            rule="ambiguous_target",
            detail="2 contacts are called Sarah Chen",
            review_reason="The name Sarah Chen matches more than one of your contacts.",
            candidates=[chen_a, chen_b],
            target=Person(name="Sarah Chen"),
            **owner,
        ),
    )
    yield (
        "unknown_target",
        base_context(
            rule="unknown_target",
            detail="",
            candidates=[],
            review_reason="I don't have an address for the person named.",
            target=Person(name="Mr. Halvorsen"),
            **owner,
        ),
    )
    yield (
        "requester_limit",
        base_context(
            rule="requester_limit",
            detail="4 requests in 30 days",
            candidates=[],
            review_reason="This is the 4th request from this person in 30 days.",
            **owner,
        ),
    )
    yield (
        "no_target_no_requester",
        base_context(
            rule="review_all",
            detail="",
            candidates=[],
            requester=None,
            target=None,
            review_reason="You asked to see every request.",
            **owner,
        ),
    )
    yield (
        "suggested_target",
        base_context(
            rule="suggested_target",
            detail="the target is not the right person and suggests someone else",
            candidates=[],
            review_reason="",
            suggestion=Person(name="Jane Roe", email="jane.roe@nordpolymer.example"),
            suggestion_excerpt="Not me, but ask Jane Roe <jane.roe@nordpolymer.example>.",
            **owner,
        ),
    )
    yield (
        "unclear_answer_sparse",
        base_context(
            rule=None,
            detail=None,
            candidates=[],
            review_reason="",
            intro=replace(INTRO, reason=None, blurb=""),
            **owner,
        ),
    )


def digest_situations() -> Iterator[tuple[str, dict[str, Any]]]:
    owner = {"recipient": OWNER, "role": "owner", "intro": None, "requester": None, "target": None}
    period = {
        "period_start": datetime(2026, 3, 1, tzinfo=UTC),
        "period_end": datetime(2026, 3, 8, tzinfo=UTC),
    }
    counts = {
        "received": 4,
        "introduced": 1,
        "declined": 1,
        "expired": 0,
        "awaiting": 2,
        "bounced": 1,
        "met": 1,
        "not_met": 0,
        "unanswered": 1,
    }
    yield (
        "busy_week",
        base_context(
            counts=counts,
            awaiting=[
                SampleAwaiting(id="K7F3Q2", requester=REQUESTER, target=TARGET, age_days=4),
                SampleAwaiting(id="M2P9X4", requester=REQUESTER, target=None, age_days=1),
            ],
            ledger=[
                SampleLedgerEntry(requester=REQUESTER, target=TARGET, date=CREATED),
                SampleLedgerEntry(requester=TARGET, target=OWNER, date=date(2026, 3, 4)),
            ],
            thanks=[
                SampleThanks(
                    requester=REQUESTER,
                    target=TARGET,
                    date=CREATED,
                    text="Yes, we met last week — thank you!",
                )
            ],
            **period,
            **owner,
        ),
    )
    yield (
        "quiet_week",
        base_context(
            counts=dict.fromkeys(counts, 0), awaiting=[], ledger=[], thanks=[], **period, **owner
        ),
    )


def cases() -> Iterator[Any]:
    for language, names in EVERY_LANGUAGE.items():
        for name in names:
            for label, context in situations(name):
                yield pytest.param(language, name, context, id=f"{language}-{name}-{label}")


def template_path(language: str, name: str, part: str) -> str:
    prefix = "" if language == "en" else f"{language}/"
    return f"{prefix}{name}.{part}.j2"


def render(language: str, name: str, part: str, context: dict[str, Any]) -> str | None:
    if part == "html":  # derived from the text part inside the layout
        return Templates().render(name, context, language=language).html
    path = template_path(language, name, part)
    if not (TEMPLATES / path).is_file():
        return None
    return ENV.get_template(path).render(**context)


class TestTemplateFiles:
    @pytest.mark.parametrize("language", EVERY_LANGUAGE)
    def test_every_name_has_subject_and_text(self, language: str) -> None:
        """Each template of a language has a subject and a text part."""
        for name in EVERY_LANGUAGE[language]:
            for part in ("subject", "txt"):
                assert (TEMPLATES / template_path(language, name, part)).is_file(), (name, part)

    def test_one_layout_and_no_html_of_their_own(self) -> None:
        """The HTML parts come from the text parts inside the one layout: no built-in
        NAME.html.j2, so editing a text part changes both parts."""
        assert sorted(
            p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html.j2")
        ) == ["layout.html.j2"]

    def test_no_stray_files(self) -> None:
        """Every file is NAME.subject/txt.j2 for a known name (a typo would be ignored)."""
        pattern = re.compile(r"^(?P<name>[a-z_]+)\.(subject|txt)\.j2$")
        for path in TEMPLATES.rglob("*.j2"):
            if path.name == "layout.html.j2" and path.parent == TEMPLATES:
                continue
            match = pattern.match(path.name)
            assert match and match["name"] in NAMES, path

    def test_package_markers_stay(self) -> None:
        """The template folders stay importable packages, so they ship inside the wheel."""
        assert (TEMPLATES / "__init__.py").is_file()
        for language in EVERY_LANGUAGE:
            if language != "en":
                assert (TEMPLATES / language / "__init__.py").is_file(), language

    def test_subject_files_are_one_line(self) -> None:
        """Subject templates hold a single line, so no newline reaches the header."""
        for path in TEMPLATES.rglob("*.subject.j2"):
            assert "\n" not in path.read_text(encoding="utf-8").rstrip("\n"), path


class TestRendering:
    @pytest.mark.parametrize(("language", "name", "context"), list(cases()))
    def test_renders_with_a_tagged_one_line_subject(
        self, language: str, name: str, context: dict[str, Any]
    ) -> None:
        """Every template renders; its subject is one line ending with the intro tag."""
        subject = render(language, name, "subject", context)
        assert subject is not None
        assert subject.strip() and "\n" not in subject and "\r" not in subject
        if context["intro"] is not None:
            assert subject.endswith(f" [intro {context['intro'].id}]")
        else:
            assert "[intro" not in subject

    @pytest.mark.parametrize(("language", "name", "context"), list(cases()))
    def test_bodies_are_not_empty(self, language: str, name: str, context: dict[str, Any]) -> None:
        """Text and HTML parts have content and no leftover markup."""
        text = render(language, name, "txt", context)
        assert text is not None and len(text.strip()) > 40
        assert "{{" not in text and "{%" not in text
        assert "\n\n\n" not in text, "no double blank lines"
        html = render(language, name, "html", context)
        assert html is not None and "</html>" in html
        assert "max-width:600px" in html and "{{" not in html

    @pytest.mark.parametrize(("language", "name", "context"), list(cases()))
    def test_party_mail_signed_by_owner(
        self, language: str, name: str, context: dict[str, Any]
    ) -> None:
        """Mail to a party ends with the owner's signature and never names the software."""
        if name in OWNER_NAMES:
            return
        text = render(language, name, "txt", context)
        assert text is not None
        assert text.rstrip().endswith(OWNER.first_name)
        assert not re.search(r"\bintrod\b", text, re.IGNORECASE)

    @pytest.mark.parametrize(
        ("language", "name", "context"), [c for c in cases() if c.values[1] in NOT_NAMING_TARGET]
    )
    def test_declines_never_name_the_target(
        self, language: str, name: str, context: dict[str, Any]
    ) -> None:
        """Declines and the 'declined' note never name the target nor give their address."""
        for part in ("subject", "txt", "html"):
            rendered = render(language, name, part, context) or ""
            for secret in (TARGET.name, TARGET.email, TARGET.first_name, "Sørensen"):
                assert secret and secret not in rendered, (part, secret)


class TestContent:
    @pytest.mark.parametrize("language", LANGUAGES)
    @pytest.mark.parametrize("name", ["optin_target", "introduction"])
    def test_html_escapes_user_text(self, language: str, name: str) -> None:
        """A blurb, note or name carrying markup is shown escaped in HTML, never as markup."""
        intro = replace(INTRO, reason=None, blurb=f"Hi,\n{SCRIPT}\nDaniel")
        requester = Person(name="Daniel <b>Whitcombe</b>", email=REQUESTER.email)
        context = base_context(
            order="parallel",
            intro=intro,
            requester=requester,
            requester_note=None if name == "introduction" else SCRIPT,
            recipient=TARGET,
            role="target",
        )
        html = render(language, name, "html", context)
        assert html is not None
        assert "<script>" not in html and "<b>" not in html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
        assert "&lt;b&gt;Whitcombe&lt;/b&gt;" in html

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_optin_target_quotes_blurb_and_reason(self, language: str) -> None:
        """The target sees the requester's message, the reason, and that a no is fine."""
        context = base_context(
            order="parallel", requester_note=None, recipient=TARGET, role="target"
        )
        text = render(language, "optin_target", "txt", context)
        assert text is not None
        assert INTRO.reason and INTRO.reason in text
        assert "    I saw that you know Ingrid Sørensen" in text
        assert {
            "en": "A no is perfectly fine",
            "fr": "Un non ne pose aucun problème",
            "de": "Ein Nein ist völlig in Ordnung",
            "es": "Un no está perfectamente bien",
        }[language] in text
        html = render(language, "optin_target", "html", context)
        assert html is not None and "<blockquote" in html

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_optin_target_shows_requester_note(self, language: str) -> None:
        """With requester_first, the target reads the requester's confirmed note."""
        context = base_context(
            order="requester_first", requester_note=NOTE, recipient=TARGET, role="target"
        )
        text = render(language, "optin_target", "txt", context)
        assert text is not None and "    I spent six years in packaging" in text

    @pytest.mark.parametrize("language", LANGUAGES)
    @pytest.mark.parametrize(
        "name", ["optin_requester", "optin_target", "reminder", "reask", "optin_snoozed_again"]
    )
    def test_questions_ask_for_words_the_reader_understands(self, language: str, name: str) -> None:
        """Mails expecting an answer ask for the words introd reads, in the reader's language."""
        context = base_context(
            order="parallel",
            requester_note=None,
            first_sent=CREATED,
            previous_answer_excerpt="hmm",
            snoozed_at=CREATED,
        )
        text = render(language, name, "txt", context)
        assert text is not None
        words = {
            "en": ('"yes"', '"no"'),
            "fr": ("« oui »", "« non »"),
            "de": ("„ja“", "„nein“"),
            "es": ("«sí»", "«no»"),
        }[language]
        assert all(w in text for w in words)

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_introduction_reads_as_handwritten(self, language: str) -> None:
        """The introduction greets both by first name, includes the note, asks nothing."""
        text = render(language, "introduction", "txt", base_context(requester_note=NOTE))
        assert text is not None
        assert TARGET.first_name in text.splitlines()[0]
        assert REQUESTER.first_name in text.splitlines()[0]
        assert "I spent six years in packaging" in text
        for robotic in (
            '"yes"',
            "« oui »",
            "„ja“",
            "«sí»",
            "reply to this mail",
            "intro K7F3Q2",
            "automatic",
        ):
            assert robotic.lower() not in text.lower()

    def test_review_lists_candidates_as_numbered_lines(self) -> None:
        """Candidates appear as `1. Name <address> — Company` lines the owner can pick from."""
        _, context = next(s for s in review_situations() if s[0] == "ambiguous_target")
        text = render("en", "review", "txt", context)
        assert text is not None
        lines = text.splitlines()
        assert "1. Sarah Chen <sarah.chen@helix.example> — Helix Polymers" in lines
        assert "2. Sarah Chen <schen@brightwater.example>" in lines
        assert "ambiguous_target" in text and "decline" in text

    @pytest.mark.parametrize(
        ("label", "approve"),
        [("ambiguous_target", False), ("unknown_target", False), ("requester_limit", True)],
    )
    def test_review_offers_the_answers_that_make_sense(self, label: str, approve: bool) -> None:
        """`approve` is offered only when the target has an address; otherwise a pick or one."""
        _, context = next(s for s in review_situations() if s[0] == label)
        text = render("en", "review", "txt", context)
        assert text is not None
        assert ("  approve " in text) is approve
        assert ("an address" in text) is (not approve)

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_review_of_a_suggestion_offers_the_suggested_person(self, language: str) -> None:
        """A target's suggestion reaches the owner with the person and the target's words;
        approving asks that person, and nobody is asked before."""
        _, context = next(s for s in review_situations() if s[0] == "suggested_target")
        text = render(language, "review", "txt", context)
        assert text is not None
        assert "Jane Roe <jane.roe@nordpolymer.example>" in text
        assert "    Not me, but ask Jane Roe" in text
        assert "details " not in text and "introd approve K7F3Q2" in text

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_optin_requester_says_who_suggested_the_target(self, language: str) -> None:
        """The requester of an intro started from a suggestion reads whom they asked about
        and whom they will meet instead."""
        _, context = next(
            s for s in situations("optin_requester") if s[0] == "suggested_by_the_first_target"
        )
        text = render(language, "optin_requester", "txt", context)
        assert text is not None and TARGET.name in text and "Jane Roe" in text  # type: ignore[operator]

    def test_bounce_notice_names_the_failed_party(self) -> None:
        """The owner learns which address failed, whose it is, and what the server said."""
        _, context = next(s for s in situations("bounce_notice") if s[0] == "target_failed")
        text = render("en", "bounce_notice", "txt", context)
        assert text is not None
        assert f"{TARGET.email} (the target)" in text
        assert "550 5.1.1" in text and "cancel K7F3Q2" in text

    def test_digest_shows_counts_awaiting_and_ledger(self) -> None:
        """The digest lists the period's figures, what is waiting and who was introduced."""
        _, context = next(digest_situations())
        text = render("en", "digest", "txt", context)
        assert text is not None
        assert re.search(r"Requests received:\s+4", text)
        assert "K7F3Q2  Daniel Whitcombe → Ingrid Sørensen (4 days)" in text
        assert "M2P9X4  Daniel Whitcombe → (unknown) (1 day)" in text
        assert "4 March 2026  Ingrid Sørensen → Marguerite Okafor" in text

    @pytest.mark.parametrize(
        ("language", "day", "expected"),
        [
            ("fr", 1, "jusqu'au 1er mars 2026"),
            ("fr", 15, "jusqu'au 15 mars 2026"),
            ("de", 1, "bis zum 1. März 2026"),
            ("es", 15, "hasta el 15 de marzo de 2026"),
        ],
    )
    def test_dates_in_the_mails_language(self, language: str, day: int, expected: str) -> None:
        """Mails write dates in their own language, whatever the renderer's locale."""
        intro = replace(INTRO, expires=datetime(2026, 3, day, tzinfo=UTC))
        text = render(
            language, "optin_requester", "txt", base_context(order="parallel", intro=intro)
        )
        assert text is not None and expected in text

    @pytest.mark.parametrize("language", ["fr", "de", "es"])
    @pytest.mark.parametrize(
        "name",
        ["review", "digest", "bounce_notice", "owner_notice", "reminder", "decline_no_target"],
    )
    def test_no_english_left_in_other_languages(self, language: str, name: str) -> None:
        """The owner's mails too are written in the language, down to dates and reasons."""
        for _, context in situations(name):
            if context.get("intro") is not None:  # the requester's own words stay as written
                context = {**context, "intro": replace(context["intro"], blurb="", reason=None)}
            context = {**context, "lines": [], "review_reason": "", "failure": ""}
            text = render(language, name, "txt", context) or ""
            for english in (" the ", " and ", "March", "Hi ", " you ", "matches"):
                assert english not in text, (english, text)


class TestDocumentation:
    DOC = Path(__file__).resolve().parent.parent / "docs" / "templates.md"

    def examples(self) -> list[str]:
        text = self.DOC.read_text(encoding="utf-8")
        return re.findall(r"```jinja\n(.*?)```", text, re.DOTALL)

    def test_documented_examples_render(self) -> None:
        """Every Jinja example in docs/templates.md renders against the sample data."""
        examples = self.examples()
        assert len(examples) >= 6
        context = base_context(
            order="parallel", requester_note=None, recipient=TARGET, role="target"
        )
        for source in examples:
            rendered = ENV.from_string(source).render(**context)
            assert rendered.strip() and "{{" not in rendered

    def test_every_template_is_documented(self) -> None:
        """docs/templates.md has a row for every template name."""
        text = self.DOC.read_text(encoding="utf-8")
        for name in NAMES:
            assert f"| `{name}` |" in text, name
