"""`introd demo`: three bundled requests through the real pipeline, no mail account needed.

The requests are read, decided, stored, rendered and queued exactly as under
`introd run`; only the last step differs: instead of an SMTP server, a small
post office writes each outgoing mail to an .eml file, and the parties'
answers are written as real reply mails and fed back in.
"""

from __future__ import annotations

import email
import importlib.resources
import tempfile
import textwrap
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import yaml

from .config import build_config
from .wiring import build_engine
from .logs import setup_logging
from .state import OutboxRow, Store

OWNER = "Maya Okafor <maya@okafor-consulting.example>"

STORIES = [
    (
        "1_referral_request.eml",
        "A specific referral request: both say yes",
        {
            "requester": (
                "yes",
                "Yes please, and thank you!\n\nA short note for Ms. Holm: I work on "
                "continuous crystallisation and would value twenty minutes on how her "
                "team runs scale-up projects.",
            ),
            "target": (
                "yes",
                "Hi Maya,\n\nHappy to, I remember how hard that first job search is.\n\nIngrid",
            ),
        },
    ),
    (
        "2_forward_my_note.eml",
        "A note to forward: the target declines",
        {
            "requester": ("yes", "Yes, go ahead. Thank you Maya."),
            "target": (
                "no",
                "Hola Maya,\n\nNo thanks, not right now: our partnering slots are full "
                "until autumn.\n\nTomás",
            ),
        },
    ),
    ("3_blanket_request.eml", "A blanket request: may I pitch any of your contacts?", {}),
]


def _demo_config(folder: Path) -> dict[str, object]:
    return {
        "owner": {"name": "Maya Okafor", "addresses": ["maya@okafor-consulting.example"]},
        "from": OWNER,
        "reply_address": "intros@okafor-consulting.example",
        "secret_file": "secret",
        "state_path": "introd.db",
        "contacts": ["contacts.yaml"],
        "auth": {"require": True, "trusted_authserv_ids": ["mx.okafor-consulting.example"]},
        "optin": {"order": "parallel", "reminder_after": "4d", "expire_after": "14d"},
        "digest": {"every": "off"},
        "log": {"format": "console", "level": "warning"},
    }


class PostOffice:
    """Takes what the outbox sends, leaves it as .eml files and prints a transcript."""

    def __init__(self, store: Store, folder: Path) -> None:
        self.store = store
        self.folder = folder
        self.count = 0

    def deliver(self, now: datetime) -> list[OutboxRow]:
        rows = self.store.due_outbox(now)
        for row in rows:
            self.count += 1
            msg = email.message_from_bytes(row.raw, policy=policy.default)
            name = f"{self.count:02d}_{row.template}_to_{row.role or 'both'}.eml"
            (self.folder / name).write_bytes(row.raw)
            self.store.mark_sent(row.id, now)
            body = msg.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            lines = [ln for ln in text.splitlines() if ln.strip()][:3]
            print(f"  ← out  to {msg['To']}")
            print(f"         subject: {msg['Subject']}")
            for ln in lines:
                print("         | " + textwrap.shorten(ln, 90, placeholder=" …"))
            print(f"         ({name})")
        return rows


def _reply(row: OutboxRow, answer: str, now: datetime) -> bytes:
    """A party's real reply mail to an opt-in, quoting it below as clients do."""
    original = email.message_from_bytes(row.raw, policy=policy.default)
    msg = EmailMessage()
    party = original["To"].addresses[0]
    msg["From"] = party
    msg["To"] = original["Reply-To"] or original["From"]
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=party.domain)
    msg["In-Reply-To"] = row.message_id
    msg["References"] = row.message_id
    body = original.get_body(("plain",))
    quoted = "\n".join("> " + ln for ln in (body.get_content() if body else "").splitlines())
    when = format_datetime(row.created)
    msg.set_content(f"{answer}\n\nOn {when}, {original['From']} wrote:\n{quoted}\n")
    return msg.as_bytes()


def run_demo(out: Path | None = None) -> int:
    setup_logging("console", "warning")
    folder = out or Path(tempfile.mkdtemp(prefix="introd-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    data = importlib.resources.files("introd.demo_data")
    (folder / "contacts.yaml").write_bytes((data / "contacts.yaml").read_bytes())
    for stale in ("introd.db", "introd.db-wal", "introd.db-shm"):
        (folder / stale).unlink(missing_ok=True)
    config_file = folder / "config.yaml"
    config_file.write_text(yaml.safe_dump(_demo_config(folder), sort_keys=False))
    cfg = build_config(
        yaml.safe_load(config_file.read_text()), path=config_file, need_servers=False
    )
    store = Store(cfg.state_path)
    engine = build_engine(cfg, store)
    post = PostOffice(store, folder)
    now = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    uid = 0
    print(
        "introd demo: three requests forwarded by Maya Okafor to intros@okafor-consulting.example\n"
    )
    for filename, title, answers in STORIES:
        now += timedelta(hours=1)
        uid += 1
        raw = (data / filename).read_bytes()
        print(f"── {title}")
        outcome = engine.handle(raw, folder="INBOX", uidvalidity=1, uid=uid, now=now)
        req = outcome.reading.request
        who = req.requester.name if req and req.requester else "?"
        whom = (req.target.name or req.target.email) if req and req.target else "nobody specific"
        print(f"  → in   Maya forwards a request from {who} (to meet: {whom})")
        print(
            f"         decision: {outcome.decision.action} (rule {outcome.decision.rule})"
            + (f", intro {outcome.intro_id}" if outcome.intro_id else "")
        )
        sent = post.deliver(now)
        for role in ("requester", "target"):
            if role not in answers:
                continue
            optin = next(
                (r for r in sent if r.role == role and r.template == f"optin_{role}"), None
            )
            if optin is None:
                continue
            now += timedelta(hours=2)
            uid += 1
            word, text = answers[role]
            reply_raw = _reply(optin, text, now)
            (folder / f"{post.count:02d}b_reply_from_{role}.eml").write_bytes(reply_raw)
            result = engine.handle(reply_raw, folder="INBOX", uidvalidity=1, uid=uid, now=now)
            first = (
                text.splitlines()[0]
                if not text.startswith(("Hi", "Hola"))
                else text.split("\n\n")[1]
            )
            print(
                f"  → in   the {role} replies: “{textwrap.shorten(first, 60)}” "
                f"→ read as {result.reading.answer.answer if result.reading.answer else '?'}"
                f" ({result.decision.action})"
            )
            sent += post.deliver(now)
        if outcome.intro_id:
            intro = store.intro(outcome.intro_id)
            print(f"  = intro {outcome.intro_id} ends {intro.state if intro else '?'}\n")
    store.close()
    print(f"The {post.count} mails introd sent, and the parties' replies, are in {folder}")
    print(f"Inspect the state with: introd list --config {config_file}")
    return 0
