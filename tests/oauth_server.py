"""A small OAuth 2.0 authorization server for the tests, on a free loopback port.

It speaks what introd meets at Microsoft and Google: the client_credentials, device
(RFC 8628), authorization_code (with PKCE S256) and refresh_token grants, and token
introspection (RFC 7662), which the test Dovecot's oauth2 passdb and the test SMTP
server ask to check a token. A test can approve a device code as a person would on
the verification page, expire access tokens, revoke a person's grant, and make the
token endpoint hang or answer garbage.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

HOST = "127.0.0.1"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class _Client:
    secret: str | None  # None: a public client
    app_mailbox: str | None = None  # what a client_credentials token may open


@dataclass
class _Grant:
    user: str
    client_id: str
    scope: str
    revoked: bool = False


@dataclass
class _Access:
    grant: _Grant
    expires_at: float
    expired: bool = False


@dataclass
class _Device:
    client_id: str
    scope: str
    user_code: str
    expires_at: float
    approved_by: str | None = None
    denied: bool = False
    used: bool = False


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str | None
    user: str
    scope: str


@dataclass
class Stats:
    grants: list[str] = field(default_factory=list)  # grant_type of each token request
    introspections: int = 0


class TokenServer:
    """The authorization server; `url` is its base, e.g. http://127.0.0.1:PORT."""

    def __init__(
        self,
        port: int,
        *,
        access_ttl: float = 3600.0,
        device_interval: float = 0.05,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.access_ttl = access_ttl
        self.device_interval = device_interval
        self.clock = clock
        self.clients: dict[str, _Client] = {}
        self.access: dict[str, _Access] = {}
        self.refresh: dict[str, _Grant] = {}
        self.devices: dict[str, _Device] = {}
        self.codes: dict[str, _Code] = {}
        self.authorizing_user: str | None = None  # who signs in on /authorize
        self.stats = Stats()
        self.faults: list[str] = []  # "hang" | "garbage", for the next token requests
        self._release = threading.Event()
        self._lock = threading.Condition()
        self._httpd = ThreadingHTTPServer((HOST, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def device_url(self) -> str:
        return f"{self.url}/device"

    @property
    def authorize_url(self) -> str:
        return f"{self.url}/authorize"

    @property
    def introspection_url(self) -> str:
        return f"{self.url}/introspect"

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def reset(self) -> None:
        """Forget every client, token and fault (between tests)."""
        with self._lock:
            self._release.set()
            self._release = threading.Event()
            self.clients.clear()
            self.access.clear()
            self.refresh.clear()
            self.devices.clear()
            self.codes.clear()
            self.faults.clear()
            self.authorizing_user = None
            self.stats = Stats()

    # -- what a test does -----------------------------------------------------------
    def add_client(
        self, client_id: str, secret: str | None = None, *, app_mailbox: str | None = None
    ) -> None:
        with self._lock:
            self.clients[client_id] = _Client(secret=secret, app_mailbox=app_mailbox)

    def issue(self, user: str, client_id: str, scope: str = "mail") -> tuple[str, str]:
        """Tokens for `user` as if they had signed in: (access token, refresh token)."""
        with self._lock:
            grant = _Grant(user=user, client_id=client_id, scope=scope)
            return self._new_access(grant), self._new_refresh(grant)

    def wait_for_device_code(self, timeout: float = 10.0) -> str:
        """The user code of the newest device sign-in not yet approved."""
        with self._lock:

            def pending() -> list[_Device]:
                return [d for d in self.devices.values() if d.approved_by is None and not d.denied]

            if not self._lock.wait_for(lambda: bool(pending()), timeout):
                raise TimeoutError("no device sign-in was started")
            return pending()[-1].user_code

    def approve(self, user_code: str, user: str) -> None:
        """`user` enters the code on the verification page and agrees."""
        with self._lock:
            for device in self.devices.values():
                if device.user_code == user_code:
                    device.approved_by = user
                    return
        raise KeyError(user_code)

    def deny(self, user_code: str) -> None:
        """The person enters the code and refuses."""
        with self._lock:
            for device in self.devices.values():
                if device.user_code == user_code:
                    device.denied = True
                    return
        raise KeyError(user_code)

    def expire_access_tokens(self) -> int:
        """Every access token issued so far stops working (as at the end of its hour)."""
        with self._lock:
            for access in self.access.values():
                access.expired = True
            return len(self.access)

    def revoke(self, user: str) -> None:
        """The person's grant is revoked (password changed, admin action, 7-day expiry of
        a Google app in Testing): refresh and access tokens stop working."""
        with self._lock:
            for grant in self.refresh.values():
                if grant.user == user:
                    grant.revoked = True
            for access in self.access.values():
                if access.grant.user == user:
                    access.grant.revoked = True

    def fail_next(self, how: str, count: int = 1) -> None:
        """The next `count` token requests hang (until the test ends) or answer garbage."""
        with self._lock:
            self.faults.extend([how] * count)

    def active_access_tokens(self) -> int:
        with self._lock:
            return sum(1 for a in self.access.values() if self._valid(a))

    # -- internals ------------------------------------------------------------------
    def _new_access(self, grant: _Grant) -> str:
        token = "at-" + secrets.token_urlsafe(24)
        self.access[token] = _Access(grant=grant, expires_at=self.clock() + self.access_ttl)
        return token

    def _new_refresh(self, grant: _Grant) -> str:
        token = "rt-" + secrets.token_urlsafe(24)
        self.refresh[token] = grant
        return token

    def _valid(self, access: _Access) -> bool:
        return not access.expired and not access.grant.revoked and access.expires_at > self.clock()

    def introspect(self, token: str) -> dict[str, Any]:
        with self._lock:
            self.stats.introspections += 1
            access = self.access.get(token)
            if access is None or not self._valid(access):
                return {"active": False}
            return {
                "active": True,
                "username": access.grant.user,
                "client_id": access.grant.client_id,
                "scope": access.grant.scope,
                "exp": int(access.expires_at),
                "token_type": "Bearer",
            }

    def _client_ok(self, form: dict[str, str], basic: tuple[str, str] | None) -> str | None:
        client_id = form.get("client_id") or (basic[0] if basic else "")
        secret = form.get("client_secret") or (basic[1] if basic else None)
        client = self.clients.get(client_id)
        if client is None:
            return None
        if client.secret is not None and secret != client.secret:
            return None
        return client_id

    def _tokens(self, grant: _Grant, *, with_refresh: bool = True) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "access_token": self._new_access(grant),
            "token_type": "Bearer",
            "expires_in": int(self.access_ttl),
            "scope": grant.scope,
        }
        if with_refresh:
            answer["refresh_token"] = self._new_refresh(grant)
        return answer

    def token(
        self, form: dict[str, str], basic: tuple[str, str] | None
    ) -> tuple[int, dict[str, Any]]:
        grant_type = form.get("grant_type", "")
        with self._lock:
            self.stats.grants.append(grant_type)
            client_id = self._client_ok(form, basic)
            if client_id is None:
                return 401, {
                    "error": "invalid_client",
                    "error_description": "unknown client or wrong secret",
                }
            scope = form.get("scope", "mail")
            if grant_type == "client_credentials":
                client = self.clients[client_id]
                if client.secret is None or client.app_mailbox is None:
                    return 400, {"error": "unauthorized_client"}
                grant = _Grant(user=client.app_mailbox, client_id=client_id, scope=scope)
                return 200, self._tokens(grant, with_refresh=False)
            if grant_type == "refresh_token":
                grant = self.refresh.get(form.get("refresh_token", ""))
                if grant is None or grant.revoked or grant.client_id != client_id:
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "the refresh token was revoked",
                    }
                return 200, self._tokens(grant)
            if grant_type == DEVICE_GRANT:
                device = self.devices.get(form.get("device_code", ""))
                if device is None or device.client_id != client_id or device.used:
                    return 400, {"error": "invalid_grant"}
                if device.denied:
                    return 400, {"error": "access_denied"}
                if self.clock() > device.expires_at:
                    return 400, {"error": "expired_token"}
                if device.approved_by is None:
                    return 400, {"error": "authorization_pending"}
                device.used = True
                return 200, self._tokens(
                    _Grant(user=device.approved_by, client_id=client_id, scope=device.scope)
                )
            if grant_type == "authorization_code":
                code = self.codes.pop(form.get("code", ""), None)
                if (
                    code is None
                    or code.client_id != client_id
                    or code.redirect_uri != form.get("redirect_uri")
                ):
                    return 400, {"error": "invalid_grant"}
                if code.challenge is not None:
                    verifier = form.get("code_verifier", "")
                    digest = (
                        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                        .rstrip(b"=")
                        .decode()
                    )
                    if digest != code.challenge:
                        return 400, {
                            "error": "invalid_grant",
                            "error_description": "PKCE verifier does not match",
                        }
                return 200, self._tokens(
                    _Grant(user=code.user, client_id=client_id, scope=code.scope)
                )
            return 400, {"error": "unsupported_grant_type"}

    def device_authorization(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            client = self.clients.get(form.get("client_id", ""))
            if client is None:
                return 401, {"error": "invalid_client"}
            device_code = "dc-" + secrets.token_urlsafe(24)
            user_code = secrets.token_hex(4).upper()
            self.devices[device_code] = _Device(
                client_id=form["client_id"],
                scope=form.get("scope", "mail"),
                user_code=user_code,
                expires_at=self.clock() + 600,
            )
            self._lock.notify_all()
            return 200, {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": f"{self.url}/verify",
                "expires_in": 600,
                "interval": self.device_interval,
                "message": f"To sign in, open {self.url}/verify and enter {user_code}.",
            }

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """The sign-in page: the configured person agrees at once; returns the redirect."""
        with self._lock:
            client = self.clients.get(query.get("client_id", ""))
            redirect = query.get("redirect_uri", "")
            if client is None or not redirect.startswith("http://127.0.0.1:"):
                return 400, ""
            if self.authorizing_user is None:
                params = {"error": "access_denied", "state": query.get("state", "")}
                return 302, f"{redirect}?{urlencode(params)}"
            code = "ac-" + secrets.token_urlsafe(16)
            challenge = (
                query.get("code_challenge")
                if query.get("code_challenge_method") == "S256"
                else None
            )
            self.codes[code] = _Code(
                client_id=query["client_id"],
                redirect_uri=redirect,
                challenge=challenge,
                user=self.authorizing_user,
                scope=query.get("scope", "mail"),
            )
            return 302, f"{redirect}?{urlencode({'code': code, 'state': query.get('state', '')})}"

    def take_fault(self) -> str | None:
        with self._lock:
            return self.faults.pop(0) if self.faults else None


class _Handler(BaseHTTPRequestHandler):
    """One request to the provider; ``provider`` is set on the class _make_handler makes
    (``self.server`` is the HTTP server)."""

    provider: TokenServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        return {k: v[0] for k, v in parse_qs(body).items()}

    def _basic(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
        from urllib.parse import unquote_plus

        return unquote_plus(user), unquote_plus(password)

    def _json(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        form = self._form()
        if path == "/token":
            fault = self.provider.take_fault()
            if fault == "hang":
                self.provider._release.wait(60)
                return
            if fault == "garbage":
                body = b"<html><body>502 Bad Gateway</body></html>"
                self.send_response(502)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self._json(*self.provider.token(form, self._basic()))
        elif path == "/device":
            self._json(*self.provider.device_authorization(form))
        elif path == "/introspect":
            self._json(200, self.provider.introspect(form.get("token", "")))
        elif path == "/verify":
            try:
                self.provider.approve(form.get("user_code", ""), form.get("user", ""))
            except KeyError:
                self._json(404, {"error": "unknown code"})
                return
            self._json(200, {"approved": True})
        else:
            self._json(404, {"error": "not found"})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/authorize":
            self._json(404, {"error": "not found"})
            return
        status, location = self.provider.authorize(
            {k: v[0] for k, v in parse_qs(parts.query).items()}
        )
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _make_handler(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"provider": server})
