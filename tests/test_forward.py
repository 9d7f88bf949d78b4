"""Finding the forwarded request in an owner's mail."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from introd.reading.forward import find_forward, nested_forward, parse_person
from introd.reading import forward as forwarding
from introd.reading.mailtext import body_text, parse_bytes
from introd.model import Forward, Person
from helpers import assert_written

DATA = Path(__file__).parent / "data" / "forward"
CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "expected.yaml").read_text("utf-8"))
SAMPLES = sorted(p.read_bytes() for p in DATA.glob("*.eml"))


def _read(name: str) -> EmailMessage:
    return parse_bytes((DATA / name).read_bytes())


def _mail(text: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Maren Holt <maren@holt-advisory.example>"
    msg["Subject"] = "Fwd: something"
    msg.set_content(text)
    return msg


class TestFixtures:
    def test_every_fixture_has_an_expectation(self) -> None:
        """Each .eml in the folder is listed in expected.yaml, and the other way round."""
        assert {c["file"] for c in CASES} == {p.name for p in DATA.glob("*.eml")}

    @pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
    def test_reads_forward_as_expected(self, case: dict[str, Any]) -> None:
        """The sender, subject, note, style, depth and body match expected.yaml."""
        found = find_forward(_read(case["file"]))
        if case.get("forward") is False:
            assert found is None
            return
        assert found is not None
        assert found.sender is not None
        assert found.sender.email == case["sender_email"]
        assert found.sender.name == case["sender_name"]
        assert found.style == case["style"]
        assert found.note == case["note"]
        assert found.depth == case.get("depth", 1)
        if "subject" in case:
            assert found.subject == case["subject"]
        for phrase in case.get("body_contains", []):
            assert phrase in found.body
        for phrase in case.get("body_excludes", []):
            assert phrase not in found.body


class TestPeople:
    @pytest.mark.parametrize(
        ("value", "name", "email"),
        [
            ("Ada Byron <Ada@Engine.example>", "Ada Byron", "ada@engine.example"),
            ('"Byron, Ada" <ada@engine.example>', "Byron, Ada", "ada@engine.example"),
            ("Ada Byron [mailto:ada@engine.example]", "Ada Byron", "ada@engine.example"),
            ("Ada Byron <mailto:ada@engine.example>", "Ada Byron", "ada@engine.example"),
            ("ada@engine.example", None, "ada@engine.example"),
            ("<ada@engine.example>", None, "ada@engine.example"),
            ("Ada Byron ada@engine.example", "Ada Byron", "ada@engine.example"),
            ("ada@engine.example (Ada Byron)", "Ada Byron", "ada@engine.example"),
            ("ada@engine.example <ada@engine.example>", None, "ada@engine.example"),
            ("*Ada Byron* <ada@engine.example>", "Ada Byron", "ada@engine.example"),
            ("« Ada Byron » <ada@engine.example>", "Ada Byron", "ada@engine.example"),
            ("Ada Byron", "Ada Byron", None),
            (
                "Ada Byron<mailto:ada@engine.example> "
                "<ada@engine.example<mailto:ada@engine.example>>"
                " on behalf of desk@engine.example<mailto:desk@engine.example>",
                "Ada Byron",
                "ada@engine.example",
            ),
        ],
    )
    def test_parses_sender_formats(self, value: str, name: str | None, email: str | None) -> None:
        """Every sender format of forward header blocks gives the name and lower-cased address."""
        assert parse_person(value) == Person(name=name, email=email)

    @pytest.mark.parametrize("value", ["", "   ", "<>", "12:30", "***"])
    def test_no_person_in_empty_values(self, value: str) -> None:
        """A value with no name and no address gives None."""
        assert parse_person(value) is None


class TestInlineForwards:
    @pytest.mark.parametrize(
        ("text", "email"),
        [
            (
                "-------- Original Message --------\nSubject: Hi\nDate: today\n"
                "From: Ola Nordmann <ola@nord.example>\nTo: me@x.example\n\nBody",
                "ola@nord.example",
            ),
            (
                "> Begin forwarded message:\n>\n> From: Ola Nordmann <ola@nord.example>\n"
                "> Subject: Hi\n> Date: today\n>\n> Body",
                "ola@nord.example",
            ),
            (
                "De : Ola Nordmann <ola@nord.example>\nEnvoyé : lundi\nÀ : moi\n"
                "Objet : Salut\n\nCorps",
                "ola@nord.example",
            ),
            (
                "**From:** Ola Nordmann <ola@nord.example>\n**Sent:** Monday\n"
                "**Subject:** Hi\n\nBody",
                "ola@nord.example",
            ),
            (
                "FROM: Ola Nordmann <ola@nord.example>\nDATE: Monday\nSUBJECT: Hi\n\nBody",
                "ola@nord.example",
            ),
            (
                "---------- Forwarded message ---------\nFrom: Ola <ola@nord.example>\n"
                "Date: Mon\n\nBody",
                "ola@nord.example",
            ),
            (
                "On Mon, Feb 10, 2025 at 9:31 AM Ola Nordmann <ola@nord.example>\nwrote:\n\n> Body",
                "ola@nord.example",
            ),
        ],
    )
    def test_finds_sender_in_header_block_variants(self, text: str, email: str) -> None:
        """Separators, quoting, French spacing, bold and upper-case labels, attributions."""
        found = find_forward(_mail("my note\n\n" + text))
        assert found is not None and found.sender is not None
        assert found.sender.email == email
        assert found.note == "my note"

    @pytest.mark.parametrize(
        "text",
        [
            "Hi, please introduce Ann <ann@a.example> to Bob <bob@b.example>.\n\nThanks",
            "From: the desk of Maren\n\nJust a note.",
            "Subject: lunch\n\nShall we meet?",
            "",
        ],
    )
    def test_no_forward_in_plain_notes(self, text: str) -> None:
        """An owner's own note, even with a stray label, is not a forward."""
        assert find_forward(_mail(text)) is None

    def test_note_keeps_owner_lines_ending_in_colon(self) -> None:
        """An owner's line ending in ':' is part of the note, not a forward separator."""
        text = (
            "Please connect him with Dr. Becker:\n\n"
            "De: Ola <ola@nord.example>\nEnviado el: lunes\nPara: Maren\n"
            "Importancia: Alta\nAsunto: Hola\n\nCuerpo"
        )
        found = find_forward(_mail(text))
        assert found is not None
        assert found.note == "Please connect him with Dr. Becker:"
        assert found.subject == "Hola" and found.body == "Cuerpo"

    def test_note_drops_client_footer(self) -> None:
        """'Get Outlook for iOS' and similar lines are not part of the owner's note."""
        text = (
            "intro: Bo Li\n\nSent from my iPhone\n\n________________________________\n"
            "From: Ola <ola@nord.example>\nSent: Monday\nSubject: Hi\n\nBody"
        )
        found = find_forward(_mail(text))
        assert found is not None and found.note == "intro: Bo Li"

    def test_depth_is_bounded(self) -> None:
        """Deeply nested empty forwards stop at the depth limit and still give a sender."""
        block = "---------- Forwarded message ---------\nFrom: P{0} <p{0}@x.example>\nDate: d\n\n"
        text = "".join(block.format(i) for i in range(30)) + "Body"
        found = find_forward(_mail(text))
        assert found is not None and found.sender is not None
        assert found.depth == 10


class TestHostileInput:
    @pytest.mark.parametrize(
        "text",
        [
            "From: " + "a" * 60000 + "\nDate: x\nSubject: y\n\nbody",
            "From: " + "a." * 30000 + "\nDate: x\nSubject: y\n\nbody",
            "From: x@" + "a-" * 30000 + "\nDate: x\nSubject: y\n\nbody",
            "From: " + "b<mailto:" * 5000 + "\nDate: x\nSubject: y\n\nbody",
            "-- " * 20000 + "\nFrom: a <a@b.example>\nDate: x\nSubject: y\n",
        ],
        ids=["word", "dots", "domain", "mailto", "dashes"],
    )
    def test_long_lines_are_read_in_linear_time(self, text: str) -> None:
        """Huge header values (which would hang a backtracking pattern) still give a result."""
        found = find_forward(_mail(text))
        assert found is not None


class TestNeverRaises:
    @settings(max_examples=150, deadline=None)
    @given(st.binary(max_size=3000))
    def test_random_bytes(self, raw: bytes) -> None:
        """Any bytes at all: the finder itself (not find_forward's last-resort guard)
        returns a Forward or None, and names only a sender written in the mail."""
        msg = parse_bytes(raw)
        _assert_read_from(forwarding._find_forward(msg), msg, raw)

    @settings(max_examples=150, deadline=None)
    @given(st.sampled_from(SAMPLES), st.data())
    def test_mutated_fixtures(self, raw: bytes, data: st.DataObject) -> None:
        """Fixtures with bytes flipped, cut or inserted: the finder raises nothing and
        names only a sender written in the mail."""
        edits = data.draw(
            st.lists(st.tuples(st.integers(0, len(raw)), st.binary(max_size=8)), max_size=8)
        )
        mutated = bytearray(raw)
        for position, chunk in edits:
            mutated[position : position + len(chunk)] = chunk
        cut = data.draw(st.integers(0, len(mutated)))
        raw = bytes(mutated[:cut]) if cut % 3 == 0 else bytes(mutated)
        msg = parse_bytes(raw)
        _assert_read_from(forwarding._find_forward(msg), msg, raw)

    @pytest.mark.parametrize("raw", SAMPLES[:8])
    def test_fixtures_pass_the_same_checks(self, raw: bytes) -> None:
        """The unmutated fixtures are forwards and pass the checks above (not vacuous)."""
        msg = parse_bytes(raw)
        found = forwarding._find_forward(msg)
        assert found is not None and found.sender is not None
        _assert_read_from(found, msg, raw)

    @settings(max_examples=200, deadline=None)
    @given(st.text(max_size=2000))
    def test_random_text_bodies(self, text: str) -> None:
        """Any text as a body: the finder raises nothing and names only a sender written
        in the text."""
        msg = EmailMessage()
        try:
            msg.set_content(text)
        except Exception:
            return
        _assert_read_from(forwarding._find_forward(msg), msg, msg.as_bytes())


def _assert_read_from(found: Forward | None, msg: EmailMessage, raw: bytes) -> None:
    """A forward read from `msg`: at least one deep, its sender's address in the mail."""
    if found is None:
        return
    assert found.depth >= 1
    if found.sender is not None and found.sender.email:
        bodies = [body_text(part) for part in msg.walk()]
        assert_written(
            [found.sender.email], raw.decode("utf-8", "replace"), body_text(msg), *bodies
        )


class TestNestedForward:
    def test_forward_inside_a_forwarded_message(self) -> None:
        """The message a forwarder passed on, with the forwarder's own words as its note."""
        outer = Forward(
            note="",
            sender=Person(name="Jonas Berg", email="jonas@berg.example"),
            subject="Fwd: intro",
            body=(
                "She is great, could you help?\n\n---------- Forwarded message ---------\n"
                "From: Lea Roth <lea@roth.example>\nDate: Mon, Mar 3, 2025 at 9:00 AM\n"
                "Subject: intro\nTo: Jonas Berg <jonas@berg.example>\n\nHi Jonas, could Mara "
                "introduce me to Walter Pryce?\n\nLea\n"
            ),
            style="gmail",
            depth=1,
        )
        inner = nested_forward(outer)
        assert inner is not None
        assert inner.sender == Person(name="Lea Roth", email="lea@roth.example")
        assert "She is great" in inner.note and "Walter Pryce" in inner.body
        assert inner.depth == 2

    def test_no_forward_inside(self) -> None:
        """A plain forwarded message has nothing nested."""
        fwd = Forward(note="", sender=None, subject="", body="Hello there.\n", style="gmail")
        assert nested_forward(fwd) is None
