"""Bounces: a delivery report counts only when it proves it answers a mail introd sent (that
mail's Message-ID inside it) and names one of that mail's recipients; the owner hears at
most once per failed address, ever; and notices to the owner never starve the intros' own
mail under `limits.max_outgoing_per_hour`. Against the real Dovecot and SMTP server."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest

from world import (
    ANA,
    ANA_ASKS,
    CONTACTS,
    DAVE,
    DAVE_MILLER,
    INTROS,
    OWNER,
    TIM_ASKS,
    World,
    forward,
)

T0 = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
TIM, BOB = "tim@example.test", "bob@example.test"


pytestmark = [
    pytest.mark.servers,
    pytest.mark.world(
        contacts=[
            *CONTACTS,
            DAVE_MILLER,
            {"name": "Ana Lopez", "email": ANA, "company": "Bakery"},
        ],
        config={"limits": {"max_outgoing_per_hour": 4}},
    ),
]


# -- delivery reports of several shapes --------------------------------------------
def _report(
    failed: list[str],
    *,
    returned: str | None = None,
    full: EmailMessage | None = None,
    sender: str = "MAILER-DAEMON@mx.stranger.example",
) -> bytes:
    """An RFC 3464 report: failed recipients, and the returned headers (text) or the whole
    returned mail, when given."""
    b = "=_report_boundary"
    blocks = ["Reporting-MTA: dns; mx.stranger.example"]
    for address in failed:
        blocks.append(
            f"Final-Recipient: rfc822; {address}\nAction: failed\nStatus: 5.1.1\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 <{address}>: user unknown"
        )
    parts = [
        "Content-Type: text/plain; charset=utf-8\n\n"
        "This is the mail system. Your message could not be delivered.\n",
        "Content-Type: message/delivery-status\n\n" + "\n\n".join(blocks) + "\n",
    ]
    if returned is not None:
        parts.append("Content-Type: text/rfc822-headers\n\n" + returned)
    if full is not None:
        parts.append(
            "Content-Type: message/rfc822\n\n"
            + full.as_bytes().decode("ascii", "replace").replace("\r\n", "\n")
        )
    text = (
        "Return-Path: <>\n"
        f"From: Mail Delivery System <{sender}>\nTo: {INTROS}\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        f"Message-ID: {make_msgid(domain='mx.stranger.example')}\n"
        "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{b}"\n\n'
        + "".join(f"--{b}\n{part}\n" for part in parts)
        + f"--{b}--\n"
    )
    return text.replace("\n", "\r\n").encode()


def _notice(text: str) -> bytes:
    """An old-style plain-text bounce from a MAILER-DAEMON."""
    return (
        "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.stranger.example\r\n"
        f"To: {INTROS}\r\nSubject: Mail delivery failed\r\n"
        f"Message-ID: {make_msgid(domain='mx.stranger.example')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text.replace("\n", "\r\n")
    ).encode()


def _headers_of(m: EmailMessage) -> str:
    return "".join(f"{k}: {v}\n" for k, v in m.items())


def _optin_to(world: World, address: str) -> EmailMessage:
    return next(
        m for m, r in zip(world.sent(), world.smtp.received, strict=True) if address in r.rcpt_tos
    )


def _rows(world: World, sql: str) -> list[Any]:
    with sqlite3.connect(world.tmp / "introd.db") as db:
        return list(db.execute(sql))


def _notices(world: World) -> int:
    return _rows(world, "SELECT COUNT(*) FROM outbox WHERE template = 'bounce_notice'")[0][0]


def _party_status(world: World) -> set[str]:
    return {r[0] for r in _rows(world, "SELECT status FROM parties")}


class TestForgedBounces:
    def test_forged_reports_change_nothing_and_starve_nothing(self, world: World) -> None:
        """Forged reports of every shape (no reference; an unknown introd-like Message-ID;
        the right address with no proof; a real opt-in's Message-ID but another party's
        address; a plain notice listing thirty addresses; forty of them at once): no party
        is marked failed, no owner notice, all quarantined, and a genuine request behind
        them gets both opt-ins under a limit of 4 mails an hour."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(T0) == 0
        assert len(world.sent()) == 2
        tim_optin = _optin_to(world, TIM)
        many = [f"person{i}@example.test" for i in range(28)] + [TIM, BOB]
        forged = [
            _report([BOB]),
            _report(
                [BOB],
                returned=f"Message-ID: <introd.ABCDEF.target.x{'y' * 20}"
                f"@example.test>\nTo: {BOB}\n",
            ),
            _report([BOB, TIM], returned=f"To: {BOB}\nSubject: Introduction\n"),
            _report([BOB], returned=_headers_of(tim_optin)),  # Tim's mail, Bob's address
            _notice(
                "This message could not be delivered to one or more recipients:\n\n"
                + "\n".join(many)
                + "\n"
            ),
        ]
        forged += [_report(many) for _ in range(20)]
        forged += [
            _notice("The following addresses failed:\n" + "\n".join(many)) for _ in range(15)
        ]
        for raw in forged:
            world.owner_sends(raw)
        world.owner_sends(forward("Ana Lopez", ANA, ANA_ASKS))
        assert world.run_once(T0 + timedelta(minutes=1)) == 0
        assert world.smtp.sent_to(ANA) and world.smtp.sent_to(DAVE)
        assert len(world.sent()) == 4
        assert _notices(world) == 0
        assert _party_status(world) == {"asked"}
        assert len(world.dovecot.messages(INTROS, "introd/quarantine")) == len(forged)
        rules = {r[0] for r in _rows(world, "SELECT rule FROM messages WHERE kind = 'bounce'")}
        assert rules == {"bounce_unproven"}


def _genuine_shapes(optin: EmailMessage, address: str) -> dict[str, bytes]:
    returned = "".join(f"{k}: {v}\n" for k, v in optin.items())
    return {
        "report_with_headers": _report([address], returned=returned),
        "report_with_mail": _report([address], full=optin),
        "plain_notice": _notice(
            f"This message could not be delivered to:\n\n  {address}\n"
            "  550 5.1.1 user unknown\n\n"
            "------ This is a copy of the message's headers. ------\n\n" + returned
        ),
    }


class TestGenuineBounces:
    @pytest.mark.parametrize("shape", ["report_with_headers", "report_with_mail", "plain_notice"])
    def test_genuine_bounce_marks_the_party_and_tells_the_owner_once_ever(
        self, world: World, shape: str
    ) -> None:
        """A report returning the target's opt-in (its headers, the whole mail, or a plain
        notice quoting them): the target is marked failed, the owner gets one
        bounce_notice; the same failure reported again, days later, tells nobody again."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(T0) == 0
        optin = _optin_to(world, BOB)
        world.owner_sends(_genuine_shapes(optin, BOB)[shape])
        assert world.run_once(T0 + timedelta(minutes=5)) == 0
        assert _rows(world, "SELECT role, status FROM parties ORDER BY role") == [
            ("requester", "asked"),
            ("target", "failed"),
        ]
        notices = [m for m in world.sent() if "Auto-Submitted" in m and OWNER in str(m["To"])]
        assert len(notices) == 1 and BOB in notices[0].get_body(("plain",)).get_content()
        assert len(world.dovecot.messages(INTROS, "introd/done")) == 2
        for shape_again in _genuine_shapes(optin, BOB).values():
            world.owner_sends(shape_again)
        assert world.run_once(T0 + timedelta(days=3)) == 0
        assert _notices(world) == 1


class TestNoticesNeverStarveIntros:
    def test_failures_queue_notices_but_the_next_request_goes_first(self, world: World) -> None:
        """Limit 6 an hour, so notices get at most 1 an hour: two targets refused with 550
        queue two notices; one leaves, and a request arriving a minute later has both its
        opt-ins sent before the second notice, which leaves the next hour."""
        world.write_config(limits={"max_outgoing_per_hour": 6})
        world.smtp.reject_rcpt(BOB)
        world.smtp.reject_rcpt(DAVE)
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.owner_sends(forward("Ana Lopez", ANA, ANA_ASKS))
        assert world.run_once(T0) == 0
        assert _notices(world) == 2
        sent_notices = _rows(
            world,
            "SELECT COUNT(*) FROM outbox WHERE template = 'bounce_notice' AND status = 'sent'",
        )[0][0]
        assert sent_notices == 1
        world.smtp.clear()
        world.owner_sends(
            forward(
                "Tim Walker",
                "tim2@example.test",
                TIM_ASKS.replace("Bob Jones at BigChem", "Dave Miller at Acme Foods"),
            )
        )
        assert world.run_once(T0 + timedelta(minutes=1)) == 0
        assert world.smtp.sent_to("tim2@example.test") and world.smtp.sent_to(DAVE)
        pending = _rows(world, "SELECT template FROM outbox WHERE status = 'pending'")
        assert pending == [("bounce_notice",)]
        assert world.run_once(T0 + timedelta(minutes=62)) == 0
        assert _rows(world, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")[0][0] == 0
        assert _notices(world) == 2  # one per failed address
