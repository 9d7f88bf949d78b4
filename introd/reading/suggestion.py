"""Reading "not me, but ask Jane Roe <jane@example.org>" in a target's answer.

``suggested_person`` finds the one person a target names instead of themselves: a
phrase that points elsewhere ("ask", "talk to", "better person", "demandez à",
"wenden Sie sich an", "pregunta a", ... in ``introd.reading.words``) followed, within a
couple of lines, by an address, with the capitalised words just before it as the name
("Jane Roe <jane@example.org>", "Jane Roe (jane@example.org)", or the address alone).

It reads only the target's own new text (quoted lines are skipped), and it is
conservative: no phrase, no address after it, the writer's own address ("contact me
at ..."), an address that is excluded (the owner's, a delegate's, introd's own, the
requester's, the target's, also with a +tag), or any other address in the text (two
people, or one the phrase does not point to): None.

Everything here is pure and never raises on the text of a mail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from introd.model import Person
from introd.reading.addresses import ADDRESS
from introd.reading.words import NAME_JOINERS, REDIRECT_PHRASES, SELF_WORDS, any_word
from introd.patterns import LazyPattern

__all__ = ["base_address", "suggested_person"]

# only the first lines of the answer are read
_MAX_READ = 800
# the address follows the phrase closely ("ask my colleague Jane Roe <jane@...>")
_MAX_GAP = 120

_REDIRECT = LazyPattern(r"(?<![\w'-])" + any_word(REDIRECT_PHRASES) + r"(?![\w'])", re.IGNORECASE)
_SELF = LazyPattern(r"(?<![\w'-])" + any_word(SELF_WORDS) + r"(?![\w'])", re.IGNORECASE)
_CAPITAL = r"[A-ZÀ-ÖØ-Þ][\w'’.-]*"
_NAME_BEFORE = LazyPattern(
    r"(?P<name>"
    + _CAPITAL
    + r"(?:\s+(?:"
    + any_word(NAME_JOINERS)
    + r"\s+)?"
    + _CAPITAL
    + r"){0,3})\s*[,:]?\s*[<(\[]?\s*(?:mailto:)?$"
)


def base_address(address: str) -> str:
    """ADDRESS lower-cased and without a +tag: who it reaches."""
    local, _, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def suggested_person(text: str, *, excluded: Iterable[str]) -> Person | None:
    """The one person the new text of an answer suggests instead of its writer; None when
    there is not exactly one, outside EXCLUDED."""
    try:
        return _suggested_person(text or "", {base_address(a) for a in excluded if a})
    except Exception:
        return None


def _suggested_person(text: str, excluded: set[str]) -> Person | None:
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(">")]
    head = " ".join(" ".join(lines).split())[:_MAX_READ]
    found: dict[str, Person] = {}
    for phrase in _REDIRECT.finditer(head):
        match = ADDRESS.search(head, phrase.end())
        if match is None or match.start() - phrase.end() > _MAX_GAP:
            continue
        between = head[phrase.end() : match.start()]
        if _SELF.search(between) or ADDRESS.search(between):
            continue
        email = match.group(0).strip(".").lower()
        if base_address(email) in excluded:
            continue
        named = _NAME_BEFORE.search(between)
        found.setdefault(email, Person(name=named["name"] if named else None, email=email))
    # any other address in the text makes it two people, or one unclear: none
    others = {base_address(m.group(0).strip(".")) for m in ADDRESS.finditer(head)} - excluded
    if len(found) != 1 or len(others) != 1:
        return None
    return next(iter(found.values()))
