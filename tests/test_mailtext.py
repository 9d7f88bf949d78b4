"""Decoding received mail: headers, addresses, bodies and HTML."""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from introd.reading.mailtext import (
    address_list,
    body_text,
    first_address,
    header_text,
    html_to_text,
    parse_bytes,
)
from introd.model import Person
from introd.reading import mailtext
from helpers import assert_written

DATA = Path(__file__).parent / "data" / "forward"
SAMPLES = sorted(p.read_bytes() for p in DATA.glob("*.eml"))
MARKDOWN = re.compile(r"\*\*|\]\(|\\[-.+*_#`\\\[\]()!]|^#+ ", re.M)


def _mail(head: str, body: bytes = b"") -> EmailMessage:
    return parse_bytes(head.replace("\n", "\r\n").encode("ascii") + b"\r\n" + body)


def _multipart(ctype: str, *parts: str) -> EmailMessage:
    boundary = "BOUNDARY42"
    text = f"MIME-Version: 1.0\nContent-Type: {ctype}; boundary={boundary}\n\n"
    for part in parts:
        text += f"--{boundary}\n{part}\n"
    text += f"--{boundary}--\n"
    return parse_bytes(text.replace("\n", "\r\n").encode("utf-8"))


class TestParseBytes:
    @pytest.mark.parametrize("raw", [b"", b"\x00\xff" * 50, b"From: x\r\n\r\n", b"--\r\n" * 40])
    def test_any_bytes_give_a_message(self, raw: bytes) -> None:
        """Garbage, empty and truncated input all give an EmailMessage."""
        assert isinstance(parse_bytes(raw), EmailMessage)

    def test_non_bytes_give_an_empty_message(self) -> None:
        """A value that is not bytes gives an empty message rather than an error."""
        assert parse_bytes("not bytes").keys() == []  # type: ignore[arg-type]


def _stdlib_parse(raw: bytes) -> EmailMessage:
    parsed: EmailMessage = BytesParser(_class=EmailMessage, policy=mailtext._READING).parsebytes(
        raw
    )
    return parsed


def _shape(msg: EmailMessage) -> list[object]:
    """Everything the parse came to: each part's type, headers, payload, defects,
    preamble and epilogue."""
    return [
        (
            part.get_content_type(),
            part.items(),
            None if part.is_multipart() else part.get_payload(),
            [type(d).__name__ for d in part.defects],
            part.preamble,
            part.epilogue,
        )
        for part in msg.walk()
    ]


# boundaries as mail programs write them (RFC 2046 allows these characters), and as no
# standard allows: the pattern's special characters, backslashes, controls, non-ASCII
_BOUNDARY_CHARS = st.sampled_from(list("aZ09'()+_,-./:=? ") + list("\\$^*[]{}|#&~\t\x0b\x00é→"))
_ENDINGS = st.sampled_from(["\r\n", "\n", "\r"])


def _multipart_text(
    boundary: str, parts: list[str], eol: str, tails: list[str], nested: bool
) -> str:
    text = f'MIME-Version: 1.0{eol}Content-Type: multipart/mixed; boundary="{boundary}"{eol}'
    text += f"{eol}preamble{eol}"
    for i, part in enumerate(parts):
        text += f"--{boundary}{tails[i % len(tails)]}{eol}Content-Type: text/plain{eol}{eol}"
        text += part.replace("\n", eol) + eol
    if nested:
        inner = boundary[::-1] + "x"
        text += f'--{boundary}{eol}Content-Type: multipart/alternative; boundary="{inner}"'
        text += f"{eol}{eol}--{inner}{eol}{eol}inner{eol}--{inner}--{eol}"
    text += f"--{boundary}{tails[-1]}--{eol}epilogue{eol}"
    return text


class TestBoundaries:
    """The parser matches multipart boundaries without compiling a pattern for each:
    what it makes of a mail is what the standard library's parser makes of it."""

    @settings(max_examples=300, deadline=None)
    @given(
        boundary=st.text(_BOUNDARY_CHARS, min_size=1, max_size=30),
        parts=st.lists(
            st.text(st.sampled_from(list("ab -\n\t")), max_size=40), min_size=1, max_size=4
        ),
        eol=_ENDINGS,
        tails=st.lists(st.sampled_from(["", " ", "\t", " \t ", "--", "x", " --"]), min_size=1),
        nested=st.booleans(),
        crlf_body=st.booleans(),
    )
    def test_as_the_standard_parser(
        self,
        boundary: str,
        parts: list[str],
        eol: str,
        tails: list[str],
        nested: bool,
        crlf_body: bool,
    ) -> None:
        text = _multipart_text(boundary, parts, eol, tails, nested)
        raw = text.encode("utf-8", "surrogateescape")
        if crlf_body:
            raw = raw.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
        assert _shape(parse_bytes(raw)) == _shape(_stdlib_parse(raw))

    def test_samples_as_the_standard_parser(self) -> None:
        for raw in SAMPLES:
            assert _shape(parse_bytes(raw)) == _shape(_stdlib_parse(raw))

    def test_no_pattern_is_compiled_per_boundary(self) -> None:
        """This Python's parser still writes its boundary pattern the way _BoundaryRe
        recognises (if it did not, every boundary would be compiled again: correct, but
        slow), and a boundary of pattern characters is matched as plain text."""
        before = mailtext._BOUNDARY_RE.boundaries
        msg = _multipart("multipart/mixed", "\nfirst", "\nsecond")
        assert mailtext._BOUNDARY_RE.boundaries == before + 1
        assert [p.get_payload() for p in msg.iter_parts()] == ["first", "second"]
        raw = _multipart_text("a.b*c+(d)?[e]$^\\", ["one", "two"], "\r\n", [""], False)
        parsed = parse_bytes(raw.encode())
        assert mailtext._BOUNDARY_RE.boundaries == before + 2
        assert [p.get_payload() for p in parsed.iter_parts()] == ["one", "two"]
        # "a.b" is no wildcard: a line "--aXb" is no boundary
        raw = _multipart_text("a.b", ["x\n--aXb\ny"], "\r\n", [""], False)
        assert [p.get_payload() for p in parse_bytes(raw.encode()).iter_parts()] == [
            "x\r\n--aXb\r\ny"
        ]

    def test_other_patterns_are_compiled(self) -> None:
        """A pattern not of the boundary's shape is the re module's own."""
        assert mailtext._BOUNDARY_RE.compile("a+b").pattern == "a+b"
        forged = "(?P<sep>" + "a.b" + mailtext._BOUNDARY_TAIL  # not re.escape's output
        assert isinstance(mailtext._BOUNDARY_RE.compile(forged), re.Pattern)


class TestHeaderText:
    @pytest.mark.parametrize(
        ("head", "expected"),
        [
            ("Subject: =?UTF-8?Q?Caf=C3=A9_au_lait?=", "Café au lait"),
            (
                "Subject: =?ISO-8859-1?B?"
                + base64.b64encode("Grüße".encode("latin-1")).decode()
                + "?=",
                "Grüße",
            ),
            ("Subject: folded\n  over two lines", "folded over two lines"),
            ("Subject: =?utf-8?b?!!!?=", ""),
            ("Subject: =?x-unknown?q?plain?=", "plain"),
            ("X-Other: 1", ""),
        ],
    )
    def test_decodes_headers(self, head: str, expected: str) -> None:
        """RFC 2047 words are decoded, folding undone, absent headers are ""."""
        assert header_text(_mail(head), "Subject") == expected

    def test_removes_control_characters(self) -> None:
        """Control characters never survive into a header value."""
        msg = parse_bytes(b"Subject: a\x07b\x00c\x1bd\r\n\r\n")
        assert header_text(msg, "Subject") == "a b c d"

    @pytest.mark.parametrize("head", ["Message-ID: <<>>", "From: a@", "From: foo bar baz, <"])
    def test_headers_the_stdlib_refuses(self, head: str) -> None:
        """Headers whose parsing raises inside the email package still give text."""
        name = head.split(":")[0]
        assert header_text(_mail(head), name) == head.split(": ", 1)[1]

    def test_raw_eight_bit_header(self) -> None:
        """Raw UTF-8 bytes in a header come out as text, not as surrogates."""
        msg = parse_bytes("Subject: Grüße aus Köln\r\n\r\n".encode())
        assert header_text(msg, "Subject") == "Grüße aus Köln"


_ATEXT = "!#$%&'*+-/=?^_`{|}~" + "abcXYZ019"
_PLAIN_ATOM = st.text(alphabet=_ATEXT, min_size=1, max_size=6)
_PLAIN_DOTS = st.lists(_PLAIN_ATOM, min_size=1, max_size=3).map(".".join)


class TestMessageIdShortcut:
    """A plain Message-ID is handed out as it is: exactly what the email package's header
    object prints, so reading it gives the same text; any other goes to the email package."""

    @staticmethod
    def _both(value: str) -> tuple[str, str]:
        """(ours, the email package's) as printed, or the exception each raises."""
        from email import policy

        from introd.reading import mailtext

        out = []
        for reading in (mailtext._READING, policy.default):
            try:
                out.append(str(reading.header_fetch_parse("Message-ID", value)))
            except Exception as exc:  # the email package's own failures, on both sides
                out.append(f"raises {type(exc).__name__}")
        return out[0], out[1]

    @settings(max_examples=300, deadline=None)
    @given(left=_PLAIN_DOTS, right=_PLAIN_DOTS)
    def test_plain_ids_print_as_the_email_package_prints_them(self, left: str, right: str) -> None:
        from introd.reading import mailtext

        value = f"<{left}@{right}>"
        assert mailtext._PLAIN_MESSAGE_ID.fullmatch(value)
        ours, theirs = self._both(value)
        assert ours == theirs == value

    @pytest.mark.parametrize(
        "value",
        [
            "<a..b@c>",
            "<.a@c>",
            "<a.@c>",
            "<a@[1.2.3.4]>",
            '<"quoted"@c>',
            "<a@b> (comment)",
            " <a@b>",
            "<a b@c>",
            "<a@b>\r\n <c@d>",
            "<jürgen@c>",
            "<a=?utf-8?q?x?=@c>",
            "no brackets",
            "<a>",
            "",
        ],
    )
    def test_other_ids_go_to_the_email_package(self, value: str) -> None:
        from email.headerregistry import BaseHeader

        from introd.reading import mailtext

        plain = mailtext._PLAIN_MESSAGE_ID.fullmatch(value) is not None
        ours = mailtext._READING.header_fetch_parse("Message-ID", value)
        assert isinstance(ours, BaseHeader) != plain
        assert str(ours) == self._both(value)[1]

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=_ATEXT + '.@<>()[]" \t\\,;:é', max_size=20))
    def test_any_id_reads_the_same(self, value: str) -> None:
        ours, theirs = self._both(value)
        assert ours == theirs

    def test_header_classes_are_made_once(self) -> None:
        from email import policy

        from introd.reading import mailtext

        factory = mailtext._READING.header_factory
        assert factory["Date"] is factory["date"]
        assert factory["X-Anything"] is factory["x-anything"]
        for name, value in [
            ("Date", "Tue, 01 Dec 2026 11:00:00 +0000"),
            ("Date", "not a date"),
            ("Message-ID", "<a@b> junk"),
            ("To", "Ann <ann@x.example>, bo@y.example"),
        ]:
            ours = mailtext._READING.header_fetch_parse(name, value)
            theirs = policy.default.header_fetch_parse(name, value)
            assert str(ours) == str(theirs)
            assert type(ours).__mro__[1:] == type(theirs).__mro__[1:]


class TestAddresses:
    def test_decodes_names_and_lowercases(self) -> None:
        """Encoded display names are decoded; addresses are lower-cased."""
        msg = _mail("From: =?UTF-8?Q?Zo=C3=AB_=C3=85berg?= <Zoe.Aberg@Example.ORG>")
        assert first_address(msg, "From") == Person(name="Zoë Åberg", email="zoe.aberg@example.org")

    def test_lists_every_recipient(self) -> None:
        """All To addresses are returned, quoted names with commas kept whole."""
        msg = _mail('To: "Chan, Mei" <mei@y.example>, bo@x.example,\n Cy <CY@z.example>')
        assert address_list(msg, "To") == (
            Person(name="Chan, Mei", email="mei@y.example"),
            Person(name=None, email="bo@x.example"),
            Person(name="Cy", email="cy@z.example"),
        )

    @pytest.mark.parametrize("head", ["To: Undisclosed recipients:;", "X-Other: x", "To:"])
    def test_no_addresses(self, head: str) -> None:
        """Empty groups and absent headers give no people."""
        assert address_list(_mail(head), "To") == ()
        assert first_address(_mail(head), "To") is None

    @pytest.mark.parametrize(
        "head", ["From: foo bar baz, <", "From: a@", "From: <>", 'From: "\\"<a@b.c>']
    )
    def test_broken_addresses_never_raise(self, head: str) -> None:
        """Broken From headers give a tuple of people (maybe empty), never an error."""
        people = address_list(_mail(head), "From")
        assert all(isinstance(p, Person) for p in people)

    def test_raw_eight_bit_name(self) -> None:
        """A raw UTF-8 display name is decoded."""
        msg = parse_bytes("From: Jörg Ölmann <jo@x.example>\r\n\r\n".encode())
        assert first_address(msg, "From") == Person(name="Jörg Ölmann", email="jo@x.example")


def _full_parser(value: str) -> tuple[Person, ...]:
    """What the email package's own address parser makes of a From header."""
    from introd.reading import mailtext

    msg = _mail(f"From: {value}")
    return tuple(
        p
        for h in msg.get_all("From")
        for a in h.addresses
        if (p := mailtext._person(a.display_name, a.addr_spec)) is not None
    )


class TestPlainMailboxes:
    """The plain forms skip the full address parser; they must mean exactly what it says."""

    @pytest.mark.parametrize(
        "value",
        [
            '"Lisa Balbes" <lisa@bench.example>',
            "Lisa Balbes <Lisa@Bench.Example>",
            "<lisa@bench.example>",
            "lisa@bench.example",
            '"Walker, Tim" <tim@x.example>',
            "  Tim  O'Neil-Smith   <t.o+n@a-b.example.org> ",
            '"" <a@b.example>',
            '"(not a comment)" <a@b.example>',
        ],
    )
    def test_plain_forms_agree_with_the_full_parser(self, value: str) -> None:
        from introd.reading import mailtext

        assert mailtext._simple_mailbox(value) is not None
        assert address_list(_mail(f"From: {value}"), "From") == _full_parser(value)

    @pytest.mark.parametrize(
        "value",
        [
            # the parsing-differential trick of CVE-2023-27043, and other non-plain forms
            "alice@example.org)<bob@example.org>",
            "a@b.example, c@d.example",
            "Tim W. Walker <t@x.example>",
            "x <a@b>",
            "a..b@x.example <a@x.example>",
            "<a.@x.example>",
            '"q\\"x" <a@b.example>',
            "=?utf-8?q?Zo=C3=AB?= <z@x.example>",
            "Tim (work) <t@x.example>",
            "Group: a@b.example;",
            "<a@b.example> trailing",
        ],
    )
    def test_anything_else_goes_to_the_address_routine(self, value: str) -> None:
        """What the plain forms do not cover is read by introd.reading.addresses alone."""
        from introd.reading import addresses, mailtext

        assert mailtext._simple_mailbox(value) is None
        assert address_list(_mail(f"From: {value}"), "From") == addresses.parse_mailboxes(value)

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=st.sampled_from(list("aZ0 '\"-.@<>,()+_:;\\")), max_size=40))
    def test_never_disagree(self, value: str) -> None:
        from introd.reading import mailtext

        if mailtext._simple_mailbox(value) is not None:
            assert address_list(_mail(f"From: {value}"), "From") == _full_parser(value)


class TestBodyText:
    def test_prefers_plain_text(self) -> None:
        """In multipart/alternative the text/plain part wins."""
        msg = _multipart(
            "multipart/alternative",
            "Content-Type: text/plain; charset=utf-8\n\nplain words",
            "Content-Type: text/html; charset=utf-8\n\n<p>html words</p>",
        )
        assert body_text(msg) == "plain words"

    def test_empty_plain_falls_back_to_html(self) -> None:
        """An empty text/plain alternative gives way to the HTML one."""
        msg = _multipart(
            "multipart/alternative",
            "Content-Type: text/plain; charset=utf-8\n\n\n",
            "Content-Type: text/html; charset=utf-8\n\n<p>html words</p>",
        )
        assert body_text(msg) == "html words"

    def test_skips_attachments_and_attached_messages(self) -> None:
        """Attachments and message/rfc822 parts are not part of the text."""
        msg = _multipart(
            "multipart/mixed",
            "Content-Type: text/plain\n\nthe note",
            "Content-Type: text/plain\nContent-Disposition: attachment; filename=cv.txt\n\nCV TEXT",
            "Content-Type: application/pdf\n\n%PDF-1.4",
            "Content-Type: message/rfc822\n\nFrom: a@b.example\nSubject: s\n\nINNER TEXT",
        )
        assert body_text(msg) == "the note"

    def test_joins_inline_parts(self) -> None:
        """Inline text parts of multipart/mixed are joined in order."""
        msg = _multipart(
            "multipart/mixed",
            "Content-Type: text/plain\n\nfirst",
            "Content-Type: image/png\nContent-Disposition: inline\n\nPNG",
            "Content-Type: text/plain\n\nsecond",
        )
        assert body_text(msg) == "first\n\nsecond"

    @pytest.mark.parametrize(
        ("charset", "cte", "payload", "expected"),
        [
            (
                "windows-1252",
                "quoted-printable",
                b"it=92s =93fine=94 =96 caf=E9",
                "it’s “fine” – café",
            ),
            ("utf-8", "base64", base64.b64encode("Grüße, Zoë".encode()), "Grüße, Zoë"),
            ("iso-8859-1", "8bit", "Chère Hélène".encode("latin-1"), "Chère Hélène"),
            ("utf-8", "8bit", "Chère Hélène".encode("latin-1"), "Chère Hélène"),
            ("us-ascii", "8bit", "naïve".encode(), "naïve"),
            ("x-no-such-charset", "8bit", "naïve".encode(), "naïve"),
            ("utf-8", "8bit", b"a\x00b\x07c\r\nd\re", "abc\nd\ne"),
        ],
    )
    def test_decodes_transfer_encodings_and_charsets(
        self, charset: str, cte: str, payload: bytes, expected: str
    ) -> None:
        """QP, base64 and 8-bit bodies decode; wrong or unknown charsets fall back."""
        head = f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {cte}"
        assert body_text(_mail(head, payload)) == expected

    @pytest.mark.parametrize(
        ("params", "payload", "expected"),
        [
            (
                "format=flowed",
                b"one two \r\nthree\r\n\r\n -- stuffed\r\n",
                "one two three\n\n-- stuffed",
            ),
            ("format=flowed; delsp=yes", b"con \r\ncat\r\n", "concat"),
            ("format=flowed", b"> quoted \r\n> more\r\nplain\r\n", "> quoted more\nplain"),
            ("format=flowed", b"-- \r\nSig\r\n", "-- \nSig"),
            ("", b"one two \r\nthree\r\n", "one two \nthree"),
        ],
    )
    def test_format_flowed(self, params: str, payload: bytes, expected: str) -> None:
        """format=flowed soft breaks are joined and space-stuffing removed (RFC 3676)."""
        head = "Content-Type: text/plain; charset=utf-8" + (f"; {params}" if params else "")
        assert body_text(_mail(head, payload)).rstrip("\n") == expected

    def test_rfc822_part_itself_has_no_text(self) -> None:
        """body_text of a message/rfc822 part is empty: it does not descend."""
        msg = _multipart("multipart/mixed", "Content-Type: message/rfc822\n\nSubject: s\n\nINNER")
        attached = msg.get_payload()[0]  # type: ignore[index]
        assert body_text(attached) == ""
        assert body_text(attached.get_payload()[0]) == "INNER"


class TestHtmlToText:
    def test_line_structure(self) -> None:
        """<br>, <div> and <p> give line breaks; blank divs give blank lines."""
        html = "<div>one</div><div>two<br>three</div><div><br></div><p>four</p>"
        assert html_to_text(html) == "one\ntwo\nthree\n\nfour"

    def test_trailing_br_adds_no_line(self) -> None:
        """A <br> ending a block's text (Apple Mail) adds no empty line; <div><br></div> does."""
        html = (
            "<div><b>From: </b><span>Ann<br></span></div><div>Date: Mon<br></div>"
            "<div><br></div><div>x</div>"
        )
        assert html_to_text(html) == "From: Ann\nDate: Mon\n\nx"

    def test_quoted_blank_lines_collapse(self) -> None:
        """Inside a blockquote, empty lines do not pile up."""
        html = "<blockquote><div>a</div><div><br></div><div><br></div><div>b</div></blockquote>"
        assert html_to_text(html) == "> a\n>\n> b"

    def test_blockquote_is_quoted(self) -> None:
        """Blockquotes come out as "> " lines."""
        assert html_to_text("<p>said:</p><blockquote>a<br>b</blockquote>") == "said:\n> a\n> b"

    def test_no_markdown(self) -> None:
        """Links keep their text, emphasis has no markers, nothing is escaped."""
        html = (
            '<p><b>Bold</b> <i>it</i> <a href="https://x.example/a">the site</a></p>'
            "<p>- dash 1. dot + plus *star* _under_ [x](y) \\ back</p><h2>Title</h2>"
            '<img src="cid:logo" alt="logo">'
        )
        text = html_to_text(html)
        assert "Bold it the site" in text
        assert "- dash 1. dot + plus *star* _under_ [x](y) \\ back" in text
        assert "Title" in text and "https://" not in text and "logo" not in text
        assert "**" not in text and "](" not in text.replace("[x](y)", "")

    @pytest.mark.parametrize(
        ("html", "expected"),
        [
            ("<p>run <code>make</code> <s>not</s> <del>this</del></p>", "run make not this"),
            ("<pre>line one\nline two</pre>", "line one\nline two"),
            (
                "<table><tr><td>A</td><td>B</td></tr><tr><td>C</td><td>D</td></tr></table>",
                "A B\nC D",
            ),
            (
                '<table class="moz-email-headers-table"><tr><th>Subject: </th><td>Hi</td></tr>'
                "<tr><th>From: </th><td>Ann &lt;ann@a.example&gt;</td></tr></table>",
                "Subject: Hi\nFrom: Ann <ann@a.example>",
            ),
        ],
    )
    def test_code_strike_pre_tables_as_plain_lines(self, html: str, expected: str) -> None:
        """Code, strike-through, <pre> and tables give plain lines, no markdown."""
        assert html_to_text(html) == expected

    @pytest.mark.parametrize(
        ("html", "expected"),
        [
            ('<a href="mailto:ann@a.example">ann@a.example</a>', "ann@a.example"),
            ('<a href="mailto:ann@a.example">Ann Lee</a>', "Ann Lee <ann@a.example>"),
            ('<a href="mailto:ann@a.example?subject=hi"><b>Ann</b></a>', "Ann <ann@a.example>"),
        ],
    )
    def test_mailto_links_keep_the_address(self, html: str, expected: str) -> None:
        """A mailto link shows its address even when its text is a name."""
        assert html_to_text(html) == expected

    def test_outlook_word_html(self) -> None:
        """Word HTML gives one line per MsoNormal paragraph, no <o:p> or style text."""
        html = (
            "<html><head><style><!-- p.MsoNormal {margin:0in;} --></style></head><body>"
            '<div class=WordSection1><p class="MsoNormal">First line<o:p></o:p></p>'
            '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
            "<div style='border:none;border-top:solid #E1E1E1 1.0pt'>"
            '<p class="MsoNormal"><b>From:</b> Ann<br><b>Sent:</b> Monday<o:p></o:p></p></div>'
            '<p class="MsoNormal">Second line<o:p></o:p></p></div></body></html>'
        )
        assert html_to_text(html) == "First line\n\nFrom: Ann\nSent: Monday\nSecond line"

    def test_unclosed_mailto_links(self) -> None:
        """Thousands of unclosed mailto anchors convert without rescanning the rest."""
        assert "x" in html_to_text('<a href="mailto:a@b.example">x ' * 3000)

    def test_entities_and_nbsp(self) -> None:
        """Entities are decoded and non-breaking spaces become spaces."""
        assert (
            html_to_text("<p>R&amp;D&nbsp;team &lt;ok&gt; caf&eacute;</p>") == "R&D team <ok> café"
        )

    @pytest.mark.parametrize("sample", SAMPLES[:5])
    def test_fixture_html_has_no_markdown(self, sample: bytes) -> None:
        """HTML parts of the fixtures convert without markdown artefacts."""
        for part in parse_bytes(sample).walk():
            if part.get_content_type() == "text/html":
                assert MARKDOWN.search(body_text(part)) is None


class TestNeverRaises:
    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=3000))
    def test_random_bytes(self, raw: bytes) -> None:
        """Headers, addresses and body of any bytes are read without raising, and every
        address read is written in the mail."""
        msg = parse_bytes(raw)
        for name in ("From", "To", "Cc", "Reply-To", "Subject", "Message-ID"):
            assert isinstance(header_text(msg, name), str)
            _assert_written(address_list(msg, name), raw)
        assert isinstance(body_text(msg), str)

    @settings(max_examples=200, deadline=None)
    @given(st.sampled_from(SAMPLES), st.data())
    def test_mutated_fixtures(self, raw: bytes, data: st.DataObject) -> None:
        """Fixtures with bytes replaced never make the readers raise."""
        edits = data.draw(
            st.lists(
                st.tuples(st.integers(0, len(raw)), st.binary(min_size=1, max_size=6)), max_size=10
            )
        )
        mutated = bytearray(raw)
        for position, chunk in edits:
            mutated[position : position + len(chunk)] = chunk
        msg = parse_bytes(bytes(mutated))
        for name in ("From", "To", "Subject"):
            assert isinstance(header_text(msg, name), str)
            _assert_written(address_list(msg, name), bytes(mutated))
        text = body_text(msg)
        assert "\x00" not in text and "\r" not in text

    @settings(max_examples=200, deadline=None)
    @given(st.text(max_size=1500))
    def test_html_of_any_text(self, html: str) -> None:
        """html_to_text accepts any string."""
        assert isinstance(html_to_text(html), str)

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.sampled_from(
                [
                    "From",
                    "To",
                    "Subject",
                    ":",
                    " ",
                    "<",
                    ">",
                    '"',
                    "@",
                    "=?utf-8?q?",
                    "?=",
                    ",",
                    ";",
                    "\\",
                    "(",
                    ")",
                    "\r\n ",
                    "a",
                    "é",
                    "[",
                    "]",
                    "\x00",
                    "=?",
                    "b?",
                ]
            ),
            max_size=40,
        )
    )
    def test_header_soup(self, pieces: list[str]) -> None:
        """Headers built from the characters that break parsers never raise."""
        value = "".join(pieces)
        raw = f"From: {value}\r\nTo: {value}\r\nSubject: {value}\r\n\r\nbody".encode()
        msg = parse_bytes(raw)
        for name in ("From", "To", "Subject"):
            assert isinstance(header_text(msg, name), str)
            _assert_written(address_list(msg, name), raw)

    @pytest.mark.parametrize("raw", SAMPLES[:5])
    def test_fixture_addresses_pass_the_same_check(self, raw: bytes) -> None:
        """The fixtures' own From addresses pass the check above (it is not vacuous)."""
        people = address_list(parse_bytes(raw), "From")
        assert people and all(p.email for p in people)
        _assert_written(people, raw)


def _assert_written(people: tuple[Person, ...], raw: bytes) -> None:
    """Every address read from a mail is written in it (in any case)."""
    assert_written([p.email or "" for p in people], raw.decode("utf-8", "replace"))


class TestRemembered:
    def test_addresses_and_body_are_read_once_per_message(self) -> None:
        """Asking twice gives the same values; another message gets its own."""
        one = parse_bytes(b"From: Ana <ana@x.example>\r\nTo: b@y.example\r\n\r\nHello Ana\r\n")
        two = parse_bytes(b"From: Ben <ben@x.example>\r\n\r\nHello Ben\r\n")
        assert address_list(one, "From") is address_list(one, "from")
        assert address_list(two, "From")[0].email == "ben@x.example"
        assert body_text(one).strip() == "Hello Ana" and body_text(two).strip() == "Hello Ben"
