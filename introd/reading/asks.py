"""What a requester asks for and why: asking phrases, named people, stated purposes.

Phrase tables in every language introd reads: how people ask to be introduced
("would you mind connecting me with", "pourrais-tu me mettre en contact avec",
"könntest du mich mit ... bekannt machen", "¿me podrías presentar a"), how they ask
for nobody in particular ("anyone in your network"), and how they say why. The
greetings come from :mod:`introd.reading.words`. Pure functions of text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from typing import Any
from functools import cache
from itertools import chain
from dataclasses import dataclass

from introd.patterns import LazyPattern, leading_literals
from .cleaning import GREETING, is_sign_off
from .people import TITLES, ContactBook, Mention, compact, company_key, fold, name_tokens
from .words import GREETINGS, THANKS, any_of, any_word

# --- sentences -----------------------------------------------------------------------------

_ABBREV = LazyPattern(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Sr|Sra|Jr|Inc|Ltd|Co|Corp|No|Nr|vs|etc|approx|Dept|Univ|"
    r"Mme|Mlle|M|Hr|Fr|bzw|ca|z\.B|u\.a|e\.g|i\.e|Ph\.D|PhD|[A-Z])\.)$"
)
# after "Inc." or "etc." these words start a new sentence
_SENTENCE_STARTERS = LazyPattern(
    r"\s+(?:I|We|He|She|They|It|My|Our|His|Her|Their|This|That|Would|Could|Can|Do|Please|"
    r"Thanks|Thank|Also|As|If|So|But|And|Je|Nous|Il|Elle|Ich|Wir|Er|Sie|Yo|Nosotros|Él|Ella)\b"
)
_COMPANY_ABBREV = LazyPattern(r"\b(?:Inc|Ltd|Co|Corp|etc|approx|PhD|Ph\.D)\.$")
# longer than the longest abbreviation plus its dot, so that \b never falls on the cut
_ABBREV_WINDOW = 20


_CJK = LazyPattern(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff66-\uff9f]")


def word_count(text: str) -> int:
    """Words in a text; in Chinese, Japanese or Korean written without spaces, about one
    word per two characters, so a reason's length measures the same in every script."""
    count = 0
    for piece in (text or "").split():
        # no character from U+3040 up: no CJK, and the pattern need not be compiled
        cjk = len(_CJK.findall(piece)) if max(piece) >= "\u3040" else 0
        if cjk == 0:
            count += 1
            continue
        rest = _CJK.sub(" ", piece).split()
        count += (cjk + 1) // 2 + sum(1 for r in rest if any(ch.isalnum() for ch in r))
    return count


_PARAGRAPH_BREAK = LazyPattern(r"\n\s*\n")
_SENTENCE_STOP = LazyPattern(r"[.!?…]+[\"'”’)]*(?=\s+|$)|[。！？]+[」』）]*")
_CLAUSE_END = LazyPattern(r"[?!;\n]|\.(?:\s|$)")
_LETTERS = LazyPattern(r"[^\W\d_]+")


def sentences(text: str) -> list[tuple[int, str]]:
    """Sentences with their paragraph number; wrapped lines joined, abbreviations kept."""
    out: list[tuple[int, str]] = []
    paragraphs = _PARAGRAPH_BREAK.split(text or "")
    for p_index, para in enumerate(paragraphs):
        flat = " ".join(ln.strip() for ln in para.split("\n") if ln.strip())
        start = 0
        for m in _SENTENCE_STOP.finditer(flat):
            end = m.end()
            piece = flat[start:end]
            # the abbreviations are short: look at the few characters before the dot only
            # (searching the whole paragraph for each dot is quadratic on a long one)
            before = flat[max(0, m.start() - _ABBREV_WINDOW) : m.start() + 1]
            if (
                m.group().startswith(".")
                and _ABBREV.search(before)
                and not (_COMPANY_ABBREV.search(before) and _SENTENCE_STARTERS.match(flat, end))
            ):
                continue
            if piece.strip():
                out.append((p_index, piece.strip()))
            start = end
        tail = flat[start:].strip()
        if tail:
            out.append((p_index, tail))
    return out


# --- what the requester asks for -----------------------------------------------------------

_CUES = [
    LazyPattern(p, re.I)
    for p in (
        # English
        r"\b(?:refer(?:ring)?|introduc(?:e|ing)|intro|recommend(?:ing)?|present(?:ing)?|"
        r"mention(?:ing)?)\s+(?:me|us|myself|ourselves|him|her|them)\s+to\b",
        r"\b(?:introduction|intro|referral|introductions)\s+(?:to|with)\b",
        r"\b(?:put(?:ting)?|get(?:ting)?)\s+(?:me|us|him|her|them)\s+in\s+(?:touch|contact)\s+with\b",
        r"\b(?:connect(?:ing)?|link(?:ing)?)\s+(?:me|us|him|her|them)\s+(?:up\s+)?(?:with|to)\b",
        r"(?<!look )(?<!looks )(?<!looking )(?<!Look )(?<!Looking )\bforward(?:ing)?\b"
        r"[^.?!\n]{0,60}?\bto\b",
        r"\bpass(?:ing)?\b[^.?!\n]{0,60}?\b(?:along|on)\s+to\b",
        r"\bget\s+in\s+front\s+of\b",
        r"\bintroduce\s+(?:me|us)\s+and\b",
        r"\bintroduction\s+between\s+(?:me|us)\s+and\b",
        r"\b(?:be|get|being|getting)\s+introduced\s+to\b",
        # "Is Dr. Helen Achebe someone you could introduce me to?": the name comes first
        r"\b(?:is|would|could|might)\s+(?=(?-i:(?:(?:Dr|Prof|Mr|Mrs|Ms)\.?\s+)?[A-ZÀ-Ý][\w'’-]+"
        r"(?:\s+[A-ZÀ-Ý][\w'’-]+){0,3})\s+(?:be\s+)?(?:someone|somebody|a\s+person|"
        r"the\s+(?:right\s+)?person)\s+(?:that\s+|whom\s+)?you\b)",
        r"\b[êe]tre\s+pr[ée]sent[ée]e?s?\s+(?:à|a|au)\b",
        r"\bser\s+presentad[oa]s?\s+(?:a|al)\b",
        # French
        r"\b(?:me|nous)\s+pr[ée]senter(?:\s+(?:à|a|au|aux)\b|(?=\s+[A-ZÀ-Ý]))",
        r"\b(?:mettre|faire\s+entrer)\s+en\s+(?:relation|contact)\s+avec\b",
        r"\b(?:introduction|recommandation|pr[ée]sentation)\s+auprès\s+d[eu]\b",
        r"\bmise\s+en\s+(?:relation|contact)\s+avec\b",
        r"\bpr[ée]sentation\s+(?:à|avec)\b",
        r"\bme\s+recommander\s+(?:à|auprès\s+de)\b",
        r"\btransmettre\b[^.?!\n]{0,60}?\b(?:à|a)\b",
        # German
        r"\bmich\s+(?:bitte\s+|gern\s+|einmal\s+)?mit\b",
        r"\b(?:mich|mir|uns)\s+(?:bitte\s+)?(?:an\s+|bei\s+)?(?=(?:Herrn?|Frau|Dr\.?|Prof\.?)\s)",
        r"\buns\s+(?:bitte\s+)?mit\b",
        r"\bKontakt\s+(?:zu|mit)\b",
        r"\bVorstellung\s+bei\b",
        r"\bweiterleiten\s+an\b|\ban\b(?=[^.?!\n]{0,60}\bweiterleiten\b)",
        # Spanish
        r"\bpresentar(?:me|nos)?\s+(?:a|al|con|ante)\b",
        r"\bponer(?:me|nos)?\s+en\s+contacto\s+con\b",
        r"\b(?:contactarme|conectarme|comunicarme)\s+con\b",
        r"\bpresentaci[óo]n\s+(?:a|con)\b",
        r"\brecomendarme\s+(?:a|con|ante)\b",
        r"\breenviar\b[^.?!\n]{0,60}?\ba\b",
        # Italian
        r"\b(?:presentar(?:mi|ci)|introdurr?(?:mi|ci)|(?:mi|ci)\s+presenter\w*|"
        r"(?:mi|ci)\s+(?:potresti|potrebbe|puoi|può)\s+presentare|farmi\s+conoscere)\s+"
        r"(?:a|al|alla|allo|all'|ai|agli|alle)\b",
        r"\bmetter(?:mi|ci)\s+in\s+(?:contatto|comunicazione)\s+con\b",
        r"\bpresentazione\s+(?:a|al|alla|con)\b",
        # Portuguese
        r"\b(?:apresentar(?:-me|-nos|me|nos)?|me\s+apresent\w+|(?:que\s+)?me\s+apresente)\s+"
        r"(?:a|à|ao|aos|às)\b",
        r"\b(?:p[ôo]r|colocar)(?:-me|-nos)?\s+(?:me\s+)?em\s+contacto\s+com\b",
        r"\b(?:p[ôo]r|colocar)(?:-me|-nos)?\s+(?:me\s+)?em\s+contato\s+com\b",
        r"\b(?:me|nos)\s+(?:p[ôo]r|colocar)\s+em\s+conta(?:c)?to\s+com\b",
        r"\bapresenta[çc][ãa]o\s+(?:a|à|ao|com)\b",
        # Dutch
        r"\b(?:voor\s+te\s+stellen|voorstellen|introduceren|aan\s+te\s+bevelen)\s+(?:aan|bij)\b",
        r"\bin\s+contact\s+(?:te\s+)?(?:kunnen\s+|willen\s+)?brengen\s+met\b",
        r"\bkennis\s+(?:laten\s+)?(?:te\s+)?maken\s+met\b",
        r"\bintroductie\s+(?:bij|aan|met)\b",
        # Polish
        r"\bprzedstawi\w*\s+(?:mnie|nas)\b",
        r"\b(?:skontaktowa\w*|skontaktuj\w*|zapozna\w*|po[łl][ąa]czy\w*|poznać)\s+(?:mnie|nas)"
        r"\s+(?:z|ze)\b",
        # Swedish
        r"\b(?:introducera|presentera)\s+(?:mig|oss)\s+(?:för|till|med)\b",
        r"\bs[äa]tta\s+(?:mig|oss)\s+i\s+(?:kontakt|förbindelse)\s+med\b",
        r"\bkoppla\s+ihop\s+(?:mig|oss)\s+med\b",
    )
]

# A phrase's leading \b, after the look-behinds some phrases start with.
_LEADING_BOUNDARY = LazyPattern(r"((?:\(\?<![^()]*\))*)\\b")


def _opening_letters(items: list[Any]) -> tuple[set[str] | None, bool]:
    """The letters (lower-case) one of which opens every match of a parsed pattern, or
    None when that is not known; and whether the pattern can match the empty string."""
    from re import _constants as c  # type: ignore[attr-defined]

    found: set[str] = set()
    for op, arg in items:
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue  # zero-width
        if op is c.LITERAL:
            return found | {chr(arg).lower()}, False
        if op is c.IN:
            if any(kind is not c.LITERAL for kind, _ in arg):
                return None, False
            return found | {chr(value).lower() for _, value in arg}, False
        if op is c.SUBPATTERN:
            more, empty = _opening_letters(list(arg[-1]))
        elif op is c.BRANCH:
            more, empty = set(), False
            for branch in arg[1]:
                letters, may_be_empty = _opening_letters(list(branch))
                if letters is None:
                    return None, False
                more |= letters
                empty = empty or may_be_empty
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            more, empty = _opening_letters(list(arg[2]))
            empty = empty or arg[0] == 0
        else:
            return None, False
        if more is None:
            return None, False
        found |= more
        if not empty:
            return found, False
    return found, True


class _Deferred(LazyPattern):
    """A LazyPattern whose source is worked out too on first use (parsing the phrases to
    write it would cost every start of introd)."""

    __slots__ = ("_write",)

    def __init__(self, write: Callable[[], str], flags: int) -> None:
        super().__init__("", flags)
        self._write: Callable[[], str] | None = write

    @property
    def pattern(self) -> str:
        """The pattern's source text, written now when it was not yet."""
        if self._write is not None:
            self._source, self._write = self._write(), None
        return self._source

    @property
    def compiled(self) -> re.Pattern[str]:
        """The compiled pattern, written and compiled now when it was not yet."""
        self._source = self.pattern
        return LazyPattern.compiled.fget(self)  # type: ignore[attr-defined,no-any-return]


def _at_word_starts(cues: list[LazyPattern]) -> LazyPattern:
    """The alternation of ``cues``, written on first use (see _word_start_source)."""
    return _Deferred(lambda: _word_start_source(cues), re.I)


def _word_start_source(cues: list[LazyPattern]) -> str:
    r"""Whether, and where first, any of ``cues`` occurs, in one search instead of one per
    phrase: a match starts where the first match of any of them starts.

    Every phrase opens with ``\b`` and a letter (tests/test_request.py checks each), so the
    alternation is tried only where a word starts, ``\b(?=\w)`` said once in front of it
    (otherwise the engine enters each phrase in turn at every character of the text, to
    find its ``\b`` false there); and there the phrases that can open with the letter
    found, behind a look-ahead for it. A match starts at the same places as one of the
    phrases' does (one matches at a place exactly when a phrase does, in whatever order
    they are tried); which phrase it is, and so where the match ends, may differ."""
    from re import _parser  # type: ignore[attr-defined]

    groups: dict[str, list[str]] = {}
    unknown: list[str] = []
    for cue in cues:
        lead = _LEADING_BOUNDARY.match(cue.pattern)
        if lead is None:
            raise ValueError(f"an asking phrase opens with no \\b: {cue.pattern!r}")
        branch = f"(?:{lead.group(1)}{cue.pattern[lead.end() :]})"
        letters, empty = _opening_letters(list(_parser.parse(cue.pattern, cue.flags)))
        if letters is None or empty:
            unknown.append(branch)
            continue
        for letter in sorted(letters):
            groups.setdefault(letter, []).append(branch)
    branches = [f"(?={re.escape(k)})(?:{'|'.join(v)})" for k, v in groups.items()] + unknown
    return r"\b(?=\w)(?:" + "|".join(branches) + ")"


_ANY_CUE = _at_word_starts(_CUES)
ANY_CUE = _ANY_CUE

# Weaker phrases, tried only when none of the above names anybody.
_WEAK_CUES = [
    LazyPattern(p, re.I)
    for p in (
        r"\b(?:meet(?:ing)?|speak(?:ing)?\s+(?:with|to)|talk(?:ing)?\s+(?:with|to)|"
        r"chat(?:ting)?\s+with|connect(?:ing)?\s+with|get\s+in\s+touch\s+with|"
        r"reach(?:ing)?\s+out\s+to|contact(?:ing)?|"
        r"(?:do|would|did|might|may|could|can|if|whether)\s+you\s+"
        r"(?:might\s+|may\s+|would\s+|happen\s+to\s+)?know)\b",
        r"\b(?:connaissez-vous|connais-tu|conna[iî]triez-vous|conna[iî]trais-tu|rencontrer|contacter|[ée]changer\s+avec|parler\s+(?:à|a|avec)|"
        r"entrer\s+en\s+(?:contact|relation)\s+avec)\b",
        r"\b(?:kennen\s+Sie|kennst\s+du|sprechen\s+mit|Kontakt\s+aufnehmen\s+mit|kennenlernen:?)\b",
        r"\b(?:conoces\s+a|conocerías\s+a|conoce\s+usted\s+a|conocer\s+a|hablar\s+con|contactar\s+(?:a|con)|conversar\s+con)\b",
        r"\bhelp\s+(?:me|us)\s+reach\b",
        r"\b(?:conosci|conosce|conoscere|parlare\s+con|contattare|incontrare)\b",
        r"\b(?:conheces|conhece|conhecer|falar\s+com|contactar|contatar)\b",
        r"\b(?:ken\s+je|kent\s+u|spreken\s+met|contact\s+opnemen\s+met|ontmoeten)\b",
        r"\b(?:znasz|zna\s+pani|zna\s+pan|porozmawiać\s+z|poznać)\b",
        r"\b(?:känner\s+du|träffa|prata\s+med|komma\s+i\s+kontakt\s+med)\b",
    )
]
_ANY_WEAK_CUE = _at_word_starts(_WEAK_CUES)

_BLANKET = LazyPattern(
    r"^[\s,:]*(?:(?:any|some|a\s+few|several|all|one|few|many|two|three)\b|"
    r"(?:anyone|anybody|someone|somebody|people|whoever|whomever|everyone|others|folks)\b|"
    r"(?:the\s+(?:right|best|relevant|appropriate)\s+(?:person|people|contact))|"
    r"(?:your|their|his|her)\s+(?:\d+\s+)?(?:contacts|network|connections|colleagues|friends|"
    r"linkedin|hiring|team|people)|"
    r"(?:quelqu|des\s+personnes|des\s+contacts|vos\s+contacts|tes\s+contacts|certains|certaines|"
    r"plusieurs|votre\s+réseau|ton\s+réseau|n'importe)|"
    r"(?:jemand|jemandem|einigen|ihren\s+kontakten|deinen\s+kontakten|ihrem\s+netzwerk|"
    r"deinem\s+netzwerk|leuten|personen)|"
    r"(?:alguien|algunos|algunas|alguno|alguna|tus\s+contactos|sus\s+contactos|cualquier|"
    r"personas|gente|tu\s+red|su\s+red)|"
    r"(?:qualcuno|qualcuna|alcuni|alcune|chiunque|i\s+tuoi\s+contatti|la\s+tua\s+rete)|"
    r"(?:algu[ée]m|alguns|algumas|qualquer|os\s+teus\s+contactos|seus\s+contatos|a\s+tua\s+rede)|"
    r"(?:iemand|enkele|een\s+paar|je\s+contacten|uw\s+contacten|je\s+netwerk|uw\s+netwerk)|"
    r"(?:kogoś|kogos|kimś|kims|kilku|twoich\s+kontaktów)|"
    r"(?:någon|nagon|några|nagra|dina\s+kontakter|ditt\s+nätverk))",
    re.I,
)
_BLANKET_ANYWHERE = LazyPattern(
    r"\b(?:any of your|anyone (?:you know|in|at|from|who)|someone (?:in|at|from|who)|"
    r"whoever you|your (?:\d+ )?(?:linkedin )?(?:contacts|network|connections)|"
    r"quelqu'un|vos contacts|jemanden|Ihren Kontakten|alguien|algunos de tus contactos|"
    r"tus contactos|cualquier contacto|qualcuno|tuoi contatti|algu[ée]m|tua rede|iemand|"
    r"je netwerk|kogoś|någon)\b",
    re.I,
)

_CONNECTORS = frozenset(
    """
    at from of with in chez de du des von vom der bei en del la le the @ für para pour who qui
    """.split()
)
_PARTICLES = frozenset(
    """
    van von de der da di del le la du ten ter bin al el dos das y
    """.split()
)
_TOKEN = LazyPattern(r"[^\W\d_][\w'’.-]*|[&@]|[^\w\s]")
_NOT_NAMES = frozenset(
    """
    i we you he she they it my your his her their our ich sie wir ihr ihre ihrem ihren je
    nous vous yo usted el ella the a an this that these those mr mrs ms dr
    lui lei voi noi ik jij wij u hij zij eu ele ela nos voce ja ty my wy jag du vi ni han hon
    """.split()
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Named:
    """A person named in a text: as written, with the company written near them."""

    name: str
    company: str | None = None
    mention: Mention | None = None


_ARTICLES = frozenset("le la l the el der die den dem lo il het o a os as ao".split())


def _name_at_start(tokens: list[str]) -> tuple[list[str], bool, int, int] | None:
    """The words of a name at the start of ``tokens``: (words, titled, capitals, end).

    None when the capitals are a company's ("Meridian's BD team", "Pfizer Global R&D")."""
    i = 0
    words: list[str] = []
    titled = False
    if (
        len(tokens) > 1
        and fold(tokens[0]) in _ARTICLES
        and (tokens[1][:1].isupper() or fold(tokens[1]).rstrip(".") in TITLES)
    ):
        i = 1  # "le Dr Patrice Lemaire", "the Dr. Quintero", "al Sr. Torres"
    while i < len(tokens) and fold(tokens[i]).rstrip(".") in TITLES and tokens[i][0].isupper():
        words.append(tokens[i])
        titled = True
        i += 1
    capitals = 0
    while i < len(tokens):
        tok = tokens[i]
        bare = tok.rstrip(".")
        low = fold(bare)
        if bare and bare[0].isupper() and low not in _NOT_NAMES and not tok.endswith(("'s", "’s")):
            words.append(tok)
            capitals += 1
            i += 1
            if tok.endswith(".") and len(bare) > 1:
                break
            continue
        if tok == "&" or (tok.endswith(("'s", "’s")) and bare[:1].isupper()):
            return None
        if low in _PARTICLES and capitals and i + 1 < len(tokens) and tokens[i + 1][:1].isupper():
            words.append(tok)
            i += 1
            continue
        break
    return words, titled, capitals, i


def _company_after_separator(tokens: list[str], i: int) -> str | None:
    """A company after a separator: "Rachel Okafor, Novalis Therapeutics" (not a title,
    not a sentence that goes on with "I" or "we")."""
    if not (i < len(tokens) and tokens[i] in (",", "(", "-", "–", "—", "|", "/")):
        return None
    after: list[str] = []
    k = i + 1
    while k < len(tokens) and (tokens[k][:1].isupper() or tokens[k] == "&"):
        after.append(tokens[k])
        k += 1
    if after and fold(after[0]).rstrip(".") not in TITLES:
        words_after = name_tokens(" ".join(after))
        if words_after and not (set(words_after) & {"i", "we", "she", "he", "they"}):
            return " ".join(after).rstrip(".,")
    return None


def _company_after_connector(tokens: list[str], i: int) -> str | None:
    """A company after a connector within six tokens: "at Novalis", "chez Midwest BioVentures"."""
    j, skipped = i, 0
    while j < len(tokens) and skipped < 6:
        tok = tokens[j]
        if tok in "?!;()" or (tok == "." and j > i):
            break
        if fold(tok) in _CONNECTORS and j + 1 < len(tokens):
            k = j + 1
            while k < len(tokens) and fold(tokens[k]) in _CONNECTORS:
                k += 1
            parts: list[str] = []
            while k < len(tokens) and (
                tokens[k][:1].isupper()
                or tokens[k] == "&"
                or (parts and fold(tokens[k]) in ("of", "de", "and"))
            ):
                parts.append(tokens[k])
                k += 1
            while parts and fold(parts[-1]) in ("of", "de", "and", "&"):
                parts.pop()
            if parts:
                return " ".join(parts).rstrip(".,")
        j += 1
        skipped += 1
    return None


def leading_name(text: str) -> tuple[str, str | None] | None:
    """A person's name (and company) at the start of text: 'Dr. Rachel Okafor at Novalis'."""
    tokens = [m.group() for m in _TOKEN.finditer(text[:200])]
    found = _name_at_start(tokens)
    if found is None:
        return None
    words, titled, capitals, i = found
    if capitals == 0:
        return None
    name = " ".join(words).strip(" .,")
    company = _company_after_separator(tokens, i) or _company_after_connector(tokens, i)
    if capitals < 2 and not titled and company is None:
        return None  # one capitalised word alone is not enough to name a person
    return name, company


def _sentence_end(text: str, start: int) -> int:
    m = _CLAUSE_END.search(text, start)
    end = m.start() if m else len(text)
    # a title's dot is not the end: "Mr. Jones"
    while (
        m
        and m.group().startswith(".")
        and _ABBREV.search(text[max(0, m.start() - 6) : m.start() + 1])
    ):
        m = _CLAUSE_END.search(text, m.end())
        end = m.start() if m else len(text)
    return end


@dataclass(frozen=True, slots=True, kw_only=True)
class _Ask:
    """What a text asks for: a named person, a blanket 'anyone', or nothing."""

    named: Named | None = None
    blanket: bool = False
    cue_span: tuple[int, int] | None = None
    # an asking phrase was found whose object is neither a name nor a pronoun
    # ("introduce me to a hiring manager there")
    unnamed: bool = False
    # the asking phrase itself points at nobody in particular ("introduce me to anyone in ..."),
    # not just a blanket word somewhere else in the text
    blanket_ask: bool = False


_Starts = tuple[tuple[LazyPattern, tuple[str, ...] | None], ...]


@cache
def _starts(weak: bool) -> _Starts:
    """Each strong (or weak) cue with the literal strings one of which opens its every match."""
    out = []
    for cue in _WEAK_CUES if weak else _CUES:
        starts = leading_literals(cue)
        out.append((cue, None if starts is None else tuple(sorted(starts))))
    return tuple(out)


def _cues_in(text: str, weak: bool = False) -> Iterator[LazyPattern]:
    """The strong (or weak) cues in order, but those that cannot match ``text``: in ASCII
    text, a cue none of whose opening words is in the lower-cased text."""
    if not text.isascii():
        for cue, _ in _starts(weak):
            yield cue
        return
    low = text.lower()
    for cue, starts in _starts(weak):
        if starts is None:
            yield cue
            continue
        for s in starts:
            if s in low:
                yield cue
                break


def _cue_hits(weak: bool, text: str) -> Iterator[tuple[int, int]]:
    """Every match of each strong (or weak) cue in ``text`` as (start, end), in order of
    start, the longer first: what sorting the matches of each cue's ``finditer`` gives,
    found as they are wanted (the first one is mostly the ask).

    Their alternation says where the next of them is: none matches in between, so each
    cue is tried there only, and not before its last match ended (where its own finditer
    would go on). In ASCII text a cue none of whose opening words is in the text is not
    tried at all."""
    any_cue = _ANY_WEAK_CUE if weak else _ANY_CUE
    first = any_cue.search(text)
    if first is None:
        return
    cues = list(_cues_in(text, weak))
    free = [0] * len(cues)  # where each cue's finditer would search on from
    at: int | None = first.start()
    while at is not None:
        here: list[tuple[int, int]] = []
        for k, cue in enumerate(cues):
            if free[k] <= at and (m := cue.match(text, at)) is not None:
                here.append((at, m.end()))
                free[k] = m.end()
        here.sort(key=lambda h: -h[1])
        yield from here
        following = any_cue.search(text, at + 1)
        at = following.start() if following is not None else None


class _Hits:
    """The strong cues' hits, found as they are asked for: by iterating, or by asking
    whether a span is one of them."""

    __slots__ = ("_found", "_more")

    def __init__(self, hits: Iterator[tuple[int, int]]) -> None:
        self._found: list[tuple[int, int]] = []
        self._more = hits

    def __iter__(self) -> Iterator[tuple[int, int]]:
        i = 0
        while True:
            if i == len(self._found):
                hit = next(self._more, None)
                if hit is None:
                    return
                self._found.append(hit)
            yield self._found[i]
            i += 1

    def __contains__(self, span: object) -> bool:
        if span in self._found:
            return True
        for hit in self._more:
            self._found.append(hit)
            if hit == span:
                return True
        return False


def _weak_hits(text: str) -> Iterator[tuple[int, int]]:
    yield from _cue_hits(True, text)


def find_ask(text: str, contacts: ContactBook, skip: Collection[str] = ()) -> _Ask:
    """The person the writer asks to meet ('introduce me to Dr. Anja Becker'), or a blanket ask."""
    blanket = False
    mentions = [
        m
        for m in contacts.mentions(text)
        if not any(c.email and c.email.lower() in skip for c in m.contacts)
    ]
    strong = _Hits(_cue_hits(False, text))
    unnamed = False
    # the weak phrases are looked for only once every strong one has been tried
    for start, end in chain(strong, _weak_hits(text)):
        stop = _sentence_end(text, end)
        rest = text[end:stop]
        if _BLANKET.match(rest):
            # "someone in BD at Meridian, maybe Priya Natarajan?": the one person named
            example = _example_named(text, end, stop, mentions)
            if example is not None:
                return _Ask(named=example, cue_span=(start, stop))
            blanket = True
            continue
        strong_hit = (start, end) in strong
        mention = next(
            (
                m
                for m in mentions
                if end <= m.span[0] <= end + 40 and _only_filler(text[end : m.span[0]])
            ),
            None,
        )
        if mention is None:
            # "presentar al CTO de Kitsune Robotics, William Tanaka": a role, then the name
            mention = next(
                (
                    m
                    for m in mentions
                    if end <= m.span[0] <= min(stop, end + 90)
                    and _appositive(text[end : m.span[0]], m)
                ),
                None,
            )
        if mention is not None:
            return _Ask(
                named=Named(
                    name=mention.text,
                    company=mention.company,
                    mention=mention,
                ),
                cue_span=(start, stop),
            )
        lead = leading_name(rest)
        if lead is None and strong_hit:
            first = _FIRST_NAME_ONLY.match(rest)
            known = contacts.by_first_name(first.group(1)) if first else []
            if known:
                # "introduce me to Michael?": the contacts' Michaels (several: ambiguous)
                return _Ask(
                    named=Named(
                        name=first.group(1) if first else "",
                        mention=Mention(
                            contacts=tuple(known),
                            span=(end, end),
                            how="first",
                            text=first.group(1) if first else "",
                        ),
                    ),
                    cue_span=(start, stop),
                )
        if lead is not None and _is_company(lead[0], contacts):
            blanket = True  # "introduce me to Meridian Pharma": a company, nobody in it
            continue
        if lead is not None:
            return _Ask(named=Named(name=lead[0], company=lead[1]), cue_span=(start, stop))
        if strong_hit and rest.strip() and not _PRONOUN.match(rest):
            example = _example_named(text, end, stop, mentions)
            if example is not None:
                return _Ask(named=example, cue_span=(start, stop))
            unnamed = True
    return _Ask(
        blanket=blanket or bool(_BLANKET_ANYWHERE.search(text)),
        unnamed=unnamed,
        blanket_ask=blanket,
    )


# A colleague's covering line when they only pass a request on ("Isaac asked me to pass
# this on - see below", "ti inoltro la richiesta di Francesca", "zie hieronder").
PASS_ON = LazyPattern(
    r"\b(?:pass(?:ing)?\s+(?:this|it|that)?\s*(?:on|along)|passing\s+along|"
    r"forward(?:ing|ed)?\s+(?:this|it|that|her|his|their)|asked\s+me\s+to\s+(?:forward|pass|send|"
    r"get|share)|(?:send|get)\s+this\s+to\s+(?:you|her|him|Marta)|see\s+(?:below|(?:his|her|their)\s+"
    r"(?:note|mail|e-?mail|message)\s+below)|(?:note|mail|message|request)\s+(?:is\s+)?below|"
    r"(?:from|via)\s+[A-Z][\w'-]+,?\s+(?:via|who)\b|third\s+hand|second\s+hand|"
    r"je\s+(?:te|vous)\s+(?:transmets|transf[èe]re|fais\s+suivre)|ci-dessous|m'a\s+demand[ée]\s+de\s+"
    r"(?:te|vous)\s+(?:transmettre|transf[ée]rer|faire\s+suivre)|"
    r"weiterzuleiten|weiterleiten|leite\s+(?:ich\s+)?(?:dir|Ihnen)|siehe\s+unten|anbei\s+die\s+Anfrage|"
    r"te\s+reenv[íi]o|le\s+reenv[íi]o|ver\s+abajo|m[áa]s\s+abajo|me\s+pidi[óo]\s+que\s+te\s+"
    r"(?:reenviara|pasara|enviara)|"
    r"ti\s+(?:inoltro|giro)|te\s+la\s+giro|vedi\s+sotto|qui\s+sotto|mi\s+ha\s+chiesto\s+di\s+"
    r"(?:inoltrarti|girarti|mandarti)|"
    r"doorsturen|doorgestuurd|stuur\s+(?:ik\s+)?(?:je|u)\s+door|zie\s+hieronder|hieronder|"
    r"reencaminh\w*|encaminh\w*|ver\s+abaixo|segue\s+abaixo|abaixo|pedido\s+d[ao]\s+\w+\s+via|"
    r"vidarebefordra\w*|se\s+nedan|przekazuj[eę]|poni[żz]ej)",
    re.I,
)


_EXAMPLE = LazyPattern(
    r"\b(?:maybe|perhaps|possibly|e\.g\.|for example|for instance|like|such as|ideally|"
    r"peut-être|par exemple|comme|idéalement|vielleicht|etwa|zum Beispiel|z\.\s?B\.|idealerweise|"
    r"quizás|quizá|tal vez|por ejemplo|como)\b",
    re.I,
)


def _example_named(text: str, end: int, stop: int, mentions: list[Mention]) -> Named | None:
    """The one contact given as an example of whom: '..., perhaps Daniel Foster?'."""
    named = [m for m in mentions if end <= m.span[0] < stop]
    if len(named) == 1 and _EXAMPLE.search(text[end : named[0].span[0]]):
        m = named[0]
        return Named(name=m.text, company=m.company, mention=m)
    return None


_FIRST_NAME_ONLY = LazyPattern(r"^[\s,:]*([A-ZÀ-Ý][\w'’-]+)\s*(?:[?!.;,]|$)")
_PRONOUN = LazyPattern(
    r"^[\s,:]*(?:her|him|them|she|he|it|this|these|lui|elle|eux|leur|ihr|ihm|ihnen|sie|él|"
    r"ella|ellos|le|la|les)\b",
    re.I,
)


_ORG_WORDS = frozenset(
    """
    inc llc ltd gmbh ag sa sas corp corporation company co group pharma pharmaceuticals
    biotech biosciences therapeutics labs laboratories laboratoires university universite
    universitat universidad institute institut instituto partners capital ventures
    consulting solutions systems technologies industries holdings foundation team department
    hospital clinic school college center centre bank global international worldwide
    division unit office meeting conference congress summit forum
    """.split()
)


def _is_company(name: str, contacts: ContactBook) -> bool:
    words = name_tokens(name)
    return bool(set(words) & _ORG_WORDS) or contacts.knows_company(name)


_ROLE = LazyPattern(
    r"\b(?:ceo|cto|cfo|coo|cso|cmo|founder|co-?founder|head|director|directeur|directrice|"
    r"directora|leiter|leiterin|chef|cheffe|jefe|jefa|partner|vp|president|présidente?|"
    r"presidenta?|manager|gerente|responsable|fondateur|fondatrice|fundador|fundadora|"
    r"gründer|gründerin|geschäftsführer|geschäftsführerin|direttore|direttrice|responsabile|"
    r"fondatore|fondatrice|amministratore|diretor|diretora|fundadora?|directeur|oprichter|"
    r"dyrektor|prezes|vd|grundare)\b",
    re.I,
)


def _appositive(between: str, mention: Mention) -> bool:
    """Words naming the person's role or company, then a comma, before the name."""
    if not between.rstrip().endswith(",") or len(between) > 90:
        return False
    flat = compact(between)
    return bool(_ROLE.search(between)) or any(
        company_key(c.company) and company_key(c.company) in flat for c in mention.contacts
    )


def _only_filler(between: str) -> bool:
    """Words between a cue and a name that do not change whom it names."""
    words = _LETTERS.findall(fold(between))
    filler = {
        "please",
        "bitte",
        "the",
        "your",
        "friend",
        "colleague",
        "contact",
        "connection",
        "kindly",
        "gern",
        "gerne",
        "einmal",
        "mit",
        "a",
        "votre",
        "ton",
        "tu",
        "su",
        "el",
        "la",
        "le",
        "der",
        "die",
        "dem",
        "ihrem",
        "ihrer",
        "mr",
        "ms",
        "dr",
        "s",
        # Italian, Portuguese, Dutch, Polish, Swedish articles and fillers
        "il",
        "lo",
        "l",
        "gli",
        "i",
        "o",
        "os",
        "ao",
        "het",
        "de",
        "mijn",
        "collega",
        "tuo",
        "tua",
        "teu",
        "min",
    }
    return len(words) <= 3 and all(w in filler or w in TITLES for w in words)


# --- the reason ----------------------------------------------------------------------------


def _alternatives(source: str) -> list[str]:
    """The top-level alternatives of a regular expression's source."""
    out: list[str] = []
    depth, in_class, start, i = 0, False, 0, 0
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "|" and depth == 0:
            out.append(source[start:i])
            start = i + 1
        i += 1
    out.append(source[start:])
    return out


def _by_first_letter(words: str) -> str:
    """The alternation ``words`` (of phrases that each open with a letter), those that open
    with the same letter together behind a look-ahead for it: where a word starts, the
    engine tries one group of them, not every phrase in turn. A match starts at the same
    places (one does at a place exactly when one of the phrases matches there, in whatever
    order they are), so a search finds one exactly when it did, at the same start; which
    phrase it is, and so where the match ends, may differ."""
    groups: dict[str, list[str]] = {}
    for word in _alternatives(words):
        if not word[:1].isalpha() or word[1:2] in ("?", "*", "{"):
            raise ValueError(f"a word of purpose opens with no letter: {word!r}")
        groups.setdefault(word[0].lower(), []).append(word)
    return "|".join(f"(?={first})(?:{'|'.join(group)})" for first, group in groups.items())


# The words of purpose, each opening with a letter (checked, and by tests/test_request.py).
# The pattern below is only ever asked whether, and where first, one of them is.
_REASON_WORDS = (
    r"because|since|so that|in order to|to learn|to ask|to understand|to discuss|"
    r"to explore|to hear|to get (?:her|his|their|your) (?:advice|perspective|view)|"
    r"to follow up|to talk|to find out|to compare|to see whether|to see if|"
    r"I would like|I'd like|we would like|we'd like|I would love|I'd love|we would love|"
    r"I would value|I'd value|I would appreciate (?:his|her|their)|I want to|we want to|"
    r"wants? to|would like to|hoping to|I hope to|we hope to|keen to|eager to|"
    r"I am looking for|I'm looking for|we are looking for|we're looking for|looking to|"
    r"I am trying to|I'm trying to|we are trying to|applied|applying|apply for|"
    r"interested in|interest in|curious|advice|insights?|guidance|feedback|the reason|"
    r"my goal|our goal|my aim|our aim|the goal|purpose|I need|we need|need to|"
    r"mon objectif|notre objectif|dans le but|je cherche|nous cherchons|conseils?|"
    r"mein Ziel|unser Ziel|ich suche|wir suchen|Rat\b|planen|plane|Kooperation|Zusammenarbeit|"
    r"I want|we want|opinion|thoughts on|"
    r"mi objetivo|nuestro objetivo|busco|buscamos|estoy buscando|quiero|queremos|consejo|"
    r"evaluating|exploring|considering|planning to|we plan|I plan|"
    r"afin de|pour (?:lui|leur|en|mieux|comprendre|discuter|parler|savoir|conna[iî]tre|"
    r"apprendre|échanger|demander)|parce que|car |j'aimerais|je souhaite|je souhaiterais|"
    r"je voudrais|nous voudrions|nous souhaitons|j'aimerai|intéress\w+|comprendre|"
    r"um\s[^.?!]{1,80}\szu\s\w+|weil|da ich|da wir|ich möchte|wir möchten|ich würde gern|"
    r"würde gerne?|würden gerne?|interessiert|Interesse|beworben|bewerbe|erfahren|"
    r"para (?:\w+(?:ar|er|ir)(?:le|la|les|me|nos|lo)?)\b|porque|me gustaría|nos gustaría|"
    r"me encantaría|quisiera|quisiéramos|me interesa|nos interesa|interesad\w+|"
    r"aprender|conversar|colaborar|interview\w*|entrevista\w*|Vorstellungsgespräch\w*|"
    r"entretien|"
    r"vorrei|vorremmo|ci\s+piacerebbe|mi\s+piacerebbe|perché|perche|per\s+(?:capire|discutere|"
    r"parlare|proporre|valutare|imparare|sapere|conoscere|chiedere)|al\s+fine\s+di|cerchiamo|"
    r"stiamo|interessat\w+|consigli\w*|proporle|proporgli|"
    r"gostaria|gostaríamos|queremos|quero|procuramos|estamos|perceber|discutir|aprender|"
    r"interessad\w+|conselhos?|"
    r"omdat|willen|wil\s+graag|zou\s+graag|graag\s+(?:willen|leren|horen|bespreken)|om\s+te|"
    r"zoeken|op\s+zoek\s+naar|advies|leren|bespreken|"
    r"chcielibyśmy|chcielibysmy|chciałbym|chciałabym|chcemy|chcę|ponieważ|żeby|aby|w\s+celu|"
    r"porozmawiać|omówić|"
    r"vi\s+vill|jag\s+vill|skulle\s+vilja|eftersom|för\s+att|diskutera"
)
_REASON_CJK = r"(?:たい|ため|ので|について|ご意見|相談|伺い)"
# (?=\w): where a word starts, not at the end of each one too (every word opens with a letter)
_REASON_CUES = LazyPattern(
    r"\b(?=\w)(?:" + _by_first_letter(_REASON_WORDS) + r")\b|" + _REASON_CJK, re.I
)
_STRONG_CUES = LazyPattern(
    r"\b(?:because|since|so that|in order to|to learn|to ask|to understand|to discuss|"
    r"to explore|afin de|parce que|pour (?:lui|comprendre|discuter|apprendre)|"
    r"um\s[^.?!]{1,80}\szu\s\w+|weil|porque|para (?:\w+(?:ar|er|ir))\b|"
    r"as (?:we|I)(?:'re|'m|'ve)?\s+\w+|perché|perche|omdat|porque|ponieważ|eftersom|"
    r"för att|om te|per (?:capire|discutere)|para (?:perceber|aprender|discutir))|"
    r"[-–—:;]\s+(?:we|I|my|our)\b",
    re.I,
)
# a sentence that opens with thanks, or with the first word of a sign-off
_THANKS = LazyPattern(r"^\s*[¡¿]?(?:" + any_word(THANKS) + r"|cheers|best|regards)\b", re.I)


_GREETING_PREFIX = LazyPattern(
    r"^" + any_of(GREETINGS) + r"\s+[^\W\d_][\w'’-]*\s*[,:!\-–—]\s*(?=\w)", re.I
)


def _ask_sentence(parts: list[tuple[int, str]], ask_text: str) -> int | None:
    """The index of the sentence that holds the ask, None when there is none."""
    key = compact(ask_text)[:40] if ask_text else ""
    if not key:
        return None
    for i, (_, s) in enumerate(parts):
        if key in compact(s):
            return i
    return None


def _reason_priority(s: str, i: int, ask_at: int | None) -> int | None:
    """How good a reason sentence ``s`` (the ``i``-th) is: 0 a purpose after the ask,
    1 the purpose in the asking sentence, 2 a purpose before it; None when it is none
    (a greeting, thanks, a sign-off, small talk, or no words of purpose)."""
    if GREETING.match(s) and word_count(s) <= 6:
        return None
    if _THANKS.match(s) and not _STRONG_CUES.search(s):
        return None
    if is_sign_off(s) or word_count(s) < 3 or SMALL_TALK.match(s):
        return None
    if i == ask_at or _ANY_CUE.search(s):
        tail = s
        for c in _cues_in(s):
            m = c.search(s)
            if m:
                tail = s[m.end() :]
                break
        return 1 if _STRONG_CUES.search(tail) else None
    if not _REASON_CUES.search(s):
        return None
    return 0 if ask_at is not None and i > ask_at else 2


def find_reason(
    text: str,
    *,
    ask_span: tuple[int, int] | None = None,
    min_words: int = 5,
    third_person: bool = False,
) -> str | None:
    """The writer's stated purpose: one or two sentences of text; None when none is given.

    Phrases that announce a purpose come first; failing them, a plain statement of what the
    writer does or plans ("We are sourcing cathode precursors ...") is the why. An owner's
    note speaks of the requester in the third person: ``third_person`` lets it count.
    """
    parts = sentences(text)
    if not parts:
        return None
    ask_at = _ask_sentence(parts, text[ask_span[0] : ask_span[1]] if ask_span else "")
    scored = [
        (priority, i)
        for i, (_, s) in enumerate(parts)
        if (priority := _reason_priority(s, i, ask_at)) is not None
    ]
    if not scored:
        follow = _following_sentence(parts, ask_at)
        if follow is None:
            follow = _statement(parts, ask_at, third_person=third_person)
        if follow is None:
            return None
        scored.append((3, follow))
    scored.sort()
    chosen = [scored[0][1]]
    if len(scored) > 1:
        total = word_count(parts[scored[0][1]][1]) + word_count(parts[scored[1][1]][1])
        if total <= 70:
            chosen.append(scored[1][1])
    reason = " ".join(_GREETING_PREFIX.sub("", parts[i][1]) for i in sorted(chosen))
    if word_count(reason) < max(min_words, 1):
        return None
    return reason


# A sentence of small talk is never the reason, whatever words of purpose it holds.
SMALL_TALK = LazyPattern(
    r"^\W*(?:it\s+was\s+(?:a|such\s+a)\s+(?:pleasure|joy|treat|delight)|"
    r"it\s+was\s+(?:great|good|lovely|nice|wonderful|fantastic)\s+(?:to\s+)?"
    r"(?:talk|speak|meet|see|catch|chat)\w*|(?:great|good|lovely|nice|wonderful)\s+(?:to\s+)?"
    r"(?:talk|speak|meet|see|catch|chat)\w*|(?:I\s+)?hope\s+(?:you|this|all|the|your)\b|"
    r"(?:I\s+)?(?:really\s+)?enjoyed\s+(?:our|the|meeting|talking)|thanks?\s+(?:you\s+)?(?:for|again)\b|"
    r"c'(?:é|e)tait\s+un\s+(?:plaisir|bonheur)|ce\s+fut\s+un\s+plaisir|j'esp[èe]re\s+que|"
    r"ravie?\s+d'avoir|es\s+war\s+(?:schön|toll|nett|eine\s+freude)|es\s+hat\s+mich\s+gefreut|"
    r"ich\s+hoffe|fue\s+un\s+(?:placer|gusto)|espero\s+que|un\s+placer\s+(?:conocerte|hablar)|"
    r"(?:è|e')\s+stato\s+un\s+piacere|(?:è|e')\s+stato\s+bello|spero\s+che|"
    r"foi\s+um\s+(?:prazer|gosto)|espero\s+que|"
    r"het\s+was\s+(?:leuk|fijn|prettig|een\s+genoegen)|ik\s+hoop\s+dat|"
    r"miło\s+(?:było|mi)|mam\s+nadzieję|det\s+var\s+(?:trevligt|roligt|kul)|jag\s+hoppas|"
    r"(?:I'?m|I\s+am)\s+writing\s+to\s+ask\s+(?:you\s+)?(?:a|for\s+a)\s+(?:small\s+|quick\s+)?favou?r|"
    r"(?:le|te)\s+escribo\s+para\s+pedir(?:le|te)\s+un\s+favor|"
    r"je\s+(?:vous|t')\s*[ée]cris\s+pour\s+(?:vous|te)\s+demander\s+un\s+(?:petit\s+)?service|"
    r"ich\s+schreibe\s+(?:Ihnen|dir),?\s+um\s+(?:Sie|dich)\s+um\s+einen\s+Gefallen|"
    r"ti\s+scrivo\s+per\s+chiederti\s+un\s+favore|escrevo-?te\s+para\s+pedir\s+um\s+favor|"
    r"いつもお世話になっております|お世話になっております)",
    re.I,
)


_PLEASANTRY = LazyPattern(
    r"\b(?:appreciate|grateful|let me know|happy to|thank|thanks|favou?r|if (?:that|this|it) "
    r"works|no worries|no pressure|no rush|whenever|convenience|looking forward|hear from you|"
    r"have a (?:great|nice|good)|hope|cv|resume|résumé|attached|merci|danke|gracias|"
    r"n'hésitez|gerne|encantad)",
    re.I,
)
_FIRST_PERSON = LazyPattern(
    r"\b(?:I|I'm|I've|we|we're|we've|my|our|his|her|their|je|j'|nous|notre|mon|ma|ich|wir|"
    r"mein|meine|unser|unsere|yo|nosotros|mi|mis|nuestro|nuestra|su|sus|io|noi|nostro|nostra|"
    r"ik|wij|we|mijn|ons|onze|eu|nós|nosso|nossa|ja|my|nasz|nasza|jag|vi|vår|vårt|min)\b",
    re.I,
)


# How the writer knows the owner's contact, or small talk: context, not a reason.
_ACQUAINTANCE = LazyPattern(
    r"\b(?:you (?:know|knew|are connected|'re connected|worked|met|mentioned)|"
    r"connected (?:with|to)|we met|I met|(?:saw|see|noticed|notice) (?:that )?you|on linkedin|"
    r"hope (?:you|this|all)|how are you|long time|vous connaissez|tu connais|du kennst|"
    r"Sie kennen|conoces|conoce usted|enjoy(?:ed)?|our (?:chat|call|conversation|coffee|talk|"
    r"meeting|lunch)|(?:great|good|nice|lovely) (?:to|seeing|meeting|catching)|catch(?:ing)? up|"
    r"following (?:you|your))\b",
    re.I,
)
# A statement about the owner ("I have been following your posts") is not the why.
_SECOND_PERSON = LazyPattern(
    r"\b(?:you|your|yours|vous|votre|vos|tu|toi|ton|tes|dich|dir|dein\w*|Ihnen|kennst|weißt|"
    r"hast|bist|kannst|usted|tú|tus|contigo)\b",
    re.I,
)
_SOMEONE_ACTS = LazyPattern(
    r"\b(?:us|uns|nos|nous|nosotros|nosotras|estamos|somos|tenemos|queremos|buscamos|trabajamos)\b",
    re.I,
)


def _statement(
    parts: list[tuple[int, str]], ask_at: int | None, *, third_person: bool = False
) -> int | None:
    """A sentence stating what the writer does or plans, when no purpose phrase gives the why."""
    for i, (_, s) in enumerate(parts):
        s = _GREETING_PREFIX.sub("", s)
        if i == ask_at or s.rstrip().endswith(("?", "？")) or word_count(s) < 8:
            continue
        if GREETING.match(s) or _THANKS.match(s) or is_sign_off(s) or SMALL_TALK.match(s):
            continue
        if _PLEASANTRY.search(s) or _ACQUAINTANCE.search(s) or _SECOND_PERSON.search(s):
            continue
        if _ANY_CUE.search(s):
            continue
        if third_person or _FIRST_PERSON.search(s) or _SOMEONE_ACTS.search(s):
            return i
    return None


def _following_sentence(parts: list[tuple[int, str]], ask_at: int | None) -> int | None:
    """The sentence right after the ask, when it reads as the why ("His group is hiring...")."""
    if ask_at is None:
        ask_at = next((i for i, (_, s) in enumerate(parts) if _ANY_CUE.search(s)), None)
    if ask_at is None or ask_at + 1 >= len(parts):
        return None
    paragraph, sentence = parts[ask_at + 1]
    if paragraph != parts[ask_at][0] or sentence.rstrip().endswith("?"):
        return None
    if (
        word_count(sentence) < 6
        or _PLEASANTRY.search(sentence)
        or is_sign_off(sentence)
        or SMALL_TALK.match(sentence)
    ):
        return None
    return ask_at + 1 if _FIRST_PERSON.search(sentence) else None
