"""Mailboxes out of text: which address a ``From`` or a forward line names, and its name.

One routine for every place introd pulls a person out of a header (``From``, ``To``,
``Cc``, ``Reply-To``) or out of a forward block's ``From:`` line, because the rule must
be the same everywhere:

- **The address is the one in angle brackets**, the last one when there are several
  (``victim <victim@a.example> <mallory@b.example>`` is how a client prints a display
  name that holds an address), else the one addr-spec outside quotes and comments.
  Nothing inside a quoted string or a comment is ever the address, and a display name
  that is or holds an address is no name at all: ``"victim@a.example"
  <mallory@b.example>``, ``victim@a.example <mallory@b.example>`` (Gmail's forward
  block) and ``Mal (victim@a.example) <mallory@b.example>`` all are mallory, unnamed.
  Two different bare addresses and no brackets name nobody.
- **A name is rebuilt** by :func:`introd.names.clean_name` (encoded words decoded and
  joined, control characters removed); what comes out can go into a template or an
  outgoing header as it is.

- **One address pattern**, :data:`ADDRESS`, for every reader that finds an address in
  text (a note, an owner's command, a bounce, a display name): the same characters are
  accepted there as in a mailbox, Unicode letters included (RFC 6532).

The scanner is one pass over the text (nested comments by a depth counter, quotes to
their end), so hostile headers with thousands of comments or quotes cost linear time.
Pure functions; nothing here raises on any input.
"""

from __future__ import annotations

from collections.abc import Iterable

from introd.model import Person
from introd.names import clean_name
from introd.patterns import ADDRESS, BRACKETED_ADDRESS, LazyPattern, holds_address

__all__ = ["ADDRESS", "BRACKETED_ADDRESS", "holds_address", "parse_mailbox", "parse_mailboxes"]

_MAX_VALUE = 4000


# -- mailboxes ----------------------------------------------------------------------------

# token kinds; _SEPARATOR is a , ; or : read as part of a single mailbox's name
_WORD, _QUOTED, _COMMENT, _ANGLE, _COMMA, _COLON, _SEMI, _SEPARATOR = range(8)
_BEFORE_SEPARATOR = LazyPattern(r"\s+([,;:])")


def _join(parts: Iterable[str]) -> str:
    return _BEFORE_SEPARATOR.sub(r"\1", " ".join(parts))


def _quoted(text: str, start: int) -> tuple[str, int]:
    """A quoted string's content from ``start`` (after its quote) and the position after
    its closing quote; unterminated, it runs to the end. Backslash escapes one character."""
    j, n, buf = start, len(text), []
    while j < n and text[j] != '"':
        if text[j] == "\\" and j + 1 < n:
            j += 1
        buf.append(text[j])
        j += 1
    return "".join(buf), j + 1


def _comment(text: str, start: int) -> tuple[str, int]:
    """A comment's content from ``start`` (after its "(") and the position after its ")";
    nested comments by a depth counter, unterminated it runs to the end."""
    j, n, depth, buf = start, len(text), 1, []
    while j < n:
        c = text[j]
        if c == "\\" and j + 1 < n:
            j += 1
            buf.append(text[j])
        elif c == "(":
            depth += 1
            buf.append(c)
        elif c == ")":
            depth -= 1
            if depth == 0:
                break
            buf.append(c)
        else:
            buf.append(c)
        j += 1
    return "".join(buf), j + 1


def _tokens(text: str) -> list[tuple[int, str]]:
    """Words, quoted strings, comments, angle addresses and separators, in one pass.

    An unterminated quote or comment runs to the end; a ``<`` without its ``>`` is a
    character of a word."""
    tokens: list[tuple[int, str]] = []
    i, n = 0, len(text)
    word: list[str] = []
    no_close = n  # no ">" at or after this position: "<<<<..." stays linear

    def end_word() -> None:
        if word:
            tokens.append((_WORD, "".join(word)))
            word.clear()

    while i < n:
        ch = text[i]
        if ch == '"':
            end_word()
            value, i = _quoted(text, i + 1)
            tokens.append((_QUOTED, value))
        elif ch == "(":
            end_word()
            value, i = _comment(text, i + 1)
            tokens.append((_COMMENT, value))
        elif ch == "<":
            close = text.find(">", i + 1) if i < no_close else -1
            if close < 0:
                no_close = min(no_close, i)
                word.append(ch)
                i += 1
                continue
            end_word()
            tokens.append((_ANGLE, text[i + 1 : close]))
            i = close + 1
        elif ch in ",;:":
            end_word()
            tokens.append(({",": _COMMA, ";": _SEMI, ":": _COLON}[ch], ch))
            i += 1
        elif ch.isspace():
            end_word()
            i += 1
        else:
            word.append(ch)
            i += 1
    end_word()
    return tokens


def _spec(value: str, *, bracketed: bool) -> str | None:
    """The addr-spec in a bracketed value or a word, lower-cased, or None."""
    value = value.strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    if bracketed and ":" in value:  # obsolete route: <@relay.example:user@host>
        value = value.rsplit(":", 1)[1]
    value = "".join(value.split()).strip(".")
    pattern = BRACKETED_ADDRESS if bracketed else ADDRESS
    if not pattern.fullmatch(value) or ".." in value or value.startswith("."):
        return None
    return value.lower()


def _specs_in(value: str) -> set[str]:
    return {m.group(0).strip(".").lower() for m in ADDRESS.finditer(value)}


def _mailbox(tokens: list[tuple[int, str]]) -> Person | None:
    """One mailbox from its tokens: the last bracketed address, else the one bare
    addr-spec; the name from what stands before it, unless that names another address."""
    angles = [(i, v) for i, (kind, v) in enumerate(tokens) if kind == _ANGLE]
    for at, value in reversed(angles):
        address = _spec(value, bracketed=True)
        if address is None:
            continue
        before = tokens[:at]
        named = set().union(*(_specs_in(v) for kind, v in before if kind != _SEPARATOR))
        phrase = ""
        if named <= {address}:  # a name that repeats the address is still a name
            phrase = _join(
                v
                for kind, v in before
                if kind in (_WORD, _QUOTED, _SEPARATOR) and _spec(v, bracketed=False) != address
            )
            if not phrase.strip():  # "<addr> (Name)" or "(Name) <addr>"
                comments = [v for kind, v in tokens if kind == _COMMENT]
                if not set().union(*(_specs_in(v) for v in comments)) - {address}:
                    phrase = " ".join(comments)
        return Person(name=clean_name(phrase), email=address)
    words = [v for kind, v in tokens if kind == _WORD]
    found = {s for s in (_spec(v, bracketed=False) for v in words) if s}
    if not found:
        joined = "".join(words)  # the obsolete spaced form: john . doe @ x . example
        spec = _spec(joined, bracketed=False) if "@" in joined else None
        if spec is not None:
            found = {spec}
            words = []
    if len(found) > 1:
        return None  # two bare addresses: neither is more the sender's than the other
    address = next(iter(found), None)
    phrase = _join(
        v
        for kind, v in tokens
        if kind in (_QUOTED, _SEPARATOR)
        or kind == _WORD
        and v in words
        and _spec(v, bracketed=False) is None
    )
    if address is not None and not phrase.strip():
        phrase = " ".join(v for kind, v in tokens if kind == _COMMENT)
    if address is not None and _specs_in(phrase) - {address}:
        phrase = ""
    name = clean_name(phrase)
    if name is None and address is None:
        return None
    return Person(name=name, email=address)


def parse_mailboxes(value: str) -> tuple[Person, ...]:
    """Every mailbox of a header value or a forward line (``,`` or ``;`` between them,
    groups ``name: a, b;`` read as their members)."""
    try:
        tokens = _tokens(str(value)[: _MAX_VALUE * 25])
    except Exception:
        return ()
    people: list[Person] = []
    current: list[tuple[int, str]] = []
    for token in tokens:
        kind = token[0]
        if kind in (_COMMA, _SEMI):
            if current:
                person = _mailbox(current)
                if person is not None:
                    people.append(person)
            current = []
        elif kind == _COLON:
            if any(k == _ANGLE and _spec(v, bracketed=True) for k, v in current):
                person = _mailbox(current)  # "A <a@x.example>B: ...": a mailbox, then junk
                if person is not None:
                    people.append(person)
            current = []  # a group's display name (or "Bcc:" smuggled into a name)
        else:
            current.append(token)
    if current:
        person = _mailbox(current)
        if person is not None:
            people.append(person)
    return tuple(people)


def parse_mailbox(value: str) -> Person | None:
    """The one mailbox of a forward block's ``From:`` line (or any single mailbox).

    Commas, semicolons and colons are part of the name (``Walker, Tim <tim@x.example>``).
    When the line names several addresses, the address is the last bracketed one, as
    clients print the display name first and the address after it; several bare
    addresses and no brackets name nobody."""
    try:
        tokens = _tokens(str(value)[: _MAX_VALUE * 25])
        return _mailbox(
            [(_SEPARATOR, v) if k in (_COMMA, _SEMI, _COLON) else (k, v) for k, v in tokens]
        )
    except Exception:
        return None
