from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from introd.config import build_config
from introd.reading import Context, answers, mailtext, read_mail
from introd.reading.answers import classify_answer, new_text, read_owner_command
from introd.reading.people import ContactBook

REPLIES = Path(__file__).parent / "data" / "replies"

# fragments of replies, for the property checks: answers, hedges, greetings, quote marks,
# attributions, separators and signatures in any order
_NO_BREAK = st.characters(blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
ATTRIBUTIONS = [
    "On Wed, Mar 5, 2025 at 10:00 AM Marta <m@x.example> wrote:",
    "Le mer. 5 mars 2025 à 10:00, Marta <m@x.example> a écrit :",
    "Am Mi., 5. März 2025 um 10:00 Uhr schrieb Marta <m@x.example>:",
    "Il giorno mer 5 mar 2025 alle ore 10:00 Marta <m@x.example> ha scritto:",
    "Op wo 5 mrt 2025 om 10:00 schreef Marta <m@x.example>:",
    "Em qua., 5 de mar. de 2025 às 10:00, Marta <m@x.example> escreveu:",
    "W dniu 5.03.2025 o 10:00 Marta <m@x.example> napisał(a):",
]
QUOTED_YES = ["Yes please!", "Sure, happy to.", "Oui, volontiers", "Ja, gerne", "👍", "✅ yes"]
REPLY_TEXT = st.lists(
    st.sampled_from(
        [
            *QUOTED_YES,
            *ATTRIBUTIONS,
            "Hi Lisa,",
            "No thanks.",
            "Maybe later",
            "Let me think.",
            "but not before March",
            "> ",
            ">",
            "-- ",
            "-----Original Message-----",
            "From: Marta",
            "Sent: Monday",
            "Best regards,",
            "Sent from my iPhone",
            "On Monday",
            "wrote:",
            " ",
            "\n",
            "\n\n",
            "\r\n",
            "?",
            ".",
        ]
    ),
    max_size=30,
).map("".join)
COMMAND_TEXT = st.lists(
    st.sampled_from(
        [
            "approve",
            "decline",
            "cancel",
            "status",
            "annuler",
            "Hi Lisa,",
            " ",
            "\n",
            ":",
            "#",
            "intro ",
            "[intro K7F3Q2]",
            "K7F3Q2",
            "please",
            "3",
            "12",
            "0",
            ".",
            ")",
            "target: ",
            "to: ",
            "<",
            ">",
            "mailto:",
            "bob@x.example",
            "Bob Jones",
            "’",
        ]
    ),
    max_size=12,
).map("".join)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    """The engine's reading context: a party's reply is read as it is in `introd run`."""
    cfg = build_config(
        {
            "owner": {"name": "Lisa Balbes", "addresses": ["lisa@balbes.example"]},
            "reply_address": "intros@balbes.example",
            "auth": {"trusted_authserv_ids": ["mx.balbes.example"]},
        },
        path=tmp_path_factory.mktemp("answers") / "c.yaml",
        need_servers=False,
    )
    return Context(config=cfg, contacts=ContactBook([]), secret=b"s" * 32)


def _read(name: str, ctx: Context) -> tuple[str, str]:
    reading = read_mail((REPLIES / name).read_bytes(), ctx)
    assert reading.kind == "reply" and reading.answer is not None, reading
    return reading.answer.text, reading.answer.answer


# file, expected answer, a phrase of the new text, a phrase that must be gone
REPLY_FILES = [
    ("gmail_en_yes_wrapped_attribution.eml", "yes", "Yes, glad to.", "wrote:"),
    ("outlook_desktop_no_from_sent_block.eml", "no", "I'd rather not", "Director of Operations"),
    ("outlook_original_message_yes.eml", "yes", "please go ahead", "Original Message"),
    ("outlook_ios_underscores_no.eml", "no", "Not interested", "Get Outlook"),
    ("apple_mail_unclear_iphone.eml", "unclear", "ask me again", "Sent from my iPhone"),
    ("thunderbird_yes_quoted.eml", "yes", "Sure, sounds good.", "Fernline Logistics"),
    ("yahoo_no_thanks.eml", "no", "No thanks", "Yahoo Mail"),
    ("proton_yes.eml", "yes", "happy to talk", "Proton Mail"),
    ("gmail_fr_oui_volontiers.eml", "yes", "Oui, volontiers", "a écrit"),
    ("outlook_fr_de_envoye_non_merci.eml", "no", "Non merci", "Envoyé"),
    ("gmail_de_ja_gerne.eml", "yes", "ja, sehr gerne", "schrieb"),
    ("outlook_de_von_gesendet_leider_nicht.eml", "no", "Leider nicht", "Gesendet"),
    ("gmail_es_claro_que_si.eml", "yes", "Claro, con mucho gusto", "escribió"),
    ("outlook_es_de_enviado_quizas.eml", "unclear", "Quizás más adelante", "Enviado"),
    ("owa_html_only_hedged_yes.eml", "unclear", "Yes, but not before", "Would you like"),
    ("yes_only_in_quote_unclear.eml", "unclear", "check with my manager", "yes - I will"),
    ("no_then_hedge_after_dash.eml", "no", "Not right now, sorry", "Would you like"),
]


class TestReplyFiles:
    @pytest.mark.parametrize(("name", "answer", "kept", "gone"), REPLY_FILES)
    def test_reads_answer_of_each_client(
        self, ctx: Context, name: str, answer: str, kept: str, gone: str
    ) -> None:
        """Each client's reply gives its answer, keeps its new words, drops history."""
        text, word = _read(name, ctx)
        assert word == answer
        assert kept in text
        assert gone not in text

    def test_every_fixture_is_in_the_table(self) -> None:
        """No reply fixture goes untested."""
        assert {p.name for p in REPLIES.glob("*.eml")} == {row[0] for row in REPLY_FILES}


class TestNewText:
    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            (
                "Yes!\n\nOn Mon, Mar 3, 2025 at 9:12 PM Ruth <r@x.example> wrote:\n> yes - intro",
                "Yes!",
            ),
            (
                "Yes!\n\nOn Mon, Mar 3, 2025 at 9:12 PM Ruth Okafor <ruth@x.example>\nwrote:\n> no",
                "Yes!",
            ),
            ("Sure\n\nOn 3 Mar 2025, at 21:12, Ruth Okafor wrote:\n\n> Hi", "Sure"),
            ("Oui\n\nLe lun. 3 mars 2025 à 21:12, Ruth <r@x.example> a écrit :\n> Bonjour", "Oui"),
            ("Ja\n\nAm 03.03.2025 um 21:12 schrieb Ruth Okafor:\n> Hallo", "Ja"),
            ("Ja\n\nAm Mo., 3. März 2025 um 21:12 Uhr schrieb Ruth <r@x.example>:\n> Hallo", "Ja"),
            ("Sí\n\nEl lun, 3 mar 2025 a las 21:12, Ruth (<r@x.example>) escribió:\n> Hola", "Sí"),
            ("No\n\n-----Original Message-----\nFrom: Ruth\nSent: Monday\n\nyes", "No"),
            ("Nein\n\n-----Ursprüngliche Nachricht-----\nVon: Ruth\n\nja", "Nein"),
            ("Non\n\n-----Message d'origine-----\nDe : Ruth\n\noui", "Non"),
            ("No\n\n-----Mensaje original-----\nDe: Ruth\n\nsí", "No"),
            ("No\n\nFrom: Ruth <r@x.example>\nSent: Monday, March 3, 2025\nTo: M\n\nyes", "No"),
            ("Non\n\nDe : Ruth <r@x.example>\nEnvoyé : lundi 3 mars 2025\n\noui", "Non"),
            ("Nein\n\nVon: Ruth <r@x.example>\nGesendet: Montag\n\nja", "Nein"),
            ("No\n\nDe: Ruth <r@x.example>\nEnviado: lunes\n\nsí", "No"),
            ("No\n\n________________________________\nFrom: Ruth\nyes", "No"),
            ("Happy to\n-- \nMarcus Hale\nyes", "Happy to"),
            ("Happy to\n\nSent from my iPhone", "Happy to"),
            ("Oui\n\nEnvoyé de mon iPhone", "Oui"),
            ("Ja\n\nVon meinem iPhone gesendet", "Ja"),
            ("Sí\n\nEnviado desde mi iPhone", "Sí"),
            ("Sure\n\nGet Outlook for iOS", "Sure"),
            ("Ja\n\nOutlook für iOS<https://aka.ms/x> herunterladen", "Ja"),
            ("Sí\n\nDescargar Outlook para Android", "Sí"),
            ("Oui\n\n----- Message transmis -----\nDe : Ruth", "Oui"),
            ("Yes\n> quoted yes\nand more", "Yes\nand more"),
            ("Yes, happy to.\n\nBest regards,\nMarcus Hale\nFernline", "Yes, happy to."),
            ("", ""),
        ],
    )
    def test_keeps_only_the_new_words(self, body: str, expected: str) -> None:
        """Quoted history, attributions, separators and signatures are cut away."""
        assert new_text(body) == expected

    def test_keeps_a_closing_followed_by_a_long_message(self) -> None:
        """A "Thanks," line with a long text after it is not taken for a signature."""
        body = "Yes.\n\nThanks,\n" + "\n".join(f"line {i} of a longer note" for i in range(12))
        assert "line 11" in new_text(body)

    def test_handles_crlf(self) -> None:
        """Windows line ends do not defeat the quote detection."""
        assert new_text("No.\r\n\r\nOn Mon, 3 Mar 2025, Ruth wrote:\r\n> yes\r\n") == "No."


class TestClassifyAnswer:
    @pytest.mark.parametrize(
        "text",
        [
            "Yes",
            "yes.",
            "Yes, happy to talk with her.",
            "Sure, happy to help.",
            "Happy to!",
            "Glad to help.",
            "Of course.",
            "Absolutely",
            "Sounds good.",
            "Please do.",
            "Go ahead.",
            "I'd be happy to.",
            "Hi Lisa,\n\nYes, please connect us.",
            "Dear Ruth,\nyes",
            "Hi Lisa, yes happy to",
            "No problem, happy to.",
            "Thanks for thinking of me! Yes, of course.",
            "Oui, avec plaisir.",
            "Volontiers.",
            "D'accord.",
            "D\u2019accord, allez-y.",
            "Bonjour Ruth,\n\nOui bien sûr.",
            "Ja, gerne.",
            "Sehr gerne!",
            "Klar.",
            "Hallo Ruth,\nja",
            "Sí, claro.",
            "Con gusto.",
            "Encantada.",
            "Por supuesto.",
            "Hola Ruth:\n\nSí, adelante.",
            "OK",
            "Yes please!",
            "Yes\nI'd be glad to",
            "Sí, no hay problema.",
            "Yes — happy to connect.",
            "Absolutely! Please introduce us.",
            "Sounds great, please connect us.",
            "Of course, feel free to share my email.",
            "Sure thing!",
            "Ok, go ahead.",
            "Happy to. Send him my way.",
            "Yes, still interested! Here is my note:",
            "Ruth -\n\nYes, happy to.",
            "Marcus\n\nyes",
            "I would love that.",
            "Avec grand plaisir !",
            "Gerne doch.",
            "Me parece bien.",
            "Claro que sí.",
            "That would be great.",
            "Sí, por favor.",
        ],
    )
    def test_yes(self, text: str) -> None:
        """Plain consent in any of the four languages is a yes."""
        assert classify_answer(text) == "yes"

    @pytest.mark.parametrize(
        "text",
        [
            "No",
            "No.",
            "No thanks.",
            "No, thank you.",
            "Not now.",
            "Not interested.",
            "I'll pass.",
            "I'd rather not.",
            "I must decline.",
            "Sure not.",
            "Not now, sorry — perhaps after the summer.",
            "Not now, sorry – maybe in autumn.",
            "No thanks – I am not able to take this on.",
            "Hi Lisa,\n\nno thanks",
            "Non.",
            "Non merci.",
            "Pas maintenant.",
            "Nein.",
            "Nein, danke.",
            "Leider nicht.",
            "Kein Interesse.",
            "Lieber nicht.",
            "No, gracias.",
            "No gracias.",
            "Ahora no.",
            "Prefiero no.",
            "Absolutely not.",
            "Of course not.",
            "Unfortunately not.",
            "Thanks, but no.",
            "Thanks but no thanks.",
            "Thanks, but I'll pass.",
            "I'm going to decline this one.",
            "Sorry, I can't help with this.",
            "Please don't share my details.",
            "Pas pour l'instant, merci.",
            "Malheureusement, je ne suis pas disponible.",
            "Momentan leider nicht.",
            "Ich habe leider keine Zeit.",
            "Ahora mismo no puedo.",
            "I no longer need the introduction.",
            "I'll have to say no this time, sorry.",
            "Por ahora no, lo siento. Quizás más adelante.",
        ],
    )
    def test_no(self, text: str) -> None:
        """A refusal in the first sentence is a no, even if a hedge follows."""
        assert classify_answer(text) == "no"

    @pytest.mark.parametrize(
        "text",
        [
            "Maybe next month?",
            "maybe",
            "Let me think about it.",
            "Not sure.",
            "I'm not sure yet.",
            "Not right now but later.",
            "Not now, but maybe later.",
            "Yes, but maybe next month.",
            "Sure, let me think about it.",
            "Happy to, but not before March.",
            "Yes. But not before March.",
            "Peut-être.",
            "Vielleicht.",
            "Quizás.",
            "Tal vez más adelante.",
            "Oui, mais pas avant avril.",
            "Ja, aber erst im Mai.",
            "Sí, pero más adelante.",
            "Who is she?",
            "Thanks for the note.",
            "",
            "   ",
            "Let me check with my team first.",
            "Yes?",
            "Sure, if she can do Tuesdays.",
            "Hi Lisa,",
            "Thanks!\n\nI'll get back to you next week.",
            "Make sure she knows I'm busy.",
            "Yes, I'd like that very much, though I'm away next week.",
            "Is that ok with her?",
            "I'm not the right person but happy to suggest someone.",
            "Let me sleep on it.",
            "Sure, why not?",
            "Quizás más adelante.",
            "Sí, pero más adelante.",
        ],
    )
    def test_unclear(self, text: str) -> None:
        """Hedges, questions and empty text are unclear; never a false yes."""
        assert classify_answer(text) == "unclear"

    def test_yes_in_a_later_sentence_does_not_count(self) -> None:
        """Only the first sentence decides."""
        assert classify_answer("I need to check my calendar. Yes might work.") == "unclear"

    def test_yes_only_in_quoted_original_is_not_a_yes(self) -> None:
        """A yes that only appears in the quoted original is not an answer."""
        body = (
            "Let me get back to you.\n\nOn Mon, Mar 3, 2025 at 9:12 PM Ruth "
            "<r@x.example> wrote:\n> yes - I will introduce you both\n"
        )
        assert classify_answer(new_text(body)) == "unclear"


class TestReadOwnerCommand:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("approve", ("approve", None, None)),
            ("Approve K7F3Q2", ("approve", "K7F3Q2", None)),
            ("approve k7f3q2\n\nthanks", ("approve", "K7F3Q2", None)),
            ("decline", ("decline", None, None)),
            ("Decline K7F3Q2.", ("decline", "K7F3Q2", None)),
            ("cancel K7F3Q2", ("cancel", "K7F3Q2", None)),
            ("status", ("status", None, None)),
            ("approve please", ("approve", None, None)),
            ("approve ABCDEF", ("approve", "ABCDEF", None)),
            ("2", ("pick", None, "2")),
            ("2.", ("pick", None, "2")),
            ("#3", ("pick", None, "3")),
            ("1. Sarah Chen <sarah.chen@helix.example>", ("pick", None, "1")),
            ("bob.jones@bigchem.example", ("target", None, "bob.jones@bigchem.example")),
            (
                "Bob Jones <bob.jones@bigchem.example>",
                ("target", None, "bob.jones@bigchem.example"),
            ),
            ("<mailto:bob@bigchem.example>", ("target", None, "bob@bigchem.example")),
            ("\n\n  approve K7F3Q2  \n", ("approve", "K7F3Q2", None)),
            ("Hi,\napprove", ("approve", None, None)),
        ],
    )
    def test_reads_command(self, text: str, expected: tuple[str, str | None, str | None]) -> None:
        """The first meaningful line gives the verb, the intro id and the argument."""
        assert read_owner_command(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "Thanks, this looks great",
            "Approval pending",
            "0",
            "2025 was a good year",
            "please approve",
            "I wrote to bob@x.example yesterday about it",
        ],
    )
    def test_not_a_command(self, text: str) -> None:
        """Anything else is not a command."""
        assert read_owner_command(text) is None


class TestNeverRaises:
    @pytest.mark.parametrize(
        "text",
        [
            " " * 50_000 + "x",
            "-" * 50_000,
            "\n" * 50_000,
            "On " * 20_000,
            "Hi " * 20_000,
            "From: x\n" * 5_000,
            "a@" + "a" * 50_000,
            "@a" * 25_000,
            "ab-" * 20_000,
        ],
    )
    def test_huge_hostile_text_is_read(self, text: str) -> None:
        """Pathological text is read in linear time (no regex backtracking blow-up)."""
        assert classify_answer(new_text(text)) in ("yes", "no", "unclear")
        read_owner_command(text)

    @given(st.one_of(st.text(), REPLY_TEXT))
    def test_new_text_is_lines_of_the_reply(self, text: str) -> None:
        """The new text is lines of the reply, in their order, none of them quoted; cutting
        and classifying run without new_text's and classify_answer's catch-alls."""
        lines = _lines(text)
        kept = answers._cut_signature(answers._cut_quoted(lines))
        _assert_lines_of(kept, lines)
        assert not any(ln.lstrip().startswith(">") for ln in kept)
        new = new_text(text)
        _assert_lines_of(_lines(new), lines)
        for sentence in answers._sentences(new):
            assert answers._judge(sentence) in ("yes", "no", "unclear")
        assert classify_answer(new) in ("yes", "no", "unclear")

    @given(
        new=st.one_of(st.text(), REPLY_TEXT),
        quoted=st.lists(
            st.one_of(st.sampled_from(QUOTED_YES), st.text(alphabet=_NO_BREAK, max_size=40)),
            min_size=1,
            max_size=5,
        ),
        attribution=st.sampled_from(["", *ATTRIBUTIONS]),
    )
    def test_quoted_text_never_changes_the_answer(
        self, new: str, quoted: list[str], attribution: str
    ) -> None:
        """Quoted history below a reply, with or without an attribution line, changes
        neither its new text nor its answer: a yes is never read from the quote."""
        head = f"{attribution}\n" if attribution else ""
        body = f"{new}\n\n{head}" + "".join(f"> {ln}\n" for ln in quoted)
        assert new_text(body) == new_text(new)
        word = classify_answer(new_text(body))
        assert word == classify_answer(new_text(new))
        if classify_answer(new_text(new)) != "yes":
            assert word != "yes"

    def test_a_dutch_attribution_naming_the_writer_is_cut(self) -> None:
        """Dutch, like German, writes the name after the verb ("schreef Marta <...>:"):
        the line is the quote's start, not new text."""
        attribution = "Op wo 5 mrt 2025 om 10:00 schreef Marta <m@x.example>:"
        body = f"Ik denk erover na.\n\n{attribution}\n> Ja\n"
        assert new_text(body) == new_text("Ik denk erover na.")

    @pytest.mark.parametrize("odd", ["\u212a", "\u017f"])
    def test_an_intro_id_is_ascii_letters_and_digits(self, odd: str) -> None:
        """Under case-insensitive matching the Kelvin sign would pass for K and the long s
        for S: an id holding one is no id."""
        assert read_owner_command(f"approve K7F3Q{odd}") == ("approve", None, None)
        assert read_owner_command("approve K7F3QK") == ("approve", "K7F3QK", None)

    def test_a_reply_read_as_yes_only_in_its_quote(self) -> None:
        """The check above can fail: the same words unquoted are a yes."""
        assert classify_answer(new_text("Yes please!")) == "yes"
        assert classify_answer(new_text("Let me think.\n\n> Yes please!\n")) != "yes"

    @given(st.one_of(st.text(), COMMAND_TEXT))
    def test_owner_command_names_what_the_text_says(self, text: str) -> None:
        """A command read from any text has a known verb; its id is six letters or digits
        written in the text, a pick a number of it, a target an address of it."""
        result = read_owner_command(text)
        if result is None:
            return
        verb, intro_id, argument = result
        assert verb in ("approve", "decline", "cancel", "status", "pick", "target")
        written = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u00b4", "'")
        if intro_id is not None:
            assert len(intro_id) == 6 and intro_id.isalnum()
            assert intro_id.lower() in written.lower()
        if verb == "pick":
            assert argument is not None and int(argument) > 0 and argument in written
        if verb == "target":
            assert argument is not None and "@" in argument and argument in written

    def test_owner_command_checks_see_commands(self) -> None:
        """The fragments above make commands of every kind (the checks are not vacuous)."""
        assert read_owner_command("approve K7F3Q2") == ("approve", "K7F3Q2", None)
        assert read_owner_command("#2") == ("pick", None, "2")
        assert read_owner_command("target: <bob@x.example>") == ("target", None, "bob@x.example")

    @given(st.binary(max_size=2000))
    def test_a_reply_is_read_from_lines_of_its_body(self, ctx: Context, raw: bytes) -> None:
        """Any bytes as a reply's body: an answer, its text made of the body's lines."""
        mail = b"From: Tim <tim@x.example>\r\nSubject: Re: hi [intro Q2W3E4]\r\n\r\n" + raw
        reading = read_mail(mail, ctx)
        assert reading.kind == "reply" and reading.answer is not None
        assert reading.answer.answer in ("yes", "no", "unclear")
        body = mailtext.body_text(mailtext.parse_bytes(mail))
        _assert_lines_of(_lines(reading.answer.text), _lines(body))


def _lines(text: str) -> list[str]:
    """A text's lines as new_text sees them."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    return [ln.rstrip() for ln in text.split("\n")]


def _assert_lines_of(kept: list[str], lines: list[str]) -> None:
    """Every non-blank line of `kept` is a line of `lines` (ignoring the indentation a
    final strip takes off), in the same order."""
    rest = iter(ln.strip() for ln in lines)
    for line in kept:
        if line.strip():
            assert any(line.strip() == ln for ln in rest), f"{line!r} is not a line of the reply"


class TestDeferredAndPlainAnswers:
    @pytest.mark.parametrize(
        "text, word",
        [
            ("Sure - once I'm back from leave in April.", "unclear"),
            ("Gerne, nach Ostern.", "unclear"),
            ("Oui, à mon retour en septembre.", "unclear"),
            ("Sí, cuando vuelva de vacaciones.", "unclear"),
            ("Go for it!", "yes"),
            ("Fine with me.", "yes"),
            ("I can't right now, sorry.", "no"),
            ("Prefiero que no.", "no"),
        ],
    )
    def test_reading(self, text: str, word: str) -> None:
        """A yes put off to a later time is unclear; plain consents and refusals are read."""
        assert classify_answer(text) == word


class TestNoFalseYes:
    @pytest.mark.parametrize(
        "text",
        [
            "I wouldn't be happy to do this.",
            "I'm not happy to be introduced.",
            "Of course I can't.",
            "Yes — I mean no, sorry.",
            "Happy to, just not this month.",
            "Okay... let me check my calendar first.",
            "Yes. Although I'm busy.",
            "Sure. Let me think about timing.",
        ],
    )
    def test_negated_or_qualified_yes_is_not_yes(self, text: str) -> None:
        """A yes-word negated or qualified in the same or the next sentence is never yes."""
        assert classify_answer(text) != "yes"

    @pytest.mark.parametrize(
        "text",
        [
            "Yes, no problem at all.",
            "Sure, no worries!",
            "Oui, pas de souci.",
            "Ja, kein Problem.",
            "Sí, no hay problema.",
            "Yes... happy to.",
            "Sure. Let me know when.",
        ],
    )
    def test_harmless_negations_keep_the_yes(self, text: str) -> None:
        """'no problem' and the like are not refusals."""
        assert classify_answer(text) == "yes"


class TestOwnerVerbsInFourLanguages:
    @pytest.mark.parametrize(
        "line, verb",
        [
            ("approuver K7F3Q2", "approve"),
            ("Refuser K7F3Q2", "decline"),
            ("annuler K7F3Q2", "cancel"),
            ("genehmigen K7F3Q2", "approve"),
            ("ablehnen K7F3Q2", "decline"),
            ("aprobar K7F3Q2", "approve"),
            ("rechazar K7F3Q2", "decline"),
            ("cancelar K7F3Q2", "cancel"),
        ],
    )
    def test_verbs(self, line: str, verb: str) -> None:
        """The owner may write the command verbs in French, German or Spanish."""
        assert read_owner_command(line) == (verb, "K7F3Q2", None)


class TestMoreLanguagesAndPhones:
    """Italian, Dutch, Portuguese, Polish, Swedish and Japanese answers; emoji from phones."""

    @pytest.mark.parametrize(
        ("text", "answer"),
        [
            ("Sì, volentieri!", "yes"),
            ("Certo, con piacere.", "yes"),
            ("No, grazie.", "no"),
            ("Preferisco di no, mi dispiace.", "no"),
            ("Forse più avanti.", "unclear"),
            ("Sì, ma dopo l'estate.", "unclear"),
            ("Ja, graag!", "yes"),
            ("Prima, ga je gang.", "yes"),
            ("Nee, dank je.", "no"),
            ("Liever niet.", "no"),
            ("Misschien later.", "unclear"),
            ("Ja, maar pas na de zomer.", "unclear"),
            ("Sim, com prazer.", "yes"),
            ("Claro, pode ser!", "yes"),
            ("Não, obrigado.", "no"),
            ("Agora não, desculpa.", "no"),
            ("Talvez no próximo mês.", "unclear"),
            ("Sim, mas só depois de abril.", "unclear"),
            ("Tak, chętnie.", "yes"),
            ("Oczywiście!", "yes"),
            ("Nie, dziękuję.", "no"),
            ("Niestety nie.", "no"),
            ("Może później.", "unclear"),
            ("Tak.", "unclear"),  # also Danish for "thanks": not a yes on its own
            ("Ja, gärna!", "yes"),
            ("Självklart.", "yes"),
            ("Nej tack.", "no"),
            ("Ja, men kanske efter sommaren.", "unclear"),
            ("はい、喜んで。", "yes"),
            ("ぜひお願いします。", "yes"),
            ("申し訳ありませんが、今回は遠慮させていただきます。", "no"),
            ("はい、ただ来月以降でお願いします。", "unclear"),
            ("検討させてください。", "unclear"),
        ],
    )
    def test_answer_words(self, text: str, answer: str) -> None:
        """Yes, no and hedges read in each language as far as it goes, never a false yes."""
        assert classify_answer(text) == answer

    @pytest.mark.parametrize(
        ("text", "answer"),
        [
            ("👍", "yes"),
            ("👍🏻", "yes"),
            ("👍🏿", "yes"),
            ("✅", "yes"),
            ("✔️", "yes"),
            ("👌", "yes"),
            ("Yes 👍", "yes"),
            ("Ok 👌", "yes"),
            ("Sure! 🙂", "yes"),
            ("👎", "no"),
            ("👎🏽", "no"),
            ("❌", "no"),
            ("🚫", "no"),
            ("🙅‍♀️", "no"),
            ("👍👎", "unclear"),
            ("👍?", "unclear"),
            ("👍 but only after March", "unclear"),
            ("Maybe later 👍", "unclear"),
            ("Yes ❌", "unclear"),
            ("🤔", "unclear"),
            ("🙏", "unclear"),
            ("❤️", "unclear"),
            ("😊", "unclear"),
            ("🤷", "unclear"),
            ("👀", "unclear"),
        ],
    )
    def test_emoji(self, text: str, answer: str) -> None:
        """Thumbs up, OK and check marks say yes; thumbs down and crosses say no; the rest,
        and any mix or hedge, stay unclear (docs/answers.md)."""
        assert classify_answer(text) == answer

    @given(
        new=st.sampled_from(
            [
                "🤔",
                "🙏",
                "Ci devo pensare.",
                "Even nadenken.",
                "Deixa-me pensar.",
                "Muszę się zastanowić.",
                "Jag får fundera.",
                "少し考えさせてください。",
                "👍 but not before May",
                "Vielleicht 👍",
            ]
        ),
        quoted=st.sampled_from(
            [
                "Sì, volentieri",
                "Ja, graag",
                "Sim, com prazer",
                "Tak, chętnie",
                "Ja, gärna",
                "はい、喜んで",
                "👍",
                "✅ yes",
            ]
        ),
        attribution=st.sampled_from(
            [
                "Il giorno mer 5 mar 2025 alle ore 10:00 Marta <m@x.example> ha scritto:",
                "Op wo 5 mrt 2025 om 10:00 schreef Marta <m@x.example>:",
                "Em qua., 5 de mar. de 2025 às 10:00, Marta <m@x.example> escreveu:",
                "On Wed, Mar 5, 2025 at 10:00 AM Marta <m@x.example> wrote:",
            ]
        ),
    )
    def test_a_quoted_yes_is_never_read(self, new: str, quoted: str, attribution: str) -> None:
        """A yes below the reply, in any language or as an emoji, never makes the reply a yes."""
        body = f"{new}\n\n{attribution}\n> {quoted}\n"
        assert classify_answer(new_text(body)) != "yes"

    @pytest.mark.parametrize(
        ("line", "verb"),
        [
            ("approva", "approve"),
            ("rifiuta", "decline"),
            ("annulla", "cancel"),
            ("goedkeuren", "approve"),
            ("afwijzen", "decline"),
            ("annuleren", "cancel"),
            ("aprovar", "approve"),
            ("recusar", "decline"),
            ("anular", "cancel"),
        ],
    )
    def test_owner_verbs(self, line: str, verb: str) -> None:
        """The owner's commands in Italian, Dutch and Portuguese."""
        parsed = read_owner_command(f"{line} K7F3Q2")
        assert parsed is not None and parsed[0] == verb and parsed[1] == "K7F3Q2"


class TestHistoryInMoreLanguages:
    @pytest.mark.parametrize(
        ("body", "kept"),
        [
            (
                "Olá,\n\nEm qua., 5 de mar. de 2025 às 10:00, Marta <\nm@x.example> escreveu:\n\n"
                "Sim, com prazer\n",
                "Olá,",
            ),
            (
                "Hej\n\nDen ons 5 mars 2025 kl 10:00 skrev Marta <m@x.example>:\n\nJa, gärna\n",
                "Hej",
            ),
            (
                "Hm.\n\nW dniu 5.03.2025 o 10:00, Marta <m@x.example> pisze:\n\nTak, chętnie\n",
                "Hm.",
            ),
            ("Ok\n\n-----Mensagem original-----\nDe: Marta\nSim\n", "Ok"),
            ("Ja, gärna!\n\nSkickat från min iPhone\n", "Ja, gärna!"),
            ("Ja, graag.\n\nVerzonden vanaf mijn iPhone\n", "Ja, graag."),
            ("Sim.\n\nEnviado do meu iPhone\n", "Sim."),
            ("Tak, chętnie.\n\nWysłane z iPhone'a\n", "Tak, chętnie."),
        ],
    )
    def test_history_and_footers_are_cut(self, body: str, kept: str) -> None:
        """Portuguese, Swedish and Polish attributions and separators, and phone footers in
        Dutch, Portuguese, Polish and Swedish, end the new text."""
        assert new_text(body) == kept
