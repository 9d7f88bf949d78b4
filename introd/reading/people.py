"""The owner's contacts as a book: merging, and finding people by address, name or mention.

Names are compared folded: case and accents removed by transliteration
(``Ø`` as ``O``, ``ß`` as ``ss``), so "Zoe Odegaard" finds "Zoë Ødegaard".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

from introd.patterns import LazyPattern


INTRODUCTIONS = ("ask", "never")

# Words written before a last name ("Mr. Jones", "Dr Becker", "Frau Weber").
TITLES = frozenset(
    """
    mr mrs ms miss mx dr doctor prof professor m mme mlle monsieur madame herr frau sr sra
    srta senor senora don dona dra pr herrn sir dame lady lord mister
    sig sigra ra signor signora signore dott dottssa ssa dottor dottore ing avv
    dhr mevr mw heer mevrouw ir drs
    srs snr snra eng
    pan pani pana panu pania panem
    """.split()
)
# Lower-case words inside names: "Pieter van der Berg", "Ana de la Fuente".
NAME_PARTICLES = frozenset(
    "van von de der den da di del della le la du des ten ter bin al el dos das y".split()
)
# Company suffixes dropped before comparing company names.
_COMPANY_SUFFIXES = frozenset(
    """
    inc incorporated llc llp lp ltd limited gmbh mbh sa sas sarl ag kg corp corporation co
    plc bv nv srl spa sl ab as oy pty kgaa se the
    """.split()
)
_WORD = LazyPattern(r"[^\W_][\w'’]*")

# First names that stand for each other ("Bob Jones" is Robert Jones): each line is one
# group; a contact's first name also matches the other names of its groups.
_NICKNAME_GROUPS = """
robert bob rob bobby robbie
william bill will billy liam
elizabeth liz beth lizzie betty eliza elisabeth
margaret maggie meg peggy
katherine kate kathy katie catherine cathy
james jim jimmy jamie
richard rick rich dick
michael mike mick
thomas tom tommy
joseph joe joey
alexander alex
alexandra alex sasha
christopher chris
daniel dan danny
david dave
edward ed eddie ted ned
jennifer jen jenny
jonathan jon
matthew matt
nicholas nick nico
patricia pat trish
patrick pat paddy
peter pete
samuel sam
samantha sam
stephen steve
steven steve
susan sue susie
timothy tim
anthony tony
andrew andy drew
benjamin ben
charles charlie chuck
deborah deb debbie
rebecca becky becca
victoria vicky tori
gregory greg
jeffrey jeff
kenneth ken
lawrence larry
ronald ron
donald don
douglas doug
frederick fred
gerald gerry
harold harry hal
henry hank harry
jacob jake
joshua josh
philip phil
raymond ray
theodore theo ted
abigail abby
amanda mandy
barbara barb
christine chris tina
cynthia cindy
judith judy
pamela pam
sandra sandy
valerie val
francisco paco pancho
jose pepe
ignacio nacho
enrique quique
manuel manolo
dolores lola
johannes hannes
katharina kathi katja
franziska franzi
"""


def _nickname_table() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for line in _NICKNAME_GROUPS.strip().splitlines():
        group = set(line.split())
        for name in group:
            table.setdefault(name, set()).update(group - {name})
    return {k: frozenset(v) for k, v in table.items()}


NICKNAMES = _nickname_table()


def fold(text: str) -> str:
    """Case and accents folded by transliteration: 'Zoë Ødegaard' -> 'zoe odegaard'.

    Ordinal marks go: 'Sr.ª Carvalho' is 'sr. carvalho'."""
    if text.isascii():
        return text.lower()
    from anyascii import anyascii  # its import is costly; most names need none

    return anyascii(text.replace("ª", "").replace("º", "")).lower()


_ASCII_WORD = LazyPattern(r"[a-z0-9]+")
_NOT_ASCII_WORD = LazyPattern(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)  # the same words come again and again, mail after mail
def name_tokens(text: str) -> tuple[str, ...]:
    """The folded words of a name, apostrophes and punctuation dropped."""
    folded = fold(text).replace("'", "")
    return tuple(_ASCII_WORD.findall(folded))


def company_key(company: str | None) -> str:
    """A company name reduced for loose comparison.

    'Big Chemical Company Inc.' and 'BigChemicalCompany' both give 'bigchemicalcompany'.
    """
    if not company:
        return ""
    words = [w for w in name_tokens(company.replace("&", " and "))]
    while words and words[-1] in _COMPANY_SUFFIXES:
        words.pop()
    if words and words[0] == "the":
        words.pop(0)
    return "".join(words)


def compact(text: str) -> str:
    """Folded text with everything but letters and digits removed."""
    return _NOT_ASCII_WORD.sub("", fold(text))


def _strip_title(tokens: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
    titled = False
    while len(tokens) > 1 and tokens[0] in TITLES:
        tokens, titled = tokens[1:], True
    return tokens, titled


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    """One person the owner knows."""

    name: str
    email: str | None
    company: str | None = None
    title: str | None = None
    aliases: tuple[str, ...] = ()
    introductions: str = "ask"  # "ask" | "never"
    language: str | None = None  # e.g. "fr"
    source: str = ""  # the file it came from


@dataclass(frozen=True, slots=True, kw_only=True)
class Mention:
    """A place in a text naming one of the contacts (or several, when ambiguous)."""

    contacts: tuple[Contact, ...]
    span: tuple[int, int]
    # "name" (full name), "alias", "nickname" ("Bob" for Robert), or "title" (title + last name)
    how: str
    # the name as written in the text
    text: str = ""
    # the company written near the name, when one of the contacts' companies is
    company: str | None = None


# --- reading files -------------------------------------------------------------------------


# --- merging -------------------------------------------------------------------------------


def _is_yaml(contact: Contact) -> bool:
    return contact.source.lower().endswith((".yaml", ".yml"))


def _merge(old: Contact, new: Contact) -> Contact:
    """One person from two entries; preferences (YAML) apply onto the other row."""
    prefer, other = (new, old) if _is_yaml(new) and not _is_yaml(old) else (old, new)
    aliases = list(old.aliases)
    for a in (
        *new.aliases,
        *([new.name] if name_tokens(new.name) != name_tokens(old.name) else []),
    ):
        if a not in aliases and name_tokens(a) != name_tokens(old.name):
            aliases.append(a)
    introductions = "never" if "never" in (old.introductions, new.introductions) else "ask"
    return replace(
        old,
        email=old.email or new.email,
        company=old.company or new.company,
        title=old.title or new.title,
        aliases=tuple(aliases),
        introductions=introductions,
        language=prefer.language or other.language,
        source=old.source
        if old.source == new.source or not new.source
        else f"{old.source}, {new.source}",
    )


def _name_key(contact: Contact) -> tuple[str, str]:
    return " ".join(name_tokens(contact.name)), company_key(contact.company)


# words of a text as (start, end, folded word); a name found among them as (index of its
# first word, the contacts it may be, how it was written)
_Flat = list[tuple[int, int, str]]
_Found = tuple[int, list[int], str]


def _merged(contacts: Iterable[Contact]) -> tuple[list[Contact], dict[str, int]]:
    """The contacts with duplicates merged, and the index of each address among them.

    The same address is the same person; so is the same name and company when one of
    the two has no address, and the same name alone when only one contact has it."""
    people: list[Contact] = []
    by_email: dict[str, int] = {}
    by_name: dict[tuple[str, str], int] = {}
    by_bare_name: dict[str, list[int]] = {}
    for c in contacts:
        at = None
        email = c.email.lower() if c.email else None
        if email and email in by_email:
            at = by_email[email]
        else:
            key = _name_key(c)
            if key in by_name:
                found = by_name[key]
                if not email or not people[found].email:
                    at = found
            elif not c.company and len(by_bare_name.get(key[0], [])) == 1:
                found = by_bare_name[key[0]][0]
                if not email or not people[found].email:
                    at = found
        if at is None:
            at = len(people)
            people.append(c)
        else:
            people[at] = _merge(people[at], c)
        merged = people[at]
        if merged.email:
            by_email[merged.email.lower()] = at
        by_name.setdefault(_name_key(merged), at)
        bare = by_bare_name.setdefault(_name_key(merged)[0], [])
        if at not in bare:
            bare.append(at)
    return people, by_email


# --- the book ------------------------------------------------------------------------------


_FORMS_KEPT = 20_000


class ContactBook:
    """The merged contacts, indexed for lookups by address, name and last name."""

    def __init__(self, contacts: Iterable[Contact]) -> None:
        people, by_email = _merged(contacts)
        self._people = people
        self._by_email = by_email
        # folded name variants (full names and aliases), indexed by their last word
        self._by_last: dict[str, list[tuple[tuple[str, ...], int, str]]] = {}
        self._company: list[str] = []
        self._companies: set[str] = set()
        self._by_first: dict[str, list[int]] = {}
        for i, c in enumerate(people):
            self._company.append(company_key(c.company))
            self._companies.add(self._company[-1])
            self._index_names(i, c)
        # the known form of each word seen in a text (see _known_form), kept across mails
        self._forms: dict[str, str] = {}

    def _index_names(self, i: int, c: Contact) -> None:
        """Index contact ``i`` by the last and first words of its name, aliases and the
        nicknames of its first name."""
        for how, variant in [("name", c.name), *(("alias", a) for a in c.aliases)]:
            tokens = name_tokens(variant)
            if tokens:
                self._by_last.setdefault(tokens[-1], []).append((tokens, i, how))
            if how == "name" and len(tokens) >= 2:
                for nick in sorted(NICKNAMES.get(tokens[0], ())):
                    self._by_last[tokens[-1]].append(((nick, *tokens[1:]), i, "nickname"))
                    if i not in self._by_first.get(nick, []):
                        self._by_first.setdefault(nick, []).append(i)
            if len(tokens) >= 2 and i not in self._by_first.get(tokens[0], []):
                self._by_first.setdefault(tokens[0], []).append(i)

    def __iter__(self) -> Iterator[Contact]:
        return iter(self._people)

    def __len__(self) -> int:
        return len(self._people)

    def knows_company(self, name: str) -> bool:
        """Whether some contact works at a company of this name."""
        key = company_key(name)
        return bool(key) and key in self._companies

    def by_email(self, email: str) -> Contact | None:
        """The contact with this address (case-insensitive); plus-tags are not stripped."""
        at = self._by_email.get((email or "").strip().lower())
        return self._people[at] if at is not None else None

    # -- matching by name --

    def _full_matches(self, tokens: tuple[str, ...]) -> list[tuple[int, str]]:
        """Contacts whose full name or alias the tokens spell (middle names tolerated)."""
        out: list[tuple[int, str]] = []
        if len(tokens) < 2:
            return out
        for variant, i, how in self._by_last.get(tokens[-1], ()):
            if len(variant) < 2:
                continue
            if variant == tokens or (
                variant[0] == tokens[0]
                and (len(tokens) - len(variant) <= 2 and len(variant) - len(tokens) <= 2)
            ):
                if i not in [o for o, _ in out]:
                    out.append((i, how))
        return out

    def _last_matches(self, last: str) -> list[int]:
        out: list[int] = []
        for variant, i, _how in self._by_last.get(last, ()):
            if len(variant) >= 2 and i not in out:
                out.append(i)
        return out

    def by_first_name(self, word: str) -> list[Contact]:
        """Contacts whose first name (or its nickname) is this word, when it is no last name."""
        tokens = name_tokens(word)
        if len(tokens) != 1 or tokens[0] in self._by_last:
            return []
        return distinct(self._people[i] for i in self._by_first.get(tokens[0], ()))

    def by_word(self, word: str) -> list[Contact]:
        """Contacts whose first or last name is this word (folded)."""
        tokens = name_tokens(word)
        if len(tokens) != 1:
            return []
        ids = self._last_matches(tokens[0]) + [i for i in self._by_first.get(tokens[0], ())]
        out: list[Contact] = []
        for i in ids:
            if self._people[i] not in out:
                out.append(self._people[i])
        return out

    def _narrow(self, found: list[int], company: str | None) -> list[int]:
        key = company_key(company)
        if not key or len(found) < 2:
            return found
        narrowed = [
            i for i in found if self._company[i] and _companies_match(self._company[i], key)
        ]
        return narrowed or found

    def _known_form(self, token: str) -> str:
        """The token, or the nominative of a name written in another Polish case
        ("agnieszce" -> "agnieszka") when only that is a contact's name."""
        if token in self._by_last or token in self._by_first or len(token) < 4:
            return token
        form = self._forms.get(token)
        if form is None:
            form = next(
                (f for f in nominatives(token) if f in self._by_last or f in self._by_first),
                token,
            )
            if len(self._forms) >= _FORMS_KEPT:
                self._forms.clear()
            self._forms[token] = form
        return form

    def match(self, name: str, company: str | None = None) -> list[Contact]:
        """The distinct contacts a written name may stand for (several when ambiguous)."""
        tokens, titled = _strip_title(tuple(self._known_form(t) for t in name_tokens(name)))
        if not tokens:
            return []
        found = [i for i, _ in self._full_matches(tokens)]
        if not found and len(tokens) == 1 and titled:
            found = self._last_matches(tokens[0])
        if not found and len(tokens) == 1 and company:
            # a bare first or last name with the company: "Jones at BigChemicalCompany"
            key = company_key(company)
            found = [
                i
                for i in self._last_matches(tokens[0])
                if key and _companies_match(self._company[i], key)
            ]
            if not found and key:
                found = [
                    i
                    for i, c in enumerate(self._people)
                    if _companies_match(self._company[i], key) and name_tokens(c.name)[:1] == tokens
                ]
        return [self._people[i] for i in self._narrow(found, company)]

    def mentions(self, text: str) -> list[Mention]:
        """The contacts named in free text: full name or alias, or title + last name."""
        if not self._by_last and not self._by_first:  # an empty book: nobody to name
            return []
        words = [(m.start(), m.end(), name_tokens(m.group())) for m in _WORD.finditer(text)]
        flat: _Flat = []
        for start, end, toks in words:
            for t in toks:
                flat.append((start, end, self._known_form(t)))
        out: list[Mention] = []
        last_end = -1
        for k, (start, end, tok) in enumerate(flat):
            if start < last_end or (tok not in self._by_last and tok not in self._by_first):
                continue
            best = (
                self._full_name_ending_at(text, flat, k, last_end)
                or self._title_and_last_name_at(text, flat, k)
                or self._first_name_and_company_at(text, flat, k)
            )
            if best is None:
                continue
            out.append(self._mention(text, flat, k, best))
            last_end = end
        return out

    def _full_name_ending_at(self, text: str, flat: _Flat, k: int, last_end: int) -> _Found | None:
        """A full name or alias whose last word is ``flat[k]``: the exact words, or the first
        name and up to two middle words before the last name."""
        best: _Found | None = None
        for variant, i, how in self._by_last.get(flat[k][2], ()):
            if len(variant) < 2:
                continue
            n = len(variant)
            for first in range(k - 1, max(-1, k - n - 3), -1):
                if flat[first][2] != variant[0]:
                    continue
                if not _adjacent(text, flat, first, k) or flat[first][0] < last_end:
                    break
                seq = tuple(t for _, _, t in flat[first : k + 1])
                # middle names are written as names: "Robert J. Pryce", not "Robert from Pryce"
                middle_ok = all(
                    text[flat[j][0]].isupper() or flat[j][2] in NAME_PARTICLES
                    for j in range(first + 1, k)
                )
                if seq == variant or (abs(len(seq) - n) <= 2 and middle_ok):
                    if best is None or first < best[0]:
                        best = (first, [i], how)
                    elif first == best[0] and i not in best[1]:
                        best[1].append(i)
                break
        return best

    def _title_and_last_name_at(self, text: str, flat: _Flat, k: int) -> _Found | None:
        """'Dr. Becker', 'dhr. De Wit', 'dott.ssa Ferraro': titles, particles, last name."""
        if k == 0:
            return None
        t = k - 1
        while t > 0 and flat[t][2] in NAME_PARTICLES and flat[t][2] not in TITLES:
            t -= 1
        if flat[t][2] in TITLES and _adjacent(text, flat, t, k):
            while t > 0 and flat[t - 1][2] in TITLES and _adjacent(text, flat, t - 1, t):
                t -= 1
            ids = self._last_matches(flat[k][2])
            if ids:
                return (t, ids, "title")
        return None

    def _first_name_and_company_at(self, text: str, flat: _Flat, k: int) -> _Found | None:
        """A first name with the company right after it: 'Fatima at Crescent Pharma'."""
        start, end, tok = flat[k]
        if not text[start : start + 1].isupper():
            return None
        ids = [i for i in self._by_first.get(tok, ()) if self._company_follows(text, end, i)]
        return (k, ids, "first") if ids else None

    def _mention(self, text: str, flat: _Flat, k: int, found: _Found) -> Mention:
        """The mention from ``found`` (first word, contacts, how) to the end of word ``k``,
        narrowed to the contacts at a company written just after it."""
        first, ids, how = found
        span = (flat[first][0], flat[k][1])
        written_company = self._company_near(text, span[1], ids)
        if written_company is not None:
            ids = [
                i for i in ids if _companies_match(self._company[i], compact(written_company))
            ] or ids
        return Mention(
            contacts=tuple(self._people[i] for i in ids),
            span=span,
            how=how,
            text=text[span[0] : span[1]],
            company=written_company,
        )

    def _company_follows(self, text: str, end: int, i: int) -> bool:
        """The contact's company is written right after a name: 'at Crescent', 'von Weserwerk'.

        A role may come between: 'Priya, the VP of business development at Meridian'.
        """
        key = self._company[i]
        if not key:
            return False
        m = _COMPANY_LEAD.match(text, end)
        starts = [m.end()] if m else []
        if text[end : end + 1] == ",":
            role = re.match(r"[^.;:?!\n]{0,60}", text[end + 1 :])
            span = role.group() if role else ""
            starts += [end + 1 + c.end() for c in _CONNECTOR.finditer(span)]
        for at in starts:
            window = text[at : at + 60]
            first = " ".join(window.split()[:1])
            if compact(window).startswith(key) or _first_word_in(self._people[i].company, first):
                return True
        return False

    def _company_near(self, text: str, end: int, ids: list[int]) -> str | None:
        """The company of one of the contacts, when written just after the name."""
        window = text[end : end + 120]
        stop = re.search(r"[?!;\n]\s|\.\s+[A-Z]|\n\s*\n", window)
        if stop:
            window = window[: stop.start() + 1]
        flat = compact(window)
        for i in ids:
            key = self._company[i]
            if key and (key in flat or _loose_in(key, flat)):
                return self._people[i].company
        for i in ids:
            if _first_word_in(self._people[i].company, window):
                return self._people[i].company
        return None


_COMPANY_LEAD = LazyPattern(
    r"[ \t]*,?[ \t]*(?:at|from|of|with|in|@|chez|de|d'|du|von|vom|bei|der|del|en)[ \t]+"
    r"(?:the[ \t]+)?",
    re.I,
)


_CONNECTOR = LazyPattern(
    r"[ \t](?:at|of|from|with|in|chez|de|du|von|vom|bei|del|en)[ \t]+(?:the[ \t]+)?", re.I
)


# Polish case endings, on folded words: an oblique ending and the nominative endings it
# may come from ("agnieszce" is "agnieszka", "kowalskiej" is "kowalska", "tomaszowi" is
# "tomasz"). Longest endings first; the first candidate that is a known name wins.
_POLISH_ENDINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("skiego", ("ski",)),
    ("skiemu", ("ski",)),
    ("skim", ("ski",)),
    ("ckiego", ("cki",)),
    ("ckiemu", ("cki",)),
    ("ckim", ("cki",)),
    ("skiej", ("ska",)),
    ("ckiej", ("cka",)),
    ("dzie", ("da",)),
    ("dze", ("ga",)),
    ("sze", ("cha",)),
    ("rze", ("ra",)),
    ("cie", ("ta",)),
    ("ce", ("ka",)),
    ("owi", ("",)),
    ("iem", ("",)),
    ("em", ("",)),
    ("ii", ("ia",)),
    ("ji", ("ja",)),
    ("li", ("la",)),
    ("ie", ("a",)),
    ("ki", ("ka",)),
    ("gi", ("ga",)),
    ("y", ("a",)),
    ("e", ("a",)),
    ("a", ("",)),
    ("u", ("",)),
)


def nominatives(word: str) -> list[str]:
    """The nominative forms a folded Polish name word in another case may stand for."""
    out: list[str] = []
    if len(word) < 4:
        return out
    for ending, bases in _POLISH_ENDINGS:
        if not word.endswith(ending) or len(word) - len(ending) < 2:
            continue
        stem = word[: -len(ending)]
        for base in bases:
            out.append(stem + base)
            if not base and stem.endswith(("k", "c")):  # Markowi -> Marek, Jacka -> Jacek
                out.append(stem[:-1] + "e" + stem[-1])
    return out


def distinct(people: Iterable[Contact]) -> list[Contact]:
    """The contacts in order, each once."""
    out: list[Contact] = []
    for c in people:
        if c not in out:
            out.append(c)
    return out


def _loose_in(key: str, flat: str) -> bool:
    """The company written shortened: 'Meridian' for 'Meridian Pharma'."""
    return len(key) >= 6 and key[: max(6, len(key) // 2)] in flat


def _first_word_in(company: str | None, window: str) -> bool:
    """The company's first distinctive word written as a word: 'Arbor' for 'Arbor Biosciences'."""
    words = name_tokens(company or "")
    if not words or len(words[0]) < 4 or words[0] in _GENERIC_COMPANY_WORDS:
        return False
    return words[0] in name_tokens(window)


_GENERIC_COMPANY_WORDS = frozenset(
    """
    the big first new national international global general united american european saint
    university institute bank group north south east west central independent universite
    universidad
    """.split()
)


def _companies_match(a: str, b: str) -> bool:
    if not a or not b:
        return False
    return a == b or (min(len(a), len(b)) >= 4 and (a in b or b in a))


def _adjacent(text: str, flat: list[tuple[int, int, str]], first: int, last: int) -> bool:
    """The words from first to last follow each other (spaces, dots, hyphens between)."""
    for j in range(first, last):
        gap = text[flat[j][1] : flat[j + 1][0]]
        if not re.fullmatch(r"[\s.\-ªº]*", gap) or gap.count("\n") > 1:
            return False
    return True
