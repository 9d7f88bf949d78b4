"""State: migrations, messages seen, outbox and history survive a reopen."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from introd.exceptions import StateError
from introd.state import Store, iso, parse_iso

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


def _old_intro_then_upgrade(path: Path, migration: str, state: str) -> Store:
    """A state written without MIGRATION holding one intro OLD001 in STATE, opened again
    by this introd (which applies MIGRATION)."""
    from introd import state as state_module

    saved = state_module.MIGRATIONS
    state_module.MIGRATIONS = [m for m in saved if m[0] != migration]
    try:
        store = Store(path)
        with store.transaction():
            store.insert_intro(id="OLD001", state=state, created=NOW, updated=NOW)
        store.close()
    finally:
        state_module.MIGRATIONS = saved
    return Store(path)


class TestStore:
    def test_schema_is_versioned(self, tmp_path: Path) -> None:
        """A fresh file gets every migration recorded; reopening applies nothing twice."""
        Store(tmp_path / "s.db").close()
        store = Store(tmp_path / "s.db")
        names = [r[0] for r in store.db.execute("SELECT name FROM schema_migrations")]
        assert names == [
            "001_initial",
            "002_outbox_by_intro",
            "003_followups",
            "004_forwarded_by",
            "005_outbox_unconfirmed",
            "006_snooze",
            "007_suggestions",
        ]

    def test_newer_database_is_refused(self, tmp_path: Path) -> None:
        """A state written by a newer introd is refused, not misread."""
        Store(tmp_path / "s.db").close()
        db = sqlite3.connect(tmp_path / "s.db")
        db.execute("INSERT INTO schema_migrations VALUES ('999_future', 'x')")
        db.commit()
        db.close()
        with pytest.raises(StateError, match="newer introd"):
            Store(tmp_path / "s.db")

    def test_messages_are_remembered(self, tmp_path: Path) -> None:
        """A handled UID and its Message-ID are known after a reopen."""
        store = Store(tmp_path / "s.db")
        with store.transaction():
            store.record_message(
                folder="INBOX",
                uidvalidity=7,
                uid=3,
                message_id="<a@b>",
                kind="request",
                intro_id=None,
                action="accept",
                rule="default",
                now=NOW,
            )
        store.close()
        store = Store(tmp_path / "s.db")
        assert store.seen_uid("INBOX", 7, 3) is not None
        assert store.seen_uid("INBOX", 8, 3) is None
        assert store.seen_message_id("<a@b>")

    def test_transaction_rolls_back_together(self, tmp_path: Path) -> None:
        """A failure inside a transaction leaves neither the decision nor its mail."""
        store = Store(tmp_path / "s.db")
        with pytest.raises(RuntimeError):
            with store.transaction():
                store.enqueue(
                    intro_id="K7F3Q2",
                    template="optin_target",
                    role="target",
                    sender="a@b",
                    recipients=["c@d"],
                    message_id="<m1@x>",
                    raw=b"x",
                    now=NOW,
                )
                raise RuntimeError("boom")
        assert store.outbox_depth() == 0

    def test_outbox_due_and_rate(self, tmp_path: Path) -> None:
        """Deferred mail is due only at its retry time; sent mail counts toward the hour."""
        store = Store(tmp_path / "s.db")
        oid = store.enqueue(
            intro_id=None,
            template="review",
            role="owner",
            sender="a@b",
            recipients=["c@d"],
            message_id="<m2@x>",
            raw=b"x",
            now=NOW,
        )
        store.mark_deferred(oid, NOW + timedelta(minutes=5), "451 busy")
        assert store.due_outbox(NOW) == []
        assert [r.id for r in store.due_outbox(NOW + timedelta(minutes=5))] == [oid]
        store.mark_sent(oid, NOW + timedelta(minutes=5))
        assert store.sent_since(NOW) == 1 and store.outbox_depth() == 0

    def test_one_notice_per_address_and_day(self, tmp_path: Path) -> None:
        """An automatic notice to an address is granted once a day."""
        store = Store(tmp_path / "s.db")
        assert store.take_notice("x@y", NOW)
        assert not store.take_notice("X@Y", NOW + timedelta(hours=3))
        assert store.take_notice("x@y", NOW + timedelta(days=1))

    def test_unwritable_folder_is_a_clear_error(self, tmp_path: Path) -> None:
        """A state path that cannot be created is one StateError naming it."""
        blocker = tmp_path / "file"
        blocker.write_text("")
        with pytest.raises(StateError, match="file"):
            Store(blocker / "sub" / "s.db")


class TestTimersDue:
    def test_exactly_the_intros_with_something_due(self, tmp_path: Path) -> None:
        """The timers open only intros that expired or have a party asked long enough ago
        and not reminded; the rest (answered, reminded, asked recently, ended) are left."""
        store = Store(tmp_path / "s.db")
        reminder = timedelta(days=5)
        cases = {  # id: (state, expires, requester party, target party)
            "EXPIRD": ("awaiting", NOW - timedelta(seconds=1), None, None),
            "EXPNOW": ("awaiting", NOW, None, None),
            "FUTURE": ("awaiting", NOW + timedelta(seconds=1), ("asked", 4, None), None),
            "REMIND": ("awaiting", NOW + timedelta(days=9), ("asked", 5, None), None),
            "SECOND": ("awaiting", NOW + timedelta(days=9), ("yes", 6, None), ("asked", 6, None)),
            "REMDED": ("awaiting", NOW + timedelta(days=9), ("asked", 6, 1), None),
            "ANSWRD": ("awaiting", NOW + timedelta(days=9), ("yes", 6, None), ("no", 6, None)),
            "ENDEDX": ("expired", NOW - timedelta(days=1), ("asked", 9, None), None),
        }
        with store.transaction():
            for i, (intro_id, (state, expires, req, tgt)) in enumerate(cases.items()):
                created = NOW - timedelta(days=10) + timedelta(minutes=i)
                store.insert_intro(
                    id=intro_id, state=state, created=created, updated=NOW, expires=expires
                )
                for role, party in (("requester", req), ("target", tgt)):
                    if party is None:
                        continue
                    status, days_ago, reminded_days_ago = party
                    store.insert_party(intro_id, role)
                    store.update_party(
                        intro_id,
                        role,
                        status=status,
                        asked_at=NOW - timedelta(days=days_ago),
                        reminded_at=None
                        if reminded_days_ago is None
                        else NOW - timedelta(days=reminded_days_ago),
                    )
        assert store.timers_due(NOW, NOW - reminder) == ["EXPIRD", "EXPNOW", "REMIND", "SECOND"]


class TestFollowupMigration:
    def test_old_introductions_are_readable_and_not_followed_up(self, tmp_path: Path) -> None:
        """A state from before follow-ups opens; its introductions are marked skipped, so an
        upgrade sends no follow-up about old introductions, and new ones start pending."""
        from introd import state

        old = state.MIGRATIONS[:2]
        path = tmp_path / "s.db"
        saved = state.MIGRATIONS
        state.MIGRATIONS = old
        try:
            store = Store(path)
            with store.transaction():
                store.insert_intro(
                    id="OLD001",
                    state="introduced",
                    created=NOW,
                    updated=NOW,
                    requester_email="tim@x.example",
                    target_email="bob@y.example",
                )
            store.close()
        finally:
            state.MIGRATIONS = saved
        store = Store(path)
        f = store.followup("OLD001")
        assert f is not None and f.status == "skipped" and f.introduced_at == NOW
        assert store.followups_due(NOW + timedelta(days=365)) == []
        with store.transaction():
            store.insert_intro(id="NEW001", state="introduced", created=NOW, updated=NOW)
            store.insert_followup("NEW001", NOW)
        assert store.followups_due(NOW + timedelta(days=14)) == ["NEW001"]
        assert store.followups_due(NOW - timedelta(seconds=1)) == []


class TestForwardedBy:
    PASSERS = [
        {"name": "Henrik Dahl", "email": "henrik@relay.example"},
        {"name": None, "email": "nora@relay.example"},
    ]

    def test_passers_are_kept_and_old_intros_have_none(self, tmp_path: Path) -> None:
        """Intros stored before the column existed read as passed on by nobody; new ones keep
        who passed the request on, in order."""
        store = _old_intro_then_upgrade(tmp_path / "s.db", "004_forwarded_by", "awaiting")
        old = store.intro("OLD001")
        assert old is not None and old.forwarded_by == []
        with store.transaction():
            store.insert_intro(
                id="NEW001",
                state="awaiting",
                created=NOW,
                updated=NOW,
                requester_email="isaac@grid.example",
                forwarded_by=self.PASSERS,
            )
        new = store.intro("NEW001")
        assert new is not None and new.forwarded_by == self.PASSERS

    def test_old_intros_are_not_snoozed_and_snoozed_ones_wake_on_their_day(
        self, tmp_path: Path
    ) -> None:
        """Intros stored before 006_snooze read with no snooze day; a snoozed intro is due
        for the timers at its day, not before."""
        store = _old_intro_then_upgrade(tmp_path / "s.db", "006_snooze", "awaiting")
        old = store.intro("OLD001")
        assert old is not None and old.snoozed_until is None and old.state == "awaiting"
        day = NOW + timedelta(days=80)
        with store.transaction():
            store.update_intro("OLD001", NOW, state="snoozed", snoozed_until=day)
        assert store.intro("OLD001").snoozed_until == day  # type: ignore[union-attr]
        asked_before = NOW - timedelta(days=4)
        assert store.timers_due(day - timedelta(seconds=1), asked_before) == []
        assert store.timers_due(day, asked_before) == ["OLD001"]

    def test_suggestions_read_and_are_forgotten(self, tmp_path: Path) -> None:
        """Intros from before 007_suggestions read with no suggestion; `forget` of someone
        who was only suggested, or who only suggested, removes them from the intros."""
        store = _old_intro_then_upgrade(tmp_path / "s.db", "007_suggestions", "review")
        old = store.intro("OLD001")
        assert old is not None and old.suggested is None and old.suggested_by is None
        jane = {"name": "Jane Roe", "email": "jane@grid.example"}
        bob = {"name": "Bob Jones", "email": "bob@grid.example", "intro_id": "OLD001"}
        with store.transaction():
            store.update_intro("OLD001", NOW, suggested=jane)
            store.insert_intro(
                id="NEW001", state="awaiting", created=NOW, updated=NOW, suggested_by=bob
            )
        assert store.intro("OLD001").suggested == jane  # type: ignore[union-attr]
        assert store.intro("NEW001").suggested_by == bob  # type: ignore[union-attr]
        with store.transaction():
            store.forget("JANE@grid.example")
            store.forget("bob@grid.example")
        assert store.intro("OLD001").suggested is None  # type: ignore[union-attr]
        assert store.intro("NEW001").suggested_by is None  # type: ignore[union-attr]

    def test_forget_erases_a_passer(self, tmp_path: Path) -> None:
        """`forget` of someone who only passed a request on removes them from it."""
        store = Store(tmp_path / "s.db")
        with store.transaction():
            store.insert_intro(
                id="NEW001",
                state="awaiting",
                created=NOW,
                updated=NOW,
                requester_email="isaac@grid.example",
                forwarded_by=self.PASSERS,
            )
            store.insert_intro(
                id="NEW002",
                state="awaiting",
                created=NOW,
                updated=NOW,
                requester_email="other@grid.example",
            )
        with store.transaction():
            assert store.forget("Henrik@Relay.example") == 1
        intro = store.intro("NEW001")
        assert intro is not None and intro.forwarded_by == []
        assert intro.requester_email == "isaac@grid.example"


def _mail(store: Store, n: int) -> None:
    store.enqueue(
        intro_id=None,
        template="optin_target",
        role="target",
        sender="a@b",
        recipients=["c@d"],
        message_id=f"<m{n}@x>",
        raw=b"x",
        now=NOW,
    )


def _on_disk(path: Path) -> tuple[list[str], dict[str, str]]:
    """What another connection sees: the outbox's Message-IDs and the meta keys."""
    with sqlite3.connect(path) as db:
        ids = [r[0] for r in db.execute("SELECT message_id FROM outbox ORDER BY id")]
        meta = dict(db.execute("SELECT key, value FROM meta"))
    return ids, meta


class TestBatch:
    def test_a_failing_part_is_undone_alone(self, tmp_path: Path) -> None:
        """Inside a batch a transaction is a savepoint: the failing one is undone, the
        parts before and after it are committed with the batch."""
        store = Store(tmp_path / "s.db")
        with store.batch():
            _mail(store, 1)
            with pytest.raises(RuntimeError):
                with store.transaction():
                    _mail(store, 2)
                    raise RuntimeError("boom")
            with store.transaction():
                _mail(store, 3)
            assert _on_disk(tmp_path / "s.db")[0] == [], "nothing before the commit"
        assert _on_disk(tmp_path / "s.db")[0] == ["<m1@x>", "<m3@x>"]

    def test_a_failing_batch_leaves_nothing(self, tmp_path: Path) -> None:
        store = Store(tmp_path / "s.db")
        with pytest.raises(RuntimeError):
            with store.batch():
                _mail(store, 1)
                raise RuntimeError("killed")
        assert _on_disk(tmp_path / "s.db")[0] == [] and store.outbox_depth() == 0

    def test_a_durable_meta_key_is_on_disk_at_once(self, tmp_path: Path) -> None:
        """A key of durable_meta written inside a batch is committed as it is written
        (with what the batch held then); an open savepoint still undoes what follows it,
        and a batch that fails later keeps the key."""
        store = Store(tmp_path / "s.db")
        store.durable_meta.add("slow_mail")
        with pytest.raises(RuntimeError):
            with store.batch():
                _mail(store, 1)
                store.set_meta("other", "not yet")
                with pytest.raises(ValueError):
                    with store.savepoint():
                        store.set_meta("slow_mail", "INBOX:7:42")
                        ids, meta = _on_disk(tmp_path / "s.db")
                        assert ids == ["<m1@x>"] and meta["slow_mail"] == "INBOX:7:42"
                        _mail(store, 2)
                        raise ValueError("this mail failed")
                _mail(store, 3)
                raise RuntimeError("killed before the batch's commit")
        ids, meta = _on_disk(tmp_path / "s.db")
        assert ids == ["<m1@x>"]
        assert meta["slow_mail"] == "INBOX:7:42" and meta["other"] == "not yet"


class TestSentMarks:
    """A mail the server accepted while the transaction that will hold its sent mark is
    still open is noted in a file of its own; the next start marks it sent."""

    def _queued(self, path: Path, count: int) -> tuple[Store, list[int]]:
        store = Store(path)
        for n in range(count):
            _mail(store, n)
        return store, [r.id for r in store.due_outbox(NOW)]

    def test_noted_rows_are_marked_sent_at_the_next_start(self, tmp_path: Path) -> None:
        store, ids = self._queued(tmp_path / "s.db", 3)
        marks = tmp_path / "s.db.sent-marks"
        with pytest.raises(RuntimeError):
            with store.batch():  # killed before this batch commits: only the notes stay
                store.note_sent(ids[0], NOW)
                store.note_sent(ids[2], NOW + timedelta(seconds=1))
                store.mark_sent(ids[0], NOW)
                raise RuntimeError("killed")
        assert marks.read_text() == (
            f"{ids[0]} 2026-03-04T09:00:00Z\n{ids[2]} 2026-03-04T09:00:01Z\n"
        )
        assert marks.stat().st_mode & 0o777 == 0o600
        assert len(store.due_outbox(NOW)) == 3
        store.close()
        again = Store(tmp_path / "s.db")
        assert again.recover_sent_marks() == 2
        assert [r.id for r in again.due_outbox(NOW)] == [ids[1]]
        sent = again.db.execute("SELECT sent_at FROM outbox WHERE id=?", (ids[2],)).fetchone()
        assert sent[0] == "2026-03-04T09:00:01Z"
        assert marks.read_bytes() == b""
        assert again.recover_sent_marks() == 0

    def test_only_pending_rows_change_and_bad_lines_say_nothing(self, tmp_path: Path) -> None:
        """A row already marked (the batch did commit) is left as it is; a line cut short
        or garbled by a crash of the machine is skipped."""
        store, ids = self._queued(tmp_path / "s.db", 3)
        store.mark_sent(ids[0], NOW)
        store.close()
        marks = tmp_path / "s.db.sent-marks"
        marks.write_bytes(
            f"{ids[0]} 2026-03-04T10:00:00Z\nx y\n{ids[1]} 2026-13-40T99:00:00Z\n"
            f"\x00\x00\n{ids[2]} 2026-03-04T09:0".encode()
        )
        again = Store(tmp_path / "s.db")
        assert again.recover_sent_marks() == 0
        first = again.db.execute("SELECT sent_at FROM outbox WHERE id=?", (ids[0],)).fetchone()
        assert first[0] == "2026-03-04T09:00:00Z"
        assert [r.id for r in again.due_outbox(NOW)] == ids[1:]

    def test_emptied_once_every_mark_is_committed(self, tmp_path: Path) -> None:
        store, ids = self._queued(tmp_path / "s.db", 1)
        store.note_sent(ids[0], NOW)
        with store.transaction():
            store.mark_sent(ids[0], NOW)
            store.forget_sent_notes()  # inside a transaction: not yet
            assert (tmp_path / "s.db.sent-marks").read_bytes() != b""
        store.forget_sent_notes()
        assert (tmp_path / "s.db.sent-marks").read_bytes() == b""

    def test_a_link_in_its_place_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "elsewhere").write_text("")
        (tmp_path / "s.db.sent-marks").symlink_to(tmp_path / "elsewhere")
        with pytest.raises(StateError, match="link"):
            Store(tmp_path / "s.db")


class TestStoredTimes:
    """iso and parse_iso: their short cuts give what strftime and strptime give."""

    @given(
        at=st.datetimes(
            min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)
        )
        | st.datetimes(
            min_value=datetime(1900, 1, 2),
            max_value=datetime(9998, 12, 30),
            timezones=st.timedeltas(timedelta(hours=-23), timedelta(hours=23)).map(timezone),
        )
    )
    def test_round_trip_is_strftime_and_strptime(self, at: datetime) -> None:
        text = iso(at)
        assert text == at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        back = parse_iso(text)
        assert back == datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert back is not None and back.tzinfo is UTC

    def test_equal_times_in_other_zones_are_one_instant(self) -> None:
        at = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)
        assert (
            iso(at) == iso(at.astimezone(timezone(timedelta(hours=-5)))) == "2026-03-04T05:06:07Z"
        )

    def test_other_shapes_are_read_or_refused_as_strptime_does(self) -> None:
        assert parse_iso("2026-3-4T5:6:7Z") == datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
        assert parse_iso("") is None and parse_iso(None) is None
        for bad in ("2026-13-04T05:06:07Z", "2026-W49-1T10:00:07Z", "2026-03-04 05:06:07Z"):
            with pytest.raises(ValueError, match="does not match format"):
                parse_iso(bad)


@pytest.mark.parametrize("returning", [True, False])
def test_an_inserted_intro_comes_back_as_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, returning: bool
) -> None:
    """add_intro returns the row as stored, defaults filled in: what intro() reads,
    with INSERT ... RETURNING and without it (SQLite before 3.35)."""
    from introd import state as state_module

    monkeypatch.setattr(state_module, "_RETURNING", returning)
    store = Store(tmp_path / "s.db")
    with store.transaction():
        bare = store.add_intro(id="BARE01", state="awaiting", created=NOW, updated=NOW)
        full = store.add_intro(
            id="FULL01",
            state="awaiting",
            created=NOW.replace(microsecond=123456),
            updated=NOW,
            expires=NOW + timedelta(days=14),
            requester_name="Tim Walker",
            requester_email="tim@example.test",
            target_name="Zoë Müller",
            target_email=None,
            reason="a reason",
            blurb="the blurb",
            subject="Intro?",
            rule="accept_known",
            candidates=[{"name": "Bob", "email": None, "company": "BigChem"}],
            forwarded_by=[{"name": "Ann", "email": "ann@example.test"}],
            suggested_by={"name": "Jane", "email": "jane@example.test", "intro_id": "BARE01"},
            optin_order="target_first",
        )
    assert bare == store.intro("BARE01")
    assert full == store.intro("FULL01")
    assert bare.candidates == [] and bare.optin_order == "parallel" and bare.blurb == ""
    assert full.created == NOW and full.expires == NOW + timedelta(days=14)


def test_events_written_together_read_as_written_one_by_one(tmp_path: Path) -> None:
    one, many = Store(tmp_path / "one.db"), Store(tmp_path / "many.db")
    events: list[tuple[str, dict[str, object]]] = [
        ("mail_queued", {"template": "optin_target", "to": "target", "message_id": "<m@x>"}),
        ("optin_sent", {"role": "target"}),
        ("noted", {"when": NOW}),
    ]
    for name, detail in events:
        one.add_event("ABC123", name, NOW, **detail)
    many.add_events("ABC123", NOW, events)
    rows = [
        list(s.db.execute("SELECT id, intro_id, at, event, detail FROM events"))
        for s in (one, many)
    ]
    assert [tuple(r) for r in rows[0]] == [tuple(r) for r in rows[1]]
    assert [e["event"] for e in many.events("ABC123")] == ["mail_queued", "optin_sent", "noted"]


class TestNewIntroIds:
    def test_a_taken_id_is_drawn_again(self, tmp_path: Path) -> None:
        store = Store(tmp_path / "s.db")
        with store.transaction():
            store.insert_intro(id="TAKEN1", state="awaiting", created=NOW, updated=NOW)
        draws = iter(["TAKEN1", "TAKEN1", "FRESH1"])
        with store.transaction():
            intro = store.add_new_intro(
                lambda: next(draws), state="awaiting", created=NOW, updated=NOW
            )
        assert intro.id == "FRESH1"
        assert {i.id for i in store.intros()} == {"TAKEN1", "FRESH1"}

    def test_another_refusal_is_not_taken_for_a_taken_id(self, tmp_path: Path) -> None:
        store = Store(tmp_path / "s.db")
        with pytest.raises(sqlite3.IntegrityError), store.transaction():
            store.add_new_intro(lambda: "FRESH1", state=None, created=NOW, updated=NOW)
        assert store.intros() == []


class TestMetaInATransaction:
    """Within a transaction a meta value is read once; what is undone, and what another
    process writes between transactions, is never answered from memory."""

    def test_read_once_within_a_transaction(self, tmp_path: Path) -> None:
        store = Store(tmp_path / "s.db")
        store.set_meta("k", "1")
        statements: list[str] = []
        store.db.set_trace_callback(statements.append)
        with store.transaction():
            assert store.get_meta("k") == "1"
            assert store.get_meta("k") == "1"
            store.set_meta("k", "2")
            assert store.get_meta("k") == "2"
            store.delete_meta("k")
            assert store.get_meta("k") is None
        assert sum("SELECT value FROM meta" in s for s in statements) == 1

    def test_an_undone_savepoint_is_read_again(self, tmp_path: Path) -> None:
        store = Store(tmp_path / "s.db")
        store.set_meta("k", "1")
        with store.batch():
            with pytest.raises(RuntimeError), store.transaction():
                store.set_meta("k", "2")
                assert store.get_meta("k") == "2"
                raise RuntimeError("undone")
            assert store.get_meta("k") == "1"
        assert store.get_meta("k") == "1"

    def test_another_process_is_seen_after_the_transaction(self, tmp_path: Path) -> None:
        store = Store(tmp_path / "s.db")
        other = Store(tmp_path / "s.db")
        with store.transaction():
            assert store.get_meta("k") is None
        other.set_meta("k", "theirs")
        assert store.get_meta("k") == "theirs"
        statements: list[str] = []
        store.db.set_trace_callback(statements.append)
        with store.batch():
            assert store.get_meta("k") == "theirs"
            store.commit_part()  # the write lock is let go for a moment: read again
            assert store.get_meta("k") == "theirs"
        assert sum("SELECT value FROM meta" in s for s in statements) == 2
        other.close()
        store.close()
