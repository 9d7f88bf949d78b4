"""One table per concern: every reader knows what any of them knew before."""

from __future__ import annotations

import re

import pytest

from introd.reading import words
from introd.reading.answers import new_text
from introd.reading.cleaning import clean_message, is_sign_off
from introd.reading.forward import find_forward
from introd.reading.mailtext import parse_bytes


class TestTables:
    @pytest.mark.parametrize(
        "name",
        [
            "GREETINGS",
            "SIGN_OFFS",
            "CLIENT_FOOTERS",
            "ATTRIBUTION_OPENERS",
            "ATTRIBUTION_VERBS",
            "ATTRIBUTION_VERBS_WITH_TAIL",
            "ORIGINAL_MESSAGE_MARKERS",
            "FORWARD_INTROS",
        ],
    )
    def test_fragments_compile_and_have_no_duplicates(self, name: str) -> None:
        """Each fragment table is a valid pattern and lists each fragment once."""
        table = getattr(words, name)
        re.compile(words.any_of(table))
        assert len(set(table)) == len(table)

    @pytest.mark.parametrize(
        "name",
        [
            "PUT_OFF_PHRASES",
            "CLOSED_DOOR_PHRASES",
            "SNOOZE_MONTH_START",
            "SNOOZE_MONTH_MIDDLE",
            "SNOOZE_MONTH_AFTER",
            "SNOOZE_IN",
            "WEEK_WORDS",
            "MONTH_WORDS",
            "NEXT_WEEK_PHRASES",
            "NEXT_MONTH_PHRASES",
            "NEXT_YEAR_PHRASES",
            "SNOOZE_AFTER_DAY",
            "REDIRECT_PHRASES",
            "SELF_WORDS",
            "NAME_JOINERS",
        ],
    )
    def test_word_tables_are_lower_case_and_listed_once(self, name: str) -> None:
        """The snooze's and the suggestion's word tables are plain lower-case words, once
        each."""
        table = getattr(words, name)
        assert all(w == w.lower().strip() and w for w in table)
        assert len(set(table)) == len(table)

    def test_any_word_escapes_and_spaces_match_any_blank(self) -> None:
        """Plain words are escaped; a space in one matches any run of blanks."""
        pattern = re.compile(words.any_word(["kopie (cc)", "sent by"]) + "$")
        assert pattern.match("kopie (cc)")
        assert pattern.match("sent \t by")
        assert not pattern.match("kopie cc")


class TestUnion:
    def test_polish_attribution_cuts_the_history_of_a_request(self) -> None:
        """A Polish "W dniu ... napisał:" line ends the requester's message (answers knew it)."""
        text = (
            "Dzień dobry,\nproszę o kontakt.\n\n"
            "W dniu 3.03.2025 Jan <jan@x.example> napisał:\n> stare"
        )
        assert "napisał" not in clean_message(text)

    def test_german_footer_of_any_phone_cuts_a_reply(self) -> None:
        """ "Von meinem Samsung Galaxy gesendet" is a client footer (cleaning knew it)."""
        text = "Ja, gerne.\n\nVon meinem Samsung Galaxy gesendet\nTim"
        assert new_text(text) == "Ja, gerne."

    def test_swedish_sign_off_starts_a_signature_for_cleaning(self) -> None:
        """ "Vänliga hälsningar" is a sign-off for cleaning and for answers alike."""
        assert is_sign_off("Med vänliga hälsningar,")
        assert new_text("Ja tack, gärna.\n\nVänliga hälsningar\nAnna") == "Ja tack, gärna."

    def test_italian_client_footer_is_dropped_from_the_owners_note(self) -> None:
        """ "Inviato da iPhone" under the owner's note is not part of it (answers knew it)."""
        raw = (
            b"From: Owner <owner@x.example>\r\nTo: intro@x.example\r\nSubject: Fwd: hi\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            b"Vedi sotto.\r\n\r\nInviato da iPhone\r\n\r\n"
            b"---------- Forwarded message ---------\r\n"
            b"From: Tim Walker <tim@y.example>\r\nDate: Mon, 3 Mar 2025\r\n"
            b"Subject: hi\r\nTo: Owner <owner@x.example>\r\n\r\nHello\r\n"
        )
        fwd = find_forward(parse_bytes(raw))
        assert fwd is not None
        assert fwd.note == "Vedi sotto."

    def test_thanks_in_every_language_of_the_table(self) -> None:
        """A reply that thanks in Italian or Polish thanks (only French to Spanish did)."""
        from introd.reading.answers import thanks_in

        assert thanks_in("Sì, volentieri — grazie mille!")
        assert thanks_in("Tak, chętnie. Dziękuję!")
        assert not thanks_in("Sì, volentieri.")

    def test_a_first_sentence_of_thanks_is_not_the_answer(self) -> None:
        """ "Much appreciated ..." only thanks: the answer is the sentence after it."""
        from introd.reading.answers import classify_answer

        text = "Much appreciated that you thought of me. No, not interested."
        assert classify_answer(text) == "no"

    @pytest.mark.parametrize(
        "separator",
        [
            "Inizio messaggio inoltrato:",
            "Begin doorgestuurd bericht:",
            "Início da mensagem reencaminhada:",
            "---------- Mensagem encaminhada ---------",
            "-----Ursprungligt meddelande-----",
        ],
    )
    def test_separators_of_more_clients_cut_the_history(self, separator: str) -> None:
        """Apple Mail's, Gmail's and Outlook's separators in Italian, Dutch, Portuguese and
        Swedish end the new text of a reply."""
        text = f"Ja, gerne.\n\n{separator}\nFrom: Lisa <lisa@x.example>\n\nOld text"
        assert new_text(text) == "Ja, gerne."
