from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from introd.reading import mailtext
from introd.config import build_config
from introd.reading.people import ContactBook
from introd.reading import Context, read_mail
from introd.reading import auth as _auth
from introd.reading.auth import AuthResult, check_exchange_online, check_owner_auth, is_aligned

AUTH = Path(__file__).parent / "data" / "auth"
OWNERS = ("ruth@oakridge-advisory.example",)
TRUSTED = ("mx.oakridge-advisory.example", "mx.google.com")


def _check(
    msg: EmailMessage, owners: tuple[str, ...] = OWNERS, trusted: tuple[str, ...] = TRUSTED
) -> AuthResult:
    return check_owner_auth(msg, owner_addresses=owners, trusted_authserv_ids=trusted)


def _load(name: str) -> EmailMessage:
    return mailtext.parse_bytes((AUTH / name).read_bytes())


# file, expected ok, a phrase of the reason
AUTH_FILES = [
    ("pass_dkim.eml", True, "dkim=pass header.d=oakridge-advisory.example"),
    ("pass_dkim_relaxed_subdomain.eml", True, "dkim=pass"),
    ("pass_spf.eml", True, "spf=pass smtp.mailfrom=ruth@oakridge-advisory.example"),
    ("pass_spf_domain_only.eml", True, "spf=pass"),
    ("pass_dmarc.eml", True, "dmarc=pass"),
    ("pass_several_trusted_headers.eml", True, "dkim=pass"),
    ("pass_authserv_id_other_case.eml", True, "dkim=pass"),
    ("fail_dkim_spf_dmarc.eml", False, "dkim=fail"),
    (
        "fail_dkim_not_aligned.eml",
        False,
        "dkim pass for bulk-sender.example not aligned with From domain",
    ),
    ("fail_dmarc_vetoes_pass.eml", False, "dmarc=fail"),
    (
        "fail_no_authentication_results.eml",
        False,
        "no Authentication-Results from a trusted authserv-id",
    ),
    (
        "fail_untrusted_authserv_id.eml",
        False,
        "no Authentication-Results from a trusted authserv-id",
    ),
    (
        "forged_below_other_authserv_id.eml",
        False,
        "no Authentication-Results from a trusted authserv-id",
    ),
    ("forged_directly_below_trusted.eml", False, "dkim=none; spf=softfail"),
    ("forged_below_trusted_none.eml", False, "1 lower header(s) claiming a trusted"),
    ("forged_gmail_layout_spf_softfail.eml", False, "spf=softfail"),
    ("forged_below_trusted_fail_other_case.eml", False, "dkim=fail; spf=fail"),
    ("forged_below_trusted_and_relay.eml", False, "spf=fail"),
    ("malformed_only.eml", False, "no Authentication-Results from a trusted authserv-id"),
    ("malformed_below_trusted_pass.eml", True, "dkim=pass"),
    (
        "malformed_above_trusted_pass.eml",
        False,
        "no Authentication-Results from a trusted authserv-id",
    ),
    ("fail_two_from_addresses.eml", False, "2 addresses"),
    ("fail_from_not_owner.eml", False, "not an owner address"),
]


class TestAuthFiles:
    @pytest.mark.parametrize(("name", "ok", "reason"), AUTH_FILES)
    def test_decides_and_explains(self, name: str, ok: bool, reason: str) -> None:
        """Each owner mail passes or fails as RFC 8601 and our trust rules say, with a reason."""
        result = _check(_load(name))
        assert result.ok is ok
        assert reason in result.reason

    def test_every_fixture_is_in_the_table(self) -> None:
        """No auth fixture goes untested."""
        assert {p.name for p in AUTH.glob("*.eml")} == {row[0] for row in AUTH_FILES}

    def test_owner_addresses_compare_case_insensitively(self) -> None:
        """An owner address configured in capitals still matches."""
        assert _check(_load("pass_dkim.eml"), owners=("Ruth@OAKRIDGE-Advisory.example",)).ok

    def test_nothing_is_trusted_without_trusted_ids(self) -> None:
        """With no trusted authserv-id, no mail passes."""
        result = _check(_load("pass_dkim.eml"), trusted=())
        assert not result.ok


def _mail(
    *results: str, sender: str = "Ruth Okafor <ruth@oakridge-advisory.example>"
) -> EmailMessage:
    msg = EmailMessage()
    for value in results:
        msg["Authentication-Results"] = value
    msg["From"] = sender
    msg["To"] = "hello@oakridge-advisory.example"
    msg["Subject"] = "approve"
    msg.set_content("approve\n")
    return mailtext.parse_bytes(msg.as_bytes())


class TestRules:
    def test_two_from_headers_fail(self) -> None:
        """Two From headers are never the owner's."""
        raw = (
            b"Authentication-Results: mx.oakridge-advisory.example; dkim=pass "
            b"header.d=oakridge-advisory.example\n"
            b"From: Ruth Okafor <ruth@oakridge-advisory.example>\n"
            b"From: Eve <eve@attacker-isp.example>\n"
            b"Subject: approve\n\napprove\n"
        )
        result = _check(mailtext.parse_bytes(raw))
        assert not result.ok
        assert "2 From headers" in result.reason

    def test_dmarc_pass_for_another_domain_fails(self) -> None:
        """dmarc=pass counts only for the From domain."""
        msg = _mail("mx.oakridge-advisory.example; dmarc=pass header.from=elsewhere.example")
        assert not _check(msg).ok

    def test_dkim_identity_from_header_i(self) -> None:
        """A DKIM result that gives only header.i is aligned through its domain."""
        msg = _mail("mx.oakridge-advisory.example; dkim=pass header.i=@oakridge-advisory.example")
        assert _check(msg).ok

    def test_dkim_pass_without_domain_fails(self) -> None:
        """A dkim=pass that names no domain proves nothing."""
        assert not _check(_mail("mx.oakridge-advisory.example; dkim=pass")).ok

    def test_spf_helo_only_fails(self) -> None:
        """An SPF pass for the HELO name, not the mail-from, does not count."""
        msg = _mail("mx.oakridge-advisory.example; spf=pass smtp.helo=oakridge-advisory.example")
        assert not _check(msg).ok

    @pytest.mark.parametrize(
        ("identity", "from_domain", "expected"),
        [
            ("oakridge-advisory.example", "oakridge-advisory.example", True),
            ("OAKRIDGE-advisory.example.", "oakridge-advisory.example", True),
            ("mail.oakridge-advisory.example", "oakridge-advisory.example", True),
            ("oakridge-advisory.example", "eu.oakridge-advisory.example", True),
            ("ruth@oakridge-advisory.example", "oakridge-advisory.example", True),
            ("bounce@bulk-sender.example", "oakridge-advisory.example", False),
            ("evil-oakridge-advisory.example", "oakridge-advisory.example", False),
            ("example", "oakridge-advisory.example", False),
            ("", "oakridge-advisory.example", False),
        ],
    )
    def test_alignment(self, identity: str, from_domain: str, expected: bool) -> None:
        """Aligned means equal or a subdomain either way, never a look-alike or a bare TLD."""
        assert is_aligned(identity, from_domain) is expected


# what the receiving MTA itself wrote, none of it a pass for the From domain
MTA_SAYS = [
    "none",
    "dkim=none (no signature)",
    "spf=softfail smtp.mailfrom=ruth@oakridge-advisory.example",
    "dkim=none; spf=softfail smtp.mailfrom=ruth@oakridge-advisory.example",
    "dkim=fail header.d=oakridge-advisory.example; spf=fail "
    "smtp.mailfrom=ruth@oakridge-advisory.example",
    "spf=neutral smtp.mailfrom=ruth@oakridge-advisory.example; dmarc=none",
    "dkim=temperror header.d=oakridge-advisory.example",
    "dkim=pass header.d=bulk-sender.example; spf=pass smtp.mailfrom=bounce@bulk-sender.example",
]
# what a sender writes below it, claiming the same authserv-id
FORGED = [
    "dkim=pass header.d=oakridge-advisory.example",
    "spf=pass smtp.mailfrom=ruth@oakridge-advisory.example",
    "dmarc=pass header.from=oakridge-advisory.example",
    "dkim=pass header.d=oakridge-advisory.example; spf=pass "
    "smtp.mailfrom=ruth@oakridge-advisory.example; dmarc=pass header.from=oakridge-advisory.example",
]
# how the forged header is written: the same id, another spelling of it, a version, folded
FORGED_ID = [
    "mx.oakridge-advisory.example",
    "MX.OAKRIDGE-ADVISORY.EXAMPLE",
    "mx.oakridge-advisory.example 1",
    "mx.oakridge-advisory.example (x)",
]
RECEIVED = (
    "Received: from relay.attacker-isp.example (relay.attacker-isp.example "
    "[203.0.113.9])\n\tby mx.oakridge-advisory.example (Postfix) with ESMTPS id 4QY0A1"
    "\n\tfor <hello@oakridge-advisory.example>; Tue, 4 Mar 2025 10:00:00 +0000\n"
)


def _delivered(own: str, *forged: str, layout: str = "below") -> EmailMessage:
    """A mail as a non-stripping MTA delivers it: its own header, then what the sender
    wrote (``layout``: directly below, below the MTA's Received header, or among the
    sender's other headers)."""
    mta = f"Authentication-Results: mx.oakridge-advisory.example; {own}\n"
    sender = "".join(f"Authentication-Results: {f}\n" for f in forged)
    head = "Return-Path: <ruth@oakridge-advisory.example>\n"
    body = (
        "From: Ruth Okafor <ruth@oakridge-advisory.example>\n"
        "To: hello@oakridge-advisory.example\nSubject: approve\n"
        "Message-ID: <f1@attacker-isp.example>\n\napprove K7F3Q2\n"
    )
    if layout == "below":
        raw = head + RECEIVED + mta + sender + body
    elif layout == "mta_above_received":
        raw = head + mta + RECEIVED + sender + body
    else:  # among the sender's own headers
        raw = head + RECEIVED + mta + "MIME-Version: 1.0\n" + sender + body
    return mailtext.parse_bytes(raw.encode())


class TestForgedBelowTrusted:
    @pytest.mark.parametrize("own", MTA_SAYS)
    @pytest.mark.parametrize("forged", FORGED)
    @pytest.mark.parametrize("forged_id", FORGED_ID)
    @pytest.mark.parametrize("layout", ["below", "mta_above_received", "among_headers"])
    def test_sender_header_claiming_our_id_adds_nothing(
        self, own: str, forged: str, forged_id: str, layout: str
    ) -> None:
        """A header the sender wrote under our MTA's own never turns its non-pass into a pass."""
        alone = _check(_delivered(own, layout=layout))
        assert not alone.ok
        result = _check(_delivered(own, f"{forged_id}; {forged}", layout=layout))
        assert not result.ok
        assert "lower header(s) claiming a trusted authserv-id ignored" in result.reason

    def test_folded_forgery_is_ignored_too(self) -> None:
        """A folded forged header is the same header."""
        msg = _delivered(
            "none",
            "mx.oakridge-advisory.example;\n\tdkim=pass\n\theader.d=oakridge-advisory.example",
        )
        assert not _check(msg).ok

    def test_distinct_trusted_ids_each_count_once(self) -> None:
        """Filters with their own authserv-ids each have their topmost header counted."""
        msg = _mail(
            "dkim.oakridge-advisory.example; dkim=pass header.d=oakridge-advisory.example",
            "mx.oakridge-advisory.example; spf=pass smtp.mailfrom=ruth@oakridge-advisory.example",
        )
        result = _check(
            msg, trusted=("mx.oakridge-advisory.example", "dkim.oakridge-advisory.example")
        )
        assert result.ok

    def test_conflict_between_trusted_ids_fails(self) -> None:
        """A pass under one trusted id and a non-pass for the same method under another fail."""
        msg = _mail(
            "dkim.oakridge-advisory.example; dkim=pass header.d=oakridge-advisory.example",
            "mx.oakridge-advisory.example; dkim=fail header.d=oakridge-advisory.example",
        )
        result = _check(
            msg, trusted=("mx.oakridge-advisory.example", "dkim.oakridge-advisory.example")
        )
        assert not result.ok
        assert "conflicting dkim results" in result.reason

    @given(
        own=st.sampled_from(MTA_SAYS),
        lower=st.lists(
            st.sampled_from(FORGED_ID).flatmap(
                lambda i: st.sampled_from(FORGED + MTA_SAYS).map(lambda r: f"{i}; {r}")
            ),
            min_size=1,
            max_size=4,
        ),
    )
    def test_property_lower_headers_never_turn_a_fail_into_a_pass(
        self, own: str, lower: list[str]
    ) -> None:
        """Whatever a sender adds below the MTA's header, a failing mail stays failing."""
        assert not _check(_delivered(own, *lower)).ok

    @given(
        lower=st.lists(
            st.sampled_from(FORGED_ID).flatmap(
                lambda i: st.sampled_from(FORGED + MTA_SAYS).map(lambda r: f"{i}; {r}")
            ),
            max_size=4,
        )
    )
    def test_property_lower_headers_never_change_a_pass(self, lower: list[str]) -> None:
        """What the sender adds below a passing MTA header does not decide anything either."""
        own = "dkim=pass header.d=oakridge-advisory.example"
        assert _check(_delivered(own, *lower)).ok


class TestNeverRaises:
    @given(st.lists(st.text(max_size=200), max_size=4))
    def test_random_headers(self, values: list[str]) -> None:
        """Garbled Authentication-Results headers never raise and never pass."""
        msg = EmailMessage()
        msg["From"] = "ruth@oakridge-advisory.example"
        for value in values:
            try:
                msg["Authentication-Results"] = value
            except Exception:  # the email package refuses some values itself
                continue
        result = _check(msg)
        assert isinstance(result, AuthResult)

    @given(st.binary(max_size=2000))
    def test_random_bytes(self, raw: bytes) -> None:
        """Any bytes as a mail give a result, not an exception."""
        assert isinstance(_check(mailtext.parse_bytes(raw)), AuthResult)


EXO = AUTH / "exchange"
TENANT = "6c3a1f0e-2b4d-4e8f-9a7b-1c2d3e4f5a6b"
OTHER_TENANT = "4e2c6054-71cb-48f1-bd6c-3a9705aca71b"


def _exo(raw: bytes, tenant: str = TENANT, owners: tuple[str, ...] = OWNERS) -> AuthResult:
    return check_exchange_online(
        mailtext.parse_bytes(raw), owner_addresses=owners, tenant_id=tenant
    )


def _internal(*changes: tuple[str, str]) -> bytes:
    """The tenant's internal owner mail, with header lines replaced (old, new)."""
    raw = (EXO / "internal_owner.eml").read_bytes().decode()
    for old, new in changes:
        assert old in raw
        raw = raw.replace(old, new)
    return raw.encode()


class TestExchangeOnline:
    def test_internal_mail_of_the_tenant_passes(self) -> None:
        """Owner mail submitted inside the tenant carries Exchange's stamps: authenticated."""
        result = _exo((EXO / "internal_owner.eml").read_bytes())
        assert result.ok
        assert TENANT in result.reason

    def test_tenant_id_compares_case_insensitively(self) -> None:
        """A tenant id configured in capitals still matches."""
        assert _exo((EXO / "internal_owner.eml").read_bytes(), tenant=TENANT.upper()).ok

    def test_outsider_with_forged_stamps_fails(self) -> None:
        """An outsider's mail whose own Internal stamps sit beside Exchange's Anonymous ones
        (as a mailbox that did not strip them would show it) fails."""
        result = _exo((EXO / "outsider_forged_stamps.eml").read_bytes())
        assert not result.ok
        assert "2 X-MS-Exchange-Organization-Authas headers" in result.reason

    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            (
                [
                    (
                        "X-MS-Exchange-CrossTenant-id: " + TENANT,
                        "X-MS-Exchange-CrossTenant-id: " + OTHER_TENANT,
                    )
                ],
                "another tenant",
            ),
            (
                [
                    (
                        "X-MS-Exchange-Organization-AuthAs: Internal",
                        "X-MS-Exchange-Organization-AuthAs: Anonymous",
                    )
                ],
                "'anonymous', not 'internal'",
            ),
            (
                [
                    (
                        "X-MS-Exchange-CrossTenant-AuthAs: Internal",
                        "X-MS-Exchange-CrossTenant-AuthAs: Anonymous",
                    )
                ],
                "'anonymous', not 'internal'",
            ),
            (
                [
                    (
                        "X-MS-Exchange-Organization-AuthSource: DM6PR11MB4657.namprd11.prod.outlook.com",
                        "X-MS-Exchange-Organization-AuthSource: mail.attacker-isp.example",
                    )
                ],
                "not an Exchange Online server",
            ),
            (
                [
                    (
                        "X-MS-Exchange-Organization-AuthSource: DM6PR11MB4657.namprd11.prod.outlook.com",
                        "X-MS-Exchange-Organization-AuthSource: outlook.com.attacker-isp.example",
                    )
                ],
                "not an Exchange Online server",
            ),
            (
                [("X-MS-Exchange-CrossTenant-id: " + TENANT + "\n", "")],
                "no X-MS-Exchange-Crosstenant-ID",
            ),
            (
                [("X-MS-Exchange-Organization-AuthAs: Internal\n", "")],
                "no X-MS-Exchange-Organization-Authas",
            ),
            (
                [
                    (
                        "X-MS-Exchange-Organization-MessageDirectionality: Originating",
                        "X-MS-Exchange-Organization-MessageDirectionality: Incoming",
                    )
                ],
                "'incoming'",
            ),
            (
                [
                    (
                        "X-MS-Exchange-CrossTenant-fromentityheader: Hosted",
                        "X-MS-Exchange-CrossTenant-fromentityheader: Internet",
                    )
                ],
                "'internet'",
            ),
            (
                [
                    (
                        "Content-Type: text/plain",
                        "X-MS-Exchange-CrossTenant-id: " + TENANT + "\nContent-Type: text/plain",
                    )
                ],
                "2 X-MS-Exchange-Crosstenant-ID headers",
            ),
            (
                [
                    (
                        "From: Ruth Okafor <ruth@oakridge-advisory.example>",
                        "From: Eve <eve@oakridge-advisory.example>",
                    )
                ],
                "not an owner address",
            ),
            (
                [
                    (
                        "From: Ruth Okafor <ruth@oakridge-advisory.example>",
                        "From: Ruth Okafor <ruth@oakridge-advisory.example>, eve@attacker-isp.example",
                    )
                ],
                "2 addresses",
            ),
        ],
        ids=[
            "other_tenant",
            "org_anonymous",
            "crosstenant_anonymous",
            "foreign_authsource",
            "lookalike_authsource",
            "no_tenant_id",
            "no_authas",
            "incoming",
            "internet",
            "duplicate_tenant_id",
            "not_owner",
            "two_from",
        ],
    )
    def test_forged_or_foreign_variants_fail(
        self, changes: list[tuple[str, str]], reason: str
    ) -> None:
        """Each stamp must be Exchange's own, once, for our tenant, from our owner."""
        result = _exo(_internal(*changes))
        assert not result.ok
        assert reason in result.reason

    def test_stamps_inside_an_attached_message_do_not_count(self) -> None:
        """Exchange's stamps count only in the mail's own header, not in an attachment."""
        inner = (EXO / "internal_owner.eml").read_text()
        outer = (
            "From: Ruth Okafor <ruth@oakridge-advisory.example>\n"
            "To: hello@oakridge-advisory.example\nSubject: approve\n"
            "X-MS-Exchange-Organization-AuthAs: Anonymous\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
            "approve\n--b\nContent-Type: message/rfc822\n\n" + inner + "\n--b--\n"
        )
        assert not _exo(outer.encode()).ok

    @pytest.mark.parametrize("tenant", ["", "oakridge-advisory.example", "not-a-guid"])
    def test_without_a_tenant_id_nothing_passes(self, tenant: str) -> None:
        """A missing or malformed tenant id never lets a mail through."""
        assert not _exo((EXO / "internal_owner.eml").read_bytes(), tenant=tenant).ok

    def test_authentication_results_without_authserv_id_stay_untrusted(self) -> None:
        """The same mail, read by the Authentication-Results check, is not authenticated."""
        msg = mailtext.parse_bytes((EXO / "internal_owner.eml").read_bytes())
        assert not _check(msg).ok

    @given(
        st.lists(
            st.sampled_from(
                [
                    "X-MS-Exchange-Organization-AuthAs: Internal",
                    "X-MS-Exchange-Organization-AuthAs: Anonymous",
                    "X-MS-Exchange-Organization-AuthSource: DM6PR11MB4657.namprd11.prod.outlook.com",
                    "X-MS-Exchange-CrossTenant-AuthAs: Internal",
                    f"X-MS-Exchange-CrossTenant-Id: {TENANT}",
                    f"X-MS-Exchange-CrossTenant-Id: {OTHER_TENANT}",
                    "X-MS-Exchange-Organization-MessageDirectionality: Originating",
                ]
            ),
            min_size=1,
            max_size=6,
        )
    )
    def test_property_headers_added_to_exchange_stamps_never_pass_an_outsider(
        self, forged: list[str]
    ) -> None:
        """Whatever stamps an outsider adds to a mail Exchange marked Anonymous, it fails."""
        raw = (EXO / "outsider_forged_stamps.eml").read_text()
        head, body = raw.split("\n\n", 1)
        own = [
            ln
            for ln in head.split("\n")
            if not ln.startswith("X-MS-Exchange-")
            or "Anonymous" in ln
            or "Incoming" in ln
            or "Internet" in ln
            or "eop-nam11" in ln
            or ln.startswith(("X-MS-Exchange-CrossTenant-Id", "X-MS-Exchange-Transport"))
        ]
        raw = "\n".join(own + forged) + "\n\n" + body
        assert not _exo(raw.encode()).ok


class TestExchangeOnlineReading:
    @pytest.fixture
    def ctx(self, tmp_path: Path) -> Context:
        cfg = build_config(
            {
                "owner": {"name": "Ruth Okafor", "addresses": list(OWNERS)},
                "reply_address": "hello@oakridge-advisory.example",
                "auth": {"exchange_online_tenant": TENANT},
            },
            path=tmp_path / "c.yaml",
            need_servers=False,
        )
        return Context(config=cfg, contacts=ContactBook([]), secret=b"s" * 32)

    def test_internal_owner_mail_is_authenticated(self, ctx: Context) -> None:
        """With auth.exchange_online_tenant, the tenant's own owner mail is authenticated."""
        reading = read_mail((EXO / "internal_owner.eml").read_bytes(), ctx)
        assert reading.from_owner and reading.authenticated
        assert "exchange online" in reading.auth_reason

    def test_outsider_is_not(self, ctx: Context) -> None:
        """The outsider's forged stamps leave the mail unauthenticated, with both reasons."""
        reading = read_mail((EXO / "outsider_forged_stamps.eml").read_bytes(), ctx)
        assert reading.from_owner and not reading.authenticated
        assert "no Authentication-Results from a trusted authserv-id" in reading.auth_reason
        assert "X-MS-Exchange-Organization-Authas" in reading.auth_reason


# -- the common shape, read without authres ------------------------------------------

COMMON_SHAPES = [
    "mx.google.com; dkim=pass header.i=@example.com header.s=20230601 header.b=AbC+/9; "
    "spf=pass (google.com: domain of ruth@example.com designates 203.0.113.9 as permitted "
    "sender) smtp.mailfrom=ruth@example.com; dmarc=pass (p=NONE sp=NONE dis=NONE) "
    "header.from=example.com",
    "mx.oakridge-advisory.example 1; dkim=pass header.d=oakridge-advisory.example",
    "mx.example.net;dkim=fail header.d=example.net;spf=softfail smtp.mailfrom=example.net",
    "mx.example.net; arc=none; iprev=pass policy.iprev=203.0.113.9; dkim=none",
    "mx.example.net; spf=pass smtp.mailfrom=@example.net (comment) smtp.helo=x.example",
]
GENERAL_SHAPES = [
    "mx.example.net; none",
    'mx.example.net; dkim=fail reason="bad signature" header.d=example.net',
    "mx.example.net; dkim/1=pass header.d=example.net",
    "mx.example.net (our MX); dkim=pass header.d=example.net",
    'mx.example.net; dkim=pass header.d="example.net"',
    "mx.example.net; dmarc=pass action=none header.from=example.net",
    "mx.example.net 2; dkim=pass header.d=example.net",
    "mx.example.net; dkim=pass header.d=example.net;",
    "mx.example.net; dkim=pass (nested (comment)) header.d=example.net",
]


@pytest.mark.parametrize("value", COMMON_SHAPES)
def test_common_shapes_are_read_without_authres_and_alike(value: str) -> None:
    simple = _auth._parse_simple(value)
    assert simple is not None
    assert simple == _auth._parse_general(value)


@pytest.mark.parametrize("value", GENERAL_SHAPES)
def test_other_shapes_are_left_to_authres(value: str) -> None:
    assert _auth._parse_simple(value) is None
    assert _auth._parse(value) == _auth._parse_general(value)


_PIECES = st.sampled_from(
    [
        " ",
        ";",
        "; ",
        "(",
        ")",
        "()",
        " (a b)",
        '"',
        "@",
        ".",
        "=",
        "none",
        "reason=x",
        "/1",
        " 1",
        " 2",
        "dkim=pass",
        "spf=fail",
        "dmarc=pass",
        "x-y=z",
        " header.d=a.example",
        " header.i=@a.example",
        " smtp.mailfrom=b@a.example",
        " policy.x=",
        " foo.bar=baz",
        "action=none",
        "\\",
        "é",
        "mx.example",
        "a..b",
    ]
)


@given(st.lists(_PIECES, min_size=1, max_size=14))
def test_the_common_shape_reader_agrees_with_authres_whenever_it_answers(
    pieces: list[str],
) -> None:
    value = " ".join("".join(pieces).split())
    simple = _auth._parse_simple(value)
    if simple is not None:
        assert simple == _auth._parse_general(value)
    assert _auth._parse(value) == (simple or _auth._parse_general(value))
