"""The test servers behave like the real ones introd will meet."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from imapclient import IMAPClient

try:
    from servers import Dovecot, Security, SmtpServer, client_tls_context
except ImportError:  # pragma: no cover - tests/ became a package
    from tests.servers import (  # type: ignore[no-redef]
        Dovecot,
        Security,
        SmtpServer,
        client_tls_context,
    )

from conftest import INTRO_PASSWORD, INTRO_USER, SMTP_PASSWORD, SMTP_USER, FakeClock

pytestmark = pytest.mark.servers


def make_mail(*, sender: str, to: str, subject: str, body: str = "Hello.\n") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{abs(hash((sender, to, subject)))}@example.test>"
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP)


def send(server: SmtpServer, sender: str, recipients: list[str], raw: bytes) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=10) as client:
        client.login(SMTP_USER, SMTP_PASSWORD)
        client.sendmail(sender, recipients, raw)


class TestDovecotLogin:
    @pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
    def test_login_works_on_every_transport(self, dovecot: Dovecot, security: Security) -> None:
        """The intro user logs in over plain IMAP, STARTTLS and IMAPS (certificate verified)."""
        with dovecot.session(INTRO_USER, security=security) as client:
            assert client.select_folder("INBOX")[b"EXISTS"] == 0

    def test_wrong_password_is_refused(self, dovecot: Dovecot) -> None:
        """A wrong password fails the login."""
        client = IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=10)
        try:
            with pytest.raises(Exception, match="(?i)authentication failed"):
                client.login(INTRO_USER, INTRO_PASSWORD + "x")
        finally:
            client.shutdown()

    def test_added_users_log_in_at_once(self, dovecot: Dovecot) -> None:
        """Users added one right after another on a running server can all log in."""
        names = [f"party{i}@example.test" for i in range(3)]
        for name in names:
            dovecot.add_user(name, f"pw-{name}")
        for name in names:
            with dovecot.session(name) as client:
                assert client.select_folder("INBOX")[b"EXISTS"] == 0

    def test_starttls_is_offered(self, dovecot: Dovecot) -> None:
        """The plain IMAP port offers STARTTLS before login."""
        client = IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=10)
        try:
            assert b"STARTTLS" in client.capabilities()
        finally:
            client.shutdown()

    def test_idle_and_move_are_advertised(self, dovecot: Dovecot) -> None:
        """By default the server has IDLE, MOVE and UIDPLUS."""
        with dovecot.session(INTRO_USER) as client:
            caps = set(client.capabilities())
        assert {b"IDLE", b"MOVE", b"UIDPLUS"} <= caps

    def test_disabled_capabilities_are_not_advertised(
        self, make_dovecot: Callable[..., Dovecot]
    ) -> None:
        """`disable=` removes capabilities from what the server announces, keeping the rest."""
        server = make_dovecot(disable=("MOVE", "IDLE"))
        with server.session(INTRO_USER) as client:
            caps = set(client.capabilities())
        assert b"MOVE" not in caps and b"IDLE" not in caps
        assert b"UIDPLUS" in caps


class TestDovecotMail:
    def test_append_then_fetch_returns_the_same_bytes(self, dovecot: Dovecot) -> None:
        """What is appended is what `messages()` returns, in order."""
        first = make_mail(sender="ana@example.test", to=INTRO_USER, subject="one")
        second = make_mail(sender="ana@example.test", to=INTRO_USER, subject="two")
        assert dovecot.append(INTRO_USER, first) > 0
        dovecot.append(INTRO_USER, second, flags=[r"\Seen"])
        assert dovecot.messages(INTRO_USER) == [first, second]

    def test_append_to_a_new_folder_creates_it(self, dovecot: Dovecot) -> None:
        """Appending to a nested folder creates it."""
        raw = make_mail(sender="ana@example.test", to=INTRO_USER, subject="done")
        dovecot.append(INTRO_USER, raw, folder="introd/done")
        assert "introd/done" in dovecot.folders(INTRO_USER)
        assert dovecot.messages(INTRO_USER, "introd/done") == [raw]

    def test_clear_empties_mailboxes_and_removes_folders(self, dovecot: Dovecot) -> None:
        """After `clear()` every user has only an empty INBOX."""
        raw = make_mail(sender="ana@example.test", to=INTRO_USER, subject="x")
        dovecot.append(INTRO_USER, raw)
        dovecot.append(INTRO_USER, raw, folder="introd/quarantine")
        dovecot.append(INTRO_USER, raw, folder="Sent")
        dovecot.clear()
        assert dovecot.folders(INTRO_USER) == ["INBOX"]
        assert dovecot.messages(INTRO_USER) == []

    def test_idle_reports_a_new_message(self, dovecot: Dovecot) -> None:
        """A client in IDLE hears EXISTS when a message arrives."""
        with dovecot.session(INTRO_USER) as client:
            client.select_folder("INBOX")
            client.idle()
            try:
                dovecot.append(
                    INTRO_USER, make_mail(sender="a@example.test", to=INTRO_USER, subject="wake up")
                )
                responses = client.idle_check(timeout=10)
            finally:
                client.idle_done()
            assert (1, b"EXISTS") in responses
            client.noop()

    def test_mail_survives_a_restart(self, dovecot: Dovecot) -> None:
        """Mail and users are kept across `restart()`, on the same ports."""
        raw = make_mail(sender="ana@example.test", to=INTRO_USER, subject="kept")
        dovecot.append(INTRO_USER, raw)
        port = dovecot.imap_port
        dovecot.restart()
        assert dovecot.imap_port == port
        assert dovecot.messages(INTRO_USER) == [raw]

    def test_a_stopped_server_refuses_connections(self, dovecot: Dovecot) -> None:
        """While stopped, connecting fails; after `start()` it works again."""
        dovecot.stop()
        with pytest.raises(OSError):
            IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=2)
        dovecot.start()
        assert dovecot.messages(INTRO_USER) == []


class TestSmtpDelivery:
    def test_mail_to_a_local_user_lands_in_the_inbox(
        self, smtp_server: SmtpServer, dovecot: Dovecot
    ) -> None:
        """A mail sent to a local party is in their INBOX when sendmail returns."""
        raw = make_mail(sender=INTRO_USER, to="bea@example.test", subject="Would you like...")
        send(smtp_server, INTRO_USER, ["bea@example.test"], raw)
        [delivered] = dovecot.messages("bea@example.test")
        assert message_from_bytes(delivered)["Subject"] == "Would you like..."
        assert smtp_server.received[0].rcpt_tos == ("bea@example.test",)
        assert smtp_server.received[0].login == SMTP_USER

    def test_plus_address_lands_in_the_base_inbox(
        self, smtp_server: SmtpServer, dovecot: Dovecot
    ) -> None:
        """intros+TOKEN@ is delivered to intros@'s INBOX with Delivered-To kept."""
        rcpt = "intros+k3y9xq@example.test"
        raw = make_mail(sender="bea@example.test", to=rcpt, subject="Re: Would you like...")
        send(smtp_server, "bea@example.test", [rcpt], raw)
        [delivered] = dovecot.messages(INTRO_USER)
        parsed = message_from_bytes(delivered)
        assert parsed["Delivered-To"] == rcpt
        assert parsed["To"] == rcpt
        assert dovecot.folders(INTRO_USER) == ["INBOX"]

    def test_remote_recipients_are_recorded_not_delivered(
        self, smtp_server: SmtpServer, dovecot: Dovecot
    ) -> None:
        """Mail to a non-local domain is recorded in `received` only."""
        raw = make_mail(sender=INTRO_USER, to="carl@elsewhere.example", subject="hi")
        send(smtp_server, INTRO_USER, ["carl@elsewhere.example"], raw)
        assert [m.data for m in smtp_server.received] == [raw]
        assert "carl@elsewhere.example" not in dovecot.users

    def test_authentication_is_required(self, smtp_server: SmtpServer) -> None:
        """Without AUTH the server refuses MAIL FROM; with a wrong password, AUTH fails."""
        with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail(INTRO_USER, ["bea@example.test"], b"Subject: x\r\n\r\ny\r\n")
            assert refused.value.smtp_code == 530
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login(SMTP_USER, "wrong")

    @pytest.mark.parametrize("code", [421, 451, 452])
    def test_fail_next_answers_the_code_then_recovers(
        self, smtp_server: SmtpServer, code: int
    ) -> None:
        """`fail_next(2, code)` refuses two mails with that code, then accepts again."""
        smtp_server.fail_next(2, code=code)
        raw = make_mail(sender=INTRO_USER, to="bea@example.test", subject="retry me")
        codes = []
        for _ in range(3):
            try:
                send(smtp_server, INTRO_USER, ["bea@example.test"], raw)
                codes.append(250)
            except smtplib.SMTPResponseException as exc:
                codes.append(exc.smtp_code)
            except smtplib.SMTPServerDisconnected:
                codes.append(code)  # smtplib closes the connection on 421
        assert codes == [code, code, 250]
        assert len(smtp_server.received) == 1

    def test_fail_at_data_refuses_after_the_recipients(self, smtp_server: SmtpServer) -> None:
        """A fault injected at DATA refuses the message body, not the envelope."""
        smtp_server.fail_next(1, code=451, stage="DATA")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(smtp_server, INTRO_USER, ["bea@example.test"], b"Subject: x\r\n\r\ny\r\n")
        assert refused.value.smtp_code == 451
        assert smtp_server.received == []

    def test_reject_rcpt_refuses_only_that_address(self, smtp_server: SmtpServer) -> None:
        """A rejected recipient gets 550 while the others of the same mail are accepted."""
        smtp_server.reject_rcpt("gone@example.test")
        raw = make_mail(sender=INTRO_USER, to="bea@example.test", subject="two recipients")
        with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
            client.login(SMTP_USER, SMTP_PASSWORD)
            refused = client.sendmail(INTRO_USER, ["gone@example.test", "bea@example.test"], raw)
        assert refused == {"gone@example.test": (550, b"5.1.1 No such user here")}
        assert smtp_server.received[0].rcpt_tos == ("bea@example.test",)

    def test_unknown_local_user_is_a_delivery_failure(self, dovecot: Dovecot) -> None:
        """Without `create_users`, mail to an unknown local user is recorded as failed."""
        with SmtpServer(
            dovecot=dovecot, create_users=False, user=SMTP_USER, password=SMTP_PASSWORD
        ) as server:
            send(server, INTRO_USER, ["nobody@example.test"], b"Subject: x\r\n\r\ny\r\n")
        [failure] = server.delivery_failures
        assert failure.recipient == "nobody@example.test"
        assert "550" in failure.error

    @pytest.mark.parametrize("security", ["starttls", "ssl"])
    def test_tls_submission_with_a_verified_certificate(
        self, dovecot: Dovecot, security: Security
    ) -> None:
        """The SMTP server speaks STARTTLS and implicit TLS with a certificate clients verify."""
        context = client_tls_context(dovecot.cert)
        with SmtpServer(
            dovecot=dovecot,
            security=security,
            cert=dovecot.cert,
            key=dovecot.key,
            user=SMTP_USER,
            password=SMTP_PASSWORD,
        ) as server:
            client: smtplib.SMTP
            if security == "ssl":
                client = smtplib.SMTP_SSL(server.host, server.port, context=context, timeout=10)
            else:
                client = smtplib.SMTP(server.host, server.port, timeout=10)
                client.starttls(context=context)
            with client:
                client.login(SMTP_USER, SMTP_PASSWORD)
                client.sendmail(INTRO_USER, ["bea@example.test"], b"Subject: tls\r\n\r\ny\r\n")
        assert len(dovecot.messages("bea@example.test")) == 1

    def test_an_unverified_certificate_is_refused_by_default(self, dovecot: Dovecot) -> None:
        """A client with the system trust store rejects the throwaway certificate."""
        with (
            SmtpServer(
                dovecot=dovecot,
                security="ssl",
                cert=dovecot.cert,
                key=dovecot.key,
                user=SMTP_USER,
                password=SMTP_PASSWORD,
            ) as server,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            smtplib.SMTP_SSL(
                server.host, server.port, timeout=10, context=ssl.create_default_context()
            )

    def test_wait_for_returns_once_enough_mail_arrived(self, smtp_server: SmtpServer) -> None:
        """`wait_for(n)` returns the received mails as soon as there are n."""
        send(smtp_server, INTRO_USER, ["bea@example.test"], b"Subject: x\r\n\r\ny\r\n")
        assert len(smtp_server.wait_for(1, timeout=5)) == 1


class TestFakeClock:
    def test_now_is_aware_utc_and_stands_still(self, clock: FakeClock) -> None:
        """The clock's time is aware UTC and only moves when told to."""
        assert clock.now().tzinfo is UTC
        assert clock.now() == clock.now() == clock()

    def test_advance_moves_forward(self, clock: FakeClock) -> None:
        """`advance` adds the delta and refuses to go back."""
        start = clock.now()
        assert clock.advance(timedelta(days=4)) == start + timedelta(days=4)
        with pytest.raises(ValueError):
            clock.advance(timedelta(seconds=-1))

    def test_set_jumps_to_an_aware_time(self, clock: FakeClock) -> None:
        """`set` jumps to a given aware time and refuses a naive one."""
        when = datetime(2027, 1, 1, tzinfo=UTC)
        assert clock.set(when) == when
        with pytest.raises(ValueError):
            clock.set(datetime(2027, 1, 1))


class TestHelpers:
    def test_submit_and_sent_to_play_a_party(self, smtp_server: SmtpServer) -> None:
        """A party's reply sent with `submit` is found by `sent_to` and lands in intros' INBOX."""
        rcpt = "intros+r3ply@example.test"
        raw = make_mail(sender="bea@example.test", to=rcpt, subject="Re: intro")
        assert smtp_server.submit("bea@example.test", [rcpt], raw) == {}
        assert [m.data for m in smtp_server.sent_to(rcpt)] == [raw]
        assert smtp_server.sent_to("nobody@example.test") == []

    def test_wait_for_messages_returns_what_is_there(self, dovecot: Dovecot) -> None:
        """`wait_for_messages` returns at once when the folder already has enough mail."""
        raw = make_mail(sender="ana@example.test", to=INTRO_USER, subject="here")
        dovecot.append(INTRO_USER, raw, folder="introd/done")
        assert dovecot.wait_for_messages(INTRO_USER, 1, folder="introd/done") == [raw]

    def test_removed_user_can_no_longer_log_in(self, dovecot: Dovecot) -> None:
        """`remove_user` makes the user unknown to the running server."""
        dovecot.add_user("temp@example.test", "pw-temp")
        dovecot.remove_user("temp@example.test")
        with pytest.raises(KeyError):
            dovecot.password("temp@example.test")
        client = IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=10)
        try:
            with pytest.raises(Exception, match="(?i)authentication failed"):
                client.login("temp@example.test", "pw-temp")
        finally:
            client.shutdown()
