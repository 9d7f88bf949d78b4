from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from introd.reading import mailtext
from introd.reading.automail import Bounce, bounce_info, is_auto_reply
from helpers import assert_written

AUTOMAIL = Path(__file__).parent / "data" / "automail"


def _load(name: str) -> EmailMessage:
    return mailtext.parse_bytes((AUTOMAIL / name).read_bytes())


def _mail(
    subject: str = "Re: Introduction [intro Q2W3E4]", body: str = "Yes, happy to.\n", **headers: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Marcus Hale <marcus.hale@fernline.example>"
    msg["To"] = "hello+t0k3n@oakridge-advisory.example"
    msg["Subject"] = subject
    msg["In-Reply-To"] = "<introd.Q2W3E4.target.1@oakridge-advisory.example>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return mailtext.parse_bytes(msg.as_bytes())


AUTO_FILES = [
    ("vacation_de_auto_submitted_with_tag.eml", True),
    ("vacation_x_autorespond_only.eml", True),
    ("outlook_automatic_reply_subject_only.eml", True),
    ("vacation_fr_reponse_automatique_subject_only.eml", True),
    ("vacation_es_fuera_de_la_oficina_subject_only.eml", True),
    ("newsletter_list_id.eml", True),
    ("helpdesk_precedence_junk.eml", True),
    ("ordinary_reply_x_auto_response_suppress.eml", False),
    ("ordinary_reply_auto_submitted_no.eml", False),
    ("delayed_dsn_is_not_a_bounce.eml", True),
]

# file, failed addresses, status, a phrase of the reason, original Message-ID
BOUNCE_FILES = [
    (
        "postfix_dsn_user_unknown.eml",
        ("nadia.petrov@kestrel-labs.example",),
        "5.1.1",
        "User unknown",
        "<introd.Q2W3E4.requester.333333@oakridge-advisory.example>",
    ),
    (
        "exchange_ndr_rfc822_headers.eml",
        ("m.hale@fernline.example",),
        "5.1.10",
        "RecipientNotFound",
        "<introd.Q2W3E4.target.444444@oakridge-advisory.example>",
    ),
    (
        "exim_plain_bounce.eml",
        ("nadia@kestrel-labs.example",),
        "5.1.1",
        "No such user",
        "<introd.Q2W3E4.requester.333333@oakridge-advisory.example>",
    ),
    (
        "qmail_plain_bounce_no_header.eml",
        ("omar.farid@tallis-group.example",),
        "5.1.1",
        "deliver",
        "<introd.Q2W3E4.requester.333333@oakridge-advisory.example>",
    ),
    (
        "gmail_legacy_plain_bounce.eml",
        ("priya.shah@lumenwave.example",),
        "5.1.1",
        "User unknown",
        "<introd.Z9Y8X7.target.555555@oakridge-advisory.example>",
    ),
    (
        "dsn_two_recipients_one_failed.eml",
        ("nadia.petrov@kestrel-labs.example",),
        "5.2.2",
        "Mailbox full",
        "<introd.Q2W3E4.introduction.666666@oakridge-advisory.example>",
    ),
]


class TestAutoReplyFiles:
    @pytest.mark.parametrize(("name", "expected"), AUTO_FILES)
    def test_recognises_machine_mail(self, name: str, expected: bool) -> None:
        """Vacation notices, responders, lists and help desks are auto-replies; people are not."""
        assert is_auto_reply(_load(name)) is expected

    @pytest.mark.parametrize("name", [row[0] for row in AUTO_FILES])
    def test_auto_replies_are_not_bounces(self, name: str) -> None:
        """No auto-reply, and no delay warning, is read as a bounce."""
        assert bounce_info(_load(name)) is None

    def test_every_fixture_is_in_a_table(self) -> None:
        """No automail fixture goes untested."""
        names = {row[0] for row in AUTO_FILES} | {row[0] for row in BOUNCE_FILES}
        assert {p.name for p in AUTOMAIL.glob("*.eml")} == names


class TestAutoReplyHeaders:
    @pytest.mark.parametrize(
        ("headers", "expected"),
        [
            ({"Auto_Submitted": "auto-replied"}, True),
            ({"Auto_Submitted": "auto-generated"}, True),
            ({"Auto_Submitted": "auto-notified; owner-email=x@y.example"}, True),
            ({"Auto_Submitted": "no"}, False),
            ({"Auto_Submitted": "No"}, False),
            ({"X_Autoreply": "yes"}, True),
            ({"X_Autorespond": "vacation"}, True),
            ({"X_Autoreply": "no"}, False),
            ({"Precedence": "bulk"}, True),
            ({"Precedence": "junk"}, True),
            ({"Precedence": "list"}, True),
            ({"Precedence": "auto_reply"}, True),
            ({"Precedence": "first-class"}, False),
            ({"List_Id": "<team.lists.example>"}, True),
            ({"List_Unsubscribe": "<mailto:leave@lists.example>"}, True),
            ({"X_Auto_Response_Suppress": "All"}, False),
            ({"X_Auto_Response_Suppress": "OOF, AutoReply"}, False),
            ({"Return_Path": "<>"}, True),
            ({}, False),
        ],
    )
    def test_headers(self, headers: dict[str, str], expected: bool) -> None:
        """RFC 3834 and the usual responder headers mark an auto-reply; Outlook's
        X-Auto-Response-Suppress alone does not."""
        assert is_auto_reply(_mail(**headers)) is expected

    @pytest.mark.parametrize(
        "subject",
        [
            "Automatic reply: Introduction: Nadia Petrov [intro Q2W3E4]",
            "Auto: Introduction: Nadia Petrov [intro Q2W3E4]",
            "Autoreply: Re: Introduction",
            "Auto-Reply: Re: Introduction",
            "Out of Office",
            "Out of office: Re: Introduction",
            "OOO until Monday",
            "Marcus Hale is out of the office.",
            "Abwesenheitsnotiz: Introduction",
            "Automatische Antwort: Introduction",
            "Réponse automatique : Introduction",
            "Absence",
            "Absence : Re: Introduction",
            "Respuesta automática: Introduction",
            "Fuera de la oficina",
            "Ausente",
            "[EXTERNAL] Automatic reply: Introduction",
            "Risposta automatica: Introduzione",
            "Vacation reply",
        ],
    )
    def test_vacation_subjects(self, subject: str) -> None:
        """A vacation subject in any common language marks an auto-reply, tag or not."""
        assert is_auto_reply(_mail(subject=subject)) is True

    @pytest.mark.parametrize(
        "subject",
        [
            "Re: Introduction: Nadia Petrov would like to meet you [intro Q2W3E4]",
            "Fwd: Absence management role at Fernline",
            "Vacation rental startup intro",
            "Re: Automation of pilot plants",
            "Auto industry contacts",
        ],
    )
    def test_ordinary_subjects(self, subject: str) -> None:
        """Subjects that only contain a vacation-like word are not auto-replies."""
        assert is_auto_reply(_mail(subject=subject)) is False


class TestBounces:
    @pytest.mark.parametrize(("name", "failed", "status", "reason", "original"), BOUNCE_FILES)
    def test_reads_failure(
        self, name: str, failed: tuple[str, ...], status: str, reason: str, original: str
    ) -> None:
        """Each bounce gives the failed addresses, status, reason and the bounced Message-ID."""
        bounce = bounce_info(_load(name))
        assert bounce is not None
        assert bounce.failed == failed
        assert bounce.status == status
        assert reason in bounce.reason
        assert bounce.original_message_id == original

    def test_bounce_with_auto_submitted_is_still_a_bounce(self) -> None:
        """A DSN carrying Auto-Submitted is read as a bounce (callers ask bounce_info first)."""
        msg = _load("postfix_dsn_user_unknown.eml")
        assert msg["Auto-Submitted"] == "auto-replied"
        assert isinstance(bounce_info(msg), Bounce)

    def test_ordinary_reply_is_not_a_bounce(self) -> None:
        """A person's reply is not a bounce."""
        assert bounce_info(_mail()) is None

    def test_null_return_path_without_dsn_words_is_not_a_bounce(self) -> None:
        """A null return path alone (a vacation notice) does not make a bounce."""
        msg = _mail(subject="Out of office", body="I am away until Monday.\n", Return_Path="<>")
        assert bounce_info(msg) is None

    def test_report_without_failed_action_is_not_a_bounce(self) -> None:
        """A delivery report that only says 'delayed' is not a failure."""
        assert bounce_info(_load("delayed_dsn_is_not_a_bounce.eml")) is None


DSN_TEXT = st.lists(
    st.sampled_from(
        [
            "Final-Recipient: rfc822; ",
            "Original-Recipient: rfc822;",
            "Action: failed",
            "Action: delayed",
            "Status: 5.1.1",
            "Status: 4.4.1",
            "Diagnostic-Code: smtp; 550 no such user",
            "bob@x.example",
            "<Carol@Y.example>",
            "mailer-daemon@mx.example",
            "\n",
            "\n\n",
            " ",
            ";",
        ]
    ),
    max_size=20,
).map("".join)


class TestNeverRaises:
    @pytest.mark.parametrize(
        "text",
        [
            "-" * 50_000,
            " " * 50_000 + "x",
            "\n" * 50_000,
            "a" * 50_000,
            "a@" + "a" * 50_000,
            "@a" * 25_000,
            "x@y." * 10_000,
        ],
    )
    def test_huge_hostile_bounce_is_read(self, text: str) -> None:
        """A pathological bounce body is read in linear time (no regex blow-up)."""
        raw = (
            "From: MAILER-DAEMON@mx.example\nReturn-Path: <>\nSubject: Undeliverable\n\n"
            "The following address failed:\n" + text
        ).encode()
        msg = mailtext.parse_bytes(raw)
        _assert_bounce_of(bounce_info(msg), raw)
        assert is_auto_reply(msg) is True

    @settings(max_examples=200)
    @given(st.binary(max_size=3000))
    def test_random_bytes(self, raw: bytes) -> None:
        """Any bytes as a mail never make the readers raise; a bounce read from them
        names only addresses written in them."""
        msg = mailtext.parse_bytes(raw)
        assert is_auto_reply(msg) in (True, False)
        _assert_bounce_of(bounce_info(msg), raw)

    @given(st.one_of(st.text(max_size=400), DSN_TEXT))
    def test_random_delivery_status(self, text: str) -> None:
        """A garbled delivery-status part never makes bounce_info raise, and the addresses
        it reports as failed are written in the mail."""
        raw = _report(text)
        _assert_bounce_of(bounce_info(mailtext.parse_bytes(raw)), raw)

    def test_delivery_status_checks_see_bounces(self) -> None:
        """The fields above make a bounce (the check of its addresses is not vacuous)."""
        raw = _report("Final-Recipient: rfc822; bob@x.example\nAction: failed\nStatus: 5.1.1\n")
        found = bounce_info(mailtext.parse_bytes(raw))
        assert found is not None and found.failed == ("bob@x.example",)
        _assert_bounce_of(found, raw)


def _report(text: str) -> bytes:
    """A delivery report whose delivery-status part is `text`."""
    raw = (
        "From: MAILER-DAEMON@mx.example\nReturn-Path: <>\nMIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
        "--B\nContent-Type: message/delivery-status\n\n" + text + "\n--B--\n"
    )
    return raw.encode("utf-8", "surrogateescape")


def _assert_bounce_of(found: Bounce | None, raw: bytes) -> None:
    """A bounce read from `raw`: the addresses it reports as failed occur in it."""
    if found is None:
        return
    assert isinstance(found, Bounce)
    assert_written(found.failed, raw.decode("utf-8", "replace"))
