"""Logging in to IMAP and SMTP with an OAuth 2.0 access token: SASL OAUTHBEARER (RFC 7628)
or XOAUTH2 (Google's and Microsoft's), whichever the server advertises.

A token the server refuses is replaced once by a freshly refreshed one (it may have
been revoked or expired early); a second refusal is the server's answer.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import structlog

from .exceptions import AuthError

if TYPE_CHECKING:
    import imapclient

    from .config import ServerConfig
    from .oauth2 import TokenSource

log = structlog.get_logger("introd.sasl")

# preferred first: the standard one, then the one Google and Microsoft started with
MECHANISMS = ("OAUTHBEARER", "XOAUTH2")


class Refused(Exception):
    """The server refused the token (the caller decides whether to try a fresh one)."""


def choose_mechanism(offered: Iterable[str]) -> str | None:
    names = {m.upper() for m in offered}
    return next((m for m in MECHANISMS if m in names), None)


def xoauth2(user: str, token: str) -> str:
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def oauthbearer(user: str, token: str, host: str, port: int) -> str:
    """RFC 7628 section 3.1: a GS2 header naming the user, then host, port and token."""
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"


def _source(cfg: ServerConfig) -> TokenSource:
    from .oauth2 import source_for

    assert cfg.oauth2 is not None
    return source_for(cfg.oauth2, account=cfg.username)


def described(protocol: str, cfg: ServerConfig, exc: AuthError) -> str:
    """The error as one line that names the server (provider errors do not)."""
    text = str(exc)
    return text if text.startswith(f"{protocol} ") else f"{protocol} {cfg.host}:{cfg.port}: {text}"


def _mechanism(protocol: str, cfg: ServerConfig, offered: list[str]) -> str:
    mechanism = choose_mechanism(offered)
    if mechanism is None:
        raise AuthError(
            f"{protocol} {cfg.host}:{cfg.port}: the server offers neither "
            f"OAUTHBEARER nor XOAUTH2 (it offers {', '.join(offered) or 'no AUTH'}"
            f"); {protocol.lower()}.auth: oauth2 cannot work here"
        )
    return mechanism


def with_fresh_token(cfg: ServerConfig, attempt: Callable[[str], None]) -> str | None:
    """Call ``attempt(token)``; when it raises Refused, once more with a fresh token.
    Returns None on success, else the server's last refusal."""
    source = _source(cfg)
    token = source.access_token()
    try:
        attempt(token)
        return None
    except Refused:
        log.info("oauth2_token_refused", host=cfg.host, port=cfg.port)
    fresh = source.access_token(rejected=token)
    try:
        attempt(fresh)
    except Refused as exc:
        return str(exc) or "refused"
    return None


# -- IMAP ----------------------------------------------------------------------------
def imap_offered(client: imapclient.IMAPClient) -> list[str]:
    caps = [
        c.decode("ascii", "replace") if isinstance(c, bytes) else str(c)
        for c in client.capabilities()
    ]
    return [c[5:] for c in caps if c.upper().startswith("AUTH=")]


def imap_login(client: imapclient.IMAPClient, cfg: ServerConfig) -> None:
    """Log in with a token; raises AuthError when the server offers no OAuth mechanism
    or refuses the token twice."""
    from imapclient.exceptions import LoginError

    mechanism = _mechanism("IMAP", cfg, imap_offered(client))
    user = cfg.username or ""

    def attempt(token: str) -> None:
        try:
            if mechanism == "OAUTHBEARER":
                client.oauthbearer_login(user, token)
            else:
                client.oauth2_login(user, token)
        except LoginError as exc:
            raise Refused(str(exc)[:200]) from None

    refusal = with_fresh_token(cfg, attempt)
    if refusal is not None:
        raise AuthError(
            f"IMAP {cfg.host}:{cfg.port}: {mechanism} login refused for {user} "
            f"even with a fresh token"
        )


# -- SMTP ----------------------------------------------------------------------------
def smtp_login(smtp: smtplib.SMTP, cfg: ServerConfig) -> None:
    """AUTH with a token, the initial response in the AUTH command."""
    smtp.ehlo_or_helo_if_needed()
    offered = smtp.esmtp_features.get("auth", "").split() if smtp.has_extn("auth") else []
    mechanism = _mechanism("SMTP", cfg, offered)
    user = cfg.username or ""

    def attempt(token: str) -> None:
        def respond(challenge: bytes | None = None) -> str:
            if challenge is None:
                if mechanism == "OAUTHBEARER":
                    return oauthbearer(user, token, cfg.host, cfg.port)
                return xoauth2(user, token)
            # a challenge after the initial response is the server's error report: the
            # client ends the exchange (RFC 7628 3.2.3; an empty line for XOAUTH2)
            return "\x01" if mechanism == "OAUTHBEARER" else ""

        try:
            smtp.auth(mechanism, respond)
        except smtplib.SMTPAuthenticationError as exc:
            raise Refused(f"{exc.smtp_code}") from None

    refusal = with_fresh_token(cfg, attempt)
    if refusal is not None:
        raise AuthError(
            f"SMTP {cfg.host}:{cfg.port}: {mechanism} login refused for {user} "
            f"({refusal}) even with a fresh token"
        )
