"""The HTML part of a mail, derived from its text part.

The text part is what a template author writes; the HTML part says the same words with
the structure a mail program shows well: paragraphs, lists, quoted blocks (lines indented
by four spaces or starting with "> "), aligned lines (indented by one to three spaces, as
in a table of figures) and links. Every piece of text is escaped before it is wrapped in
markup, so nothing in the text (a requester's name, their message) can add markup: the
only tags in the result are the ones made here.

The styles of each kind of element come from the layout (``layout.html.j2``), which calls
``body(style)`` with a mapping of the keys in ``DEFAULT_STYLE``.

The markup is built as plain strings, every piece of text going through ``_escape``
(markupsafe's own escaping, character for character), and wrapped in ``Markup`` once at
the end: the same bytes ``Markup.format`` gives (a test holds them equal), at a fraction
of the cost, which counts as every mail sent has an HTML part.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from markupsafe import Markup

DEFAULT_STYLE: dict[str, str] = {
    "p": "margin:0 0 1em;",
    "quote": "margin:0 0 1em; padding:0 0 0 12px; border-left:3px solid #cccccc; color:#333333;",
    "list": "margin:0 0 1em; padding:0 0 0 1.5em;",
    "numbered": "margin:0 0 1em; padding:0 0 0 0.5em; list-style:none;",
    "item": "margin:0 0 0.25em;",
    "aligned": "margin:0 0 1em; white-space:pre-wrap; "
    "font-family:Menlo, Consolas, 'DejaVu Sans Mono', monospace; font-size:14px;",
    "link": "color:#1a56a8;",
}
MAX_DEPTH = 6  # quotes within quotes deeper than this are shown as plain lines

_BULLET = re.compile(r"^(?P<indent> {0,3})(?P<marker>[-*•])[ \t]+(?P<rest>\S.*)$")
_NUMBER = re.compile(r"^(?P<indent> {0,3})(?P<marker>\d{1,3}[.)])[ \t]+(?P<rest>\S.*)$")
_QUOTE_MARK = re.compile(r"^ {0,3}>")
_INDENTED = re.compile(r"^(?: {4}|\t)")
_ALIGNED = re.compile(r"^ {1,3}\S")
# a link starts and ends at a word boundary, so the words around it stay whole
_LINK = re.compile(
    r"(?<![\w.%+-])(?:(?P<url>https?://[^\s<>\"'`]+)"
    r"|(?P<mail>[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)(?![\w@]))"
)
# a space before ? ! ; : » or after «, outside tags (tags hold no such pattern: their
# attributes are quoted and escaped)
_FRENCH_SPACE = re.compile(r"(?<=«) | (?=[?!;:»](?:\s|$|<))")
_URL_TAIL = ".,;:!?)]}'\""


_QUOTE_PREFIX = re.compile(r"^ {0,3}> ?")


def _escape(text: str) -> str:
    """TEXT with & < > ' " escaped, as ``markupsafe.escape`` does it."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "'" in text:
        text = text.replace("'", "&#39;")
    if '"' in text:
        text = text.replace('"', "&#34;")
    return text


@dataclass(frozen=True, slots=True)
class _Styles:
    style: Mapping[str, str]
    french: bool = False
    _attrs: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def attr(self, key: str) -> str:
        found = self._attrs.get(key)
        if found is None:
            value = self.style.get(key, DEFAULT_STYLE.get(key, ""))
            found = self._attrs[key] = f' style="{_escape(value)}"' if value else ""
        return found


def text_to_html(
    text: str, style: Mapping[str, object] | None = None, *, lang: str = "en"
) -> Markup:
    """TEXT (a rendered text part) as HTML elements, every piece of it escaped.

    In French the space before ? ! : ; and inside « » becomes a no-break space, so a
    narrow screen never starts a line with the sign alone.
    """
    if not isinstance(style, Mapping):
        style = {}
    styles = _Styles(
        {**DEFAULT_STYLE, **{str(k): str(v) for k, v in style.items()}},
        french=lang.lower().startswith("fr"),
    )
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Markup(_blocks(lines, styles, 0))


# what a line that is not plain text starts with: every pattern below needs one of these,
# or a digit (of any script, as \d matches)
_MARKUP_STARTS = frozenset(" \t>-*•")


def _kind(line: str, depth: int) -> str:
    if not line.strip():
        return "blank"
    if line[0] not in _MARKUP_STARTS and not line[0].isdecimal():  # most lines: plain
        return "plain"
    if depth < MAX_DEPTH and (_QUOTE_MARK.match(line) or _INDENTED.match(line)):
        return "quote"
    if _BULLET.match(line):
        return "bullet"
    if _NUMBER.match(line):
        return "number"
    if _ALIGNED.match(line):
        return "aligned"
    return "plain"


def _blocks(lines: list[str], styles: _Styles, depth: int) -> str:
    kinds = [_kind(line, depth) for line in lines]
    out: list[str] = []
    i = 0
    while i < len(lines):
        kind = kinds[i]
        if kind == "blank":
            i += 1
        elif kind == "quote":
            i = _quote(lines, kinds, i, styles, depth, out)
        elif kind in ("bullet", "number"):
            i = _list(lines, i, kind, styles, out)
        else:
            j = i
            while j < len(lines) and kinds[j] == kind:
                j += 1
            if kind == "aligned":
                body = "\n".join(_inline(ln.rstrip(), styles) for ln in _dedent(lines[i:j]))
                out.append(f"<div{styles.attr('aligned')}>{body}</div>")
            else:
                out.append(f"<p{styles.attr('p')}>{_lines(lines[i:j], styles)}</p>")
            i = j
    return "\n".join(out)


def _lines(lines: list[str], styles: _Styles) -> str:
    return "<br>\n".join(_inline(ln.strip(), styles) for ln in lines)


def _quote(
    lines: list[str], kinds: list[str], i: int, styles: _Styles, depth: int, out: list[str]
) -> int:
    """One quoted block from line I: its lines, blank lines between them included."""
    marked = bool(_QUOTE_MARK.match(lines[i]))
    j, end = i, i
    while j < len(lines):
        kind = kinds[j]
        if kind == "quote" and bool(_QUOTE_MARK.match(lines[j])) == marked:
            end = j + 1
        elif kind != "blank":
            break
        j += 1
    block = lines[i:end]
    if marked:
        inner = [_QUOTE_PREFIX.sub("", ln, count=1) for ln in block]
    else:
        inner = _dedent(block)
    out.append(
        f"<blockquote{styles.attr('quote')}>\n{_blocks(inner, styles, depth + 1)}\n</blockquote>"
    )
    return end


def _dedent(block: list[str]) -> list[str]:
    expanded = [ln.expandtabs(4) for ln in block]
    cut = min(len(ln) - len(ln.lstrip(" ")) for ln in expanded if ln.strip())
    return [ln[cut:] for ln in expanded]


def _list(lines: list[str], i: int, kind: str, styles: _Styles, out: list[str]) -> int:
    """A list from line I: its items, each with the lines that continue it (indented
    further than its marker), blank lines between items included."""
    pattern = _BULLET if kind == "bullet" else _NUMBER
    items: list[list[str]] = []
    j = i
    while j < len(lines):
        found = pattern.match(lines[j])
        if found:
            marker = found["marker"]
            first = f"{marker} {found['rest']}" if kind == "number" else found["rest"]
            items.append([first])
            width = len(found["indent"]) + 1
            j += 1
            while (
                j < len(lines)
                and lines[j].strip()
                and not pattern.match(lines[j])
                and len(lines[j]) - len(lines[j].lstrip()) >= width
            ):
                items[-1].append(lines[j])
                j += 1
            continue
        if not lines[j].strip():
            k = j
            while k < len(lines) and not lines[k].strip():
                k += 1
            if k < len(lines) and pattern.match(lines[k]):
                j = k
                continue
        break
    tag = "ul" if kind == "bullet" else "ol"
    item = styles.attr("item")
    body = "\n".join(f"<li{item}>{_lines(lines, styles)}</li>" for lines in items)
    style = styles.attr("list" if kind == "bullet" else "numbered")
    out.append(f"<{tag}{style}>\n{body}\n</{tag}>")
    return j


def _inline(text: str, styles: _Styles) -> str:
    """One line: escaped, with web and mail addresses as links."""
    if "@" not in text and "://" not in text:  # no link can start: the common line
        joined = _escape(text)
    else:
        joined = _linked(text, styles)
    if styles.french:
        joined = _FRENCH_SPACE.sub("\u00a0", joined)
    return joined


def _linked(text: str, styles: _Styles) -> str:
    out: list[str] = []
    pos = 0
    for found in _LINK.finditer(text):
        start, end = found.span()
        target = found.group(0)
        if found["url"]:
            while target and target[-1] in _URL_TAIL and not _balanced(target):
                target = target[:-1]
            end = start + len(target)
            if len(target) <= len("https://"):
                continue
            href = target
        else:
            href = f"mailto:{target}"
        out.append(_escape(text[pos:start]))
        out.append(f'<a href="{_escape(href)}"{styles.attr("link")}>{_escape(target)}</a>')
        pos = end
    out.append(_escape(text[pos:]))
    return "".join(out)


def _balanced(url: str) -> bool:
    """A closing bracket that ends a URL belongs to it when the URL opened one."""
    pairs = {")": "(", "]": "[", "}": "{"}
    last = url[-1]
    return last in pairs and url.count(pairs[last]) >= url.count(last)
