"""Pure parts of what comes around an introduction: the owner's own first lines, and the
day a target's "not now, maybe in March" names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from introd.reading import _owner_command
from introd.reading.snooze import snooze_until
from introd.reading.suggestion import suggested_person


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


NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


def _at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 9, 0, tzinfo=UTC)


class TestSnoozeReading:
    @pytest.mark.parametrize(
        "text, until",
        [
            ("Not now, maybe in March.", _at(2027, 3, 1)),
            ("Not until March, sorry.", _at(2027, 3, 1)),
            ("Hi Lisa, not right now, but ask me again after March 15.", _at(2027, 3, 16)),
            ("Too busy until mid-January. Ask me again then?", _at(2027, 1, 15)),
            ("Not now, ask me again in 3 weeks.", _at(2026, 12, 31)),
            ("Not right now: try me again in a couple of months.", _at(2027, 2, 10)),
            ("Not now, after the 15th please.", _at(2026, 12, 16)),
            ("Not this month; maybe next month.", _at(2027, 1, 1)),
            ("Not now, perhaps next year.", _at(2027, 1, 1)),
            ("Not before the end of February, I'm afraid.", _at(2027, 3, 1)),
            ("Pas maintenant, peut-être en mars.", _at(2027, 3, 1)),
            ("Pas avant fin janvier, désolée.", _at(2027, 2, 1)),
            ("Pas pour l'instant, redemandez-moi dans deux mois.", _at(2027, 2, 10)),
            ("Pas maintenant, plutôt après le 15 mars.", _at(2027, 3, 16)),
            ("Jetzt nicht, vielleicht im März.", _at(2027, 3, 1)),
            ("Im Moment nicht, fragen Sie mich in zwei Wochen noch einmal.", _at(2026, 12, 24)),
            ("Erst ab Mitte Februar, tut mir leid.", _at(2027, 2, 15)),
            ("Nicht vor dem 15. März.", _at(2027, 3, 15)),
            ("Ahora no, quizás en marzo.", _at(2027, 3, 1)),
            ("Ahora mismo no, pregúntame dentro de tres semanas.", _at(2026, 12, 31)),
            ("No antes de finales de enero, lo siento.", _at(2027, 2, 1)),
        ],
    )
    def test_a_put_off_answer_names_its_day(self, text: str, until: datetime) -> None:
        """A put-off phrase and one time, in en, fr, de and es, give the day to ask again."""
        assert snooze_until(text, NOW) == until

    @pytest.mark.parametrize(
        "text",
        [
            "Not now.",  # no time
            "No thanks, I met him in March.",  # a time, but nothing put off
            "Not now, maybe in December.",  # this month: this year's or next year's?
            "Not now, maybe in 14 months.",  # more than twelve months away
            "Not now — maybe March or April.",  # a month without a word before it
            "Not now, in March or in May.",  # two different times
            "Not now, in a few weeks.",  # how many?
            "No, never. Don't ask me again in March either.",  # the door is closed
            "Not right now, but later in the spring.",  # a season is no day
            "Jamais, même pas en mars.",
            "Nein, niemals, auch nicht im März.",
            "No me interesa, ni ahora ni en marzo.",
            "",
            "> Not now, maybe in March.",  # quoted, not the target's new words
        ],
    )
    def test_anything_else_is_no_snooze(self, text: str) -> None:
        """No put-off, no time, several times, a closed door or a day out of reach: None."""
        assert snooze_until(text, NOW) is None

    @given(st.text(max_size=300))
    def test_never_raises(self, text: str) -> None:
        """Any text gives a day within twelve months, or None."""
        until = snooze_until(text, NOW)
        assert until is None or NOW < until <= NOW + timedelta(days=367)


# the owner, the requester, the target, introd's own address and a delegate
EXCLUDED = [
    "lisa@example.test",
    "tim@example.test",
    "bob@example.test",
    "intros@example.test",
    "assistant@example.test",
]


class TestSuggestionReading:
    @pytest.mark.parametrize(
        "text, name, email",
        [
            ("Not me, but ask Jane Roe <jane@example.org>.", "Jane Roe", "jane@example.org"),
            (
                "Not me — try my colleague Jane Roe (jane@example.org), she runs that team.",
                "Jane Roe",
                "jane@example.org",
            ),
            ("Not me, ask Jane Roe, jane@example.org", "Jane Roe", "jane@example.org"),
            ("No, sorry. Ask jane@example.org instead.", None, "jane@example.org"),
            (
                "Pas moi, demandez plutôt à Jeanne Dupont <jeanne@example.fr>.",
                "Jeanne Dupont",
                "jeanne@example.fr",
            ),
            (
                "Nicht ich, wenden Sie sich an Anne de Vries <anne@example.de>.",
                "Anne de Vries",
                "anne@example.de",
            ),
            (
                "Yo no, pregunta a María López <maria@example.es>.",
                "María López",
                "maria@example.es",
            ),
        ],
    )
    def test_the_one_person_named_after_a_pointer(
        self, text: str, name: str | None, email: str
    ) -> None:
        """A phrase pointing elsewhere and one address after it: that person, with the
        capitalised words before the address as the name, in en, fr, de and es."""
        person = suggested_person(text, excluded=EXCLUDED)
        assert person is not None and (person.name, person.email) == (name, email)

    @pytest.mark.parametrize(
        "text",
        [
            "Not me, sorry.",  # nobody named
            "Not me. Jane Roe <jane@example.org> knows more.",  # no pointer before it
            "Sorry, contact me at bob.private@example.org",  # the writer's own
            "Not me, ask Lisa <lisa@example.test>",  # the owner
            "Not me, ask Lisa <LISA+intros@example.test>",  # the owner, with a +tag
            "Not me, ask Tim <tim@example.test>",  # the requester
            "Not me, ask Ann <assistant@example.test>",  # a delegate
            "Not me, ask intros+k7f3q2@example.test",  # introd itself
            "Ask Jane <jane@example.org> or Mark <mark@example.org>",  # two people
            "> Not me, but ask Jane Roe <jane@example.org>.",  # quoted, not their own words
            "",
        ],
    )
    def test_anything_else_suggests_nobody(self, text: str) -> None:
        """No pointer, the writer's own or an excluded address, two people, quoted text:
        nobody."""
        assert suggested_person(text, excluded=EXCLUDED) is None

    @given(st.text(max_size=300))
    def test_never_raises(self, text: str) -> None:
        """Any text suggests nobody or one person with an address."""
        person = suggested_person(text, excluded=EXCLUDED)
        assert person is None or "@" in (person.email or "")
