"""Finding the forwarded message inside an owner's mail.

An owner forwards a request inline (a separator line and a From/Date/Subject/To
block, in the mail client's UI language) or as an attached ``message/rfc822``.
:func:`find_forward` finds the forwarded message's sender, header values and
text, plus the owner's own note above it. The header labels, separators and client
footers it knows are the tables of :mod:`introd.reading.words`; addresses are found with
:data:`introd.reading.addresses.ADDRESS`. Pure: no I/O, never raises.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import NamedTuple
from email.message import Message

from introd.patterns import LazyPattern
from introd.reading.addresses import ADDRESS, parse_mailbox
from introd.reading.mailtext import body_text, first_address, header_text
from introd.reading.words import CLIENT_FOOTERS, FORWARD_MARKER_STEMS, HEADER_LABELS, any_of
from introd.model import Forward, Person

__all__ = ["find_forward", "nested_forward", "parse_person"]

MAX_DEPTH = 10

_FIELD_OF: dict[str, str] = {
    label: field for field, labels in HEADER_LABELS.items() for label in labels
}

_INVISIBLE = LazyPattern(r"[\ufeff\u200b\u200c\u200d\u2060\u00ad]")
_QUOTE_PREFIX = LazyPattern(r"^(?:[ \t]*>)+[ \t]?")
_BOLD_LABEL = LazyPattern(r"^\*{1,2}([^*:：\n]{1,40}?)\s*[:：]\s*\*{1,2}")
_BOLD_LABEL_INNER = LazyPattern(r"^\*{1,2}([^*:：\n]{1,40}?)\*{1,2}\s*[:：]")
_LABEL_LINE = LazyPattern(r"^([^\W\d_][^:：<>@\n]{0,38}?)\s*[:：]\s*(.*)$")
_MAX_VALUE = 1000
_RULE = LazyPattern(r"^[-_=~*]{5,}$")
_DASHED = LazyPattern(r"^([-=_~*]{2,})\s*([^-=_~*].*?)\s*([-=_~*]{2,})$")
_CLIENT_FOOTER = LazyPattern("^" + any_of(CLIENT_FOOTERS), re.I)
_ON_BEHALF = LazyPattern(
    r"\s+(on behalf of|im auftrag von|de la part de|en nombre de|namens)\s+.*$", re.I
)
_QUOTES = "\"'«»„“”‘’‚‹›"
# longest first, and in one order in every process: the pattern's text is the key of its
# kept code (see introd.patterns), and a set's order changes with each start's hash seed
_SPLIT_LABELS = sorted(
    {label for label in _FIELD_OF if len(label) > 1 or not label.isascii()},
    key=lambda label: (-len(label), label),
)
_INLINE_LABEL = LazyPattern(
    "(?:"
    + "|".join(re.escape(label[0].upper() + label[1:]) for label in _SPLIT_LABELS)
    + "|CC|BCC"
    # a one-letter label (Italian and Spanish "A:" for To) glued to the address before it
    + "|(?<=>)A)[ \u00a0]*[:：]"
)


class _Line(NamedTuple):
    """One line of a mail's text, read for a forward (a tuple: every line makes two)."""

    text: str  # normalised: no quote prefix, no bold label markers, stripped
    depth: int  # quote depth


@dataclass(frozen=True, slots=True, kw_only=True)
class _Block:
    start: int  # first line of the separator (or of the header block)
    header_start: int
    end: int  # one past the last header line
    fields: dict[str, str]
    marker: str
    depth: int


# -- people ----------------------------------------------------------------


_SPACE_RUN = LazyPattern(r"\s+")
_SPACES_AND_QUOTES = LazyPattern(r"[\s>]+")
_SHOWN_MAILTO = LazyPattern(
    r"(?<![^\s<>\[\]])([^\s<>\[\]@]++@[^\s<>\[\]]+?)\s*<mailto:([^>]*)>", re.I
)
_ANGLE_MAILTO = LazyPattern(r"<mailto:([^>]+)>", re.I)
_SQUARE_MAILTO = LazyPattern(r"\[mailto:([^\]]+)\]", re.I)
_ROUND_MAILTO = LazyPattern(r"\(mailto:([^)]+)\)", re.I)


def _clean_name(name: str) -> str | None:
    name = name.replace("*", " ")
    name = _SPACE_RUN.sub(" ", name).strip(" \t,;:<>()[]" + _QUOTES)
    name = name.strip()
    if not name or not any(ch.isalpha() for ch in name) or len(name) > 100:
        return None
    return name


def _unmailto(value: str) -> str:
    value = value[:_MAX_VALUE]
    # "addr<mailto:addr>" is one address shown with its link; a link to another address
    # is the address (the shown text is the display name)
    value = _SHOWN_MAILTO.sub(
        lambda m: (
            m.group(1)
            if m.group(1).lower() == m.group(2).strip().lower()
            else f"{m.group(1)} <{m.group(2)}>"
        ),
        value,
    )
    value = _ANGLE_MAILTO.sub(r"<\1>", value)
    value = _SQUARE_MAILTO.sub(r"<\1>", value)
    value = _ROUND_MAILTO.sub(r"<\1>", value)
    return value


def parse_person(value: str) -> Person | None:
    """A person from a forward header value: ``Name <addr>``, ``Name [mailto:addr]``,
    ``"Name" <addr>``, ``addr``, ``Name addr``, ``addr (Name)`` or just ``Name``."""
    try:
        return _parse_person(value)
    except Exception:
        return None


def _parse_person(value: str) -> Person | None:
    value = _INVISIBLE.sub("", value[:_MAX_VALUE]).replace("\u00a0", " ").strip()
    value = _ON_BEHALF.sub("", _unmailto(value))
    person = parse_mailbox(value)
    if person is None:
        return None
    name = _clean_name(person.name) if person.name else None
    if person.email is None:
        return Person(name=name, email=None) if name else None
    return Person(name=name, email=person.email)


# -- lines and header blocks -------------------------------------------------


def _normalise(raw: str) -> _Line:
    # every line of a mail comes here: the patterns run only where they can match
    # (invisible characters are not ASCII, a quote prefix holds ">", a bold label
    # starts with "*")
    line = raw
    if not line.isascii():
        line = _INVISIBLE.sub("", line).replace("\u00a0", " ").replace("\u3000", " ")
    depth = 0
    if ">" in line:
        prefix = _QUOTE_PREFIX.match(line)
        if prefix:
            depth = prefix.group(0).count(">")
            line = line[prefix.end() :]
    line = line.strip()
    if line.startswith("*"):
        line = _BOLD_LABEL.sub(r"\1:", line)
        line = _BOLD_LABEL_INNER.sub(r"\1:", line)
    return _Line(text=line, depth=depth)


def _split_inline_headers(text: str) -> list[str]:
    """Split a one-line header block (Yahoo) into one line per header."""
    # each label ends in its own colon: fewer than three colons, fewer than three labels
    if len(text) < 40 or text.count(":") + text.count("：") < 3:
        return [text]
    hits = list(_INLINE_LABEL.finditer(text))
    if len(hits) < 3:
        return [text]
    fields = [_field(text[h.start() : h.end()].rstrip(":： \u00a0")) for h in hits]
    if "from" not in fields:
        return [text]
    cuts = [h.start() for h in hits]
    first = text[: cuts[0]].strip()
    if first and not _is_marker(first):
        return [text]
    parts = [first] if first else []
    for begin, end in zip(cuts, [*cuts[1:], len(text)], strict=True):
        parts.append(text[begin:end].strip())
    return parts


_LABEL_ONLY = LazyPattern(r"^([^\W\d_][^:：<>@\n]{0,38}?)\s*[:：]$")


def _join_label_lines(raw: list[str], lines: list[_Line]) -> tuple[list[str], list[_Line]]:
    """Outlook's header table read as text puts each label above its value ("Sent:" /
    "Monday, April 14, 2025 11:20 AM"): join them, so the block reads as one."""
    if not any(_LABEL_ONLY.match(ln.text) for ln in lines):
        return raw, lines
    out_raw: list[str] = []
    out: list[_Line] = []
    i = 0
    while i < len(lines):
        label = _LABEL_ONLY.match(lines[i].text)
        if (
            label
            and _field(label.group(1)) is not None
            and i + 1 < len(lines)
            and lines[i + 1].text
            and _header(lines[i + 1].text) is None
            and not _LABEL_ONLY.match(lines[i + 1].text)
            and _is_label_table(lines, i)
        ):
            joined = f"{lines[i].text} {lines[i + 1].text}"
            out_raw.append(joined)
            out.append(_Line(text=joined, depth=lines[i].depth))
            i += 2
            continue
        out_raw.append(raw[i])
        out.append(lines[i])
        i += 1
    return out_raw, out


def _is_label_table(lines: list[_Line], i: int) -> bool:
    """Labels alone on every other line around ``i``: at least two of the next six lines."""
    window = lines[max(0, i - 6) : i + 7]
    labels = [ln for ln in window if (m := _LABEL_ONLY.match(ln.text)) and _field(m.group(1))]
    return len(labels) >= 3


def _field(label: str) -> str | None:
    label = unicodedata.normalize("NFC", label).replace("*", "").strip().lower()
    label = _SPACE_RUN.sub(" ", label)
    return _FIELD_OF.get(label)


def _header(line: str) -> tuple[str, str] | None:
    match = _LABEL_LINE.match(line)
    if match is None:
        return None
    field = _field(match.group(1))
    if field is None:
        return None
    return field, match.group(2).strip()


def _is_marker(text: str) -> bool:
    if _RULE.match(text):
        return True
    if _DASHED.match(text) and any(ch.isalpha() for ch in text):
        return True
    if len(text) > 80 or "@" in text:
        return False
    low = "".join(
        ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch)
    )
    return any(stem in low for stem in FORWARD_MARKER_STEMS)


def _find_block(lines: list[_Line], start: int = 0) -> _Block | None:
    """The first forward header block at or after line ``start``."""
    i = start
    n = len(lines)
    while i < n:
        head = _header(lines[i].text)
        if head is None:
            i += 1
            continue
        fields: dict[str, str] = {}
        j = i
        while j < n:
            parsed = _header(lines[j].text)
            if parsed is not None:
                field, value = parsed
                if field in fields and field != "cc":
                    break
                fields[field] = fields.get(field, "") + value
                j += 1
                continue
            # one blank line between header lines (HTML conversions)
            if not lines[j].text and j + 1 < n:
                following = _header(lines[j + 1].text)
                if following is not None and following[0] not in fields:
                    j += 1
                    continue
            # a wrapped address list continues the previous To/Cc line
            if (
                lines[j].text
                and j + 1 < n
                and "@" in lines[j].text
                and _header(lines[j + 1].text) is not None
            ):
                j += 1
                continue
            break
        marker_at = _marker_before(lines, i)
        if (
            "from" in fields
            and fields["from"].strip()
            and (
                len(fields.keys() & {"date", "subject", "to"}) >= 1
                and (len(fields) >= 3 or marker_at is not None)
            )
        ):
            begin = marker_at if marker_at is not None else i
            return _Block(
                start=begin,
                header_start=i,
                end=j,
                fields=fields,
                marker=lines[marker_at].text if marker_at is not None else "",
                depth=lines[i].depth,
            )
        i = max(j, i + 1)
    return None


def _marker_before(lines: list[_Line], index: int) -> int | None:
    k = index - 1
    blanks = 0
    while k >= 0 and not lines[k].text and blanks < 3:
        k -= 1
        blanks += 1
    if k >= 0 and lines[k].text and _is_marker(lines[k].text):
        return k
    return None


def _style(marker: str) -> str:
    """Which client wrote the separator, for logs and tests."""
    low = marker.lower()
    if any(word in low for word in ("original", "origine", "ursprüngliche")):
        return "original_message"
    dashed = _DASHED.match(marker)
    if dashed:
        width = min(len(dashed.group(1)), len(dashed.group(3)))
        return {8: "thunderbird", 7: "proton", 6: "proton", 5: "yahoo"}.get(
            width, "gmail" if width >= 9 else "forward"
        )
    if marker.endswith(":"):
        return "apple"
    return "outlook"  # a rule line, or the header block alone


# -- attribution lines ("On ... John <john@x> wrote:") ------------------------


_NOT_NAME = {"am", "pm", "on", "le", "el", "op", "il", "em", "den", "dne", "dnia", "d"}
_PARTICLES = {"de", "van", "von", "der", "den", "da", "di", "du", "la", "le", "del", "dos", "ter"}


def _attribution_name(before: str) -> str | None:
    before = before.rstrip(" <([\t")
    quoted = re.search(r"[\"«„“‘'‹]\s*([^\"«»„“”‘’'‹›]+?)\s*[\"»”“’'›]\s*$", before)
    if quoted:
        return _clean_name(quoted.group(1))
    words = before.split()
    taken: list[str] = []
    for word in reversed(words):
        bare = word.strip(",;")
        if word.endswith(",") and taken:
            break
        if not bare or any(ch.isdigit() for ch in bare) or bare.lower() in _NOT_NAME:
            break
        if bare[0].isupper():
            taken.append(bare)
        elif bare.lower() in _PARTICLES and taken:
            taken.append(bare)
        else:
            break
    while taken and taken[-1].lower() in _PARTICLES:
        taken.pop()
    return _clean_name(" ".join(reversed(taken))) if taken else None


def _find_attribution(lines: list[_Line]) -> tuple[int, int, Person] | None:
    """An attribution line ending in ':' and naming an address: (start, end, sender)."""
    for i, line in enumerate(lines):
        text = line.text
        candidates = [(text, i + 1)]
        if i + 1 < len(lines) and not text.endswith(":"):
            candidates.append((text + " " + lines[i + 1].text, i + 2))
        for joined, end in candidates:
            if not (joined.endswith(":") or joined.endswith("：")) or len(joined) > 300:
                continue
            if _header(joined) is not None:
                continue
            value = _unmailto(joined)
            match = ADDRESS.search(value)
            if match is None:
                continue
            if not any(lines[k].text for k in range(end, min(end + 3, len(lines)))):
                continue
            email = match.group(0).strip(".").lower()
            name = _attribution_name(value[: match.start()])
            return i, end, Person(name=name, email=email)
    return None


# -- putting it together -----------------------------------------------------


def _join(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n")


def _clean_note(text: str) -> str:
    """The owner's text without client footers ("Sent from my iPhone")."""
    raw = text.replace("\r\n", "\n").split("\n")
    return _note([_normalise(line) for line in raw], raw, len(raw))


def _note(lines: list[_Line], raw: list[str], upto: int) -> str:
    while upto > 0 and not lines[upto - 1].text:
        upto -= 1
    kept = []
    for k in range(upto):
        if _CLIENT_FOOTER.match(lines[k].text):
            continue
        kept.append(raw[k].rstrip())
    return _join(kept).strip()


def _dequote(raw: list[str], depth: int) -> list[str]:
    """Remove ``depth`` levels of "> " quoting (or one when most lines are quoted)."""
    if depth == 0:
        non_blank = [r for r in raw if r.strip()]
        quoted = [r for r in non_blank if r.lstrip().startswith(">")]
        if non_blank and len(quoted) >= 0.8 * len(non_blank):
            depth = 1
    if depth == 0:
        return raw
    out = []
    for line in raw:
        for _ in range(depth):
            stripped = line.lstrip(" \t")
            if stripped.startswith(">"):
                line = stripped[1:]
                if line.startswith(" "):
                    line = line[1:]
        out.append(line)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class _Inline:
    note: str
    sender: Person | None
    subject: str
    date: str
    body: str
    style: str

    def as_forward(self, *, note: str, depth: int) -> Forward:
        """This header block as the Forward it starts, under NOTE, DEPTH deep."""
        return Forward(
            note=note,
            sender=self.sender,
            subject=self.subject,
            date=self.date,
            body=self.body,
            style=self.style,
            depth=depth,
        )


# find_forward reads a forward's body for a forward inside it, and nested_forward reads the
# same body again: the last few answers are kept (an _Inline is immutable)
@lru_cache(maxsize=4)
def _inline(text: str, attribution: bool = True) -> _Inline | None:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    raw: list[str] = []
    lines: list[_Line] = []
    for original in text.split("\n"):
        line = _normalise(original)
        pieces = _split_inline_headers(line.text)
        for piece in pieces:
            raw.append(original if len(pieces) == 1 else piece)
            lines.append(_Line(text=piece, depth=line.depth))
    raw, lines = _join_label_lines(raw, lines)
    block = _find_block(lines)
    if block is not None:
        fields = block.fields
        body_raw = _dequote(raw[block.end :], block.depth)
        return _Inline(
            note=_note(lines, raw, block.start),
            sender=parse_person(fields.get("from", "")),
            subject=fields.get("subject", "").strip(),
            date=fields.get("date", "").strip(),
            body=_join(body_raw),
            style=_style(block.marker),
        )
    if not attribution:
        return None
    found = _find_attribution(lines)
    if found is None:
        return None
    start, end, sender = found
    body_raw = raw[end:]
    non_blank = [r for r in body_raw if r.strip()]
    if non_blank and all(r.startswith((" ", "\t")) for r in non_blank):
        body_raw = [r[4:] if r.startswith("    ") else r.lstrip() for r in body_raw]
    return _Inline(
        note=_note(lines, raw, start),
        sender=sender,
        subject="",
        date="",
        body=_join(_dequote(body_raw, 0)),
        style="attribution",
    )


def _is_empty_note(note: str) -> bool:
    return not _SPACES_AND_QUOTES.sub("", note)


def _rfc822_parts(msg: Message) -> list[Message]:
    """Attached messages of ``msg``, not looking inside attached messages."""
    found: list[Message] = []
    stack = [msg]
    seen = 0
    while stack and seen < 500:
        part = stack.pop(0)
        seen += 1
        try:
            ctype = part.get_content_type().lower()
        except Exception:
            continue
        if ctype == "message/rfc822" and part is not msg:
            try:
                payload = part.get_payload()
            except Exception:
                continue
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                found.append(inner)
            continue
        try:
            if part.is_multipart():
                payload = part.get_payload()
                if isinstance(payload, list):
                    stack.extend(p for p in payload if isinstance(p, Message))
        except Exception:
            continue
    return found


def _from_message(inner: Message, note: str, depth: int) -> Forward:
    """The forward an attached message stands for, following empty forwards inside it."""
    while depth < MAX_DEPTH:
        text = body_text(inner)
        attached = _rfc822_parts(inner)
        if attached and _is_empty_note(text):
            inner = attached[0]
            depth += 1
            continue
        nested = _inline(text, attribution=False)
        if nested is not None and _is_empty_note(nested.note):
            return _follow(nested, note, depth + 1)
        break
    return Forward(
        note=note,
        sender=first_address(inner, "From"),
        subject=header_text(inner, "Subject"),
        date=header_text(inner, "Date"),
        body=body_text(inner).strip("\n"),
        style="rfc822",
        depth=depth,
        attached=tuple(_rfc822_parts(inner)),
    )


def _follow(found: _Inline, note: str, depth: int) -> Forward:
    """Go down forwards of forwards that add no text of their own."""
    while depth < MAX_DEPTH:
        nested = _inline(found.body, attribution=False)
        if nested is None or not _is_empty_note(nested.note):
            break
        found = nested
        depth += 1
    return found.as_forward(note=note, depth=depth)


def find_forward(msg: Message) -> Forward | None:
    """The forwarded message in an owner's mail, or None when there is none.

    The sender is the original sender: of the first forward (inline or
    attached), going further down only through forwards that add no text of
    their own. ``note`` is what the owner wrote above the outermost forward.
    """
    try:
        return _find_forward(msg)
    except Exception:
        return None


def _find_forward(msg: Message) -> Forward | None:
    text = body_text(msg)
    attached = _rfc822_parts(msg)
    inline = _inline(text)
    if attached and (inline is None or inline.style == "attribution"):
        return _from_message(attached[0], _clean_note(text), 1)
    if inline is None:
        return None
    found = _follow(inline, inline.note, 1)
    if attached and found.depth == 1:
        # forwarded inline with the colleague's attachments kept: the request may be one
        found = replace(found, attached=tuple(attached))
    return found


def nested_forward(fwd: Forward) -> Forward | None:
    """A forward inside a forwarded message's text, with that message's own words as its note.

    ``find_forward`` stops at a forward that adds text of its own ("she is terrific, could
    you help her?"); whether the request is that text or the one below it is for the
    reader of the request to say.
    """
    try:
        found = _inline(fwd.body, attribution=False)
        if found is None and fwd.attached and fwd.depth < MAX_DEPTH:
            # a colleague's mail with the request attached to it
            return _from_message(fwd.attached[0], _clean_note(fwd.body), fwd.depth + 1)
    except Exception:
        return None
    if found is None or found.sender is None or not found.body.strip():
        return None
    return found.as_forward(note=found.note, depth=fwd.depth + 1)
