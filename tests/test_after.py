"""Pure parts of what comes around an introduction: the owner's own first lines."""

from __future__ import annotations

import pytest

from introd.reading import _owner_command


class TestOwnWords:
    @pytest.mark.parametrize(
        "text, verb, intro_id, argument",
        [
            (
                "details\nWho at BigChem specifically, and why them?",
                "details",
                "ABC123",
                "Who at BigChem specifically, and why them?",
            ),
            ("Details K7F3Q2: who exactly?", "details", "K7F3Q2", "who exactly?"),
            ("details", "details", "ABC123", None),
            ("send", "send", "ABC123", None),
            ("Send it, thanks", "send", "ABC123", None),
            ("approve", "approve", "ABC123", None),
        ],
    )
    def test_first_lines(self, text: str, verb: str, intro_id: str, argument: str | None) -> None:
        """`details` carries the question below it; `send` may have a few words after it."""
        cmd = _owner_command(text, "ABC123")
        assert cmd is not None
        assert (cmd.verb, cmd.intro_id, cmd.argument) == (verb, intro_id, argument)

    @pytest.mark.parametrize(
        "text",
        [
            "Send my warm regards to both of them, and tell Bob I said hello from Lisbon.",
            "Sending you this because it matters",
        ],
    )
    def test_longer_text_is_not_send(self, text: str) -> None:
        """A sentence that begins with "send" is the owner's own text, not the command."""
        cmd = _owner_command(text, "ABC123")
        assert cmd is None or cmd.verb != "send"
