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
from collections.abc import Callable
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


# -- one check per field: (entry, field, what `introd parse` printed) ----------------------
def _request(got: dict[str, Any]) -> dict[str, Any]:
    return got["request"] or {}


def _target(got: dict[str, Any]) -> dict[str, Any]:
    return _request(got).get("target") or {}


def _kind(entry: dict[str, Any], key: str, got: dict[str, Any]) -> None:
    assert got["kind"] in (entry.get("kind_any_of") or [entry["kind"]])


def _requester_email(entry: dict[str, Any], key: str, got: dict[str, Any]) -> None:
    assert _norm((_request(got).get("requester") or {}).get("email")) == _norm(entry[key])


def _target_email(entry: dict[str, Any], key: str, got: dict[str, Any]) -> None:
    if entry[key] is not None:
        assert _norm(_target(got).get("email")) == _norm(entry[key])
    elif entry.get("decision_rule") == "no_target" and "target_name_contains" not in entry:
        assert _request(got).get("target") is None
    else:
        assert _target(got).get("email") is None


def _target_name_contains(entry: dict[str, Any], key: str, got: dict[str, Any]) -> None:
    assert _norm(entry[key]) in (_norm(_target(got).get("name")) or "")


def _reason_present(entry: dict[str, Any], key: str, got: dict[str, Any]) -> None:
    assert bool((_request(got).get("reason") or "").strip()) == bool(entry[key])


def _contains(part: str) -> Callable[[dict[str, Any], str, dict[str, Any]], None]:
    """The field names one text (or a list of them) the request's ``part`` holds."""

    def check(entry: dict[str, Any], key: str, got: dict[str, Any]) -> None:
        for phrase in _phrases(entry[key]):
            assert _norm(phrase) in (_norm(_request(got).get(part)) or "")

    return check


def _excludes(part: str) -> Callable[[dict[str, Any], str, dict[str, Any]], None]:
    """The field names one text (or a list of them) the request's ``part`` does not hold."""

    def check(entry: dict[str, Any], key: str, got: dict[str, Any]) -> None:
        for phrase in _phrases(entry[key]):
            assert _norm(phrase) not in (_norm(_request(got).get(part)) or "")

    return check


def _reason_contains(entry: dict[str, Any], key: str, got: dict[str, Any]) -> None:
    assert _norm(entry[key]) in (_norm(_request(got).get("reason")) or "")


def _decision(entry: dict[str, Any], key: str, got: dict[str, Any]) -> None:
    assert got["decision"][key.removeprefix("decision_")] == entry[key]


def _reply_intro_id(entry: dict[str, Any], key: str, got: dict[str, Any]) -> None:
    assert _norm((got["reply"] or {}).get("intro_id")) == _norm(entry[key])


def _reply_answer(entry: dict[str, Any], key: str, got: dict[str, Any]) -> None:
    answer = (got["reply"] or {}).get("answer")
    assert answer == entry[key], f"read {answer!r}"


def _forwarded_by(entry: dict[str, Any], key: str, got: dict[str, Any]) -> None:
    passers = [p.get("email") for p in _request(got).get("forwarded_by") or []]
    assert passers == entry[key]


CHECKS: dict[str, Callable[[dict[str, Any], str, dict[str, Any]], None]] = {
    "kind": _kind,
    "requester_email": _requester_email,
    "target_email": _target_email,
    "target_name_contains": _target_name_contains,
    "reason_present": _reason_present,
    "blurb_contains": _contains("blurb"),
    "blurb_excludes": _excludes("blurb"),
    "decision_action": _decision,
    "decision_rule": _decision,
    "reply_intro_id": _reply_intro_id,
    "reply_answer": _reply_answer,
    "forwarded_by": _forwarded_by,
    "reason_contains": _reason_contains,
    "reason_excludes": _excludes("reason"),
}


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

    def test_every_field_has_a_check(self) -> None:
        """Each field the corpus may expect is checked, and nothing else is."""
        assert set(CHECKS) == set(FIELDS)

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
        CHECKS[key](entry, key, parse(entry["file"]))
