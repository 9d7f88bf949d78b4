"""Reading the owner's contact files: LinkedIn CSV, vCard and YAML, into one book.

The book itself, and everything that finds people in it, is in
``introd.reading.people``; this module is the file side.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .exceptions import ContactsError
from .reading.people import INTRODUCTIONS, Contact, ContactBook


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _email(value: Any) -> str | None:
    text = _clean(value)
    if text and text.lower().startswith("mailto:"):
        text = text[7:]
    return text if text and "@" in text else None


_LINKEDIN_HEADER = ("first name", "last name")


def _read_csv(path: Path, text: str) -> list[Contact]:
    lines = text.splitlines()
    header_at = None
    for i, line in enumerate(lines):
        cells = [c.strip().strip('"').lower() for c in next(csv.reader([line]), [])]
        if all(h in cells for h in _LINKEDIN_HEADER) or (
            "name" in cells and ("email" in cells or "email address" in cells)
        ):
            header_at = i
            break
    if header_at is None:
        raise ContactsError(
            [("", "no header row with 'First Name' and 'Last Name' found")], source=str(path)
        )
    reader = csv.reader(io.StringIO("\n".join(lines[header_at:])))
    header = [h.strip().lower() for h in next(reader)]

    def cell(row: list[str], *names: str) -> str | None:
        for n in names:
            if n in header:
                i = header.index(n)
                if i < len(row):
                    return _clean(row[i])
        return None

    contacts: list[Contact] = []
    for row in reader:
        if not any(c.strip() for c in row):
            continue
        name = cell(row, "name", "full name")
        if not name:
            name = " ".join(x for x in (cell(row, "first name"), cell(row, "last name")) if x)
        if not name:
            continue  # LinkedIn lists members who left with an empty name: nobody to match
        contacts.append(
            Contact(
                name=name,
                email=_email(cell(row, "email address", "email", "e-mail")),
                company=cell(row, "company", "organization"),
                title=cell(row, "position", "title"),
                source=str(path),
            )
        )
    return contacts


# -- vCard ---------------------------------------------------------------------------------
#
# Most vCard files are plain 3.0 or 4.0 cards: one property a line, NAME=VALUE parameters,
# no encodings. Those are read here, as vobject reads them (a text value up to its first
# unescaped comma, N and ORG split into fields); anything else (2.1 cards, quoted or bare
# parameters, ENCODING or CHARSET, photos, nested or broken cards) goes to vobject, whose
# import costs more than reading a whole address book this way.

_VCARD_LINE = re.compile(
    r"(?:[A-Za-z0-9-]+\.)?(?P<name>[A-Za-z0-9-]+)"
    r"(?P<params>(?:;[A-Za-z0-9-]+=[^;:,\"]*(?:,[^;:,\"]*)*)*):(?P<value>.*)"
)
# properties whose reading vobject does not change beyond text values and fields
_VCARD_PLAIN = frozenset(
    "VERSION FN N EMAIL ORG TITLE TEL NOTE UID REV PRODID URL NICKNAME CATEGORIES ROLE ADR "
    "LABEL BDAY KIND LANG".split()
)
_VCARD_ESCAPES = {"n": "\n", "N": "\n", "\\": "\\", ";": ";", ",": ","}


def _text_values(value: str, separator: str = ",") -> list[str]:
    """A vCard value split on an unescaped ``separator``, escapes undone (as vobject)."""
    results: list[str] = []
    current: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            if separator == ";":
                current.append(";" if nxt == ";" else "\\" + nxt)
            else:
                current.append(_VCARD_ESCAPES.get(nxt, "\\" + nxt))
        elif ch == separator:
            results.append("".join(current))
            current = []
        else:
            current.append(ch)
    if current or not results:
        results.append("".join(current))
    return results


def _fields(value: str) -> list[str | list[str]]:
    """A structured value (N, ORG): its fields, each a string or a list of strings."""
    out: list[str | list[str]] = []
    for field in _text_values(value, ";"):
        items = _text_values(field)
        out.append(items[0] if len(items) == 1 else items)
    return out


class _VName:
    """An N value: family, given and additional names, prefixes and suffixes."""

    def __init__(self, fields: list[str | list[str]]) -> None:
        fields = fields + [""] * (5 - len(fields))
        self.family, self.given, self.additional, self.prefix, self.suffix = fields[:5]


class _VLine:
    """One property of a card, shaped as vobject's ContentLine is where it is read."""

    def __init__(self, name: str, params: str, value: str) -> None:
        self.params: dict[str, list[str]] = {}
        for param in filter(None, params.split(";")):
            key, _, values = param.partition("=")
            self.params.setdefault(key.upper(), []).extend(values.split(","))
        self.value: Any
        if name == "N":
            self.value = _VName(_fields(value))
        elif name == "ORG":
            self.value = _fields(value)
        else:
            self.value = _text_values(value)[0]


class _VCard:
    """A card read without vobject: its properties by lower-case name."""

    name = "VCARD"

    def __init__(self) -> None:
        self.contents: dict[str, list[_VLine]] = {}


def _plain_vcards(text: str) -> list[_VCard] | None:
    """The cards of a plain vCard file, or None when vobject must read it."""
    lines: list[str] = []
    for raw in re.split(r"\r\n|\r|\n", text):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        else:
            lines.append(raw)
    cards: list[_VCard] = []
    card: _VCard | None = None
    for line in lines:
        if not line.strip():
            continue
        m = _VCARD_LINE.fullmatch(line)
        if m is None:
            return None
        name, value = m["name"].upper(), m["value"]
        if name in ("BEGIN", "END"):
            if value.strip().upper() != "VCARD" or (card is None) != (name == "BEGIN"):
                return None
            if name == "BEGIN":
                card = _VCard()
            else:
                assert card is not None
                cards.append(card)
                card = None
            continue
        if card is None or not (name in _VCARD_PLAIN or name.startswith("X-")):
            return None
        if name == "VERSION" and value.strip() not in ("3.0", "4.0"):
            return None
        card.contents.setdefault(name.lower(), []).append(_VLine(name, m["params"], value))
    return cards if card is None else None


def _vcard_value(card: Any, key: str) -> Any:
    items = card.contents.get(key) or []
    return items


def _read_vcf(path: Path, text: str) -> list[Contact]:
    contacts: list[Contact] = []
    cards: list[Any] | None = _plain_vcards(text)
    if cards is None:
        import vobject

        try:
            cards = list(vobject.readComponents(text, ignoreUnreadable=True))
        except Exception as exc:  # vobject raises many kinds of errors on bad input
            raise ContactsError(
                [("", f"not a readable vCard file ({exc})")], source=str(path)
            ) from exc
    for index, card in enumerate(cards):
        if getattr(card, "name", "").upper() != "VCARD":
            continue
        name = None
        fns = _vcard_value(card, "fn")
        if fns:
            name = _clean(fns[0].value)
        if not name and _vcard_value(card, "n"):
            n = _vcard_value(card, "n")[0].value
            parts = [
                getattr(n, "prefix", ""),
                getattr(n, "given", ""),
                getattr(n, "additional", ""),
                getattr(n, "family", ""),
            ]
            name = _clean(" ".join(p if isinstance(p, str) else " ".join(p) for p in parts))
        if not name:
            raise ContactsError([(f"card {index + 1}", "no FN or N")], source=str(path))
        email = None
        emails = _vcard_value(card, "email")
        for e in emails:
            params = {k.upper(): [str(v).upper() for v in vals] for k, vals in e.params.items()}
            if "PREF" in params.get("TYPE", []) or "PREF" in params:
                email = _email(e.value)
                break
        if email is None and emails:
            email = _email(emails[0].value)
        company = None
        orgs = _vcard_value(card, "org")
        if orgs:
            value = orgs[0].value
            first = value[0] if isinstance(value, list) and value else value
            # an unescaped comma splits a field: "Acme, Inc." is written back as it was
            company = _clean(",".join(first) if isinstance(first, list) else first)
        titles = _vcard_value(card, "title")
        contacts.append(
            Contact(
                name=name,
                email=email,
                company=company,
                title=_clean(titles[0].value) if titles else None,
                source=str(path),
            )
        )
    return contacts


_YAML_KEYS = frozenset(
    {"name", "email", "company", "title", "aliases", "introductions", "language"}
)


def _yaml_entries(path: Path, text: str) -> list[Any]:
    """The entries of a YAML contacts file: a list, or a mapping with a contacts: list."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f"line {where.line + 1}" if where is not None else ""
        raise ContactsError([(line, "not valid YAML")], source=str(path)) from exc
    if data is None:
        return []
    if isinstance(data, dict) and isinstance(data.get("contacts"), list):
        data = data["contacts"]
    if not isinstance(data, list):
        raise ContactsError([("", "must be a list of contacts")], source=str(path))
    return data


def _yaml_contact(
    path: Path, at: str, entry: Any, problems: list[tuple[str, str]]
) -> Contact | None:
    """One entry as a Contact, its problems added to ``problems``; None without a name."""
    if not isinstance(entry, dict):
        problems.append((at, "must be a mapping with at least 'name'"))
        return None
    for key in sorted(set(map(str, entry)) - _YAML_KEYS):
        problems.append((f"{at}.{key}", "unknown key"))
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append((f"{at}.name", "a name is required"))
        return None
    email = entry.get("email")
    if email is not None and (not isinstance(email, str) or _email(email) is None):
        problems.append((f"{at}.email", "must be an e-mail address"))
    for key in ("company", "title", "language"):
        if entry.get(key) is not None and not isinstance(entry.get(key), str):
            problems.append((f"{at}.{key}", "must be a string"))
    aliases = entry.get("aliases") or []
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        problems.append((f"{at}.aliases", "must be a list of names"))
        aliases = []
    intro = entry.get("introductions", "ask")
    if intro is False:  # YAML reads a bare `no`/`off` as false
        intro = "never"
    if intro not in INTRODUCTIONS:
        problems.append((f"{at}.introductions", "must be ask or never"))
        intro = "ask"
    return Contact(
        name=" ".join(name.split()),
        email=_email(email) if isinstance(email, str) else None,
        company=_clean(entry.get("company")) if isinstance(entry.get("company"), str) else None,
        title=_clean(entry.get("title")) if isinstance(entry.get("title"), str) else None,
        aliases=tuple(" ".join(a.split()) for a in aliases if a.strip()),
        introductions=intro,
        language=_clean(entry.get("language")) if isinstance(entry.get("language"), str) else None,
        source=str(path),
    )


def _read_yaml(path: Path, text: str) -> list[Contact]:
    problems: list[tuple[str, str]] = []
    contacts: list[Contact] = []
    for i, entry in enumerate(_yaml_entries(path, text)):
        contact = _yaml_contact(path, f"{path.name}[{i}]", entry, problems)
        if contact is not None:
            contacts.append(contact)
    if problems:
        raise ContactsError(problems, source=str(path))
    return contacts


def read_contacts_file(path: Path) -> list[Contact]:
    """The contacts in one file (.csv LinkedIn export, .vcf, .yaml/.yml).

    Raises ContactsError naming the file (and line or entry) on bad input.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ContactsError(
            [("", f"cannot be read ({exc.strerror or exc})")], source=str(path)
        ) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, text)
    if suffix in (".vcf", ".vcard"):
        return _read_vcf(path, text)
    if suffix in (".yaml", ".yml"):
        return _read_yaml(path, text)
    raise ContactsError(
        [("", "unknown contacts format (use .csv, .vcf or .yaml)")], source=str(path)
    )


def load_contacts(paths: Sequence[Path]) -> ContactBook:
    """Every contacts file read and merged into one book."""
    contacts: list[Contact] = []
    for path in paths:
        contacts += read_contacts_file(Path(path))
    return ContactBook(contacts)
