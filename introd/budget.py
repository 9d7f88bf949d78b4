"""The budget of one mail: how much of it introd reads, and for how long.

Anyone can write to the intro address, and a mail within an MTA's limits (a header
section under 100 kB) can still make a reader do quadratic work: CPython's header parser
(``email._header_value_parser``) takes seconds and hundreds of megabytes on an address
header of 20,000 comments or a Subject of 7,000 encoded words, and introd's own reading
is not linear on a request that is one 100 kB paragraph or on HTML nested 200,000 deep.
So every mail gets, in this order:

1. ``trim``: size caps before the email package sees the bytes: attachments (parts
   that are not text, message or multipart) keep only their headers, any other part at
   most ``MAX_PART_BYTES``, the mail at most ``MAX_MAIL_BYTES``; more than ``MAX_PARTS``
   parts or ``MAX_BOUNDARIES`` boundaries and the mail is not read. What is cut is data
   introd never reads; the mail on the server is not changed.
2. ``header_problem``: cheap linear counts over every header of every part, before any
   header is parsed: the length, the special characters the parser turns into tokens
   (comments, quoted strings, dots, brackets, commas ...), comment nesting, encoded
   words, words, the number of headers and of parts. Past a limit the mail is not read:
   it is quarantined with the reason (decision rule ``over_budget``).
3. caps in introd's own reading: ``MAX_LINE`` characters per line and ``MAX_TEXT`` in
   all of a mail's text,
   ``MAX_HTML`` characters of HTML, and HTML nested deeper than ``MAX_HTML_DEPTH`` or
   with more than ``MAX_HTML_TAGS`` tags is read with its tags stripped (linear) instead
   of by html2text.
4. ``Budget``: a time limit per mail (``TIME_LIMIT`` seconds of CPU time: a busy
   machine must not get a good mail quarantined; reading does no I/O, so on an idle
   machine that is wall-clock time too), checked at checkpoints with an injectable clock
   and, in the main thread, enforced between them by a CPU-time interval timer
   (ITIMER_PROF). A reading past the limit ends as ``OverBudget`` and the mail
   is quarantined. A mail still in hand after ``SLOW_AFTER`` is reported through
   ``on_slow`` so the daemon can note it in the state: if introd dies while reading it
   (the OOM killer, the watchdog), the restarted daemon quarantines it instead of reading
   it again.
"""

from __future__ import annotations

import contextvars
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import Message
from types import FrameType
from typing import Any

__all__ = [
    "Budget",
    "OverBudget",
    "checkpoint",
    "header_problem",
    "reading",
    "trim",
]

TIME_LIMIT = 1.0  # seconds of reading per mail
SLOW_AFTER = 0.25  # a mail still in hand after this is noted in the state
MAX_MAIL_BYTES = 1_000_000  # bytes of a mail handed to the email package
MAX_PART_BYTES = 256_000  # bytes of one MIME part (attachments keep only their headers)
MAX_PART_LINES = 4_000  # the email package's parser reads a line at a time
MAX_MAIL_LINES = 12_000
SMALL_MAIL = 32_000  # a mail this small is handed over as it is
MAX_BOUNDARIES = 100
MAX_TEXT = 12_000  # characters of text read from one mail (a letter is a few thousand)
MAX_LINE = 4_000  # characters of one line of text (one paragraph, in many clients)
MAX_HTML = 300_000  # characters of HTML converted to text
MAX_HTML_TAGS = 20_000
MAX_HTML_DEPTH = 200
# per header (the unfolded value), for every header of every part
MAX_HEADER_CHARS = 65_536
MAX_SPECIALS = 1_000  # parser tokens: ( ) < > @ , ; : \ " . [ ]
MAX_WORDS = 2_000
MAX_ENCODED_WORDS = 100
MAX_COMMENT_DEPTH = 10
# per mail
MAX_PARSED_SPECIALS = 4_000  # in all the headers the email package parses
MAX_PARSED_ENCODED_WORDS = 400
MAX_HEADERS = 1_000  # header fields of one part
MAX_PARTS = 1_000
MAX_DEPTH = 30  # MIME nesting

_SPECIALS = '()<>@,;:\\".[]'
# headers the email package parses into a tree when they are read (the rest are strings,
# unless they carry encoded words)
_PARSED = frozenset(
    name
    for name, cls in HeaderRegistry().registry.items()
    if not issubclass(cls, UnstructuredHeader)
)
_PARENS = re.compile(r"[()]")
_WORD = re.compile(r"\S+")


class OverBudget(BaseException):  # noqa: N818 - a signal, like KeyboardInterrupt
    """A mail's reading went past its budget.

    A BaseException on purpose, like asyncio's CancelledError: the reading code catches
    ``Exception`` everywhere to survive bad mail, and must not swallow this."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- 1. size caps on the bytes ----------------------------------------------------


_PART_HEAD_END = re.compile(rb"\r?\n\r?\n")
_PART_TYPE = re.compile(rb"(?im)^content-type:[ \t]*([a-z0-9.+-]+)/")
_BOUNDARY = re.compile(rb"(?i)boundary[ \t]*=")
_READ_TYPES = (b"text", b"message", b"multipart")


def _cut(segment: bytes, limit: int, lines: int = MAX_PART_LINES) -> bytes:
    """At most ``limit`` bytes and ``lines`` lines of ``segment``, cut at a line end."""
    if len(segment) > limit:
        cut = segment.rfind(b"\n", 0, limit)
        segment = segment[: cut + 1] if cut > 0 else segment[:limit] + b"\r\n"
    if segment.count(b"\n") > lines:
        pos = -1
        for _ in range(lines):
            pos = segment.find(b"\n", pos + 1)
        segment = segment[: pos + 1]
    return segment


def _trim_part(segment: bytes, part_limit: int) -> bytes:
    """One part (from its boundary line on): an attachment introd never reads (not text,
    message or multipart) keeps only its headers; any other part at most ``part_limit``."""
    head = _PART_HEAD_END.search(segment, 0, 16_384)
    if head is not None:
        kind = _PART_TYPE.search(segment, 0, head.start())
        if kind is not None and kind.group(1).lower() not in _READ_TYPES:
            return segment[: head.end()]
    return _cut(segment, part_limit)


def trim(
    raw: bytes, *, part_limit: int = MAX_PART_BYTES, mail_limit: int = MAX_MAIL_BYTES
) -> bytes:
    """The bytes of a mail as far as introd reads them, before the email package sees
    them. A part is the run of lines from one line that starts with ``--`` (a MIME
    boundary, whatever its string) to the next: attachments lose their body, other parts
    are cut to ``part_limit``, and the whole to ``mail_limit``, each at a line end.
    Raises OverBudget for more MIME parts or boundaries than are read. Linear; a small
    mail comes back unchanged."""
    if len(raw) <= SMALL_MAIL:
        return raw
    if raw.count(b"\n--") > 2 * MAX_PARTS:
        raise OverBudget(f"more than {MAX_PARTS} MIME parts")
    if len(_BOUNDARY.findall(raw)) > MAX_BOUNDARIES:
        raise OverBudget(f"more than {MAX_BOUNDARIES} MIME boundaries")
    out: list[bytes] = []
    total = 0
    pos = 0
    n = len(raw)
    while pos < n and total < mail_limit:
        nxt = raw.find(b"\n--", pos)
        end = n if nxt < 0 else nxt + 1
        segment = raw[pos:end]
        segment = _cut(segment, part_limit) if pos == 0 else _trim_part(segment, part_limit)
        out.append(segment)
        total += len(segment)
        pos = end
    return _cut(b"".join(out), mail_limit, MAX_MAIL_LINES)


# -- 2. the shapes the header parser is slow on -----------------------------------


def _comment_depth(value: str) -> int:
    depth = deepest = 0
    for paren in _PARENS.findall(value):
        if paren == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif depth:
            depth -= 1
    return deepest


def _value_problem(name: str, value: str) -> tuple[str | None, int, int]:
    """(what is wrong with one header, its specials, its encoded words)."""
    if len(value) > MAX_HEADER_CHARS:
        return f"header {name} has {len(value)} characters (limit {MAX_HEADER_CHARS})", 0, 0
    specials = sum(value.count(c) for c in _SPECIALS)
    if specials > MAX_SPECIALS:
        return (
            f"header {name} has {specials} special characters (limit {MAX_SPECIALS})",
            specials,
            0,
        )
    encoded = value.count("=?")
    if encoded > MAX_ENCODED_WORDS:
        return (
            f"header {name} has {encoded} encoded words (limit {MAX_ENCODED_WORDS})",
            specials,
            encoded,
        )
    if "(" in value and value.count("(") > MAX_COMMENT_DEPTH:
        depth = _comment_depth(value)
        if depth > MAX_COMMENT_DEPTH:
            return (
                f"header {name} nests comments {depth} deep (limit {MAX_COMMENT_DEPTH})",
                specials,
                encoded,
            )
    if len(value) > MAX_WORDS:  # at most len/2 words: count only when there can be many
        words = sum(1 for _ in _WORD.finditer(value))
        if words > MAX_WORDS:
            return f"header {name} has {words} words (limit {MAX_WORDS})", specials, encoded
    return None, specials, encoded


def _parts(msg: Message) -> Iterator[tuple[Message, int]]:
    """Every part with its depth, without parsing a header (iterative: no recursion)."""
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        yield part, depth
        if not part.is_multipart():
            continue
        # a multipart's get_payload() is its list of parts as it is: no header is read,
        # nothing decoded (a leaf's would look up Content-Transfer-Encoding)
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend((p, depth + 1) for p in reversed(payload) if isinstance(p, Message))


def header_problem(msg: Message) -> str | None:
    """Why the headers of this (parsed, not yet read) message are too costly to read, or
    None. Looks at the raw header values only: linear in the size of the headers."""
    parsed_specials = parsed_encoded = 0
    parts = 0
    for part, depth in _parts(msg):
        parts += 1
        if parts > MAX_PARTS:
            return f"more than {MAX_PARTS} MIME parts"
        if depth > MAX_DEPTH:
            return f"MIME parts nested more than {MAX_DEPTH} deep"
        headers: list[tuple[str, Any]] = getattr(part, "_headers", [])
        if len(headers) > MAX_HEADERS:
            return f"{len(headers)} header fields in one part (limit {MAX_HEADERS})"
        for name, value in headers:
            if not isinstance(value, str):
                value = str(value)
            problem, specials, encoded = _value_problem(name, value)
            if problem:
                return problem
            if str(name).lower() in _PARSED or encoded:
                parsed_specials += specials
                parsed_encoded += encoded
        if parsed_specials > MAX_PARSED_SPECIALS:
            return (
                f"{parsed_specials} special characters in parsed headers "
                f"(limit {MAX_PARSED_SPECIALS})"
            )
        if parsed_encoded > MAX_PARSED_ENCODED_WORDS:
            return f"{parsed_encoded} encoded words in headers (limit {MAX_PARSED_ENCODED_WORDS})"
    return None


# -- 4. the time limit --------------------------------------------------------------

Clock = Callable[[], float]


class Budget:
    """The time budget of reading one mail. ``checkpoint()`` raises OverBudget once
    ``limit`` seconds of ``clock`` have gone by, and calls ``on_slow`` once after
    ``slow_after``. Within ``reading()`` in the main thread a CPU-time interval timer enforces
    the same between checkpoints."""

    def __init__(
        self,
        *,
        limit: float = TIME_LIMIT,
        slow_after: float = SLOW_AFTER,
        clock: Clock = time.process_time,
        on_slow: Callable[[], None] | None = None,
    ) -> None:
        self.limit = limit
        self.slow_after = slow_after
        self.clock = clock
        self.on_slow = on_slow
        self.start = clock()
        self.slow = False
        self.checkpoints = 0
        self.stage = "start"

    def elapsed(self) -> float:
        return self.clock() - self.start

    def _note_slow(self) -> None:
        if not self.slow:
            self.slow = True
            if self.on_slow is not None:
                self.on_slow()

    def over(self, stage: str) -> OverBudget:
        return OverBudget(f"reading took more than {self.limit:g} s (in {stage})")

    def checkpoint(self, stage: str) -> None:
        self.checkpoints += 1
        self.stage = stage
        elapsed = self.elapsed()
        if elapsed >= self.slow_after:
            self._note_slow()
        if elapsed >= self.limit:
            raise self.over(stage)

    def on_alarm(self, signum: int, frame: FrameType | None) -> None:
        """The interval timer: first the slow mark, then the limit."""
        if not self.slow:
            self._note_slow()
            remaining = self.limit - self.slow_after
            if remaining > 0:
                signal.setitimer(signal.ITIMER_PROF, remaining)
                return
        raise self.over(self.stage)


_CURRENT: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "introd_budget", default=None
)


def checkpoint(stage: str) -> None:
    """Check the budget of the mail being read, if any (a no-op outside ``reading``)."""
    budget = _CURRENT.get()
    if budget is not None:
        budget.checkpoint(stage)


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def reading(budget: Budget, *, alarm: bool = True) -> Iterator[Budget]:
    """Run the reading of one mail under ``budget``: checkpoints see it, and (in the main
    thread, with ``alarm``, on the default clock) a CPU-time timer enforces it between
    them. Whatever signal is pending when the timer is stopped is ignored, never fatal."""
    token = _CURRENT.set(budget)
    armed = alarm and _can_alarm() and budget.clock is time.process_time
    previous: Any = None
    if armed:
        first = budget.slow_after if budget.slow_after < budget.limit else budget.limit
        previous = signal.signal(signal.SIGPROF, budget.on_alarm)
        signal.setitimer(signal.ITIMER_PROF, max(first - budget.elapsed(), 0.001))
    try:
        yield budget
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_PROF, 0)
            # SIGPROF's default action ends the process: a late tick must not
            signal.signal(signal.SIGPROF, previous if callable(previous) else signal.SIG_IGN)
        _CURRENT.reset(token)
