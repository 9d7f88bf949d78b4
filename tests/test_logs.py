"""Log lines: one JSON event per line, secrets redacted, syslog priorities for the journal."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import structlog

from introd.logs import journal_stream, setup_logging


class TestJournalStream:
    def test_matching_device_and_inode_is_the_journal(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A descriptor whose device:inode is $JOURNAL_STREAM is systemd's journal stream."""
        with (tmp_path / "stream").open("w") as f:
            st = os.fstat(f.fileno())
            monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
            assert journal_stream(f.fileno())

    @pytest.mark.parametrize("value", ["", "garbage", "1:", ":2", "1:2"])
    def test_anything_else_is_not(
        self, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Unset, malformed or another file's $JOURNAL_STREAM (stderr redirected) is not."""
        monkeypatch.setenv("JOURNAL_STREAM", value)
        with (tmp_path / "stream").open("w") as f:
            assert not journal_stream(f.fileno())

    def test_a_closed_descriptor_is_not(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("JOURNAL_STREAM", "1:2")
        r, w = os.pipe()
        os.close(r)
        os.close(w)
        assert not journal_stream(w)


class TestLines:
    def _lines(self, *, journal: bool, fmt: str = "json") -> list[str]:
        out = io.StringIO()
        setup_logging(fmt, "debug", stream=out, journal=journal)
        log = structlog.get_logger("introd.test")
        log.debug("d_event")
        log.info("i_event", password="hunter2", token="abc")
        log.warning("w_event")
        log.error("e_event")
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            log.exception("x_event")
        return out.getvalue().splitlines()

    def test_journal_lines_carry_their_priority(self) -> None:
        """Under the journal each line starts with <N>: debug 7, info 6, warning 4, error 3."""
        lines = self._lines(journal=True)
        assert [ln[:3] for ln in lines] == ["<7>", "<6>", "<4>", "<3>", "<3>"]
        events = [json.loads(ln[3:]) for ln in lines]
        assert [e["event"] for e in events] == [
            "d_event",
            "i_event",
            "w_event",
            "e_event",
            "x_event",
        ]
        assert "boom" in events[-1]["exception"]  # the traceback stays inside its one line

    def test_no_prefix_elsewhere_and_secrets_redacted(self) -> None:
        lines = self._lines(journal=False)
        events = [json.loads(ln) for ln in lines]
        assert len(events) == 5
        assert events[1]["password"] == "***" and events[1]["token"] == "***"
        assert "hunter2" not in "".join(lines)

    def test_each_line_is_one_write(self) -> None:
        """A line and its newline go out in one write, so that lines of processes sharing
        the stream (the daemon and its template check) never interleave."""
        writes: list[str] = []

        class Stream(io.StringIO):
            def write(self, text: str) -> int:
                writes.append(text)
                return super().write(text)

        setup_logging("json", "info", stream=Stream(), journal=True)
        structlog.get_logger("introd.test").info("one", n=1)
        structlog.get_logger("introd.test").warning("two")
        assert len(writes) == 2 and all(w.startswith("<") and w.endswith("}\n") for w in writes)

    def test_console_format_prefixes_every_line(self) -> None:
        """A multi-line console event keeps its priority on each of its lines."""
        lines = self._lines(journal=True, fmt="console")
        assert lines and all(ln.startswith("<") and ln[2] == ">" for ln in lines)
        assert any(ln.startswith("<3>") and "second line" in ln for ln in lines)
