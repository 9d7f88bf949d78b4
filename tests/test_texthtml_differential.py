"""The text-to-HTML derivation built from plain strings gives, byte for byte, what the
``Markup.format`` construction it replaced gave (kept in tests/texthtml_reference.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

import texthtml_reference as reference
from introd.config import load_config
from introd.render import Templates
from introd.templates_check import situations
from introd.texthtml import DEFAULT_STYLE, text_to_html

# pieces a text part is made of: markers of every block kind, links, the characters
# escaping changes, the French signs, tabs and odd line ends
PIECES = [
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    " ",
    "    ",
    "\t",
    "  ",
    "> ",
    ">",
    " > > ",
    "- ",
    "* ",
    "• ",
    "1. ",
    "12) ",
    "٣. ",  # a digit of another script numbers a list too (\d matches it)
    "１) ",
    "word",
    "Ingrid Sørensen",
    "<b>",
    "&amp;",
    "'",
    '"',
    "`",
    "?",
    " !",
    " :",
    "« ",
    " »",
    ";",
    "https://example.org/a?b=1&c=<2>",
    "http://x.example/(a)",
    "https://",
    "(https://ex.example/p).",
    "ana@example.org",
    "x.y+z@mail.ex-ample.co.uk,",
    "@",
    "://",
    "%",
    ".",
]
LINES = st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=40).map("".join)
STYLES = st.none() | st.dictionaries(
    st.sampled_from([*DEFAULT_STYLE, "other"]), st.text(max_size=12) | st.integers(), max_size=4
)


def same(text: str, style: object = None, lang: str = "en") -> None:
    new = text_to_html(text, style, lang=lang)  # type: ignore[arg-type]
    old = reference.text_to_html(text, style, lang=lang)  # type: ignore[arg-type]
    assert isinstance(new, Markup)
    assert str(new) == str(old)


@given(text=LINES, style=STYLES, lang=st.sampled_from(["en", "fr", "FR-ca", "de"]))
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_same_bytes_as_the_markup_construction(text: str, style: object, lang: str) -> None:
    same(text, style, lang)


@given(text=st.text(max_size=200), lang=st.sampled_from(["en", "fr"]))
@settings(max_examples=500, deadline=None)
def test_same_bytes_on_any_text(text: str, lang: str) -> None:
    same(text, lang=lang)


def test_same_bytes_with_a_style_that_is_not_a_mapping() -> None:
    same("Hi a@b.example\n\n    quoted", ["p"])


@pytest.mark.parametrize("lang", ["en", "fr", "de", "es"])
def test_same_bytes_for_every_builtin_template(tmp_path: Path, lang: str) -> None:
    """Every text part the built-in templates render, in every situation of the check."""
    (tmp_path / "config.yaml").write_text(
        "owner: {name: Marguerite Okafor, addresses: [marguerite@okafor.example]}\n"
        "reply_address: intros@okafor.example\nauth: {require: false}\n"
    )
    cfg = load_config(tmp_path / "config.yaml", need_servers=False)
    templates = Templates(None)
    seen = 0
    for name in ("optin_requester", "optin_target", "introduction", "digest", "review"):
        for situation in situations(cfg, name):
            rendered = templates.render(name, situation.context, lang)
            same(rendered.text, lang=lang)
            seen += 1
    assert seen > 10


@pytest.mark.parametrize("line", ["٣. three", "１) one", "- x", "* y", "• z", " a", "\tb", "> c"])
def test_same_bytes_for_each_way_a_line_can_start(line: str) -> None:
    same(f"Hi,\n\n{line}\n{line}\n\nBye")
