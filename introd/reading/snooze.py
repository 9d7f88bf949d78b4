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

from introd.reading.words import (
    CLOSED_DOOR_PHRASES,
    MONTH_NAMES,
    MONTH_WORDS,
    NEXT_MONTH_PHRASES,
    NEXT_WEEK_PHRASES,
    NEXT_YEAR_PHRASES,
    NUMBER_WORDS,
    PUT_OFF_PHRASES,
    SNOOZE_AFTER_DAY,
    SNOOZE_IN,
    SNOOZE_MONTH_AFTER,
    SNOOZE_MONTH_MIDDLE,
    SNOOZE_MONTH_START,
    WEEK_WORDS,
    any_word,
)
from introd.patterns import LazyPattern

__all__ = ["MAX_SNOOZE", "WAKE_TIME", "snooze_until"]

# -- the reader ------------------------------------------------------------------------

# a snooze is never further away than this; further is read as no snooze (unclear)
MAX_SNOOZE = timedelta(days=366)
# the hour (UTC) of the day named at which the target is asked again
WAKE_TIME = time(9, 0, tzinfo=UTC)
# only the first lines of the answer say when
_MAX_READ = 600


def _phrase(words: tuple[str, ...]) -> LazyPattern:
    return LazyPattern(r"(?<![\w'-])" + any_word(words) + r"(?![\w'])", re.IGNORECASE)


_MONTH = any_word(list(MONTH_NAMES))
_NUMBER = r"(?:\d{1,2}|" + any_word(list(NUMBER_WORDS)) + ")"
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th|er|\.|º)?"
_PUT_OFF = _phrase(PUT_OFF_PHRASES)
_CLOSED = _phrase(CLOSED_DOOR_PHRASES)
_B, _E = r"(?<![\w'-])", r"(?![\w'])"
# a day and a month, either way round: "March 15", "15 March", "le 15 mars", "15. März",
# "15 de marzo"; with what comes before it ("after March 15")
_DAY_MONTH = LazyPattern(
    _B + r"(?:(?P<q1>" + any_word(SNOOZE_MONTH_AFTER + SNOOZE_MONTH_START) + r")\s+"
    r"(?:the\s+|le\s+|dem\s+|el\s+)?)?"
    r"(?:(?P<m1>" + _MONTH + r")\s+(?P<d1>" + _DAY + r")"
    r"|(?P<d2>" + _DAY + r")\s*(?:of\s+|de\s+)?(?P<m2>" + _MONTH + r"))" + _E,
    re.IGNORECASE,
)
_QUALIFIED_MONTH = LazyPattern(
    _B
    + r"(?P<q>"
    + any_word(SNOOZE_MONTH_AFTER + SNOOZE_MONTH_START + SNOOZE_MONTH_MIDDLE)
    + r")\s*"
    r"(?:the\s+|of\s+|de\s+|en\s+|le\s+|la\s+|el\s+)?(?:mois\s+d[e']\s*|(?:del\s+)?mes\s+de\s+)?"
    r"(?P<m>" + _MONTH + r")" + _E,
    re.IGNORECASE,
)
_IN_UNITS = LazyPattern(
    _B + any_word(SNOOZE_IN) + r"\s+(?P<n>" + _NUMBER + r")\s+"
    r"(?P<u>" + any_word(WEEK_WORDS + MONTH_WORDS) + ")" + _E,
    re.IGNORECASE,
)
_AFTER_DAY = LazyPattern(
    _B + any_word(SNOOZE_AFTER_DAY) + r"\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th|er|º)?\.?(?![\w'])"
    r"(?!\s*(?:of\s+|de\s+)?" + _MONTH + ")",
    re.IGNORECASE,
)
_NEXT_WEEK = _phrase(NEXT_WEEK_PHRASES)
_NEXT_MONTH = _phrase(NEXT_MONTH_PHRASES)
_NEXT_YEAR = _phrase(NEXT_YEAR_PHRASES)
_MONTH_AFTER = _phrase(SNOOZE_MONTH_AFTER)
_MONTH_MIDDLE = _phrase(SNOOZE_MONTH_MIDDLE)


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
        month = MONTH_NAMES[(m["m1"] or m["m2"]).lower()]
        day = int(re.sub(r"\D", "", m["d1"] or m["d2"]))
        after = bool(m["q1"] and _MONTH_AFTER.fullmatch(m["q1"]))
        found.append(_day_of(today, month, day, after))
        spans.append(m.span())
    for m in _QUALIFIED_MONTH.finditer(head):
        if any(a <= m.start("m") < b for a, b in spans):
            continue
        found.append(_month_day(today, MONTH_NAMES[m["m"].lower()], m["q"]))
    for m in _IN_UNITS.finditer(head):
        n = int(m["n"]) if m["n"].isdigit() else NUMBER_WORDS.get(" ".join(m["n"].lower().split()))
        if not n:
            found.append(None)
        elif m["u"].lower() in WEEK_WORDS:
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
