"""Reading "not now, maybe in March" in a target's answer: the day to ask again.

``snooze_until`` finds, in the first lines of the new text of an answer, a phrase that
puts the answer off ("not now", "pas maintenant", "jetzt nicht", "ahora no", "ask me
again", ...) together with one time it names: a month ("in March", "en mars", "im März",
"en marzo"), a day of a month ("after March 15"), "in three weeks", "next month", "after
the 15th", "next year". It is conservative: no put-off phrase, no time, two different
times, a refusal that closes the door ("never", "don't ask me again"), a day that is not
in the future or more than twelve months away: None, and the answer reads as it always
did.

Everything here is pure and never raises on the text of a mail.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta

__all__ = ["MAX_SNOOZE", "WAKE_TIME", "snooze_until"]

# -- the words (en, fr, de, es) -----------------------------------------------------

MONTHS: dict[str, int] = {
    # en
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "sept": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    # fr
    "janvier": 1,
    "février": 2,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "août": 8,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "décembre": 12,
    "decembre": 12,
    # de
    "januar": 1,
    "jänner": 1,
    "februar": 2,
    "märz": 3,
    "maerz": 3,
    "juni": 6,
    "juli": 7,
    "oktober": 10,
    "dezember": 12,
    # es
    "enero": 1,
    "febrero": 2,
    "marzo": 3,
    "abril": 4,
    "mayo": 5,
    "junio": 6,
    "julio": 7,
    "agosto": 8,
    "septiembre": 9,
    "setiembre": 9,
    "octubre": 10,
    "noviembre": 11,
    "diciembre": 12,
}
# before a month: ask on its first day ("in March"), its middle, or the next month's first
MONTH_START = (
    "in",
    "until",
    "till",
    "from",
    "by",
    "around",
    "early",
    "beginning of",
    "start of",
    "not before",
    "en",
    "jusqu'en",
    "à partir de",
    "a partir de",
    "dès",
    "d'ici",
    "début",
    "courant",
    "pas avant",
    "im",
    "ab",
    "bis",
    "anfang",
    "nicht vor",
    "hasta",
    "para",
    "principios de",
    "no antes de",
)
MONTH_MIDDLE = ("mid", "mid-", "mi-", "mitte", "mediados de")
MONTH_AFTER = (
    "after",
    "end of",
    "late",
    "the end of",
    "après",
    "fin",
    "nach",
    "ende",
    "después de",
    "finales de",
    "fines de",
)
# the answer is put off: one of these must be there
PUT_OFF = (
    "not now",
    "not right now",
    "not just now",
    "not at the moment",
    "not at this time",
    "not this month",
    "not until",
    "not till",
    "not before",
    "not yet",
    "too busy",
    "swamped",
    "snowed under",
    "ask me again",
    "ask again",
    "try me again",
    "get back to me",
    "come back to me",
    "check back",
    "reach out again",
    "later",
    "maybe in",
    "perhaps in",
    "maybe after",
    "perhaps after",
    "maybe next",
    "perhaps next",
    "busy until",
    "away until",
    "out until",
    "on leave until",
    "pas maintenant",
    "pas tout de suite",
    "pas pour l'instant",
    "pas pour le moment",
    "pas en ce moment",
    "pas avant",
    "pas encore",
    "trop occupé",
    "trop occupée",
    "débordé",
    "débordée",
    "plus tard",
    "redemandez-moi",
    "redemande-moi",
    "recontactez-moi",
    "recontacte-moi",
    "revenez vers moi",
    "reviens vers moi",
    "peut-être en",
    "peut-être dans",
    "peut-être après",
    "peut-être à partir",
    "jetzt nicht",
    "nicht jetzt",
    "im moment nicht",
    "momentan nicht",
    "derzeit nicht",
    "gerade nicht",
    "zurzeit nicht",
    "nicht vor",
    "noch nicht",
    "erst ab",
    "erst im",
    "erst nach",
    "erst in",
    "später",
    "zu beschäftigt",
    "fragen sie mich",
    "frag mich",
    "melden sie sich",
    "meld dich",
    "vielleicht im",
    "vielleicht in",
    "vielleicht ab",
    "vielleicht nach",
    "ahora no",
    "no ahora",
    "ahora mismo no",
    "por ahora no",
    "de momento no",
    "en este momento no",
    "todavía no",
    "aún no",
    "no antes de",
    "no hasta",
    "más adelante",
    "más tarde",
    "muy ocupado",
    "muy ocupada",
    "pregúntame",
    "vuelve a escribirme",
    "escríbeme de nuevo",
    "quizás en",
    "quizá en",
    "tal vez en",
    "quizás dentro de",
    "tal vez dentro de",
    "quizás después de",
    "tal vez después de",
)
# a refusal that closes the door: never a snooze
CLOSED = (
    "never",
    "not interested",
    "don't ask",
    "do not ask",
    "don't contact",
    "do not contact",
    "no longer",
    "jamais",
    "pas intéressé",
    "pas intéressée",
    "ne me demandez pas",
    "ne me redemandez pas",
    "ne me recontactez pas",
    "nie",
    "niemals",
    "kein interesse",
    "nicht interessiert",
    "fragen sie mich nicht",
    "nunca",
    "no me interesa",
    "no estoy interesado",
    "no estoy interesada",
    "no me preguntes",
    "no me vuelvas",
)
NUMBERS: dict[str, int] = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "a couple of": 2,
    "couple of": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "sept": 7,
    "huit": 8,
    "neuf": 9,
    "dix": 10,
    "onze": 11,
    "douze": 12,
    "ein": 1,
    "eine": 1,
    "einem": 1,
    "einer": 1,
    "zwei": 2,
    "drei": 3,
    "vier": 4,
    "fünf": 5,
    "sechs": 6,
    "sieben": 7,
    "acht": 8,
    "neun": 9,
    "zehn": 10,
    "elf": 11,
    "zwölf": 12,
    "una": 1,
    "uno": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "once": 11,
    "doce": 12,
}
# "in N weeks": the word before the number, and the units
IN_TIME = ("in", "dans", "d'ici", "en", "dentro de")
WEEKS = ("week", "weeks", "semaine", "semaines", "woche", "wochen", "semana", "semanas")
MONTH_UNITS = ("month", "months", "mois", "monat", "monaten", "monate", "mes", "meses")
NEXT_WEEK = ("next week", "la semaine prochaine", "nächste woche", "la semana que viene",
             "la próxima semana", "la semana próxima")  # fmt: skip
NEXT_MONTH = ("next month", "le mois prochain", "nächsten monat", "nächster monat",
              "el mes que viene", "el próximo mes", "el mes próximo")  # fmt: skip
NEXT_YEAR = ("next year", "l'année prochaine", "l'an prochain", "nächstes jahr",
             "nächsten jahr", "im neuen jahr", "el año que viene", "el próximo año",
             "el año próximo")  # fmt: skip
# "after the 15th"
AFTER_DAY = ("after the", "après le", "nach dem", "después del")

# -- the reader ------------------------------------------------------------------------

# a snooze is never further away than this; further is read as no snooze (unclear)
MAX_SNOOZE = timedelta(days=366)
# the hour (UTC) of the day named at which the target is asked again
WAKE_TIME = time(9, 0, tzinfo=UTC)
# only the first lines of the answer say when
_MAX_READ = 600


def _alt(words: tuple[str, ...] | list[str]) -> str:
    spaced = sorted((re.escape(w.strip()).replace(r"\ ", r"\s+") for w in words), key=len)
    return "(?:" + "|".join(reversed(spaced)) + ")"


def _phrase(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'-])" + _alt(words) + r"(?![\w'])", re.IGNORECASE)


_MONTH = _alt(list(MONTHS))
_NUMBER = r"(?:\d{1,2}|" + _alt(list(NUMBERS)) + ")"
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th|er|\.|º)?"
_PUT_OFF = _phrase(PUT_OFF)
_CLOSED = _phrase(CLOSED)
_B, _E = r"(?<![\w'-])", r"(?![\w'])"
# a day and a month, either way round: "March 15", "15 March", "le 15 mars", "15. März",
# "15 de marzo"; with what comes before it ("after March 15")
_DAY_MONTH = re.compile(
    _B + r"(?:(?P<q1>" + _alt(MONTH_AFTER + MONTH_START) + r")\s+(?:the\s+|le\s+|dem\s+|el\s+)?)?"
    r"(?:(?P<m1>" + _MONTH + r")\s+(?P<d1>" + _DAY + r")"
    r"|(?P<d2>" + _DAY + r")\s*(?:of\s+|de\s+)?(?P<m2>" + _MONTH + r"))" + _E,
    re.IGNORECASE,
)
_QUALIFIED_MONTH = re.compile(
    _B + r"(?P<q>" + _alt(MONTH_AFTER + MONTH_START + MONTH_MIDDLE) + r")\s*"
    r"(?:the\s+|of\s+|de\s+|en\s+|le\s+|la\s+|el\s+)?(?:mois\s+d[e']\s*|(?:del\s+)?mes\s+de\s+)?"
    r"(?P<m>" + _MONTH + r")" + _E,
    re.IGNORECASE,
)
_IN_UNITS = re.compile(
    _B + _alt(IN_TIME) + r"\s+(?P<n>" + _NUMBER + r")\s+"
    r"(?P<u>" + _alt(WEEKS + MONTH_UNITS) + ")" + _E,
    re.IGNORECASE,
)
_AFTER_DAY = re.compile(
    _B + _alt(AFTER_DAY) + r"\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th|er|º)?\.?(?![\w'])"
    r"(?!\s*(?:of\s+|de\s+)?" + _MONTH + ")",
    re.IGNORECASE,
)
_NEXT_WEEK, _NEXT_MONTH, _NEXT_YEAR = (_phrase(w) for w in (NEXT_WEEK, NEXT_MONTH, NEXT_YEAR))
_MONTH_AFTER = _phrase(MONTH_AFTER)
_MONTH_MIDDLE = _phrase(MONTH_MIDDLE)


def snooze_until(text: str, now: datetime) -> datetime | None:
    """When to ask the target again, as read from the new text of their answer; None when
    the text does not put the answer off to one time in the next twelve months."""
    try:
        return _snooze_until(text, now)
    except Exception:
        return None


def _snooze_until(text: str, now: datetime) -> datetime | None:
    head = " ".join(ln for ln in (text or "").splitlines() if not ln.lstrip().startswith(">"))
    head = " ".join(head.replace("\u2019", "'").split())[:_MAX_READ]
    if not _PUT_OFF.search(head) or _CLOSED.search(head):
        return None
    today = now.astimezone(UTC).date()
    days = {d for d in _days(head, today) if d is not None}
    if len(days) != 1:
        return None
    (day,) = days
    if not today < day <= today + MAX_SNOOZE:
        return None
    return datetime.combine(day, WAKE_TIME)


def _days(head: str, today: date) -> list[date | None]:
    """Every time HEAD names, as the day to ask again (None for one that names no day)."""
    found: list[date | None] = []
    spans: list[tuple[int, int]] = []
    for m in _DAY_MONTH.finditer(head):
        month = MONTHS[(m["m1"] or m["m2"]).lower()]
        day = int(re.sub(r"\D", "", m["d1"] or m["d2"]))
        after = bool(m["q1"] and _MONTH_AFTER.fullmatch(m["q1"]))
        found.append(_day_of(today, month, day, after))
        spans.append(m.span())
    for m in _QUALIFIED_MONTH.finditer(head):
        if any(a <= m.start("m") < b for a, b in spans):
            continue
        found.append(_month_day(today, MONTHS[m["m"].lower()], m["q"]))
    for m in _IN_UNITS.finditer(head):
        n = int(m["n"]) if m["n"].isdigit() else NUMBERS.get(" ".join(m["n"].lower().split()))
        if not n:
            found.append(None)
        elif m["u"].lower() in WEEKS:
            found.append(today + timedelta(weeks=n))
        else:
            found.append(_add_months(today, n))
    for m in _AFTER_DAY.finditer(head):
        found.append(_after_day(today, int(m["d"])))
    if _NEXT_WEEK.search(head):
        found.append(today + timedelta(weeks=1))
    if _NEXT_MONTH.search(head):
        found.append(_add_months(today.replace(day=1), 1))
    if _NEXT_YEAR.search(head):
        found.append(date(today.year + 1, 1, 1))
    return found


def _month_day(today: date, month: int, qualifier: str) -> date | None:
    """The day a qualified month names: its first, its middle, or the next month's first.
    The month said in its own month is not read (this one, or next year's?)."""
    if _MONTH_AFTER.fullmatch(qualifier):
        if month == today.month:
            return _add_months(today.replace(day=1), 1)
        return _add_months(_next_month_start(today, month), 1)
    if month == today.month:
        return None
    first = _next_month_start(today, month)
    return first.replace(day=15) if _MONTH_MIDDLE.fullmatch(qualifier) else first


def _next_month_start(today: date, month: int) -> date:
    year = today.year if month > today.month else today.year + 1
    return date(year, month, 1)


def _day_of(today: date, month: int, day: int, after: bool) -> date | None:
    """MONTH DAY, this year or the next, whichever is to come (the day after, with AFTER)."""
    for year in (today.year, today.year + 1):
        if day < 1 or day > calendar.monthrange(year, month)[1]:
            return None
        found = date(year, month, day) + timedelta(days=1 if after else 0)
        if found > today:
            return found
    return None


def _after_day(today: date, day: int) -> date | None:
    """The day after the next DAY of a month ("after the 15th")."""
    if not 1 <= day <= 31:
        return None
    start = today.replace(day=1)
    for months in (0, 1, 2):
        first = _add_months(start, months)
        if day <= calendar.monthrange(first.year, first.month)[1]:
            found = first.replace(day=day) + timedelta(days=1)
            if found > today:
                return found
    return None


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
