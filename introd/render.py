"""Rendering outgoing mail from templates, and composing its headers safely.

Templates live in the package (``introd.templates``) and may be overridden file
by file from ``templates_dir``; a language folder (``fr/NAME.txt.j2``) is
tried before the default language. They render in jinja2's sandbox with
``StrictUndefined``: a typo is an error, never an empty string in a mail.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .exceptions import TemplateError
from .model import Person

TEMPLATE_NAMES = (
    "optin_requester", "optin_target", "introduction", "reminder", "reask",
    "declined_by_target", "thanks_target", "withdrawn", "expired", "decline_no_target",
    "decline_no_reason", "decline_policy", "review", "bounce_notice", "digest",
    "owner_notice",
)
OWNER_TEMPLATES = ("review", "bounce_notice", "digest", "owner_notice")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")


def clean_header(value: str | None) -> str:
    """A header value with CR, LF and other control characters turned into spaces."""
    return " ".join(_CONTROL.sub(" ", value or "").split())


def builtin_dir() -> Path:
    return Path(str(importlib.resources.files("introd.templates")))


def _date(value: Any, fmt: str = "%-d %B %Y") -> str:
    if isinstance(value, datetime | date):
        return value.strftime(fmt)
    return "" if value is None else str(value)


def _indent_quote(value: Any, prefix: str = "> ") -> str:
    return "\n".join(prefix + line if line else prefix.rstrip() for line in str(value).splitlines())


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    name: str
    subject: str
    text: str
    html: str | None


class Templates:
    """The template set: the user's ``templates_dir`` over the built-in templates."""

    def __init__(self, templates_dir: Path | None = None, default_language: str = "en") -> None:
        self.templates_dir = templates_dir
        self.default_language = default_language
        loaders: list[jinja2.BaseLoader] = []
        if templates_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
        loaders.append(jinja2.FileSystemLoader(str(builtin_dir())))
        self.env = SandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                                default_for_string=False, default=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["date"] = _date
        self.env.filters["quote"] = _indent_quote

    def origin(self, filename: str) -> str | None:
        """'templates_dir' or 'built-in' for a template file, None when absent."""
        if self.templates_dir is not None and (self.templates_dir / filename).is_file():
            return "templates_dir"
        if (builtin_dir() / filename).is_file():
            return "built-in"
        return None

    def _pick(self, name: str, part: str, language: str | None) -> str | None:
        for lang in (language, None):
            if lang and lang != self.default_language:
                filename = f"{lang}/{name}.{part}.j2"
            elif lang is None:
                filename = f"{name}.{part}.j2"
            else:
                continue
            if self.origin(filename):
                return filename
        return None

    def render(self, name: str, context: Mapping[str, Any],
               language: str | None = None) -> Rendered:
        """Render NAME's subject, text and (optional) HTML part; raise TemplateError."""
        if name not in TEMPLATE_NAMES:
            raise TemplateError(f"unknown template {name!r}")
        parts: dict[str, str | None] = {}
        for part in ("subject", "txt", "html"):
            filename = self._pick(name, part, language)
            if filename is None:
                if part == "html":
                    parts[part] = None
                    continue
                raise TemplateError(f"{name}.{part}.j2: template missing")
            try:
                parts[part] = self.env.get_template(filename).render(**context)
            except jinja2.TemplateSyntaxError as exc:
                where = f"{exc.filename or filename}:{exc.lineno}"
                raise TemplateError(f"{where}: {exc.message}") from None
            except jinja2.UndefinedError as exc:
                raise TemplateError(f"{filename}: {exc.message}") from None
            except jinja2.exceptions.SecurityError as exc:
                raise TemplateError(f"{filename}: not allowed in a template: {exc}") from None
            except Exception as exc:  # any other failure of a user's template
                raise TemplateError(f"{filename}: {type(exc).__name__}: {exc}") from None
        subject = (parts["subject"] or "").strip()
        if "\n" in subject or "\r" in subject:
            raise TemplateError(f"{name}.subject.j2: the subject has a line break")
        if not subject:
            raise TemplateError(f"{name}.subject.j2: the subject is empty")
        text = (parts["txt"] or "").strip("\n")
        if not text.strip():
            raise TemplateError(f"{name}.txt.j2: the body is empty")
        html = parts["html"]
        # an empty NAME.html.j2 in templates_dir turns the HTML part off
        return Rendered(name=name, subject=clean_header(subject), text=text + "\n",
                        html=html if html and html.strip() else None)


def address_of(person: Person) -> Address:
    """An Address built from validated values, never by copying a received header."""
    email = clean_header(person.email)
    local, _, domain = email.partition("@")
    if not local or not domain:
        raise TemplateError(f"not an address: {email!r}")
    return Address(display_name=clean_header(person.name), username=local, domain=domain)


def compose(rendered: Rendered, *, sender: Address, to: Sequence[Person],
            message_id: str, date: datetime, reply_to: str | None = None,
            in_reply_to: str | None = None, auto_submitted: bool = True,
            cc: Sequence[Person] = ()) -> EmailMessage:
    """The outgoing mail: text, or multipart/alternative when there is an HTML part."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = [address_of(p) for p in to]
    if cc:
        msg["Cc"] = [address_of(p) for p in cc]
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    if reply_to:
        msg["Reply-To"] = clean_header(reply_to)
    if in_reply_to:
        msg["In-Reply-To"] = clean_header(in_reply_to)
        msg["References"] = clean_header(in_reply_to)
    if auto_submitted:
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(rendered.text, cte="quoted-printable")
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return msg
