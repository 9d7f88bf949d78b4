"""Names as people wrote them, made safe to show and to send: :func:`clean_name`.

A display name comes from hostile mail. Before it is used anywhere (a template, a
``To``/``Cc`` header, the state) it is rebuilt: RFC 2047 encoded words decoded, adjacent
ones joined without the space between them, also when a word or a character was split
across two ("Björn Ekstr" + "öm" is "Björn Ekström"); control and format characters
(CR, LF, NUL, U+0085, U+2028, U+2029, bidi overrides, zero-width characters) removed;
whitespace collapsed; stray quotes dropped; a name that is or holds an address is no
name. :class:`introd.model.Person` applies it to every name it is given.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from .patterns import LazyPattern, holds_address

__all__ = ["clean_name", "decode_words"]

_ENCODED_WORD = LazyPattern(r"=\?([^?\s]{1,40})\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = LazyPattern(r"[ \t\r\n]*")
_SPACES = LazyPattern(r"\s+")
_SURROGATES = LazyPattern("[\ud800-\udfff]")
# an address inside a name: any @ between word characters and a dotted domain
_QUOTE_PAIRS = {'"': '"', "'": "'", "“": "”", "„": "“", "«": "»", "‘": "’", "‹": "›"}
_MAX_NAME = 100
# a name that is already clean: ASCII words joined by single spaces, dots or hyphens; every
# step of clean_name would return it unchanged, and Person builds one for every row it reads
_PLAIN = LazyPattern(r"[A-Za-z0-9]+(?:(?:\. |[ .-])[A-Za-z0-9]+)*\.?")
_MAX_VALUE = 4000


def _word_bytes(encoding: str, text: str) -> bytes | None:
    try:
        if encoding in "qQ":
            raw = re.sub(
                rb"=([0-9A-Fa-f]{2})",
                lambda m: bytes([int(m.group(1), 16)]),
                text.replace("_", " ").encode("ascii", "replace"),
            )
            return raw
        padded = text + "=" * (-len(text) % 4)
        return base64.b64decode(padded, validate=False)
    except (binascii.Error, ValueError):
        return None


def _charset(name: str) -> str | None:
    name = name.split("*", 1)[0].strip().lower()  # RFC 2231 language suffix
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def decode_words(text: str) -> str:
    """RFC 2047 encoded words decoded; adjacent ones (only whitespace between) joined as
    one, their bytes together, so a character or a word split across two is whole again.
    An encoded word that cannot be decoded stays as it was."""
    if "=?" not in text:
        return text
    out: list[str] = []
    pos = 0
    pending: list[tuple[str, bytes]] = []  # (charset, bytes) of adjacent words

    def flush() -> None:
        for charset, data in _merge(pending):
            out.append(data.decode(charset, "replace"))
        pending.clear()

    for m in _ENCODED_WORD.finditer(text):
        gap = text[pos : m.start()]
        charset = _charset(m.group(1))
        data = _word_bytes(m.group(2), m.group(3)) if charset else None
        if charset is None or data is None:
            flush()
            out.append(gap + m.group(0))
            pos = m.end()
            continue
        if pending and _BETWEEN_WORDS.fullmatch(gap):
            pending.append((charset, data))
        else:
            flush()
            out.append(gap)
            pending.append((charset, data))
        pos = m.end()
    flush()
    out.append(text[pos:])
    return "".join(out)


def _merge(words: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    merged: list[tuple[str, bytes]] = []
    for charset, data in words:
        if merged and merged[-1][0] == charset:
            merged[-1] = (charset, merged[-1][1] + data)
        else:
            merged.append((charset, data))
    return merged


def _visible(ch: str) -> str:
    """A character as it may stand in a name: controls and format characters gone,
    every kind of space or line separator a plain space."""
    if ch in "\t\n\r\x0b\x0c\x85\u2028\u2029" or ch.isspace():
        return " "
    category = unicodedata.category(ch)
    if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
        return ""
    return ch


def _strip_quotes(name: str) -> str:
    """Surrounding quote pairs removed; a quote left without its partner removed too."""
    while len(name) >= 2 and _QUOTE_PAIRS.get(name[0]) == name[-1]:
        name = name[1:-1].strip()
    name = name.strip("\"'“”„«»‘’‹› \\")
    if name.count('"') % 2:
        name = name.replace('"', "")
    return name.replace("\\", "")


def clean_name(value: str | None) -> str | None:
    """A display name fit for a template or a header, or None when nothing is left of it
    or it is (or holds) an address."""
    if not value:
        return None
    if len(value) <= _MAX_NAME and _PLAIN.fullmatch(value):
        return value
    try:
        text = str(value)[:_MAX_VALUE]
        if _SURROGATES.search(text):
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        text = decode_words(text)
        text = unicodedata.normalize("NFC", "".join(_visible(ch) for ch in text))
        # what is left of an undecodable encoded word must not be decoded later
        text = text.replace("=?", "= ?").replace("?=", "? =")
        text = _strip_quotes(_SPACES.sub(" ", text).strip())
        text = _SPACES.sub(" ", text).strip()
    except Exception:
        return None
    if not text or "@" in text and holds_address(text):
        return None
    if len(text) > _MAX_NAME:
        cut = text[:_MAX_NAME].rsplit(" ", 1)[0]
        text = cut if cut else text[:_MAX_NAME]
    if not any(ch.isalnum() for ch in text):
        return None
    return text
