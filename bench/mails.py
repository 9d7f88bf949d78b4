"""Made-up but realistic owner-forwarded requests for the benchmarks.

Every request names its own target by address in an ``intro: Name <addr>`` note above
the forward, so the default policies accept it; requesters and targets are all distinct.
The forwards vary the way real ones do: Gmail, Outlook and Apple Mail inline forwards,
a forwarded message attached as ``message/rfc822``, plain text or text + HTML,
quoted-printable or base64, English, French and German.
"""

from __future__ import annotations

import base64
import quopri
import random
from dataclasses import dataclass
from email.utils import format_datetime
from datetime import UTC, datetime, timedelta

OWNER = "lisa@bench.example"
OWNER_NAME = "Lisa Balbes"
INTROS = "intros@bench.example"
TRUSTED = "mx.bench.example"
AUTH = (
    f"Authentication-Results: {TRUSTED}; dkim=pass header.d=bench.example; "
    f"spf=pass smtp.mailfrom={OWNER}; dmarc=pass header.from=bench.example"
)

FIRST = [
    "Tim",
    "Nina",
    "George",
    "Priya",
    "Marco",
    "Hannah",
    "Oskar",
    "Ines",
    "Dmitri",
    "Aisha",
    "Jonas",
    "Chloe",
    "Rafael",
    "Mei",
    "Tobias",
    "Leila",
    "Samuel",
    "Greta",
    "Kwame",
    "Sofia",
    "Henrik",
    "Yara",
    "Bruno",
    "Elif",
    "Arjun",
    "Camille",
    "Felix",
    "Zara",
    "Luis",
    "Ingrid",
]
LAST = [
    "Walker",
    "Patel",
    "Hartmann",
    "Natarajan",
    "Rossi",
    "Becker",
    "Lindqvist",
    "Moreau",
    "Ivanov",
    "Okafor",
    "Schneider",
    "Dubois",
    "Alvarez",
    "Chen",
    "Krause",
    "Haddad",
    "Mensah",
    "Novak",
    "Fischer",
    "Costa",
    "Berg",
    "Nakamura",
    "Ferreira",
    "Yilmaz",
    "Kowalski",
    "Laurent",
    "Weber",
    "Sato",
    "Romero",
    "Andersen",
]
COMPANIES = [
    "Helix Polymers",
    "Meridian Pharma",
    "Arbor Biosciences",
    "BigChem",
    "Northwind Analytics",
    "Bluestem Capital",
    "Cobalt Robotics",
    "Lumen Health",
    "Quarry Labs",
    "Saltmarsh Energy",
    "Tidewater Foods",
    "Orbital Materials",
]
ROLES = [
    "the Technology Transfer Manager position",
    "a product manager role",
    "the data engineering team",
    "a senior scientist opening",
    "a partnership",
    "the quality control group",
    "an internship next summer",
]
REASONS = [
    "I applied for {role} at {company} and would like to learn how the team works before "
    "my interviews.",
    "I am exploring {role} at {company} and would value twenty minutes of advice on what "
    "the work is really like.",
    "We are building a small consultancy and I would like to hear how {company} chooses "
    "outside partners for work like {role}.",
    "I am moving to St. Louis in June and {company} is high on my list; I would like to ask "
    "about {role}.",
]
GREETINGS = ["Hi Lisa,", "Dear Lisa,", "Hello Lisa,", "Lisa,"]
OPENERS = [
    "Thank you again for your time at the conference last week.",
    "I hope the spring is treating you well.",
    "It was good to catch up at the alumni dinner.",
    "I enjoyed your talk on technology transfer very much.",
]
ASKS = [
    "Could you please introduce me to {target} at {company}?",
    "Would you be willing to introduce me to {target} at {company}?",
    "Might you be able to put me in touch with {target} at {company}?",
]
CLOSINGS = ["Thank you,", "Many thanks,", "Best regards,", "Thanks so much,"]
FR = (
    "Bonjour Lisa,\n\nPourriez-vous me présenter à {target} chez {company} ? Je voudrais "
    "en savoir plus sur {role} avant mes entretiens le mois prochain.\n\nMerci beaucoup,\n"
    "{requester}\n"
)
DE = (
    "Hallo Lisa,\n\nkönntest du mich bitte {target} bei {company} vorstellen? Ich möchte "
    "mehr über {role} erfahren, bevor ich mich dort bewerbe.\n\nViele Grüße,\n{requester}\n"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    name: str
    email: str


def person(i: int, kind: str) -> Person:
    """The i-th requester or target: a distinct name and address for every i."""
    shift = 0 if kind == "requester" else 11
    first = FIRST[(i + shift) % len(FIRST)]
    last = LAST[(i // len(FIRST) + shift) % len(LAST)]
    domain = "people.example" if kind == "requester" else "firms.example"
    return Person(name=f"{first} {last}", email=f"{first}.{last}.{kind[0]}{i}@{domain}".lower())


def _body(rng: random.Random, requester: Person, target: Person, company: str) -> str:
    role = rng.choice(ROLES)
    lang = rng.random()
    if lang < 0.1:
        return FR.format(target=target.name, company=company, role=role, requester=requester.name)
    if lang < 0.2:
        return DE.format(target=target.name, company=company, role=role, requester=requester.name)
    paragraphs = [
        rng.choice(GREETINGS),
        rng.choice(OPENERS),
        rng.choice(ASKS).format(target=target.name, company=company)
        + " "
        + rng.choice(REASONS).format(role=role, company=company),
        f"{rng.choice(CLOSINGS)}\n{requester.name}",
    ]
    if rng.random() < 0.5:
        paragraphs.append(
            f"--\n{requester.name}\n{rng.choice(ROLES).split(' ', 1)[1].title()}"
            f"\n+1 314 555 {rng.randrange(1000, 9999)}"
        )
    return "\n\n".join(paragraphs) + "\n"


def _qp(text: str) -> bytes:
    return quopri.encodestring(text.replace("\n", "\r\n").encode(), quotetabs=False)


def _b64(text: str) -> bytes:
    return base64.encodebytes(text.replace("\n", "\r\n").encode())


def _html(text: str) -> str:
    from html import escape

    paras = "".join(
        f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n") if p.strip()
    )
    return f'<html><body><div dir="ltr">{paras}</div></body></html>'


def request_mail(i: int, *, seed: int = 0) -> bytes:
    """The i-th owner-forwarded request, as it lands in the intro mailbox."""
    rng = random.Random(seed * 1_000_003 + i)
    requester, target = person(i, "requester"), person(i, "target")
    company = rng.choice(COMPANIES)
    body = _body(rng, requester, target, company)
    sent = datetime(2026, 12, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=7 * i)
    subject = rng.choice(
        [
            "Introduction request",
            "Quick favour?",
            f"Intro to {target.name}?",
            "Could you connect us?",
        ]
    )
    note = (
        rng.choice(["", "Can you handle this one?\n\n", "FYI\n\n"])
        + f"intro: {target.name} <{target.email}>"
    )
    style = rng.choice(["gmail", "outlook", "apple", "attached", "gmail_html"])
    headers = [
        f"Return-Path: <{OWNER}>",
        f"Received: from [192.0.2.{i % 250 + 1}] by {TRUSTED} (Postfix) with ESMTPSA id "
        f"{rng.getrandbits(48):012X} for <{INTROS}>; {format_datetime(sent + timedelta(hours=2))}",
        AUTH,
        f"From: {OWNER_NAME} <{OWNER}>",
        f"To: {INTROS}",
        f"Date: {format_datetime(sent + timedelta(hours=2))}",
        f"Message-ID: <bench.{seed}.{i}.{rng.getrandbits(32):08x}@mail.bench.example>",
        "MIME-Version: 1.0",
    ]
    orig_date = format_datetime(sent)
    if style == "attached":
        inner = "\r\n".join(
            [
                f"From: {requester.name} <{requester.email}>",
                f"To: {OWNER_NAME} <{OWNER}>",
                f"Subject: {subject}",
                f"Date: {orig_date}",
                f"Message-ID: <orig.{i}@{requester.email.split('@')[1]}>",
                "MIME-Version: 1.0",
                'Content-Type: text/plain; charset="utf-8"',
                "Content-Transfer-Encoding: quoted-printable",
                "",
                _qp(body).decode(),
            ]
        )
        boundary = f"----=_Part_{i}_{rng.getrandbits(32)}"
        headers += [
            f"Subject: Fwd: {subject}",
            f'Content-Type: multipart/mixed; boundary="{boundary}"',
        ]
        parts = (
            f'--{boundary}\r\nContent-Type: text/plain; charset="utf-8"\r\n\r\n'
            f"{note}\r\n\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n"
            f'Content-Disposition: attachment; filename="request.eml"\r\n\r\n'
            f"{inner}\r\n--{boundary}--\r\n"
        )
        return ("\r\n".join(headers) + "\r\n\r\n" + parts).encode()
    if style == "outlook":
        block = (
            f"________________________________\nFrom: {requester.name} <{requester.email}>\n"
            f"Sent: {sent:%A, %B %d, %Y %I:%M %p}\nTo: {OWNER_NAME} <{OWNER}>\n"
            f"Subject: {subject}\n\n"
        )
        fwd_subject = f"FW: {subject}"
    elif style == "apple":
        block = (
            f"Begin forwarded message:\n\nFrom: {requester.name} <{requester.email}>\n"
            f"Subject: {subject}\nDate: {sent:%B %d, %Y at %I:%M:%S %p} UTC\n"
            f"To: {OWNER_NAME} <{OWNER}>\n\n"
        )
        fwd_subject = f"Fwd: {subject}"
    else:
        block = (
            f"---------- Forwarded message ---------\nFrom: {requester.name} "
            f"<{requester.email}>\nDate: {sent:%a, %b %d, %Y at %I:%M %p}\n"
            f"Subject: {subject}\nTo: {OWNER_NAME} <{OWNER}>\n\n\n"
        )
        fwd_subject = f"Fwd: {subject}"
    text = f"{note}\n\n{block}{body}"
    headers.append(f"Subject: {fwd_subject}")
    if style in ("outlook", "gmail_html"):
        boundary = f"000000000000{rng.getrandbits(40):010x}"
        headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        encode, cte = (_b64, "base64") if rng.random() < 0.3 else (_qp, "quoted-printable")
        parts = (
            f'--{boundary}\r\nContent-Type: text/plain; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {cte}\r\n\r\n{encode(text).decode()}\r\n"
            f'--{boundary}\r\nContent-Type: text/html; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {cte}\r\n\r\n{encode(_html(text)).decode()}\r\n"
            f"--{boundary}--\r\n"
        )
        return ("\r\n".join(headers) + "\r\n\r\n" + parts).encode()
    headers += [
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n" + _qp(text).decode()).encode()
