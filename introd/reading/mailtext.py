"""Reading received mail safely: bytes to message, headers, addresses and text.

Everything here is pure and forgiving: mail is hostile input, so a broken
header, a lying charset or a mangled MIME tree gives a safe value ("" or an
empty tuple), never an exception.
"""

from __future__ import annotations

import codecs
import functools
import re
from email import feedparser, policy
from email.header import decode_header, make_header
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, Message
from email.parser import BytesParser
from types import FunctionType
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    import html2text

from introd.patterns import LazyPattern
from introd import budget
from introd.reading.addresses import parse_mailboxes
from introd.model import Person

__all__ = [
    "address_list",
    "body_text",
    "first_address",
    "header_text",
    "html_to_text",
    "parse_bytes",
]

# C0/C1 controls except tab and newline, plus invisible format characters that
# break matching (BOM / zero-width no-break space, zero-width space and joiners)
_CONTROL = LazyPattern(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u200b\u200c\u200d\u2060]")
_HEADER_CONTROL = LazyPattern(r"[\x00-\x1f\x7f-\x9f\ufeff\u200b\u2060]")
_SPACES = LazyPattern(r"\s+")
_SURROGATES = LazyPattern("[\ud800-\udfff]")
_LINE_BREAK = LazyPattern(r"\r\n|\r|\n")  # what the email package unfolds on
_MAX_DEPTH = 20


# What was read from a message already, for as long as the message lives.
_ADDRESSES: WeakKeyDictionary[Message, dict[str, tuple[Person, ...]]] = WeakKeyDictionary()
_BODIES: WeakKeyDictionary[Message, str] = WeakKeyDictionary()


if TYPE_CHECKING:  # generic only in the type stubs
    _EmailPolicy = policy.EmailPolicy[EmailMessage]
else:
    _EmailPolicy = policy.EmailPolicy


class _ReadingPolicy(_EmailPolicy):
    """The modern policy, except that headers that need no parsing are handed out as plain
    unfolded strings: the MIME structure headers (the email package asks for Content-Type
    again and again while it walks a message, and parsing it into a header object each
    time cost more than everything else introd did with the mail; nothing here needs those
    objects), and unstructured headers (Subject, Authentication-Results, ...) in plain
    ASCII without encoded words, which the header classes would hand back unchanged.
    Address, date and Message-ID headers still get their header objects."""

    _RAW = frozenset({"content-type", "content-disposition", "content-transfer-encoding"})
    _STRUCTURED = frozenset(
        name
        for name, cls in HeaderRegistry().registry.items()
        if not issubclass(cls, UnstructuredHeader)
    )

    def header_fetch_parse(self, name: str, value: str) -> Any:
        """A header's value as reading needs it: plain unfolded text where that is all it is, else
        the email package's header object."""
        key = name.lower()
        if key in self._RAW:
            return " ".join(value.split())
        if key not in self._STRUCTURED and value.isascii() and "=?" not in value:
            return "".join(_LINE_BREAK.split(value))
        if key == "message-id" and _PLAIN_MESSAGE_ID.fullmatch(value):
            # what the header object would read and print: the id as it is
            return value
        return super().header_fetch_parse(name, value)


# A Message-ID in its plain form, <dot-atom-text@dot-atom-text> in printable ASCII: the
# email package parses it into tokens whose text is the value itself, and prints that.
_ID_ATOM = r"[!#$%&'*+\-/0-9=?A-Z^_`a-z{|}~]+"
_PLAIN_MESSAGE_ID = LazyPattern(rf"<{_ID_ATOM}(?:\.{_ID_ATOM})*@{_ID_ATOM}(?:\.{_ID_ATOM})*>")


class _HeaderClasses(HeaderRegistry):
    """The email package's header registry, but making each header's class once: it makes
    a new class for every header it parses, which cost as much as parsing a Date."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


_READING = _ReadingPolicy(header_factory=_HeaderClasses())


# For each multipart, email.feedparser compiles a pattern for its boundary line:
# "(?P<sep>" + re.escape("--" + boundary) + _BOUNDARY_TAIL. Every mail has boundaries of its
# own, so each is a new pattern for the re module to parse and compile (about as long as the
# rest of the mail's parsing). _Boundary matches the same lines without a pattern of its
# own: the separator as a prefix, then the fixed tail, compiled once.
_BOUNDARY_TAIL = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_TAIL = LazyPattern(_BOUNDARY_TAIL[1:])
_UNESCAPE = LazyPattern(r"\\(.)", re.S)


class _Boundary:
    """``re.compile("(?P<sep>" + re.escape(sep) + _BOUNDARY_TAIL)`` as the parser uses it:
    its ``match`` finds the same lines, with the same ``end`` and ``linesep`` groups."""

    __slots__ = ("sep",)

    def __init__(self, sep: str) -> None:
        self.sep = sep

    def match(self, line: str) -> re.Match[str] | None:
        return _TAIL.match(line, len(self.sep)) if line.startswith(self.sep) else None


class _BoundaryRe:
    """The ``re`` module as the feed parser's multipart reading sees it: a boundary
    pattern comes back as a _Boundary; any other pattern (another Python's parser may
    write it otherwise) is compiled as usual."""

    escape = staticmethod(re.escape)

    def __init__(self) -> None:
        self.boundaries = 0  # how many boundary patterns were not compiled

    def compile(self, pattern: str, flags: int = 0) -> re.Pattern[str] | _Boundary:
        if not flags and pattern.startswith("(?P<sep>") and pattern.endswith(_BOUNDARY_TAIL):
            escaped = pattern[len("(?P<sep>") : -len(_BOUNDARY_TAIL)]
            sep = _UNESCAPE.sub(r"\1", escaped)
            if re.escape(sep) == escaped:
                self.boundaries += 1
                return _Boundary(sep)
        return re.compile(pattern, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


_BOUNDARY_RE = _BoundaryRe()


class _FeedParser(feedparser.BytesFeedParser):
    """The standard library's parser, its multipart reading run with _BoundaryRe for
    ``re`` (the same code, with globals of its own: the email package is left as it is)."""

    _parsegen = FunctionType(
        feedparser.FeedParser._parsegen.__code__,  # type: ignore[attr-defined]
        {**vars(feedparser), "re": _BOUNDARY_RE},
        "_parsegen",
    )


def _parse(raw: bytes, policy: Any) -> EmailMessage:
    parser = _FeedParser(EmailMessage, policy=policy)
    parser.feed(raw)
    message: EmailMessage = parser.close()  # type: ignore[assignment]
    return message


def parse_bytes(raw: bytes) -> EmailMessage:
    """Parse raw mail bytes with the modern policy; never raises."""
    if not isinstance(raw, (bytes, bytearray)):
        return EmailMessage()
    try:
        return _parse(bytes(raw), _READING)
    except Exception:
        pass
    try:
        legacy = BytesParser(_class=EmailMessage, policy=policy.compat32).parsebytes(bytes(raw))
        return legacy  # type: ignore[return-value]
    except Exception:
        return EmailMessage()


def _unsurrogate(value: str) -> str:
    """Turn undecodable bytes the parser kept as surrogates back into text."""
    if _SURROGATES.search(value) is None:
        return value
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return _SURROGATES.sub("\ufffd", value)


def _clean_header(value: str) -> str:
    value = _HEADER_CONTROL.sub(" ", _unsurrogate(value))
    return _SPACES.sub(" ", value).strip()


def _decode_raw_header(raw: str) -> str:
    """Decode RFC 2047 words in a raw header value, tolerating garbage."""
    try:
        return str(make_header(decode_header(raw)))
    except Exception:
        return raw


def _raw_values(msg: Message, name: str) -> list[str]:
    """The undecoded values of every header called ``name``."""
    values: list[str] = []
    try:
        for key, value in msg.raw_items() if hasattr(msg, "raw_items") else msg.items():
            if key.lower() == name.lower():
                values.append(value if isinstance(value, str) else str(value))
    except Exception:
        return []
    return values


def header_text(msg: Message, name: str) -> str:
    """The first header ``name``, decoded and unfolded; "" when absent or unreadable."""
    try:
        value = msg.get(name)
        if value is None:
            return ""
        text = str(value)
        if "=?" in text:  # the lenient parser may leave encoded words
            text = _decode_raw_header(text)
        return _clean_header(text)
    except Exception:
        pass
    raw = _raw_values(msg, name)
    if not raw:
        return ""
    try:
        unfolded = re.sub(r"\r?\n[ \t]", " ", raw[0])
        return _clean_header(_decode_raw_header(unfolded))
    except Exception:
        return ""


def _person(name: str | None, addr: str | None) -> Person | None:
    name = _clean_header(name or "").strip("\"' ") or None
    addr = _clean_header(addr or "").strip("<> ").lower() or None
    if addr is not None and ("@" not in addr or " " in addr):
        if name is None:
            name = addr
        addr = None
    if name is None and addr is None:
        return None
    return Person(name=name, email=addr)


def address_list(msg: Message, name: str) -> tuple[Person, ...]:
    """Every address in the headers ``name`` (From, To, Cc, Reply-To); never raises.

    Remembered per message: reading one mail asks for the same headers many times, and
    the email package parses a structured header anew on every access.
    """
    try:
        memo = _ADDRESSES.setdefault(msg, {})
    except TypeError:
        return _address_list(msg, name)
    key = name.lower()
    if key not in memo:
        memo[key] = _address_list(msg, name)
    return memo[key]


# One mailbox in its plainest forms, where every parser agrees on what it means:
# "Name" <addr>, Name <addr> (letters, digits, spaces, ' and - only), <addr> or addr.
# Most headers are one of these; they skip the email package's full address parser, by
# far the costliest part of reading a mail's headers. Anything else (lists, comments,
# encoded words, escapes, odd characters, non-ASCII addresses) still goes through it, and
# so through the one address routine (introd.reading.addresses): this is a gate to a
# shortcut, ASCII only on purpose, not a second idea of what an address is.
_ATOM_ADDRESS = (
    r"[A-Za-z0-9][A-Za-z0-9._+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_SIMPLE_MAILBOX = LazyPattern(
    r'[ \t]*(?:(?:"(?P<quoted>[ !#-\[\]-~]*)"|(?P<plain>[A-Za-z0-9][A-Za-z0-9 \t\'-]*?))?'
    rf"[ \t]*<(?P<bracketed>{_ATOM_ADDRESS})>|(?P<bare>{_ATOM_ADDRESS}))[ \t]*"
)


def _simple_mailbox(raw: str) -> Person | None:
    """The one person of a header in a plain form (see _SIMPLE_MAILBOX), else None."""
    m = _SIMPLE_MAILBOX.fullmatch(raw)
    if m is None:
        return None
    addr = m["bracketed"] or m["bare"]
    if ".." in addr or addr.partition("@")[0].endswith("."):
        return None
    return _person(m["quoted"] if m["quoted"] is not None else m["plain"], addr)


def _address_list(msg: Message, name: str) -> tuple[Person, ...]:
    """The mailboxes of every header ``name``, read from the raw values by the one
    address routine (introd.reading.addresses): the address is the bracketed one or the
    addr-spec, never a display name or a comment."""
    raw = _raw_values(msg, name)
    # a folded header (CR/LF inside) never matches the plain forms
    simple = [_simple_mailbox(r) for r in raw]
    if simple and all(p is not None for p in simple):
        return tuple(p for p in simple if p is not None)
    people: list[Person] = []
    try:
        for value in raw:
            unfolded = _LINE_BREAK.sub(" ", _unsurrogate(value))
            people.extend(parse_mailboxes(unfolded))
    except Exception:
        return tuple(people)
    return tuple(people)


def first_address(msg: Message, name: str) -> Person | None:
    """The first address of header ``name``, or None."""
    people = address_list(msg, name)
    return people[0] if people else None


# -- bodies ---------------------------------------------------------------


def _clean_text(text: str) -> str:
    text = _unsurrogate(text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, then UTF-8, then cp1252 (lossy)."""
    tried: list[str] = []
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            codec = codecs.lookup(candidate.strip().strip("\"'")).name
        except (LookupError, ValueError):
            continue
        if codec in tried:
            continue
        tried.append(codec)
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, ValueError, TypeError):
            continue
    try:
        return data.decode("cp1252", errors="replace")
    except Exception:
        return data.decode("latin-1", errors="replace")


def _param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name, header="content-type")
        if isinstance(value, tuple):
            value = value[2]
        return str(value or "").lower()
    except Exception:
        return ""


def _unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed: join soft breaks, remove space-stuffing."""
    out: list[str] = []
    buffer: str | None = None
    buffer_depth = 0

    def flush() -> None:
        if buffer is not None:
            prefix = ">" * buffer_depth + (" " if buffer_depth and buffer else "")
            out.append(prefix + buffer)

    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        soft = content.endswith(" ") and content != "-- "
        if soft and delsp:
            content = content[:-1]
        if buffer is not None and depth == buffer_depth:
            buffer += content
        else:
            flush()
            buffer, buffer_depth = content, depth
        if not soft:
            flush()
            buffer = None
    flush()
    return "\n".join(out)


def _cap_lines(text: str) -> str:
    """Every line cut to budget.MAX_LINE characters (a paragraph is rarely a tenth of it)."""
    limit = budget.MAX_LINE
    if len(text) <= limit or max(map(len, text.split("\n"))) <= limit:
        return text
    return "\n".join(line[:limit] for line in text.split("\n"))


def _head_bytes(data: bytes, limit: int) -> bytes:
    """The first ``limit`` bytes or a little less, ending before a byte of a multi-byte
    UTF-8 sequence, so that a cut text still decodes with its charset."""
    if len(data) <= limit:
        return data
    cut = limit
    while cut > limit - 8 and data[cut] >= 0x80:
        cut -= 1
    return data[:cut]


def _leaf_text(part: Message) -> str:
    """The text of a single (non-multipart) text part."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        try:
            payload = part.get_payload()
            data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
        except Exception:
            data = b""
    if not isinstance(data, (bytes, bytearray)):
        return ""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    budget.checkpoint("decoding a part")
    if _content_type(part) == "text/html":
        html = _decode_bytes(_head_bytes(bytes(data), budget.MAX_HTML * 4), charset)
        return _cap_lines(html_to_text(_clean_text(html)[: budget.MAX_HTML]))[: budget.MAX_TEXT]
    # a letter is a few thousand characters: what lies past the caps is not read
    text = _clean_text(_decode_bytes(bytes(data), charset))
    text = _cap_lines(text)[: budget.MAX_TEXT]
    if _param(part, "format") == "flowed":
        text = _unflow(text, _param(part, "delsp") == "yes")
    return text


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def _is_attachment(part: Message) -> bool:
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:
        disposition = ""
    return disposition == "attachment"


def children(part: Message) -> list[Message]:
    """The sub-parts of a multipart (or message/rfc822) part; [] for a leaf or bad MIME."""
    try:
        payload = part.get_payload()
    except Exception:
        return []
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    return []


def _best_text(part: Message, depth: int) -> str:
    if depth > _MAX_DEPTH:
        return ""
    ctype = _content_type(part)
    if ctype == "message/rfc822" or ctype.startswith("message/"):
        return ""
    try:
        multipart = part.is_multipart()
    except Exception:
        multipart = False
    if not multipart:
        if ctype in ("text/plain", "text/html") or (
            ctype.startswith("text/") and ctype != "text/calendar"
        ):
            if ctype not in ("text/plain", "text/html") and ctype != "text/enriched":
                return ""
            return _leaf_text(part)
        return ""
    parts = [c for c in children(part) if not _is_attachment(c)]
    if ctype == "multipart/alternative":
        plain = [c for c in parts if _content_type(c) == "text/plain"]
        for child in plain:
            text = _best_text(child, depth + 1)
            if text.strip():
                return text
        others = [c for c in parts if _content_type(c) != "text/plain"]
        for child in reversed(others):
            text = _best_text(child, depth + 1)
            if text.strip():
                return text
        return ""
    texts: list[str] = []
    size = 0
    for child in parts:
        if size >= budget.MAX_TEXT:
            break
        text = _best_text(child, depth + 1)
        if text.strip():
            texts.append(text.strip("\n"))
            size += len(text)
    return "\n\n".join(texts)


def body_text(part: Message) -> str:
    """The best text of a message or part: text/plain preferred, else its HTML as text.

    Attachments and attached messages (message/rfc822) are skipped; never raises.
    """
    try:
        if part in _BODIES:
            return _BODIES[part]
    except TypeError:
        pass
    try:
        text = _best_text(part, 0)[: budget.MAX_TEXT]
    except Exception:
        return ""
    try:
        _BODIES[part] = text
    except TypeError:
        pass
    return text


# -- HTML -------------------------------------------------------------------


@functools.cache
def _plain_text_class() -> type[html2text.HTML2Text]:
    """html2text without markdown escapes; html2text is imported only for HTML mail."""
    import html2text

    class _PlainText(html2text.HTML2Text):
        def handle_data(self, data: str, entity_char: bool = False) -> None:
            """Text as it is, its entities already decoded."""
            super().handle_data(data, entity_char=True)

    return _PlainText


def __getattr__(name: str) -> Any:
    if name == "_PlainText":  # the converter class, made on first use
        return _plain_text_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_MAILTO = LazyPattern(
    r"<a\b[^>]*?href\s*=\s*[\"']?mailto:([^\"'>?\s]+)[^>]*>(.{0,2000}?)</a\s*>", re.I | re.S
)
_TAGS = LazyPattern(r"<[^>]*>")
_OPEN_TAGS = LazyPattern(r"<[^<>]*>")  # linear even when ">" never comes
_HEADINGS = LazyPattern(r"<(/?)h[1-6]\b", re.I)
_OFFICE_P = LazyPattern(r"</?o:p\s*>", re.I)
_COMMENTS = LazyPattern(r"<!--.*?-->", re.S)
# a <br> that ends a block's text adds no line in a browser: drop it
_TRAILING_BR = LazyPattern(
    r"([^>\s])((?:\s*</?(?:span|b|strong|i|em|font|a|u)\b[^>]*>)*)\s*<br\s*/?>"
    r"((?:\s*</(?:span|b|strong|i|em|font|a|u)\s*>)*)\s*(?=</(?:div|p|li|blockquote)\s*>)",
    re.I,
)
# markup html2text would turn into markdown (`code`, ~~struck~~)
_INLINE_MARKUP = LazyPattern(r"</?(?:code|tt|kbd|samp|s|strike|del)\b[^>]*>", re.I)
_CELL_END = LazyPattern(r"</t[dh]\s*>", re.I)
_PRE = LazyPattern(r"<pre\b[^>]*>(.*?)</pre\s*>", re.I | re.S)
_QUOTE_ONLY = LazyPattern(r"^[> ]*$")
_HEAD = LazyPattern(r"<head\b.*?</head\s*>", re.I | re.S)


def _mailto(match: re.Match[str]) -> str:
    address = match.group(1)
    inner = match.group(2)
    shown = _TAGS.sub("", inner).strip()
    if "@" in shown or not shown:
        return inner if shown else address
    return f"{inner} &lt;{address}&gt;"


def html_to_text(html: str) -> str:
    """Readable text from mail HTML: one line per paragraph, quotes as "> ".

    HTML past the budget (too deeply nested, too many tags, on which html2text is slow)
    is read with its tags stripped: linear, and still the words of the mail."""
    html = (html or "")[: budget.MAX_HTML]
    try:
        if _too_complex(html):
            return _stripped(html)
        return _html_to_text(html)
    except Exception:
        return _stripped(html)


def _stripped(html: str) -> str:
    html = _unclosed_comment_cut(_before_last(_COMMENTS, "", html, "-->"))
    return _clean_text(_SPACES.sub(" ", _OPEN_TAGS.sub(" ", html))).strip()


def _unclosed_comment_cut(html: str) -> str:
    """A comment never closed runs to the end, as in a browser (and Python's HTML parser
    would rescan the rest for each one)."""
    start = html.find("<!--")
    return html if start < 0 else html[:start]


def _before_last(pattern: LazyPattern, repl: Any, html: str, close: str) -> str:
    """``pattern.sub(repl, html)`` for a pattern that ends with ``close`` (a comment's end,
    an end tag): only up to the last ``close``, since no match can end after it. Linear
    where the plain sub is quadratic: a lazy match tried at each of thousands of
    openings that are never closed scans to the end of the text each time."""
    cut = html.lower().rfind(close)
    if cut < 0:
        return html
    end = html.find(">", cut + len(close) - 1)
    end = len(html) if end < 0 else end + 1
    return pattern.sub(repl, html[:end]) + html[end:]


_TAG = LazyPattern(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)[^<>]*?(/?)>")
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "p",
        "li",
        "td",
        "th",
        "tr",
        "option",
        "dt",
        "dd",
    }
)


def _too_complex(html: str) -> bool:
    """More tags, or deeper nesting, than html2text reads within the budget. Elements
    whose end tag HTML lets one leave out (p, li, td ...) do not count as nesting."""
    if html.count("<") <= 200:
        return False
    if html.count("<!") + html.count("<?") > 200:  # declarations: rescanned when unclosed
        return True
    depth = deepest = tags = 0
    for m in _TAG.finditer(html):
        tags += 1
        if tags > budget.MAX_HTML_TAGS:
            return True
        if m.group(3) or m.group(2).lower() in _VOID:
            continue
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > budget.MAX_HTML_DEPTH:
                    return True
    return False


def _html_to_text(html: str) -> str:
    html = _before_last(_HEAD, "", html, "</head")
    html = _unclosed_comment_cut(_before_last(_COMMENTS, "", html, "-->"))
    html = _OFFICE_P.sub("", html)
    html = _before_last(_MAILTO, _mailto, html, "</a")
    html = _TRAILING_BR.sub(r"\1\2\3", html)
    html = _HEADINGS.sub(r"<\1p", html)
    html = _INLINE_MARKUP.sub("", html)
    html = _CELL_END.sub(r" \g<0>", html)
    html = _before_last(
        _PRE, lambda m: "<div>" + m.group(1).replace("\n", "<br>") + "</div>", html, "</pre"
    )
    converter = _plain_text_class()(bodywidth=0)
    converter.ignore_links = True
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.single_line_break = True
    converter.unicode_snob = True
    converter.ul_item_mark = "-"
    converter.emphasis_mark = ""
    converter.strong_mark = ""
    text = converter.handle(html)
    lines: list[str] = []
    for line in _clean_text(text).split("\n"):
        line = line.replace("\xa0", " ").rstrip()
        if line.strip() in ("* * *", "---"):
            line = "-" * 20
        if _QUOTE_ONLY.match(line):
            line = line.replace(" ", "")
            # at most one empty line in a row, quoted or not
            if lines and lines[-1] == line:
                continue
        lines.append(line)
    return "\n".join(lines).strip("\n")
