"""compose_bytes writes outgoing mail itself, from the email package's header folding and
quoted-printable encoder. These tests hold its bytes equal to what the email package's own
generator writes for the same message built from its MIME classes, so the short cut can
never drift from the reference."""

from __future__ import annotations

import email
import email.charset
import email.policy
import email.quoprimime
import re
from datetime import UTC, datetime, timedelta, timezone
from email.headerregistry import Address
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from introd import render
from introd.model import Person
from introd.render import Rendered, compose_bytes

_QP = email.charset.Charset("utf-8")
_QP.body_encoding = email.charset.QP
_WIRE = email.policy.compat32.clone(linesep="\r\n")


def _reference(
    rendered: Rendered,
    *,
    sender: Address,
    to: list[Person],
    message_id: str,
    date: datetime,
    reply_to: str | None,
    in_reply_to: str | None,
    auto_submitted: bool,
    cc: list[Person],
    boundary: str,
) -> bytes:
    """The same mail built the plain way, with MIMEMultipart and the generator."""

    def part(text: str, subtype: str) -> MIMENonMultipart:
        p = MIMENonMultipart("text", subtype, charset="utf-8")
        p.set_payload(text, charset=_QP)
        return p

    msg: Message
    if rendered.html:
        msg = MIMEMultipart(
            "alternative",
            boundary=boundary,
            _subparts=[part(rendered.text, "plain"), part(rendered.html, "html")],
        )
    else:
        msg = part(rendered.text, "plain")
    msg["From"] = render._mailbox(sender)
    msg["To"] = ", ".join(render._mailbox(render.address_of(p)) for p in to)
    if cc:
        msg["Cc"] = ", ".join(render._mailbox(render.address_of(p)) for p in cc)
    msg["Subject"] = render._header(rendered.subject)
    msg["Date"] = email.utils.format_datetime(date)
    msg["Message-ID"] = message_id
    if reply_to:
        msg["Reply-To"] = reply_to
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    if auto_submitted:
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
    return msg.as_bytes(policy=_WIRE)


def _both(monkeypatch: pytest.MonkeyPatch, rendered: Rendered, **kw: object) -> tuple[bytes, bytes]:
    monkeypatch.setattr(render, "_boundary", lambda: "=_0123456789abcdef01234567")
    args = dict(
        sender=Address("Lisa Balbes", "lisa", "example.test"),
        to=[Person(name="Tim Walker", email="tim@example.test")],
        message_id="<i.ABC123.target.x@example.test>",
        date=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
        reply_to=None,
        in_reply_to=None,
        auto_submitted=True,
        cc=[],
    )
    args.update(kw)
    ours = compose_bytes(rendered, **args)  # type: ignore[arg-type]
    ref = _reference(rendered, boundary="=_0123456789abcdef01234567", **args)  # type: ignore[arg-type]
    return ours, ref


CASES = {
    "plain ascii": Rendered(name="x", subject="Intro?", text="Hi Tim,\n\nA line.\n", html=None),
    "text and html": Rendered(
        name="x", subject="Intro? [intro ABC123]", text="Hi\n", html="<p>Hi</p>\n<p>there</p>"
    ),
    "accents everywhere": Rendered(
        name="x",
        subject="Présentation à Zoë Müller",
        text="Bonjour Zoë,\n\nÇa va ? Voilà.\n",
        html="<p>Grüße — “quoted” ✓</p>",
    ),
    "long lines and dots": Rendered(
        name="x",
        subject="S" * 120,
        text=("word " * 40) + "\n.\n..leading dots\nFrom the start\ntrailing space \n"
        "tab\tend\t\n=equals=3D\n",
        html="<div>" + "x" * 300 + "</div>",
    ),
    "no final newline": Rendered(
        name="x", subject="s", text="no newline at the end", html="<p>no newline</p>"
    ),
    "blank lines": Rendered(
        name="x", subject="s", text="\n\n\nthree blank lines first\n\n", html="\n<p>\n</p>\n"
    ),
    "emoji": Rendered(name="x", subject="👋 hello", text="👋🏽 family: 👨‍👩‍👧\n", html=None),
}


class TestSameBytesAsTheGenerator:
    @pytest.mark.parametrize("case", sorted(CASES))
    def test_each_shape(self, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
        ours, ref = _both(monkeypatch, CASES[case])
        assert ours == ref

    def test_every_optional_header(self, monkeypatch: pytest.MonkeyPatch) -> None:
        ours, ref = _both(
            monkeypatch,
            CASES["text and html"],
            to=[
                Person(name="Zoë Müller", email="zoe@example.test"),
                Person(name='Walker, "Tim"', email="tim@example.test"),
            ],
            cc=[Person(name="Anja Becker", email="anja@example.test")],
            reply_to="intros+r.ABC123.x@example.test",
            in_reply_to="<prev@example.test>",
            auto_submitted=False,
            date=datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
        )
        assert ours == ref

    @settings(max_examples=300, deadline=None)
    @given(
        subject=st.text(
            st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=150
        ).filter(lambda s: render.clean_header(s) != ""),
        text=st.text(max_size=400),
        html=st.none() | st.text(min_size=1, max_size=400),
        name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60),
    )
    def test_any_text(self, subject: str, text: str, html: str | None, name: str) -> None:
        with pytest.MonkeyPatch.context() as mp:
            rendered = Rendered(
                name="x", subject=render.clean_header(subject), text=text, html=html
            )
            ours, ref = _both(mp, rendered, to=[Person(name=name, email="p@example.test")])
        assert ours == ref

    def test_parses_back_to_what_was_written(self) -> None:
        raw = compose_bytes(
            CASES["accents everywhere"],
            sender=Address("Lisa", "lisa", "example.test"),
            to=[Person(name="Zoë", email="zoe@example.test")],
            message_id="<m@example.test>",
            date=datetime.now(UTC),
        )
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert str(msg["Subject"]) == "Présentation à Zoë Müller"
        assert msg.get_content_type() == "multipart/alternative"
        plain, html = msg.iter_parts()  # type: ignore[attr-defined]
        # on the wire every line ends in CRLF, the parts' text included
        assert plain.get_content() == "Bonjour Zoë,\r\n\r\nÇa va ? Voilà.\r\n"
        assert html.get_content() == "<p>Grüße — “quoted” ✓</p>"
        assert all(len(line) <= 78 for line in raw.split(b"\r\n"))

    def test_boundaries_differ_and_never_occur_in_a_part(self) -> None:
        assert len({render._boundary() for _ in range(100)}) == 100
        raw = compose_bytes(
            Rendered(name="x", subject="s", text="=_ and --=_ inside\n", html="<p>=_</p>"),
            sender=Address("L", "lisa", "example.test"),
            to=[Person(name="T", email="t@example.test")],
            message_id="<m@example.test>",
            date=datetime.now(UTC),
        )
        boundary = raw.split(b'boundary="', 1)[1].split(b'"', 1)[0]
        assert raw.count(b"--" + boundary) == 3  # two parts and the close


# text that puts "=" escapes, white space and line ends of every kind where lines are cut
_QP_TEXT = st.lists(
    st.sampled_from(["a", " ", "\t", "=", "é", "\x00", "\x7f", "\r", "\n", "\r\n", "\x0b", "\x85"])
    | st.text(max_size=90),
    max_size=60,
).map("".join)


class TestQuotedPrintable:
    """render.quoted_printable against the email package's body encoder it stands for."""

    @staticmethod
    def _reference(text: str) -> bytes:
        encoded = email.quoprimime.body_encode(text.encode("utf-8").decode("latin-1"))
        return re.sub(r"\r\n|\r|\n", "\r\n", encoded).encode("ascii")

    @settings(max_examples=1000, deadline=None)
    @given(text=_QP_TEXT)
    def test_any_text(self, text: str) -> None:
        assert render.quoted_printable(text) == self._reference(text)

    @pytest.mark.parametrize("length", range(70, 160))
    @pytest.mark.parametrize("tail", ["", " ", "\t", "=", "x=", "é", " \n", "=\r\n"])
    def test_every_cut_near_the_line_limit(self, length: int, tail: str) -> None:
        for filler in ("x", "=", "x=", "xx=", "é"):
            text = (filler * length)[:length] + tail
            assert render.quoted_printable(text) == self._reference(text), (filler, text)

    @pytest.mark.parametrize(
        "text",
        [
            "Bonjour Zoé, à très bientôt = voilà\n" * 20,  # a few kinds of byte to escape
            "".join(chr(c) for c in range(0x80, 0x180)) * 3,  # many kinds: the table
            "".join(chr(c) for c in range(0x00, 0x100)) + "=\n=3D\t \n",
        ],
    )
    def test_each_way_of_escaping(self, text: str) -> None:
        assert render.quoted_printable(text) == self._reference(text)

    def test_empty(self) -> None:
        assert render.quoted_printable("") == b""


def test_an_equal_time_in_another_zone_keeps_its_own_date_header() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    there = at.astimezone(timezone(timedelta(hours=-5)))
    assert at == there
    assert render._date_header(at) == "Wed, 04 Mar 2026 05:06:07 +0000"
    assert render._date_header(there) == "Wed, 04 Mar 2026 00:06:07 -0500"
