"""Classifying incoming mail, and surviving bad mail: `read_mail` never raises."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from typing import get_args
from email.headerregistry import Address
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from introd.config import build_config
from introd.reading.people import ContactBook
from introd.engine import judge
from introd import budget
from introd import reading as reading_core
from introd.model import Kind, Person, Reading
from introd.reading import Context, mailtext, read_mail
from introd.render import Rendered, compose, compose_bytes
from world import AUTH_OK, OWNER, TIM_ASKS, forward

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    tmp = tmp_path_factory.mktemp("reading")
    cfg = build_config(
        {
            "owner": {"name": "Lisa Balbes", "addresses": [OWNER]},
            "reply_address": "intros@example.test",
            "auth": {"trusted_authserv_ids": ["mx.example.test"]},
        },
        path=tmp / "c.yaml",
        need_servers=False,
    )
    return Context(config=cfg, contacts=ContactBook([]), secret=b"s" * 32)


def mail(headers: dict[str, str], body: str = "Hello") -> bytes:
    msg = EmailMessage()
    for k, v in headers.items():
        msg[k] = v
    msg.set_content(body)
    return msg.as_bytes()


class TestKinds:
    def test_request_from_authenticated_owner(self, ctx: Context) -> None:
        """An owner's authenticated forward is a request."""
        r = read_mail(forward("Tim Walker", "tim@example.org", TIM_ASKS), ctx)
        assert (r.kind, r.from_owner, r.authenticated) == ("request", True, True)

    def test_forged_owner_is_unauthenticated(self, ctx: Context) -> None:
        """The owner's From without a trusted Authentication-Results is not authenticated."""
        r = read_mail(forward("Tim Walker", "tim@example.org", TIM_ASKS, auth=None), ctx)
        d = judge(r, config=ctx.config, contacts=ctx.contacts, store=None, now=NOW)
        assert (d.action, d.rule) == ("ignore", "unauthenticated")

    def test_auto_reply_with_token_is_still_auto_reply(self, ctx: Context) -> None:
        """An out-of-office to a token address is an auto_reply, never an answer."""
        raw = mail(
            {
                "From": "bob@example.org",
                "To": "intros+k7f3q2tabcdefghijklmnopqrst@example.test",
                "Subject": "Automatic reply: Introduction [intro K7F3Q2]",
                "Auto-Submitted": "auto-replied",
                "Message-ID": "<a@b>",
            },
            "I am out of the office until Monday.",
        )
        r = read_mail(raw, ctx)
        assert r.kind == "auto_reply"
        d = judge(r, config=ctx.config, contacts=ctx.contacts, store=None, now=NOW)
        assert d.action == "ignore"

    def test_mail_from_the_intro_address_is_never_handled(self, ctx: Context) -> None:
        """Mail from the intro address itself (a loop) is set aside."""
        raw = mail(
            {
                "From": "intros@example.test",
                "To": "intros@example.test",
                "Subject": "Re: [intro K7F3Q2]",
                "Message-ID": "<c@d>",
            },
            "yes",
        )
        r = read_mail(raw, ctx)
        assert r.kind == "unknown"

    def test_subject_tag_alone_proves_nothing(self, ctx: Context) -> None:
        """A reply naming the intro only in its subject is a reply, ignored (no_reference)."""
        raw = mail(
            {
                "From": "bob@example.org",
                "To": "intros@example.test",
                "Subject": "Re: Introduction [intro K7F3Q2]",
                "Message-ID": "<e@f>",
            },
            "Yes!",
        )
        r = read_mail(raw, ctx)
        assert r.kind == "reply" and r.answer is not None and r.answer.intro_id == "K7F3Q2"
        d = judge(r, config=ctx.config, contacts=ctx.contacts, store=None, now=NOW)
        assert (d.action, d.rule) == ("ignore", "no_reference")

    def test_owner_status_command(self, ctx: Context) -> None:
        """`status` on the first line from the owner is an owner command."""
        raw = mail(
            {
                "From": OWNER,
                "To": "intros@example.test",
                "Subject": "status",
                "Message-ID": "<g@h>",
            },
            "status",
        )
        raw = AUTH_OK.encode() + b"\r\n" + raw
        r = read_mail(raw, ctx)
        assert r.kind == "owner_command" and r.command is not None
        assert r.command.verb == "status"


def _nested(depth: int) -> bytes:
    """An owner's mail with `depth` message/rfc822 parts inside each other."""
    inner = b"From: tim@example.org\r\nSubject: deep\r\n\r\nbottom\r\n"
    for level in range(depth):
        b = f"b{level}".encode()
        inner = (
            b"From: " + OWNER.encode() + b"\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="'
            + b
            + b'"\r\n\r\n--'
            + b
            + b"\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--"
            + b
            + b"\r\nContent-Type: message/rfc822\r\n\r\n"
            + inner
            + b"\r\n--"
            + b
            + b"--\r\n"
        )
    return AUTH_OK.encode() + b"\r\n" + inner


BAD_MAIL = {
    "empty": b"",
    "whitespace": b"\r\n\r\n  \r\n",
    "headers_only": b"From: lisa@example.test\r\nSubject: hi\r\n",
    "binary": bytes(range(256)) * 4,
    "bad_charset": (
        b"From: " + OWNER.encode() + b"\r\nContent-Type: text/plain; charset=x-nope"
        b"\r\n\r\n\xff\xfe caf\xe9"
    ),
    "broken_multipart": (
        b"From: " + OWNER.encode() + b"\r\nContent-Type: multipart/mixed; "
        b'boundary="zz"\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nhi'
    ),
    "bad_base64": (
        b"From: " + OWNER.encode() + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"@@@not base64@@@"
    ),
    "header_injection": b"From: =?utf-8?q?Eve=0D=0ABcc=3A_x=40evil?= <eve@evil.example>\r\n\r\nx",
    "huge_header": b"From: " + b"a" * 200_000 + b"@x\r\nSubject: " + b"s" * 100_000 + b"\r\n\r\nx",
    "nested_rfc822_200": _nested(200),
}


class TestBadMail:
    @pytest.mark.parametrize("name", list(BAD_MAIL))
    def test_never_raises_and_decides(self, ctx: Context, name: str) -> None:
        """Malformed, empty, binary, huge or deeply nested mail gets a decision, no crash."""
        r = read_mail(BAD_MAIL[name], ctx)
        d = judge(r, config=ctx.config, contacts=ctx.contacts, store=None, now=NOW)
        assert d.action in ("accept", "decline", "review", "ignore")

    def test_25_megabyte_attachment(self, ctx: Context) -> None:
        """A forward with a 25 MB attachment is read as a request like any other."""
        msg = EmailMessage()
        msg["From"] = f"Lisa Balbes <{OWNER}>"
        msg["To"] = "intros@example.test"
        msg["Subject"] = "Fwd: CV"
        msg["Message-ID"] = "<big@x>"
        msg.set_content(
            "---------- Forwarded message ---------\nFrom: Tim Walker "
            "<tim@example.org>\nSubject: CV\n\n" + TIM_ASKS
        )
        msg.add_attachment(
            b"\0" * (25 * 1024 * 1024), maintype="application", subtype="pdf", filename="cv.pdf"
        )
        r = read_mail(AUTH_OK.encode() + b"\r\n" + msg.as_bytes(), ctx)
        assert r.kind == "request" and r.request is not None
        assert r.request.requester is not None
        assert r.request.requester.email == "tim@example.org"

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.binary(max_size=3000))
    def test_random_bytes(self, ctx: Context, raw: bytes) -> None:
        """Any bytes at all are read by the reader itself, not only by read_mail's
        last-resort guard, and what it reads holds together."""
        reading = _read_unguarded(raw, ctx)
        if reading is not None:
            _assert_consistent(reading, raw)

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.data())
    def test_mutated_requests(self, ctx: Context, data: st.DataObject) -> None:
        """A real request with bytes flipped, cut or repeated: read without an exception,
        and a request's blurb is still the requester's own text."""
        raw = bytearray(forward("Tim Walker", "tim@example.org", TIM_ASKS))
        for _ in range(data.draw(st.integers(1, 20))):
            i = data.draw(st.integers(0, len(raw) - 1))
            op = data.draw(st.sampled_from(["flip", "cut", "dup"]))
            if op == "flip":
                raw[i] = data.draw(st.integers(0, 255))
            elif op == "cut":
                del raw[i : i + data.draw(st.integers(1, 50))]
            else:
                raw[i:i] = raw[i : i + data.draw(st.integers(1, 50))]
            if not raw:
                break
        reading = _read_unguarded(bytes(raw), ctx)
        if reading is not None:
            _assert_consistent(reading, bytes(raw))

    def test_the_unmutated_request_is_consistent(self, ctx: Context) -> None:
        """The checks of the mutated requests hold for the request itself, and it is read
        as a request with its blurb (the checks are not vacuous)."""
        raw = forward("Tim Walker", "tim@example.org", TIM_ASKS)
        reading = _read_unguarded(raw, ctx)
        assert reading is not None and reading.kind == "request"
        assert reading.request is not None and "Bob" in reading.request.blurb
        _assert_consistent(reading, raw)


KINDS = set(get_args(Kind))


def _read_unguarded(raw: bytes, ctx: Context) -> Reading | None:
    """The reader under a fresh budget without read_mail's catch-all: an exception fails
    the test. None when the budget stopped the reading (read_mail quarantines it)."""
    try:
        with budget.reading(budget.Budget()):
            return reading_core._read(raw, ctx)
    except budget.OverBudget:
        return None


def _assert_consistent(reading: Reading, raw: bytes) -> None:
    """What any reading of `raw` must hold: a known kind, a request's blurb made of lines
    of the mail's readable text, bounced addresses that occur in the mail."""
    assert reading.kind in KINDS
    if reading.kind == "request":
        assert reading.request is not None
        readable = mailtext.body_text(mailtext.parse_bytes(raw))
        for line in reading.request.blurb.splitlines():
            assert line.strip() in readable, f"{line!r} is not in the mail's text"
    if reading.kind == "bounce":
        text = raw.decode("utf-8", "replace").lower()
        for address in reading.failed_addresses:
            assert address.lower() in text


class TestOutgoingHeaders:
    @pytest.mark.parametrize(
        "name",
        ["Tim\r\nBcc: eve@evil.example", "Tim\nWalker", "Tim\x00\x07Walker", "Tim\u2028Walker"],
    )
    def test_control_characters_never_reach_a_header(self, name: str) -> None:
        """CR/LF and control characters in names and subjects are stripped from headers."""
        rendered = Rendered(name="optin_target", subject=f"Hello {name}", text="x\n", html=None)
        msg = compose(
            rendered,
            sender=Address("Lisa", "lisa", "example.test"),
            to=[Person(name=name, email="tim@example.org")],
            message_id="<m@x>",
            date=NOW,
        )
        raw = msg.as_bytes()
        head = raw.split(b"\n\n", 1)[0]
        assert b"\x00" not in head and b"\x07" not in head
        names = [
            line.split(b":", 1)[0].lower()
            for line in head.split(b"\n")
            if not line.startswith((b" ", b"\t"))
        ]
        assert b"bcc" not in names
        assert names.count(b"to") == 1 and names.count(b"subject") == 1


class TestComposedMail:
    def test_wire_bytes_read_back_the_same(self) -> None:
        """The mail on the wire reads back with the same names, subject, parts and text,
        non-ASCII and long values included."""
        rendered = Rendered(
            name="optin_target",
            subject="Introduction: Zoë Ødegaard would like to meet you, about a long topic "
            "[intro K7F3Q2]",
            text="Hi Zoë,\n\n= signs, long lines " + "x" * 120 + "\n",
            html="<p>Hi Zoë</p>",
        )
        raw = compose_bytes(
            rendered,
            sender=Address("Lisa Bålbes", "lisa", "example.test"),
            to=[
                Person(name="Zoë Ødegaard", email="zoe@example.org"),
                Person(name="Bob, Jr.", email="bob@example.org"),
            ],
            message_id="<m@x>",
            date=NOW,
            reply_to="intros+abc@example.test",
        )
        assert b"\r\n" in raw and raw.isascii()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert [a.display_name for a in msg["To"].addresses] == ["Zoë Ødegaard", "Bob, Jr."]
        assert str(msg["From"]) == "Lisa Bålbes <lisa@example.test>"
        assert str(msg["Subject"]) == rendered.subject
        assert msg.get_content_type() == "multipart/alternative"
        body = msg.get_body(("plain",))
        assert body is not None
        assert body.get_content().replace("\r\n", "\n") == rendered.text
        html = msg.get_body(("html",))
        assert html is not None and "Zoë" in html.get_content()
