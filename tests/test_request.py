"""Reading a request: requester, target, reason and blurb from an owner's mail."""

# ruff: noqa: E501  (tables of example mail lines read better unbroken)

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from introd.reading import request
from introd.reading.people import Contact, ContactBook
from introd.model import Forward, IntroRequest, Person
from introd.reading.asks import find_reason
from introd.reading.cleaning import clean_message
from introd.reading.request import read_request

DATA = Path(__file__).parent / "data" / "request"
OWNER = "mara@lindgren-advisory.example"
INTRO = "intros@lindgren-advisory.example"

BOOK = ContactBook(
    [
        Contact(
            name="Walter Pryce",
            email="walter.pryce@halvorsen-chem.example",
            company="Halvorsen Chemical Company Inc.",
            title="Director, Licensing",
            source="c.csv",
        ),
        Contact(
            name="Ingrid Solberg",
            email="ingrid.solberg@fjordpolymer.example",
            company="Fjordpolymer AS",
            source="c.csv",
        ),
        Contact(
            name="Amara Okoye",
            email="amara.okoye@kestrel-bio.example",
            company="Kestrel Bio",
            source="c.csv",
        ),
        Contact(
            name="Daniel Okoye",
            email="daniel.okoye@kestrel-bio.example",
            company="Kestrel Bio",
            source="c.csv",
        ),
        Contact(name="Chidi Okoye", email=None, company="Lagos Assay Labs", source="c.csv"),
        Contact(
            name="Søren Bækgaard",
            email="soren@baekgaard-enzymes.example",
            company="Bækgaard Enzymes ApS",
            source="c.csv",
        ),
        Contact(
            name="Lucía Fernández",
            email="lucia.fernandez@andes-quimica.example",
            company="Andes Química",
            source="c.csv",
        ),
        Contact(name="Thierry Morel", email=None, company="Capital Rhône Ventures", source="c.csv"),
        Contact(
            name="Greta Vogt",
            email="greta.vogt@rheinpolymer.example",
            company="RheinPolymer GmbH",
            source="c.csv",
        ),
        Contact(
            name="Nadia Karim",
            email="nadia@karim-consult.example",
            company="Karim Consult",
            introductions="never",
            source="prefs.yaml",
        ),
        Contact(
            name="Ravi Menon",
            email="ravi.menon@mailbox.example",
            company="Indigo Labs",
            source="c.csv",
        ),
        Contact(name="Mara Lindgren", email=OWNER, company="Lindgren Advisory", source="c.csv"),
    ]
)

REQUEST_EN = """\
Dear Mara,

Thank you for the panel at the polymer forum last week. I finish my PhD in June and
I am moving to Oslo.

Could you please introduce me to Ms. Solberg at Fjordpolymer? I have applied for the
Applications Scientist opening and I would like to learn how her team works before the
interviews.

Best regards,

Ravi Menon
PhD Candidate, Polymer Chemistry
+47 555 01 234 | ravi-menon.example
"""


def forward(
    body: str,
    *,
    note: str = "",
    sender: Person | None = None,
    subject: str = "Introduction request",
) -> Forward:
    return Forward(
        note=note,
        sender=sender or Person(name="Ravi Menon", email="ravi.menon@mailbox.example"),
        subject=subject,
        body=body,
        style="gmail",
    )


def read(fwd: Forward | None, body: str = "", **kw: object) -> IntroRequest:
    return read_request(
        body=body,
        forward=fwd,
        subject=kw.pop("subject", "Fwd: hello"),  # type: ignore[arg-type]
        owner_addresses=[OWNER],
        intro_address=INTRO,
        owner_name="Mara Lindgren",
        contacts=BOOK,
        **kw,
    )  # type: ignore[arg-type]


def target_of(req: IntroRequest) -> tuple[str | None, str | None] | None:
    return (req.target.name, req.target.email) if req.target else None


# words, punctuation and spaces the asking and purpose patterns are tried on, in any order
_MADE_UP_WORDS = [
    "introduce",
    "me",
    "to",
    "us",
    "put",
    "in",
    "touch",
    "with",
    "forward",
    "look",
    "présenter",
    "mich",
    "mit",
    "Herrn",
    "presentarme",
    "a",
    "Kontakt",
    "zu",
    "is",
    "Helen",
    "Achebe",
    "someone",
    "you",
    "pass",
    "along",
    "an",
    "weiterleiten",
    "because",
    "car",
    "um",
    "gehen",
    "I'd",
    "like",
    "ê",
    "tre",
    "présenté",
    "à",
    "-",
    ".",
    "?",
    "\n",
    " ",
    "Dr.",
    "たい",
]


class TestRequester:
    def test_original_sender_is_the_requester(self) -> None:
        """The forwarded message's sender asks."""
        req = read(forward(REQUEST_EN))
        assert req.requester == Person(name="Ravi Menon", email="ravi.menon@mailbox.example")

    @pytest.mark.parametrize(
        ("sender", "body", "subject"),
        [
            (
                Person(name="LinkedIn", email="messages-noreply@linkedin.com"),
                "Ravi Menon sent you a new message.\n\nRavi Menon\nPhD Candidate\n\nHi Mara, could you "
                "introduce me to Walter Pryce?\n\nThanks!\nRavi\n\nYou are receiving LinkedIn "
                "notification emails.\nUnsubscribe: https://www.linkedin.com/x",
                "Ravi sent you",
            ),
            (
                Person(name="XING", email="mailrobot@mail.xing.com"),
                "Ravi Menon hat Ihnen eine neue Nachricht gesendet\n\nHallo Mara, könnten Sie mich mit "
                "Walter Pryce bekannt machen?",
                "Neue Nachricht",
            ),
            (
                Person(name="Ravi Menon via LinkedIn", email="inmail-hit-reply@linkedin.com"),
                "Hi Mara, could you introduce me to Walter Pryce?",
                "Question",
            ),
            (
                Person(name="LinkedIn", email="messaging-digest-noreply@linkedin.com"),
                "Hi Mara, could you introduce me to Walter Pryce?",
                "New message from Ravi Menon",
            ),
            (
                Person(name="Ravi Menon", email=None),
                "Hi Mara, could you introduce me to Walter Pryce?",
                "Question",
            ),
        ],
    )
    def test_notifications_and_name_only_senders_found_in_contacts(
        self, sender: Person, body: str, subject: str
    ) -> None:
        """A notification's named person (or a name-only From) is looked up in the contacts."""
        req = read(forward(body, sender=sender, subject=subject))
        assert req.requester == Person(name="Ravi Menon", email="ravi.menon@mailbox.example")
        assert req.target == Person(
            name="Walter Pryce", email="walter.pryce@halvorsen-chem.example"
        )

    def test_notification_footer_and_headline_stay_out_of_the_blurb(self) -> None:
        """The blurb of a notification starts at the greeting and ends before the footer."""
        body = (
            "Ravi Menon sent you a new message.\n\nRavi Menon\nPhD Candidate | Oslo\n\n"
            "Hi Mara, could you introduce me to Walter Pryce?\n\nThanks!\nRavi\n\n"
            "Reply: https://www.linkedin.com/comm/messaging/thread/1\n\n"
            "This email was intended for Mara Lindgren (Advisor)\n"
            "© 2026 LinkedIn Corporation, 1000 West Maude Avenue"
        )
        req = read(
            forward(body, sender=Person(name="LinkedIn", email="messages-noreply@linkedin.com"))
        )
        assert req.blurb == "Hi Mara, could you introduce me to Walter Pryce?\n\nThanks!\nRavi"

    def test_unknown_notification_person_has_no_address(self) -> None:
        """A named person who is not a contact is a requester without address."""
        req = read(
            forward(
                "Jonas Berg sent you a new message.\n\nHi, intro me to Walter Pryce?",
                sender=Person(name="LinkedIn", email="messages-noreply@linkedin.com"),
            )
        )
        assert req.requester == Person(name="Jonas Berg", email=None)


class TestTarget:
    @pytest.mark.parametrize(
        ("note", "expected"),
        [
            (
                "intro: Walter Pryce <walter.pryce@halvorsen-chem.example>",
                ("Walter Pryce", "walter.pryce@halvorsen-chem.example"),
            ),
            ("intro: Greta Vogt", ("Greta Vogt", "greta.vogt@rheinpolymer.example")),
            ("→ Ms Vogt", ("Greta Vogt", "greta.vogt@rheinpolymer.example")),
            ("-> Dr. Vogt", ("Greta Vogt", "greta.vogt@rheinpolymer.example")),
            ("greta.vogt@rheinpolymer.example", ("Greta Vogt", "greta.vogt@rheinpolymer.example")),
            ("  <new.person@elsewhere.example>  ", (None, "new.person@elsewhere.example")),
            (
                "Greta Vogt <greta.vogt@rheinpolymer.example>",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            ("Could you do this one?\nintro: Dr. Hanna Roth", ("Dr. Hanna Roth", None)),
            ("Can you intro him to Greta Vogt?", ("Greta Vogt", "greta.vogt@rheinpolymer.example")),
            (
                "Greta Vogt would be better for this.",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            ("intro: Nadia Karim", ("Nadia Karim", "nadia@karim-consult.example")),
            ("intro: Dr. Okoye, Lagos Assay Labs", ("Chidi Okoye", None)),
            (
                "Ravi Menon <ravi.menon@mailbox.example> → Greta Vogt",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            (
                "Other Person <other@x.example> -> greta.vogt@rheinpolymer.example",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
        ],
    )
    def test_owner_note_names_the_target_first(
        self, note: str, expected: tuple[str | None, str]
    ) -> None:
        """The owner's note wins over whoever the requester names."""
        req = read(forward(REQUEST_EN, note=note))
        assert target_of(req) == expected

    @pytest.mark.parametrize(
        "note",
        [
            "-- \nMara Lindgren\nLindgren Advisory\nmara@lindgren-advisory.example\n+1 555 0100",
            "Mara Lindgren, PhD\nLindgren Advisory\nmara.lindgren@private-mail.example\n+1 555 0100",
            "Thanks,\nMara\nmara@lindgren-advisory.example",
        ],
    )
    def test_owner_signature_is_not_a_target(self, note: str) -> None:
        """The owner's signature above the forward (her name, addresses, phone) names nobody."""
        req = read(forward(REQUEST_EN, note=note))
        assert target_of(req) == ("Ingrid Solberg", "ingrid.solberg@fjordpolymer.example")

    @pytest.mark.parametrize(
        "note",
        [
            "intros+K7F3Q2@lindgren-advisory.example",
            "MARA@lindgren-advisory.example",
            "Mara Lindgren <mara@lindgren-advisory.example>",
        ],
    )
    def test_owner_and_intro_addresses_are_never_a_target(self, note: str) -> None:
        """Her addresses (plus-tags and case aside) are skipped; the requester's text decides."""
        req = read(forward(REQUEST_EN, note=note))
        assert target_of(req) == ("Ingrid Solberg", "ingrid.solberg@fjordpolymer.example")

    @pytest.mark.parametrize(
        ("sentence", "expected"),
        [
            (
                "Could you refer me to Mr. Pryce at HalvorsenChemicalCompany?",
                ("Walter Pryce", "walter.pryce@halvorsen-chem.example"),
            ),
            (
                "Would you introduce me to Dr. Walter Pryce?",
                ("Walter Pryce", "walter.pryce@halvorsen-chem.example"),
            ),
            (
                "Could you put me in touch with soren baekgaard?",
                ("Søren Bækgaard", "soren@baekgaard-enzymes.example"),
            ),
            (
                "Would you connect me with Søren Bækgaard at Bækgaard Enzymes?",
                ("Søren Bækgaard", "soren@baekgaard-enzymes.example"),
            ),
            (
                "Could you forward this note to Greta Vogt?",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            (
                "I would really appreciate an introduction to Greta Vogt at RheinPolymer.",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            (
                "Pourriez-vous me présenter à Thierry Morel, associé chez Capital Rhône Ventures ?",
                ("Thierry Morel", None),
            ),
            (
                "Pourriez-vous me mettre en relation avec Lucia Fernandez ?",
                ("Lucía Fernández", "lucia.fernandez@andes-quimica.example"),
            ),
            (
                "Könnten Sie mich bitte mit Dr. Greta Vogt von der RheinPolymer GmbH bekannt machen?",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            (
                "Könnten Sie mich Frau Vogt vorstellen?",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            (
                "Können Sie den Kontakt zu Frau Vogt herstellen?",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            (
                "¿Podrías presentarme a Lucía Fernández, de Andes Química?",
                ("Lucía Fernández", "lucia.fernandez@andes-quimica.example"),
            ),
            (
                "¿Podrías ponerme en contacto con la Sra. Fernández?",
                ("Lucía Fernández", "lucia.fernandez@andes-quimica.example"),
            ),
            (
                "Could you introduce me to Dr. Hanna Roth at Vesta Therapeutics?",
                ("Dr. Hanna Roth", None),
            ),
            ("Could you introduce me to Chidi Okoye?", ("Chidi Okoye", None)),
            (
                "¿Me podrías presentar a Lucía Fernández?",
                ("Lucía Fernández", "lucia.fernandez@andes-quimica.example"),
            ),
            (
                "Könnten Sie mir Frau Dr. Vogt vorstellen?",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            ("Pourriez-vous me présenter Thierry Morel ?", ("Thierry Morel", None)),
            (
                "I met Greta Vogt at a fair. Would you forward the note below to her?",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            (
                "I would like to be introduced to Dr. Hanna Roth at Vesta Therapeutics.",
                ("Dr. Hanna Roth", None),
            ),
            (
                "I would love to meet Greta Vogt when she is in town.",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
        ],
    )
    def test_person_the_requester_names(
        self, sentence: str, expected: tuple[str | None, str | None]
    ) -> None:
        """Asking phrases in four languages lead to the person, resolved against contacts."""
        body = f"Hi Mara,\n\n{sentence}\n\nThanks,\nRavi"
        assert target_of(read(forward(body))) == expected

    def test_several_contacts_make_an_ambiguous_target(self) -> None:
        """'Dr. Okoye at Kestrel Bio' is two people: the name as written, and both candidates."""
        req = read(forward("Hi Mara,\n\nCould you introduce me to Dr. Okoye at Kestrel Bio?\n"))
        assert req.target == Person(name="Dr. Okoye", email=None)
        assert [c.email for c in req.candidates] == [
            "amara.okoye@kestrel-bio.example",
            "daniel.okoye@kestrel-bio.example",
        ]

    def test_company_picks_one_of_several(self) -> None:
        """'Mr. Okoye at Lagos Assay Labs' is the one Okoye there."""
        req = read(forward("Could you introduce me to Mr. Okoye at Lagos Assay Labs?"))
        assert req.target == Person(name="Chidi Okoye", email=None)
        assert req.candidates == ()

    @pytest.mark.parametrize(
        "sentence",
        [
            "May I introduce myself to any of your contacts about our services?",
            "Could you introduce me to anyone you know in pharma?",
            "Whoever you think is best at Halvorsen would be great; could you connect me with someone there?",
            "Could you introduce me to someone at Kestrel Bio?",
            "Could you share my profile with your network?",
            "Could you introduce me to Kestrel Bio?",
            "Greta Vogt says you know people there. Could you introduce me to a hiring manager at RheinPolymer?",
            "Pourriez-vous me présenter à quelqu'un chez Fjordpolymer ?",
            "Pourriez-vous me mettre en relation avec certains de vos contacts ?",
            "Könnten Sie mich mit jemandem bei RheinPolymer in Kontakt bringen?",
            "Kennen Sie jemanden in der Pharmaindustrie, den Sie mir vorstellen könnten?",
            "¿Podrías presentarme a algunos de tus contactos en la industria?",
            "¿Podrías ponerme en contacto con alguien de Andes Química?",
        ],
    )
    def test_nobody_specific_means_no_target(self, sentence: str) -> None:
        """Blanket asks name no target in English, French, German and Spanish."""
        req = read(forward(f"Hello Mara,\n\n{sentence}\n\nThank you,\nRavi"))
        assert req.target is None

    def test_target_in_the_subject_when_the_text_names_nobody(self) -> None:
        """'Introduction to Greta Vogt?' in the subject names her."""
        req = read(
            forward(
                "Hi Mara, could you help me with the request in the subject?",
                subject="Introduction to Greta Vogt?",
            )
        )
        assert target_of(req) == ("Greta Vogt", "greta.vogt@rheinpolymer.example")

    def test_requester_is_never_their_own_target(self) -> None:
        """The requester's name in their own text is not whom they want to meet."""
        req = read(forward("Hi Mara, this is Ravi Menon. Could you help me reach Greta Vogt?"))
        assert target_of(req) == ("Greta Vogt", "greta.vogt@rheinpolymer.example")


class TestOwnNote:
    @pytest.mark.parametrize(
        ("body", "requester", "target"),
        [
            (
                "Please introduce Ravi Menon <ravi.menon@mailbox.example> to Greta Vogt "
                "<greta.vogt@rheinpolymer.example>.\n\nRavi is moving to Cologne and wants to understand "
                "how RheinPolymer hires analysts.\n\nThanks,\nMara",
                ("Ravi Menon", "ravi.menon@mailbox.example"),
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            (
                "Ravi Menon <ravi.menon@mailbox.example> → Greta Vogt <greta.vogt@rheinpolymer.example>",
                ("Ravi Menon", "ravi.menon@mailbox.example"),
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            (
                "Hi,\n\nplease introduce Ravi Menon to Walter Pryce because Ravi wants to learn about "
                "licensing.\n\nMara",
                ("Ravi Menon", "ravi.menon@mailbox.example"),
                ("Walter Pryce", "walter.pryce@halvorsen-chem.example"),
            ),
            (
                "Please introduce Jonas Berg to Hanna Roth, both want to discuss enzyme supply.",
                ("Jonas Berg", None),
                ("Hanna Roth", None),
            ),
            (
                "jonas@berg.example -> walter.pryce@halvorsen-chem.example",
                (None, "jonas@berg.example"),
                ("Walter Pryce", "walter.pryce@halvorsen-chem.example"),
            ),
        ],
    )
    def test_note_naming_two_people(
        self,
        body: str,
        requester: tuple[str | None, str | None],
        target: tuple[str | None, str | None],
    ) -> None:
        """Without a forward, the note's first person asks and the second is the target."""
        req = read(None, body)
        assert req.requester is not None
        assert (req.requester.name, req.requester.email) == requester
        assert target_of(req) == target

    def test_note_gives_reason_and_blurb(self) -> None:
        """The note's own words give the reason; the blurb is the note without sign-off."""
        body = (
            "Hi,\n\nPlease introduce Ravi Menon <ravi.menon@mailbox.example> to Greta Vogt "
            "<greta.vogt@rheinpolymer.example>.\n\nRavi is moving to Cologne and wants to "
            "understand how RheinPolymer hires analysts.\n\nThanks,\nMara\n-- \nMara Lindgren\n"
            "mara@lindgren-advisory.example"
        )
        req = read(None, body)
        assert req.reason == (
            "Ravi is moving to Cologne and wants to understand how RheinPolymer hires analysts."
        )
        assert req.blurb.startswith("Please introduce Ravi Menon")
        assert "Thanks" not in req.blurb and "mara@" not in req.blurb


class TestReason:
    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            (
                REQUEST_EN,
                "I have applied for the Applications Scientist opening and I would like to "
                "learn how her team works before the interviews.",
            ),
            ("Can you introduce me to Greta Vogt? Thanks.", None),
            ("Hi Mara - would you connect me with Greta Vogt at RheinPolymer? Thx!\n\nRavi", None),
            ("Could you introduce me to Greta Vogt? I'd appreciate it.", None),
            (
                "Could you introduce me to Greta Vogt because I want to learn how they scale up "
                "dispersions?",
                "Could you introduce me to Greta Vogt because I want to learn how they "
                "scale up dispersions?",
            ),
            (
                "Pourriez-vous me présenter à Thierry Morel ? J'aimerais comprendre comment son fonds "
                "choisit ses investissements.",
                "J'aimerais comprendre comment son fonds choisit ses investissements.",
            ),
            (
                "Könnten Sie mich mit Frau Vogt bekannt machen? Ich möchte mehr über die Arbeit im "
                "Labor erfahren.",
                "Ich möchte mehr über die Arbeit im Labor erfahren.",
            ),
            (
                "¿Podrías presentarme a Lucía Fernández? Me gustaría conversar con ella sobre química "
                "verde.",
                "Me gustaría conversar con ella sobre química verde.",
            ),
            # reported however short: whether four words are enough is no_reason's call
            ("Could you introduce me to Greta Vogt? I would like that.", "I would like that."),
        ],
    )
    def test_stated_purpose_or_none(self, text: str, reason: str | None) -> None:
        """The purpose sentence is the reason; a bare ask or a thank-you has none."""
        assert read(forward(text)).reason == reason

    def test_min_words_counts_the_reason_only(self) -> None:
        """A three-word reason passes when the minimum is three."""
        assert find_reason("I want to learn.", min_words=3) == "I want to learn."
        assert find_reason("I want to learn.", min_words=5) is None


class TestBlurb:
    @pytest.mark.parametrize(
        ("body", "kept", "dropped"),
        [
            (REQUEST_EN, "Best regards,\n\nRavi Menon", "PhD Candidate"),
            (
                "Hallo Mara,\n\nkönnen Sie mich mit Greta Vogt bekannt machen? Wir bauen Sensoren.\n\n"
                "Grüße\nRavi\n\nMenon Sensorik GmbH · Hauptstraße 5 · 10115 Berlin · Amtsgericht "
                "Charlottenburg HRB 12345",
                "Grüße\nRavi",
                "Amtsgericht",
            ),
            (
                "Hi Mara,\n\nCould you introduce me to Greta Vogt?\n\nRavi\n\nOn Mon, 2 Mar 2026 at "
                "10:00, Mara Lindgren <mara@lindgren-advisory.example> wrote:\n> Happy to help.",
                "Could you introduce me to Greta Vogt?",
                "wrote:",
            ),
            (
                "Hi Mara,\nCould you introduce me to Greta Vogt?\n\n-----Original Message-----\n"
                "From: Mara\nSent: Monday\nSubject: Re: hi\n\nOld text",
                "Greta Vogt",
                "Old text",
            ),
            (
                "Hallo Mara,\nkönnten Sie mich mit Frau Vogt bekannt machen?\n\nMit freundlichen Grüßen\n"
                "Ravi Menon\nDoktorand | Universität Köln\nTel. +49 221 555 01",
                "Mit freundlichen Grüßen\nRavi Menon",
                "Doktorand",
            ),
            (
                "Bonjour Mara,\nPourriez-vous me présenter à Thierry Morel ?\n\nCordialement,\nRavi Menon\n"
                "Directeur, Menon SAS\nwww.menon.example",
                "Cordialement,\nRavi Menon",
                "Directeur",
            ),
            (
                "Hola Mara:\n¿Podrías presentarme a Lucía Fernández?\n\nSaludos,\nRavi\n\nEste mensaje "
                "es confidencial y está destinado únicamente a su destinatario.",
                "Saludos,\nRavi",
                "confidencial",
            ),
            (
                "Hi Mara,\nCould you introduce me to Greta Vogt?\n\nRavi Menon\nFounder, Menon Labs\n"
                "ravi.menon@mailbox.example",
                "Ravi Menon",
                "Founder, Menon Labs",
            ),
            (
                "Hi Mara,\nintro to Greta Vogt?\n\nBest, Ravi\nFounder, Menon Labs\n",
                "Best, Ravi",
                "Founder",
            ),
            (
                "[EXTERNAL]\nCAUTION: This email originated from outside of the organization.\n"
                "Hi Mara,\nintro to Greta Vogt?",
                "Hi Mara,",
                "EXTERNAL",
            ),
            (
                "Hi Mara,\nintro to Greta Vogt?\n\nSent from my iPhone",
                "intro to Greta Vogt?",
                "iPhone",
            ),
            (
                "> Hi Mara,\n>\n> could you intro me to Greta Vogt?\n>\n> Thanks,\n> Ravi",
                "could you intro me to Greta Vogt?",
                ">",
            ),
            (
                "Hi Mara,\nintro to Greta Vogt?\n-- \nRavi Menon | Menon Labs",
                "intro to Greta Vogt?",
                "Menon Labs",
            ),
            (
                "CONFIDENTIALITY NOTICE at the top is not a footer?\nHi Mara,\nintro to Greta Vogt?\n\n"
                "CONFIDENTIALITY NOTICE: This e-mail is intended only for the addressee.",
                "intro to Greta Vogt?",
                "addressee",
            ),
        ],
    )
    def test_requesters_own_message_only(self, body: str, kept: str, dropped: str) -> None:
        """History, footers, disclaimers and signature blocks are left out of the blurb."""
        blurb = read(forward(body, note="intro: Greta Vogt")).blurb
        assert kept in blurb
        assert dropped not in blurb

    def test_owner_note_is_not_in_the_blurb(self) -> None:
        """The owner's words above the forward are kept apart from the blurb."""
        req = read(forward(REQUEST_EN, note="intro: Ingrid Solberg\nHe is great."))
        assert "He is great" not in req.blurb
        assert req.blurb.startswith("Dear Mara,")

    def test_blurb_even_without_target(self) -> None:
        """A blanket ask still has its blurb."""
        req = read(
            forward("Hi Mara,\nCould you introduce me to anyone in pharma?\n\nThanks,\nRavi")
        )
        assert req.target is None
        assert "anyone in pharma" in req.blurb

    def test_leading_header_lines_are_dropped(self) -> None:
        """A forward header block left at the top of the body is not the message."""
        text = clean_message(
            "From: Ravi Menon <ravi.menon@mailbox.example>\nSubject: hi\n\nHi Mara,"
            "\nintro to Greta Vogt?"
        )
        assert text == "Hi Mara,\nintro to Greta Vogt?"


class TestFixtures:
    @pytest.mark.parametrize(
        ("name", "requester", "target", "has_reason", "in_blurb", "not_in_blurb"),
        [
            (
                "gmail_en_note_intro.eml",
                "ravi.menon@mailbox.example",
                "walter.pryce@halvorsen-chem.example",
                True,
                "licensing deals",
                "intro: Walter",
            ),
            (
                "outlook_de_bare_address.eml",
                "k.brandl@brandl-messtechnik.example",
                "greta.vogt@rheinpolymer.example",
                True,
                "Dispersionen",
                "Geschäftsführer",
            ),
            (
                "apple_fr_ambiguous.eml",
                "elise.roux@lyon-bio.example",
                None,
                True,
                "Kestrel Bio",
                "Begin forwarded message",
            ),
            (
                "owa_es_blanket.eml",
                "pablo.vidal@vidal-rrhh.example",
                None,
                False,
                "tus contactos",
                "Enviado:",
            ),
        ],
    )
    def test_owner_mail_read_end_to_end(
        self,
        name: str,
        requester: str,
        target: str | None,
        has_reason: bool,
        in_blurb: str,
        not_in_blurb: str,
    ) -> None:
        """A whole owner mail, through the forward finder, reads as expected."""
        from introd.reading import forward as forwarding
        from introd.reading import mailtext

        msg = mailtext.parse_bytes((DATA / name).read_bytes())
        fwd = forwarding.find_forward(msg)
        req = read(fwd, mailtext.body_text(msg), subject=str(msg["Subject"]))
        assert req.requester is not None and req.requester.email == requester
        assert (req.target.email if req.target else None) == target
        assert bool(req.reason) == has_reason
        assert in_blurb in req.blurb and not_in_blurb not in req.blurb


class TestNeverRaises:
    @settings(max_examples=200, deadline=None)
    @given(body=st.text(max_size=400), note=st.text(max_size=80))
    def test_any_text_reads_without_error(self, body: str, note: str) -> None:
        """Whatever the mail says, reading it returns a request and raises nothing."""
        own = request._Own.of([OWNER], INTRO)
        # the inner readers, so that a slip is not hidden by read_request's last-resort guard
        req = request._read_forward(
            forward(body, note=note),
            "s",
            own=own,
            owner_name="Mara Lindgren",
            contacts=BOOK,
        )
        assert isinstance(req, IntroRequest)
        _assert_blurb_of(req, body)
        req2 = request._read_note(body, "s", own=own, owner_name="Mara Lindgren", contacts=BOOK)
        assert isinstance(req2, IntroRequest)
        _assert_blurb_of(req2, body)

    @settings(max_examples=300, deadline=None)
    @given(
        parts=st.lists(
            st.sampled_from(
                [
                    "Hi Mara,",
                    "\n",
                    "\n\n",
                    "> ",
                    "-- ",
                    "intro: ",
                    "→ ",
                    "Dr. ",
                    "Greta",
                    "Vogt",
                    "Okoye",
                    "<greta.vogt@rheinpolymer.example>",
                    "mara@lindgren-advisory.example",
                    "introduce me to ",
                    "please introduce ",
                    " to ",
                    "anyone",
                    "Kestrel Bio",
                    " at ",
                    "?",
                    ".",
                    ",",
                    "Thanks,",
                    "Ravi",
                    "On Mon, 2 Mar 2026 Ravi wrote:",
                    "-----Original Message-----",
                    "From: x",
                    "Sent: y",
                    "because I want to learn",
                    "mich mit ",
                    "Frau ",
                    "presentarme a ",
                    "»",
                    "é",
                ]
            ),
            max_size=40,
        )
    )
    def test_mail_like_text_reads_without_error(self, parts: list[str]) -> None:
        """Fragments of real requests, in any order, never make reading fail."""
        body = "".join(parts)
        own = request._Own.of([OWNER], INTRO)
        req = request._read_forward(
            forward(body, note=body[:60]),
            "s",
            own=own,
            owner_name="Mara Lindgren",
            contacts=BOOK,
        )
        _assert_blurb_of(req, body)
        note = request._read_note(body, "s", own=own, owner_name="Mara Lindgren", contacts=BOOK)
        _assert_blurb_of(note, body)

    def test_a_request_passes_the_same_check(self) -> None:
        """A plain request's blurb is its text (the check above is not vacuous)."""
        body = "Hi Mara,\n\nplease introduce me to Greta Vogt at Kestrel Bio.\n\nThanks,\nRavi"
        req = read(forward(body))
        assert "Greta Vogt" in req.blurb
        _assert_blurb_of(req, body)


def _assert_blurb_of(req: IntroRequest, body: str) -> None:
    """The blurb passed on is the mail's own text: each of its lines is in the body."""
    for line in req.blurb.splitlines():
        assert line.strip() in body, f"{line!r} is not in the mail"


class TestReasonPhrasings:
    @pytest.mark.parametrize(
        "text",
        [
            "Could you introduce me to Greta Vogt? Her group is hiring an analyst and I think my polymer work fits well.",
            "Could you introduce me to Greta Vogt? We're launching a new sensor and she would be a great early adopter.",
            "I recently applied to RheinPolymer GmbH. Would you connect me with Greta Vogt?",
            "Could you introduce me to Greta Vogt? I want her opinion on our licensing terms.",
            "Können Sie mich mit Greta Vogt bekannt machen? Wir planen eine Kooperation im Bereich Katalyse.",
            "Pourriez-vous me présenter à Thierry Morel ? Je cherche un poste en capital-risque à Lyon.",
            "¿Podrías presentarme a Lucía Fernández? Estoy buscando trabajo en química verde.",
        ],
    )
    def test_purpose_is_found(self, text: str) -> None:
        """A why, stated in many ways, is a reason of at least five words."""
        reason = read(forward(f"Hi,\n\n{text}\n\nThanks,\nRavi")).reason
        assert reason is not None and len(reason.split()) >= 5

    @pytest.mark.parametrize(
        "text",
        [
            "Could you introduce me to Greta Vogt? Thanks so much!",
            "Would you introduce me to Greta Vogt? I'd really appreciate it.",
            "Intro to Greta Vogt please? Cheers",
            "Hope you are well! Could you connect me with Greta Vogt? Let me know if that works.",
            "Could you put me in touch with Greta Vogt? Happy to return the favor anytime.",
            "It was great to see you at the fair last week. Could you introduce me to Greta Vogt?",
            "Pourriez-vous me présenter à Thierry Morel ? Merci beaucoup !",
            "Können Sie mich mit Greta Vogt bekannt machen? Vielen Dank!",
            "¿Podrías presentarme a Lucía Fernández? ¡Muchas gracias!",
        ],
    )
    def test_bare_ask_has_no_reason(self, text: str) -> None:
        """Pleasantries around a bare ask are not a reason."""
        assert read(forward(f"Hi,\n\n{text}\n\nThanks,\nRavi")).reason is None


class TestHarderShapes:
    @pytest.mark.parametrize(
        ("sentence", "expected"),
        [
            (
                "I noticed you know Greta at RheinPolymer. Would you be able to introduce us?",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            (
                "Is Dr. Hanna Roth someone you could introduce me to?",
                ("Dr. Hanna Roth", None),
            ),
            (
                "Connaîtriez-vous le Dr Hanna Roth ? Je souhaiterais lui être présenté.",
                ("Dr Hanna Roth", None),
            ),
            (
                "¿Me podrías presentar al director de RheinPolymer, Greta Vogt?",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            (
                "I was wondering if you might know Hanna Roth, the head of sales at Vesta?",
                ("Hanna Roth", None),
            ),
            (
                "Would you introduce me to Walter?",
                ("Walter Pryce", "walter.pryce@halvorsen-chem.example"),
            ),
            (
                "Könnten Sie mich Herrn Dr. Pryce von Halvorsen vorstellen?",
                ("Walter Pryce", "walter.pryce@halvorsen-chem.example"),
            ),
            (
                "I would love to meet Greta, the head of polymer research at RheinPolymer.",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
            (
                "Could you introduce me to someone in licensing at Halvorsen, perhaps Walter Pryce?",
                ("Walter Pryce", "walter.pryce@halvorsen-chem.example"),
            ),
            (
                "Could you introduce me to a scientist at RheinPolymer, ideally Greta Vogt?",
                ("Greta Vogt", "greta.vogt@rheinpolymer.example"),
            ),
        ],
    )
    def test_person_named_around_the_ask(
        self, sentence: str, expected: tuple[str | None, str | None]
    ) -> None:
        """A first name with its company, a name before the ask, after an article or a role."""
        body = (
            f"Hi Mara,\n\n{sentence} We make catalysts and need a partner for field trials.\n\nRavi"
        )
        assert target_of(read(forward(body))) == expected

    def test_owner_writes_name_and_address_inside_a_sentence(self) -> None:
        """'Please loop in Greta Vogt <addr> on this one.' names the target."""
        req = read(
            forward(
                REQUEST_EN, note="Please loop in Greta Vogt <greta.vogt@rheinpolymer.example> here."
            )
        )
        assert target_of(req) == ("Greta Vogt", "greta.vogt@rheinpolymer.example")

    @pytest.mark.parametrize(
        "text",
        [
            "I understand you worked with Greta Vogt. Would you be willing to make an introduction? We are sourcing bio-based monomers and her work on catalysis is directly relevant.",
            "Können Sie mich mit Greta Vogt bekannt machen? Wir haben ein Enzym entwickelt und suchen einen Partner für die Zulassung.",
            "I'm hoping to get an introduction to Greta Vogt, as we are evaluating new catalyst suppliers.",
            "I'd appreciate an intro to Greta Vogt (RheinPolymer) - we have a catalyst that could halve their curing time.",
            "Would it be possible to introduce me to Greta Vogt? I'm launching a polymer recycling startup.",
            "Hi Mara, we make polymer additives and want a German distribution partner. Could you introduce me to Greta Vogt?",
        ],
    )
    def test_a_plain_statement_of_what_the_writer_does_is_the_why(self, text: str) -> None:
        """No purpose phrase, but a sentence saying what the writer does: that is the reason."""
        reason = read(forward(f"Hi,\n\n{text}\n\nThanks,\nRavi")).reason
        assert reason is not None and len(reason.split()) >= 5

    def test_third_person_reason_in_the_owner_note(self) -> None:
        """In a note naming two people, the owner's sentence about them is the reason."""
        body = (
            "Ravi Menon <ravi.menon@mailbox.example> → Greta Vogt <greta.vogt@rheinpolymer.example>\n\n"
            "Ravi finishes his PhD in June and RheinPolymer is hiring analysts in Cologne.\n\nMara"
        )
        assert read(None, body).reason is not None

    def test_forward_of_a_forward_reads_the_innermost_request(self) -> None:
        """A colleague passing a request on is not the requester; the person who asks is."""
        inner = (
            "Ravi asked me to pass this on - he is great. Could you help him?\n\nJonas\n\n"
            "---------- Forwarded message ---------\n"
            "From: Ravi Menon <ravi.menon@mailbox.example>\nDate: Mon, Mar 3, 2025 at 9:00 AM\n"
            "Subject: intro\nTo: Jonas Berg <jonas@berg.example>\n\n" + REQUEST_EN
        )
        req = read(forward(inner, sender=Person(name="Jonas Berg", email="jonas@berg.example")))
        assert req.requester == Person(name="Ravi Menon", email="ravi.menon@mailbox.example")
        assert target_of(req) == ("Ingrid Solberg", "ingrid.solberg@fjordpolymer.example")
        assert "he is great" not in req.blurb

    @pytest.mark.parametrize(
        "text",
        [
            "I really enjoyed our chat at the mixer last Thursday. Could you introduce me to Greta Vogt?",
            "I have been following your posts about catalysis for a while now. Could you introduce me to Greta Vogt?",
            "J'ai vu que tu connaissais Thierry Morel depuis longtemps. Peux-tu me le présenter ?",
            "Ich habe gesehen, dass du Greta Vogt von RheinPolymer kennst. Kannst du mich vorstellen?",
            "Vi en LinkedIn que conoces a Lucía Fernández. ¿Me la presentas?",
        ],
    )
    def test_small_talk_about_the_owner_is_not_a_reason(self, text: str) -> None:
        """How the writer knows the owner, or what they saw of her, says nothing of why."""
        assert read(forward(f"Hi,\n\n{text}\n\nThanks,\nRavi")).reason is None

    @pytest.mark.parametrize(
        "note",
        ["For Greta", "Pour Mme Vogt", "→ Greta", "Für Frau Vogt"],
    )
    def test_owner_names_the_target_by_first_name_or_title(self, note: str) -> None:
        """A note line for a unique first name, or title and last name, is the target."""
        req = read(forward(REQUEST_EN.replace("Ms. Solberg at Fjordpolymer", "someone"), note=note))
        assert target_of(req) == ("Greta Vogt", "greta.vogt@rheinpolymer.example")


class TestAnyCue:
    """One alternation tells whether any asking phrase occurs; it must agree with trying
    each phrase in turn, on real sentences and on made-up ones."""

    SAMPLES = [
        "Could you introduce me to Dr. Anja Becker?",
        "Would you put me in touch with Tim?",
        "Pourriez-vous me présenter à Zoë Müller ?",
        "Könnten Sie mich mit Herrn Weber bekannt machen?",
        "¿Podrías presentarme a Luis Romero?",
        "Thanks for the lovely dinner.",
        "I look forward to hearing from you.",
        "Is Helen Achebe someone you could introduce me to?",
        "Could you pass this along to your contact?",
        "Kontakt zu Frau Berg wäre toll.",
        "",
    ]

    @pytest.mark.parametrize("text", SAMPLES)
    def test_agrees_on_samples(self, text: str) -> None:
        from introd.reading import asks

        assert bool(asks._ANY_CUE.search(text)) == any(c.search(text) for c in asks._CUES)

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(
            st.sampled_from(_MADE_UP_WORDS),
            max_size=14,
        ).map(" ".join)
    )
    def test_agrees_on_made_up_text(self, text: str) -> None:
        from introd.reading import asks

        assert bool(asks._ANY_CUE.search(text)) == any(c.search(text) for c in asks._CUES)


def _corpus_texts() -> list[str]:
    """The text of every mail of the corpus, its sentences, and the words of each line."""
    from introd.reading import asks, mailtext

    texts: list[str] = []
    for path in sorted((Path(__file__).parent / "data" / "corpus").glob("*.eml")):
        body = mailtext.body_text(mailtext.parse_bytes(path.read_bytes()))
        texts.append(body)
        texts.extend(s for _, s in asks.sentences(body))
        texts.extend(body.split("\n"))
    return texts


def _opens_with_word_character(items: list[object]) -> bool:
    """Whether every match of a parsed sequence opens (after zero-width assertions) with a
    word character."""
    from re import _constants as c  # type: ignore[attr-defined]

    for at, (op, arg) in enumerate(items):  # type: ignore[misc]
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        if op is c.LITERAL:
            return re.fullmatch(r"\w", chr(arg)) is not None
        if op is c.IN:
            return all(
                (kind is c.LITERAL and re.fullmatch(r"\w", chr(value)) is not None)
                or (
                    kind is c.RANGE
                    and all(re.fullmatch(r"\w", chr(x)) for x in range(value[0], value[1] + 1))
                )
                for kind, value in arg
            )
        if op is c.SUBPATTERN:
            return _opens_with_word_character(list(arg[-1]))
        if op is c.BRANCH:
            return all(_opens_with_word_character(list(b)) for b in arg[1])
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            opens = _opens_with_word_character(list(arg[2]))
            if arg[0] >= 1:
                return opens
            # an optional item: what follows may open the match too
            return opens and _opens_with_word_character(items[at + 1 :])
        return False
    return False


def _parsed(source: str) -> list[object]:
    from re import _parser  # type: ignore[attr-defined]

    return list(_parser.parse(source, re.I))


def _starts(pattern: Any, text: str) -> list[int]:
    """Where a pattern's search finds a match, searching on from one past each."""
    starts: list[int] = []
    found = pattern.search(text)
    while found is not None:
        starts.append(found.start())
        found = pattern.search(text, found.start() + 1)
    return starts


def _plain_reason() -> re.Pattern[str]:
    from introd.reading import asks

    return re.compile(r"\b(?:" + asks._REASON_WORDS + r")\b|" + asks._REASON_CJK, re.I)


_PLAIN_REASON = _plain_reason()


class TestAtWordStarts:
    """The asking phrases' alternation is tried at word starts only (\\b(?=\\w) in front,
    each phrase's own \\b taken out, the phrases grouped by their first letter): its
    matches must start exactly where the plain alternation's do, from any place on."""

    def test_every_phrase_opens_with_a_boundary_and_a_letter(self) -> None:
        from introd.reading import asks

        for cue in [*asks._CUES, *asks._WEAK_CUES]:
            lead = asks._LEADING_BOUNDARY.match(cue.pattern)
            assert lead is not None, cue.pattern
            assert _opens_with_word_character(_parsed(cue.pattern)), cue.pattern

    def test_the_words_of_purpose_open_with_a_letter(self) -> None:
        from introd.reading import asks

        words = asks._alternatives(asks._REASON_WORDS)
        assert "|".join(words) == asks._REASON_WORDS
        assert len(words) > 150
        for word in words:
            assert _opens_with_word_character(_parsed(word)), word
            assert re.fullmatch(r"[^\W\d_]", word[0]) and word[1:2] not in ("?", "*", "{"), word

    def test_a_word_that_opens_with_no_letter_is_refused(self) -> None:
        from introd.reading import asks

        assert asks._alternatives(r"a|b(?:c|d)|[|]|\||e") == ["a", "b(?:c|d)", "[|]", "\\|", "e"]
        for bad in (r"ab|\bcd", r"ab|c?d", r"ab|(?:cd)", r"ab|[cd]e"):
            with pytest.raises(ValueError):
                asks._by_first_letter(bad)

    def test_the_checks_can_fail(self) -> None:
        assert not _opens_with_word_character(_parsed(r"\b(?:to|[-:]\s+we)\b"))
        assert not _opens_with_word_character(_parsed(r"\b\s*to"))
        assert not _opens_with_word_character(_parsed(r"\b(?:un)?-to"))
        assert not _opens_with_word_character(_parsed(r"\b(?:un)?"))
        assert _opens_with_word_character(_parsed(r"(?<!look )\b(?:[êe]tre|to+)"))

    @pytest.mark.parametrize(
        ("source", "letters", "empty"),
        [
            (r"(?<!look )\bForward(?:ing)?", {"f"}, False),
            (r"\b(?:que\s+)?me\s+a", {"q", "m"}, False),
            (r"\b(?:[êe]tre|Être)", {"ê", "e"}, False),
            (r"\b(?:a|b)?(?:c)*", {"a", "b", "c"}, True),
            (r"\b[a-z]x", None, False),
            (r"\b\w+", None, False),
            (r"\b(?:x|[^y])", None, False),
        ],
    )
    def test_the_letters_a_phrase_opens_with(
        self, source: str, letters: set[str] | None, empty: bool
    ) -> None:
        from introd.reading import asks

        assert asks._opening_letters(_parsed(source)) == (letters, empty)

    def test_the_alternation_is_written_on_first_use(self) -> None:
        from introd.reading import asks

        fresh = asks._at_word_starts(asks._CUES[:3])
        assert fresh._compiled is None and fresh._source == ""
        assert fresh.search("could you introduce me to Bo").start() == 10  # type: ignore[union-attr]
        assert fresh.pattern.startswith(r"\b(?=\w)(?:(?=")
        assert asks._at_word_starts(asks._CUES[:3]).pattern == fresh.pattern

    @pytest.mark.parametrize("weak", [False, True])
    def test_same_matches_as_the_plain_alternation(self, weak: bool) -> None:
        from introd.reading import asks

        cues = asks._WEAK_CUES if weak else asks._CUES
        hoisted = asks._ANY_WEAK_CUE if weak else asks._ANY_CUE
        plain = re.compile("|".join(f"(?:{c.pattern})" for c in cues), re.I)
        texts = [*TestAnyCue.SAMPLES, *_corpus_texts()]
        hits = 0
        for text in texts:
            got = _starts(hoisted, text)
            assert got == _starts(plain, text), text
            hits += bool(got)
        assert hits > 50

    def test_same_words_of_purpose_as_the_plain_alternation(self) -> None:
        from introd.reading import asks

        hits = 0
        for text in [*TestAnyCue.SAMPLES, *_corpus_texts()]:
            got = asks._REASON_CUES.search(text)
            want = _PLAIN_REASON.search(text)
            assert (got and got.start()) == (want and want.start()), text
            hits += bool(got)
        assert hits > 50

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(
            st.sampled_from(_MADE_UP_WORDS),
            max_size=14,
        ).map("".join)
    )
    def test_same_matches_on_made_up_text(self, text: str) -> None:
        from introd.reading import asks

        for cues, hoisted in ((asks._CUES, asks._ANY_CUE), (asks._WEAK_CUES, asks._ANY_WEAK_CUE)):
            plain = re.compile("|".join(f"(?:{c.pattern})" for c in cues), re.I)
            for at in range(len(text) + 1):
                got, want = hoisted.search(text, at), plain.search(text, at)
                assert (got and got.start()) == (want and want.start())
        for at in range(len(text) + 1):
            got = asks._REASON_CUES.search(text, at)
            want = _PLAIN_REASON.search(text, at)
            assert (got and got.start()) == (want and want.start())


def _all_hits(weak: bool, text: str) -> list[tuple[int, int]]:
    """Every match of every cue, sorted: what the cue hits are, found the plain way."""
    from introd.reading import asks

    hits = [
        (m.start(), m.end())
        for c in (asks._WEAK_CUES if weak else asks._CUES)
        for m in c.finditer(text)
    ]
    return sorted(hits, key=lambda h: (h[0], -h[1]))


class TestCueHits:
    """The cue hits are found as they are wanted: in the same order as sorting every
    match of every cue, none left out and none added."""

    @pytest.mark.parametrize("weak", [False, True])
    def test_same_hits_as_every_match_sorted(self, weak: bool) -> None:
        from introd.reading import asks

        several = 0
        for text in [*TestAnyCue.SAMPLES, *_corpus_texts()]:
            want = _all_hits(weak, text)
            assert list(asks._cue_hits(weak, text)) == want, text
            several += len(want) > 1
        assert several > 3

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(
            st.sampled_from(
                [
                    "introduce me to",
                    "intro to",
                    "introduction to",
                    "connect me with",
                    "forward",
                    "this to",
                    "look",
                    "pass it along to",
                    "meet",
                    "talk to",
                    "kennst du",
                    "mich mit",
                    "Herrn",
                    "Dr.",
                    "an",
                    "weiterleiten",
                    "présenter à",
                    " ",
                    ".",
                    "\n",
                    "?",
                ]
            ),
            max_size=12,
        ).map(" ".join)
    )
    def test_same_hits_on_made_up_text(self, text: str) -> None:
        from introd.reading import asks

        for weak in (False, True):
            assert list(asks._cue_hits(weak, text)) == _all_hits(weak, text)

    def test_hits_asked_for_before_they_are_found(self) -> None:
        from introd.reading import asks

        text = "Could you introduce me to Ann, or connect me with Bo, or intro to Cy?"
        want = _all_hits(False, text)
        assert len(want) >= 3
        hits = asks._Hits(asks._cue_hits(False, text))
        assert want[-1] in hits  # found by reading on to it
        assert (0, 1) not in hits
        assert list(hits) == want
        assert list(hits) == want  # and again, from what was found
        fresh = asks._Hits(asks._cue_hits(False, text))
        assert next(iter(fresh)) == want[0]
        assert want[1] in fresh
        assert list(fresh) == want


CHAIN_REQUEST = (
    "Hi Jonas,\n\nCould you ask Mara to introduce me to Greta Vogt at RheinPolymer? We are "
    "scaling up a bio-based resin and want to learn how her team qualified suppliers.\n\n"
    "Thanks,\nRavi Menon\n"
)
_GMAIL = (
    "---------- Forwarded message ---------\nFrom: {name} <{email}>\n"
    "Date: Mon, Mar 3, 2025 at 9:00 AM\nSubject: Fwd: resin\nTo: someone@x.example\n\n"
)
_OUTLOOK = (
    "________________________________\nFrom: {name} <{email}>\n"
    "Sent: Monday, March 3, 2025 9:00 AM\nTo: someone@x.example\nSubject: FW: resin\n\n"
)
_ITALIAN = (
    "________________________________\nDa: {name} <{email}>\n"
    "Inviato: lunedì 3 marzo 2025 09:00\nA: someone@x.example\nOggetto: I: resina\n\n"
)
_DUTCH = (
    "---------- Doorgestuurd bericht ---------\nVan: {name} <{email}>\n"
    "Date: ma 3 mrt 2025 om 09:00\nSubject: Fwd: hars\nTo: someone@x.example\n\n"
)
_PASS_ON = [
    "Ravi asked me to pass this on - see below.",
    "Forwarding this from a friend.",
    "Ti inoltro la richiesta, vedi sotto.",
    "Zie hieronder, graag doorsturen.",
    "Segue abaixo o pedido.",
    "",
]


class TestForwardChains:
    """The requester is the person who asks, through any depth of forwarding."""

    def _chain(self, levels: list[tuple[str, str, str]], formats: list[str]) -> Forward:
        """The forward of ``levels[0]``: each colleague's words (outermost first), then the
        next one's forward header, down to the asker's request."""
        below = [*levels[1:], ("Ravi Menon", "ravi.menon@mailbox.example", "")]
        body = ""
        for (_, _, words), (name, email, _), fmt in zip(levels, below, formats, strict=True):
            body += (words + "\n\n" if words else "") + fmt.format(name=name, email=email)
        body += CHAIN_REQUEST
        return forward(body, sender=Person(name=levels[0][0], email=levels[0][1]))

    @pytest.mark.parametrize("depth", [1, 2, 3])
    @pytest.mark.parametrize("fmt", [_GMAIL, _OUTLOOK, _ITALIAN, _DUTCH])
    def test_passers_are_recorded_never_requester_or_target(self, depth: int, fmt: str) -> None:
        """Two and three levels of colleagues passing the request on: the asker is the
        requester, each colleague is in forwarded_by, and the blurb is the asker's words."""
        people = [
            ("Jonas Berg", "jonas@berg.example", "Mara, one for you - see below."),
            ("Lea Kurz", "lea@kurz.example", "Passing along, Jonas knows him."),
            ("Ola Nord", "ola@nord.example", ""),
        ][:depth]
        req = read(self._chain(people, [fmt] * depth))
        assert req.requester == Person(name="Ravi Menon", email="ravi.menon@mailbox.example")
        assert target_of(req) == ("Greta Vogt", "greta.vogt@rheinpolymer.example")
        assert [p.email for p in req.forwarded_by] == [p[1] for p in people]
        assert "see below" not in req.blurb and "Passing along" not in req.blurb
        assert "bio-based resin" in req.blurb and req.reason

    def test_a_forward_of_ones_own_thread_keeps_the_outer_asker(self) -> None:
        """Someone who forwards an older mail and asks in their own words is the requester."""
        body = (
            "Could you introduce me to Greta Vogt? Her team wrote the mail below and I want to "
            "discuss their supplier audit with her.\n\nRavi\n\n"
            + _GMAIL.format(name="Greta Vogt", email="greta.vogt@rheinpolymer.example")
            + "Dear all, the supplier audit starts on Monday.\n\nGreta\n"
        )
        req = read(forward(body))
        assert req.requester is not None and req.requester.email == "ravi.menon@mailbox.example"
        assert req.forwarded_by == ()

    @settings(max_examples=60, deadline=None)
    @given(
        words=st.lists(st.sampled_from(_PASS_ON), min_size=1, max_size=4),
        fmts=st.lists(
            st.sampled_from([_GMAIL, _OUTLOOK, _ITALIAN, _DUTCH]), min_size=4, max_size=4
        ),
        noise=st.text(max_size=40),
    )
    def test_any_chain_of_passers_reads_the_asker(
        self, words: list[str], fmts: list[str], noise: str
    ) -> None:
        """Whatever the depth, client format and covering words, the asker is the requester
        and no passer is requester or target; odd text never makes the reader raise."""
        people = [(f"Colleague {i}", f"colleague{i}@relay.example", w) for i, w in enumerate(words)]
        fwd = self._chain(people, fmts[: len(people)])
        req = read(fwd)
        assert req.requester is not None and req.requester.email == "ravi.menon@mailbox.example"
        emails = {p.email for p in req.forwarded_by}
        assert emails <= {p[1] for p in people}
        assert req.target is None or req.target.email not in emails
        read(forward(noise + fwd.body, sender=fwd.sender))  # never raises

    def test_forwarded_by_is_in_the_json(self) -> None:
        """`introd parse` shows who passed the request on."""
        people = [("Jonas Berg", "jonas@berg.example", "See below.")]
        req = read(self._chain(people, [_GMAIL]))
        assert req.as_json()["forwarded_by"] == [
            {"name": "Jonas Berg", "email": "jonas@berg.example"}
        ]
        assert "forwarded_by" not in read(forward(CHAIN_REQUEST)).as_json()


class TestReasonMeasure:
    @pytest.mark.parametrize(
        ("text", "words"),
        [
            ("We want to learn", 4),
            ("弊社の新しい炭素繊維の試験について伺いたい", 11),
            ("Sensor 試験", 2),
            ("", 0),
        ],
    )
    def test_words_are_counted_in_every_script(self, text: str, words: int) -> None:
        """Words are counted by spaces, and in CJK text about one per two characters."""
        from introd.reading.asks import word_count

        assert word_count(text) == words

    @pytest.mark.parametrize(
        "text",
        [
            "It was a pleasure talking to you at the summit. Could you introduce me to Greta Vogt?",
            "Foi um prazer conversar contigo no jantar. Podes apresentar-me à Greta Vogt?",
            "È stato un piacere conoscerti a Milano. Potresti presentarmi a Greta Vogt?",
            "Het was leuk je te zien op de beurs. Kun je me voorstellen aan Greta Vogt?",
        ],
    )
    def test_a_pleasantry_is_not_the_reason(self, text: str) -> None:
        """Small talk before the ask is never taken as its purpose."""
        assert find_reason(text) is None


def test_message_lines_are_a_fresh_list_each_time() -> None:
    """The lines of a text are remembered, but a caller that changes its list changes
    nobody else's."""
    from introd.reading.cleaning import message_lines

    text = "Hi Ann,\n\nCould you introduce me to Bo?\n\n> quoted\nOn Mon, Ann wrote:\n> old"
    first = message_lines(text)
    assert first == ["Hi Ann,", "", "Could you introduce me to Bo?", ""]
    first.append("changed")
    first[0] = "changed"
    assert message_lines(text) == ["Hi Ann,", "", "Could you introduce me to Bo?", ""]
    assert message_lines(text) is not message_lines(text)
