"""The HTML part derived from the text part: the same words, the structure a mail program
shows well, and no markup but the converter's own, whatever the text holds."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from introd.config import load_config
from introd.render import Templates
from introd.templates_check import situations
from introd.texthtml import text_to_html

ALLOWED_TAGS = {"p", "br", "blockquote", "ul", "ol", "li", "div", "a"}


class _Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.words += re.findall(r"\w+", data.lower())


def parse(markup: str) -> _Parsed:
    parsed = _Parsed()
    parsed.feed(markup)
    parsed.close()
    return parsed


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


# text made of the pieces that matter: markup, quotes, list markers, links, indentation
PIECES = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<b>",
        '"',
        "'",
        "&amp;",
        "&",
        ">",
        "> ",
        "    ",
        "  ",
        "\t",
        "- ",
        "* ",
        "1. ",
        "2) ",
        "\n",
        "\n\n",
        "https://x.example/a?b=1&c=<2>",
        "a@b.example",
        "javascript:alert(1)",
        "mailto:x@y.example",
        "word",
        "Ünïcödé",
        " ",
        ":",
        "?",
        "«",
        "»",
        "\r\n",
        "\u2028",
        'style="x"',
        "onclick=",
        "http://",
        "_a@b.example",
        "(http://q.example)",
    ]
)
TEXTS = st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=40).map("".join)


class TestNoInjection:
    @given(text=TEXTS, lang=st.sampled_from(["en", "fr"]))
    @settings(max_examples=400, deadline=None)
    def test_only_its_own_tags_and_the_same_words(self, text: str, lang: str) -> None:
        """Any text gives only the converter's tags, styles and links, and the HTML shows
        exactly the words of the text, in the same order."""
        parsed = parse(str(text_to_html(text, lang=lang)))
        for tag, attrs in parsed.tags:
            assert tag in ALLOWED_TAGS, tag
            assert set(attrs) <= {"style", "href"}, attrs
            href = attrs.get("href")
            if href is not None:
                assert tag == "a" and re.match(r"^(https?://|mailto:)[^\s\"<>]+$", href), href
        assert parsed.words == words(text)

    @given(
        style=st.dictionaries(st.sampled_from(["p", "quote", "link", "x"]), st.text(max_size=30))
    )
    def test_styles_from_the_layout_stay_in_their_attribute(self, style: dict[str, str]) -> None:
        """A style given by the layout cannot close its attribute or add markup."""
        parsed = parse(str(text_to_html("Hi a@b.example\n\n    quoted", style)))
        assert [tag for tag, _ in parsed.tags] == ["p", "a", "blockquote", "p"]
        assert parsed.words == ["hi", "a", "b", "example", "quoted"]


class TestStructure:
    def test_paragraphs_and_line_breaks(self) -> None:
        """Blank lines separate paragraphs; a line break inside one stays a line break."""
        out = str(text_to_html("Best,\nLisa\n\nP.S. hi"))
        assert out.count("<p") == 2 and "Best,<br>\nLisa" in out

    def test_indented_block_is_a_quote_with_its_paragraphs(self) -> None:
        """The requester's message, indented by four spaces, is one quoted block, blank lines
        and all."""
        out = str(text_to_html("Tim wrote:\n\n    Dear Lisa,\n\n    Could you?\n\nBest"))
        assert re.search(
            r"<blockquote[^>]*>\s*<p[^>]*>Dear Lisa,</p>\s*<p[^>]*>Could you\?"
            r"</p>\s*</blockquote>",
            out,
        ), out

    def test_mail_quote_marks_nest(self) -> None:
        """Lines starting with "> " are a quote; "> > " a quote within it."""
        out = str(text_to_html("> one\n>\n> > two\nafter"))
        assert out.count("<blockquote") == 2 and out.index("one") < out.index("two")
        assert out.rstrip().endswith("after</p>")

    def test_bullets_and_numbers(self) -> None:
        """ "- " lines are a list, with indented continuation lines; "1. " lines keep their
        number, which is what the owner answers with."""
        out = str(text_to_html("Pick:\n\n  - one\n    more\n  - two\n\n1. Sarah\n2. Sam"))
        assert re.search(r"<ul[^>]*>\s*<li[^>]*>one<br>\nmore</li>\s*<li[^>]*>two</li>", out)
        assert "<ol" in out and ">1. Sarah</li>" in out and ">2. Sam</li>" in out

    def test_aligned_lines_keep_their_columns(self) -> None:
        """Lines indented by two spaces (the digest's figures) keep their spacing."""
        out = str(text_to_html("  Received:   5\n  Declined:   1"))
        assert "white-space:pre-wrap" in out and "Received:   5\nDeclined:   1" in out

    @pytest.mark.parametrize(
        ("text", "href"),
        [
            ("see https://a.example/x_(y).", "https://a.example/x_(y)"),
            ("(https://a.example/q), then", "https://a.example/q"),
            ("write to tim@example.org.", "mailto:tim@example.org"),
            ("<tim@example.org>", "mailto:tim@example.org"),
        ],
    )
    def test_links(self, text: str, href: str) -> None:
        """Web and mail addresses become links, without the punctuation around them."""
        links = [a.get("href") for tag, a in parse(str(text_to_html(text))).tags if tag == "a"]
        assert links == [href]

    def test_french_spacing(self) -> None:
        """In French the space before ? : and inside « » cannot break."""
        out = str(text_to_html("Oui ? « oui » : bien", lang="fr"))
        assert "Oui\u00a0? «\u00a0oui\u00a0»\u00a0: bien" in out
        assert "\u00a0" not in str(text_to_html("Yes ? ok", lang="en"))


def write(tdir: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = tdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def expired_context(tmp: Path) -> dict[str, Any]:
    """The context the engine gives `expired`, from the sample situations."""
    (tmp / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "owner": {"name": "Lisa Balbes", "addresses": ["lisa@example.com"]},
                "auth": {"trusted_authserv_ids": ["mx.example.com"]},
                "contacts": [],
                "reply_address": "intros@example.com",
            }
        )
    )
    return situations(load_config(tmp / "config.yaml", need_servers=False), "expired")[0].context


class TestOverrides:
    def test_a_text_override_changes_both_parts(self, tmp_path: Path) -> None:
        """Editing NAME.txt.j2 alone changes the HTML part too."""
        write(tmp_path, {"expired.txt.j2": "Closed, sorry.\n\n    (a quote)\n"})
        mail = Templates(tmp_path).render("expired", expired_context(tmp_path))
        assert mail.html is not None and "Closed, sorry." in mail.html
        assert "<blockquote" in mail.html and "(a quote)" in mail.html

    def test_an_own_html_part_overrides_only_its_language(self, tmp_path: Path) -> None:
        """A top-level NAME.html.j2 is the English HTML part; a French mail still gets the
        HTML derived from its French text, so the two parts never differ in language."""
        write(tmp_path, {"expired.html.j2": "<p>Own English HTML</p>\n"})
        templates = Templates(tmp_path)
        english = templates.render("expired", expired_context(tmp_path))
        french = templates.render("expired", expired_context(tmp_path), language="fr")
        assert english.html == "<p>Own English HTML</p>\n"
        assert french.html is not None and 'lang="fr"' in french.html
        assert "Own English" not in french.html

    @pytest.mark.parametrize("empty", ["expired.html.j2", "layout.html.j2"])
    def test_an_empty_html_file_sends_text_only(self, tmp_path: Path, empty: str) -> None:
        """An empty NAME.html.j2 (one mail) or layout.html.j2 (every mail) turns HTML off."""
        write(tmp_path, {empty: ""})
        mail = Templates(tmp_path).render("expired", expired_context(tmp_path))
        assert mail.html is None and mail.text.strip()

    def test_the_layout_is_owner_editable(self, tmp_path: Path) -> None:
        """A layout in templates_dir sets the look of every mail; its styles reach the
        elements, still escaped."""
        write(
            tmp_path,
            {
                "layout.html.j2": '<div lang="{{ lang }}">{{ body({"p": "color:red\\"><x>"}) }}'
                "<p>Footer</p></div>\n"
            },
        )
        mail = Templates(tmp_path).render("expired", expired_context(tmp_path))
        assert mail.html is not None and mail.html.startswith('<div lang="en"><p style="color:')
        assert "&#34;&gt;&lt;x&gt;" in mail.html and "<x>" not in mail.html
        assert "<p>Footer</p>" in mail.html
