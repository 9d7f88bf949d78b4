"""Contacts: reading each format, merging sources, finding people by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from introd.reading.people import Contact, ContactBook, company_key, fold
from introd import contacts
from introd.contacts import load_contacts, read_contacts_file
from introd.exceptions import ContactsError

DATA = Path(__file__).parent / "data" / "contacts"


@pytest.fixture(scope="module")
def book() -> ContactBook:
    return load_contacts(
        [DATA / "linkedin_connections.csv", DATA / "people.vcf", DATA / "preferences.yaml"]
    )


class TestFold:
    @pytest.mark.parametrize(
        ("text", "folded"),
        [
            ("Zoë Ødegaard", "zoe odegaard"),
            ("Jörg Weiß", "jorg weiss"),
            ("TOMÁS ÁLVAREZ", "tomas alvarez"),
            ("Hélène", "helene"),
        ],
    )
    def test_folds_case_and_accents_by_transliteration(self, text: str, folded: str) -> None:
        """Case is lowered and letters transliterated (Ø as O, ß as ss), not just stripped."""
        assert fold(text) == folded

    @pytest.mark.parametrize(
        ("a", "b"),
        [
            ("BigChemicalCompany", "Big Chemical Company Inc."),
            ("RheinChem", "RheinChem AG"),
            ("Sauer Katalyse", "Sauer Katalyse GmbH"),
            ("Brook & Partners", "Brook and Partners LLC"),
        ],
    )
    def test_company_keys_compare_loosely(self, a: str, b: str) -> None:
        """Spaces, punctuation and legal suffixes do not tell companies apart."""
        assert company_key(a) == company_key(b)


class TestReadFiles:
    def test_linkedin_export_with_bom_and_preamble(self) -> None:
        """The header row is found after the Notes preamble; rows without e-mail are kept."""
        contacts = read_contacts_file(DATA / "linkedin_connections.csv")
        assert len(contacts) == 9
        maren = contacts[0]
        assert (maren.name, maren.email, maren.company, maren.title) == (
            "Maren Holt",
            "maren.holt@fjordpolymer.example",
            "Fjordpolymer AS",
            "Head of Applications",
        )
        assert contacts[1].name == "Bruno Sauer" and contacts[1].email is None
        assert contacts[2].title == "Director, Strategic Alliances"

    def test_linkedin_rows_without_a_name_are_skipped(self, tmp_path: Path) -> None:
        """A member who left (empty name) is skipped; the rest of the export still loads."""
        path = tmp_path / "Connections.csv"
        path.write_text(
            "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
            ",,,,,,01 Jan 2020\nAna,Silva,,ana@silva.example,Silva Lda,CEO,02 Jan 2020\n",
            encoding="utf-8",
        )
        assert [c.name for c in read_contacts_file(path)] == ["Ana Silva"]

    def test_vcards_3_and_4(self) -> None:
        """FN, ORG and TITLE are read; the preferred address wins; N stands in for FN."""
        contacts = read_contacts_file(DATA / "people.vcf")
        assert [(c.name, c.email, c.company) for c in contacts] == [
            ("Solveig Aas", "solveig.aas@northbio.example", "North Bio AS"),
            ("Kwame Mensah", "kwame@accra-labs.example", "Accra Labs Ltd"),
            ("Lena Brook", None, "Brook & Partners"),
        ]

    def test_yaml_entries(self) -> None:
        """YAML gives preferences, aliases and language."""
        contacts = read_contacts_file(DATA / "preferences.yaml")
        assert contacts[0].introductions == "never" and contacts[0].language == "nb"
        assert contacts[2].aliases == ("Joseph Demir",)

    @pytest.mark.parametrize(
        ("name", "says"),
        [
            (
                "bad_introductions.yaml",
                "bad_introductions.yaml[2].introductions': must be ask or never",
            ),
            ("not_a_list.yaml", "must be a list"),
            ("broken.yaml", "not valid YAML"),
            ("no_header.csv", "no header row"),
            ("truncated.vcf", "vCard"),
            ("contacts.txt", "unknown contacts format"),
            ("missing.csv", "cannot be read"),
        ],
    )
    def test_bad_files_raise_an_error_naming_the_file(self, name: str, says: str) -> None:
        """Every unreadable file is a ContactsError naming the file and what is wrong."""
        with pytest.raises(ContactsError) as caught:
            read_contacts_file(DATA / name)
        assert name in str(caught.value)
        assert says in str(caught.value)

    def test_every_yaml_problem_is_reported(self, tmp_path: Path) -> None:
        """All invalid entries are listed, not just the first."""
        path = tmp_path / "c.yaml"
        path.write_text(
            "- name: A B\n  introductions: maybe\n- email: x@y.example\n"
            "- name: C D\n  email: not-an-address\n",
            encoding="utf-8",
        )
        with pytest.raises(ContactsError) as caught:
            read_contacts_file(path)
        keys = [key for key, _ in caught.value.problems]
        assert keys == ["c.yaml[0].introductions", "c.yaml[1].name", "c.yaml[2].email"]


TRICKY_CARDS = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Walker\\, Tim\r\nORG:A,B;C\\;D\r\n"
    "TITLE:CEO, Founder\r\nEMAIL:a@b.example, c@d.example\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Ødegaard;Zoë,Z.;;Dr.\r\n"
    "item1.EMAIL;type=work;TYPE=pref:zo\r\n e@x.example\r\nEMAIL:other@x.example\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:\r\nN:Brook;Lena\r\nX-ANY;X-P=q:x\\qy\r\nEND:VCARD\r\n"
)


class TestVCardsWithoutVobject:
    """Plain 3.0 and 4.0 cards are read without vobject (its import is the costliest part
    of starting `introd parse`); they must come out exactly as vobject reads them."""

    def _both(self, tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> tuple:
        path = tmp_path / "c.vcf"
        path.write_text(text, encoding="utf-8")
        plain = read_contacts_file(path)
        monkeypatch.setattr(contacts, "_plain_vcards", lambda text: None)
        return plain, read_contacts_file(path)

    def test_plain_cards_read_as_vobject_reads_them(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Escapes, commas, fields, groups, folded lines and parameters agree."""
        assert contacts._plain_vcards(TRICKY_CARDS) is not None  # the plain path is taken
        plain, vobject_read = self._both(tmp_path, TRICKY_CARDS, monkeypatch)
        assert plain == vobject_read
        assert [(c.name, c.email, c.company) for c in plain] == [
            ("Walker, Tim", "a@b.example", "A,B"),
            ("Dr. Zoë Z. Ødegaard", "zoe@x.example", None),
            ("Lena Brook", None, None),
        ]

    @pytest.mark.parametrize("name", ["people.vcf", "truncated.vcf"])
    def test_the_test_files_agree(
        self, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The files the other tests read give the same contacts, or the same error."""
        text = (DATA / name).read_text(encoding="utf-8")
        try:
            plain, vobject_read = self._both(tmp_path, text, monkeypatch)
        except ContactsError as exc:
            assert "vCard" in str(exc)
            return
        assert plain == vobject_read

    @pytest.mark.parametrize(
        "text",
        [
            "BEGIN:VCARD\r\nVERSION:2.1\r\n"
            "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=98degaard;Zo=C3=AB\r\n"
            "EMAIL;PREF;INTERNET:zoe@x.example\r\nEND:VCARD\r\n",
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoë Ødegaard\r\n"
            'EMAIL;TYPE="work,pref":zoe@x.example\r\nEND:VCARD\r\n',
        ],
    )
    def test_other_cards_go_to_vobject(self, text: str) -> None:
        """2.1 cards, encodings and quoted parameters are left to vobject."""
        assert contacts._plain_vcards(text) is None


class TestMerge:
    def test_same_address_is_one_person_with_yaml_preferences(self, book: ContactBook) -> None:
        """The YAML entry's preference applies to the LinkedIn row with the same address."""
        maren = book.by_email("Maren.Holt@FjordPolymer.example")
        assert maren is not None
        assert maren.introductions == "never" and maren.language == "nb"
        assert maren.company == "Fjordpolymer AS"
        assert sum(1 for c in book if c.name == "Maren Holt") == 1

    def test_no_address_merged_by_name_and_company(self, book: ContactBook) -> None:
        """A row without address and an entry with the same name and company are one person."""
        sauer = [c for c in book if c.name == "Bruno Sauer"]
        assert len(sauer) == 1
        assert sauer[0].email == "bruno@sauer-katalyse.example"
        assert sauer[0].title == "Geschäftsführer"

    def test_same_name_other_company_stays_apart(self) -> None:
        """Two people with one name at different companies are two contacts."""
        book = ContactBook(
            [
                Contact(name="Ana Silva", email=None, company="Alpha"),
                Contact(name="Ana Silva", email=None, company="Beta"),
            ]
        )
        assert len(book) == 2

    def test_never_wins_whichever_file_comes_first(self) -> None:
        """An opt-out is kept even when the YAML file is read before the CSV."""
        book = ContactBook(
            [
                Contact(
                    name="Ana Silva",
                    email="ana@x.example",
                    introductions="never",
                    source="prefs.yaml",
                ),
                Contact(name="Ana Silva", email="ANA@x.example", company="X", source="c.csv"),
            ]
        )
        assert len(book) == 1
        only = next(iter(book))
        assert only.introductions == "never" and only.company == "X"


class TestMatch:
    @pytest.mark.parametrize(
        ("written", "company", "expected"),
        [
            ("Maren Holt", None, ["Maren Holt"]),
            ("maren holt", None, ["Maren Holt"]),
            ("Jorg Weiss", None, ["Jörg Weiß"]),
            ("Joerg Weiß", None, []),
            ("Tomas Alvarez", None, ["Tomás Álvarez"]),
            ("Dr. Weiss", None, ["Jörg Weiß"]),
            ("Herr Weiß", None, ["Jörg Weiß"]),
            ("Sr. Álvarez", None, ["Tomás Álvarez"]),
            ("Ms Carvalho", None, ["Ines Carvalho"]),
            ("Mme Carvalho", None, ["Ines Carvalho"]),
            ("Robert Pryce", None, ["Robert J. Pryce"]),
            ("Robert James Pryce", None, ["Robert J. Pryce"]),
            ("Joseph Demir", None, ["Yusuf Demir"]),
            ("Demir", None, []),
            ("Maren Olsen", None, []),
            ("Dr. Lindqvist", None, ["Grete Lindqvist", "Henrik Lindqvist", "Anton Lindqvist"]),
            ("Dr. Lindqvist", "Norrsken Materials", ["Grete Lindqvist", "Henrik Lindqvist"]),
            ("Dr. Lindqvist", "Baltic Assay Labs", ["Anton Lindqvist"]),
            ("Mr. Pryce", "PryceCoatings", ["Robert J. Pryce"]),
            ("Pryce", "Pryce Coatings Inc", ["Robert J. Pryce"]),
            ("Bob Pryce", None, ["Robert J. Pryce"]),
            ("Rob Pryce", None, ["Robert J. Pryce"]),
            ("Bill Pryce", None, []),
        ],
    )
    def test_names_titles_and_companies(
        self, book: ContactBook, written: str, company: str | None, expected: list[str]
    ) -> None:
        """Full name, alias or title + last name; the company narrows several to fewer."""
        assert [c.name for c in book.match(written, company)] == expected


class TestMentions:
    def test_finds_names_titles_and_companies_in_text(self, book: ContactBook) -> None:
        """Each contact named in free text is found with its span and the company near it."""
        text = (
            "Could you refer me to Mr. Pryce at PryceCoatings? I also met\n"
            "Dr. Lindqvist from Norrsken Materials, and Solveig Aas knows Joseph Demir."
        )
        found = book.mentions(text)
        assert [(m.text, m.how) for m in found] == [
            ("Mr. Pryce", "title"),
            ("Dr. Lindqvist", "title"),
            ("Solveig Aas", "name"),
            ("Joseph Demir", "alias"),
        ]
        assert found[0].company == "Pryce Coatings Inc."
        assert [c.name for c in found[1].contacts] == ["Grete Lindqvist", "Henrik Lindqvist"]
        start, end = found[2].span
        assert text[start:end] == "Solveig Aas"

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Could you ask Bob Pryce about it?", [("Bob Pryce", "nickname")]),
            ("You know Robert at PryceCoatings, I think.", [("Robert", "first")]),
            ("I hear Robert from Pryce Coatings is hiring.", [("Robert", "first")]),
            ("Robert said hello.", []),
            ("Robert at Norrsken Materials is the one.", []),
        ],
    )
    def test_nicknames_and_first_names_with_their_company(
        self, book: ContactBook, text: str, expected: list[tuple[str, str]]
    ) -> None:
        """A nickname stands for the first name; a bare first name counts only with its company."""
        assert [(m.text, m.how) for m in book.mentions(text)] == expected

    def test_no_mention_for_other_people_with_a_known_last_name(self, book: ContactBook) -> None:
        """'Karin Lindqvist' is not any of the Lindqvists in the book."""
        assert book.mentions("I spoke with Karin Lindqvist yesterday.") == []

    def test_large_book_finds_the_titled_name(self) -> None:
        """A book of 10,000 contacts and a 10 KB text: the titled last name is found."""
        people = [
            Contact(
                name=f"Person{i} Family{i % 3000}",
                email=f"p{i}@x.example",
                company=f"Company {i % 7}",
            )
            for i in range(10_000)
        ]
        big = ContactBook(people)
        text = ("Could you introduce me to Dr. Family12 at Company 5? " * 200)[:10_000]
        found = big.mentions(text)
        assert len(found) == text.count("Dr. Family12")
        assert [c.name for c in found[0].contacts] == ["Person12 Family12"]


class TestTitlesAndInflection:
    """Names as Italian, Dutch, Portuguese and Polish mail writes them."""

    BOOK = ContactBook(
        [
            Contact(name="Agnieszka Wójcik", email="a.wojcik@polchem.example", company="PolChem"),
            Contact(name="Tomasz Wójcik", email="t.wojcik@mailhub.example", company="Freelance"),
            Contact(name="Katarzyna Nowak", email="k.nowak@wisla.example", company="Wisła"),
            Contact(name="Jan Kowalski", email="jan.kowalski@krakow.example", company="Kraków"),
            Contact(name="Anna Kowalska", email="anna.kowalska@gdansk.example", company="Gdańsk"),
            Contact(name="Marek Zając", email="marek.zajac@lodz.example", company="Łódź"),
            Contact(name="Giulia Ferraro", email="g.ferraro@lombarda.example", company="Lombarda"),
            Contact(name="Joost de Wit", email="joost@polder.example", company="Polder"),
            Contact(name="Beatriz Carvalho", email="beatriz@lisboa.example", company="Lisboa"),
        ]
    )

    @pytest.mark.parametrize(
        ("text", "email"),
        [
            ("przedstawić mnie pani Agnieszce Wójcik z PolChem", "a.wojcik@polchem.example"),
            ("rozmawiałem z Agnieszką Wójcik wczoraj", "a.wojcik@polchem.example"),
            ("kontakt do Agnieszki Wójcik", "a.wojcik@polchem.example"),
            ("poznać Agnieszkę Wójcik", "a.wojcik@polchem.example"),
            ("przedstawić mnie panu Tomaszowi Wójcikowi", "t.wojcik@mailhub.example"),
            ("z panią Katarzyną Nowak z Wisły", "k.nowak@wisla.example"),
            ("przedstawić mnie Katarzynie Nowak", "k.nowak@wisla.example"),
            ("spotkanie z Janem Kowalskim", "jan.kowalski@krakow.example"),
            ("napisać do Jana Kowalskiego", "jan.kowalski@krakow.example"),
            ("przedstawić mnie Annie Kowalskiej", "anna.kowalska@gdansk.example"),
            ("rozmowa z Markiem Zającem", "marek.zajac@lodz.example"),
            ("alla dott.ssa Ferraro di Lombarda", "g.ferraro@lombarda.example"),
            ("aan dhr. De Wit van Polder", "joost@polder.example"),
            ("à Sr.ª Carvalho da Lisboa", "beatriz@lisboa.example"),
        ],
    )
    def test_named_in_another_case_or_with_a_title(self, text: str, email: str) -> None:
        """A Polish name in the genitive, dative, accusative or instrumental, or a name after
        'dott.ssa', 'dhr.' or 'Sr.ª', is the contact."""
        found = self.BOOK.mentions(text)
        assert [c.email for m in found for c in m.contacts] == [email]

    def test_another_first_name_is_not_inflection(self) -> None:
        """Inflection never turns one first name into another person's."""
        assert self.BOOK.mentions("z panią Magdaleną Wójcik") == []
