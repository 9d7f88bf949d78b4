"""OAuth 2.0 sign-in for IMAP and SMTP: the token file, the flows, refreshing.

One generic client (requests-oauthlib over oauthlib) speaks to Microsoft, Google and any
other provider alike: they differ only in endpoints and scopes, which config.py fills
in. It is imported here, lazily, on the first token request, so a password user never
loads it.

The token file (default ``oauth2-token.json`` beside the state) is written atomically
(a temp file of mode 0600, then a rename) under an exclusive lock, so two introd
processes on one state never both refresh, nor read half a file. Its tokens never reach a
log line or an error message.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog

from . import files
from .config import OAuth2Config
from .exceptions import AuthError, AuthExpired

log = structlog.get_logger("introd.oauth2")

# an access token with less than this left is refreshed before it is used
REFRESH_MARGIN = 300.0
TOKEN_FILE_VERSION = 1
LOGIN_HINT = "run `introd auth login`"

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    """What the token file holds."""

    access_token: str
    expires_at: float | None  # seconds since the epoch; None: the provider did not say
    refresh_token: str | None
    scopes: tuple[str, ...]
    account: str | None
    flow: str
    client_id: str
    obtained_at: float

    def fresh(self, now: float, margin: float = REFRESH_MARGIN) -> bool:
        """Usable for a while yet: more than ``margin`` left, or, for a token that lives
        shorter than ten margins, more than a tenth of its life."""
        if not self.access_token:
            return False
        if self.expires_at is None:
            return True
        life = self.expires_at - self.obtained_at
        return self.expires_at - min(margin, max(life, 0.0) / 10) > now

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["scopes"] = list(self.scopes)
        return {"version": TOKEN_FILE_VERSION, **data}

    def __repr__(self) -> str:  # never show a token in logs or tracebacks
        return f"Token(account={self.account!r}, expires_at={self.expires_at!r}, ***)"


# -- the token file ----------------------------------------------------------------
def read_token(path: Path) -> Token | None:
    """The stored token, or None when there is no file yet; a file that is not one introd
    wrote is an AuthError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuthError(f"oauth2.token_file {path}: cannot read: {exc.strerror}") from None
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != TOKEN_FILE_VERSION:
            raise ValueError("not a token file of this version")
        expires = data.get("expires_at")
        refresh = data.get("refresh_token")
        scopes = data.get("scopes") or []
        token = Token(
            access_token=_text(data["access_token"]),
            expires_at=float(expires) if expires is not None else None,
            refresh_token=_text(refresh) if refresh is not None else None,
            scopes=tuple(_text(s) for s in scopes),
            account=_text(data["account"]) if data.get("account") is not None else None,
            flow=_text(data["flow"]),
            client_id=_text(data["client_id"]),
            obtained_at=float(data["obtained_at"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        reason = (
            str(exc)
            if isinstance(exc, ValueError) and "version" in str(exc)
            else (f"missing {exc}" if isinstance(exc, KeyError) else "malformed JSON")
        )
        raise AuthError(
            f"oauth2.token_file {path}: not a token file introd wrote "
            f"({reason}); {LOGIN_HINT} to write a new one"
        ) from None
    return token


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def write_token(path: Path, token: Token) -> None:
    """Replace the token file atomically; it is created mode 0600 and stays so."""
    try:
        files.refuse_link(path)
        files.replace_private(path, (json.dumps(token.as_json(), indent=2) + "\n").encode())
    except OSError as exc:
        if isinstance(exc, files.UnsafePath):
            raise AuthError(f"oauth2.token_file: {exc}") from None
        raise AuthError(f"oauth2.token_file {path}: cannot write: {exc.strerror}") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside the token file: one refresh at a time, across processes."""
    lock = path.with_name(path.name + ".lock")
    try:
        fd = files.open_private(lock, os.O_RDWR)
    except files.UnsafePath as exc:
        raise AuthError(f"oauth2.token_file: {exc}") from None
    except OSError as exc:
        raise AuthError(f"oauth2.token_file {path}: cannot lock: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# -- talking to the provider -------------------------------------------------------
def _prepare(cfg: OAuth2Config) -> None:
    """oauthlib refuses plain http and token answers with other scopes than asked for.
    Plain http is allowed only when every endpoint is on this machine (config.py refuses
    it anywhere else); Microsoft answers with the scopes it granted, often spelt
    differently, so a changed scope is not an error."""
    os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    urls = [u for u in (cfg.token_url, cfg.device_authorization_url, cfg.authorization_url) if u]
    if urls and all(urlsplit(u).hostname in ("127.0.0.1", "localhost", "::1") for u in urls):
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def _host(url: str | None) -> str:
    return urlsplit(url or "").netloc or "the provider"


def _call(
    cfg: OAuth2Config, key: str, fn: Callable[[], Any], *, expired_on_invalid_grant: bool = False
) -> Any:
    """Run one request to the provider; every way it can fail becomes one line."""
    import requests
    from oauthlib.oauth2 import OAuth2Error

    url = getattr(cfg, key, None) or cfg.token_url
    where = f"oauth2.{key} {_host(url)}"
    try:
        return fn()
    except requests.Timeout:
        raise AuthError(f"{where}: no answer within {cfg.timeout:.0f}s") from None
    except requests.ConnectionError:
        raise AuthError(f"{where}: cannot connect") from None
    except requests.RequestException as exc:
        raise AuthError(f"{where}: {exc.__class__.__name__}") from None
    except OAuth2Error as exc:
        error = str(getattr(exc, "error", "") or "error")
        if error == "missing_token":  # oauthlib's word for an answer without a token
            raise AuthError(f"{where}: the answer is not an OAuth 2.0 token response") from None
        detail = " ".join(str(getattr(exc, "description", "") or "").split())[:200]
        detail = f": {detail}" if detail else ""
        if error == "invalid_grant" and expired_on_invalid_grant:
            raise AuthExpired(
                f"{where} no longer accepts the refresh token (invalid_grant{detail}); {LOGIN_HINT}"
            ) from None
        if error in ("invalid_client", "unauthorized_client"):
            raise AuthError(
                f"oauth2.client_secret: {_host(url)} refused the client "
                f"({error}{detail}); check oauth2.client_id and the client "
                f"secret"
            ) from None
        raise AuthError(f"{where} refused: {error}{detail}") from None
    except (ValueError, TypeError, KeyError, Warning):
        raise AuthError(f"{where}: the answer is not an OAuth 2.0 token response") from None


def _secret(cfg: OAuth2Config) -> str | None:
    value = cfg.client_secret.reveal() if cfg.client_secret.given else ""
    return value or None


def _token_from(
    cfg: OAuth2Config,
    answer: dict[str, Any],
    now: float,
    *,
    account: str | None,
    previous: Token | None = None,
) -> Token:
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise AuthError(
            f"oauth2.token_url {_host(cfg.token_url)}: the answer holds no access token"
        )
    expires_in = answer.get("expires_in")
    try:
        expires_at = now + float(expires_in) if expires_in is not None else None
    except (TypeError, ValueError):
        expires_at = None
    scope = answer.get("scope")
    if isinstance(scope, list):
        scopes = tuple(str(s) for s in scope)
    elif isinstance(scope, str) and scope:
        scopes = tuple(scope.split())
    else:
        scopes = previous.scopes if previous else cfg.scopes
    refresh = answer.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        refresh = previous.refresh_token if previous else None
    return Token(
        access_token=access,
        expires_at=expires_at,
        refresh_token=refresh,
        scopes=scopes,
        account=account or (previous.account if previous else None),
        flow=cfg.flow,
        client_id=cfg.client_id,
        obtained_at=now,
    )


def fetch_client_credentials(cfg: OAuth2Config, *, now: float, account: str | None) -> Token:
    """An app's own token (Microsoft 365 service principal): no person, no refresh token."""
    _prepare(cfg)
    from oauthlib.oauth2 import BackendApplicationClient
    from requests_oauthlib import OAuth2Session

    session = OAuth2Session(
        client=BackendApplicationClient(client_id=cfg.client_id), scope=list(cfg.scopes)
    )
    answer = _call(
        cfg,
        "token_url",
        lambda: session.fetch_token(
            cfg.token_url, include_client_id=True, client_secret=_secret(cfg), timeout=cfg.timeout
        ),
    )
    return _token_from(cfg, dict(answer), now, account=account)


def refresh(cfg: OAuth2Config, token: Token, *, now: float) -> Token:
    """A new access token for the refresh token; ``invalid_grant`` is AuthExpired."""
    if not token.refresh_token:
        raise AuthExpired(
            f"oauth2.token_file {cfg.token_file} holds no refresh token; {LOGIN_HINT}"
        )
    _prepare(cfg)
    from requests_oauthlib import OAuth2Session

    session = OAuth2Session(client_id=cfg.client_id, scope=list(cfg.scopes))
    extra: dict[str, Any] = {"client_id": cfg.client_id}
    secret = _secret(cfg)
    if secret:
        extra["client_secret"] = secret
    answer = _call(
        cfg,
        "token_url",
        lambda: session.refresh_token(
            cfg.token_url, refresh_token=token.refresh_token, timeout=cfg.timeout, **extra
        ),
        expired_on_invalid_grant=True,
    )
    return _token_from(cfg, dict(answer), now, account=token.account, previous=token)


# -- interactive flows ----------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceCode:
    """What a person needs to approve a device sign-in."""

    device_code: str
    user_code: str
    verification_uri: str
    expires_in: float
    interval: float
    message: str | None = None

    def __repr__(self) -> str:
        return f"DeviceCode(user_code={self.user_code!r}, ***)"


def start_device_flow(cfg: OAuth2Config) -> DeviceCode:
    """RFC 8628 step 1: ask for a device code and the page where a person enters it."""
    url = cfg.device_authorization_url
    if not url:
        raise AuthError("oauth2.device_authorization_url: is required for the device flow")
    _prepare(cfg)
    from requests_oauthlib import OAuth2Session

    session = OAuth2Session(client_id=cfg.client_id, scope=list(cfg.scopes))
    form = {"client_id": cfg.client_id, "scope": " ".join(cfg.scopes)}
    secret = _secret(cfg)
    if secret:
        form["client_secret"] = secret

    def ask() -> dict[str, Any]:
        # request, not post: only OAuth2Session.request takes withhold_token
        answer = session.request(
            "POST",
            url,
            data=form,
            timeout=cfg.timeout,
            headers={"Accept": "application/json"},
            withhold_token=True,
        )
        data = answer.json()
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if "error" in data:
            from oauthlib.oauth2.rfc6749.errors import raise_from_error

            raise_from_error(data["error"], data)
        return data

    data = _call(cfg, "device_authorization_url", ask)
    try:
        return DeviceCode(
            device_code=_text(data["device_code"]),
            user_code=_text(data["user_code"]),
            verification_uri=_text(data.get("verification_uri") or data.get("verification_url")),
            expires_in=float(data.get("expires_in", 900)),
            interval=float(data.get("interval", 5)),
            message=data.get("message") if isinstance(data.get("message"), str) else None,
        )
    except (KeyError, TypeError, ValueError):
        raise AuthError(
            f"oauth2.device_authorization_url "
            f"{_host(cfg.device_authorization_url)}: the answer is not a device "
            f"authorization response"
        ) from None


def finish_device_flow(
    cfg: OAuth2Config,
    code: DeviceCode,
    *,
    account: str | None,
    clock: Clock = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Token:
    """RFC 8628 step 2: poll the token endpoint until the person approved (or refused, or
    the code expired), slowing down when asked to."""
    _prepare(cfg)
    from oauthlib.oauth2 import DeviceClient, OAuth2Error
    from requests_oauthlib import OAuth2Session

    session = OAuth2Session(client=DeviceClient(client_id=cfg.client_id), scope=list(cfg.scopes))
    secret = _secret(cfg)
    interval = max(code.interval, 0.05)  # a server that says 0 still gets no busy loop
    deadline = clock() + code.expires_in

    def poll() -> Any:
        try:
            return session.fetch_token(
                cfg.token_url,
                device_code=code.device_code,
                include_client_id=True,
                client_secret=secret,
                timeout=cfg.timeout,
            )
        except OAuth2Error as exc:
            if getattr(exc, "error", "") in ("authorization_pending", "slow_down"):
                return exc.error
            raise

    while True:
        answer = _call(cfg, "token_url", poll)
        if answer == "slow_down":
            interval += 5
        elif answer != "authorization_pending":
            return _token_from(cfg, dict(answer), clock(), account=account)
        if clock() + interval > deadline:
            raise AuthError(
                f"oauth2: the device code expired before anyone signed in; {LOGIN_HINT} again"
            )
        sleep(interval)


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingSignIn:
    """An authorization-code sign-in under way: the page to open, the state it carries,
    and the session that holds the PKCE verifier."""

    url: str
    state: str
    session: Any


def authorization_url(cfg: OAuth2Config, redirect_uri: str) -> PendingSignIn:
    """The page a person opens (PKCE S256, a random state)."""
    if not cfg.authorization_url:
        raise AuthError("oauth2.authorization_url: is required for the authorization_code flow")
    _prepare(cfg)
    from requests_oauthlib import OAuth2Session

    session = OAuth2Session(
        client_id=cfg.client_id, scope=list(cfg.scopes), redirect_uri=redirect_uri, pkce="S256"
    )
    extra = {"access_type": "offline", "prompt": "consent"} if cfg.provider == "google" else {}
    state = secrets.token_urlsafe(24)
    url, _same = session.authorization_url(cfg.authorization_url, state=state, **extra)
    return PendingSignIn(url=url, state=state, session=session)


def exchange_code(
    cfg: OAuth2Config, pending: PendingSignIn, redirected: str, *, account: str | None, now: float
) -> Token:
    """The redirect (a whole URL, or just the code) turned into tokens; the state must
    match the one sent, so a forged redirect is refused."""
    from urllib.parse import parse_qs

    query = parse_qs(urlsplit(redirected.strip()).query) if "?" in redirected else {}
    if "error" in query:
        raise AuthError(f"oauth2: sign-in refused: {query['error'][0]}")
    if query:
        state = query.get("state", [None])[0]
        if state != pending.state:
            raise AuthError(
                "oauth2: the redirect's state does not match this sign-in (an old or forged link)"
            )
        code = query.get("code", [""])[0]
    else:
        code = redirected.strip()
    if not code:
        raise AuthError("oauth2: the redirect holds no code")
    answer = _call(
        cfg,
        "token_url",
        lambda: pending.session.fetch_token(
            cfg.token_url,
            code=code,
            include_client_id=True,
            client_secret=_secret(cfg),
            timeout=cfg.timeout,
        ),
    )
    return _token_from(cfg, dict(answer), now, account=account)


# -- what IMAP and SMTP ask for ---------------------------------------------------------
class TokenSource:
    """Hands out a valid access token: the stored one while it has more than
    REFRESH_MARGIN left, else a refreshed one (or, for client_credentials, a new one).
    ``rejected`` names a token the mail server refused: it is replaced, once."""

    def __init__(
        self, cfg: OAuth2Config, *, account: str | None = None, clock: Clock = time.time
    ) -> None:
        self.cfg = cfg
        self.account = account
        self.clock = clock
        self._token: Token | None = None
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.cfg.token_file.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def _load(self) -> Token | None:
        token = read_token(self.cfg.token_file)
        if token is not None and token.client_id != self.cfg.client_id:
            raise AuthExpired(
                f"oauth2.token_file {self.cfg.token_file} was written for "
                f"another oauth2.client_id; {LOGIN_HINT}"
            )
        return token

    def access_token(self, *, rejected: str | None = None) -> str:
        with self._lock:
            if self._token is None or self._stat() != self._stamp:
                self._stamp = self._stat()
                self._token = self._load()
            now = self.clock()
            token = self._token
            if token is not None and token.fresh(now) and token.access_token != rejected:
                return token.access_token
            with _locked(self.cfg.token_file):
                # another process may have refreshed meanwhile: its token will do
                disk = self._load()
                if (
                    disk is not None
                    and disk.fresh(now)
                    and disk.access_token != rejected
                    and (token is None or disk.access_token != token.access_token)
                ):
                    new = disk
                else:
                    new = self._renew(disk or token, now, forced=rejected is not None)
                    write_token(self.cfg.token_file, new)
                self._token, self._stamp = new, self._stat()
            return new.access_token

    def _renew(self, token: Token | None, now: float, *, forced: bool) -> Token:
        cfg = self.cfg
        if cfg.flow == "client_credentials":
            new = fetch_client_credentials(
                cfg, now=now, account=self.account or (token.account if token else None)
            )
        else:
            if token is None:
                raise AuthExpired(f"oauth2.token_file {cfg.token_file}: no token yet; {LOGIN_HINT}")
            new = refresh(cfg, token, now=now)
        log.info(
            "oauth2_token_refreshed",
            flow=cfg.flow,
            after_rejection=forced,
            expires_in_s=round(new.expires_at - now) if new.expires_at else None,
        )
        return new


_SOURCES: dict[tuple[str, str, str], TokenSource] = {}
_SOURCES_LOCK = threading.Lock()


def source_for(cfg: OAuth2Config, account: str | None = None) -> TokenSource:
    """One TokenSource per token file in a process, shared by IMAP and SMTP."""
    key = (str(cfg.token_file), cfg.client_id, cfg.token_url)
    with _SOURCES_LOCK:
        source = _SOURCES.get(key)
        if source is None or source.cfg != cfg:
            source = _SOURCES[key] = TokenSource(cfg, account=account)
        return source


def forget_sources() -> None:
    """After a reload or a new login: read the token file afresh."""
    with _SOURCES_LOCK:
        _SOURCES.clear()


def store_login(cfg: OAuth2Config, token: Token) -> None:
    """Keep what a login obtained, and make this process's sources read it."""
    with _locked(cfg.token_file):
        write_token(cfg.token_file, token)
    forget_sources()
