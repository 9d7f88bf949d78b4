"""Reading the owner's contact files: LinkedIn CSV, vCard and YAML, into one book.

The book itself, and everything that finds people in it, is in
``introd.reading.people``; this module is the file side.
"""

from __future__ import annotations

import csv
import io
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


def _vcard_value(card: Any, key: str) -> Any:
    items = card.contents.get(key) or []
    return items


def _read_vcf(path: Path, text: str) -> list[Contact]:
    import vobject  # type: ignore[import-untyped]

    contacts: list[Contact] = []
    try:
        cards = list(vobject.readComponents(text, ignoreUnreadable=True))
    except Exception as exc:  # vobject raises many kinds of errors on bad input
        raise ContactsError([("", f"not a readable vCard file ({exc})")], source=str(path)) from exc
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
            company = _clean(value[0] if isinstance(value, list) and value else value)
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
