"""Which address a mailbox names, and what its name becomes: one routine for headers and
forward lines (introd.reading.addresses, introd.names), and what reaches an
outgoing mail."""

from __future__ import annotations

import email
import email.policy
import unicodedata
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from introd.reading import addresses, mailtext
from introd.reading.addresses import parse_mailbox, parse_mailboxes
from introd.config import build_config
from introd.reading.people import ContactBook
from introd.reading.forward import parse_person
from introd.model import Person
from introd.names import clean_name, decode_words
from introd.reading import Context, read_mail
from introd.render import Rendered, compose_bytes
from world import AUTH_OK, OWNER
from helpers import assert_written

MALLORY = "mallory@evil.example"
# pieces of address headers and forward lines, for the property checks
ADDRESS_SOUP = st.lists(
    st.sampled_from(
        [
            "tim@x.example",
            "Bob@Y.Example",
            "<",
            ">",
            '"',
            "(",
            ")",
            ",",
            ";",
            ":",
            "@",
            ".",
            " ",
            "\\",
            "Tim Walker",
            "=?UTF-8?Q?",
            "=40",
            "?=",
            "=?UTF-8?B?Ym9iQHguZXhhbXBsZQ==?=",
            "mailto:",
            "[",
            "]",
        ]
    ),
    max_size=20,
).map("".join)
NOW = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)

# a display name or comment that is an address, in every shape a header or a client's
# forward block writes it; the address is always mallory's
NAME_IS_ADDRESS = [
    '"victim@victims.example" <mallory@evil.example>',
    "victim@victims.example <mallory@evil.example>",
    "Mal (victim@victims.example) <mallory@evil.example>",
    "(victim@victims.example) <mallory@evil.example>",
    "mallory@evil.example (victim@victims.example)",
    '"Victim <victim@victims.example>" <mallory@evil.example>',
    "Victim <victim@victims.example> <mallory@evil.example>",
    '"victim@victims.example, other@victims.example" <mallory@evil.example>',
    "=?UTF-8?Q?victim=40victims.example?= <mallory@evil.example>",
    "=?UTF-8?B?dmljdGltQHZpY3RpbXMuZXhhbXBsZQ==?= <mallory@evil.example>",
    '"victim@victims.example" <MALLORY@Evil.Example>',
    "victim@victims.example\t<mallory@evil.example>",
    '"\\"victim@victims.example\\"" <mallory@evil.example>',
    "victim@victims.example <mailto:mallory@evil.example>",
]


def _from_header(value: str) -> EmailMessage:
    return mailtext.parse_bytes(f"From: {value}\r\nSubject: x\r\n\r\nhi\r\n".encode())


class TestTheAddressIsTheBracketedOne:
    @pytest.mark.parametrize("value", NAME_IS_ADDRESS)
    def test_in_a_header(self, value: str) -> None:
        """A From header whose name or comment is an address names mallory, unnamed."""
        (person,) = mailtext.address_list(_from_header(value), "From")
        assert person.email == MALLORY
        assert person.name is None or "@" not in person.name

    @pytest.mark.parametrize("value", NAME_IS_ADDRESS)
    def test_in_a_forward_block(self, value: str) -> None:
        """The same as a client prints it in a forward block's From: line."""
        person = parse_person(value)
        assert person is not None and person.email == MALLORY
        assert person.name is None or "@" not in person.name

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("Tim Walker <tim@x.example>", Person(name="Tim Walker", email="tim@x.example")),
            ('"Walker, Tim" <tim@x.example>', Person(name="Walker, Tim", email="tim@x.example")),
            ("tim@x.example (Tim Walker)", Person(name="Tim Walker", email="tim@x.example")),
            ("Tim Walker tim@x.example", Person(name="Tim Walker", email="tim@x.example")),
            ("Tim Walker [mailto:tim@x.example]", Person(name="Tim Walker", email="tim@x.example")),
            ("tim@x.example <tim@x.example>", Person(name=None, email="tim@x.example")),
            ("Tim Walker", Person(name="Tim Walker", email=None)),
        ],
    )
    def test_ordinary_forward_lines_still_read(self, value: str, expected: Person) -> None:
        """Names and addresses of ordinary forward lines are unchanged by the rule."""
        assert parse_person(value) == expected

    def test_two_bare_addresses_name_nobody(self) -> None:
        """Without brackets, two different addresses leave no address to choose."""
        assert parse_mailbox("victim@victims.example mallory@evil.example") is None

    def test_a_list_keeps_its_members(self) -> None:
        """To and Cc lists, groups included, give each member once."""
        people = parse_mailboxes(
            '"Ann" <a@x.example>, Team: b@x.example, Cy <c@x.example>;, d@x.example'
        )
        assert [p.email for p in people] == [
            "a@x.example",
            "b@x.example",
            "c@x.example",
            "d@x.example",
        ]

    def test_encoded_newline_in_a_from_header(self) -> None:
        """An encoded line break followed by "Bcc:" in a name never makes a recipient."""
        value = "=?UTF-8?Q?Nora=0A?=Bcc: mallory@evil.example <nora.field@x.example>"
        (person,) = mailtext.address_list(_from_header(value), "From")
        assert person.email == "nora.field@x.example"

    @settings(max_examples=300, deadline=None)
    @given(
        st.text(max_size=40),
        st.lists(
            st.sampled_from(
                ["victim@victims.example", "<victim@victims.example>", "other@x.example"]
            ),
            min_size=1,
            max_size=3,
        ),
        st.sampled_from(["quoted", "comment", "both"]),
    )
    def test_property_a_name_holding_addresses_never_changes_the_address_of_a_header(
        self, text: str, planted: list[str], shape: str
    ) -> None:
        """Whatever a quoted display name or a comment holds, the header names mallory."""
        inner = " ".join([text, *planted]).replace("\\", "\\\\")
        quoted = '"' + inner.replace('"', '\\"') + '"'
        comment = "(" + inner.replace("(", "\\(").replace(")", "\\)") + ")"
        name = {"quoted": quoted, "comment": comment, "both": f"{quoted} {comment}"}[shape]
        value = " ".join(f"{name} <{MALLORY}>".split())
        person = parse_mailbox(value)
        assert person is not None and person.email == MALLORY

    @settings(max_examples=300, deadline=None)
    @given(
        st.text(alphabet=st.characters(blacklist_characters='"()<>\\\r\n'), max_size=40),
        st.lists(
            st.sampled_from(
                [
                    "victim@victims.example",
                    "<victim@victims.example>",
                    "other@x.example,",
                    "(victim@victims.example)",
                ]
            ),
            min_size=1,
            max_size=3,
        ),
    )
    def test_property_an_unquoted_name_never_changes_the_address_of_a_forward_line(
        self, text: str, planted: list[str]
    ) -> None:
        """A client's forward line prints the name raw: the address is still mallory's."""
        person = parse_person(" ".join([text, *planted, f"<{MALLORY}>"]))
        assert person is not None and person.email == MALLORY

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=60))
    def test_property_any_text_names_mallory_or_nobody(self, text: str) -> None:
        """Any name, unbalanced quotes and brackets included, gives mallory or no address."""
        person = parse_person(f"{text} <{MALLORY}>")
        assert person is None or person.email in (MALLORY, None) or person.email in text.lower()

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(st.text(max_size=60), ADDRESS_SOUP))
    def test_property_every_address_read_is_written_in_the_value(self, value: str) -> None:
        """From any value, as a header, a list or a forward line, every address read is
        written in the value; the tokenizer runs without the readers' guards."""
        addresses._tokens(value)
        people = [*parse_mailboxes(value), parse_mailbox(value), parse_person(value)]
        if "\r" not in value and "\n" not in value:
            people += mailtext.address_list(_from_header(value), "From")
        assert_written([p.email or "" for p in people if p is not None], value)

    def test_the_soup_holds_addresses(self) -> None:
        """Values of the kind above give addresses (the check is not vacuous)."""
        value = 'Tim "x" <tim@x.example>, =?UTF-8?Q?Bob?= <bob@y.example>'
        assert [p.email for p in parse_mailboxes(value)] == ["tim@x.example", "bob@y.example"]


HOSTILE_NAMES = [
    "=?UTF-8?Q?Kai_Inject=0D=0ABcc=3A_mallory@evil.example?=",
    "=?UTF-8?Q?Kai_Inject=0D=0ABcc=3A_x?=",
    "=?UTF-8?Q?Nora=0A?=Bcc: mallory",
    "Nora\r\nBcc: mallory@evil.example",
    "Nora\u2028Bcc: x",
    "Nora\u0085Bcc: x",
    "Nora\x00Field",
    "Nora\u202eField",
    "Nora\u200bField",
    '"Nora',
    'Nora"',
    "''Nora''",
    "Nora\\",
    "=?bogus?Q?x?=",
    "=?UTF-8?B?TmlubwpCY2M6IHhAeS5leGFtcGxl?=",
]
_CLEAN_NAMES = {
    "=?UTF-8?Q?Kai_Inject=0D=0ABcc=3A_x?=": "Kai Inject Bcc: x",
    "Nora\u2028Bcc: x": "Nora Bcc: x",
    "Nora\x00Field": "NoraField",
    "Nora\u202eField": "NoraField",
    '"Nora': "Nora",
    "''Nora''": "Nora",
}


class TestNames:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("=?UTF-8?Q?Bj=C3=B6rn_Ekstr?= =?UTF-8?Q?=C3=B6m?=", "Björn Ekström"),
            ("=?UTF-8?Q?Bj=C3=B6rn_Ekstr?==?UTF-8?Q?=C3=B6m?=", "Björn Ekström"),
            ("=?UTF-8?Q?Bj=C3?= =?UTF-8?Q?=B6rn?=", "Björn"),  # a character split in two
            ("=?ISO-8859-1?Q?J=F6rg?= =?UTF-8?Q?_=C3=96lmann?=", "Jörg Ölmann"),
            ("=?utf-8?b?Wm/Dqw==?= Ødegaard", "Zoë Ødegaard"),
            ("  Tim \t  Walker ", "Tim Walker"),
            ('"Tim Walker"', "Tim Walker"),
            ("“Tim Walker”", "Tim Walker"),
            ('Robert "Bob" Jones', 'Robert "Bob" Jones'),
            ("O'Neil", "O'Neil"),
            ("victim@victims.example", None),
            ("---", None),
            ("", None),
        ],
    )
    def test_clean_name(self, raw: str, expected: str | None) -> None:
        """Decoded, joined, collapsed, unquoted; an address or nothing is no name."""
        assert clean_name(raw) == expected

    @pytest.mark.parametrize("raw", HOSTILE_NAMES)
    def test_hostile_names_lose_what_could_split_a_header(self, raw: str) -> None:
        """No line break, control or format character, nor an encoded word survives."""
        name = clean_name(raw)
        if raw in _CLEAN_NAMES:
            assert name == _CLEAN_NAMES[raw]
        assert name is None or not any(
            unicodedata.category(c)[0] == "C" or c in "\u2028\u2029" for c in name
        )
        assert name is None or "=?" not in name

    def test_every_person_name_is_rebuilt(self) -> None:
        """A Person made from the state or the contacts gets the same clean name."""
        assert Person(name="Tim\r\nBcc: x", email="t@x.example").name == "Tim Bcc: x"
        assert Person(name="=?UTF-8?Q?Bj=C3=B6rn?=").name == "Björn"

    def test_undecodable_words_stay_text(self) -> None:
        """An encoded word with an unknown charset is left as written."""
        assert decode_words("=?x-unknown?Q?abc?=") == "=?x-unknown?Q?abc?="

    @settings(max_examples=500, deadline=None)
    @given(st.text(max_size=80))
    def test_property_clean_name_is_safe_and_stable(self, raw: str) -> None:
        """Any name comes out free of control characters and unchanged by a second pass."""
        name = clean_name(raw)
        if name is not None:
            assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name)
            assert name == name.strip() and "  " not in name and "=?" not in name
            assert clean_name(name) == name


# names as an attacker writes them: text, line breaks and controls, encoded words
_hostile = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(
            [
                "Kai",
                "\r\n",
                "\n",
                "\r",
                "\x00",
                "\u2028",
                "\u0085",
                "Bcc: mallory@evil.example",
                "To:",
                ",",
                ";",
                '"',
                "<",
                ">",
                "=?UTF-8?Q?",
                "=0D=0A",
                "?=",
                " ",
                "(",
                ")",
                "\\",
                "victim@victims.example",
            ]
        ),
        max_size=12,
    ).map("".join),
)


def _recipients(msg: EmailMessage, header: str) -> list[str]:
    value = msg[header]
    return [a.addr_spec for a in value.addresses] if value is not None else []


class TestOutgoingHeaders:
    @settings(max_examples=300, deadline=None)
    @given(_hostile, _hostile)
    def test_property_any_name_gives_clean_headers_and_only_the_authorised_recipients(
        self, to_name: str, cc_name: str
    ) -> None:
        """Every header of the mail parses cleanly with policy.default, and it goes exactly
        to the authorised addresses, whatever the names."""
        rendered = Rendered(name="introduction", subject="Hello", text="x\n", html=None)
        raw = compose_bytes(
            rendered,
            sender=Address("Lisa Balbes", "lisa", "example.test"),
            to=[Person(name=to_name, email="tim@example.test")],
            cc=[Person(name=cc_name, email="bob@example.test")],
            message_id="<m@example.test>",
            date=NOW,
        )
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        for name in msg.keys():
            value = msg[name]
            assert not getattr(value, "defects", ()), (name, str(value))
        assert sorted(k.lower() for k in msg.keys()) == sorted(
            [
                "content-type",
                "mime-version",
                "content-transfer-encoding",
                "from",
                "to",
                "cc",
                "subject",
                "date",
                "message-id",
                "auto-submitted",
                "x-auto-response-suppress",
            ]
        )
        assert _recipients(msg, "To") == ["tim@example.test"]
        assert _recipients(msg, "Cc") == ["bob@example.test"]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    tmp: Path = tmp_path_factory.mktemp("addresses")
    cfg = build_config(
        {
            "owner": {"name": "Lisa Balbes", "addresses": [OWNER]},
            "reply_address": "intros@example.test",
            "auth": {"trusted_authserv_ids": ["mx.example.test"]},
        },
        path=tmp / "c.yaml",
        need_servers=False,
    )
    return Context(config=cfg, contacts=ContactBook([]), secret=b"s" * 32)


def _attached_forward(inner_from: str) -> bytes:
    """The owner forwards a request as an attachment; its From is the attacker's."""
    inner = (
        f"From: {inner_from}\r\nTo: {OWNER}\r\nSubject: Introduction request\r\n"
        "Message-ID: <r1@evil.example>\r\nDate: Mon, 7 Dec 2026 09:00:00 +0000\r\n\r\n"
        "Dear Lisa,\r\n\r\nCould you introduce me to Bob Jones at BigChem? I would like "
        "to learn about the transfer team before my interviews.\r\n\r\nThanks\r\n"
    )
    outer = (
        f"{AUTH_OK}\r\nFrom: Lisa Balbes <{OWNER}>\r\nTo: intros@example.test\r\n"
        "Subject: Fwd: Introduction request\r\nMessage-ID: <f1@mail.example.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
        "--b1\r\nContent-Type: text/plain\r\n\r\nintro: Bob Jones <bob@example.test>\r\n"
        "--b1\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "--b1--\r\n"
    )
    return outer.encode("utf-8")


class TestReadRequester:
    @pytest.mark.parametrize(
        "inner_from",
        [
            *NAME_IS_ADDRESS,
            "=?UTF-8?Q?Nora=0A?=Bcc: victim@victims.example <mallory@evil.example>",
            '"=?UTF-8?Q?Kai_Inject=0D=0ABcc=3A_victim@victims.example?=" <mallory@evil.example>',
        ],
    )
    def test_requester_is_the_bracketed_address(self, ctx: Context, inner_from: str) -> None:
        """Read end to end, the requester of an attached request is mallory, never the
        victim named in the display name, and the name carries no line break."""
        reading = read_mail(_attached_forward(inner_from), ctx)
        assert reading.kind == "request" and reading.request is not None
        requester = reading.request.requester
        assert requester is not None and requester.email == MALLORY
        assert requester.name is None or ("\n" not in requester.name and "@" not in requester.name)

    @settings(
        max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(_hostile)
    def test_property_a_hostile_requester_name_reaches_no_header(
        self, ctx: Context, name: str
    ) -> None:
        """Whatever the attached request's From name, the opt-in built for the requester
        parses cleanly and goes to the bracketed address only."""
        name = name.replace("\r", " ").replace("\n", " ")
        if any(c in name for c in ',;:<>()"\\'):  # a name with specials is a quoted string
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        reading = read_mail(_attached_forward(f"{name} <tim@example.test>"), ctx)
        assert reading.kind == "request" and reading.request is not None, reading.problem
        requester = reading.request.requester
        assert requester is not None and requester.email == "tim@example.test"
        rendered = Rendered(name="optin_requester", subject="Hello", text="x\n", html=None)
        raw = compose_bytes(
            rendered,
            sender=Address("Lisa Balbes", "lisa", "example.test"),
            to=[requester],
            message_id="<m@example.test>",
            date=NOW,
        )
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert _recipients(msg, "To") == ["tim@example.test"]  # type: ignore[arg-type]
        assert not msg["To"].defects


class TestOnePatternEverywhere:
    """Every reader finds addresses in text with addresses.ADDRESS, which accepts the
    Unicode letters RFC 6532 allows, as the mailbox routine always did. The readers of
    running text used an ASCII-only pattern: they missed such an address, or took a
    fragment of it ("rgen@mueller.example" out of "jürgen@mueller.example")."""

    UNICODE = "jürgen@mueller.example"

    def test_the_pattern_takes_the_whole_address(self) -> None:
        """A search finds the whole address, never a tail of its local part."""
        found = addresses.ADDRESS.search(f"write to {self.UNICODE} today")
        assert found is not None and found.group(0) == self.UNICODE
        assert addresses.holds_address(f"Jürgen ({self.UNICODE})")
        assert not addresses.holds_address("Jürgen @ Mueller")

    def test_a_mailbox_and_a_line_of_text_agree(self) -> None:
        """The header routine and the text readers read the same address."""
        person = parse_mailbox(f"Jürgen Müller <{self.UNICODE}>")
        assert person is not None and person.email == self.UNICODE

    def test_owner_command_target(self) -> None:
        """'target: <address>' names the whole Unicode address."""
        from introd.reading.answers import read_owner_command

        assert read_owner_command(f"target: {self.UNICODE}") == ("target", None, self.UNICODE)

    def test_a_bare_address_in_a_request_note(self) -> None:
        """A bare address on its own line is the whole address, not its ASCII tail."""
        from introd.reading.request import _person_spec

        assert _person_spec(self.UNICODE) == (None, self.UNICODE, None)

    def test_a_bounce_names_the_whole_failed_address(self) -> None:
        """A bounce's text names the Unicode address that failed."""
        from introd.reading.automail import _addresses

        assert _addresses(f"<{self.UNICODE}>: user unknown") == [self.UNICODE]

    def test_a_name_holding_such_an_address_is_no_name(self) -> None:
        """A display name that is a Unicode address is dropped, as an ASCII one is."""
        assert clean_name(self.UNICODE) is None
