from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from introd import mailtext
from introd.auth import AuthResult, check_owner_auth, is_aligned

AUTH = Path(__file__).parent / "data" / "auth"
OWNERS = ("ruth@oakridge-advisory.example",)
TRUSTED = ("mx.oakridge-advisory.example",)


def _check(msg: EmailMessage, owners: tuple[str, ...] = OWNERS,
           trusted: tuple[str, ...] = TRUSTED) -> AuthResult:
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
    ("fail_dkim_not_aligned.eml", False,
     "dkim pass for bulk-sender.example not aligned with From domain"),
    ("fail_dmarc_vetoes_pass.eml", False, "dmarc=fail"),
    ("fail_no_authentication_results.eml", False,
     "no Authentication-Results from a trusted authserv-id"),
    ("fail_untrusted_authserv_id.eml", False,
     "no Authentication-Results from a trusted authserv-id"),
    ("forged_below_other_authserv_id.eml", False,
     "no Authentication-Results from a trusted authserv-id"),
    ("forged_directly_below_trusted.eml", False, "conflicting dkim results"),
    ("forged_below_trusted_and_relay.eml", False, "spf=fail"),
    ("malformed_only.eml", False, "no Authentication-Results from a trusted authserv-id"),
    ("malformed_below_trusted_pass.eml", True, "dkim=pass"),
    ("malformed_above_trusted_pass.eml", False,
     "no Authentication-Results from a trusted authserv-id"),
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


def _mail(*results: str, sender: str = "Ruth Okafor <ruth@oakridge-advisory.example>"
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
        raw = (b"Authentication-Results: mx.oakridge-advisory.example; dkim=pass "
               b"header.d=oakridge-advisory.example\n"
               b"From: Ruth Okafor <ruth@oakridge-advisory.example>\n"
               b"From: Eve <eve@attacker-isp.example>\n"
               b"Subject: approve\n\napprove\n")
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

    @pytest.mark.parametrize(("identity", "from_domain", "expected"), [
        ("oakridge-advisory.example", "oakridge-advisory.example", True),
        ("OAKRIDGE-advisory.example.", "oakridge-advisory.example", True),
        ("mail.oakridge-advisory.example", "oakridge-advisory.example", True),
        ("oakridge-advisory.example", "eu.oakridge-advisory.example", True),
        ("ruth@oakridge-advisory.example", "oakridge-advisory.example", True),
        ("bounce@bulk-sender.example", "oakridge-advisory.example", False),
        ("evil-oakridge-advisory.example", "oakridge-advisory.example", False),
        ("example", "oakridge-advisory.example", False),
        ("", "oakridge-advisory.example", False),
    ])
    def test_alignment(self, identity: str, from_domain: str, expected: bool) -> None:
        """Aligned means equal or a subdomain either way, never a look-alike or a bare TLD."""
        assert is_aligned(identity, from_domain) is expected


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
