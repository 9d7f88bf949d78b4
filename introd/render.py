"""Rendering outgoing mail from templates, and composing its headers safely.

Templates live in the package (``introd.templates``) and may be overridden file
by file from ``templates_dir``; a language folder (``fr/NAME.txt.j2``) is
tried before the default language, file by file. They render in jinja2's
sandbox with ``StrictUndefined``: a typo is an error, never an empty string in
a mail. Names starting with ``_`` are refused when a template is compiled, so
an attempt to climb out of the sandbox is an error that names its file and
line, and never runs.
"""

from __future__ import annotations

import email.header
import email.policy
import email.utils
import functools
import importlib.resources
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .exceptions import TemplateError
from .model import Person
from .names import clean_name
from .texthtml import text_to_html

if TYPE_CHECKING:  # jinja2 is imported with the first template compiled (see sandbox)
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

TEMPLATE_NAMES = (
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
OWNER_TEMPLATES = ("review", "bounce_notice", "digest", "owner_notice", "introduction_draft")
PARTS = ("subject", "txt", "html")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")
_TAG = re.compile(r"\s*\[intro [A-Za-z0-9]+\]")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][a-z0-9]{2,8})?$")


def clean_header(value: str | None) -> str:
    """A header value with CR, LF and other control characters turned into spaces."""
    return " ".join(_CONTROL.sub(" ", value or "").split())


@functools.cache
def builtin_dir() -> Path:
    return Path(str(importlib.resources.files("introd.templates")))


def language_folders(language: str | None) -> list[str]:
    """The folders to try for LANGUAGE, most specific first: 'fr-CA' → ['fr-ca', 'fr']."""
    lang = (language or "").strip().lower().replace("_", "-")
    if not _LANGUAGE.match(lang):
        return []
    base = lang.split("-")[0]
    return [lang, base] if base != lang else [lang]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    name: str
    subject: str
    text: str
    html: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where one part of a template comes from."""

    filename: str  # relative, as the loader knows it: 'fr/optin_target.txt.j2'
    origin: str  # 'templates_dir' or 'built-in'
    path: Path


class Templates:
    """The template set: the user's ``templates_dir`` over the built-in templates."""

    def __init__(self, templates_dir: Path | None = None, default_language: str = "en") -> None:
        self.templates_dir = templates_dir
        self.default_language = default_language
        self._env: SandboxedEnvironment | None = None
        self._found: dict[str, Source | None] = {}
        self._sources: dict[tuple[str, str, str | None], Source | None] = {}
        self._compiled: dict[str, jinja2.Template] = {}

    @property
    def env(self) -> SandboxedEnvironment:
        """The jinja2 environment, made (and jinja2 imported) when first needed."""
        if self._env is None:
            from .sandbox import environment

            self._env = environment(self.templates_dir, builtin_dir())
        return self._env

    def origin(self, filename: str) -> str | None:
        """'templates_dir' or 'built-in' for a template file, None when absent."""
        found = self._find(filename)
        return found.origin if found else None

    def _find(self, filename: str) -> Source | None:
        """Where FILENAME is; looked up once (templates change only on reload, which
        builds a new Templates)."""
        if filename not in self._found:
            self._found[filename] = self._look_up(filename)
        return self._found[filename]

    def _look_up(self, filename: str) -> Source | None:
        if self.templates_dir is not None and (self.templates_dir / filename).is_file():
            return Source(
                filename=filename, origin="templates_dir", path=self.templates_dir / filename
            )
        if (builtin_dir() / filename).is_file():
            return Source(filename=filename, origin="built-in", path=builtin_dir() / filename)
        return None

    def source(self, name: str, part: str, language: str | None = None) -> Source | None:
        """The file NAME's PART comes from for LANGUAGE: its language folder, else the top."""
        key = (name, part, language)
        if key not in self._sources:
            self._sources[key] = self._choose(name, part, language)
        return self._sources[key]

    def _choose(self, name: str, part: str, language: str | None) -> Source | None:
        folders = [f for f in language_folders(language) if f != self.default_language]
        for filename in [*(f"{f}/{name}.{part}.j2" for f in folders), f"{name}.{part}.j2"]:
            found = self._find(filename)
            if found is not None:
                return found
        return None

    def _render_part(self, source: Source, context: Mapping[str, Any]) -> str:
        try:
            template = self._compiled.get(source.filename)
            if template is None:
                template = self._compiled[source.filename] = self.env.get_template(source.filename)
                # jinja2 keeps a template's globals as a ChainMap over the environment's,
                # which every render copies key by key in Python; they are never changed
                # once the environment is made, so a plain dict of them is the same
                template.globals = dict(template.globals)
            return template.render(context)
        except Exception as exc:  # any failure of a user's template, reported in one line
            from .sandbox import describe_error

            raise TemplateError(describe_error(exc, str(source.path))) from None

    def render(
        self,
        name: str,
        context: Mapping[str, Any],
        language: str | None = None,
        *,
        strict: bool = False,
    ) -> Rendered:
        """Render NAME's subject, text and (optional) HTML part; raise TemplateError.

        With ``strict`` (as `templates check` renders), a line break in the subject
        is an error; otherwise it can only come from data (a name read from mail)
        and is folded into a space like any header value.
        """
        rendered, problems = self.try_render(name, context, language, strict=strict)
        if rendered is None:
            raise TemplateError(problems[0])
        return rendered

    def try_render(
        self,
        name: str,
        context: Mapping[str, Any],
        language: str | None = None,
        *,
        strict: bool = True,
    ) -> tuple[Rendered | None, list[str]]:
        """The rendered mail, or None and every problem found (one line each)."""
        if name not in TEMPLATE_NAMES:
            return None, [f"unknown template {name!r}"]
        problems: list[str] = []
        out: dict[str, str | None] = {}
        sources = {part: self.source(name, part, language) for part in ("subject", "txt")}
        for part, source in sources.items():
            out[part] = None
            if source is None:
                problems.append(f"{name}.{part}.j2: template missing")
                continue
            try:
                out[part] = self._render_part(source, context)
            except TemplateError as exc:
                problems.append(str(exc))
        subject_file, text_file = sources["subject"], sources["txt"]
        subject = (out["subject"] or "").strip()
        if subject_file is not None and out["subject"] is not None:
            if strict and _CONTROL.search(subject.replace(" ", "")):
                problems.append(
                    f"{subject_file.path}: the subject has a line break or a "
                    "control character; a subject must be one line"
                )
            elif not clean_header(subject):
                problems.append(f"{subject_file.path}: the subject is empty")
        text = (out["txt"] or "").strip("\n")
        if text_file is not None and out["txt"] is not None and not text.strip():
            problems.append(f"{text_file.path}: the body is empty")
        if problems or text_file is None:
            return None, problems
        html, problem = self._html(name, text_file, context, text, clean_header(subject))
        if problem:
            return None, [problem]
        return Rendered(name=name, subject=clean_header(subject), text=text + "\n", html=html), []

    def html_source(self, name: str, text_file: Source, language: str | None) -> Source | None:
        """Where NAME's HTML part comes from: its own NAME.html.j2 beside the text part
        (same language folder), else the layout."""
        folder = text_file.filename.rpartition("/")[0]
        own = self._find(f"{folder}/{name}.html.j2" if folder else f"{name}.html.j2")
        return own if own is not None else self.source("layout", "html", language)

    def _html(
        self, name: str, text_file: Source, context: Mapping[str, Any], text: str, subject: str
    ) -> tuple[str | None, str | None]:
        """The HTML part (None when switched off by an empty file) and a problem, if any."""
        folder = text_file.filename.rpartition("/")[0]
        lang = folder or self.default_language
        source = self.html_source(name, text_file, lang)
        if source is None:
            return None, None
        extra: dict[str, Any] = {}
        if source.filename.rpartition("/")[2] == "layout.html.j2":
            extra = {
                "body": lambda style=None: text_to_html(text, style, lang=lang),
                "subject": _TAG.sub("", subject).strip(),
                "lang": lang,
                "template": name,
            }
        try:
            html = self._render_part(source, {**context, **extra})
        except TemplateError as exc:
            return None, str(exc)
        # an empty NAME.html.j2 (or layout.html.j2) in templates_dir turns the HTML part off
        return (html if html.strip() else None), None


def address_of(person: Person) -> Address:
    """An Address built from validated values, never by copying a received header."""
    email = clean_header(person.email)
    local, _, domain = email.partition("@")
    if not local or not domain:
        raise TemplateError(f"not an address: {email!r}")
    return Address(display_name=clean_name(person.name) or "", username=local, domain=domain)


class _WirePolicy(email.policy.Compat32):
    """compat32 with CRLF line ends, and a short cut for a header that needs neither
    folding nor encoding (ASCII, one line, short): written as it is, byte for byte what
    compat32 writes, without building an ``email.header.Header`` for it."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        limit = self.max_line_length  # None (never folds) takes the long way too
        if (
            isinstance(value, str)
            and value.isascii()
            and "\r" not in value
            and "\n" not in value
            and limit is not None
            and len(name) + len(value) + 2 <= limit
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_WIRE = _WirePolicy(linesep="\r\n")
_CRLF = b"\r\n"


def _boundary() -> str:
    """A multipart boundary that cannot occur in the parts: "=_" never appears in
    quoted-printable text."""
    return f"=_{secrets.token_hex(12)}"


def _header(value: str) -> str | email.header.Header:
    """A header value: as is when ASCII, else RFC 2047 encoded."""
    value = clean_header(value)
    return value if value.isascii() else email.header.Header(value, "utf-8")


def _mailbox(address: Address) -> str:
    return _mailbox_of(address.display_name, address.addr_spec)


@functools.lru_cache(maxsize=256)  # the sender's, in every mail; the parties', in two
def _mailbox_of(display_name: str, addr_spec: str) -> str:
    name = clean_name(display_name) or ""
    spec = clean_header(addr_spec)
    if not spec.isascii():
        raise TemplateError(f"cannot send to a non-ASCII address: {spec!r}")
    return email.utils.formataddr((name, spec), charset="utf-8")


def _headers(pairs: Sequence[tuple[str, Any]]) -> bytes:
    return b"".join(_WIRE.fold_binary(name, value) for name, value in pairs) + _CRLF


# quoted-printable writes every byte as it is but these, which it writes as =XX
_QP_PLAIN = bytes(range(0x20, 0x7F)) + b"\t\r\n"  # "=" aside
_QP_TABLE = [chr(c) if c in _QP_PLAIN and c != 0x3D else f"={c:02X}" for c in range(256)]


def quoted_printable(text: str) -> bytes:
    """TEXT as UTF-8 quoted-printable with CRLF line ends: byte for byte what
    ``email.quoprimime.body_encode`` writes (a test holds them equal), without its loop
    over every line: a line of 76 characters or fewer that does not end in white space,
    nearly every line of a mail, is written as it is."""
    raw = text.encode("utf-8")
    body = raw.decode("latin-1")
    escaped = set(raw.translate(None, _QP_PLAIN))  # the bytes to escape, "=" aside
    if len(escaped) <= 16:  # ASCII, or a few kinds of accent: each replaced where it is
        body = body.replace("=", "=3D")  # first: the other escapes hold "="
        for byte in escaped:
            body = body.replace(chr(byte), _QP_TABLE[byte])
    else:  # many kinds: every character looked up, "=" too
        body = body.translate(_QP_TABLE)
    # once escaped, CR and LF are the only line ends left for splitlines to split on
    out = [
        ln if len(ln) <= 76 and ln[-1:] not in (" ", "\t") else _qp_line(ln)
        for ln in body.splitlines()
    ]
    if body and body[-1] in "\r\n":
        out.append("")
    return "\r\n".join(out).encode("ascii")


def _qp_line(line: str, maxlinelen: int = 76) -> str:
    """One escaped line cut into soft-broken pieces, as ``quoprimime.body_encode`` cuts it."""
    laststart = len(line) - 1 - maxlinelen
    pieces: list[str] = []
    start = 0
    while start <= laststart:
        stop = start + maxlinelen - 1
        # an escape sequence is never cut
        if line[stop - 2] == "=":
            pieces.append(line[start : stop - 1])
            start = stop - 2
        elif line[stop - 1] == "=":
            pieces.append(line[start:stop])
            start = stop - 1
        else:
            pieces.append(line[start:stop] + "=")
            start = stop
    if line[-1:] in (" ", "\t"):
        # white space at the end of a line is escaped, or kept before a soft break
        room = start - laststart
        last = f"={ord(line[-1]):02X}"
        if room >= 3:
            tail = last
        elif room == 2:
            tail = line[-1] + "=\r\n"
        else:
            tail = "=\r\n" + last
        pieces.append(line[start:-1] + tail)
    else:
        pieces.append(line[start:])
    return "\r\n".join(pieces)


# the headers of a text part, folded once: the same for every part of every mail
_PART_HEADS = {
    subtype: b"".join(
        _WIRE.fold_binary(name, value)
        for name, value in (
            ("Content-Type", f'text/{subtype}; charset="utf-8"'),
            ("MIME-Version", "1.0"),
            ("Content-Transfer-Encoding", "quoted-printable"),
        )
    )
    for subtype in ("plain", "html")
}


def _date_header(date: datetime) -> str:
    # an equal time in another zone is written otherwise: the offset is part of the key
    return _date_header_at(date, date.utcoffset())


@functools.lru_cache(maxsize=16)  # the mails of one decision share their time
def _date_header_at(date: datetime, offset: timedelta | None) -> str:
    return format_datetime(date)


def compose_bytes(
    rendered: Rendered,
    *,
    sender: Address,
    to: Sequence[Person],
    message_id: str,
    date: datetime,
    reply_to: str | None = None,
    in_reply_to: str | None = None,
    auto_submitted: bool = True,
    cc: Sequence[Person] = (),
) -> bytes:
    """The outgoing mail as it goes on the wire: text, or multipart/alternative when there
    is an HTML part, quoted-printable UTF-8, CRLF line ends.

    Written from values that were validated and stripped of control characters, with the
    email package's header folding and quoted-printable encoder: the same bytes its
    generator writes for the equivalent ``MIMEMultipart`` (a test holds them equal), at a
    fraction of the cost. Every mail introd sends has this one shape.
    """
    head: list[tuple[str, Any]] = [
        ("From", _mailbox(sender)),
        ("To", ", ".join(_mailbox(address_of(p)) for p in to)),
    ]
    if cc:
        head.append(("Cc", ", ".join(_mailbox(address_of(p)) for p in cc)))
    head += [
        ("Subject", _header(rendered.subject)),
        ("Date", _date_header(date)),
        ("Message-ID", clean_header(message_id)),
    ]
    if reply_to:
        head.append(("Reply-To", clean_header(reply_to)))
    if in_reply_to:
        head += [
            ("In-Reply-To", clean_header(in_reply_to)),
            ("References", clean_header(in_reply_to)),
        ]
    if auto_submitted:
        head += [("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "All")]
    text_body = quoted_printable(rendered.text)
    if not rendered.html:
        return _PART_HEADS["plain"] + _headers(head) + text_body
    html_body = quoted_printable(rendered.html)
    boundary = _boundary()
    top = [
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ("MIME-Version", "1.0"),
    ]
    delimiter = f"--{boundary}".encode("ascii")
    return b"".join(
        [
            _headers(top + head),
            delimiter,
            _CRLF,
            _PART_HEADS["plain"],
            _CRLF,
            text_body,
            _CRLF,
            delimiter,
            _CRLF,
            _PART_HEADS["html"],
            _CRLF,
            html_body,
            _CRLF,
            delimiter,
            b"--",
            _CRLF,
        ]
    )


def compose(rendered: Rendered, **kwargs: Any) -> EmailMessage:
    """The same mail as ``compose_bytes``, parsed back, for previews and tests."""
    raw = compose_bytes(rendered, **kwargs)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed
