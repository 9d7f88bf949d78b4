"""Shared fixtures: real mail servers (one Dovecot per session), an SMTP relay, the mail
world of the end-to-end tests, a fake clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from introd import oauth2

try:  # tests/ is on sys.path when it is not a package
    from oauth_server import TokenServer
    from servers import (
        DOVECOT_BIN,
        INSTALL_HINT,
        Dovecot,
        ServerError,
        SmtpServer,
        find_free_port,
    )
    from world import CONTACTS, INTROS, World
except ImportError:  # pragma: no cover - tests/ became a package
    from tests.oauth_server import TokenServer  # type: ignore[no-redef]
    from tests.servers import (  # type: ignore[no-redef]
        DOVECOT_BIN,
        INSTALL_HINT,
        Dovecot,
        ServerError,
        SmtpServer,
        find_free_port,
    )
    from tests.world import CONTACTS, INTROS, World  # type: ignore[no-redef]

INTRO_USER = "intros@example.test"
INTRO_PASSWORD = "intros-secret"
SMTP_USER = INTRO_USER
SMTP_PASSWORD = "smtp-secret"
LOCAL_DOMAINS = ("example.test",)
SERVER_FIXTURES = frozenset(
    {
        "dovecot",
        "dovecot_server",
        "make_dovecot",
        "smtp_server",
        "oauth_dovecot",
        "oauth_smtp",
        "token_server",
        "make_world",
        "world",
    }
)
OAUTH_CLIENT = "introd-e2e"
_Server = TypeVar("_Server", SmtpServer, TokenServer)


@pytest.fixture(scope="session", autouse=True)
def _template_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The compiled templates the runs of the session keep (introd's bytecode cache, see
    introd/sandbox.py) go to a folder of the session's, not to the user's ~/.cache; the
    processes the tests start inherit it. A test that needs a cold cache sets its own."""
    saved = {k: os.environ.get(k) for k in ("XDG_CACHE_HOME", "CACHE_DIRECTORY")}
    os.environ.pop("CACHE_DIRECTORY", None)
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def pytest_configure(config: pytest.Config) -> None:
    # aiosmtpd warns on every connection that AUTH is allowed without TLS: tests want that.
    config.addinivalue_line(
        "filterwarnings", "ignore:Requiring AUTH while not requiring TLS:UserWarning"
    )
    config.addinivalue_line(
        "markers", "world(**kwargs): the `make_world` arguments of the test's `world`"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses a real server carries the `servers` mark, even if it forgot."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


def _require_dovecot() -> None:
    if not DOVECOT_BIN.exists():
        pytest.fail(
            f"Dovecot is not installed ({DOVECOT_BIN} missing): {INSTALL_HINT}", pytrace=False
        )


def _session_dovecot(**kwargs: Any) -> Iterator[Dovecot]:
    """A Dovecot for the whole session, with the intro mailbox; closed at its end."""
    _require_dovecot()
    server = Dovecot(**kwargs)
    try:
        server.add_user(INTRO_USER, INTRO_PASSWORD)
        server.start()
        yield server
    except ServerError as exc:
        what = " with oauth2" if kwargs else ""
        pytest.fail(f"the test Dovecot{what} did not start: {exc}", pytrace=False)
    finally:
        server.close()


def _clean(server: Dovecot) -> Iterator[Dovecot]:
    """`server` running for one test, with every mailbox emptied after it."""
    server.start()
    yield server
    server.start()  # a test may have stopped it
    server.clear()


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    """The session's Dovecot, with the intro mailbox; tests use `dovecot` for a clean one."""
    yield from _session_dovecot()


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Iterator[Dovecot]:
    """The session's Dovecot, running, with every mailbox emptied after the test."""
    yield from _clean(dovecot_server)


@pytest.fixture
def make_dovecot() -> Iterator[Callable[..., Dovecot]]:
    """Start a Dovecot of the test's own (e.g. `make_dovecot(disable=("MOVE",))`)."""
    _require_dovecot()
    made: list[Dovecot] = []

    def make(**kwargs: Any) -> Dovecot:
        server = Dovecot(**kwargs)
        made.append(server)
        server.add_user(INTRO_USER, INTRO_PASSWORD)
        server.start()
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def smtp_server(dovecot: Dovecot) -> Iterator[SmtpServer]:
    """An authenticated SMTP server on a free port that delivers local mail into `dovecot`."""
    yield from _running_smtp(dovecot)


@pytest.fixture(scope="session")
def token_server_session() -> Iterator[TokenServer]:
    yield from _running(TokenServer(find_free_port()))


@pytest.fixture
def token_server(token_server_session: TokenServer) -> Iterator[TokenServer]:
    """The local OAuth 2.0 authorization server, with no clients, tokens or faults."""
    token_server_session.reset()
    yield token_server_session
    token_server_session.reset()


@pytest.fixture
def oauth_sources() -> Iterator[None]:
    """No OAuth token source remembered from another test, nor left for the next one."""
    oauth2.forget_sources()
    yield
    oauth2.forget_sources()


@pytest.fixture(scope="session")
def oauth_dovecot_server(token_server_session: TokenServer) -> Iterator[Dovecot]:
    """A second Dovecot whose oauth2 passdb checks XOAUTH2 / OAUTHBEARER tokens at the
    token server (the other tests keep the password-only one)."""
    yield from _session_dovecot(oauth2_introspection_url=token_server_session.introspection_url)


@pytest.fixture
def oauth_dovecot(oauth_dovecot_server: Dovecot, token_server: TokenServer) -> Iterator[Dovecot]:
    """The oauth2 Dovecot, running, with every mailbox emptied after the test."""
    yield from _clean(oauth_dovecot_server)


@pytest.fixture
def oauth_smtp(oauth_dovecot: Dovecot, token_server: TokenServer) -> Iterator[SmtpServer]:
    """An SMTP server taking XOAUTH2 / OAUTHBEARER tokens checked at the token server."""
    yield from _running_smtp(oauth_dovecot, oauth2_introspection_url=token_server.introspection_url)


def _running_smtp(dovecot: Dovecot, **kwargs: Any) -> Iterator[SmtpServer]:
    """An SMTP server delivering local mail into `dovecot`, stopped after the test."""
    yield from _running(
        SmtpServer(
            user=SMTP_USER,
            password=SMTP_PASSWORD,
            local_domains=LOCAL_DOMAINS,
            dovecot=dovecot,
            **kwargs,
        )
    )


def _running(server: _Server) -> Iterator[_Server]:
    """`server` started, and stopped when the fixture ends."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_world(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., World]:
    """Build the test's mail world (tests/world.py) in `tmp_path`, on the test Dovecot and
    SMTP server unless given others:

    - `config`: sections merged into the config at every `write_config` (`extra_config`);
    - `contacts`: the whole contacts file (default: Bob Jones, Tim Walker, Carol Opt-Out);
    - `inbox`: mails put into the intro mailbox before the test;
    - `folders`: empty folders made in `tmp_path` (e.g. a `templates_dir`);
    - `oauth`: use the Dovecot and SMTP server that take OAuth 2.0 tokens, sign in there
      with the device flow of client OAUTH_CLIENT at the token server.
    """

    def make(
        *,
        config: dict[str, Any] | None = None,
        contacts: Sequence[dict[str, Any]] = CONTACTS,
        inbox: Sequence[bytes] = (),
        folders: Sequence[str] = (),
        oauth: bool = False,
        dovecot: Dovecot | None = None,
        smtp: SmtpServer | None = None,
    ) -> World:
        config = dict(config or {})
        if oauth:
            config = {**_oauth_config(request), **config}
        dovecot = dovecot or request.getfixturevalue("oauth_dovecot" if oauth else "dovecot")
        smtp = smtp or request.getfixturevalue("oauth_smtp" if oauth else "smtp_server")
        for folder in folders:
            (tmp_path / folder).mkdir(parents=True)
        world = World(tmp_path, dovecot, smtp, extra_config=config, contacts=list(contacts))
        if inbox:
            world.append_all(inbox)
        return world

    return make


def _oauth_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Config sections signing in at the token server, which gets the client."""
    token_server: TokenServer = request.getfixturevalue("token_server")
    request.getfixturevalue("oauth_sources")
    token_server.add_client(OAUTH_CLIENT)
    return {
        "imap": {"auth": "oauth2", "password": None},
        "smtp": {"auth": "oauth2", "password": None, "username": INTROS},
        "oauth2": {
            "provider": "custom",
            "client_id": OAUTH_CLIENT,
            "flow": "device",
            "token_url": token_server.token_url,
            "device_authorization_url": token_server.device_url,
            "timeout": "2s",
        },
    }


@pytest.fixture
def world(request: pytest.FixtureRequest, make_world: Callable[..., World]) -> World:
    """The test's mail world: `make_world()`, with the arguments of the closest
    `pytest.mark.world(...)` of the test, its class or its module."""
    marker = request.node.get_closest_marker("world")
    return make_world(**(marker.kwargs if marker else {}))


class FakeClock:
    """A clock that stands still until told to move; `now()` is an aware UTC datetime."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    __call__ = now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by `delta` (never backward) and return the new time."""
        if delta < timedelta(0):
            raise ValueError("a clock does not go backward")
        self._now += delta
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to `when` (aware); for tests that replay a dated story."""
        if when.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = when.astimezone(UTC)
        return self._now


CLOCK_START = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at 2026-12-10 09:00 UTC."""
    return FakeClock(CLOCK_START)
