"""The whole double opt-in against the real Dovecot and SMTP server, with `run --once`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from world import AUTH_OK, BLANKET, INTROS, OWNER, TIM_ASKS, TRUSTED, World, forward

pytestmark = pytest.mark.servers

TIM, BOB = "tim@example.test", "bob@example.test"


def _optin(world: World, user: str) -> Any:
    (msg,) = [m for m in world.inbox(user) if "[intro " in str(m["Subject"])]
    return msg


class TestStories:
    def test_both_say_yes_then_one_introduction(self, world: World, clock: Any) -> None:
        """A specific request: opt-ins to both, and after two yeses one introduction to both."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(clock.now()) == 0
        assert len(world.sent()) == 2
        tim_optin, bob_optin = _optin(world, TIM), _optin(world, BOB)
        assert tim_optin["Reply-To"] and "intros+" in str(tim_optin["Reply-To"])
        assert str(tim_optin["Auto-Submitted"]) == "auto-generated"
        world.reply(BOB, bob_optin, "Hi Lisa,\n\nSure, happy to talk to Tim.", now=clock.now())
        world.reply(TIM, tim_optin, "Yes please, thank you!", now=clock.now())
        clock.advance(timedelta(hours=1))
        assert world.run_once(clock.now()) == 0
        intro_mails = [m for m in world.sent() if "Auto-Submitted" not in m]
        assert len(intro_mails) == 1 and len(world.sent()) == 3
        (intro,) = intro_mails
        assert TIM in str(intro["To"]) and BOB in str(intro["To"])
        assert OWNER in str(intro["From"])
        clock.advance(timedelta(hours=1))
        assert world.run_once(clock.now()) == 0
        assert len(world.sent()) == 3, "nothing is sent twice"
        assert len(world.dovecot.messages(INTROS, "introd/done")) == 3

    def test_target_says_no(self, world: World, clock: Any) -> None:
        """The target's no gives the requester a gentle note and the target a thank-you."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        world.reply(BOB, _optin(world, BOB), "No thanks, not at the moment.", now=clock.now())
        world.run_once(clock.now())
        assert len(world.sent()) == 4
        to_tim = world.sent_to(TIM)
        assert len(to_tim) == 2
        last = [m for m in world.sent() if TIM in str(m["To"])][-1]
        assert "Bob" not in last.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert len(world.sent_to(BOB)) == 2

    def test_blanket_request_is_declined(self, world: World, clock: Any) -> None:
        """'Any of your contacts' gets decline_no_target to the requester, nothing else."""
        world.owner_sends(forward("Brad Kessler", "brad@example.test", BLANKET))
        world.run_once(clock.now())
        assert len(world.sent()) == 1
        assert world.sent()[0]["To"].addresses[0].addr_spec == "brad@example.test"
        assert world.cli("list", "--state", "declined") == 0


class TestNeverAnswered:
    @pytest.mark.parametrize(
        "raw",
        [
            forward(
                "Tim Walker", TIM, TIM_ASKS, sender="Mallory <mallory@evil.example>", auth=None
            ),
            forward("Tim Walker", TIM, TIM_ASKS, auth=None),
            forward(
                "Tim Walker",
                TIM,
                TIM_ASKS,
                auth="Authentication-Results: mx.evil.example; dkim=pass header.d=example.test",
            ),
        ],
        ids=["not_from_owner", "no_auth_results", "untrusted_authserv"],
    )
    def test_unauthorised_requests_are_quarantined(
        self, world: World, clock: Any, raw: bytes
    ) -> None:
        """A request not from an authenticated owner sends nothing and is quarantined."""
        world.owner_sends(raw)
        assert world.run_once(clock.now()) == 0
        assert world.sent() == []
        assert len(world.dovecot.messages(INTROS, "introd/quarantine")) == 1
        assert world.dovecot.messages(INTROS) == []

    @pytest.mark.parametrize(
        "own",
        [
            "none",
            "dkim=none (no signature); spf=softfail smtp.mailfrom=lisa@example.test",
            "dkim=fail header.d=example.test; spf=fail smtp.mailfrom=lisa@example.test",
        ],
        ids=["none", "softfail", "fail"],
    )
    def test_forged_results_below_the_mta_header_are_quarantined(
        self, world: World, clock: Any, own: str
    ) -> None:
        """A sender's Authentication-Results claiming our MTA's authserv-id, delivered by a
        path that does not strip it, never makes a forged owner request count."""
        headers = "\r\n".join(
            [
                f"Authentication-Results: {TRUSTED}; {own}",
                "Received: from relay.evil.example (relay.evil.example [203.0.113.9])\r\n"
                f"\tby {TRUSTED} (Postfix) with ESMTPS id 4QY0A1; Tue, 8 Dec 2026 10:00:00 +0000",
                f"Authentication-Results: {TRUSTED}; dkim=pass header.d=example.test; "
                f"spf=pass smtp.mailfrom={OWNER}; dmarc=pass header.from=example.test",
            ]
        )
        raw = forward("Tim Walker", TIM, TIM_ASKS, auth=headers)
        world.dovecot.deliver(INTROS, raw, OWNER)  # over LMTP: nothing is stripped
        assert world.run_once(clock.now()) == 0
        assert world.sent() == []
        assert len(world.dovecot.messages(INTROS, "introd/quarantine")) == 1
        assert world.dovecot.messages(INTROS) == []

    def test_forged_token_changes_nothing(self, world: World, clock: Any) -> None:
        """A reply with a made-up token and no reference is ignored."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        bob_optin = _optin(world, BOB)
        intro_id = str(bob_optin["Subject"]).rsplit("[intro ", 1)[1][:6]
        forged = f"intros+{intro_id.lower()}tabcdefghijklmnopqrst@example.test"
        world.reply(BOB, bob_optin, "Yes!", now=clock.now(), to=forged, references=False)
        world.reply(TIM, _optin(world, TIM), "Yes!", now=clock.now(), to=forged, references=False)
        world.run_once(clock.now())
        assert len(world.sent()) == 2, "no introduction from forged tokens"
        assert len(world.dovecot.messages(INTROS, "introd/quarantine")) == 2

    def test_answer_from_another_address_is_ignored(self, world: World, clock: Any) -> None:
        """A valid token used from someone else's address is not the party's answer."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        world.reply(BOB, _optin(world, BOB), "Yes", now=clock.now(), sender="eve@example.test")
        world.reply(TIM, _optin(world, TIM), "Yes", now=clock.now())
        world.run_once(clock.now())
        assert len(world.sent()) == 2

    def test_reply_without_reply_to_is_tied_by_references(self, world: World, clock: Any) -> None:
        """A client that dropped the Reply-To is still tied by In-Reply-To."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        world.reply(BOB, _optin(world, BOB), "Yes, happy to.", now=clock.now(), to=INTROS)
        world.reply(TIM, _optin(world, TIM), "Yes please.", now=clock.now(), to=INTROS)
        world.run_once(clock.now())
        assert len(world.sent()) == 3


def _attached(inner_from: str) -> bytes:
    """The owner forwards a request as an attachment; its From is what the sender wrote."""
    inner = (
        f"From: {inner_from}\r\nTo: {OWNER}\r\nSubject: Introduction request\r\n"
        "Message-ID: <r1@evil.example>\r\nDate: Mon, 7 Dec 2026 09:00:00 +0000\r\n\r\n"
        + TIM_ASKS.replace("\n", "\r\n")
    )
    return (
        f"{AUTH_OK}\r\nFrom: Lisa Balbes <{OWNER}>\r\nTo: {INTROS}\r\n"
        "Subject: Fwd: Introduction request\r\nMessage-ID: <f1@mail.example.test>\r\n"
        "Date: Tue, 08 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
        "--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
        "--b1\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n--b1--\r\n"
    ).encode()


class TestHostileNames:
    @pytest.mark.parametrize(
        "raw",
        [
            _attached("=?UTF-8?Q?Tim=0A?=Bcc: mallory@evil.example <tim@example.test>"),
            _attached(
                '"=?UTF-8?Q?Tim_Walker=0D=0ABcc=3A_mallory@evil.example?=" <tim@example.test>'
            ),
            _attached('"mallory@evil.example" <tim@example.test>'),
            _attached("Tim (mallory@evil.example) <tim@example.test>"),
            forward("mallory@evil.example", TIM, TIM_ASKS),
            forward('"mallory@evil.example"', TIM, TIM_ASKS),
        ],
        ids=[
            "encoded_newline_bcc",
            "encoded_crlf_in_quotes",
            "quoted_address_name",
            "address_comment",
            "gmail_block_address_name",
            "gmail_block_quoted_name",
        ],
    )
    def test_only_the_bracketed_address_gets_mail_and_headers_parse(
        self, world: World, clock: Any, raw: bytes
    ) -> None:
        """A requester whose name is an address or hides a line break gets the opt-in at
        the bracketed address; nothing goes to an address named in the name, and every
        header of every mail sent parses cleanly with the standard library."""
        world.owner_sends(raw)
        assert world.run_once(clock.now()) == 0
        received = world.smtp.received
        assert sorted(r for m in received for r in m.rcpt_tos) == [BOB, TIM]
        for msg in world.sent():
            for name in msg.keys():
                assert not getattr(msg[name], "defects", ()), (name, str(msg[name]))
            assert "Bcc" not in msg
            shown = [a.addr_spec for h in ("To", "Cc") if msg[h] for a in msg[h].addresses]
            assert shown and set(shown) <= {BOB, TIM}
            assert "mallory" not in str(msg["To"]) + str(msg.get("Cc", ""))


TENANT = "6c3a1f0e-2b4d-4e8f-9a7b-1c2d3e4f5a6b"
EXO_INTERNAL = "\r\n".join(
    [
        "X-MS-Exchange-Organization-AuthAs: Internal",
        "X-MS-Exchange-Organization-AuthMechanism: 04",
        "X-MS-Exchange-Organization-AuthSource: DM6PR11MB4657.namprd11.prod.outlook.com",
        "X-MS-Exchange-Organization-MessageDirectionality: Originating",
        "Authentication-Results: dkim=none (message not signed) header.d=none;dmarc=none "
        "action=none header.from=example.test;",
        "X-MS-Exchange-CrossTenant-AuthAs: Internal",
        "X-MS-Exchange-CrossTenant-AuthSource: DM6PR11MB4657.namprd11.prod.outlook.com",
        "X-MS-Exchange-CrossTenant-fromentityheader: Hosted",
        f"X-MS-Exchange-CrossTenant-id: {TENANT}",
    ]
)
EXO_OUTSIDER = "\r\n".join(
    [
        "Authentication-Results: spf=softfail (sender IP is 203.0.113.9) "
        "smtp.mailfrom=example.test; dkim=none (message not signed) header.d=none;dmarc=fail "
        "action=none header.from=example.test;compauth=fail reason=000",
        "X-MS-Exchange-Organization-MessageDirectionality: Incoming",
        "X-MS-Exchange-Organization-AuthSource: BN8NAM11FT066.eop-nam11.prod.protection.outlook.com",
        "X-MS-Exchange-Organization-AuthAs: Anonymous",
        f"X-MS-Exchange-CrossTenant-Id: {TENANT}",
        "X-MS-Exchange-CrossTenant-AuthAs: Anonymous",
        "X-MS-Exchange-CrossTenant-FromEntityHeader: Internet",
        # what the sender wrote, which a mailbox outside Exchange would not have removed
        "X-MS-Exchange-Organization-AuthAs: Internal",
        "X-MS-Exchange-CrossTenant-AuthAs: Internal",
    ]
)


class TestExchangeOnline:
    def test_tenant_internal_request_is_handled_and_outsider_quarantined(
        self, world: World, clock: Any
    ) -> None:
        """With auth.exchange_online_tenant and no authserv-id, the owner's mail from inside
        the tenant starts the intro; an outsider's with forged stamps sends nothing."""
        world.write_config(
            auth={"require": True, "trusted_authserv_ids": [], "exchange_online_tenant": TENANT}
        )
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS, auth=EXO_OUTSIDER))
        assert world.run_once(clock.now()) == 0
        assert world.sent() == []
        assert len(world.dovecot.messages(INTROS, "introd/quarantine")) == 1
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS, auth=EXO_INTERNAL))
        assert world.run_once(clock.now()) == 0
        assert sorted(r for m in world.smtp.received for r in m.rcpt_tos) == [BOB, TIM]


class TestRestarts:
    def test_smtp_down_then_up_sends_each_once(self, world: World, clock: Any) -> None:
        """Opt-ins queued while SMTP is down go out once it is back, exactly once."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.write_config(smtp={"port": 1})  # nobody listens there
        assert world.run_once(clock.now()) == 1
        assert world.dovecot.messages(INTROS) == [], "the request was handled and put away"
        world.write_config()
        assert world.run_once(clock.now()) == 0
        assert len(world.sent()) == 2
        assert world.run_once(clock.now()) == 0
        assert len(world.sent()) == 2

    def test_imap_unreachable_exits_1(self, world: World, clock: Any) -> None:
        """`run --once` exits 1 with one line when IMAP cannot be reached."""
        world.write_config(imap={"port": 1})
        assert world.run_once(clock.now()) == 1

    def test_temporary_smtp_failure_is_retried(self, world: World, clock: Any) -> None:
        """A 451 defers the mail; it is sent on a later run after the backoff."""
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.smtp.fail_next(2, code=451)
        world.run_once(clock.now())
        assert len(world.sent()) == 0
        clock.advance(timedelta(minutes=6))
        world.run_once(clock.now())
        assert len(world.sent()) == 2

    def test_permanent_failure_tells_the_owner_once(self, world: World, clock: Any) -> None:
        """A 550 for the target fails that mail and sends the owner one bounce_notice."""
        world.smtp.reject_rcpt(BOB, 550)
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        assert len(world.sent_to(OWNER)) == 1
        world.run_once(clock.now())
        assert len(world.sent_to(OWNER)) == 1


class TestMailbox:
    def test_without_processed_folder_mail_is_flagged_seen(self, world: World, clock: Any) -> None:
        """Without processed_folder, handled mail stays, flagged \\Seen, handled once."""
        world.write_config(imap={"processed_folder": None, "quarantine_folder": None})
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        world.run_once(clock.now())
        assert len(world.dovecot.messages(INTROS)) == 1
        assert len(world.sent()) == 2
        with world.dovecot.session(INTROS) as imap:
            imap.select_folder("INBOX")
            assert imap.search(["UNSEEN"]) == []

    def test_sent_folder_gets_a_copy(self, world: World, clock: Any) -> None:
        """With imap.sent_folder, every mail sent is also appended there, once."""
        world.write_config(imap={"sent_folder": "Sent"})
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        world.run_once(clock.now())
        world.run_once(clock.now())
        assert len(world.dovecot.messages(INTROS, "Sent")) == 2


class TestTls:
    @pytest.mark.parametrize(
        "imap_security, smtp_security", [("ssl", "ssl"), ("starttls", "starttls")]
    )
    def test_tls_modes_verify_the_certificate(
        self, make_world: Any, dovecot: Any, clock: Any, imap_security: str, smtp_security: str
    ) -> None:
        """IMAP and SMTP over implicit TLS and STARTTLS work with a verified certificate."""
        from servers import SmtpServer

        smtp = SmtpServer(
            user=INTROS,
            password="smtp-secret",
            dovecot=dovecot,
            security=smtp_security,
            cert=dovecot.cert,
            key=dovecot.key,
        )
        smtp.start()
        try:
            w = make_world(dovecot=dovecot, smtp=smtp)
            port = dovecot.imaps_port if imap_security == "ssl" else dovecot.imap_port
            w.write_config(
                imap={"security": imap_security, "port": port, "ca_file": str(dovecot.cert)},
                smtp={"security": smtp_security, "ca_file": str(dovecot.cert)},
            )
            w.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
            assert w.run_once(clock.now()) == 0
            assert len(smtp.received) == 2
        finally:
            smtp.stop()

    def test_unverified_certificate_is_refused(self, world: World, clock: Any) -> None:
        """Without the CA, a self-signed IMAP certificate is refused: exit 1, nothing read."""
        world.write_config(imap={"security": "ssl", "port": world.dovecot.imaps_port})
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(clock.now()) == 1
        assert world.sent() == []


class TestServerWithoutMove:
    def test_copy_and_expunge_when_move_is_missing(
        self, make_world: Any, make_dovecot: Any, clock: Any
    ) -> None:
        """A server without MOVE gets COPY + \\Deleted + UID EXPUNGE: nothing left behind."""
        from servers import SmtpServer

        dovecot = make_dovecot(disable=("MOVE",))
        smtp = SmtpServer(user=INTROS, password="smtp-secret", dovecot=dovecot)
        smtp.start()
        try:
            w = make_world(dovecot=dovecot, smtp=smtp)
            with dovecot.session(INTROS) as imap:
                assert not imap.has_capability("MOVE")
            w.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
            assert w.run_once(clock.now()) == 0
            assert dovecot.messages(INTROS) == []
            assert len(dovecot.messages(INTROS, "introd/done")) == 1
            assert len(smtp.received) == 2
        finally:
            smtp.stop()


class TestOutboxDrain:
    def test_run_once_sends_everything_due(self, world: World, clock: Any) -> None:
        """`run --once` sends the whole due outbox, not one batch of it."""
        from introd.state import Store

        world.write_config(limits={"max_outgoing_per_hour": 0})
        store = Store(world.tmp / "introd.db")
        with store.transaction():
            for i in range(1100):
                raw = (
                    f"From: lisa@example.test\r\nTo: p{i}@example.org\r\n"
                    f"Subject: n{i}\r\nMessage-ID: <n{i}@x>\r\n\r\nhello\r\n"
                ).encode()
                store.enqueue(
                    intro_id=None,
                    template="review",
                    role="owner",
                    sender=OWNER,
                    recipients=[f"p{i}@example.org"],
                    message_id=f"<n{i}@x>",
                    raw=raw,
                    now=clock.now(),
                )
        store.close()
        assert world.run_once(clock.now()) == 0
        assert len(world.smtp.received) == 1100
