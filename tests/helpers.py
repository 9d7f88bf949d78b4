"""Helpers shared by test files: waiting, `introd run` as a process and its JSON log, a
backlog of made-up requests with their contacts, and a config folder (and an intro in its
state) for the commands that need no servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from introd.state import OutboxRow, Store
from world import World, forward


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "") -> None:
    """Poll `predicate` until it is true; fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"not reached in {timeout}s: {what or predicate}")


class Running:
    """`introd run` as a child process, its JSON log in a file."""

    def __init__(
        self,
        world: World,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        self.log = world.tmp / "daemon.log"
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "introd", "run", "--config", str(world.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            preexec_fn=preexec,
        )

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """This run's log events (all, or those named `name`)."""
        found = []
        for line in self.text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and (name is None or event.get("event") == name):
                found.append(event)
        return found

    def text(self) -> str:
        """This run's log as text."""
        with self.log.open("rb") as f:
            f.seek(self._offset)
            return f.read().decode(errors="replace")

    def wait_event(self, name: str, count: int = 1, timeout: float = 20.0) -> None:
        wait_for(lambda: len(self.events(name)) >= count, timeout, f"{count}× {name}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=15)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=15)


# -- a backlog: many requests, each from its own requester for its own contact ----------
FIRST = [
    "Anneke",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Elodie",
    "Farid",
    "Greta",
    "Hiroshi",
    "Ingrid",
    "Jonas",
    "Katja",
    "Lorenzo",
    "Mireille",
    "Nikolai",
    "Oona",
    "Pieter",
    "Quentin",
    "Rosalind",
    "Stellan",
    "Thea",
]
LAST = [
    "Abernathy",
    "Bergstrom",
    "Castellano",
    "Dunleavy",
    "Eriksen",
    "Fairbanks",
    "Galloway",
    "Haverford",
    "Ingleby",
    "Jablonski",
    "Kowalczyk",
    "Lindqvist",
    "Montague",
    "Nakamura",
    "Okonkwo",
    "Pemberton",
    "Quinlan",
    "Rasmussen",
    "Sandoval",
    "Thorvald",
]
COMPANIES = [
    "Northwind Labs",
    "Bluefin Analytics",
    "Cobalt Pharma",
    "Driftwood Bio",
    "Ember Materials",
]


def target_of(i: int) -> tuple[str, str, str]:
    """(name, address, company) of the i-th made-up contact (400 distinct)."""
    name = f"{FIRST[i % 20]} {LAST[(i // 20) % 20]}"
    return name, f"contact{i}@example.test", COMPANIES[i % len(COMPANIES)]


def requester_of(i: int) -> tuple[str, str]:
    return f"Sam Asker{i}", f"asker{i}@example.test"


def backlog_request(i: int) -> bytes:
    """The i-th owner-forwarded request of a backlog: its own requester and target."""
    name, _address, company = target_of(i)
    who, address = requester_of(i)
    body = (
        f"Dear Lisa,\n\nCould you please introduce me to {name} at {company}? I am moving "
        "into their field next spring and would like to learn how their team works.\n\n"
        f"Thank you,\n{who}\n"
    )
    return forward(who, address, body, message_id=f"<backlog-{i}@mail.example.test>")


def backlog_contacts(count: int) -> list[dict[str, str]]:
    """Bob Jones and the targets of the first `count` backlog requests."""
    entries = [{"name": "Bob Jones", "email": "bob@example.test", "company": "BigChem"}]
    for i in range(count):
        name, address, company = target_of(i)
        entries.append({"name": name, "email": address, "company": company})
    return entries


def backlog(count: int, batch_size: int) -> dict[str, Any]:
    """The `make_world` arguments of a world for backlogs: IDLE, FETCH batches of
    `batch_size`, no hourly limit, and contacts for `count` backlog requests."""
    return {
        "config": {
            "imap": {"idle": True, "poll_interval": "60s", "batch_size": batch_size},
            "limits": {"max_outgoing_per_hour": 0},
        },
        "contacts": backlog_contacts(count),
    }


# -- a config folder for the offline commands (parse, templates, check-config --offline) --
# the owner of the template tests, with what every config needs
OKAFOR: dict[str, Any] = {
    "owner": {"name": "Marguerite Okafor", "addresses": ["marguerite@okafor.example"]},
    "auth": {"trusted_authserv_ids": ["mx.okafor.example"]},
    "contacts": ["contacts.yaml"],
    "reply_address": "intros@okafor.example",
}


def config_folder(folder: Path, config: dict[str, Any], contacts: list[dict[str, str]]) -> Path:
    """`config` as folder/config.yaml beside `contacts` as folder/contacts.yaml; the
    config's path."""
    (folder / "contacts.yaml").write_text(yaml.safe_dump(contacts))
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def insert_awaiting_intro(
    store: Store, intro_id: str, *, target: tuple[str, str], reason: str, blurb: str
) -> None:
    """An intro Daniel Whitcombe asked for on 4 May 2026, awaiting `target` (name, address)."""
    now = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    store.insert_intro(
        id=intro_id,
        state="awaiting",
        created=now,
        updated=now,
        expires=now + timedelta(days=14),
        requester_name="Daniel Whitcombe",
        requester_email="d.whitcombe@fieldnote.example",
        target_name=target[0],
        target_email=target[1],
        reason=reason,
        blurb=blurb,
        subject="Intro?",
        source_message_id="<a@fieldnote.example>",
        rule="default",
        action="accept",
        detail="",
        candidates=[],
        optin_order="parallel",
    )


def assert_written(addresses: Sequence[str], *texts: str) -> None:
    """Every address read from a mail is written in it, in any case. White space is left
    out on both sides: the obsolete syntax (RFC 5322 section 4.4) lets folding white space
    stand around an address's dots and @, and the readers drop it."""
    written = "".join("".join(texts).lower().split())
    for address in addresses:
        if address:
            assert "".join(address.lower().split()) in written, f"{address!r} is not written"


def outbox_row(
    n: int, to: str, *, sender: str = "intros@example.test", tag: str = "row"
) -> OutboxRow:
    """Outbox row N to TO, pending, as the senders get it (never stored)."""
    mid = f"<{tag}-{n}@example.test>"
    return OutboxRow(
        id=n,
        intro_id=None,
        template="optin_target",
        role="target",
        sender=sender,
        recipients=[to],
        message_id=mid,
        raw=f"Subject: {n}\r\nMessage-ID: {mid}\r\n\r\nhello\r\n".encode(),
        status="pending",
        attempts=0,
        created=None,  # type: ignore[arg-type]
        next_attempt=None,  # type: ignore[arg-type]
        sent_at=None,
        last_error=None,
        copied=0,
    )
