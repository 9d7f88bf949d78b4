"""``introd auth login`` and ``introd auth status``: the one moment a person signs in, and
what the token file says afterwards (never a token itself).

- ``device`` (RFC 8628): print the page and the code, wait while the person approves it
  on any device.
- ``authorization_code``: print the sign-in page (PKCE S256); the provider sends the
  browser back to a listener on 127.0.0.1, or, with ``--paste``, the person pastes the
  address the browser ended on (handy over SSH, where that page does not load).
- ``client_credentials``: nobody signs in; a token is fetched to prove the app
  registration works.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from . import oauth2
from .state import AUTH_EXPIRED_META
from .exceptions import AuthError

if TYPE_CHECKING:
    from .config import Config, OAuth2Config

log = structlog.get_logger("introd.login")

LOGIN_WAIT = 600.0  # how long the loopback listener waits for the browser


def account_of(cfg: Config) -> str | None:
    for srv in (cfg.imap, cfg.smtp):
        if srv is not None and srv.auth == "oauth2" and srv.username:
            return srv.username
    return None


def login(
    cfg: Config,
    *,
    out: Callable[[str], None] = print,
    read_line: Callable[[], str] = input,
    paste: bool = False,
    port: int = 0,
    sleep: Callable[[float], None] = time.sleep,
) -> oauth2.Token:
    """Run the configured flow once and store the tokens."""
    o = cfg.oauth2
    assert o is not None
    account = account_of(cfg)
    now = time.time()
    if o.flow == "client_credentials":
        token = oauth2.fetch_client_credentials(o, now=now, account=account)
    elif o.flow == "device":
        code = oauth2.start_device_flow(o)
        out(
            code.message
            or f"To sign in, open {code.verification_uri} and enter the code {code.user_code}"
        )
        out(
            f"(as {account or 'the intro mailbox'}; waiting up to "
            f"{code.expires_in / 60:.0f} minutes)"
        )
        token = oauth2.finish_device_flow(o, code, account=account, sleep=sleep)
    else:
        token = _authorization_code(
            o, account=account, out=out, read_line=read_line, paste=paste, port=port
        )
    oauth2.store_login(o, token)
    log.info(
        "auth_login",
        flow=o.flow,
        account=account,
        expires_in_s=round(token.expires_at - time.time()) if token.expires_at else None,
    )
    return token


@dataclass
class _Redirect:
    target: str | None = None


def _authorization_code(
    o: OAuth2Config,
    *,
    account: str | None,
    out: Callable[[str], None],
    read_line: Callable[[], str],
    paste: bool,
    port: int,
) -> oauth2.Token:
    from http.server import BaseHTTPRequestHandler, HTTPServer  # only `auth login` serves

    got = _Redirect()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if "code=" not in self.path and "error=" not in self.path:
                self.send_response(404)
                self.end_headers()
                return
            got.target = self.path
            body = b"introd: signed in. You can close this page.\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    try:
        httpd = HTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise AuthError(f"auth login: cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    try:
        redirect_uri = f"http://127.0.0.1:{httpd.server_address[1]}/"
        pending = oauth2.authorization_url(o, redirect_uri)
        out("Open this page in a browser and sign in" + (f" as {account}" if account else "") + ":")
        out(pending.url)
        if paste:
            out(
                "Then paste here the address the browser ended on (it may show an error "
                "page; its address holds the code):"
            )
            answer = read_line()
        else:
            out(f"Waiting for the browser to come back to {redirect_uri} ...")
            httpd.timeout = 1.0
            deadline = time.monotonic() + LOGIN_WAIT
            while got.target is None:
                if time.monotonic() > deadline:
                    raise AuthError(
                        "auth login: no answer from the browser within "
                        f"{LOGIN_WAIT / 60:.0f} minutes; try `--paste`"
                    )
                httpd.handle_request()
            answer = redirect_uri.rstrip("/") + got.target
    finally:
        httpd.server_close()
    return oauth2.exchange_code(o, pending, answer, account=account, now=time.time())


# -- status -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class AuthStatus:
    lines: tuple[str, ...]
    login_needed: bool


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def expired_notice(state_path: Path, token: oauth2.Token | None) -> str | None:
    """What the daemon recorded when the provider refused the refresh token, unless a
    login since then superseded it."""
    if not state_path.is_file():
        return None
    from .state import Store

    store = Store(state_path)
    try:
        raw = store.get_meta(AUTH_EXPIRED_META)
    finally:
        store.close()
    if not raw:
        return None
    try:
        data = json.loads(raw)
        at = datetime.fromisoformat(data["at"])
    except (ValueError, KeyError, TypeError):
        return None
    if token is not None and token.obtained_at > at.timestamp():
        return None
    return f"the provider refused the refresh token at {at:%Y-%m-%d %H:%M} UTC"


def status(cfg: Config, now: float | None = None) -> AuthStatus:
    """Account, flow, scopes and expiry of the stored token; whether a login is needed."""
    o = cfg.oauth2
    assert o is not None
    now = time.time() if now is None else now
    lines = [
        f"provider: {o.provider}, flow {o.flow}, client {o.client_id}",
        f"token file: {o.token_file}",
    ]
    try:
        token = oauth2.read_token(o.token_file)
    except AuthError as exc:
        return AuthStatus(lines=(*lines, f"problem: {exc}"), login_needed=True)
    if token is not None and token.client_id != o.client_id:
        return AuthStatus(
            lines=(
                *lines,
                "problem: the token file was written for another "
                "client_id; run `introd auth login`",
            ),
            login_needed=True,
        )
    if token is None:
        if o.flow == "client_credentials":
            return AuthStatus(
                lines=(*lines, "no token yet: introd fetches one itself"), login_needed=False
            )
        return AuthStatus(
            lines=(*lines, "not signed in: run `introd auth login`"), login_needed=True
        )
    lines.append(f"account: {token.account or account_of(cfg) or 'unknown'}")
    lines.append(f"scopes: {' '.join(token.scopes) or '(as granted)'}")
    lines.append(f"signed in: {_when(token.obtained_at)}")
    if token.expires_at is None:
        lines.append("access token: no expiry given")
    elif token.expires_at > now:
        lines.append(
            f"access token: expires {_when(token.expires_at)} "
            f"(in {round((token.expires_at - now) / 60)} min)"
        )
    else:
        lines.append(
            f"access token: expired {_when(token.expires_at)}; "
            + (
                "renewed at next use"
                if token.refresh_token or o.flow == "client_credentials"
                else "a new login is needed"
            )
        )
    needed = (
        token.refresh_token is None
        and o.flow != "client_credentials"
        and (token.expires_at is not None and token.expires_at <= now)
    )
    lines.append(
        "refresh token: "
        + (
            "stored"
            if token.refresh_token
            else "none (client_credentials needs none)"
            if o.flow == "client_credentials"
            else "none"
        )
    )
    notice = expired_notice(cfg.state_path, token)
    if notice:
        lines.append(f"problem: {notice}; run `introd auth login`, then reload introd")
        needed = True
    return AuthStatus(lines=tuple(lines), login_needed=needed)


def problems(cfg: Config) -> list[str]:
    """What check-config reports about signing in, without the network."""
    if cfg.oauth2 is None or not any(
        s is not None and s.auth == "oauth2" for s in (cfg.imap, cfg.smtp)
    ):
        return []
    st = status(cfg)
    if not st.login_needed:
        return []
    detail = [ln for ln in st.lines if ln.startswith(("problem:", "not signed in"))]
    return [f"oauth2: {d.removeprefix('problem: ')}" for d in detail] or [
        "oauth2: a login is needed: run `introd auth login`"
    ]
