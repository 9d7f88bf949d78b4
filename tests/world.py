"""A small mail world for end-to-end tests: the owner, parties with real mailboxes,
introd's config pointing at the test Dovecot and SMTP server, and helpers to play
each person."""

from __future__ import annotations

import email
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import yaml

from introd.cli import main

OWNER = "lisa@example.test"
INTROS = "intros@example.test"
TRUSTED = "mx.example.test"
AUTH_OK = (
    f"Authentication-Results: {TRUSTED}; dkim=pass header.d=example.test; "
    f"spf=pass smtp.mailfrom={OWNER}"
)


def forward(
    requester: str,
    requester_email: str,
    body: str,
    *,
    note: str = "",
    subject: str = "Introduction request",
    auth: str | None = AUTH_OK,
    sender: str = f"Lisa Balbes <{OWNER}>",
    message_id: str | None = None,
) -> bytes:
    """An owner's Gmail-style forward of a request, as it lands in the intro mailbox."""
    headers = [auth] if auth else []
    headers += [
        f"From: {sender}",
        f"To: {INTROS}",
        f"Subject: Fwd: {subject}",
        "Date: Tue, 08 Dec 2026 10:00:00 +0000",
        f"Message-ID: {message_id or make_msgid(domain='mail.example.test')}",
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
    ]
    text = (
        f"{note}\n\n---------- Forwarded message ---------\n"
        f"From: {requester} <{requester_email}>\n"
        "Date: Mon, Dec 7, 2026 at 9:12 PM\n"
        f"Subject: {subject}\nTo: Lisa Balbes <{OWNER}>\n\n\n{body}\n"
    )
    return ("\r\n".join(headers) + "\r\n\r\n" + text.replace("\n", "\r\n")).encode()


TIM_ASKS = (
    "Dear Lisa,\n\nThank you for your time at the conference last week. I am finishing my PhD "
    "in chemistry and moving to St. Louis in June.\n\nCould you please introduce me to Bob "
    "Jones at BigChem? I applied for the Technology Transfer Manager position and would like "
    "to learn about the team and how they work before my interviews.\n\nThank you,\nTim Walker\n"
)
BLANKET = (
    "Hi Lisa,\n\nI see you have 232 contacts in pharma. Could I introduce myself to any of your "
    "contacts who might need lead generation? I'd mention your name.\n\nThanks,\nBrad\n"
)

# a second request, for tests that need two: Ana asks for Dave (add DAVE_MILLER to the contacts)
ANA, DAVE = "ana@example.test", "dave@example.test"
ANA_ASKS = (
    "Dear Lisa,\n\nCould you please introduce me to Dave Miller at Acme Foods? I am starting "
    "a bakery next spring and would like to learn how their supply team works.\n\n"
    "Thank you,\nAna Lopez\n"
)
DAVE_MILLER = {"name": "Dave Miller", "email": DAVE, "company": "Acme Foods"}


CONTACTS: tuple[dict[str, str], ...] = (
    {"name": "Bob Jones", "email": "bob@example.test", "company": "BigChem"},
    {"name": "Tim Walker", "email": "tim@example.test", "company": "UW"},
    {
        "name": "Carol Opt-Out",
        "email": "carol@example.test",
        "company": "Quiet Inc",
        "introductions": "never",
    },
)


@dataclass
class World:
    tmp: Path
    dovecot: Any
    smtp: Any
    extra_config: dict[str, Any] = field(default_factory=dict)
    contacts: list[dict[str, Any]] = field(default_factory=lambda: list(CONTACTS))

    def __post_init__(self) -> None:
        self.config_path = self.tmp / "config.yaml"
        self.write_contacts(self.contacts)
        self.dovecot.add_user(OWNER, "owner-pw")
        self.write_config()

    def write_contacts(self, entries: Sequence[dict[str, Any]]) -> None:
        """Make `entries` the owner's whole contacts file."""
        self.contacts = list(entries)
        (self.tmp / "contacts.yaml").write_text(yaml.safe_dump(self.contacts, allow_unicode=True))

    def write_config(self, **changes: Any) -> None:
        data: dict[str, Any] = {
            "owner": {"name": "Lisa Balbes", "addresses": [OWNER]},
            "imap": {
                "host": "127.0.0.1",
                "port": self.dovecot.imap_port,
                "security": "none",
                "username": INTROS,
                "password": self.dovecot.password(INTROS),
                "folder": "INBOX",
                "processed_folder": "introd/done",
                "quarantine_folder": "introd/quarantine",
                "idle": False,
                "poll_interval": "1s",
                "timeout": "10s",
            },
            "smtp": {
                "host": "127.0.0.1",
                "port": self.smtp.port,
                "security": "none",
                "username": self.smtp.user,
                "password": self.smtp.password,
                "timeout": "10s",
            },
            "from": f"Lisa Balbes <{OWNER}>",
            "reply_address": INTROS,
            "secret_file": "secret",
            "state_path": "introd.db",
            "contacts": ["contacts.yaml"],
            "auth": {"require": True, "trusted_authserv_ids": [TRUSTED]},
            "digest": {"every": "off"},
            "log": {"format": "json", "level": "info"},
        }
        for section, value in {**self.extra_config, **changes}.items():
            if isinstance(value, dict) and isinstance(data.get(section), dict):
                data[section] = {**data[section], **value}
            else:
                data[section] = value
        self.config_path.write_text(yaml.safe_dump(data))

    # -- acting --------------------------------------------------------------
    def owner_sends(self, raw: bytes) -> None:
        self.dovecot.append(INTROS, raw)

    def append_all(self, mails: Sequence[bytes], folder: str = "INBOX") -> None:
        """Put many mails into the intro mailbox over one IMAP session."""
        with self.dovecot.session(INTROS) as imap:
            if folder != "INBOX" and not imap.folder_exists(folder):
                imap.create_folder(folder)
            for raw in mails:
                imap.append(folder, raw)

    def run_once(self, now: datetime, *extra: str) -> int:
        return main(
            ["run", "--once", "--config", str(self.config_path), "--now", now.isoformat(), *extra]
        )

    def cli(self, *args: str) -> int:
        return main([args[0], "--config", str(self.config_path), *args[1:]])

    def inbox(self, user: str) -> list[EmailMessage]:
        if user not in self.dovecot.users:
            return []
        return [
            email.message_from_bytes(raw, policy=policy.default)  # type: ignore[misc]
            for raw in self.dovecot.messages(user)
        ]

    def subjects(self, user: str) -> list[str]:
        return [str(m["Subject"]) for m in self.inbox(user)]

    def reply(
        self,
        user: str,
        original: EmailMessage,
        text: str,
        *,
        now: datetime,
        to: str | None = None,
        keep_reply_to: bool = True,
        references: bool = True,
        sender: str | None = None,
        authenticated: bool = False,
    ) -> None:
        """`user` answers `original` like a mail client: to its Reply-To, quoting it."""
        msg = EmailMessage()
        msg["From"] = sender or user
        target = to or (
            str(original["Reply-To"])
            if keep_reply_to and original["Reply-To"]
            else str(original["From"])
        )
        msg["To"] = target
        msg["Subject"] = "Re: " + str(original["Subject"])
        msg["Date"] = format_datetime(now)
        msg["Message-ID"] = make_msgid(domain="example.test")
        if references:
            msg["In-Reply-To"] = str(original["Message-ID"])
            msg["References"] = str(original["Message-ID"])
        body = original.get_body(("plain",))
        quoted = "\n".join("> " + ln for ln in (body.get_content() if body else "").splitlines())
        msg.set_content(f"{text}\n\nOn Tue, Dec 8, 2026, Lisa Balbes wrote:\n{quoted}\n")
        addr = re.search(r"[\w.+-]+@[\w.-]+", target)
        assert addr is not None
        raw = msg.as_bytes()
        if authenticated:  # as the owner's own mail server would mark it
            raw = AUTH_OK.encode() + b"\n" + raw
        self.dovecot.deliver(addr.group(0), raw, user)

    def sent(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(m.data, policy=policy.default)  # type: ignore[misc]
            for m in self.smtp.received
        ]

    def sent_to(self, address: str) -> list[str]:
        return [
            str(m["Subject"])
            for m in self.sent()
            if address in str(m["To"]) or address in str(m.get("Cc", ""))
        ]
