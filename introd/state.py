"""The state: one SQLite file (WAL) holding intros, parties, every message seen,
the outbox and each intro's history.

Schema changes are numbered migrations recorded in ``schema_migrations``; a
database newer than this code is refused rather than misread.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import files
from .model import END_STATES
from .exceptions import StateError

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_initial",
        """
    CREATE TABLE intros (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        expires TEXT,
        requester_name TEXT, requester_email TEXT,
        target_name TEXT, target_email TEXT,
        reason TEXT, blurb TEXT NOT NULL DEFAULT '', subject TEXT NOT NULL DEFAULT '',
        source_message_id TEXT,
        rule TEXT, action TEXT, detail TEXT,
        candidates TEXT NOT NULL DEFAULT '[]',
        optin_order TEXT NOT NULL DEFAULT 'parallel',
        requester_note TEXT
    );
    CREATE INDEX intros_state ON intros(state);
    CREATE INDEX intros_requester ON intros(requester_email, created);
    CREATE INDEX intros_target ON intros(target_email, created);
    CREATE TABLE parties (
        intro_id TEXT NOT NULL REFERENCES intros(id),
        role TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        asked_at TEXT, reminded_at TEXT, answered_at TEXT,
        reasks INTEGER NOT NULL DEFAULT 0,
        optin_message_id TEXT,
        PRIMARY KEY (intro_id, role)
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,
        message_id TEXT,
        kind TEXT, intro_id TEXT, action TEXT, rule TEXT,
        handled_at TEXT NOT NULL,
        placed INTEGER NOT NULL DEFAULT 0,
        UNIQUE (folder, uidvalidity, uid)
    );
    CREATE INDEX messages_mid ON messages(message_id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        intro_id TEXT,
        template TEXT NOT NULL,
        role TEXT,
        sender TEXT NOT NULL,
        recipients TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE,
        raw BLOB NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL,
        next_attempt TEXT NOT NULL,
        sent_at TEXT,
        last_error TEXT,
        copied INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt);
    CREATE INDEX outbox_sent ON outbox(sent_at);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        intro_id TEXT,
        at TEXT NOT NULL,
        event TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_intro ON events(intro_id, id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE notices (address TEXT NOT NULL, day TEXT NOT NULL, PRIMARY KEY (address, day));
    """,
    ),
    (
        "002_outbox_by_intro",
        """
    CREATE INDEX outbox_intro ON outbox(intro_id);
    CREATE INDEX intros_updated ON intros(state, updated);
    """,
    ),
    # after the introduction: one follow-up to the requester, its outcome and thank-you.
    # Introductions made before this migration are not followed up (status 'skipped').
    (
        "003_followups",
        """
    CREATE TABLE followups (
        intro_id TEXT PRIMARY KEY REFERENCES intros(id),
        introduced_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        sent_at TEXT,
        asks INTEGER NOT NULL DEFAULT 0,
        answer TEXT,
        outcome TEXT,
        answered_at TEXT,
        thanks TEXT
    );
    CREATE INDEX followups_due ON followups(status, introduced_at);
    INSERT INTO followups (intro_id, introduced_at, status)
        SELECT id, updated, 'skipped' FROM intros WHERE state = 'introduced'
    """,
    ),
    # the people who only passed a request on to the owner: JSON [{"name", "email"}]
    (
        "004_forwarded_by",
        """
    ALTER TABLE intros ADD COLUMN forwarded_by TEXT NOT NULL DEFAULT '[]'
    """,
    ),
    # attempts whose outcome the server never told (it took the data, then went away)
    (
        "005_outbox_unconfirmed",
        """
    ALTER TABLE outbox ADD COLUMN unconfirmed INTEGER NOT NULL DEFAULT 0;
    """,
    ),
    # "not now, maybe in March": the time a snoozed intro asks its target again
    (
        "006_snooze",
        """
    ALTER TABLE intros ADD COLUMN snoozed_until TEXT
    """,
    ),
    # "not me, but ask Jane": the person a target suggests (JSON {"name", "email"}), and
    # on the intro the owner started from it, who suggested them (and in which intro)
    (
        "007_suggestions",
        """
    ALTER TABLE intros ADD COLUMN suggested TEXT;
    ALTER TABLE intros ADD COLUMN suggested_by TEXT
    """,
    ),
]

# the clock going back by more than this is a jump, not the skew between two runs
CLOCK_SLACK = timedelta(minutes=5)
# no retry is planned further ahead than this (delivery.MAX_RETRY, with room to spare)
MAX_PLANNED_RETRY = timedelta(hours=3)
# what happened at a time: never later than now (what is planned, next_attempt and
# expires, is clamped by clamp_future on its own terms)
_PAST_STAMPS = (
    ("outbox", "created"),
    ("outbox", "sent_at"),
    ("intros", "created"),
    ("intros", "updated"),
    ("parties", "asked_at"),
    ("parties", "reminded_at"),
    ("parties", "answered_at"),
    ("events", "at"),
    ("messages", "handled_at"),
    ("followups", "introduced_at"),
    ("followups", "sent_at"),
    ("followups", "answered_at"),
)

# automatic mail to the owner: sent after the intros' own mail, within their own budget
NOTICE_TEMPLATES = ("bounce_notice", "owner_notice", "digest")
_NOTICES_SQL = ", ".join(f"'{t}'" for t in NOTICE_TEMPLATES)


def _why(exc: sqlite3.Error) -> str:
    """SQLite's reason in words an operator acts on."""
    text = str(exc)
    if "disk is full" in text or "disk I/O error" in text:
        return f"{text} (is the disk full, or the file too large for its limit?)"
    if "readonly" in text or "read-only" in text:
        return f"{text} (is the file or its folder read-only for this user?)"
    return text


SENT_MARKS_SUFFIX = ".sent-marks"  # beside the state: see Store.note_sent
# the meta key of a refused sign-in token (introd.login writes it, the daemon clears it)
AUTH_EXPIRED_META = "auth_expired"


def iso(dt: datetime) -> str:
    """DT as stored: whole UTC seconds, one format (so that times compare as text)."""
    if dt.tzinfo is UTC:
        return _iso_utc(dt)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=64)  # a decision writes its one time many times
def _iso_utc(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


_STORED_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    if _STORED_TIME.fullmatch(text):  # what iso writes: read without strptime's cost
        try:
            return datetime.fromisoformat(text)
        except ValueError:  # out of range: strptime says so in its own words
            pass
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# INSERT ... RETURNING (SQLite 3.35)
_RETURNING = sqlite3.sqlite_version_info >= (3, 35)
# json.dumps(detail, default=str), without building an encoder for each event
_event_json = json.JSONEncoder(default=str).encode


def _with_times(row: sqlite3.Row, *keys: str) -> dict[str, Any]:
    """A row as a dict, with the named columns read as UTC datetimes."""
    d = dict(row)
    for key in keys:
        d[key] = parse_iso(d[key])
    return d


@dataclass(frozen=True, slots=True, kw_only=True)
class IntroRow:
    id: str
    state: str
    created: datetime
    updated: datetime
    expires: datetime | None
    requester_name: str | None
    requester_email: str | None
    target_name: str | None
    target_email: str | None
    reason: str | None
    blurb: str
    subject: str
    source_message_id: str | None
    rule: str | None
    action: str | None
    detail: str | None
    candidates: list[dict[str, Any]]
    optin_order: str
    requester_note: str | None
    # who passed the request on to the owner (never requester or target)
    forwarded_by: list[dict[str, Any]] = field(default_factory=list)
    # state `snoozed`: when the target is asked again (kept after, for `introd show`)
    snoozed_until: datetime | None = None
    # the person the target suggested instead of themselves, for the owner to approve
    suggested: dict[str, Any] | None = None
    # on an intro started from a suggestion: who suggested the target, and where
    # ({"name", "email", "intro_id"})
    suggested_by: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> IntroRow:
        d = _with_times(row, "created", "updated", "expires", "snoozed_until")
        d["candidates"] = json.loads(d["candidates"] or "[]")
        d["forwarded_by"] = json.loads(d.get("forwarded_by") or "[]")
        for key in ("suggested", "suggested_by"):
            d[key] = json.loads(d[key]) if d.get(key) else None
        return cls(**d)


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowupRow:
    """After an introduction: the follow-up to the requester and what came of it.

    ``status``: ``pending`` (not sent yet), ``sent``, ``reasked`` (an unclear answer was
    asked once more), ``answered`` or ``skipped`` (introduced before follow-ups existed).
    ``outcome``: ``met``, ``not_met`` or None (no answer, or an unclear one)."""

    intro_id: str
    introduced_at: datetime
    status: str
    sent_at: datetime | None
    asks: int
    answer: str | None
    outcome: str | None
    answered_at: datetime | None
    thanks: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> FollowupRow:
        return cls(**_with_times(row, "introduced_at", "sent_at", "answered_at"))


@dataclass(frozen=True, slots=True, kw_only=True)
class PartyRow:
    intro_id: str
    role: str
    status: str
    asked_at: datetime | None
    reminded_at: datetime | None
    answered_at: datetime | None
    reasks: int
    optin_message_id: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> PartyRow:
        return cls(**_with_times(row, "asked_at", "reminded_at", "answered_at"))


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxRow:
    id: int
    intro_id: str | None
    template: str
    role: str | None
    sender: str
    recipients: list[str]
    message_id: str
    raw: bytes
    status: str
    attempts: int
    created: datetime
    next_attempt: datetime
    sent_at: datetime | None
    last_error: str | None
    copied: int
    unconfirmed: int = 0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> OutboxRow:
        d = _with_times(row, "created", "next_attempt", "sent_at")
        d["recipients"] = json.loads(d["recipients"])
        d["raw"] = bytes(d["raw"])
        return cls(**d)


class Store:
    """All reads and writes of the state file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        try:
            if self.path is not None:
                self._prepare_files(self.path)
            self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            # a savepoint journals the pages it changes in memory, not in a file under
            # /var/tmp: one per mail in a batch (a few pages each), and the statements that
            # change many rows run alone (prune_bodies), where nothing is journalled
            self.db.execute("PRAGMA temp_store=MEMORY")
            self._migrate()
        except sqlite3.Error as exc:
            raise StateError(f"{path}: cannot open the state database: {exc}") from None
        except files.UnsafePath as exc:
            raise StateError(f"state_path: {exc}") from None
        except OSError as exc:
            raise StateError(f"{path}: cannot create the state: {exc.strerror}") from None
        self._depth = 0
        self._savepoints = 0
        self._meta: dict[str, str | None] = {}  # see get_meta
        # meta keys whose writes must be on disk at once, even inside a batch (a mark
        # that must survive the process being killed during what follows)
        self.durable_meta: set[str] = set()
        self._marks_fd: int | None = None

    @classmethod
    def open_readonly(cls, path: Path) -> Store | None:
        """The state opened for reading only (`introd parse`): no migration, no write, no
        new file. None when it cannot be read or was written by another schema."""
        store = cls.__new__(cls)
        store.path = Path(path)
        store._depth = 0
        store._savepoints = 0
        store._meta = {}
        store.durable_meta = set()
        store._marks_fd = None
        try:
            store.db = sqlite3.connect(
                f"{store.path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                timeout=30,
            )
            store.db.row_factory = sqlite3.Row
            store.db.execute("PRAGMA query_only=ON")
            done = {r[0] for r in store.db.execute("SELECT name FROM schema_migrations")}
        except (sqlite3.Error, OSError):
            return None
        if done != {name for name, _ in MIGRATIONS}:
            store.db.close()
            return None
        return store

    @staticmethod
    def _prepare_files(path: Path) -> None:
        """The database and its WAL and SHM files: never links, always 0600 (SQLite gives
        the WAL and SHM files the database's own mode), the folder 0700 when created."""
        for name in (
            path.name,
            f"{path.name}-wal",
            f"{path.name}-shm",
            f"{path.name}-journal",
            f"{path.name}{SENT_MARKS_SUFFIX}",
        ):
            files.refuse_link(path.with_name(name))
        files.create_private(path)
        for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
            files.tighten(path.with_name(name))

    def close(self) -> None:
        if self._marks_fd is not None:
            os.close(self._marks_fd)
            self._marks_fd = None
        self.db.close()

    # -- sent marks written while a transaction is open ------------------------
    def _marks_path(self) -> Path | None:
        if self.path is None:
            return None
        return self.path.with_name(self.path.name + SENT_MARKS_SUFFIX)

    def _marks_file(self) -> int | None:
        path = self._marks_path()
        if path is None:
            return None
        if self._marks_fd is None:
            try:
                self._marks_fd = files.open_private(path, os.O_RDWR | os.O_APPEND)
            except OSError as exc:
                raise StateError(f"{path}: cannot open: {exc.strerror or exc}") from None
        return self._marks_fd

    def note_sent(self, outbox_id: int, now: datetime) -> None:
        """The server accepted outbox row ``outbox_id``: on disk at once, in a file of its
        own, however long the transaction that will hold the row's sent mark stays open.
        Safe from another thread than the one writing the database (one ``write`` to a
        file opened for appending). Only the daemon, under its run lock, calls it."""
        fd = self._marks_file()
        if fd is None:
            return
        try:
            os.write(fd, f"{outbox_id} {iso(now)}\n".encode())
        except OSError as exc:
            raise StateError(f"{self._marks_path()}: cannot write: {exc.strerror}") from None

    def forget_sent_notes(self) -> None:
        """Every row noted by ``note_sent`` has its sent mark committed: empty the file.
        Outside a transaction only, with no mail in flight."""
        if self._marks_fd is not None and not self._depth:
            os.ftruncate(self._marks_fd, 0)

    def recover_sent_marks(self) -> int:
        """Rows the server accepted before a crash whose sent mark was never committed
        (see ``note_sent``): marked sent now, so that they do not leave twice. The daemon
        calls it at start, under its run lock, before it sends anything. Returns how many
        rows it marked."""
        fd = self._marks_file()
        if fd is None:
            return 0
        noted = os.pread(fd, os.fstat(fd).st_size, 0)
        marks = []
        for line in noted.decode("ascii", "replace").splitlines():
            parts = line.split()
            try:  # a line cut short (the machine went down mid-write) says nothing
                when = parse_iso(parts[1]) if len(parts) == 2 and parts[0].isdigit() else None
            except ValueError:
                when = None
            if when is not None:
                marks.append((int(parts[0]), when))
        recovered = 0
        if marks:
            with self.transaction():
                recovered = sum(self.mark_sent(outbox_id, when) for outbox_id, when in marks)
        if noted:
            os.ftruncate(fd, 0)
        return recovered

    def _migrate(self) -> None:
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(name TEXT PRIMARY KEY, applied TEXT NOT NULL)"
        )
        done = {r[0] for r in self.db.execute("SELECT name FROM schema_migrations")}
        known = {name for name, _ in MIGRATIONS}
        if done - known:
            raise StateError(
                f"{self.path}: the state was written by a newer introd "
                f"(migrations {', '.join(sorted(done - known))})"
            )
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in sql.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?)", (name, iso(datetime.now(UTC)))
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One atomic unit: a decision and the mail it sends land together or not at all.
        Inside another transaction (a batch) it is a savepoint: undone alone when it
        raises, committed with the enclosing one."""
        if self._depth:
            self._depth += 1
            try:
                with self.savepoint():
                    yield self
            finally:
                self._depth -= 1
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot write the state: {_why(exc)}") from None
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            self._meta.clear()
            self.db.execute("ROLLBACK")
            raise
        self._depth = 0
        self._meta.clear()
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise StateError(f"{self.path}: cannot write the state: {_why(exc)}") from None

    def batch(self) -> AbstractContextManager[Store]:
        """One transaction around many units (a FETCH batch of mails, each with its
        decision and mails): the ``transaction()`` blocks inside it are savepoints of it,
        and it commits once at its end. Nothing of an unfinished batch is on disk after a
        crash, except the meta keys in ``durable_meta``, committed (with what the batch
        held then) as soon as they are written."""
        return self.transaction()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: undo just this part when it raises."""
        self.db.execute("SAVEPOINT part")
        self._savepoints += 1
        try:
            yield
        except BaseException:
            self._savepoints -= 1
            self._meta.clear()  # what it wrote is undone
            try:
                self.db.execute("ROLLBACK TO part")
                self.db.execute("RELEASE part")
            except sqlite3.Error:  # SQLite already ended the transaction (disk full, say)
                pass
            raise
        self._savepoints -= 1
        self.db.execute("RELEASE part")

    def commit_part(self) -> None:
        """Inside a batch, between its units (no savepoint open): commit what it holds so
        far; the rest of the batch goes on in a new transaction."""
        if self._depth and not self._savepoints:
            self._commit_so_far()

    def _commit_so_far(self) -> None:
        """Inside a transaction: commit what it holds now and go on in a new one, with the
        same savepoints open (each now undoes only what follows)."""
        self._meta.clear()  # between the two, another process may write
        try:
            self.db.execute("COMMIT")
            self.db.execute("BEGIN IMMEDIATE")
            for _ in range(self._savepoints):
                self.db.execute("SAVEPOINT part")
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot write the state: {_why(exc)}") from None

    def _exec(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise StateError(f"{self.path}: {exc}") from None

    # -- meta -------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A meta value. Within a transaction what was read or written is remembered
        until it ends (no other process can write meanwhile: the transaction holds the
        write lock), so a batch reads each key once; an undone savepoint forgets all."""
        if self._depth and key in self._meta:
            return self._meta[key]
        row = self._exec("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        value: str | None = row[0] if row else None
        if self._depth:
            self._meta[key] = value
        return value

    def set_meta(self, key: str, value: str) -> None:
        self._exec(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
        if self._depth:
            self._meta[key] = value
            if key in self.durable_meta:
                self._commit_so_far()

    # -- messages ---------------------------------------------------------
    def delete_meta(self, key: str) -> None:
        self._exec("DELETE FROM meta WHERE key = ?", (key,))
        if self._depth:
            self._meta[key] = None

    def seen_uid(self, folder: str, uidvalidity: int, uid: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._exec(
            "SELECT * FROM messages WHERE folder=? AND uidvalidity=? AND uid=?",
            (folder, uidvalidity, uid),
        ).fetchone()
        return row

    def seen_message_id(self, message_id: str | None) -> bool:
        if not message_id:
            return False
        return (
            self._exec(
                "SELECT 1 FROM messages WHERE message_id = ? LIMIT 1", (message_id,)
            ).fetchone()
            is not None
        )

    def record_message(
        self,
        *,
        folder: str,
        uidvalidity: int,
        uid: int,
        message_id: str | None,
        kind: str,
        intro_id: str | None,
        action: str,
        rule: str,
        now: datetime,
    ) -> None:
        self._exec(
            "INSERT OR IGNORE INTO messages (folder, uidvalidity, uid, message_id, kind, "
            "intro_id, action, rule, handled_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (folder, uidvalidity, uid, message_id, kind, intro_id, action, rule, iso(now)),
        )

    def mark_placed(self, folder: str, uidvalidity: int, uid: int) -> None:
        self._exec(
            "UPDATE messages SET placed = 1 WHERE folder=? AND uidvalidity=? AND uid=?",
            (folder, uidvalidity, uid),
        )

    def unplaced(self, folder: str, uidvalidity: int) -> list[sqlite3.Row]:
        return list(
            self._exec(
                "SELECT * FROM messages WHERE folder=? AND uidvalidity=? AND placed = 0",
                (folder, uidvalidity),
            )
        )

    # -- intros -----------------------------------------------------------
    def intro_exists(self, intro_id: str) -> bool:
        return self._exec("SELECT 1 FROM intros WHERE id=?", (intro_id,)).fetchone() is not None

    def insert_intro(self, **fields: Any) -> None:
        self._exec(*self._intro_insert(fields))

    def add_new_intro(self, new_id: Callable[[], str], **fields: Any) -> IntroRow:
        """``add_intro`` under an id from ``new_id`` that no intro has: one drawn again
        when the insert finds it taken (the key says so; no look-up before)."""
        for _ in range(100):
            try:
                return self.add_intro(id=new_id(), **fields)
            except sqlite3.IntegrityError as exc:
                if "intros.id" not in str(exc):
                    raise
        raise StateError(f"{self.path}: no free intro id in 100 draws")

    def add_intro(self, **fields: Any) -> IntroRow:
        """Insert an intro; return it as stored (defaults filled in), as ``intro`` reads it."""
        sql, values = self._intro_insert(fields)
        if not _RETURNING:
            self._exec(sql, values)
            row = self.intro(str(values["id"]))
            assert row is not None
            return row
        # the row comes back from the insert itself, not from a second statement
        return IntroRow.from_row(self._exec(sql + " RETURNING *", values).fetchall()[0])

    @staticmethod
    def _intro_insert(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        fields = dict(fields)
        fields["candidates"] = json.dumps(fields.get("candidates") or [])
        if "forwarded_by" in fields:
            fields["forwarded_by"] = json.dumps(fields["forwarded_by"] or [])
        for key in ("suggested", "suggested_by"):
            if fields.get(key) is not None:
                fields[key] = json.dumps(fields[key])
        for key in ("created", "updated", "expires"):
            if isinstance(fields.get(key), datetime):
                fields[key] = iso(fields[key])
        cols = ", ".join(fields)
        marks = ", ".join(f":{k}" for k in fields)
        return f"INSERT INTO intros ({cols}) VALUES ({marks})", fields

    def update_intro(self, intro_id: str, now: datetime, **fields: Any) -> None:
        fields = dict(fields)
        if "candidates" in fields:
            fields["candidates"] = json.dumps(fields["candidates"])
        for key in ("suggested", "suggested_by"):
            if fields.get(key) is not None:
                fields[key] = json.dumps(fields[key])
        for key, value in list(fields.items()):
            if isinstance(value, datetime):
                fields[key] = iso(value)
        fields["updated"] = iso(now)
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        self._exec(f"UPDATE intros SET {sets} WHERE id = :_id", {**fields, "_id": intro_id})

    def intro(self, intro_id: str) -> IntroRow | None:
        row = self._exec("SELECT * FROM intros WHERE id = ?", (intro_id.upper(),)).fetchone()
        return IntroRow.from_row(row) if row else None

    def intros(
        self,
        *,
        state: str | None = None,
        party: str | None = None,
        older_than: datetime | None = None,
        limit: int | None = None,
        outcome: str | None = None,
    ) -> list[IntroRow]:
        sql, params = "SELECT * FROM intros WHERE 1=1", []
        if state:
            sql += " AND state = ?"
            params.append(state)
        if outcome in ("met", "not_met"):
            sql += " AND id IN (SELECT intro_id FROM followups WHERE outcome = ?)"
            params.append(outcome)
        elif outcome == "unanswered":
            sql += " AND id IN (SELECT intro_id FROM followups WHERE status IN ('sent', 'reasked'))"
        elif outcome == "none":
            sql += " AND id NOT IN (SELECT intro_id FROM followups WHERE outcome IS NOT NULL)"
        if party:
            sql += " AND (requester_email = ? OR target_email = ?)"
            params += [party.lower(), party.lower()]
        if older_than:
            sql += " AND created <= ?"
            params.append(iso(older_than))
        sql += " ORDER BY created, id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [IntroRow.from_row(r) for r in self._exec(sql, tuple(params))]

    def timers_due(self, now: datetime, asked_before: datetime) -> list[str]:
        """Ids of the awaiting intros the timers must look at: expired by ``now``, or with a
        party asked at or before ``asked_before`` and not reminded yet; and the snoozed
        ones due to wake. (Times are stored as whole UTC seconds in one format, so they
        compare as text.)"""
        return [
            r[0]
            for r in self._exec(
                "SELECT id FROM intros WHERE (state IN ('awaiting', 'details', 'draft') AND ("
                "(expires IS NOT NULL AND expires <= ?) OR EXISTS (SELECT 1 FROM parties p "
                "WHERE p.intro_id = intros.id AND p.status = 'asked' AND p.asked_at IS NOT NULL "
                "AND p.reminded_at IS NULL AND p.asked_at <= ?))) OR (state = 'snoozed' AND "
                "snoozed_until <= ?) ORDER BY created, id",
                (iso(now), iso(asked_before), iso(now)),
            )
        ]

    def count_requests(
        self, *, requester: str | None = None, target: str | None = None, since: datetime
    ) -> int:
        column, value = ("requester_email", requester) if requester else ("target_email", target)
        row = self._exec(
            f"SELECT COUNT(*) FROM intros WHERE {column} = ? AND created >= ? AND "
            "state NOT IN ('ignored')",
            (value, iso(since)),
        ).fetchone()
        return int(row[0])

    def pair_history(self, requester: str, target: str) -> list[IntroRow]:
        return [
            IntroRow.from_row(r)
            for r in self._exec(
                "SELECT * FROM intros WHERE requester_email = ? AND target_email = ? "
                "ORDER BY created",
                (requester, target),
            )
        ]

    def created_between(self, start: datetime, end: datetime) -> list[IntroRow]:
        return [
            IntroRow.from_row(r)
            for r in self._exec(
                "SELECT * FROM intros WHERE created >= ? AND created <= ? ORDER BY created",
                (iso(start), iso(end)),
            )
        ]

    def ended_between(self, state: str, start: datetime, end: datetime) -> list[IntroRow]:
        return [
            IntroRow.from_row(r)
            for r in self._exec(
                "SELECT * FROM intros WHERE state = ? AND updated >= ? AND updated <= ? "
                "ORDER BY updated",
                (state, iso(start), iso(end)),
            )
        ]

    def count_by_state(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self._exec("SELECT state, COUNT(*) FROM intros GROUP BY state")}

    # -- follow-ups -------------------------------------------------------
    def insert_followup(self, intro_id: str, introduced_at: datetime) -> None:
        self._exec(
            "INSERT OR IGNORE INTO followups (intro_id, introduced_at) VALUES (?, ?)",
            (intro_id, iso(introduced_at)),
        )

    def update_followup(self, intro_id: str, **fields: Any) -> None:
        for key, value in list(fields.items()):
            if isinstance(value, datetime):
                fields[key] = iso(value)
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        self._exec(
            f"UPDATE followups SET {sets} WHERE intro_id = :_id", {**fields, "_id": intro_id}
        )

    def followup(self, intro_id: str) -> FollowupRow | None:
        row = self._exec(
            "SELECT * FROM followups WHERE intro_id = ?", (intro_id.upper(),)
        ).fetchone()
        return FollowupRow.from_row(row) if row else None

    def followups(self) -> dict[str, FollowupRow]:
        return {
            r["intro_id"]: FollowupRow.from_row(r) for r in self._exec("SELECT * FROM followups")
        }

    def followups_due(self, introduced_before: datetime) -> list[str]:
        """Introduced intros whose follow-up is due: not sent yet, introduced long enough."""
        return [
            r[0]
            for r in self._exec(
                "SELECT f.intro_id FROM followups f JOIN intros i ON i.id = f.intro_id "
                "WHERE f.status = 'pending' AND i.state = 'introduced' AND f.introduced_at <= ? "
                "ORDER BY f.introduced_at, f.intro_id",
                (iso(introduced_before),),
            )
        ]

    def followups_answered_between(self, start: datetime, end: datetime) -> list[FollowupRow]:
        return [
            FollowupRow.from_row(r)
            for r in self._exec(
                "SELECT * FROM followups WHERE answered_at >= ? AND answered_at <= ? "
                "ORDER BY answered_at",
                (iso(start), iso(end)),
            )
        ]

    # -- parties ----------------------------------------------------------
    def insert_party(self, intro_id: str, role: str) -> None:
        self.insert_parties(intro_id, (role,))

    def insert_parties(self, intro_id: str, roles: tuple[str, ...]) -> None:
        """The parties of ROLES, in that order, in one statement; one there already stays."""
        self._exec(
            "INSERT OR IGNORE INTO parties (intro_id, role) VALUES "
            + ", ".join(["(?, ?)"] * len(roles)),
            tuple(value for role in roles for value in (intro_id, role)),
        )

    def update_party(self, intro_id: str, role: str, **fields: Any) -> None:
        for key, value in list(fields.items()):
            if isinstance(value, datetime):
                fields[key] = iso(value)
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        self._exec(
            f"UPDATE parties SET {sets} WHERE intro_id = :_id AND role = :_role",
            {**fields, "_id": intro_id, "_role": role},
        )

    def parties(self, intro_id: str) -> dict[str, PartyRow]:
        return {
            r["role"]: PartyRow.from_row(r)
            for r in self._exec("SELECT * FROM parties WHERE intro_id = ?", (intro_id,))
        }

    def outbox_by_message_ids(self, message_ids: list[str]) -> OutboxRow | None:
        for mid in message_ids:
            row = self._exec("SELECT * FROM outbox WHERE message_id = ?", (mid,)).fetchone()
            if row:
                return OutboxRow.from_row(row)
        return None

    # -- events -----------------------------------------------------------
    def add_event(self, intro_id: str | None, event: str, now: datetime, **detail: Any) -> None:
        self.add_events(intro_id, now, [(event, detail)])

    def add_events(
        self, intro_id: str | None, now: datetime, events: list[tuple[str, dict[str, Any]]]
    ) -> None:
        """EVENTS (name and detail) of one intro at one time, in that order, in one INSERT."""
        at = iso(now)
        self._exec(
            "INSERT INTO events (intro_id, at, event, detail) VALUES "
            + ", ".join(["(?, ?, ?, ?)"] * len(events)),
            tuple(
                v for event, detail in events for v in (intro_id, at, event, _event_json(detail))
            ),
        )

    def events(self, intro_id: str) -> list[dict[str, Any]]:
        return [
            {"at": parse_iso(r["at"]), "event": r["event"], **json.loads(r["detail"])}
            for r in self._exec("SELECT * FROM events WHERE intro_id = ? ORDER BY id", (intro_id,))
        ]

    def recent_events(self, event: str, since: datetime) -> list[dict[str, Any]]:
        return [
            {"intro_id": r["intro_id"], "at": parse_iso(r["at"]), **json.loads(r["detail"])}
            for r in self._exec(
                "SELECT * FROM events WHERE event = ? AND at >= ? ORDER BY id", (event, iso(since))
            )
        ]

    # -- outbox -----------------------------------------------------------
    def enqueue(
        self,
        *,
        intro_id: str | None,
        template: str,
        role: str | None,
        sender: str,
        recipients: list[str],
        message_id: str,
        raw: bytes,
        now: datetime,
    ) -> int:
        cur = self._exec(
            "INSERT INTO outbox (intro_id, template, role, sender, recipients, message_id, raw, "
            "created, next_attempt) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                intro_id,
                template,
                role,
                sender,
                json.dumps(recipients),
                message_id,
                raw,
                iso(now),
                iso(now),
            ),
        )
        return int(cur.lastrowid or 0)

    def due_outbox(
        self, now: datetime, limit: int = 500, *, skip: Collection[int] = ()
    ) -> list[OutboxRow]:
        """The first ``limit`` pending rows due by ``now``, the intros' own mail before the
        notices, less the rows in ``skip`` (those the caller already has in hand: they are
        not read again, mail and all)."""
        due = (
            "FROM outbox WHERE status = 'pending' AND next_attempt <= ? ORDER BY "
            f"template IN ({_NOTICES_SQL}), id LIMIT ?"
        )
        if not skip:
            return [OutboxRow.from_row(r) for r in self._exec("SELECT * " + due, (iso(now), limit))]
        ids = [r[0] for r in self._exec("SELECT id " + due, (iso(now), limit))]
        wanted = [i for i in ids if i not in skip]
        rows: dict[int, sqlite3.Row] = {}
        for start in range(0, len(wanted), 500):  # within SQLite's limit on parameters
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            for r in self._exec(f"SELECT * FROM outbox WHERE id IN ({marks})", tuple(part)):
                rows[r["id"]] = r
        return [OutboxRow.from_row(rows[i]) for i in wanted]

    def outbox_depth(self) -> int:
        return int(self._exec("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0])

    def outbox_for(self, intro_id: str) -> list[OutboxRow]:
        return [
            OutboxRow.from_row(r)
            for r in self._exec("SELECT * FROM outbox WHERE intro_id = ? ORDER BY id", (intro_id,))
        ]

    def uncopied_sent(self, limit: int = 200) -> list[OutboxRow]:
        return [
            OutboxRow.from_row(r)
            for r in self._exec(
                "SELECT * FROM outbox WHERE status = 'sent' AND copied = 0 ORDER BY id LIMIT ?",
                (limit,),
            )
        ]

    def mark_copied(self, outbox_id: int) -> None:
        self._exec("UPDATE outbox SET copied = 1 WHERE id = ?", (outbox_id,))

    def mark_sent(self, outbox_id: int, now: datetime) -> bool:
        """A pending row the server accepted; False when it was not pending (already
        marked: a sent mark noted before a crash and committed after all)."""
        cur = self._exec(
            "UPDATE outbox SET status='sent', sent_at=?, attempts=attempts+1, "
            "last_error=NULL WHERE id=? AND status='pending'",
            (iso(now), outbox_id),
        )
        return cur.rowcount == 1

    def mark_deferred(self, outbox_id: int, next_attempt: datetime, error: str) -> None:
        self._exec(
            "UPDATE outbox SET attempts=attempts+1, next_attempt=?, last_error=? WHERE id=?",
            (iso(next_attempt), error, outbox_id),
        )

    def mark_unconfirmed(self, outbox_id: int, next_attempt: datetime | None, error: str) -> None:
        """An attempt of unknown outcome: retried at ``next_attempt``, or failed (None)."""
        if next_attempt is None:
            self._exec(
                "UPDATE outbox SET status='failed', attempts=attempts+1, "
                "unconfirmed=unconfirmed+1, last_error=? WHERE id=?",
                (error, outbox_id),
            )
        else:
            self._exec(
                "UPDATE outbox SET attempts=attempts+1, unconfirmed=unconfirmed+1, "
                "next_attempt=?, last_error=? WHERE id=?",
                (iso(next_attempt), error, outbox_id),
            )

    def mark_failed(self, outbox_id: int, error: str) -> None:
        self._exec(
            "UPDATE outbox SET status='failed', attempts=attempts+1, last_error=? WHERE id=?",
            (error, outbox_id),
        )

    def sent_since(self, since: datetime, *, notices: bool = False) -> int:
        """Mails sent since ``since`` (only the owner's notices, with ``notices``)."""
        only = f" AND template IN ({_NOTICES_SQL})" if notices else ""
        return int(
            self._exec(
                f"SELECT COUNT(*) FROM outbox WHERE sent_at >= ?{only}", (iso(since),)
            ).fetchone()[0]
        )

    # -- erasure ----------------------------------------------------------
    def forget(self, address: str) -> int:
        """Erase a person's data from every intro, keeping anonymous counts."""
        address = address.lower()
        rows = self.intros(party=address)
        for r in rows:
            fields: dict[str, Any] = {
                "blurb": "",
                "reason": None,
                "requester_note": None,
                "subject": "",
                "detail": None,
                "candidates": "[]",
                "forwarded_by": "[]",
                "suggested": None,
                "suggested_by": None,
            }
            if r.requester_email == address:
                fields.update(requester_email="forgotten", requester_name=None)
            if r.target_email == address:
                fields.update(target_email="forgotten", target_name=None)
            sets = ", ".join(f"{k} = :{k}" for k in fields)
            self._exec(f"UPDATE intros SET {sets} WHERE id = :_id", {**fields, "_id": r.id})
            self._exec(
                "UPDATE outbox SET raw = X'', recipients = '[]' WHERE intro_id = ? AND "
                "status != 'pending'",
                (r.id,),
            )
            self._exec("UPDATE events SET detail = '{}' WHERE intro_id = ?", (r.id,))
            self._exec("UPDATE followups SET thanks = NULL WHERE intro_id = ?", (r.id,))
        # someone who only passed requests on
        passed = self._exec(
            "UPDATE intros SET forwarded_by = '[]' WHERE instr(lower(forwarded_by), ?)",
            (json.dumps(address),),
        )
        # someone who was only suggested, or only suggested someone else
        for column in ("suggested", "suggested_by"):
            self._exec(
                f"UPDATE intros SET {column} = NULL WHERE instr(lower({column}), ?)",
                (json.dumps(address),),
            )
        self._exec("DELETE FROM notices WHERE address LIKE ?", (f"%{address}",))
        self.delete_meta(f"language:{address}")
        return len(rows) + max(passed.rowcount - len(rows), 0)

    def prune_bodies(self, ended_before: datetime) -> int:
        """Drop stored mail text of intros that ended before ``ended_before``. Each
        statement is a transaction of its own when none is open (pruning again what is
        pruned changes nothing): a statement inside a larger transaction keeps a copy of
        every page it changes until it ends, and in a state of 100,000 intros that is tens
        of megabytes."""
        ended = ", ".join(f"'{s}'" for s in END_STATES)
        old = f"state IN ({ended}) AND updated < :before"
        params = {"before": iso(ended_before)}
        self._exec(
            f"UPDATE outbox SET raw = X'' WHERE status != 'pending' AND length(raw) > 0 "
            f"AND intro_id IN (SELECT id FROM intros WHERE {old})",
            params,
        )
        cur = self._exec(
            f"UPDATE intros SET blurb = '', requester_note = NULL WHERE {old} AND "
            "(blurb != '' OR requester_note IS NOT NULL)",
            params,
        )
        return cur.rowcount

    # -- the clock set back ----------------------------------------------
    def note_clock(self, now: datetime, *, expire_after: timedelta) -> timedelta | None:
        """Compare ``now`` with the latest time a run saw. When it went back by more than
        CLOCK_SLACK (an NTP correction, a VM restored from a snapshot), every stamp from
        the future is treated as now (``clamp_future``), so limits and timers go on within
        their own periods rather than wait for the clock to catch up; returns how far it
        went back. Otherwise it only remembers the latest time (written at most once a
        minute)."""
        kept = parse_iso(self.get_meta("clock_high"))
        seen = kept or self._latest_stamp()
        if seen is not None and now < seen - CLOCK_SLACK:
            with self.transaction():
                self.clamp_future(now, expire_after=expire_after)
                self.set_meta("clock_high", iso(now))
            return seen - now
        if kept is None or now - kept >= timedelta(minutes=1):
            self.set_meta("clock_high", iso(max(now, seen) if seen else now))
        return None

    def _latest_stamp(self) -> datetime | None:
        """The latest time written in a state from before ``clock_high`` was kept."""
        row = self._exec("SELECT MAX(sent_at) FROM outbox").fetchone()
        last = self._exec("SELECT created FROM outbox ORDER BY id DESC LIMIT 1").fetchone()
        stamps = (parse_iso(v) for v in (row[0] if row else None, last[0] if last else None))
        found = [stamp for stamp in stamps if stamp is not None]
        return max(found) if found else None

    def clamp_future(self, now: datetime, *, expire_after: timedelta) -> None:
        """Stamps after ``now`` become ``now``; a retry further away than the longest
        backoff is due now; an expiry further away than ``expire_after`` is moved to
        ``now + expire_after``. Call inside a transaction."""
        at = iso(now)
        for table, column in _PAST_STAMPS:
            self._exec(f"UPDATE {table} SET {column} = ? WHERE {column} > ?", (at, at))
        self._exec(
            "UPDATE outbox SET next_attempt = ? WHERE status = 'pending' AND next_attempt > ?",
            (at, iso(now + MAX_PLANNED_RETRY)),
        )
        latest = iso(now + expire_after)
        self._exec("UPDATE intros SET expires = ? WHERE expires > ?", (latest, latest))
        for key in ("last_digest", "last_prune"):
            value = self.get_meta(key)
            if value and value > at:
                self.set_meta(key, at)

    # -- automatic notices outside the intro flow ------------------------
    def take_notice_once(self, key: str) -> bool:
        """True (and remembered) the first time only: a notice that is never repeated."""
        cur = self._exec("INSERT OR IGNORE INTO notices VALUES (?, 'once')", (key.lower(),))
        return cur.rowcount == 1

    def take_notice(self, address: str, now: datetime) -> bool:
        """True (and remembered) when ``address`` got no automatic notice today."""
        cur = self._exec(
            "INSERT OR IGNORE INTO notices VALUES (?, ?)",
            (address.lower(), now.astimezone(UTC).strftime("%Y-%m-%d")),
        )
        return cur.rowcount == 1
