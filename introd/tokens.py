"""Reply tokens and Message-IDs: how a reply proves which mail it answers.

A token is ``<intro id><role letter><HMAC>``, lower case so that servers
that fold the local part keep it valid. The HMAC-SHA256 is keyed by the
secret and covers the intro id and the role, truncated to 100 bits.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets


ROLES = {"requester": "r", "target": "t", "owner": "o"}
_ROLE_OF = {v: k for k, v in ROLES.items()}
_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
assert 256 % len(_ID_ALPHABET) == 0
_TOKEN = re.compile(r"^([a-z0-9]{6})([rto])([a-z2-7]{20})$")
_MSGID = re.compile(
    r"<introd\.(?a:([A-Z0-9]{6}))\.(requester|target|owner|notice)\.[A-Za-z0-9_-]+@", re.I
)


_OWN_ID = re.compile(
    rb"<introd\.[A-Za-z0-9]{6}\.(?:requester|target|owner|notice)\."
    rb"[A-Za-z0-9_-]{8,64}@[A-Za-z0-9.-]{1,253}>"
)
MAX_REFERENCES = 20


def own_message_ids(raw: bytes) -> tuple[str, ...]:
    """The Message-IDs of introd's own shape anywhere in a mail (a bounce returning one of
    our mails, its headers or a quote of them), in order, once each, at most 20."""
    found: list[str] = []
    for match in _OWN_ID.finditer(raw):
        mid = match.group(0).decode("ascii")
        if mid not in found:
            found.append(mid)
            if len(found) >= MAX_REFERENCES:
                break
    return tuple(found)


def new_intro_id() -> str:
    # one read of the system's randomness; each byte picks a letter (32 divides 256, so
    # every letter is equally likely)
    return "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in secrets.token_bytes(6))


def _mac(secret: bytes, intro_id: str, role: str) -> str:
    digest = hmac.digest(secret, f"{intro_id.upper()}:{role}".encode(), "sha256")
    # base32 writes each 5 bytes as 8 letters: the first 15 bytes give the first 24
    return base64.b32encode(digest[:15]).decode().lower()[:20]


def make_token(secret: bytes, intro_id: str, role: str) -> str:
    return f"{intro_id.lower()}{ROLES[role]}{_mac(secret, intro_id, role)}"


def read_token(secret: bytes, token: str) -> tuple[str, str] | None:
    """The (intro id, role) a token stands for, or None when it is not valid."""
    m = _TOKEN.match(token.lower())
    if not m:
        return None
    intro_id, role = m.group(1).upper(), _ROLE_OF[m.group(2)]
    if hmac.compare_digest(m.group(3), _mac(secret, intro_id, role)):
        return intro_id, role
    return None


def token_claim(token: str) -> str | None:
    """The intro id a token claims, without checking it (for `parse` reports)."""
    m = _TOKEN.match(token.lower())
    return m.group(1).upper() if m else None


def reply_address_with(reply_address: str, token: str) -> str:
    local, _, domain = reply_address.partition("@")
    return f"{local}+{token}@{domain}"


def token_in(address: str, reply_address: str) -> str | None:
    """The token in ``address`` when it is the reply address plus a detail."""
    local, _, domain = address.lower().partition("@")
    base_local, _, base_domain = reply_address.lower().partition("@")
    if domain != base_domain or "+" not in local:
        return None
    base, _, detail = local.partition("+")
    return detail if base == base_local and detail else None


def new_message_id(intro_id: str | None, role: str, domain: str) -> str:
    return f"<introd.{intro_id or 'XXXXXX'}.{role}.{secrets.token_hex(12)}@{domain}>"


def message_id_claim(message_id: str) -> tuple[str, str] | None:
    """The (intro id, role) named in one of our Message-IDs."""
    m = _MSGID.search(message_id)
    return (m.group(1).upper(), m.group(2).lower()) if m else None
