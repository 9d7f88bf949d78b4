"""Tokens: HMAC over intro id and role; nothing else validates."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat
from pathlib import Path

import pytest

from introd import files, tokens

SECRET = b"0123456789abcdef0123456789abcdef"


class TestTokens:
    @pytest.mark.parametrize("role", ["requester", "target", "owner"])
    def test_round_trip(self, role: str) -> None:
        """A token made for (intro, role) reads back as exactly that."""
        tok = tokens.make_token(SECRET, "K7F3Q2", role)
        assert tokens.read_token(SECRET, tok) == ("K7F3Q2", role)
        assert tokens.read_token(SECRET, tok.upper()) == ("K7F3Q2", role)

    @pytest.mark.parametrize("intro_id", ["K7F3Q2", "a2b3c4", "ZZZZZZ"])
    @pytest.mark.parametrize("role", ["requester", "target", "owner"])
    def test_the_mac_is_hmac_sha256_in_base32(self, intro_id: str, role: str) -> None:
        """Tokens already sent stay valid: the MAC is the first 100 bits of
        HMAC-SHA256(secret, "ID:role"), in lower-case base32."""
        digest = hmac.new(SECRET, f"{intro_id.upper()}:{role}".encode(), hashlib.sha256).digest()
        mac = base64.b32encode(digest).decode().lower()[:20]
        letter = {"requester": "r", "target": "t", "owner": "o"}[role]
        assert tokens.make_token(SECRET, intro_id, role) == f"{intro_id.lower()}{letter}{mac}"

    def test_other_secret_or_tampering_fails(self) -> None:
        """Another secret, another intro or another role never validates."""
        tok = tokens.make_token(SECRET, "K7F3Q2", "target")
        assert tokens.read_token(b"another-secret-of-sixteen", tok) is None
        forged_intro = "a2b3c4" + tok[6:]
        assert tokens.read_token(SECRET, forged_intro) is None
        forged_role = tok[:6] + "r" + tok[7:]
        assert tokens.read_token(SECRET, forged_role) is None
        assert tokens.read_token(SECRET, "k7f3q2t") is None

    def test_token_in_address(self) -> None:
        """The token is the detail of the reply address, nothing else."""
        assert tokens.token_in("intros+abc@example.com", "intros@example.com") == "abc"
        assert tokens.token_in("INTROS+abc@EXAMPLE.com", "intros@example.com") == "abc"
        assert tokens.token_in("other+abc@example.com", "intros@example.com") is None
        assert tokens.token_in("intros+abc@evil.example", "intros@example.com") is None
        assert tokens.token_in("intros@example.com", "intros@example.com") is None

    def test_message_ids_are_unguessable_and_name_the_intro(self) -> None:
        """Each Message-ID is new and says which intro and role it belongs to."""
        a = tokens.new_message_id("K7F3Q2", "target", "example.com")
        b = tokens.new_message_id("K7F3Q2", "target", "example.com")
        assert a != b and len(a) > 40
        assert tokens.message_id_claim(a) == ("K7F3Q2", "target")


class TestIntroIds:
    def test_ids_are_six_letters_of_the_alphabet_each_equally_likely(self) -> None:
        """Every letter is drawn (no letter the alphabet lacks, none left out), and none
        much more often than another: 6,000 draws of 32 letters, 187.5 each expected."""
        from collections import Counter

        ids = [tokens.new_intro_id() for _ in range(1000)]
        assert all(len(i) == 6 and set(i) <= set(tokens._ID_ALPHABET) for i in ids)
        counts = Counter("".join(ids))
        assert set(counts) == set(tokens._ID_ALPHABET)
        assert 100 < min(counts.values()) and max(counts.values()) < 280
        assert len(set(ids)) == len(ids)


class TestSecret:
    def test_created_private_when_missing(self, tmp_path: Path) -> None:
        """A missing secret file is created with mode 0600 and reused after."""
        path = tmp_path / "sub" / "secret"
        first = files.load_secret(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert files.load_secret(path) == first and len(first) >= 32
