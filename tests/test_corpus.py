"""The fixture corpus read exactly as `introd parse` reads it, field by field.

Every mail in tests/data/corpus has an entry in expected.yaml (the format of the
shared check corpus); each expected field is one test, so a failure names both
the file and the field.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from introd.cli import main

CORPUS = Path(__file__).parent / "data" / "corpus"
NOW = datetime(2025, 3, 6, 12, 0, tzinfo=UTC)
FIELDS = (
    "kind",
    "requester_email",
    "target_email",
    "target_name_contains",
    "reason_present",
    "blurb_contains",
    "blurb_excludes",
    "decision_action",
    "decision_rule",
    "reply_intro_id",
    "reply_answer",
    # read by this suite only (the shared checker ignores them)
    "forwarded_by",
    "reason_contains",
    "reason_excludes",
)


# Fields this corpus expects that a module outside mail reading does not give yet:
# (file, field) -> why. Strict: when the reading is fixed, the entry must go.
KNOWN_GAPS: dict[tuple[str, str], str] = {}


def _expected() -> list[dict[str, Any]]:
    return list(yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8")))


@cache
def _parsed() -> dict[str, dict[str, Any]]:
    """What `introd parse` prints for the whole corpus (without state), by file name."""
    files = sorted(str(p) for p in CORPUS.glob("*.eml"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(
            ["parse", "--config", str(CORPUS / "config.yaml"), "--now", NOW.isoformat(), *files]
        )
    assert status == 0
    return {Path(r["file"]).name: r for r in json.loads(out.getvalue())}


def parse(name: str) -> dict[str, Any]:
    """What `introd parse` printed for one corpus file."""
    return _parsed()[name]


def _norm(value: Any) -> str | None:
    return None if value is None else " ".join(str(value).split()).lower()


def _phrases(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _cases() -> list[Any]:
    cases = []
    for entry in _expected():
        for key in FIELDS:
            if key in entry or (key == "kind" and "kind_any_of" in entry):
                gap = KNOWN_GAPS.get((entry["file"], key))
                marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
                cases.append(pytest.param(entry, key, id=f"{entry['file']}-{key}", marks=marks))
    return cases


class TestCorpus:
    def test_every_mail_has_an_entry(self) -> None:
        """Each .eml in the corpus is described in expected.yaml, and each entry has its file."""
        files = {p.name for p in CORPUS.glob("*.eml")}
        described = {e["file"] for e in _expected()}
        assert files == described
        assert len(files) >= 80

    def test_known_gaps_are_in_the_corpus(self) -> None:
        """Every known gap names a file and a field that the corpus expects."""
        entries = {e["file"]: e for e in _expected()}
        for name, key in KNOWN_GAPS:
            assert key in entries[name]

    def test_covers_every_language_and_kind(self) -> None:
        """The corpus holds requests in four languages and every kind of mail."""
        names = " ".join(e["file"] for e in _expected())
        for lang in ("_en_", "_fr_", "_de_", "_es_"):
            assert lang in names
        kinds = {e.get("kind") for e in _expected()}
        assert {"request", "reply", "owner_command", "auto_reply", "bounce"} <= kinds

    @pytest.mark.parametrize(("entry", "key"), _cases())
    def test_field(self, entry: dict[str, Any], key: str) -> None:
        """One expected field of one mail holds in what `introd parse` reports."""
        got = parse(entry["file"])
        req = got["request"] or {}
        target = req.get("target") or {}
        if key == "kind":
            assert got["kind"] in (entry.get("kind_any_of") or [entry["kind"]])
        elif key == "requester_email":
            assert _norm((req.get("requester") or {}).get("email")) == _norm(entry[key])
        elif key == "target_email":
            if entry[key] is None:
                if (
                    entry.get("decision_rule") == "no_target"
                    and "target_name_contains" not in entry
                ):
                    assert req.get("target") is None
                else:
                    assert target.get("email") is None
            else:
                assert _norm(target.get("email")) == _norm(entry[key])
        elif key == "target_name_contains":
            assert _norm(entry[key]) in (_norm(target.get("name")) or "")
        elif key == "reason_present":
            assert bool((req.get("reason") or "").strip()) == bool(entry[key])
        elif key == "blurb_contains":
            for phrase in _phrases(entry[key]):
                assert _norm(phrase) in (_norm(req.get("blurb")) or "")
        elif key == "blurb_excludes":
            for phrase in _phrases(entry[key]):
                assert _norm(phrase) not in (_norm(req.get("blurb")) or "")
        elif key == "decision_action":
            assert got["decision"]["action"] == entry[key]
        elif key == "decision_rule":
            assert got["decision"]["rule"] == entry[key]
        elif key == "reply_intro_id":
            assert _norm((got["reply"] or {}).get("intro_id")) == _norm(entry[key])
        elif key == "forwarded_by":
            passers = [p.get("email") for p in req.get("forwarded_by") or []]
            assert passers == entry[key]
        elif key == "reason_contains":
            assert _norm(entry[key]) in (_norm(req.get("reason")) or "")
        elif key == "reason_excludes":
            for phrase in _phrases(entry[key]):
                assert _norm(phrase) not in (_norm(req.get("reason")) or "")
        elif key == "reply_answer":
            answer = (got["reply"] or {}).get("answer")
            assert answer == entry[key], f"read {answer!r}"
