"""Guessing the language a party wrote in."""

from __future__ import annotations

import pytest

from introd.reading.language import guess_language


class TestGuessLanguage:
    @pytest.mark.parametrize(
        "text, lang",
        [
            ("Peut-être le mois prochain, je ne suis pas sûre pour le moment.", "fr"),
            ("Yes, happy to help with this, thank you for asking me.", "en"),
            ("Ja, sehr gerne, vielen Dank für die Nachricht.", "de"),
            ("Sí, con gusto, gracias por el mensaje de ayer.", "es"),
        ],
    )
    def test_clear_text(self, text: str, lang: str) -> None:
        """A sentence of ordinary words is recognised."""
        assert guess_language(text) == lang

    @pytest.mark.parametrize("text", ["Yes", "ok", "", "12345", "Merci!"])
    def test_too_short_is_none(self, text: str) -> None:
        """Short text gives no guess rather than a wrong one."""
        assert guess_language(text) is None
